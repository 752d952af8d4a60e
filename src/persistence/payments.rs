//! Courier-fee payment orders.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::corrupt;
use super::entities::payment;
use super::{is_unique_violation, new_id, PersistenceError};
use crate::domain::payment::PaymentState;
use crate::domain::LifeCycle;

#[derive(Debug, Clone)]
pub struct Payment {
    pub application_id: String,
    pub out_trade_no: String,
    pub amount_fen: i32,
    pub state: PaymentState,
    pub prepay_id: Option<String>,
}

fn from(m: payment::Model) -> Result<Payment, PersistenceError> {
    Ok(Payment {
        state: PaymentState::parse(&m.state).ok_or_else(|| corrupt("payment", &m.out_trade_no, &m.state))?,
        application_id: m.application_id,
        out_trade_no: m.out_trade_no,
        amount_fen: m.amount_fen,
        prepay_id: m.prepay_id,
    })
}

pub async fn open_order(db: &impl ConnectionTrait, application_id: &str) -> Result<Option<Payment>, PersistenceError> {
    payment::Entity::find()
        .filter(payment::Column::ApplicationId.eq(application_id))
        .filter(payment::Column::State.eq(PaymentState::Created.as_str()))
        .one(db)
        .await?
        .map(from)
        .transpose()
}

pub async fn create(
    db: &impl ConnectionTrait,
    application_id: &str,
    out_trade_no: &str,
    amount_fen: i32,
    prepay_id: &str,
) -> Result<(), PersistenceError> {
    payment::Entity::insert(payment::ActiveModel {
        id: Set(new_id()),
        application_id: Set(application_id.to_string()),
        out_trade_no: Set(out_trade_no.to_string()),
        amount_fen: Set(amount_fen),
        state: Set(PaymentState::Created.as_str().into()),
        prepay_id: Set(Some(prepay_id.to_string())),
        transaction_id: Set(None),
        created_at: Set(Utc::now()),
        paid_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

pub async fn by_out_trade_no(
    db: &impl ConnectionTrait,
    out_trade_no: &str,
) -> Result<Option<Payment>, PersistenceError> {
    payment::Entity::find().filter(payment::Column::OutTradeNo.eq(out_trade_no)).one(db).await?.map(from).transpose()
}

/// Marks the order paid once; false when it already was (a repeated notification).
pub async fn mark_paid(
    db: &impl ConnectionTrait,
    out_trade_no: &str,
    transaction_id: &str,
) -> Result<bool, PersistenceError> {
    let result = payment::Entity::update_many()
        .col_expr(payment::Column::State, Expr::value(PaymentState::Paid.as_str()))
        .col_expr(payment::Column::TransactionId, Expr::value(transaction_id))
        .col_expr(payment::Column::PaidAt, Expr::value(Utc::now()))
        .filter(payment::Column::OutTradeNo.eq(out_trade_no))
        .filter(payment::Column::State.eq(PaymentState::Created.as_str()))
        .exec(db)
        .await;
    match result {
        Ok(r) => Ok(r.rows_affected == 1),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Marks the application's open order closed → its out_trade_no, if there was one.
pub async fn close_open(db: &impl ConnectionTrait, application_id: &str) -> Result<Option<String>, PersistenceError> {
    let Some(order) = open_order(db, application_id).await? else {
        return Ok(None);
    };
    payment::Entity::update_many()
        .col_expr(payment::Column::State, Expr::value(PaymentState::Closed.as_str()))
        .filter(payment::Column::OutTradeNo.eq(&order.out_trade_no))
        .filter(payment::Column::State.is_in(PaymentState::Closed.sources().iter().map(|s| s.as_str())))
        .exec(db)
        .await?;
    Ok(Some(order.out_trade_no))
}
