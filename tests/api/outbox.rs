//! The notification outbox, drained step by step.

use birthcert::domain::notification::Notification;
use birthcert::persistence::{outbox, users};
use serde_json::json;

use crate::helpers::{eventually, spawn_app, spawn_app_with, TestApp, TestOptions};

fn submitted() -> Notification {
    Notification::Submitted {
        reference: "APP123".into(),
        review_due_at: chrono::Utc::now() + chrono::Duration::days(2),
    }
}

async fn states(app: &TestApp) -> Vec<String> {
    outbox::list(&app.state.db).await.expect("list").into_iter().map(|r| r.state).collect()
}

#[tokio::test]
async fn a_follower_gets_a_template_message_within_wechats_field_rules_and_delivery_is_recorded() {
    let app = spawn_app().await;
    let (user_id, user) = app.follower(false).await;
    outbox::enqueue(&app.state.db, &user_id, None, &submitted(), "n1").await.expect("enqueue");
    // Enqueuing the same effect twice keeps one row.
    outbox::enqueue(&app.state.db, &user_id, None, &submitted(), "n1").await.expect("enqueue");
    assert_eq!(app.drain_outbox().await, 1);

    let sent = app.mock_get("/_mock/messages").await;
    let list = sent.as_array().expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["kind"], "template");
    assert_eq!(list[0]["touser"], user["official_openid"]);
    assert_eq!(list[0]["template_id"], "TPL_SUBMITTED");
    for (key, field) in list[0]["data"].as_object().expect("data") {
        assert!(key != "first" && key != "remark");
        assert!(field.get("color").is_none());
        let value = field["value"].as_str().expect("value");
        assert!(value.chars().count() <= 20 && !value.contains('\n'), "{key}={value}");
    }
    let db = app.state.db.clone();
    eventually("TEMPLATESENDJOBFINISH to mark it delivered", || {
        let db = db.clone();
        async move { outbox::list(&db).await.map(|r| r[0].state == "delivered").unwrap_or(false) }
    })
    .await;
}

#[tokio::test]
async fn a_user_who_blocked_the_account_is_recorded_as_user_blocked() {
    let app = spawn_app().await;
    let (user_id, _) = app.follower(true).await;
    outbox::enqueue(&app.state.db, &user_id, None, &submitted(), "n1").await.expect("enqueue");
    app.drain_outbox().await;
    let db = app.state.db.clone();
    eventually("user_blocked", || {
        let db = db.clone();
        async move { outbox::list(&db).await.map(|r| r[0].state == "user_blocked").unwrap_or(false) }
    })
    .await;
}

#[tokio::test]
async fn a_non_follower_with_consent_gets_a_subscribe_message_and_without_it_is_undeliverable() {
    let app = spawn_app().await;
    let consenting = app.wechat_user(false).await;
    let (_, consenting_id) = app.login(consenting["code"].as_str().expect("code")).await;
    users::record_consent(&app.state.db, &consenting_id, "TPL_SUBMITTED", "accept").await.expect("consent");
    let silent = app.wechat_user(false).await;
    let (_, silent_id) = app.login(silent["code"].as_str().expect("code")).await;

    outbox::enqueue(&app.state.db, &consenting_id, Some("app-1"), &submitted(), "c1").await.expect("enqueue");
    outbox::enqueue(&app.state.db, &silent_id, None, &submitted(), "s1").await.expect("enqueue");
    app.drain_outbox().await;

    let rows = outbox::list(&app.state.db).await.expect("list");
    assert_eq!(rows[0].state, "sent");
    assert_eq!(rows[0].channel.as_deref(), Some("subscribe"));
    assert_eq!(rows[1].state, "undeliverable");
    let sent = app.mock_get("/_mock/messages").await;
    let list = sent.as_array().expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["kind"], "subscribe");
    assert_eq!(list[0]["touser"], consenting["openid"]);
    assert!(list[0]["page"].as_str().expect("page").contains("app-1"));
}

#[tokio::test]
async fn final_errcodes_are_not_retried() {
    let app = spawn_app().await;
    let (user_id, _) = app.follower(false).await;
    app.mock_post(
        "/_mock/faults",
        &json!({"path": "/cgi-bin/message/template/send", "mode": "errcode", "errcode": 43004, "times": 1}),
    )
    .await;
    outbox::enqueue(&app.state.db, &user_id, None, &submitted(), "n1").await.expect("enqueue");
    app.drain_outbox().await;
    outbox::make_all_due(&app.state.db).await.expect("due");
    assert_eq!(app.drain_outbox().await, 0, "nothing left to retry");
    let rows = outbox::list(&app.state.db).await.expect("list");
    assert_eq!(rows[0].state, "failed");
    assert_eq!(rows[0].last_errcode, Some(43004));
    assert_eq!(rows[0].attempts, 1);
}

