//! The notification outbox. Rows are written in the same transaction as the state change that
//! causes them ([`enqueue`]); the worker claims due rows with a lease so several instances can
//! run it (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer at a time anyway).

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    Statement,
};

use super::entities::notification;
use super::PersistenceError;
use crate::domain::notification::Notification;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxState {
    Pending,
    Sent,
    Delivered,
    UserBlocked,
    Failed,
    Undeliverable,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sent => "sent",
            OutboxState::Delivered => "delivered",
            OutboxState::UserBlocked => "user_blocked",
            OutboxState::Failed => "failed",
            OutboxState::Undeliverable => "undeliverable",
        }
    }
}

#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub seq: i32,
    pub user_id: String,
    pub application_id: Option<String>,
    pub notification: Notification,
    pub dedupe_key: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

/// Queues a notification. Call it with the transaction that makes the change it reports; a
/// second call with the same dedupe key does nothing.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    user_id: &str,
    application_id: Option<&str>,
    notification: &Notification,
    dedupe_key: &str,
) -> Result<(), PersistenceError> {
    let now = Utc::now();
    let payload = serde_json::to_string(notification).map_err(|e| PersistenceError::Corrupt(e.to_string()))?;
    notification::Entity::insert(notification::ActiveModel {
        dedupe_key: Set(dedupe_key.to_string()),
        user_id: Set(user_id.to_string()),
        application_id: Set(application_id.map(str::to_string)),
        event: Set(notification.event().as_str().to_string()),
        payload: Set(payload),
        state: Set(OutboxState::Pending.as_str().to_string()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(OnConflict::column(notification::Column::DedupeKey).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Takes up to `limit` due rows for `lease`; another worker will not see them until the lease
/// ends (so a crashed worker's rows come back by themselves).
pub async fn claim_due(
    db: &impl ConnectionTrait,
    limit: u64,
    lease: Duration,
) -> Result<Vec<OutboxRow>, PersistenceError> {
    let seqs = claim_leased(db, "notification_outbox", limit, lease).await?;
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    notification::Entity::find()
        .filter(notification::Column::Seq.is_in(seqs))
        .order_by_asc(notification::Column::Seq)
        .all(db)
        .await?
        .into_iter()
        .map(to_row)
        .collect()
}

#[derive(FromQueryResult)]
struct Claimed {
    seq: i32,
}

/// Leases up to `limit` due rows of a queue table (`seq`, `state`, `next_attempt_at`,
/// `locked_until`) → their `seq`s. `FOR UPDATE SKIP LOCKED` on PostgreSQL lets workers of
/// several instances take disjoint rows; SQLite's `UPDATE` takes the write lock up front.
pub(super) async fn claim_leased(
    db: &impl ConnectionTrait,
    table: &'static str,
    limit: u64,
    lease: Duration,
) -> Result<Vec<i32>, PersistenceError> {
    let now = Utc::now();
    let backend = db.get_database_backend();
    let lock = if backend == DbBackend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
    let [p1, p2, p3, p4] = super::placeholders(db);
    let sql = format!(
        "UPDATE {table} SET locked_until = {p1} \
         WHERE seq IN (SELECT seq FROM {table} \
                       WHERE state = 'pending' AND next_attempt_at <= {p2} \
                         AND (locked_until IS NULL OR locked_until <= {p3}) \
                       ORDER BY seq LIMIT {p4} {lock}) \
         RETURNING seq"
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let claimed = Claimed::find_by_statement(Statement::from_sql_and_values(
        backend,
        sql,
        [(now + lease).into(), now.into(), now.into(), limit.into()],
    ))
    .all(db)
    .await?;
    Ok(claimed.into_iter().map(|c| c.seq).collect())
}

fn to_row(m: notification::Model) -> Result<OutboxRow, PersistenceError> {
    let notification = serde_json::from_str(&m.payload)
        .map_err(|e| PersistenceError::Corrupt(format!("outbox row {} payload: {e}", m.seq)))?;
    Ok(OutboxRow {
        seq: m.seq,
        user_id: m.user_id,
        application_id: m.application_id,
        notification,
        dedupe_key: m.dedupe_key,
        attempts: m.attempts,
        created_at: m.created_at,
    })
}

/// What became of one delivery attempt.
pub enum Outcome<'a> {
    Sent { channel: &'a str, msgid: &'a str },
    Retry { errcode: Option<i64>, error: &'a str, at: DateTime<Utc> },
    Failed { errcode: Option<i64>, error: &'a str },
    Undeliverable { reason: &'a str },
}

pub async fn record(db: &impl ConnectionTrait, seq: i32, outcome: Outcome<'_>) -> Result<(), PersistenceError> {
    let now = Utc::now();
    let mut update = notification::Entity::update_many()
        .col_expr(notification::Column::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(notification::Column::UpdatedAt, Expr::value(now))
        .col_expr(notification::Column::Attempts, Expr::col(notification::Column::Attempts).add(1));
    let errcode = |c: Option<i64>| c.and_then(|c| i32::try_from(c).ok());
    update = match outcome {
        Outcome::Sent { channel, msgid } => update
            .col_expr(notification::Column::State, Expr::value(OutboxState::Sent.as_str()))
            .col_expr(notification::Column::Channel, Expr::value(channel))
            .col_expr(notification::Column::Msgid, Expr::value(msgid)),
        Outcome::Retry { errcode: c, error, at } => update
            .col_expr(notification::Column::NextAttemptAt, Expr::value(at))
            .col_expr(notification::Column::LastErrcode, Expr::value(errcode(c)))
            .col_expr(notification::Column::LastError, Expr::value(error)),
        Outcome::Failed { errcode: c, error } => update
            .col_expr(notification::Column::State, Expr::value(OutboxState::Failed.as_str()))
            .col_expr(notification::Column::LastErrcode, Expr::value(errcode(c)))
            .col_expr(notification::Column::LastError, Expr::value(error)),
        Outcome::Undeliverable { reason } => update
            .col_expr(notification::Column::State, Expr::value(OutboxState::Undeliverable.as_str()))
            .col_expr(notification::Column::LastError, Expr::value(reason)),
    };
    update.filter(notification::Column::Seq.eq(seq)).exec(db).await?;
    Ok(())
}

/// TEMPLATESENDJOBFINISH: the message WeChat numbered `msgid` was delivered or blocked.
/// Returns false when no sent message has that id.
pub async fn record_delivery(
    db: &impl ConnectionTrait,
    msgid: &str,
    state: OutboxState,
) -> Result<bool, PersistenceError> {
    let result = notification::Entity::update_many()
        .col_expr(notification::Column::State, Expr::value(state.as_str()))
        .col_expr(notification::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(notification::Column::Msgid.eq(msgid))
        .filter(notification::Column::Channel.eq("template"))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Status of every notification, for tests and the application timeline.
#[derive(Debug, Clone)]
pub struct OutboxStatus {
    pub seq: i32,
    pub event: String,
    pub state: String,
    pub channel: Option<String>,
    pub attempts: i32,
    pub last_errcode: Option<i32>,
    pub last_error: Option<String>,
    pub msgid: Option<String>,
    pub application_id: Option<String>,
}

pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<OutboxStatus>, PersistenceError> {
    Ok(notification::Entity::find()
        .order_by_asc(notification::Column::Seq)
        .all(db)
        .await?
        .into_iter()
        .map(|m| OutboxStatus {
            seq: m.seq,
            event: m.event,
            state: m.state,
            channel: m.channel,
            attempts: m.attempts,
            last_errcode: m.last_errcode,
            last_error: m.last_error,
            msgid: m.msgid,
            application_id: m.application_id,
        })
        .collect())
}

/// Makes every pending row due now (tests step the retry clock with this instead of sleeping).
pub async fn make_all_due(db: &impl ConnectionTrait) -> Result<(), PersistenceError> {
    notification::Entity::update_many()
        .col_expr(notification::Column::NextAttemptAt, Expr::value(Utc::now() - Duration::seconds(1)))
        .filter(notification::Column::State.eq(OutboxState::Pending.as_str()))
        .exec(db)
        .await?;
    Ok(())
}
