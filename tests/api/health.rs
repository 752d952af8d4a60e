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

    // Bodies are read as sent: a compressed one (here gzip of a well-formed sign-in) is not
    // expanded, so nothing can make the service inflate a bomb; it is refused as malformed JSON.
    let gzipped_sign_in: Vec<u8> = vec![
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xab, 0x56, 0x2a, 0x2d, 0x4e, 0x2d, 0xca, 0x4b,
        0xcc, 0x4d, 0x55, 0xb2, 0x52, 0xaa, 0x50, 0xd2, 0x51, 0x2a, 0x48, 0x2c, 0x2e, 0x2e, 0xcf, 0x2f, 0x4a, 0x01,
        0x72, 0x2b, 0x95, 0x6a, 0x01, 0xdd, 0x8a, 0x0f, 0x0d, 0x1f, 0x00, 0x00, 0x00,
    ];
    let res = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gzipped_sign_in)
        .send()
        .await
        .expect("sent");
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
    // Every method and path of the HTTP contract (API.md) is in the document.
    let contract = [
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/api/v1/institutions"),
        ("get", "/wechat/callback"),
        ("post", "/wechat/callback"),
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/health-cards"),
        ("get", "/api/v1/health-cards"),
        ("get", "/api/v1/deliveries"),
        ("post", "/api/v1/applications"),
        ("get", "/api/v1/applications"),
        ("get", "/api/v1/applications/{id}"),
        ("put", "/api/v1/applications/{id}/parents"),
        ("post", "/api/v1/applications/{id}/identity/{role}/face-sessions"),
        ("post", "/api/v1/applications/{id}/identity/{role}/face-result"),
        ("put", "/api/v1/applications/{id}/identity/father/handheld-photo"),
        ("put", "/api/v1/applications/{id}/documents/{kind}"),
        ("get", "/api/v1/applications/{id}/registration-form"),
        ("post", "/api/v1/applications/{id}/modification-requests"),
        ("post", "/api/v1/applications/{id}/confirmation"),
        ("put", "/api/v1/applications/{id}/signature"),
        ("put", "/api/v1/applications/{id}/delivery-address"),
        ("post", "/api/v1/applications/{id}/payment"),
        ("post", "/api/v1/applications/{id}/resubmission"),
        ("post", "/api/v1/applications/{id}/subscriptions"),
        ("post", "/api/v1/applications/{id}/withdrawal"),
        ("post", "/api/v1/hospital/session"),
        ("post", "/api/v1/hospital/deliveries"),
        ("put", "/api/v1/hospital/deliveries/{id}"),
        ("get", "/api/v1/hospital/deliveries"),
        ("post", "/api/v1/officer/session"),
        ("get", "/api/v1/officer/applications"),
        ("get", "/api/v1/officer/applications/{id}"),
        ("get", "/api/v1/officer/applications/{id}/documents/{kind}"),
        ("post", "/api/v1/officer/applications/{id}/return"),
        ("post", "/api/v1/officer/applications/{id}/approval"),
        ("get", "/api/v1/officer/applications/{id}/registration-form.pdf"),
        ("post", "/api/v1/officer/applications/{id}/shipment"),
        ("get", "/api/v1/officer/modification-requests"),
        ("post", "/api/v1/officer/modification-requests/{id}/decision"),
        ("post", "/api/v1/officer/certificates/{number}/loss"),
        ("post", "/api/v1/officer/certificates/{number}/void"),
        ("post", "/api/v1/officer/certificates/{number}/recovery"),
        ("post", "/api/v1/officer/certificate-stock"),
        ("post", "/api/v1/officer/certificate-stock/{number}/waste"),
        ("get", "/api/v1/officer/registers/first-issuance"),
        ("get", "/api/v1/officer/registers/online-issuance"),
        ("get", "/api/v1/officer/stats"),
        ("post", "/api/v1/payments/notify"),
        ("post", "/api/v1/courier/events"),
        // Additions: uploads by POST, referral, printing, seal, archive, consents, errors.
        ("post", "/api/v1/applications/{id}/documents/{kind}"),
        ("post", "/api/v1/applications/{id}/identity/father/handheld-photo"),
        ("post", "/api/v1/applications/{id}/signature"),
        ("post", "/api/v1/officer/applications/{id}/referral"),
        ("get", "/api/v1/officer/certificates/{number}/print.pdf"),
        ("post", "/api/v1/officer/certificates/{number}/seal"),
        ("get", "/api/v1/officer/applications/{id}/archive.zip"),
        ("get", "/api/v1/consents/current"),
        ("post", "/api/v1/consents"),
        ("get", "/api/v1/error-codes"),
    ];
    let missing: Vec<String> = contract
        .iter()
        .filter(|(method, path)| !doc["paths"][*path][*method].is_object())
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert!(missing.is_empty(), "missing from the OpenAPI document: {missing:?}");

    // What a client generator needs: uploads as multipart with a `file` part, every error
    // answer typed as ErrorBody with `code` an enum, the Idempotency-Key header.
    let upload = &doc["paths"]["/api/v1/applications/{id}/documents/{kind}"]["post"];
    let form = &upload["requestBody"]["content"]["multipart/form-data"]["schema"];
    assert!(!form.is_null(), "{upload}");
    let form = match form["$ref"].as_str() {
        Some(r) => doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")].clone(),
        None => form.clone(),
    };
    assert_eq!(form["properties"]["file"]["format"], "binary", "{form}");
    let mut errors = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            for (status, response) in op["responses"].as_object().into_iter().flatten() {
                // Readiness answers its own body, naming the dependency that failed.
                if (status.starts_with('4') || status.starts_with('5')) && path != "/readyz" {
                    let schema = &response["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(schema, "#/components/schemas/ErrorBody", "{method} {path} {status}");
                    errors += 1;
                }
            }
        }
    }
    assert!(errors > 100, "{errors}");
    let mut ids: Vec<&str> = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_object().expect("item").values().filter_map(|op| op["operationId"].as_str()))
        .collect();
    let all = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all, "operation ids are unique (client generators name methods by them)");
    let codes = doc["components"]["schemas"]["ErrorBody"]["properties"]["code"]["enum"].as_array().expect("enum");
    assert!(codes.contains(&Value::from("wrong_state")) && codes.contains(&Value::from("consent_required")));
    let states =
        doc["components"]["schemas"]["ApplicationView"]["properties"]["state"]["enum"].as_array().expect("enum");
    assert!(states.contains(&Value::from("submitted")) && states.contains(&Value::from("referred")));
    let create = &doc["paths"]["/api/v1/applications"]["post"]["parameters"];
    assert!(create.as_array().into_iter().flatten().any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"));
    let res = app.get("/docs").await;
    assert!(res.status().is_redirection());
    // A path parameter is in its path's template (one read by hand from the query string once
    // came out as a path parameter, which validators and generated clients refuse).
    for (path, operations) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            for p in operation["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "path" {
                    let name = p["name"].as_str().expect("name");
                    assert!(path.contains(&format!("{{{name}}}")), "{method} {path}: path parameter {name}");
                }
            }
        }
    }
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
    assert!(text.contains("endpoint=\"UNMATCHED\",method=\"GET\",status=\"404\"} 1"), "{text}");
}

