//! Query parameters as an attacker would send them: every list endpoint, arbitrary values
//! (huge and negative numbers, dates far outside the calendar, text that is not a value at all).
//! Each answer is a 2xx or a 4xx with a stable code — never a 5xx, never a dropped connection.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::spawn_app;

/// One query value: numbers of every size, dates of any year chrono can hold, or odd text.
fn query_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        (-262_143i32..=262_142, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        (1890i32..=2110, 0u32..=13, 0u32..=32).prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}")),
        "\\PC{0,16}",
        Just(String::new()),
        Just("json".to_string()),
        Just("csv".to_string()),
        Just("submitted".to_string()),
        Just("true".to_string()),
    ]
}

fn encode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

#[tokio::test]
async fn every_list_endpoint_answers_arbitrary_query_values_without_a_5xx() {
    let app = spawn_app().await;
    let (applicant, _) = app.new_application().await;
    let officer = app.officer_token("PY-RMYY");
    let hospital = app.hospital_token("PY-RMYY");
    let lists: [(&str, &str, &[&str]); 7] = [
        ("/api/v1/hospital/deliveries", &hospital, &["from", "to"]),
        ("/api/v1/officer/applications", &officer, &["state", "overdue", "page", "per_page"]),
        ("/api/v1/officer/registers/first-issuance", &officer, &["from", "to", "format"]),
        ("/api/v1/officer/registers/online-issuance", &officer, &["from", "to", "format"]),
        ("/api/v1/officer/modification-requests", &officer, &["state"]),
        ("/api/v1/deliveries", &applicant, &["health_card_id"]),
        ("/api/v1/applications", &applicant, &["page"]),
    ];
    let mut runner = TestRunner::deterministic();
    let values = proptest::collection::vec(query_value(), 4);
    let mut answered = 0;
    for case in 0..48 {
        for (path, token, params) in &lists {
            let drawn = values.new_tree(&mut runner).expect("values").current();
            let query: Vec<String> =
                params.iter().zip(&drawn).map(|(name, value)| format!("{name}={}", encode(value))).collect();
            let url = format!("{path}?{}", query.join("&"));
            let res = app.client.request(Method::GET, app.url(&url)).bearer_auth(token).send().await;
            let res = res.unwrap_or_else(|e| panic!("case {case}: {url}: the connection dropped: {e}"));
            let status = res.status().as_u16();
            let body = res.text().await.unwrap_or_else(|e| panic!("case {case}: {url}: body cut off: {e}"));
            assert!(status < 500, "case {case}: {url} answered {status}: {body}");
            if (400..500).contains(&status) {
                let v: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{url}: {status} {body}"));
                assert!(v["code"].is_string(), "{url}: a refusal carries a stable code: {body}");
            }
            answered += 1;
        }
    }
    assert_eq!(answered, 48 * 7);
}

#[tokio::test]
async fn out_of_range_dates_and_pages_are_400_with_their_codes() {
    let app = spawn_app().await;
    let officer = app.officer_token("PY-RMYY");
    let hospital = app.hospital_token("PY-RMYY");
    for (token, url, code) in [
        (&hospital, "/api/v1/hospital/deliveries?to=-262143-01-01", "invalid_date"),
        (&hospital, "/api/v1/hospital/deliveries?from=1899-12-31", "invalid_date"),
        (&officer, "/api/v1/officer/registers/first-issuance?to=-262143-01-01", "invalid_date"),
        (&officer, "/api/v1/officer/registers/online-issuance?from=2101-01-01&to=2101-01-02", "invalid_date"),
        (&hospital, "/api/v1/hospital/deliveries?from=2026-11-03&to=2026-11-02", "invalid_range"),
        (&officer, "/api/v1/officer/applications?page=18446744073709551615", "invalid_page"),
        (&officer, "/api/v1/officer/applications?page=0", "invalid_page"),
        (&officer, "/api/v1/officer/applications?per_page=201", "invalid_page"),
        (&officer, "/api/v1/officer/applications?page=-1", "invalid_query"),
    ] {
        let (status, body) = app.send(Method::GET, url, token, None).await;
        assert_eq!((status, body["code"].as_str()), (400, Some(code)), "{url}: {body}");
    }
    let (status, _) =
        app.send(Method::GET, "/api/v1/officer/applications?page=1000000&per_page=200", &officer, None).await;
    assert_eq!(status, 200, "the last page allowed is an empty page, not an error");
}
