use birthcert::auth::Role;
use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn officer_signs_in_with_the_right_password_only() {
    let app = spawn_app().await;
    app.officer_with_password("PY-ZYY", "li.officer", "a long password 1", false).await.expect("created");

    let res = app
        .post_json("/api/v1/officer/session", &json!({"username": "li.officer", "password": "a long password 1"}))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    let claims = app.state.jwt.verify(body["token"].as_str().expect("token")).expect("valid token");
    assert_eq!(claims.role, Role::Officer);
    assert_eq!(claims.inst.as_deref(), Some("PY-ZYY"));

    for (username, password) in [("li.officer", "wrong password"), ("nobody", "a long password 1")] {
        let res = app.post_json("/api/v1/officer/session", &json!({"username": username, "password": password})).await;
        assert_eq!(res.status(), 401);
        assert!(res.headers().get("www-authenticate").is_some());
        assert_eq!(res.json::<Value>().await.expect("json")["code"], "invalid_credentials");
    }
}

#[tokio::test]
async fn admin_officers_get_the_admin_role() {
    let app = spawn_app().await;
    app.officer_with_password("PY-RMYY", "wang.admin", "another long pass", true).await.expect("created");
    let body: Value = app
        .post_json("/api/v1/officer/session", &json!({"username": "wang.admin", "password": "another long pass"}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(app.state.jwt.verify(body["token"].as_str().expect("token")).expect("valid").role, Role::Admin);
}

#[tokio::test]
async fn accounts_refuse_unknown_institutions_and_taken_usernames() {
    let app = spawn_app().await;
    assert!(app.officer_with_password("NOPE", "x.officer", "long enough pass", false).await.is_err());
    app.officer_with_password("PY-RMYY", "x.officer", "long enough pass", false).await.expect("first");
    let again = app.officer_with_password("PY-ZYY", "x.officer", "long enough pass", false).await;
    assert!(matches!(again, Err(birthcert::services::staff::AccountError::UsernameTaken(_))));
}

#[tokio::test]
async fn hospital_key_gives_a_token_scoped_to_its_institution() {
    let app = spawn_app().await;
    let key = app.new_hospital_key("PY-FYBJ").await.expect("key");

    let res = app.post_json("/api/v1/hospital/session", &json!({"institution_code": "PY-FYBJ", "api_key": key})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    let claims = app.state.jwt.verify(body["token"].as_str().expect("token")).expect("valid");
    assert_eq!(claims.role, Role::Hospital);
    assert_eq!(claims.inst.as_deref(), Some("PY-FYBJ"));

    // The right key for another institution, and a made-up key, are both refused.
    for (code, key) in [("PY-RMYY", key.as_str()), ("PY-FYBJ", "bck_made_up")] {
        let res = app.post_json("/api/v1/hospital/session", &json!({"institution_code": code, "api_key": key})).await;
        assert_eq!(res.status(), 401);
    }
}

async fn officer_login(app: &crate::helpers::TestApp, username: &str, password: &str, from: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/officer/session"))
        .header("X-Forwarded-For", from)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn guessing_an_officers_password_is_stopped_after_five_tries_and_every_check_is_audited() {
    let app = crate::helpers::spawn_app_with(crate::helpers::TestOptions {
        configure: Some(Box::new(|s| s.security.login_window_secs = 5)),
        ..Default::default()
    })
    .await;
    let id = app.officer_with_password("PY-ZYY", "li.officer", "a long password 1", false).await.expect("created");
    // Thirty guesses, each from another address: five are checked, the rest refused unchecked.
    let started = std::time::Instant::now();
    let mut statuses = Vec::new();
    for i in 0..30 {
        let res = officer_login(&app, "li.officer", &format!("guess {i}"), &format!("10.0.0.{i}")).await;
        if res.status() == 429 {
            assert_eq!(res.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
            assert_eq!(res.json::<Value>().await.expect("json")["code"], "too_many_attempts");
            statuses.push(429);
        } else {
            statuses.push(res.status().as_u16());
        }
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 25, "{statuses:?}");
    // Even the right password waits for the window to end; then it works, and clears the count.
    assert_eq!(officer_login(&app, "li.officer", "a long password 1", "10.0.1.1").await.status(), 429);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "the guesses fit in one window");
    tokio::time::sleep(
        std::time::Duration::from_secs(5).saturating_sub(started.elapsed()) + std::time::Duration::from_millis(200),
    )
    .await;
    assert_eq!(officer_login(&app, "li.officer", "a long password 1", "10.0.1.1").await.status(), 200);
    assert_eq!(officer_login(&app, "li.officer", "a long password 1", "10.0.1.1").await.status(), 200);

    let failed =
        birthcert::persistence::audit::entries_about(&app.state.db, "username", "li.officer").await.expect("audit");
    assert_eq!(failed.iter().filter(|e| e.action == "officer.sign_in_failed").count(), 5);
    assert!(failed.iter().all(|e| !e.detail.contains("guess")), "no password is written down");
    let succeeded =
        birthcert::persistence::audit::entries_about(&app.state.db, "officer", &id.id).await.expect("audit");
    assert_eq!(succeeded.iter().filter(|e| e.action == "officer.signed_in").count(), 2);
}

#[tokio::test]
async fn one_address_trying_many_usernames_is_stopped_and_others_are_not() {
    let app = spawn_app().await;
    app.officer_with_password("PY-ZYY", "li.officer", "a long password 1", false).await.expect("created");
    for i in 0..5 {
        let res = officer_login(&app, &format!("user{i}"), "password123", "203.0.113.9").await;
        assert_eq!(res.status(), 401);
    }
    // The sixth from that address is refused, whatever the username; the real officer from the
    // office's own address is not.
    assert_eq!(officer_login(&app, "li.officer", "a long password 1", "203.0.113.9").await.status(), 429);
    assert_eq!(officer_login(&app, "li.officer", "a long password 1", "198.51.100.7").await.status(), 200);
}
