//! The mock behaves like the platform where the service's correctness depends on it.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestOptions};

async fn post(client: &reqwest::Client, url: String, body: Value) -> Value {
    client.post(url).json(&body).send().await.expect("sent").json().await.expect("json")
}

#[tokio::test]
async fn stable_tokens_hold_inside_their_window_and_plain_tokens_replace_each_other() {
    let app = spawn_app_with(TestOptions {
        mock: mock_wechat::MockSettings { token_grace: Duration::from_millis(0), ..Default::default() },
        ..TestOptions::default()
    })
    .await;
    let s = app.mock.settings().clone();
    let base = app.mock.base_url();
    let c = &app.client;
    let body =
        json!({"grant_type": "client_credential", "appid": s.app_id, "secret": s.app_secret, "force_refresh": false});
    let a = post(c, format!("{base}/cgi-bin/stable_token"), body.clone()).await;
    let b = post(c, format!("{base}/cgi-bin/stable_token"), body).await;
    assert_eq!(a["access_token"], b["access_token"]);

    let get_token = || async {
        c.get(format!("{base}/cgi-bin/token"))
            .query(&[
                ("grant_type", "client_credential"),
                ("appid", s.app_id.as_str()),
                ("secret", s.app_secret.as_str()),
            ])
            .send()
            .await
            .expect("sent")
            .json::<Value>()
            .await
            .expect("json")["access_token"]
            .as_str()
            .expect("token")
            .to_string()
    };
    let first = get_token().await;
    let second = get_token().await;
    assert_ne!(first, second);
    let user = app.wechat_user(true).await;
    let info = |token: String| {
        let openid = user["official_openid"].as_str().expect("o").to_string();
        let base = base.clone();
        async move {
            c.get(format!("{base}/cgi-bin/user/info"))
                .query(&[("access_token", token.as_str()), ("openid", openid.as_str())])
                .send()
                .await
                .expect("sent")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    assert_eq!(info(first).await["errcode"], 40001, "the older token is invalid after the grace period");
    assert_eq!(info(second).await["subscribe"], 1);

    let wrong = post(
        c,
        format!("{base}/cgi-bin/stable_token"),
        json!({"grant_type": "client_credential", "appid": s.app_id, "secret": "nope"}),
    )
    .await;
    assert_eq!(wrong["errcode"], 40125);
}

#[tokio::test]
async fn login_codes_are_single_use_and_rate_limited() {
    let app = spawn_app_with(TestOptions::default()).await;
    let user = app.wechat_user(false).await;
    let s = app.mock.settings().clone();
    let exchange = |code: String| {
        let c = app.client.clone();
        let url = format!("{}/sns/jscode2session", app.mock.base_url());
        let s = s.clone();
        async move {
            c.get(url)
                .query(&[
                    ("appid", s.mini_program_app_id.as_str()),
                    ("secret", s.mini_program_app_secret.as_str()),
                    ("js_code", code.as_str()),
                    ("grant_type", "authorization_code"),
                ])
                .send()
                .await
                .expect("sent")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    let code = user["code"].as_str().expect("code").to_string();
    assert!(exchange(code.clone()).await["session_key"].is_string());
    assert_eq!(exchange(code).await["errcode"], 40163);
    let mut last = Value::Null;
    for _ in 0..100 {
        let next = app.mock_post("/_mock/users", &json!({"openid": user["openid"]})).await;
        last = exchange(next["code"].as_str().expect("code").to_string()).await;
    }
    assert_eq!(last["errcode"], 45011, "more than 100 logins a minute");
}

#[tokio::test]
async fn template_quota_gives_45009() {
    let app = spawn_app_with(TestOptions {
        mock: mock_wechat::MockSettings { template_daily_quota: 1, ..Default::default() },
        ..TestOptions::default()
    })
    .await;
    let user = app.wechat_user(true).await;
    let msg = |n: &str| birthcert::clients::wechat::TemplateMessage {
        touser: user["official_openid"].as_str().expect("o").into(),
        template_id: "T".into(),
        miniprogram: None,
        client_msg_id: n.into(),
        data: serde_json::Map::new(),
    };
    app.state.wechat.send_template(&msg("a")).await.expect("first");
    let err = app.state.wechat.send_template(&msg("b")).await.expect_err("quota");
    assert_eq!(err.errcode(), Some(45009));
}

#[tokio::test]
async fn callbacks_are_retried_three_times_on_timeout() {
    let app = spawn_app_with(TestOptions {
        mock: mock_wechat::MockSettings { callback_timeout: Duration::from_millis(200), ..Default::default() },
        ..TestOptions::default()
    })
    .await;
    // A service that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    app.mock.set_service_url(&format!("http://{}", silent.local_addr().expect("addr")));
    let answer = app.wechat_callback("<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>x</Content><MsgId>1</MsgId></xml>", false).await;
    assert_eq!(answer["attempts"].as_array().expect("attempts").len(), 4, "{answer}");
    assert!(answer["status"].is_null());
}

/// wechatpy's client posts JSON with no `Content-Type`; WeChat reads it anyway, and so must the
/// mock, or template sends, faults and token expiry cannot be exercised with real SDKs.
#[tokio::test]
async fn json_apis_read_a_body_sent_without_a_content_type() {
    let app = crate::helpers::spawn_app().await;
    let s = app.mock.settings().clone();
    let base = app.mock.base_url();
    let raw = |path: String, body: Value| {
        let bytes = serde_json::to_vec(&body).expect("json");
        let req = app.client.post(path).body(bytes);
        async move {
            let res = req.send().await.expect("sent");
            assert_eq!(res.status(), 200, "a body without Content-Type is read as JSON");
            res.json::<Value>().await.expect("json answer")
        }
    };
    let token = raw(
        format!("{base}/cgi-bin/stable_token"),
        json!({"grant_type": "client_credential", "appid": s.app_id, "secret": s.app_secret}),
    )
    .await;
    let access_token = token["access_token"].as_str().expect("a token").to_string();
    let user = app.wechat_user(true).await;
    let message = json!({
        "touser": user["official_openid"], "template_id": "TPL_SUBMITTED",
        "data": {"keyword1": {"value": "出生医学证明"}}
    });
    let sent = raw(format!("{base}/cgi-bin/message/template/send?access_token={access_token}"), message).await;
    assert_eq!(sent["errcode"], 0, "{sent}");
    assert!(sent["msgid"].is_number() || sent["msgid"].is_string(), "{sent}");
    let faulted = raw(
        format!("{base}/_mock/faults"),
        json!({"path": "/cgi-bin/message/template/send", "mode": "errcode", "errcode": 45009, "times": 1}),
    )
    .await;
    assert_eq!(faulted["ok"], true);
}
