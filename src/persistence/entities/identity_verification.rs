//! The `identity_verifications` table's sea-orm entity (see the migrations for its indexes).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "identity_verifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub application_id: String,
    pub parent_role: String,
    /// `face` or `handheld_photo`.
    pub method: String,
    pub verify_id: Option<String>,
    /// `pending`, `passed` or `failed`.
    pub outcome: String,
    pub verify_ret: Option<i32>,
    pub document_sha256: Option<String>,
    pub created_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    /// The parent row verified: a changed parent is a new row and starts unverified.
    pub parent_id: Option<String>,
    pub delivery_id: Option<String>,
    /// The person's ID-number blind index: face failures count per person and delivery.
    pub person_bidx: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
