//! The platform client against the mock: one token refresher across instances, refresh and
//! retry on token errors, backoff on "system busy", typed errors, face verification.

use std::sync::Arc;

use birthcert::clients::wechat::{cert_hash, ErrKind, TemplateMessage, WechatClient, WechatError};
use birthcert::kv::{KvStore, MemoryKv, RedisKv};
use serde_json::{json, Map};

use crate::helpers::spawn_app;

/// Two "instances": separate clients and, on Redis, separate connections to one shared store.
fn two_instances(app: &crate::helpers::TestApp) -> (Arc<WechatClient>, Arc<WechatClient>) {
    let settings = app.state.settings.as_ref().clone();
    let (a, b): (Arc<dyn KvStore>, Arc<dyn KvStore>) = match std::env::var("TEST_REDIS_URL") {
        Ok(url) => {
            let prefix = format!("t:{}:", uuid::Uuid::new_v4().simple());
            (
                Arc::new(RedisKv::new(&url, &prefix).expect("redis")),
                Arc::new(RedisKv::new(&url, &prefix).expect("redis")),
            )
        }
        Err(_) => {
            let shared: Arc<dyn KvStore> = Arc::new(MemoryKv::new());
            (shared.clone(), shared)
        }
    };
    (
        Arc::new(WechatClient::new(&settings, a).expect("client")),
        Arc::new(WechatClient::new(&settings, b).expect("client")),
    )
}

fn message(touser: &str, n: usize) -> TemplateMessage {
    let mut data = Map::new();
    data.insert("keyword1".into(), json!({"value": format!("第{n}条")}));
    TemplateMessage {
        touser: touser.into(),
        template_id: "TPL_SUBMITTED".into(),
        miniprogram: None,
        client_msg_id: format!("t{n}"),
        data,
    }
}

async fn stable_fetches(app: &crate::helpers::TestApp) -> u64 {
    app.mock_get("/_mock/stats").await["stable_token_fetches"].as_u64().expect("count")
}

async fn send_concurrently(a: &Arc<WechatClient>, b: &Arc<WechatClient>, touser: &str, offset: usize) {
    let mut tasks = Vec::new();
    for i in 0..50 {
        let client = if i % 2 == 0 { a.clone() } else { b.clone() };
        let touser = touser.to_string();
        tasks.push(tokio::spawn(async move { client.send_template(&message(&touser, offset + i)).await }));
    }
    for t in tasks {
        t.await.expect("task").expect("every send succeeds");
    }
}

#[tokio::test]
async fn fifty_concurrent_sends_on_two_instances_fetch_one_token() {
    let app = spawn_app().await;
    let user = app.wechat_user(true).await;
    let touser = user["official_openid"].as_str().expect("openid").to_string();
    let (a, b) = two_instances(&app);

    send_concurrently(&a, &b, &touser, 0).await;
    assert_eq!(stable_fetches(&app).await, 1, "one refresher across both instances");

    // The platform expires the token while both instances still hold it: every send gets
    // 40001, only the first compare-and-expire removes it, one refresh follows.
    app.mock_post("/_mock/tokens/expire", &json!({})).await;
    send_concurrently(&a, &b, &touser, 100).await;
    assert_eq!(stable_fetches(&app).await, 2, "exactly one refresh after the platform expired the token");
    let sent = app.mock_get("/_mock/messages").await;
    assert_eq!(sent.as_array().expect("list").len(), 100);
}

#[tokio::test]
async fn a_forced_40001_refreshes_once_retries_once_and_succeeds() {
    let app = spawn_app().await;
    let user = app.wechat_user(true).await;
    let touser = user["official_openid"].as_str().expect("openid");
    app.state.wechat.send_template(&message(touser, 1)).await.expect("first send");
    assert_eq!(stable_fetches(&app).await, 1);

    app.mock_post(
        "/_mock/faults",
        &json!({"path": "/cgi-bin/message/template/send", "mode": "errcode", "errcode": 40001, "times": 1}),
    )
    .await;
    let msgid = app.state.wechat.send_template(&message(touser, 2)).await.expect("retried and succeeded");
    assert!(!msgid.is_empty());
    assert_eq!(stable_fetches(&app).await, 2, "one refresh");
    assert_eq!(app.mock_get("/_mock/messages").await.as_array().expect("list").len(), 2);

    // Twice in a row: one retry only, then the error surfaces.
    app.mock_post(
        "/_mock/faults",
        &json!({"path": "/cgi-bin/message/template/send", "mode": "errcode", "errcode": 42001, "times": 2}),
    )
    .await;
    let err = app.state.wechat.send_template(&message(touser, 3)).await.expect_err("second token error surfaces");
    assert_eq!(err.kind(), Some(ErrKind::TokenExpired));
}

