//! Provincial reporting: every delivery record, issued certificate and void reaches the
//! provincial system (the mock plays it) once, through a queue written with the change; a
//! province that fails is tried again, a resend is kept once, a refusal waits for a person.

use serde_json::{json, Value};

use crate::helpers::{id, spawn_app, TestApp};

const GET: reqwest::Method = reqwest::Method::GET;
const POST: reqwest::Method = reqwest::Method::POST;
const PUT: reqwest::Method = reqwest::Method::PUT;

async fn reports(app: &TestApp) -> Vec<Value> {
    app.mock_get("/_mock/province/reports").await.as_array().cloned().expect("a list")
}

async fn detail(app: &TestApp, app_id: &str) -> Value {
    let path = format!("/api/v1/officer/applications/{app_id}");
    let (status, body) = app.send(GET, &path, &app.officer_token("PY-RMYY"), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn delivery(weight_g: u32) -> Value {
    json!({
        "mother_name": "王丽", "mother_id_type": "resident_id", "mother_id_number": id("37012419960101002"),
        "baby_sex": "male", "birth_at": (chrono::Utc::now() - chrono::Duration::hours(3)).to_rfc3339(),
        "birth_place": "平阴县中医医院", "gestational_weeks": 38, "weight_g": weight_g, "length_cm": 51,
        "health_status": "good", "midwife_name": "赵敏"
    })
}

#[tokio::test]
async fn a_delivery_record_is_reported_with_its_corrections() {
    let app = spawn_app().await;
    let hospital = app.hospital_token("PY-ZYY");
    let (status, created) = app.send(POST, "/api/v1/hospital/deliveries", &hospital, Some(delivery(3400))).await;
    assert_eq!(status, 201, "{created}");
    let record = created["id"].as_str().expect("id").to_string();
    let path = format!("/api/v1/hospital/deliveries/{record}");
    // Corrected before it was sent: the one report carries the correction.
    assert_eq!(app.send(PUT, &path, &hospital, Some(delivery(3450))).await.0, 204);
    assert!(reports(&app).await.is_empty(), "nothing leaves before the worker sends it");
    assert_eq!(app.drain_province().await, 1);
    let sent = reports(&app).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["kind"], "delivery");
    assert_eq!(sent[0]["institution_code"], "PY-ZYY");
    assert_eq!(sent[0]["data"]["record_id"], record.as_str());
    assert_eq!(sent[0]["data"]["weight_g"], 3450);
    assert_eq!(sent[0]["data"]["mother_id_number"], id("37012419960101002"), "the province gets the full number");

    // Corrected after it was reported: reported again as the record's next revision.
    assert_eq!(app.send(PUT, &path, &hospital, Some(delivery(3500))).await.0, 204);
    assert_eq!(app.drain_province().await, 1);
    let sent = reports(&app).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1]["report_id"], format!("delivery:{record}:r1"));
    assert_eq!(sent[1]["data"]["weight_g"], 3500);
    // A refused entry reports nothing.
    let mut bad = delivery(3400);
    bad["weight_g"] = json!(90);
    assert_eq!(app.send(POST, "/api/v1/hospital/deliveries", &hospital, Some(bad)).await.0, 422);
    assert_eq!(app.drain_province().await, 0);
}

