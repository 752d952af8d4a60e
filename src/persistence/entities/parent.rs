//! The `parents` table's sea-orm entity (see the migrations for its indexes).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "parents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub application_id: String,
    /// `mother` or `father`.
    pub role: String,
    pub name: String,
    pub id_type: String,
    pub id_number_enc: String,
    pub id_number_key_id: String,
    pub id_number_bidx: String,
    pub id_number_masked: String,
    pub nationality: String,
    pub ethnicity: String,
    pub phone_enc: Option<String>,
    pub phone_key_id: Option<String>,
    pub phone_bidx: Option<String>,
    pub phone_masked: Option<String>,
    pub address: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
