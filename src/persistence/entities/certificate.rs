//! The `certificates` table's sea-orm entity (see the migrations for its indexes).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "certificates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub number: String,
    pub application_id: String,
    pub institution_code: String,
    /// `issued`, `delivered`, `lost`, `voided` or `recovered`.
    pub state: String,
    pub replaces_certificate_id: Option<String>,
    pub loss_certificate_no: Option<String>,
    pub void_reason: Option<String>,
    pub issued_by: String,
    pub issued_at: DateTimeUtc,
    pub recovered_at: Option<DateTimeUtc>,
    /// The seal keeper (officer id) who stamped it, and when.
    pub sealed_by: Option<String>,
    pub sealed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
