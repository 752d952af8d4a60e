//! The `notification_outbox` table's sea-orm entity (see the migrations for its indexes).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i32,
    pub dedupe_key: String,
    pub user_id: String,
    pub application_id: Option<String>,
    pub event: String,
    pub payload: String,
    /// pending, sent, delivered, user_blocked, failed, undeliverable
    pub state: String,
    pub channel: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub locked_until: Option<DateTimeUtc>,
    pub last_errcode: Option<i32>,
    pub last_error: Option<String>,
    pub msgid: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
