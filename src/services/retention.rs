//! Retention and minimisation. Kept permanently, as the notice requires: the two registers, the
//! certificates, the registration form and images of every case that was issued (its archive),
//! payments and the audit log. Erased after `retention.unfinished_days` without a change: the
//! personal data and images of a case that ended unfinished (withdrawn, ineligible; a case sent
//! to the counter joins them when referral exists) — see `persistence::retention::erase_case`.
//! Expired: idempotency answers after `retention.idempotency_hours`, raw courier bodies after
//! `retention.callback_body_days`. The service sweeps every `retention.run_every_secs`;
//! `birthcert retention run [--dry-run]` sweeps (or only reports) at once. Each erasure is audited.

use chrono::{DateTime, Duration, Utc};

use crate::blobs::BlobStore;
use crate::config::RetentionSettings;
use crate::domain::application_state::ApplicationState;
use crate::persistence::audit::{self, Actor};
use crate::persistence::{self, retention, Db};

use super::ServiceError;

/// The cases retention erases: ended without a certificate.
pub const UNFINISHED_ENDS: [ApplicationState; 3] =
    [ApplicationState::Withdrawn, ApplicationState::Ineligible, ApplicationState::Referred];

/// Cases erased per pass; the next pass takes the rest.
const BATCH: u64 = 200;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RetentionReport {
    /// Cases erased (or, in a dry run, due).
    pub cases: Vec<String>,
    pub images_removed: u64,
    pub idempotency_keys: u64,
    pub callback_bodies: u64,
}

#[tracing::instrument(skip_all, fields(dry_run))]
pub async fn run(
    db: &Db,
    blobs: &BlobStore,
    settings: &RetentionSettings,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<RetentionReport, ServiceError> {
    let mut report = RetentionReport::default();
    let unfinished_before = now - Duration::days(i64::from(settings.unfinished_days));
    loop {
        let due = retention::due_for_erasure(db, &UNFINISHED_ENDS, unfinished_before, BATCH).await?;
        let last_batch = (due.len() as u64) < BATCH;
        if dry_run {
            report.cases.extend(due);
            break;
        }
        for id in due {
            if let Some(removed) = erase(db, blobs, &id, now).await? {
                report.images_removed += removed;
                report.cases.push(id);
            }
        }
        if last_batch {
            break;
        }
    }
    let keys_before = now - Duration::hours(i64::from(settings.idempotency_hours));
    report.idempotency_keys = retention::expire_idempotency_keys(db, keys_before, dry_run).await?;
    let bodies_before = now - Duration::days(i64::from(settings.callback_body_days));
    report.callback_bodies = retention::expire_courier_bodies(db, bodies_before, dry_run).await?;
    if !dry_run && (!report.cases.is_empty() || report.idempotency_keys > 0 || report.callback_bodies > 0) {
        tracing::info!(
            cases = report.cases.len(),
            images = report.images_removed,
            idempotency_keys = report.idempotency_keys,
            callback_bodies = report.callback_bodies,
            "retention sweep"
        );
    }
    Ok(report)
}

/// One case: its rows in one transaction with the audit entry, then the image files no other
/// row uses → how many files were removed; None if the case moved on meanwhile.
async fn erase(db: &Db, blobs: &BlobStore, id: &str, now: DateTime<Utc>) -> Result<Option<u64>, ServiceError> {
    let txn = persistence::begin(db).await?;
    let Some(images) = retention::erase_case(&*txn, id, &UNFINISHED_ENDS, now).await? else {
        return Ok(None);
    };
    let detail = serde_json::json!({"images": images.len()});
    audit::append(&txn, &Actor::system("retention"), "case.erased", "application", id, detail).await?;
    persistence::commit(txn).await?;
    let mut removed = 0;
    for sha in images {
        if !retention::image_in_use(db, &sha).await? {
            blobs.remove(&sha).await.map_err(ServiceError::internal)?;
            removed += 1;
        }
    }
    Ok(Some(removed))
}