#[tokio::test]
async fn metrics_count_the_requests_every_worker_served() {
    let app = spawn_app_with(TestOptions {
        configure: Some(Box::new(|settings| settings.server.workers = 2)),
        ..TestOptions::default()
    })
    .await;
    // A new connection for each request: the server hands connections to its workers in turn.
    for _ in 0..8 {
        let client = reqwest::Client::new();
        let res = client.get(app.url("/healthz")).send().await.expect("sent");
        assert_eq!(res.status(), 200);
    }
    let text = app.get("/metrics").await.text().await.expect("text");
    let line = |prefix: &str| {
        let mut found = text.lines().filter(|l| l.starts_with(prefix) && l.contains(r#"endpoint="/healthz""#));
        let line = found.next().unwrap_or_else(|| panic!("no {prefix} for /healthz in\n{text}"));
        assert!(found.next().is_none(), "one series per label set:\n{text}");
        line.to_string()
    };
    assert!(line("birthcert_http_requests_total{").ends_with(" 8"), "{text}");
    assert!(line("birthcert_http_requests_duration_seconds_count{").ends_with(" 8"), "{text}");
}

#[tokio::test]
async fn metrics_label_routes_by_pattern_and_any_odd_method_as_one() {
    let app = spawn_app().await;
    let (token, app_id) = app.new_application().await;
    let officer = app.officer_token("PY-RMYY");
    // Two cases' pages: one series for the route, whatever the id.
    for id in [app_id.as_str(), "01a23be3-9187-7598-a8ac-388948326c30"] {
        app.client.get(app.url(&format!("/api/v1/applications/{id}"))).bearer_auth(&token).send().await.expect("sent");
    }
    app.client
        .get(app.url(&format!("/api/v1/officer/applications/{app_id}")))
        .bearer_auth(&officer)
        .send()
        .await
        .expect("sent");
    // The same fixed route answering differently is counted apart; made-up methods share a label.
    for method in ["BREW", "PROPFIND", "X-SCAN"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        app.client.request(method, app.url("/healthz")).send().await.expect("sent");
    }
    app.get("/healthz").await;
    let text = app.get("/metrics").await.text().await.expect("text");
    let count = |labels: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("birthcert_http_requests_total{{{labels}}}")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    assert_eq!(count(r#"endpoint="/api/v1/applications/{id}",method="GET",status="200""#), Some(1), "{text}");
    assert_eq!(count(r#"endpoint="/api/v1/applications/{id}",method="GET",status="404""#), Some(1), "{text}");
    assert_eq!(count(r#"endpoint="/api/v1/officer/applications/{id}",method="GET",status="200""#), Some(1), "{text}");
    assert!(!text.contains(&app_id), "no id becomes a label");
    assert_eq!(count(r#"endpoint="/healthz",method="GET",status="200""#), Some(1), "{text}");
    let odd: u64 = text
        .lines()
        .filter(|l| l.starts_with("birthcert_http_requests_total") && l.contains(r#"method="OTHER""#))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(odd, 3, "{text}");
    assert!(!text.contains("BREW") && !text.contains("PROPFIND"), "{text}");
    assert_eq!(app.get("/metrics").await.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
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
    let long = "a".repeat(65);
    let res = app.client.get(app.url("/healthz")).header("X-Request-Id", &long).send().await.expect("sent");
    let id = res.headers().get("x-request-id").expect("header").to_str().expect("ascii").to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "a 65-character id is replaced: {id}");
}

#[tokio::test]
async fn a_worker_that_dies_stops_the_service() {
    let mock =
        mock_wechat::MockServer::start("127.0.0.1", 0, mock_wechat::MockSettings::default()).await.expect("mock");
    let database = crate::helpers::TestDatabase::create().await;
    let mut settings =
        birthcert::config::Settings::load_from(&crate::helpers::config_dir(), birthcert::config::Environment::Test)
            .expect("settings");
    settings.database.url = secrecy::SecretString::from(database.url.clone());
    settings.wechat.api_base_url = Some(mock.base_url());
    settings.blobs.dir = database.dir.path().join("blobs");
    let mut app = birthcert::startup::Application::build(settings).await.expect("builds");
    let address = format!("http://127.0.0.1:{}/healthz", app.port());
    app.supervise("doomed", tokio::spawn(async { panic!("a bug in a worker") }));
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), app.run_until_stopped()).await;
    let result = ended.expect("the service stopped by itself");
    let error = result.expect_err("and said why");
    assert!(error.to_string().contains("doomed"), "{error}");
    assert!(reqwest::get(&address).await.is_err(), "nothing listens any more");
}

/// The value of one sample line of the Prometheus text, by its name and labels.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

#[tokio::test]
async fn metrics_carry_the_business_gauges_an_operator_alerts_on() {
    let app = spawn_app().await;
    app.stock("R370000700", "R370000709").await;
    let (_token, late) = app.submitted().await;
    let (_token, issued) = app.submitted().await;
    app.approve(&issued, None).await;
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    app.set_column("applications", "review_due_at", past, &format!("id = '{late}'")).await;
    app.state.gauges.refresh(&app.state.db).await.expect("refreshed");
    let text = app.get("/metrics").await.text().await.expect("text");
    // Two "submitted" and one "issued" message wait (the worker is off in tests).
    assert_eq!(sample(&text, "birthcert_outbox_pending"), 3.0);
    assert!(sample(&text, "birthcert_outbox_oldest_pending_age_seconds") >= 0.0);
    assert_eq!(sample(&text, "birthcert_reviews_overdue"), 1.0);
    assert_eq!(sample(&text, "birthcert_blank_stock{institution=\"PY-RMYY\"}"), 9.0);
    assert_eq!(sample(&text, "birthcert_province_reports_pending"), 1.0);
    assert_eq!(sample(&text, "birthcert_province_last_report_timestamp_seconds"), 0.0, "never reported yet");

    app.drain_outbox().await;
    app.drain_province().await;
    app.state.gauges.refresh(&app.state.db).await.expect("refreshed");
    let text = app.get("/metrics").await.text().await.expect("text");
    assert_eq!(sample(&text, "birthcert_outbox_pending"), 0.0);
    assert_eq!(sample(&text, "birthcert_outbox_oldest_pending_age_seconds"), 0.0);
    assert_eq!(sample(&text, "birthcert_province_reports_pending"), 0.0);
    let last = sample(&text, "birthcert_province_last_report_timestamp_seconds");
    assert!((last - chrono::Utc::now().timestamp() as f64).abs() < 60.0, "{last}");
}

#[tokio::test]
async fn each_request_leaves_one_access_line_by_route_without_its_query() {
    let app = spawn_app().await;
    let secret = format!("query-secret-{}", uuid::Uuid::new_v4().simple());
    let res = app.get(&format!("/api/v1/institutions?access_token={secret}")).await;
    let request_id = res.headers()["x-request-id"].to_str().expect("id").to_string();
    let log = crate::helpers::logged();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(&request_id) && l.contains("access")).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    for field in ["method=GET", "route=/api/v1/institutions", "status=200", "duration_ms="] {
        assert!(lines[0].contains(field), "{field} in {}", lines[0]);
    }
    assert!(!log.contains(&secret), "a query string is never logged");
    // A route with a parameter is logged by its template (twice: the second from the metrics'
    // label handles), a path no route has as UNMATCHED.
    let case = "01a23be3-9187-7598-a8ac-388948326c30";
    for (path, route) in [
        (format!("/api/v1/officer/applications/{case}"), "route=/api/v1/officer/applications/{id}"),
        (format!("/api/v1/officer/applications/{case}"), "route=/api/v1/officer/applications/{id}"),
        ("/no/such/route".to_string(), "route=UNMATCHED"),
        ("/healthz".to_string(), "route=/healthz"),
        ("/healthz".to_string(), "route=/healthz"),
    ] {
        let res = app.get(&path).await;
        let request_id = res.headers()["x-request-id"].to_str().expect("id").to_string();
        let log = crate::helpers::logged();
        let line = log.lines().find(|l| l.contains(&request_id) && l.contains("access")).expect("an access line");
        assert!(line.contains(route), "{route} in {line}");
        assert!(!line.contains(case), "no id in {line}");
    }
}

#[tokio::test]
async fn the_error_catalogue_names_the_codes_the_api_answers() {
    let app = spawn_app().await;
    let catalogue: Value = app.get("/api/v1/error-codes").await.json().await.expect("json");
    let entries = catalogue.as_array().expect("a list");
    let refused = app.get("/api/v1/applications").await;
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.expect("json");
    let entry = entries.iter().find(|e| e["code"] == body["code"]).expect("the code answered is catalogued");
    assert!(entry["statuses"].as_array().expect("statuses").contains(&Value::from(401)));
    assert!(!entry["message_zh"].as_str().unwrap_or_default().is_empty());
}
