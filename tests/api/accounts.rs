//! Access that can be taken back: the operator's commands to disable, enable and reset an
//! officer and to list and revoke hospital keys, each taking effect on the very next request
//! whatever tokens are out there, and each in the audit log.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

const QUEUE: &str = "/api/v1/officer/applications";

async fn sign_in(app: &TestApp, username: &str, password: &str) -> (u16, Value) {
    let res = app.post_json("/api/v1/officer/session", &json!({"username": username, "password": password})).await;
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

async fn audit_actions(app: &TestApp, kind: &str, id: &str) -> Vec<String> {
    birthcert::persistence::audit::entries_about(&app.state.db, kind, id)
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[tokio::test]
async fn a_disabled_officer_is_refused_at_once_and_a_reset_password_replaces_the_old_one() {
    let app = spawn_app().await;
    let officer =
        app.officer_with_password("PY-RMYY", "zhao.officer", "first password 1", false).await.expect("created");
    let (status, session) = sign_in(&app, "zhao.officer", "first password 1").await;
    assert_eq!(status, 200);
    let token = session["token"].as_str().expect("token").to_string();
    assert_eq!(app.send(Method::GET, QUEUE, &token, None).await.0, 200);

    let out = app.command(&["officer", "disable", "--username", "zhao.officer"], None);
    assert!(out.success, "{}", out.stderr);
    // The token is still signed and unexpired, and refused all the same.
    let (status, body) = app.send(Method::GET, QUEUE, &token, None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("access_revoked")), "{body}");
    let (status, _) = app.send(Method::POST, "/api/v1/officer/applications/x/approval", &token, Some(json!({}))).await;
    assert_eq!(status, 401, "no action either");
    assert_eq!(sign_in(&app, "zhao.officer", "first password 1").await.0, 401, "nor a new sign-in");

    let out = app.command(&["officer", "reset-password", "--username", "zhao.officer"], Some("second password 2"));
    assert!(out.success, "{}", out.stderr);
    let out = app.command(&["officer", "enable", "--username", "zhao.officer"], None);
    assert!(out.success, "{}", out.stderr);
    assert_eq!(app.send(Method::GET, QUEUE, &token, None).await.0, 200, "enabled again");
    assert_eq!(sign_in(&app, "zhao.officer", "first password 1").await.0, 401, "the old password is gone");
    assert_eq!(sign_in(&app, "zhao.officer", "second password 2").await.0, 200);

    // Mistakes at the command line change nothing and say why.
    let out = app.command(&["officer", "disable", "--username", "nobody"], None);
    assert!(!out.success && out.stderr.contains("no officer named"), "{}", out.stderr);
    let out = app.command(&["officer", "reset-password", "--username", "zhao.officer"], Some("short"));
    assert!(!out.success && out.stderr.contains("at least 12"), "{}", out.stderr);
    assert_eq!(sign_in(&app, "zhao.officer", "second password 2").await.0, 200);

    assert_eq!(
        audit_actions(&app, "officer", &officer.id).await,
        [
            "officer.created",
            "officer.signed_in",
            "officer.disabled",
            "officer.password_reset",
            "officer.enabled",
            "officer.signed_in",
            "officer.signed_in"
        ]
    );
    let out = app.command(&["audit", "verify"], None);
    assert!(out.success, "{}", out.stderr);
}

#[tokio::test]
async fn a_revoked_hospital_key_and_every_token_it_was_given_are_refused_at_once() {
    let app = spawn_app().await;
    let out = app.command(&["hospital-key", "add", "--institution", "PY-ZYY"], None);
    assert!(out.success, "{}", out.stderr);
    let key = out.stdout.trim().to_string();
    let res = app.post_json("/api/v1/hospital/session", &json!({"institution_code": "PY-ZYY", "api_key": key})).await;
    assert_eq!(res.status(), 200);
    let token = res.json::<Value>().await.expect("json")["token"].as_str().expect("token").to_string();
    let deliveries = "/api/v1/hospital/deliveries?from=2026-01-01&to=2026-01-31";
    assert_eq!(app.send(Method::GET, deliveries, &token, None).await.0, 200);

    let out = app.command(&["hospital-key", "list", "--institution", "PY-ZYY"], None);
    assert!(out.success, "{}", out.stderr);
    assert!(!out.stdout.contains(&key), "the list never shows a key");
    let new_key_id = app.state.jwt.verify(&token).expect("claims").sub;
    let row = out.stdout.lines().find(|l| l.starts_with(&new_key_id)).expect("the new key is listed");
    assert!(row.ends_with("\t-"), "not revoked yet: {row}");

    let out = app.command(&["hospital-key", "revoke", "--id", &new_key_id], None);
    assert!(out.success, "{}", out.stderr);
    let (status, body) = app.send(Method::GET, deliveries, &token, None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("access_revoked")), "{body}");
    let res = app.post_json("/api/v1/hospital/session", &json!({"institution_code": "PY-ZYY", "api_key": key})).await;
    assert_eq!(res.status(), 401);
    let out = app.command(&["hospital-key", "list", "--institution", "PY-ZYY"], None);
    let row = out.stdout.lines().find(|l| l.starts_with(&new_key_id)).expect("still listed");
    assert!(!row.ends_with("\t-"), "revoked: {row}");
    // The other institution's key is untouched.
    assert_eq!(app.send(Method::GET, deliveries, &app.hospital_token("PY-RMYY"), None).await.0, 200);
    let out = app.command(&["hospital-key", "revoke", "--id", "no-such-key"], None);
    assert!(!out.success && out.stderr.contains("no hospital key"), "{}", out.stderr);

    assert_eq!(
        audit_actions(&app, "hospital_key", &new_key_id).await,
        ["hospital_key.created", "hospital.signed_in", "hospital_key.revoked"]
    );
    assert_eq!(audit_actions(&app, "institution", "PY-ZYY").await, ["hospital.sign_in_failed"]);
}

#[tokio::test]
async fn a_family_sign_in_is_audited() {
    let app = spawn_app().await;
    let user = app.wechat_user(false).await;
    let (_, user_id) = app.login(user["code"].as_str().expect("code")).await;
    assert_eq!(audit_actions(&app, "user", &user_id).await, ["applicant.signed_in"]);
}

#[tokio::test]
async fn guessing_hospital_keys_from_one_address_is_stopped_and_stops_filling_the_audit_log() {
    let app = spawn_app().await;
    let key = app.new_hospital_key("PY-ZYY").await.expect("key");
    let attempt = |api_key: String| {
        let app = &app;
        async move {
            app.post_json("/api/v1/hospital/session", &json!({"institution_code": "PY-ZYY", "api_key": api_key})).await
        }
    };
    let max = app.state.settings.security.login_max_failures;
    for n in 0..max {
        assert_eq!(attempt(format!("guess-{n}")).await.status(), 401);
    }
    for api_key in ["guess-again".to_string(), key] {
        let res = attempt(api_key).await;
        assert_eq!(res.status(), 429, "from this address, not even the right key for now");
        assert!(res.headers().get("retry-after").is_some());
    }
    let failures = audit_actions(&app, "institution", "PY-ZYY").await;
    assert_eq!(failures.len(), usize::try_from(max).expect("small"), "refused attempts are not audited: {failures:?}");
}
