//! The institution's numbers: applications per state, review deadlines met and missed, blank
//! stock left; and the deadline watcher's flagging of overdue applications.

use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;

use crate::persistence::{applications, certificates, counters, modifications, Db};
use crate::services::ServiceError;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Stats {
    pub institution_code: String,
    pub per_state: std::collections::BTreeMap<String, i64>,
    pub deadlines_met: i64,
    pub deadlines_missed: i64,
    pub overdue_now: i64,
    /// Modification requests still pending past their 2 working days.
    pub modifications_overdue: u64,
    pub blank_stock: u64,
}

#[tracing::instrument(skip_all)]
pub async fn stats(db: &Db, institution: &str) -> Result<Stats, ServiceError> {
    let totals = counters::read(db, institution).await?;
    let (met, missed) = totals.decisions_since(None);
    Ok(Stats {
        institution_code: institution.to_string(),
        per_state: totals.per_state.into_iter().collect(),
        deadlines_met: met,
        deadlines_missed: missed,
        overdue_now: applications::overdue_open(db, institution, Utc::now()).await?,
        modifications_overdue: modifications::count_overdue(db, institution, Utc::now()).await?,
        blank_stock: certificates::blank_count(db, institution).await?,
    })
}

/// The console's dashboard: applications per state, this month's review deadlines (China time)
/// met and missed, what is overdue now, the blank stock, and applications started per day over
/// the last `days` days, oldest first, days without any included. Each number is one indexed
/// query; nothing reads the whole history.
#[derive(Debug)]
pub struct Dashboard {
    pub per_state: Vec<(String, i64)>,
    pub month_met: i64,
    pub month_missed: i64,
    pub overdue_now: i64,
    pub modifications_overdue: u64,
    pub blank_stock: u64,
    pub per_day: Vec<(chrono::NaiveDate, i64)>,
}

#[tracing::instrument(skip_all)]
pub async fn dashboard(db: &Db, institution: &str, now: DateTime<Utc>, days: u32) -> Result<Dashboard, ServiceError> {
    use crate::domain::working_days::{china_midnight, to_china};
    let today = to_china(now).date_naive();
    let month_start = today.with_day(1).unwrap_or(today);
    let totals = counters::read(db, institution).await?;
    let (month_met, month_missed) = totals.decisions_since(Some(china_midnight(month_start)));
    let first_day = today - chrono::Days::new(u64::from(days.max(1) - 1));
    let started = applications::started_per_day(db, institution, china_midnight(first_day)).await?;
    let per_day = first_day
        .iter_days()
        .take_while(|d| *d <= today)
        .map(|d| (d, started.iter().find(|(day, _)| *day == d).map_or(0, |(_, n)| *n)))
        .collect();
    Ok(Dashboard {
        per_state: totals.per_state,
        month_met,
        month_missed,
        overdue_now: applications::overdue_open(db, institution, now).await?,
        modifications_overdue: modifications::count_overdue(db, institution, now).await?,
        blank_stock: certificates::blank_count(db, institution).await?,
        per_day,
    })
}

/// Folds the running totals' deltas (the deadline watcher does it each pass).
pub async fn fold_counters(db: &Db) -> Result<u64, ServiceError> {
    Ok(counters::compact(db).await?)
}

/// The deadline watcher: flags submitted applications past their deadline → (newly flagged,
/// overdue in all).
#[tracing::instrument(skip_all)]
pub async fn flag_overdue(db: &Db, now: DateTime<Utc>) -> Result<(u64, u64), ServiceError> {
    let flagged = applications::flag_overdue(db, now).await?;
    let total = if flagged > 0 { applications::count_overdue(db).await? } else { 0 };
    Ok((flagged, total))
}
