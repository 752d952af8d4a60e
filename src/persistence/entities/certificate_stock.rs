//! The `certificate_stock` table's sea-orm entity (see the migrations for its indexes).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "certificate_stock")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub number: String,
    pub institution_code: String,
    /// `blank`, `issued` or `waste`.
    pub state: String,
    pub received_by: String,
    pub received_at: DateTimeUtc,
    pub consumed_at: Option<DateTimeUtc>,
    pub waste_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
