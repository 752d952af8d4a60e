use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn login_exchanges_a_code_for_a_token_and_keeps_the_session_key_server_side() {
    let app = spawn_app().await;
    let user = app.wechat_user(false).await;
    let code = user["code"].as_str().expect("code");
    let res = app.post_json("/api/v1/auth/login", &json!({"code": code})).await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.expect("text");
    assert!(!text.contains("session_key"), "{text}");
    let body: Value = serde_json::from_str(&text).expect("json");
    let claims = app.state.jwt.verify(body["token"].as_str().expect("token")).expect("valid");
    assert_eq!(claims.role, birthcert::auth::Role::Applicant);
    assert!(body["expires_in"].as_u64().expect("ttl") > 0);
    let stored = app.state.kv.get(&format!("session_key:{}", claims.sub)).await.expect("kv");
    assert!(stored.is_some_and(|k| k.len() >= 16));

    // The code is single use.
    let again = app.post_json("/api/v1/auth/login", &json!({"code": code})).await;
    assert_eq!(again.status(), 401);
    assert_eq!(again.json::<Value>().await.expect("json")["code"], "invalid_login_code");

    // Signing in again with a new code finds the same user.
    let next = app.mock_post("/_mock/users", &json!({"openid": user["openid"]})).await;
    let (_, user_id) = app.login(next["code"].as_str().expect("code")).await;
    assert_eq!(user_id, claims.sub);
}

#[tokio::test]
async fn unknown_codes_rate_limits_and_platform_outages_map_to_stable_codes() {
    let app = spawn_app().await;
    let res = app.post_json("/api/v1/auth/login", &json!({"code": "made-up"})).await;
    assert_eq!(res.status(), 401);

    let res = app.post_json("/api/v1/auth/login", &json!({"code": ""})).await;
    assert_eq!(res.status(), 400);

    app.mock_post(
        "/_mock/faults",
        &json!({"path": "/sns/jscode2session", "mode": "errcode", "errcode": 45011, "times": 1}),
    )
    .await;
    let user = app.wechat_user(false).await;
    let res = app.post_json("/api/v1/auth/login", &json!({"code": user["code"]})).await;
    assert_eq!(res.status(), 429);

    app.mock_post("/_mock/faults", &json!({"path": "/sns/jscode2session", "mode": "http_500", "times": 1})).await;
    let user = app.wechat_user(false).await;
    let res = app.post_json("/api/v1/auth/login", &json!({"code": user["code"]})).await;
    assert_eq!(res.status(), 502);
    assert_eq!(res.json::<Value>().await.expect("json")["code"], "upstream_unavailable");
}

#[tokio::test]
async fn repeated_logins_of_one_user_are_rate_limited() {
    let app = spawn_app().await;
    let user = app.wechat_user(false).await;
    let mut last = 0;
    for _ in 0..21 {
        let next = app.mock_post("/_mock/users", &json!({"openid": user["openid"]})).await;
        last = app.post_json("/api/v1/auth/login", &json!({"code": next["code"]})).await.status().as_u16();
    }
    assert_eq!(last, 429);
    // Another user is not affected.
    let other = app.wechat_user(false).await;
    assert_eq!(app.post_json("/api/v1/auth/login", &json!({"code": other["code"]})).await.status(), 200);
}
