//! The provincial reports' queue (`domain::province`). Rows are written in the transaction of
//! the change they report; the worker leases due rows like the notification outbox does.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::entities::province_report;
use super::{corrupt, PersistenceError};
use crate::domain::province::{report_id, ReportKind, ReportState};

#[derive(Debug, Clone)]
pub struct Report {
    pub seq: i32,
    pub report_id: String,
    pub kind: ReportKind,
    pub subject: String,
    pub application_id: Option<String>,
    pub institution_code: String,
    pub state: ReportState,
    pub attempts: i32,
    pub receipt: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub reported_at: Option<DateTime<Utc>>,
}

fn report_from(m: province_report::Model) -> Result<Report, PersistenceError> {
    Ok(Report {
        kind: ReportKind::parse(&m.kind).ok_or_else(|| corrupt("province report", &m.report_id, &m.kind))?,
        state: ReportState::parse(&m.state).ok_or_else(|| corrupt("province report", &m.report_id, &m.state))?,
        seq: m.seq,
        report_id: m.report_id,
        subject: m.subject,
        application_id: m.application_id,
        institution_code: m.institution_code,
        attempts: m.attempts,
        receipt: m.receipt,
        last_error: m.last_error,
        created_at: m.created_at,
        reported_at: m.reported_at,
    })
}

/// Queues a report of an issuance or a void. Call it with the transaction that makes the
/// change; the same fact queued again does nothing.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    kind: ReportKind,
    subject: &str,
    application_id: Option<&str>,
    institution_code: &str,
) -> Result<(), PersistenceError> {
    insert(db, &report_id(kind, subject, 0), kind, subject, application_id, institution_code).await
}

/// Queues the report of a delivery record as entered or corrected: nothing when one is still
/// waiting (it reads the record when it is sent, so it carries the correction), else the next
/// revision.
pub async fn enqueue_delivery(
    db: &impl ConnectionTrait,
    record_id: &str,
    institution_code: &str,
) -> Result<(), PersistenceError> {
    let earlier = province_report::Entity::find()
        .filter(province_report::Column::Kind.eq(ReportKind::Delivery.as_str()))
        .filter(province_report::Column::Subject.eq(record_id))
        .all(db)
        .await?;
    if earlier.iter().any(|r| r.state == ReportState::Pending.as_str()) {
        return Ok(());
    }
    let revision = u32::try_from(earlier.len()).unwrap_or(u32::MAX);
    let id = report_id(ReportKind::Delivery, record_id, revision);
    insert(db, &id, ReportKind::Delivery, record_id, None, institution_code).await
}

async fn insert(
    db: &impl ConnectionTrait,
    id: &str,
    kind: ReportKind,
    subject: &str,
    application_id: Option<&str>,
    institution_code: &str,
) -> Result<(), PersistenceError> {
    let now = Utc::now();
    province_report::Entity::insert(province_report::ActiveModel {
        report_id: Set(id.to_string()),
        kind: Set(kind.as_str().to_string()),
        subject: Set(subject.to_string()),
        application_id: Set(application_id.map(str::to_string)),
        institution_code: Set(institution_code.to_string()),
        state: Set(ReportState::Pending.as_str().to_string()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        created_at: Set(now),
        ..Default::default()
    })
    .on_conflict(OnConflict::column(province_report::Column::ReportId).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Leases up to `limit` due reports (see `outbox::claim_leased`).
pub async fn claim_due(
    db: &impl ConnectionTrait,
    limit: u64,
    lease: Duration,
) -> Result<Vec<Report>, PersistenceError> {
    let seqs = super::outbox::claim_leased(db, "province_reports", limit, lease).await?;
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    in_order(db, Condition::all().add(province_report::Column::Seq.is_in(seqs))).await
}

/// What the province answered to one send.
pub enum Outcome<'a> {
    Reported { receipt: &'a str },
    Retry { error: &'a str, at: DateTime<Utc> },
    Rejected { error: &'a str },
}

pub async fn record(db: &impl ConnectionTrait, seq: i32, outcome: Outcome<'_>) -> Result<(), PersistenceError> {
    let now = Utc::now();
    let update = province_report::Entity::update_many()
        .col_expr(province_report::Column::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(province_report::Column::Attempts, Expr::col(province_report::Column::Attempts).add(1));
    let update = match outcome {
        Outcome::Reported { receipt } => update
            .col_expr(province_report::Column::State, Expr::value(ReportState::Reported.as_str()))
            .col_expr(province_report::Column::Receipt, Expr::value(receipt))
            .col_expr(province_report::Column::ReportedAt, Expr::value(now)),
        Outcome::Retry { error, at } => update
            .col_expr(province_report::Column::NextAttemptAt, Expr::value(at))
            .col_expr(province_report::Column::LastError, Expr::value(error)),
        Outcome::Rejected { error } => update
            .col_expr(province_report::Column::State, Expr::value(ReportState::Rejected.as_str()))
            .col_expr(province_report::Column::LastError, Expr::value(error)),
    };
    // Only a pending report moves: a late answer cannot undo "reported".
    update
        .filter(province_report::Column::Seq.eq(seq))
        .filter(province_report::Column::State.eq(ReportState::Pending.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// The reports of one case: its delivery record's, its certificates' issuances and voids.
pub async fn of_case(
    db: &impl ConnectionTrait,
    application_id: &str,
    delivery_id: &str,
) -> Result<Vec<Report>, PersistenceError> {
    let delivery = Condition::all()
        .add(province_report::Column::Kind.eq(ReportKind::Delivery.as_str()))
        .add(province_report::Column::Subject.eq(delivery_id));
    let of_case = Condition::any().add(province_report::Column::ApplicationId.eq(application_id)).add(delivery);
    in_order(db, of_case).await
}

/// The reports `condition` picks, oldest first.
async fn in_order(db: &impl ConnectionTrait, condition: Condition) -> Result<Vec<Report>, PersistenceError> {
    province_report::Entity::find()
        .filter(condition)
        .order_by_asc(province_report::Column::Seq)
        .all(db)
        .await?
        .into_iter()
        .map(report_from)
        .collect()
}

/// The newest report the province acknowledged (operations' "last provincial report").
pub async fn last_reported_at(db: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>, PersistenceError> {
    Ok(province_report::Entity::find()
        .filter(province_report::Column::State.eq(ReportState::Reported.as_str()))
        .order_by_desc(province_report::Column::ReportedAt)
        .one(db)
        .await?
        .and_then(|m| m.reported_at))
}

/// Makes every pending report due now (tests step the retry clock with this).
pub async fn make_all_due(db: &impl ConnectionTrait) -> Result<(), PersistenceError> {
    province_report::Entity::update_many()
        .col_expr(province_report::Column::NextAttemptAt, Expr::value(Utc::now() - Duration::seconds(1)))
        .filter(province_report::Column::State.eq(ReportState::Pending.as_str()))
        .exec(db)
        .await?;
    Ok(())
}