#[tokio::test]
async fn with_the_platform_down_for_a_while_every_message_arrives_exactly_once_after_it_recovers() {
    let app = spawn_app().await;
    let (user_id, _) = app.follower(false).await;
    for i in 0..5 {
        let n = Notification::Issued { reference: format!("APP{i}"), certificate_number: format!("R37000000{i}") };
        outbox::enqueue(&app.state.db, &user_id, None, &n, &format!("issued-{i}")).await.expect("enqueue");
    }
    // Down for the first eleven calls: every row fails at least twice.
    app.mock_post("/_mock/faults", &json!({"path": "/cgi-bin/message/template/send", "mode": "http_500", "times": 11}))
        .await;
    for _ in 0..5 {
        app.drain_outbox().await;
        outbox::make_all_due(&app.state.db).await.expect("due");
    }
    assert!(states(&app).await.iter().all(|s| s == "sent" || s == "delivered"), "{:?}", states(&app).await);
    let sent = app.mock_get("/_mock/messages").await;
    let mut refs: Vec<String> = sent
        .as_array()
        .expect("list")
        .iter()
        .map(|m| m["data"]["keyword1"]["value"].as_str().expect("v").to_string())
        .collect();
    refs.sort();
    refs.dedup();
    assert_eq!(sent.as_array().expect("list").len(), 5, "each message exactly once");
    assert_eq!(refs.len(), 5);
}

#[tokio::test]
async fn retries_stop_at_the_bound() {
    let app = spawn_app_with(TestOptions {
        configure: Some(Box::new(|s| s.workers.outbox_max_attempts = 3)),
        ..TestOptions::default()
    })
    .await;
    let (user_id, _) = app.follower(false).await;
    app.mock_post(
        "/_mock/faults",
        &json!({"path": "/cgi-bin/message/template/send", "mode": "http_500", "times": 100}),
    )
    .await;
    outbox::enqueue(&app.state.db, &user_id, None, &submitted(), "n1").await.expect("enqueue");
    for _ in 0..5 {
        app.drain_outbox().await;
        outbox::make_all_due(&app.state.db).await.expect("due");
    }
    let rows = outbox::list(&app.state.db).await.expect("list");
    assert_eq!(rows[0].state, "failed");
    assert_eq!(rows[0].attempts, 3);
}

#[tokio::test]
async fn two_workers_draining_at_once_send_each_message_once() {
    let app = spawn_app().await;
    let (user_id, _) = app.follower(false).await;
    for i in 0..12 {
        let n = Notification::Delivered { reference: format!("APP{i}") };
        outbox::enqueue(&app.state.db, &user_id, None, &n, &format!("d-{i}")).await.expect("enqueue");
    }
    let (a, b) = (app.state.outbox_worker(), app.state.outbox_worker());
    let (ra, rb) = tokio::join!(
        async {
            let mut n = 0;
            while let Ok(k) = a.run_once().await {
                if k == 0 {
                    break;
                }
                n += k;
            }
            n
        },
        async {
            let mut n = 0;
            while let Ok(k) = b.run_once().await {
                if k == 0 {
                    break;
                }
                n += k;
            }
            n
        }
    );
    assert_eq!(ra + rb, 12, "every row handled by exactly one worker");
    assert_eq!(app.mock_get("/_mock/messages").await.as_array().expect("list").len(), 12);
}

#[tokio::test]
async fn a_family_no_message_can_reach_gets_one_text_per_event_on_the_claimants_own_phone() {
    let app = spawn_app().await;
    app.stock("R370000560", "R370000561").await;
    let (token, app_id) = app.submitted().await;
    // The family unfollows the account and never accepted the subscribe template.
    let user = app.state.jwt.verify(&token).expect("token").sub;
    let openid =
        users::external_id(&app.state.db, &user, users::OFFICIAL_ACCOUNT).await.expect("read").expect("linked");
    users::unlink_official_account(&app.state.db, &openid).await.expect("unlinked");

    app.drain_outbox().await;
    let texts = app.mock_get("/_mock/sms").await;
    let texts = texts.as_array().expect("list").clone();
    assert_eq!(texts.len(), 1, "{texts:?}");
    // The father applied: his phone, never the mother's.
    assert_eq!(texts[0]["phone"], "13987654321");
    assert_eq!(texts[0]["sign_name"], "平阴出生证");
    assert!(texts[0]["text"].as_str().expect("text").contains("已提交"), "{texts:?}");
    assert!(app.mock_get("/_mock/messages").await.as_array().expect("list").is_empty(), "no template went out");

    app.approve(&app_id, None).await;
    app.drain_outbox().await;
    app.drain_outbox().await;
    let texts = app.mock_get("/_mock/sms").await;
    let texts = texts.as_array().expect("list");
    assert_eq!(texts.len(), 2, "one per event, never twice: {texts:?}");
    assert!(texts[1]["text"].as_str().expect("text").contains("R370000560"));
    assert!(texts.iter().all(|t| t["phone"] == "13987654321"));

    // A text the gateway refuses is not tried again: still at most one per event.
    app.mock_post("/_mock/faults", &json!({"path": "/sms/v1/send", "mode": "http_500", "times": 1})).await;
    let tracking = app.ship(&app_id).await;
    assert!(!tracking.is_empty());
    app.drain_outbox().await;
    app.drain_outbox().await;
    assert_eq!(app.mock_get("/_mock/sms").await.as_array().expect("list").len(), 2);
    let rows = outbox::list(&app.state.db).await.expect("rows");
    assert_eq!(rows.iter().filter(|r| r.state == "failed").count(), 1, "the shipped message failed once, for good");
}
