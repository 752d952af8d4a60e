//! Retention: the personal data and images of cases that ended unfinished are erased after
//! `retention.unfinished_days`, idempotency answers and raw courier bodies expire, and everything
//! the notice keeps permanently stays.

use birthcert::domain::shipment::CourierEventKind;
use birthcert::persistence::{idempotency, shipments};
use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};

use crate::helpers::{png_with, spawn_app, TestApp};

/// Sets a column of every row `filter` picks to `days` ago (what the passing of time would do).
async fn age(app: &TestApp, table: &str, column: &str, filter: &str, days: i64) {
    app.set_column(table, column, chrono::Utc::now() - chrono::Duration::days(days), filter).await;
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let db = &app.state.db;
    let row = db.query_one(Statement::from_string(db.get_database_backend(), sql)).await.expect("q").expect("row");
    row.try_get_by_index::<i64>(0).expect("count")
}

fn blob_exists(app: &TestApp, sha: &str) -> bool {
    app.state.blobs.dir().join(&sha[..2]).join(sha).exists()
}

#[tokio::test]
async fn an_unfinished_case_is_erased_after_the_retention_period_and_what_is_kept_stays() {
    let app = spawn_app().await;
    // A case issued (kept for good), sharing its ID images with the withdrawn one.
    app.stock("R370000900", "R370000905").await;
    let (_, issued) = app.submitted().await;
    app.approve(&issued, None).await;
    // A case withdrawn long ago, with an image of its own.
    let (token, withdrawn) = app.documents_uploaded().await;
    let path = format!("/api/v1/applications/{withdrawn}/documents/mother_id_front");
    let (status, own) = app.upload(&token, &path, png_with(7), "a.png").await;
    assert_eq!(status, 201, "{own}");
    let own_sha = own["sha256"].as_str().expect("sha").to_string();
    let (status, body) =
        app.send(Method::POST, &format!("/api/v1/applications/{withdrawn}/withdrawal"), &token, None).await;
    assert_eq!(status, 200, "{body}");
    age(&app, "applications", "updated_at", &format!("id = '{withdrawn}'"), 181).await;
    // A case withdrawn yesterday: not yet.
    let (recent_token, recent) = app.documents_uploaded().await;
    let (status, _) =
        app.send(Method::POST, &format!("/api/v1/applications/{recent}/withdrawal"), &recent_token, None).await;
    assert_eq!(status, 200);
    // An old and a new idempotency answer; an old and a new courier body.
    let db = &app.state.db;
    assert!(idempotency::save(db, "s", "old-key", "h", 201, "{}").await.expect("saved"));
    assert!(idempotency::save(db, "s", "new-key", "h", 201, "{}").await.expect("saved"));
    age(&app, "idempotency_keys", "created_at", "key = 'old-key'", 2).await;
    for (tracking, at) in [("EMS-OLD", 1), ("EMS-NEW", 2)] {
        shipments::record_courier_event(db, tracking, CourierEventKind::PickedUp, at, r#"{"signer":"张伟"}"#)
            .await
            .expect("event");
    }
    age(&app, "courier_events", "received_at", "tracking_number = 'EMS-OLD'", 31).await;

    let dry = app.command(&["retention", "run", "--dry-run"], None);
    assert!(dry.success, "{}", dry.stderr);
    assert_eq!(dry.stdout.trim(), withdrawn, "only the old withdrawn case is due");
    assert!(dry.stderr.contains("1 idempotency answers to expire; 1 courier bodies to empty"), "{}", dry.stderr);
    let parents_of = |id: &str| format!("SELECT COUNT(*) FROM parents WHERE application_id = '{id}'");
    assert_eq!(count(&app, &parents_of(&withdrawn)).await, 2, "a dry run changes nothing");
    assert!(blob_exists(&app, &own_sha));

    let run = app.command(&["retention", "run"], None);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), withdrawn);
    for table in ["parents", "documents", "signatures", "identity_verifications"] {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE application_id = '{withdrawn}'");
        assert_eq!(count(&app, &sql).await, 0, "{table} of the erased case");
        let kept = format!("SELECT COUNT(*) FROM {table} WHERE application_id = '{issued}'");
        assert!(count(&app, &kept).await > 0, "{table} of the issued case is kept");
    }
    assert_eq!(count(&app, &parents_of(&recent)).await, 2, "the recent case is kept");
    assert!(!blob_exists(&app, &own_sha), "its own image is gone");
    let issued_docs = birthcert::persistence::documents::current_documents(&app.state.db, &issued).await.expect("docs");
    assert!(issued_docs.iter().all(|d| blob_exists(&app, &d.sha256)), "the images it shared are kept");
    // The parents' names no longer find it; the hospital's record (kept) still does.
    use birthcert::persistence::search::{search, SearchKeys};
    let db = &app.state.db;
    let found = |name: &'static str| async move {
        let keys = SearchKeys { name: Some(name), ..SearchKeys::default() };
        let found = search(db, "PY-RMYY", &keys, 10).await.expect("search");
        found.into_iter().map(|a| a.id).collect::<Vec<_>>()
    };
    assert!(!found(crate::helpers::FATHER_NAME).await.contains(&withdrawn), "the father's name is erased");
    assert!(found(crate::helpers::MOTHER).await.contains(&withdrawn), "the delivery record is kept");
    assert!(found(crate::helpers::FATHER_NAME).await.contains(&issued));
    let sql = format!("SELECT COUNT(*) FROM applications WHERE id = '{withdrawn}' AND erased_at IS NOT NULL AND delivery_address IS NULL AND form_snapshot IS NULL");
    assert_eq!(count(&app, &sql).await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM idempotency_keys").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM courier_events WHERE body = ''").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM first_issuance_register").await, 1, "the register is kept");

    // The family still sees that the case existed and how it ended; the officer too.
    let (status, view) = app.send(Method::GET, &format!("/api/v1/applications/{withdrawn}"), &token, None).await;
    assert_eq!((status, view["state"].as_str()), (200, Some("withdrawn")), "{view}");
    let officer = app.officer_token("PY-RMYY");
    let (status, detail) =
        app.send(Method::GET, &format!("/api/v1/officer/applications/{withdrawn}"), &officer, None).await;
    assert_eq!((status, detail["state"].as_str()), (200, Some("withdrawn")), "{detail}");
    assert_eq!(detail["parents"].as_array().map(Vec::len), Some(0), "{detail}");
    let entries =
        birthcert::persistence::audit::entries_about(&app.state.db, "application", &withdrawn).await.expect("audit");
    let erased: Vec<&str> = entries.iter().map(|e| e.action.as_str()).filter(|a| *a == "case.erased").collect();
    assert_eq!(erased, ["case.erased"], "erased once, audited");
    let again = app.command(&["retention", "run"], None);
    assert!(again.stderr.starts_with("0 unfinished cases erased"), "{}", again.stderr);
    assert!(app.command(&["audit", "verify"], None).success);
}
