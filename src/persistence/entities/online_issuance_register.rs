//! The `online_issuance_register` table's sea-orm entity (see the migrations for its indexes).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "online_issuance_register")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub certificate_number: String,
    pub application_id: String,
    pub institution_code: String,
    pub claimant_relation: String,
    pub out_trade_no: Option<String>,
    pub submitted_at: DateTimeUtc,
    pub issued_at: DateTimeUtc,
    pub issued_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
