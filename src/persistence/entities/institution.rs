//! The `institutions` table's sea-orm entity (see the migrations for its indexes).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "institutions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub office: String,
    pub phone: String,
    pub province_code: String,
    pub region_code: String,
    pub midwifery_qualified: bool,
    pub issuer: bool,
    /// JSON array of "HH:MM-HH:MM".
    pub office_hours: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
