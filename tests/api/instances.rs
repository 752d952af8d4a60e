//! Two instances of the service over one database and one store (PostgreSQL + Redis when the
//! tests run on them), requests alternating between them as a load balancer would send them,
//! each with a notification worker: every message is sent once, every number issued once, and
//! the audit chain stays one chain.

use std::collections::HashSet;

use crate::helpers::spawn_app;

#[tokio::test]
async fn two_instances_on_one_database_send_each_message_once_and_issue_each_number_once() {
    let app = spawn_app().await;
    app.stock("R370000900", "R370000949").await;
    // The second instance runs the workers the test configuration leaves off; the first one's
    // worker runs beside it below, so two workers on two instances compete for the same rows.
    let (second, second_handle) = app
        .serve_also_from(|s| {
            s.workers.outbox = true;
            s.workers.outbox_poll_ms = 20;
            s.workers.province_reports = true;
        })
        .await;
    let first_worker = app.state.outbox_worker();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let running = {
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if first_worker.run_once().await.unwrap_or(0) == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
                }
            }
        })
    };

    // Eight families at once, every request going to one instance or the other.
    const FAMILIES: usize = 8;
    let journeys = (0..FAMILIES).map(|_| app.submitted());
    let cases: Vec<(String, String)> = futures_util::future::join_all(journeys).await;
    // Every case approved at once, the approvals spread over both instances.
    let approvals = cases.iter().map(|(_, id)| app.approve(id, None));
    let answers = futures_util::future::join_all(approvals).await;
    let numbers: Vec<String> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 200, "{body}");
            body["certificate_number"].as_str().expect("a number").to_string()
        })
        .collect();
    assert_eq!(numbers.iter().collect::<HashSet<_>>().len(), FAMILIES, "each number issued once: {numbers:?}");

    // Until both workers have emptied the queue.
    let db = &app.state.db;
    for _ in 0..300 {
        let rows = birthcert::persistence::outbox::list(db).await.expect("outbox");
        if rows.iter().all(|r| r.state != "pending") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    running.await.expect("worker stopped");
    second_handle.stop(true).await;
    drop(second);

    let rows = birthcert::persistence::outbox::list(db).await.expect("outbox");
    assert_eq!(rows.len(), FAMILIES * 2, "a submitted and an issued message per family");
    for r in &rows {
        assert!(matches!(r.state.as_str(), "sent" | "delivered"), "{r:?}");
        assert_eq!(r.attempts, 1, "sent by one worker, once: {r:?}");
        // A second send of the same row would have met WeChat's duplicate answer (msgid 0).
        assert_ne!(r.msgid.as_deref(), Some("0"), "{r:?}");
    }
    let messages = app.mock_get("/_mock/messages").await;
    let messages = messages.as_array().expect("a list");
    assert_eq!(messages.len(), rows.len(), "the platform received each message once");
    let ids: HashSet<_> = messages.iter().map(|m| m["client_msg_id"].as_str().unwrap_or_default()).collect();
    assert_eq!(ids.len(), messages.len());

    let issued = birthcert::persistence::certificates::first_issued_between(
        db,
        chrono::Utc::now() - chrono::Duration::hours(1),
        chrono::Utc::now() + chrono::Duration::hours(1),
    )
    .await
    .expect("certificates");
    assert_eq!(issued.len(), FAMILIES);

    let report = birthcert::persistence::audit::verify(db, &[]).await.expect("verified");
    assert!(report.first_break.is_none() && !report.head_mismatch, "the audit chain is one chain: {report:?}");
}
