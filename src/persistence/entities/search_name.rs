//! The `search_names` table's sea-orm entity (see the migrations for its indexes).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "search_names")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub application_id: String,
    /// `mother` or `father` (the parents' form), `record` (the hospital's delivery record).
    #[sea_orm(primary_key, auto_increment = false)]
    pub source: String,
    pub institution_code: String,
    pub name: String,
    /// The application's creation time: the search shows the newest cases first.
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
