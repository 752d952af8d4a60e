//! The review-deadline watcher: submitted applications past `review_due_at` are flagged
//! overdue (the queue and the stats show them). Flagging is one idempotent UPDATE, so several
//! instances running it at once do no harm. Each pass also folds the institutions' running
//! totals (`persistence::counters`), which is as safe beside another instance.

use std::time::Duration;

use crate::persistence::Db;
use crate::services::issuing::stats;

pub async fn run(db: Db, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        match stats::flag_overdue(&db, chrono::Utc::now()).await {
            Ok((0, _)) => {}
            Ok((newly, total)) => tracing::warn!(newly, total, "applications passed their review deadline"),
            Err(e) => tracing::error!(error = ?anyhow::Error::from(e), "deadline watcher pass failed"),
        }
        if let Err(e) = stats::fold_counters(&db).await {
            tracing::error!(error = ?anyhow::Error::from(e), "running totals not folded");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
    }
}
