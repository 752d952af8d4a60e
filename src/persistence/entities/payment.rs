//! The `payments` table's sea-orm entity (see the migrations for its indexes).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub application_id: String,
    pub out_trade_no: String,
    pub amount_fen: i32,
    /// `domain::payment::PaymentState`.
    pub state: String,
    pub prepay_id: Option<String>,
    pub transaction_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub paid_at: Option<DateTimeUtc>,
    pub out_refund_no: Option<String>,
    pub refund_id: Option<String>,
    pub refunded_at: Option<DateTimeUtc>,
    /// Set while a platform call is owed (close or refund): when to try next.
    pub platform_due_at: Option<DateTimeUtc>,
    pub platform_attempts: i32,
    pub platform_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
