//! The `province_reports` table's sea-orm entity (see the migrations for its indexes).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "province_reports")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i32,
    /// Unique; the province dedupes on it, so a report sent twice is kept once.
    pub report_id: String,
    /// delivery, issuance, void
    pub kind: String,
    /// The delivery record's id or the certificate's number.
    pub subject: String,
    pub application_id: Option<String>,
    pub institution_code: String,
    /// pending, reported, rejected
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub locked_until: Option<DateTimeUtc>,
    pub receipt: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub reported_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