#[tokio::test]
async fn system_busy_is_retried_with_backoff_and_other_errors_are_typed() {
    let app = spawn_app().await;
    let user = app.wechat_user(true).await;
    let touser = user["official_openid"].as_str().expect("openid");
    app.mock_post(
        "/_mock/faults",
        &json!({"path": "/cgi-bin/message/template/send", "mode": "errcode", "errcode": -1, "times": 2}),
    )
    .await;
    app.state.wechat.send_template(&message(touser, 1)).await.expect("succeeds on the third try");

    let err = app.state.wechat.user_info("o_nobody").await.expect_err("unknown openid");
    assert_eq!(err.kind(), Some(ErrKind::InvalidOpenId));
    assert_eq!(err.errcode(), Some(40003));

    let stranger = app.wechat_user(false).await;
    let err = app
        .state
        .wechat
        .send_template(&message(stranger["official_openid"].as_str().expect("o"), 2))
        .await
        .expect_err("not following");
    assert_eq!(err.kind(), Some(ErrKind::RequireSubscribe));

    app.mock_post("/_mock/faults", &json!({"path": "/cgi-bin/user/info", "mode": "http_500", "times": 1})).await;
    assert!(matches!(app.state.wechat.user_info(touser).await, Err(WechatError::Status(500))));
}

#[tokio::test]
async fn every_call_has_a_timeout() {
    let app = spawn_app().await;
    app.mock_post("/_mock/faults", &json!({"path": "/cgi-bin/user/info", "mode": "timeout", "times": 1})).await;
    let started = std::time::Instant::now();
    let result = app.state.wechat.user_info("o_any").await;
    assert!(matches!(result, Err(WechatError::Timeout)), "{result:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test]
async fn the_plain_token_endpoint_works_by_configuration() {
    let app = crate::helpers::spawn_app_with(crate::helpers::TestOptions {
        configure: Some(Box::new(|s| s.wechat.token_endpoint = birthcert::config::TokenEndpoint::Token)),
        ..Default::default()
    })
    .await;
    let user = app.wechat_user(true).await;
    let info = app.state.wechat.user_info(user["official_openid"].as_str().expect("o")).await.expect("user info");
    assert_eq!(info.subscribe, 1);
    assert_eq!(info.unionid.as_deref(), user["unionid"].as_str());
    let stats = app.mock_get("/_mock/stats").await;
    assert_eq!(stats["token_fetches"], 1);
    assert_eq!(stats["stable_token_fetches"], 0);
}

#[tokio::test]
async fn face_verification_passes_only_with_verify_ret_10000_and_the_right_cert_hash() {
    let app = spawn_app().await;
    let user = app.wechat_user(false).await;
    let openid = user["openid"].as_str().expect("openid");
    let (name, cert_no) = ("李梅", "37012419900101002X");
    let id = app.state.wechat.face_get_verify_id("seq_00001", name, cert_no, openid).await.expect("verify id");
    assert!(id.expires_in > 0);
    let result = app
        .state
        .wechat
        .face_query(&id.verify_id, "seq_00001", &cert_hash("IDENTITY_CARD", name, cert_no), openid)
        .await
        .expect("query");
    assert!(result.passed());

    // A cert_hash for another person is refused by the platform.
    let wrong = app
        .state
        .wechat
        .face_query(&id.verify_id, "seq_00001", &cert_hash("IDENTITY_CARD", "王强", cert_no), openid)
        .await;
    assert!(wrong.is_err());

    app.mock_post("/_mock/face", &json!({"cert_no": "37012419900101003X", "outcome": "fail"})).await;
    let id = app
        .state
        .wechat
        .face_get_verify_id("seq_00002", "张三", "37012419900101003X", openid)
        .await
        .expect("verify id");
    let result = app
        .state
        .wechat
        .face_query(&id.verify_id, "seq_00002", &cert_hash("IDENTITY_CARD", "张三", "37012419900101003X"), openid)
        .await
        .expect("query");
    assert!(!result.passed());
}