#[tokio::test]
async fn every_issuance_and_void_is_reported_once_and_the_officer_sees_the_status() {
    let app = spawn_app().await;
    app.stock("R370000600", "R370000603").await;
    let officer = app.officer_token("PY-RMYY");
    let (_token, app_id) = app.submitted().await;
    assert_eq!(detail(&app, &app_id).await["province_report"], Value::Null, "nothing to report yet");

    app.approve(&app_id, None).await;
    let before = detail(&app, &app_id).await;
    assert_eq!(before["province_report"]["status"], "pending");
    assert_eq!(before["province_report"]["reported_at"], Value::Null);

    // A misprint: the void and the new number; then a loss in transit: a void and a reissue.
    let void = "/api/v1/officer/certificates/R370000600/void";
    let (status, body) = app.send(POST, void, &officer, Some(json!({"reason": "套打错位"}))).await;
    assert_eq!(status, 200, "{body}");
    let tracking = app.ship(&app_id).await;
    let sent = app.courier(&tracking, json!({"event": "lost", "loss_certificate_no": "YS-2026-0601"})).await;
    assert_eq!(sent["status"], 200, "{sent}");
    app.approve(&app_id, None).await;

    assert_eq!(app.drain_province().await, 5);
    assert_eq!(app.drain_province().await, 0, "each is sent once");
    let sent = reports(&app).await;
    let ids: Vec<_> = sent.iter().map(|r| r["report_id"].as_str().unwrap_or_default()).collect();
    assert_eq!(
        ids,
        ["issuance:R370000600", "void:R370000600", "issuance:R370000601", "void:R370000601", "issuance:R370000602"]
    );
    assert!(sent.iter().all(|r| r["deliveries"] == 1));
    assert_eq!(sent[0]["data"]["newborn_name"], "张小满");
    assert_eq!(sent[0]["data"]["mother_name"], "李梅");
    assert_eq!(sent[0]["data"]["replaces"], Value::Null);
    assert_eq!(sent[1]["data"]["reason"], "issuer_error");
    assert_eq!(sent[1]["data"]["note"], "套打错位");
    assert_eq!(sent[2]["data"]["replaces"], "R370000600");
    assert_eq!(sent[3]["data"]["reason"], "lost_in_transit");
    assert_eq!(sent[3]["data"]["loss_certificate_no"], "YS-2026-0601");
    assert_eq!(sent[4]["data"]["replaces"], "R370000601");

    let after = detail(&app, &app_id).await;
    assert_eq!(after["province_report"]["status"], "reported");
    assert!(after["province_report"]["reported_at"].is_string());
    assert_eq!(after["province_report"]["reports"].as_array().map(Vec::len), Some(5));
    // The console's case page shows each report's status.
    app.officer_with_password("PY-RMYY", "li.officer", "correct horse 42", false).await.expect("officer");
    let cookie = crate::console::session_cookie(&crate::console::sign_in(&app, "li.officer", "correct horse 42").await);
    let page = app
        .client
        .get(app.url(&format!("/console/applications/{app_id}")))
        .header("Cookie", &cookie)
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("html");
    let section = page.split("id=\"province-reports\"").nth(1).expect("the province section");
    assert_eq!(section.split("</table>").next().unwrap_or_default().matches("已上报").count(), 5, "{section}");
    let officer_of_other = app.officer_token("PY-ZYY");
    let path = format!("/api/v1/officer/applications/{app_id}");
    assert_eq!(app.send(GET, &path, &officer_of_other, None).await.0, 404, "another institution sees nothing");
}

#[tokio::test]
async fn a_failing_province_is_tried_again_a_resend_is_kept_once_and_a_refusal_waits_for_a_person() {
    let app = spawn_app().await;
    app.stock("R370000610", "R370000612").await;
    let (_token, app_id) = app.submitted().await;
    app.approve(&app_id, None).await;

    app.mock_post("/_mock/faults", &json!({"path": "/province/v1/reports", "mode": "http_500", "times": 1})).await;
    assert_eq!(app.drain_province().await, 1);
    assert!(reports(&app).await.is_empty());
    let waiting = detail(&app, &app_id).await;
    assert_eq!(waiting["province_report"]["status"], "pending");
    assert_eq!(waiting["province_report"]["reports"][0]["attempts"], 1);
    assert!(waiting["province_report"]["reports"][0]["last_error"].as_str().unwrap_or_default().contains("500"));
    assert_eq!(app.drain_province().await, 0, "not before its backoff");
    birthcert::persistence::province::make_all_due(&app.state.db).await.expect("due");
    assert_eq!(app.drain_province().await, 1);
    let sent = reports(&app).await;
    assert_eq!(sent.len(), 1);
    let receipt = sent[0]["receipt"].clone();

    // The service crashed after the province kept the report and before it recorded so: the
    // report goes again, and the province keeps it once with the same receipt.
    app.set_column("province_reports", "state", "pending", "report_id = 'issuance:R370000610'").await;
    birthcert::persistence::province::make_all_due(&app.state.db).await.expect("due");
    assert_eq!(app.drain_province().await, 1);
    let sent = reports(&app).await;
    assert_eq!((sent.len(), sent[0]["deliveries"].clone(), sent[0]["receipt"].clone()), (1, json!(2), receipt));

    // The province reads a report and refuses it: not sent again, shown as refused.
    let void = "/api/v1/officer/certificates/R370000610/void";
    let (status, _) =
        app.send(POST, void, &app.officer_token("PY-RMYY"), Some(json!({"reason": "姓名打印错误"}))).await;
    assert_eq!(status, 200);
    app.mock_post("/_mock/faults", &json!({"path": "/province/v1/reports", "mode": "http_400", "times": 1})).await;
    assert_eq!(app.drain_province().await, 2);
    birthcert::persistence::province::make_all_due(&app.state.db).await.expect("due");
    assert_eq!(app.drain_province().await, 0, "a refused report is not sent again");
    let refused = detail(&app, &app_id).await;
    assert_eq!(refused["province_report"]["status"], "rejected");
    assert_eq!(refused["province_report"]["reports"][1]["status"], "rejected");
    assert_eq!(reports(&app).await.len(), 2, "the void was refused, the new issuance kept");
}

#[tokio::test]
async fn the_mock_province_refuses_an_unsigned_report() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(format!("{}/province/v1/reports", app.mock.base_url()))
        .json(
            &json!({"report_id": "issuance:R370000001", "kind": "issuance", "institution_code": "PY-RMYY", "data": {}}),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 401);
    assert!(reports(&app).await.is_empty());
}
