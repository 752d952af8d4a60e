//! The `applications` table's sea-orm entity (see the migrations for its indexes).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "applications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub delivery_id: String,
    pub health_card_id: String,
    pub institution_code: String,
    pub claimant_relation: String,
    pub state: String,
    pub eligibility_reasons: Option<String>,
    pub newborn_name: Option<String>,
    pub form_snapshot: Option<String>,
    pub form_digest: Option<String>,
    pub confirmed_at: Option<DateTimeUtc>,
    pub submitted_at: Option<DateTimeUtc>,
    pub review_due_at: Option<DateTimeUtc>,
    pub overdue: bool,
    pub return_reasons: Option<String>,
    pub redo_documents: Option<String>,
    pub recipient_name: Option<String>,
    pub recipient_phone_enc: Option<String>,
    pub recipient_phone_key_id: Option<String>,
    pub recipient_phone_bidx: Option<String>,
    pub recipient_phone_masked: Option<String>,
    pub delivery_region_code: Option<String>,
    pub delivery_address: Option<String>,
    pub courier_fee_fen: Option<i32>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When retention erased the personal data of this unfinished case.
    pub erased_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
