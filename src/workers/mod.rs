//! Background work inside the service process, safe with several instances.

pub mod deadlines;
pub mod gauges;
pub mod outbox;
pub mod payments;
pub mod province;

use std::future::Future;

use crate::persistence::PersistenceError;

/// Runs `pass` until `stop` flips to true: again at once while it finds work, after `idle`
/// when it found none. A failed pass is logged and counts as finding none.
pub async fn poll<F, Fut>(
    name: &'static str,
    idle: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut pass: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, PersistenceError>>,
{
    loop {
        let handled = match pass().await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(worker = name, error = %e, "worker pass failed");
                0
            }
        };
        if handled == 0 {
            tokio::select! {
                _ = tokio::time::sleep(idle) => {}
                _ = stop.changed() => {}
            }
        }
        if *stop.borrow() {
            break;
        }
    }
}

/// Runs `task` every `period` until `stop` flips to true; the task reports its own failures
/// (the retention sweep, the audit anchor).
pub async fn every<F, Fut>(
    name: &'static str,
    period: std::time::Duration,
    stop: tokio::sync::watch::Receiver<bool>,
    mut task: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    poll(name, period, stop, || {
        let turn = task();
        async move {
            turn.await;
            // Always "nothing more to do now": the next turn comes after `period`.
            Ok(0)
        }
    })
    .await;
}

/// SQLite's checkpointer: folds the write-ahead log into the database every `every`, so no
/// commit has to (see `persistence::connect`). A failed pass is logged and tried again.
pub async fn checkpoint(
    db: crate::persistence::Db,
    every: std::time::Duration,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    poll("sqlite checkpoint", every, stop, || async {
        crate::persistence::checkpoint(&db).await?;
        // Always "nothing more to do now": the next pass comes after `every`.
        Ok(0)
    })
    .await;
}

/// The delay before retry number `attempts`: `base_secs` doubling per attempt, at most an hour.
pub fn backoff(base_secs: i64, attempts: i32) -> chrono::Duration {
    let factor = 1i64 << attempts.clamp(0, 16);
    chrono::Duration::seconds(base_secs.max(1).saturating_mul(factor).min(3600))
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(super::backoff(30, 1).num_seconds(), 60);
        assert_eq!(super::backoff(30, 2).num_seconds(), 120);
        assert_eq!(super::backoff(0, 0).num_seconds(), 1);
        assert_eq!(super::backoff(30, 40).num_seconds(), 3600);
    }
}
