//! Requests that race: the same creating request twice at once under one Idempotency-Key, and
//! two officers approving the same application at once. Each answer is a success, a replay or a
//! 409 — never a 500 — and the effect happens once. Run on both backends.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{mother_id, spawn_app, MOTHER};

#[tokio::test]
async fn the_same_idempotent_request_twice_at_once_creates_one_application() {
    let app = spawn_app().await;
    let delivery = app.seed_delivery(MOTHER, &mother_id()).await;
    let (token, card_id) = app.parent_with_card(MOTHER, &mother_id()).await;
    let body = json!({"delivery_id": delivery, "health_card_id": card_id, "claimant_relation": "mother"});
    let post = || async {
        let res = app
            .client
            .post(app.url("/api/v1/applications"))
            .bearer_auth(&token)
            .header("Idempotency-Key", "same-tap-twice")
            .json(&body)
            .send()
            .await
            .expect("sent");
        (res.status().as_u16(), res.json::<Value>().await.unwrap_or(Value::Null))
    };
    let (a, b) = tokio::join!(post(), post());
    let answers = [a, b];
    for (status, body) in &answers {
        assert!(
            *status == 201 || (*status == 409 && body["code"] == "request_in_progress"),
            "a success, a replay or 'in progress', not {status} {body}"
        );
    }
    let created: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 201).map(|(_, b)| &b["id"]).collect();
    assert!(!created.is_empty(), "one of them created it: {answers:?}");
    assert!(created.windows(2).all(|w| w[0] == w[1]), "a replay answers the same application");
    let (_, list) = app.send(Method::GET, "/api/v1/applications", &token, None).await;
    assert_eq!(list.as_array().expect("list").len(), 1, "one application, not two");

    // After both, the key replays the application that exists.
    let (status, again) = post().await;
    assert_eq!((status, &again["id"]), (201, created[0]));
}

#[tokio::test]
async fn two_officers_approving_at_once_issue_one_certificate() {
    let app = spawn_app().await;
    app.stock("R370000001", "R370000005").await;
    let (token, app_id) = app.submitted().await;
    let path = format!("/api/v1/officer/applications/{app_id}/approval");
    let wang = app.another_officer("PY-RMYY", "officer.wang").await;
    let li = app.another_officer("PY-RMYY", "officer.li").await;
    let approve = |token: String| {
        let path = path.clone();
        let app = &app;
        async move { app.send(Method::POST, &path, &token, Some(json!({}))).await }
    };
    let (a, b) = tokio::join!(approve(wang), approve(li));
    let answers = [a, b];
    let ok: Vec<&(u16, Value)> = answers.iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!(ok.len(), 1, "exactly one approval goes through: {answers:?}");
    let refused = answers.iter().find(|(s, _)| *s != 200).expect("the other");
    assert_eq!(refused.0, 409, "the other is told the case moved on, not a 500: {refused:?}");

    let view = app.view(&token, &app_id).await;
    assert_eq!(view["state"], "issued");
    assert_eq!(view["certificate_number"], ok[0].1["certificate_number"]);
    let officer = app.officer_token("PY-RMYY");
    let (_, stats) = app.send(Method::GET, "/api/v1/officer/stats", &officer, None).await;
    assert_eq!(stats["blank_stock"], 4, "one number used, not two");
    let (_, register) =
        app.send(Method::GET, "/api/v1/officer/registers/first-issuance?format=json", &officer, None).await;
    assert_eq!(register.as_array().map(Vec::len), Some(1), "one register row: {register}");
    let issued = app.events_of(&app_id).await.into_iter().filter(|e| e == "issued").count();
    assert_eq!(issued, 1, "the family hears once");
}

