//! Courier-fee payment orders. An order that still owes the platform a call (closing it, or
//! refunding it) carries `platform_due_at`: the row is its own queue entry, written in the
//! transaction that makes the call owed, and claimed by the payment-calls worker with a lease.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    Statement,
};

use super::corrupt;
use super::entities::payment;
use super::{is_unique_violation, new_id, PersistenceError};
use crate::domain::payment::{refund_number, PaymentState};
use crate::domain::LifeCycle;

#[derive(Debug, Clone)]
pub struct Payment {
    pub application_id: String,
    pub out_trade_no: String,
    pub amount_fen: i32,
    pub state: PaymentState,
    pub prepay_id: Option<String>,
    pub refund_id: Option<String>,
    pub platform_attempts: i32,
}

fn from(m: payment::Model) -> Result<Payment, PersistenceError> {
    Ok(Payment {
        state: PaymentState::parse(&m.state).ok_or_else(|| corrupt("payment", &m.out_trade_no, &m.state))?,
        application_id: m.application_id,
        out_trade_no: m.out_trade_no,
        amount_fen: m.amount_fen,
        prepay_id: m.prepay_id,
        refund_id: m.refund_id,
        platform_attempts: m.platform_attempts,
    })
}

/// An UPDATE that moves orders to `to`, only from the states its life allows (so a repeated
/// or late notification matches no row); callers add what else changes and which order.
fn moving(to: PaymentState) -> sea_orm::UpdateMany<payment::Entity> {
    payment::Entity::update_many()
        .col_expr(payment::Column::State, Expr::value(to.as_str()))
        .filter(payment::Column::State.is_in(to.sources().iter().map(|s| s.as_str())))
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

/// Every order of an application, oldest first.
pub async fn of_application(db: &impl ConnectionTrait, application_id: &str) -> Result<Vec<Payment>, PersistenceError> {
    payment::Entity::find()
        .filter(payment::Column::ApplicationId.eq(application_id))
        .order_by_asc(payment::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(from)
        .collect()
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
        out_refund_no: Set(None),
        refund_id: Set(None),
        refunded_at: Set(None),
        platform_due_at: Set(None),
        platform_attempts: Set(0),
        platform_error: Set(None),
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

pub async fn by_out_refund_no(
    db: &impl ConnectionTrait,
    out_refund_no: &str,
) -> Result<Option<Payment>, PersistenceError> {
    payment::Entity::find().filter(payment::Column::OutRefundNo.eq(out_refund_no)).one(db).await?.map(from).transpose()
}

/// Marks the order paid once; false when it already was (a repeated notification).
pub async fn mark_paid(
    db: &impl ConnectionTrait,
    out_trade_no: &str,
    transaction_id: &str,
) -> Result<bool, PersistenceError> {
    let result = moving(PaymentState::Paid)
        .col_expr(payment::Column::TransactionId, Expr::value(transaction_id))
        .col_expr(payment::Column::PaidAt, Expr::value(Utc::now()))
        // A paid order owes the platform no close any more.
        .col_expr(payment::Column::PlatformDueAt, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(payment::Column::OutTradeNo.eq(out_trade_no))
        .exec(db)
        .await;
    match result {
        Ok(r) => Ok(r.rows_affected == 1),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `paid → refund_pending`, with the refund owed to the platform now. False when the order was
/// not paid (nothing to give back, or already on its way back).
pub async fn begin_refund(db: &impl ConnectionTrait, out_trade_no: &str) -> Result<bool, PersistenceError> {
    let result = moving(PaymentState::RefundPending)
        .col_expr(payment::Column::OutRefundNo, Expr::value(refund_number(out_trade_no)))
        .col_expr(payment::Column::PlatformDueAt, Expr::value(Utc::now()))
        .col_expr(payment::Column::PlatformAttempts, Expr::value(0))
        .filter(payment::Column::OutTradeNo.eq(out_trade_no))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// `refund_pending → refunded` once; false for a repeated refund notification.
pub async fn mark_refunded(
    db: &impl ConnectionTrait,
    out_refund_no: &str,
    refund_id: &str,
) -> Result<bool, PersistenceError> {
    let result = moving(PaymentState::Refunded)
        .col_expr(payment::Column::RefundId, Expr::value(refund_id))
        .col_expr(payment::Column::RefundedAt, Expr::value(Utc::now()))
        .col_expr(payment::Column::PlatformDueAt, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(payment::Column::OutRefundNo.eq(out_refund_no))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Marks the application's open order closed, if it has one, in one statement. When the
/// platform could not be told yet (`close_owed`), the close is queued for the worker.
pub async fn close_open(
    db: &impl ConnectionTrait,
    application_id: &str,
    close_owed: bool,
) -> Result<(), PersistenceError> {
    moving(PaymentState::Closed)
        .col_expr(payment::Column::PlatformDueAt, Expr::value(close_owed.then(Utc::now)))
        .filter(payment::Column::ApplicationId.eq(application_id))
        .exec(db)
        .await?;
    Ok(())
}

#[derive(FromQueryResult)]
struct Claimed {
    id: String,
}

/// Takes up to `limit` orders that owe the platform a call, for `lease`: another worker will
/// not see them until the lease ends, so a crashed worker's calls come back by themselves.
pub async fn claim_platform_calls(
    db: &impl ConnectionTrait,
    limit: u64,
    lease: Duration,
) -> Result<Vec<Payment>, PersistenceError> {
    let now = Utc::now();
    let backend = db.get_database_backend();
    let lock = if backend == DbBackend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
    let [p1, p2, p3] = super::placeholders(db);
    let sql = format!(
        "UPDATE payments SET platform_due_at = {p1} \
         WHERE id IN (SELECT id FROM payments WHERE platform_due_at <= {p2} \
                      ORDER BY platform_due_at LIMIT {p3} {lock}) \
         RETURNING id"
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let claimed = Claimed::find_by_statement(Statement::from_sql_and_values(
        backend,
        sql,
        [(now + lease).into(), now.into(), limit.into()],
    ))
    .all(db)
    .await?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    payment::Entity::find()
        .filter(payment::Column::Id.is_in(claimed.into_iter().map(|c| c.id)))
        .all(db)
        .await?
        .into_iter()
        .map(from)
        .collect()
}

/// What became of one platform call.
pub enum CallOutcome<'a> {
    /// Done: the close was accepted, or the refund was taken (its number, when it came back).
    Done { refund_id: Option<&'a str> },
    /// Try again at `at`.
    Retry { error: &'a str, at: DateTime<Utc> },
    /// Given up: a person has to look at it (the error is kept).
    GaveUp { error: &'a str },
}

pub async fn record_platform_call(
    db: &impl ConnectionTrait,
    out_trade_no: &str,
    outcome: CallOutcome<'_>,
) -> Result<(), PersistenceError> {
    let none = Option::<DateTime<Utc>>::None;
    let mut update = payment::Entity::update_many()
        .col_expr(payment::Column::PlatformAttempts, Expr::col(payment::Column::PlatformAttempts).add(1));
    update = match outcome {
        CallOutcome::Done { refund_id } => {
            let update = update
                .col_expr(payment::Column::PlatformDueAt, Expr::value(none))
                .col_expr(payment::Column::PlatformError, Expr::value(Option::<String>::None));
            match refund_id {
                Some(id) => update.col_expr(payment::Column::RefundId, Expr::value(id)),
                None => update,
            }
        }
        CallOutcome::Retry { error, at } => update
            .col_expr(payment::Column::PlatformDueAt, Expr::value(at))
            .col_expr(payment::Column::PlatformError, Expr::value(error)),
        CallOutcome::GaveUp { error } => update
            .col_expr(payment::Column::PlatformDueAt, Expr::value(none))
            .col_expr(payment::Column::PlatformError, Expr::value(error)),
    };
    update.filter(payment::Column::OutTradeNo.eq(out_trade_no)).exec(db).await?;
    Ok(())
}
