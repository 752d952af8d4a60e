//! What must never be written down: the platform's secrets and tokens, in the log or in the
//! database, even when the platform cannot be reached.

use birthcert::domain::notification::Notification;
use birthcert::persistence::outbox;
use serde_json::json;

use crate::helpers::{logged, spawn_app};

/// Every secret the service holds for the outside systems, and the query parameters that carry
/// them on WeChat's API.
fn secrets(app: &crate::helpers::TestApp) -> Vec<String> {
    use secrecy::ExposeSecret;
    let s = &app.state.settings;
    vec![
        s.wechat.app_secret.expose_secret().to_string(),
        s.wechat.mini_program_app_secret.expose_secret().to_string(),
        s.health_card.app_secret.expose_secret().to_string(),
        "secret=".into(),
        "access_token=".into(),
    ]
}

#[tokio::test]
async fn an_unreachable_platform_leaves_no_secret_in_the_log_or_the_outbox() {
    let app = spawn_app().await;
    // A follower, and one message delivered: the service now holds an access token.
    let (user_id, _) = app.follower(false).await;
    let message = Notification::Delivered { reference: "APP123".into() };
    outbox::enqueue(&app.state.db, &user_id, None, &message, "first").await.expect("enqueue");
    assert_eq!(app.drain_outbox().await, 1);

    // The platform goes away.
    app.mock.stop().await;
    outbox::enqueue(&app.state.db, &user_id, None, &message, "second").await.expect("enqueue");
    assert_eq!(app.drain_outbox().await, 1);
    let rows = outbox::list(&app.state.db).await.expect("outbox");
    let failed = rows.iter().find(|r| r.attempts == 1 && r.state == "pending").expect("a row waiting for its retry");
    let stored = failed.last_error.clone().expect("the failure is kept for the operator");
    assert!(stored.to_lowercase().contains("connect"), "the cause is kept: {stored}");

    let res = app.post_json("/api/v1/auth/login", &json!({"code": "any-code"})).await;
    assert_eq!(res.status(), 502);
    let request_id =
        res.json::<serde_json::Value>().await.expect("json")["request_id"].as_str().expect("id").to_string();

    let log = logged();
    assert!(
        log.lines().any(|l| l.contains(&request_id) && l.to_lowercase().contains("connect")),
        "the failed sign-in is logged with its cause"
    );
    for secret in secrets(&app) {
        assert!(!stored.contains(&secret), "{secret:?} stored in the outbox: {stored}");
        let leaked: Vec<&str> = log.lines().filter(|l| l.contains(&secret)).collect();
        assert!(leaked.is_empty(), "{secret:?} in the log: {leaked:?}");
    }
}