#[tokio::test]
async fn sixty_new_families_signing_in_at_once_all_get_in() {
    let app = spawn_app().await;
    let mut codes = Vec::new();
    for _ in 0..60 {
        let user = app.wechat_user(false).await;
        codes.push(user["code"].as_str().expect("code").to_string());
    }
    let sign_in = |code: String| {
        let app = &app;
        async move {
            let res = app.post_json("/api/v1/auth/login", &json!({ "code": code })).await;
            (res.status().as_u16(), res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let answers = futures_util::future::join_all(codes.into_iter().map(sign_in)).await;
    let refused: Vec<&(u16, Value)> = answers.iter().filter(|(s, _)| *s != 200).collect();
    assert!(refused.is_empty(), "every new family signs in, none gets a 5xx: {refused:?}");
    let users: std::collections::HashSet<String> = answers
        .iter()
        .map(|(_, body)| {
            let token = body["token"].as_str().expect("token");
            app.state.jwt.verify(token).expect("valid").sub
        })
        .collect();
    assert_eq!(users.len(), 60, "sixty families, sixty users");
}

/// The same write eight times at once: each answer is a success or a 409 with a code.
fn successes_or_conflicts(answers: &[(u16, Value)], ok: u16) -> usize {
    for (status, body) in answers {
        assert!(*status == ok || (*status == 409 && body["code"].is_string()), "{status} {body}");
    }
    answers.iter().filter(|(s, _)| *s == ok).count()
}

#[tokio::test]
async fn the_same_upload_or_form_sent_many_times_at_once_is_a_success_or_a_409_never_a_500() {
    let app = spawn_app().await;
    let (token, app_id) = app.application_with_parents().await;
    let base = format!("/api/v1/applications/{app_id}");

    // Both parents entered eight times at once while the first are being verified.
    let body = crate::helpers::parents(&mother_id(), "resident_id", &crate::helpers::father_id());
    let parents_path = format!("{base}/parents");
    let answers = futures_util::future::join_all(
        (0..8).map(|_| app.send(Method::PUT, &parents_path, &token, Some(body.clone()))),
    )
    .await;
    assert!(successes_or_conflicts(&answers, 200) >= 1);
    assert_eq!(app.state_of(&token, &app_id).await, "parents_entered");

    for role in ["mother", "father"] {
        assert_eq!(app.face(&token, &app_id, role).await.0, 200);
    }
    // One ID image eight times at once: one current image of that kind afterwards.
    let path = format!("{base}/documents/mother_id_front");
    let answers = futures_util::future::join_all(
        (0..8).map(|n| app.upload(&token, &path, crate::helpers::png_with(n), "front.png")),
    )
    .await;
    assert!(successes_or_conflicts(&answers, 201) >= 1);
    let current = birthcert::persistence::documents::current_documents(&app.state.db, &app_id).await.expect("docs");
    assert_eq!(current.iter().filter(|d| d.kind == "mother_id_front").count(), 1, "one current image");
}

/// On SQLite no commit folds the write-ahead log into the database (that stalled every writer
/// queued behind it): a background task does. What a request wrote reaches the database file
/// itself, read here with the log ignored (`immutable=1`).
#[tokio::test]
async fn on_sqlite_writes_reach_the_database_file_through_the_background_checkpoint() {
    let app = spawn_app().await;
    if app.database.url.starts_with("postgres") {
        return;
    }
    let path = app.database.url.trim_start_matches("sqlite://").split('?').next().expect("path").to_string();
    let user = app.wechat_user(false).await;
    let (_, user_id) = app.login(user["code"].as_str().expect("code")).await;
    let in_file = || async {
        let file = sea_orm::Database::connect(format!("sqlite://{path}?mode=ro&immutable=1")).await.expect("read-only");
        let found = sea_orm::ConnectionTrait::query_one(
            &file,
            sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Sqlite,
                "SELECT COUNT(*) AS n FROM users WHERE id = ?",
                [user_id.clone().into()],
            ),
        )
        .await
        .ok()
        .flatten()
        .and_then(|row| row.try_get::<i64>("", "n").ok());
        file.close().await.ok();
        found == Some(1)
    };
    crate::helpers::eventually("the new user in the database file", in_file).await;
}

#[tokio::test]
async fn forty_reads_of_a_case_at_once_each_leave_their_own_audit_entry_in_one_whole_chain() {
    let app = spawn_app().await;
    let (_, app_id) = app.submitted().await;
    let officers = [app.officer_token("PY-RMYY"), app.another_officer("PY-RMYY", "officer.wang").await];
    let path = format!("/api/v1/officer/applications/{app_id}");
    let reads = (0..40).map(|k| {
        let (app, path, token) = (&app, &path, officers[k % 2].clone());
        async move { app.send(Method::GET, path, &token, None).await.0 }
    });
    let statuses = futures_util::future::join_all(reads).await;
    assert!(statuses.iter().all(|s| *s == 200), "every officer got the case: {statuses:?}");
    let entries =
        birthcert::persistence::audit::entries_about(&app.state.db, "application", &app_id).await.expect("audit");
    let read = entries.iter().filter(|e| e.action == "read_application").count();
    assert_eq!(read, 40, "one entry per read, each before its answer");
    let out = app.command(&["audit", "verify"], None);
    assert!(out.success && out.stderr.contains("intact"), "{}", out.stderr);
}

#[tokio::test]
async fn an_audited_read_whose_caller_went_away_is_still_written_and_the_next_one_is_not_held_up() {
    use birthcert::persistence::audit::{append_alone, entries_about, Actor, NewEntry};
    use futures_util::FutureExt;
    let app = spawn_app().await;
    let db = &app.state.db;
    let entry = |id: &str| NewEntry {
        actor: Actor::officer("officer-1"),
        action: "read_application".into(),
        subject_kind: "application".into(),
        subject_id: id.into(),
        detail: json!({}),
    };
    // Polled once (queued, its writer started), then dropped, as when a client hangs up.
    assert!(append_alone(db, entry("gone")).now_or_never().is_none());
    append_alone(db, entry("next")).await.expect("the next read is audited");
    // Entries are written in the order they queued: the one whose caller left is in too.
    for id in ["gone", "next"] {
        assert_eq!(entries_about(db, "application", id).await.expect("audit").len(), 1, "{id}");
    }
    let out = app.command(&["audit", "verify"], None);
    assert!(out.success && out.stderr.contains("intact"), "{}", out.stderr);
}
