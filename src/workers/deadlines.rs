//! The review-deadline watcher: submitted applications past `review_due_at` are flagged
//! overdue (the queue and the stats show them). Flagging is one idempotent UPDATE, so several
//! instances running it at once do no harm.

use std::time::Duration;

use crate::persistence::{issuing, Db};

pub async fn run(db: Db, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        match issuing::flag_overdue(&db, chrono::Utc::now()).await {
            Ok(0) => {}
            Ok(newly) => {
                let total = issuing::count_overdue(&db).await.unwrap_or_default();
                tracing::warn!(newly, total, "applications passed their review deadline");
            }
            Err(e) => tracing::error!(error = %e, "deadline watcher pass failed"),
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
