//! The `first_issuance_register` table's sea-orm entity (see the migrations for its indexes).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "first_issuance_register")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub certificate_number: String,
    pub application_id: String,
    pub institution_code: String,
    pub newborn_name: String,
    pub baby_sex: String,
    pub birth_at: DateTimeUtc,
    pub mother_name: String,
    pub father_name: String,
    pub issued_by: String,
    pub issued_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
