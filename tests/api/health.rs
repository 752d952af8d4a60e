use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with, TestOptions};

#[tokio::test]
async fn healthz_and_readyz_answer_200_with_a_request_id() {
    let app = spawn_app().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("x-request-id").is_some());

    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["key_value_store"], "ok");
}

#[tokio::test]
async fn readyz_is_503_with_a_reason_when_redis_is_down_and_the_rest_keeps_serving() {
    // Nothing listens on port 1.
    let app =
        spawn_app_with(TestOptions { redis_url: Some("redis://127.0.0.1:1".into()), ..TestOptions::default() }).await;
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["code"], "not_ready");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["key_value_store"], "unavailable");
    assert!(body["reason"].as_str().expect("reason").contains("key-value store"), "{body}");

    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/api/v1/institutions").await.status(), 200);
}

#[tokio::test]
async fn unknown_routes_get_the_json_error_shape() {
    let app = spawn_app().await;
    let res = app.get("/api/v1/nothing-here").await;
    assert_eq!(res.status(), 404);
    let request_id = res.headers().get("x-request-id").expect("header").to_str().expect("ascii").to_string();
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["code"], "not_found");
    assert_eq!(body["request_id"], request_id.as_str());
    assert!(body["message"].is_string());
}

#[tokio::test]
async fn malformed_oversized_and_mistyped_bodies_get_4xx_codes() {
    let app = spawn_app().await;
    let url = app.url("/api/v1/officer/session");

    let res =
        app.client.post(&url).header("content-type", "application/json").body("{not json").send().await.expect("sent");
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.expect("json")["code"], "invalid_json");

    let res = app.client.post(&url).header("content-type", "text/plain").body("{}").send().await.expect("sent");
    assert_eq!(res.status(), 415);
    assert_eq!(res.json::<Value>().await.expect("json")["code"], "unsupported_media_type");

    let huge = format!("{{\"username\":\"{}\",\"password\":\"x\"}}", "a".repeat(200_000));
    let res = app.client.post(&url).header("content-type", "application/json").body(huge).send().await.expect("sent");
    assert_eq!(res.status(), 413);
    assert_eq!(res.json::<Value>().await.expect("json")["code"], "payload_too_large");

    let res = app.post_json("/api/v1/officer/session", &serde_json::json!({"username": "x"})).await;
    assert_eq!(res.status(), 400, "a missing field is malformed input");
}

#[tokio::test]
async fn openapi_document_and_swagger_ui_are_served() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json").await.json().await.expect("json");
    for path in ["/healthz", "/readyz", "/api/v1/institutions", "/api/v1/officer/session", "/api/v1/hospital/session"] {
        assert!(doc["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
    let res = app.get("/docs").await;
    assert!(res.status().is_redirection());
    let res = app.get("/docs/").await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.expect("text").contains("swagger"));
}

#[tokio::test]
async fn metrics_count_requests_and_latency_per_route() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.get("/healthz").await;
    }
    app.get("/api/v1/institutions").await;
    app.get("/no/such/route/12345").await;
    let text = app.get("/metrics").await.text().await.expect("text");
    let healthz_count = text
        .lines()
        .find(|l| l.starts_with("birthcert_http_requests_total") && l.contains("endpoint=\"/healthz\""))
        .unwrap_or_else(|| panic!("no healthz counter in\n{text}"));
    assert!(healthz_count.ends_with(" 3"), "{healthz_count}");
    assert!(text.contains("birthcert_http_requests_duration_seconds_bucket{endpoint=\"/api/v1/institutions\""));
    // Unknown paths are folded into one label.
    assert!(!text.contains("/no/such/route/12345"));
}

#[tokio::test]
async fn the_mock_platform_runs_beside_each_app() {
    let app = spawn_app().await;
    let body: Value = app
        .client
        .get(format!("{}/_mock/health", app.mock.base_url()))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn a_callers_plain_request_id_is_kept_and_anything_else_replaced() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/nope")).header("X-Request-Id", "lb-1234-abcd").send().await.expect("sent");
    assert_eq!(res.headers().get("x-request-id").expect("header"), "lb-1234-abcd");
    assert_eq!(res.json::<Value>().await.expect("json")["request_id"], "lb-1234-abcd");
    let res =
        app.client.get(app.url("/healthz")).header("X-Request-Id", "bad id; drop table").send().await.expect("sent");
    let id = res.headers().get("x-request-id").expect("header").to_str().expect("ascii").to_string();
    assert_ne!(id, "bad id; drop table");
    assert!(uuid::Uuid::parse_str(&id).is_ok());
}
