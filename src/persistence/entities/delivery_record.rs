//! The `delivery_records` table's sea-orm entity (see the migrations for its indexes).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "delivery_records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub institution_code: String,
    pub mother_name: String,
    pub mother_id_type: String,
    pub mother_id_number_enc: String,
    pub mother_id_number_key_id: String,
    pub mother_id_number_bidx: String,
    pub mother_id_number_masked: String,
    pub baby_sex: String,
    pub birth_at: DateTimeUtc,
    pub birth_place: String,
    pub gestational_weeks: i32,
    pub weight_g: i32,
    pub length_cm: i32,
    pub health_status: String,
    pub midwife_name: String,
    pub late: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
