//! The institution's numbers: applications per state, review deadlines met and missed, blank
//! stock left; and the deadline watcher's flagging of overdue applications.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::persistence::{applications, certificates, Db};
use crate::services::ServiceError;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Stats {
    pub institution_code: String,
    pub per_state: std::collections::BTreeMap<String, i64>,
    pub deadlines_met: i64,
    pub deadlines_missed: i64,
    pub overdue_now: i64,
    pub blank_stock: u64,
}

#[tracing::instrument(skip_all)]
pub async fn stats(db: &Db, institution: &str) -> Result<Stats, ServiceError> {
    let per_state = applications::counts_per_state(db, institution).await?.into_iter().collect();
    let d = applications::deadline_counts(db, institution, Utc::now()).await?;
    Ok(Stats {
        institution_code: institution.to_string(),
        per_state,
        deadlines_met: d.met,
        deadlines_missed: d.missed,
        overdue_now: d.overdue_open,
        blank_stock: certificates::blank_count(db, institution).await?,
    })
}

/// The deadline watcher: flags submitted applications past their deadline → (newly flagged,
/// overdue in all).
#[tracing::instrument(skip_all)]
pub async fn flag_overdue(db: &Db, now: DateTime<Utc>) -> Result<(u64, u64), ServiceError> {
    let flagged = applications::flag_overdue(db, now).await?;
    let total = if flagged > 0 { applications::count_overdue(db).await? } else { 0 };
    Ok((flagged, total))
}
