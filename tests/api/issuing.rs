//! The issuing side through HTTP: hospital records, the officer's queue and decisions, blank
//! stock, registers, shipment and courier events, loss and void, permissions, the audit chain.

use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use crate::helpers::{father_id, id, jpeg, mother_id, parents, photo, png, spawn_app};

const GET: reqwest::Method = reqwest::Method::GET;
const POST: reqwest::Method = reqwest::Method::POST;
const PUT: reqwest::Method = reqwest::Method::PUT;

fn delivery_body(birth_at: &str) -> Value {
    json!({
        "mother_name": "王丽", "mother_id_type": "resident_id", "mother_id_number": id("37012419960101002"),
        "baby_sex": "male", "birth_at": birth_at, "birth_place": "平阴县中医医院",
        "gestational_weeks": 38, "weight_g": 3400, "length_cm": 51, "health_status": "good", "midwife_name": "赵敏"
    })
}

fn hours_ago(h: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::hours(h)).to_rfc3339()
}

// ---- hospital ------------------------------------------------------------------------------

#[tokio::test]
async fn a_hospital_records_deliveries_of_its_own_and_sees_only_those() {
    let app = spawn_app().await;
    let zyy = app.hospital_token("PY-ZYY");
    let (status, on_time) =
        app.send(POST, "/api/v1/hospital/deliveries", &zyy, Some(delivery_body(&hours_ago(3)))).await;
    assert_eq!((status, on_time["late"].clone()), (201, json!(false)), "{on_time}");
    let (status, late) = app.send(POST, "/api/v1/hospital/deliveries", &zyy, Some(delivery_body(&hours_ago(30)))).await;
    assert_eq!((status, late["late"].clone()), (201, json!(true)));

    let (status, list) = app.send(GET, "/api/v1/hospital/deliveries", &zyy, None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    assert!(list[0]["mother_id_number_masked"].as_str().expect("masked").contains('*'));
    let other = app.hospital_token("PY-RMYY");
    let (_, theirs) = app.send(GET, "/api/v1/hospital/deliveries", &other, None).await;
    assert_eq!(theirs, json!([]), "another hospital sees none of them");
    let path = format!("/api/v1/hospital/deliveries/{}", on_time["id"].as_str().expect("id"));
    let (status, _) = app.send(PUT, &path, &other, Some(delivery_body(&hours_ago(3)))).await;
    assert_eq!(status, 404, "nor can it correct them");
    let mut corrected = delivery_body(&hours_ago(3));
    corrected["weight_g"] = json!(3450);
    assert_eq!(app.send(PUT, &path, &zyy, Some(corrected)).await.0, 204);

    // Applicants and officers cannot write delivery records.
    let officer = app.officer_token("PY-ZYY");
    assert_eq!(
        app.send(POST, "/api/v1/hospital/deliveries", &officer, Some(delivery_body(&hours_ago(3)))).await.0,
        403
    );
}

#[tokio::test]
async fn a_bad_delivery_record_is_refused_field_by_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let token = app.hospital_token("PY-ZYY");
    let mut bad = delivery_body(&(chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339());
    bad["mother_id_number"] = json!("370124199601010029X");
    bad["weight_g"] = json!(90);
    bad["gestational_weeks"] = json!(70);
    let (status, body) = app.send(POST, "/api/v1/hospital/deliveries", &token, Some(bad)).await;
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> =
        body["fields"].as_array().expect("fields").iter().filter_map(|f| f["field"].as_str()).collect();
    for f in ["birth_at", "mother_id_number", "weight_g", "gestational_weeks"] {
        assert!(fields.contains(&f), "{f} in {body}");
    }
    let (status, _) = app.send(POST, "/api/v1/hospital/deliveries", &token, Some(json!({"mother_name": "x"}))).await;
    assert_eq!(status, 400, "a body missing fields is malformed");
    let (_, list) = app.send(GET, "/api/v1/hospital/deliveries", &token, None).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn the_hospital_cannot_change_a_record_once_the_form_is_confirmed() {
    let app = spawn_app().await;
    let (token, app_id) = app.ready_to_pay().await;
    let (_, detail) =
        app.send(GET, &format!("/api/v1/officer/applications/{app_id}"), &app.officer_token("PY-RMYY"), None).await;
    let delivery_id = detail["delivery"]["id"].as_str().expect("delivery id");
    let mut body = delivery_body(&hours_ago(3));
    body["mother_name"] = json!("李梅");
    body["mother_id_number"] = json!(mother_id());
    let (status, err) = app
        .send(PUT, &format!("/api/v1/hospital/deliveries/{delivery_id}"), &app.hospital_token("PY-RMYY"), Some(body))
        .await;
    assert_eq!((status, err["code"].clone()), (409, json!("form_frozen")));
    assert_eq!(app.state_of(&token, &app_id).await, "signed");
}

// ---- the officer: queue, reads, approval, shipment, delivery -------------------------------

#[tokio::test]
async fn approve_ship_deliver_with_registers_messages_and_an_audited_read() {
    let app = spawn_app().await;
    app.stock("R370000001", "R370000005").await;
    let (token, app_id) = app.submitted().await;
    let officer = app.officer_token("PY-RMYY");

    let (status, queue) = app.send(GET, "/api/v1/officer/applications", &officer, None).await;
    assert_eq!(status, 200);
    assert_eq!(queue["total"], 1);
    assert_eq!(queue["items"][0]["id"], app_id.as_str());
    assert_eq!(queue["items"][0]["overdue"], false);
    assert_eq!(queue["items"][0]["mother_name"], "李梅");

    let (status, detail) = app.send(GET, &format!("/api/v1/officer/applications/{app_id}"), &officer, None).await;
    assert_eq!(status, 200);
    assert_eq!(detail["delivery"]["mother_id_number"], mother_id().as_str(), "the officer sees it unmasked");
    assert_eq!(detail["parents"][0]["id_number"].as_str().map(|s| s.contains('*')), Some(false));
    assert_eq!(detail["delivery_address"]["phone"], "13987654321");
    let image = app
        .client
        .get(app.url(&format!("/api/v1/officer/applications/{app_id}/documents/mother_id_front")))
        .bearer_auth(&officer)
        .send()
        .await
        .expect("sent");
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");
    assert!(image.bytes().await.expect("bytes").starts_with(b"\x89PNG"));
    let reads =
        birthcert::persistence::audit::entries_about(&app.state.db, "application", &app_id).await.expect("audit");
    let actions: Vec<&str> = reads.iter().filter(|e| e.actor_kind == "officer").map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["read_application", "read_document"]);

    let (status, approved) = app.approve(&app_id, None).await;
    assert_eq!((status, approved["certificate_number"].clone()), (200, json!("R370000001")), "{approved}");
    let (status, again) = app.approve(&app_id, None).await;
    assert_eq!((status, again["code"].clone()), (409, json!("wrong_state")));

    let from = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%d");
    let to = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d");
    let (status, register) =
        app.send(GET, &format!("/api/v1/officer/registers/first-issuance?from={from}&to={to}"), &officer, None).await;
    assert_eq!(status, 200);
    assert_eq!(register[0]["certificate_number"], "R370000001");
    assert_eq!(register[0]["newborn_name"], "张小满");
    let csv = app
        .client
        .get(app.url(&format!("/api/v1/officer/registers/online-issuance?from={from}&to={to}&format=csv")))
        .bearer_auth(&officer)
        .send()
        .await
        .expect("sent");
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.expect("text");
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert!(lines[0].starts_with("certificate_number,application_id"));
    assert!(lines[1].starts_with(&format!("R370000001,{app_id},PY-RMYY,father,")), "{csv}");

    let tracking = app.ship(&app_id).await;
    let (_, view) = app.send(GET, &format!("/api/v1/applications/{app_id}"), &token, None).await;
    assert_eq!(view["state"], "shipped");
    assert_eq!(view["certificate_number"], "R370000001");
    assert_eq!(view["shipment"]["tracking_number"], tracking.as_str());

    let sent = app.courier(&tracking, json!({"event": "in_transit"})).await;
    assert_eq!(sent["status"], 200);
    let sent = app.courier(&tracking, json!({"event": "delivered", "signed_by": "张伟"})).await;
    assert_eq!(sent["status"], 200, "{sent}");
    assert_eq!(app.state_of(&token, &app_id).await, "delivered");
    assert_eq!(app.events_of(&app_id).await, ["submitted", "issued", "shipped", "delivered"]);

    let (_, stats) = app.send(GET, "/api/v1/officer/stats", &officer, None).await;
    assert_eq!(stats["per_state"]["delivered"], 1);
    assert_eq!(stats["deadlines_met"], 1);
    assert_eq!(stats["deadlines_missed"], 0);
    assert_eq!(stats["blank_stock"], 4);
    // Only this case ever existed: no other state holds anything.
    assert_eq!(stats["per_state"].as_object().map(|m| m.len()), Some(1), "{stats}");

    // The running totals folded (as the deadline watcher does) read the same; a second fold
    // finds nothing left.
    assert!(birthcert::persistence::counters::compact(&app.state.db).await.expect("folded") > 0);
    assert_eq!(birthcert::persistence::counters::compact(&app.state.db).await.expect("folded"), 0);
    let (_, folded) = app.send(GET, "/api/v1/officer/stats", &officer, None).await;
    assert_eq!(folded, stats);
}

#[tokio::test]
async fn return_then_resubmit_with_the_named_documents_then_approve() {
    let app = spawn_app().await;
    app.stock("R370000010", "R370000012").await;
    let (token, app_id) = app.submitted().await;
    let officer = app.officer_token("PY-RMYY");
    let path = format!("/api/v1/officer/applications/{app_id}/return");
    let (status, body) =
        app.send(POST, &path, &officer, Some(json!({"reasons": [], "redo_documents": ["passport_photo"]}))).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app
        .send(
            POST,
            &path,
            &officer,
            Some(json!({
                "reasons": [{"code": "blurred_id", "message": "母亲身份证正面照片模糊，请重新拍摄"}],
                "redo_documents": ["mother_id_front"]
            })),
        )
        .await;
    assert_eq!((status, body["state"].clone()), (200, json!("returned")), "{body}");
    let (_, view) = app.send(GET, &format!("/api/v1/applications/{app_id}"), &token, None).await;
    assert_eq!(view["return_reasons"][0]["code"], "blurred_id");

    let resubmit = format!("/api/v1/applications/{app_id}/resubmission");
    let (status, body) = app.send(POST, &resubmit, &token, None).await;
    assert_eq!((status, body["code"].clone()), (422, json!("documents_to_redo")), "{body}");
    let (status, _) =
        app.upload(&token, &format!("/api/v1/applications/{app_id}/documents/mother_id_front"), png(), "new.png").await;
    assert_eq!(status, 201);
    let (status, body) = app.send(POST, &resubmit, &token, None).await;
    assert_eq!((status, body["state"].clone()), (200, json!("submitted")), "{body}");
    assert!(body["review_due_at"].is_string());
    let (status, _) = app.send(POST, &resubmit, &token, None).await;
    assert_eq!(status, 409, "once is enough");

    let (status, approved) = app.approve(&app_id, Some("R370000012")).await;
    assert_eq!((status, approved["certificate_number"].clone()), (200, json!("R370000012")));
    assert_eq!(app.events_of(&app_id).await, ["submitted", "returned", "submitted", "issued"]);
}

#[tokio::test]
async fn blank_stock_is_used_once_and_only_from_the_institutions_own_range() {
    let app = spawn_app().await;
    let (_, app_id) = app.submitted().await;
    let (status, body) = app.approve(&app_id, None).await;
    assert_eq!((status, body["code"].clone()), (409, json!("no_blank_stock")));
    app.stock("R370000020", "R370000021").await;
    let (status, body) = app
        .send(
            POST,
            "/api/v1/officer/certificate-stock",
            &app.admin_token("PY-RMYY"),
            Some(json!({"first": "R370000021", "last": "R370000022"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (409, json!("already_received")),
        "a range overlapping stock is refused whole"
    );
    let (status, body) = app
        .send(
            POST,
            "/api/v1/officer/certificate-stock",
            &app.admin_token("PY-RMYY"),
            Some(json!({"first": "R370000030", "last": "Q370000020"})),
        )
        .await;
    assert_eq!((status, body["code"].clone()), (422, json!("invalid_range")));
    let (status, _) = app
        .send(
            POST,
            "/api/v1/officer/certificate-stock",
            &app.officer_token("PY-RMYY"),
            Some(json!({"first": "R370000040", "last": "R370000041"})),
        )
        .await;
    assert_eq!(status, 403, "stock changes need admin");

    let waste = "/api/v1/officer/certificate-stock/R370000020/waste";
    assert_eq!(app.send(POST, waste, &app.admin_token("PY-RMYY"), Some(json!({"reason": "打印错位"}))).await.0, 204);
    let (status, body) = app.send(POST, waste, &app.admin_token("PY-RMYY"), Some(json!({"reason": "again"}))).await;
    assert_eq!((status, body["code"].clone()), (409, json!("number_used")));
    let (status, body) = app.approve(&app_id, Some("R370000020")).await;
    assert_eq!((status, body["code"].clone()), (409, json!("number_used")), "a wasted blank cannot be issued");
    let (status, body) = app.approve(&app_id, Some("R999999999")).await;
    assert_eq!((status, body["code"].clone()), (422, json!("not_in_stock")));
    let (status, body) = app.approve(&app_id, Some("not-a-number")).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app.approve(&app_id, None).await;
    assert_eq!((status, body["certificate_number"].clone()), (200, json!("R370000021")), "the next free one");
}

#[tokio::test]
async fn a_courier_that_does_not_answer_is_given_up_on_and_the_shipment_can_be_retried() {
    let app = spawn_app().await;
    app.stock("R370000400", "R370000401").await;
    let (token, app_id) = app.submitted().await;
    assert_eq!(app.approve(&app_id, None).await.0, 200);
    app.mock_post("/_mock/faults", &json!({"path": "/courier/v1/orders", "mode": "timeout", "times": 1})).await;
    let started = std::time::Instant::now();
    let (status, body) = app
        .send(POST, &format!("/api/v1/officer/applications/{app_id}/shipment"), &app.officer_token("PY-RMYY"), None)
        .await;
    assert_eq!(status, 502, "{body}");
    assert!(body["code"].is_string(), "{body}");
    // The booking is bounded by `wechat.request_timeout_secs` (2 s in tests), not by the courier.
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(app.state_of(&token, &app_id).await, "issued", "nothing moved");
    app.ship(&app_id).await;
    assert_eq!(app.state_of(&token, &app_id).await, "shipped");
}

#[tokio::test]
async fn a_courier_loss_leads_to_a_reissue_with_a_new_number_linked_to_the_lost_one() {
    let app = spawn_app().await;
    app.stock("R370000100", "R370000102").await;
    let (token, app_id) = app.submitted().await;
    app.approve(&app_id, None).await;
    let tracking = app.ship(&app_id).await;
    let sent = app.courier(&tracking, json!({"event": "lost"})).await;
    assert_eq!(sent["status"], 422, "a loss needs the loss-certificate number");
    let sent = app.courier(&tracking, json!({"event": "lost", "loss_certificate_no": "YS-2026-0042"})).await;
    assert_eq!(sent["status"], 200, "{sent}");
    assert_eq!(app.state_of(&token, &app_id).await, "lost_in_transit");

    let (status, body) = app.approve(&app_id, None).await;
    assert_eq!((status, body["certificate_number"].clone()), (200, json!("R370000101")));
    let (_, detail) =
        app.send(GET, &format!("/api/v1/officer/applications/{app_id}"), &app.officer_token("PY-RMYY"), None).await;
    let certs = detail["certificates"].as_array().expect("certificates");
    assert_eq!(certs.len(), 2);
    assert_eq!((certs[0]["number"].clone(), certs[0]["state"].clone()), (json!("R370000100"), json!("lost")));
    assert_eq!(certs[0]["loss_certificate_no"], "YS-2026-0042");
    assert!(certs[1]["replaces_certificate_id"].is_string());
    assert_eq!(app.events_of(&app_id).await, ["submitted", "issued", "shipped", "reissuing", "issued"]);
}

#[tokio::test]
async fn void_and_reissue_then_the_old_certificate_is_recovered() {
    let app = spawn_app().await;
    app.stock("R370000200", "R370000202").await;
    let (token, app_id) = app.submitted().await;
    app.approve(&app_id, None).await;
    let tracking = app.ship(&app_id).await;
    app.courier(&tracking, json!({"event": "delivered", "signed_by": "李梅"})).await;
    let officer = app.officer_token("PY-RMYY");
    let (status, _) = app.send(POST, "/api/v1/officer/certificates/R370000200/recovery", &officer, None).await;
    assert_eq!(status, 409, "only a voided certificate comes back");
    let (status, body) = app
        .send(
            POST,
            "/api/v1/officer/certificates/R370000200/void",
            &officer,
            Some(json!({"reason": "出生地点打印错误"})),
        )
        .await;
    assert_eq!((status, body["certificate_number"].clone()), (200, json!("R370000201")), "{body}");
    assert_eq!(app.state_of(&token, &app_id).await, "issued");
    assert_eq!(app.send(POST, "/api/v1/officer/certificates/R370000200/recovery", &officer, None).await.0, 204);
    let (status, body) =
        app.send(POST, "/api/v1/officer/certificates/R370000200/void", &officer, Some(json!({"reason": "x"}))).await;
    assert_eq!(status, 409, "{body}");
    let (_, detail) = app.send(GET, &format!("/api/v1/officer/applications/{app_id}"), &officer, None).await;
    assert_eq!(detail["certificates"][0]["state"], "recovered");
    assert!(detail["certificates"][0]["recovered_at"].is_string());
}

#[tokio::test]
async fn modification_requests_approved_correct_the_record_and_rejected_keep_it() {
    let app = spawn_app().await;
    let officer = app.officer_token("PY-RMYY");
    for (approved, weight) in [(true, 3350), (false, 3300)] {
        let (token, app_id) = app.documents_uploaded().await;
        let (status, _) = app
            .send(
                POST,
                &format!("/api/v1/applications/{app_id}/modification-requests"),
                &token,
                Some(json!({"items": [{"field": "weight_g", "requested": "3350", "reason": "医院称重记录为3350克"}]})),
            )
            .await;
        assert_eq!(status, 201);
        let (_, pending) = app.send(GET, "/api/v1/officer/modification-requests?state=pending", &officer, None).await;
        let request = pending
            .as_array()
            .expect("list")
            .iter()
            .find(|r| r["application_id"] == app_id.as_str())
            .expect("listed")
            .clone();
        let decide = format!("/api/v1/officer/modification-requests/{}/decision", request["id"].as_str().expect("id"));
        let (status, body) =
            app.send(POST, &decide, &officer, Some(json!({"approved": approved, "note": "已核对分娩记录"}))).await;
        assert_eq!((status, body["state"].clone()), (200, json!("documents_uploaded")), "{body}");
        let (status, body) =
            app.send(POST, &decide, &officer, Some(json!({"approved": approved, "note": "again"}))).await;
        assert_eq!((status, body["code"].clone()), (409, json!("already_decided")));
        let (_, form) = app.send(GET, &format!("/api/v1/applications/{app_id}/registration-form"), &token, None).await;
        assert_eq!(form["form"]["weight_g"], weight, "{form}");
        assert_eq!(app.events_of(&app_id).await, ["modification_decided"]);
        // Withdraw so the next round can apply for the same delivery record.
        app.send(POST, &format!("/api/v1/applications/{app_id}/withdrawal"), &token, None).await;
    }
}

// ---- one connection ------------------------------------------------------------------------

/// A request that, inside its transaction, waited for a second pooled connection would hang
/// once every connection is held by such a request (a burst of payment notifications did). With a
/// pool of one, the same mistake fails at once, so every step here runs on a single connection.
#[tokio::test]
async fn a_whole_application_goes_through_on_a_single_database_connection() {
    let app = crate::helpers::spawn_app_with(crate::helpers::TestOptions {
        configure: Some(Box::new(|s| {
            s.database.max_connections = 1;
            s.database.min_connections = 1;
            s.database.connect_timeout_secs = 2;
        })),
        ..Default::default()
    })
    .await;
    app.stock("R370000300", "R370000303").await;
    let (token, app_id) = app.submitted().await;
    let officer = app.officer_token("PY-RMYY");
    let returned =
        json!({"reasons": [{"code": "blurred_id", "message": "照片模糊"}], "redo_documents": ["mother_id_back"]});
    let (status, body) =
        app.send(POST, &format!("/api/v1/officer/applications/{app_id}/return"), &officer, Some(returned)).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) =
        app.upload(&token, &format!("/api/v1/applications/{app_id}/documents/mother_id_back"), png(), "b.png").await;
    assert_eq!(status, 201);
    let (status, body) = app.send(POST, &format!("/api/v1/applications/{app_id}/resubmission"), &token, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.approve(&app_id, None).await.0, 200);
    let tracking = app.ship(&app_id).await;
    let sent = app.courier(&tracking, json!({"event": "lost", "loss_certificate_no": "YS-2026-0300"})).await;
    assert_eq!(sent["status"], 200, "{sent}");
    let (status, body) = app.approve(&app_id, None).await;
    assert_eq!((status, body["certificate_number"].clone()), (200, json!("R370000301")), "{body}");
    let tracking = app.ship(&app_id).await;
    let sent = app.courier(&tracking, json!({"event": "delivered", "signed_by": "张伟"})).await;
    assert_eq!(sent["status"], 200, "{sent}");
    let (status, body) = app
        .send(
            POST,
            "/api/v1/officer/certificates/R370000301/void",
            &officer,
            Some(json!({"reason": "出生地点打印错误"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let events = app.events_of(&app_id).await;
    assert_eq!(
        events,
        [
            "submitted",
            "returned",
            "submitted",
            "issued",
            "shipped",
            "reissuing",
            "issued",
            "shipped",
            "delivered",
            "reissuing",
            "issued"
        ]
    );
    assert_eq!(app.drain_outbox().await, events.len(), "every message to the parent went out");
    assert_eq!(app.state_of(&token, &app_id).await, "issued");
}

// ---- permissions ---------------------------------------------------------------------------

#[tokio::test]
async fn every_role_stays_inside_its_own_institution_and_endpoints() {
    let app = spawn_app().await;
    app.stock("R370000300", "R370000300").await;
    let (token, app_id) = app.submitted().await;
    let stranger = app.officer_token("PY-ZYY");
    for (method, path) in [
        (GET, format!("/api/v1/officer/applications/{app_id}")),
        (GET, format!("/api/v1/officer/applications/{app_id}/documents/mother_id_front")),
        (POST, format!("/api/v1/officer/applications/{app_id}/approval")),
        (POST, format!("/api/v1/officer/applications/{app_id}/shipment")),
    ] {
        let (status, _) = app.send(method.clone(), &path, &stranger, Some(json!({}))).await;
        assert_eq!(status, 404, "{method} {path} from another institution");
    }
    // Refused before anything was read: no officer's read of the case is in the audit log.
    let reads =
        birthcert::persistence::audit::entries_about(&app.state.db, "application", &app_id).await.expect("audit");
    assert!(
        reads.iter().all(|e| e.actor_kind != "officer"),
        "{:?}",
        reads.iter().map(|e| &e.action).collect::<Vec<_>>()
    );
    let (_, queue) = app.send(GET, "/api/v1/officer/applications", &stranger, None).await;
    assert_eq!(queue["total"], 0);
    let (status, _) = app
        .send(
            POST,
            &format!("/api/v1/officer/applications/{app_id}/return"),
            &stranger,
            Some(json!({"reasons": [{"code": "x", "message": "y"}]})),
        )
        .await;
    assert_eq!(status, 404);
    // Another institution's admin cannot write off this one's blanks.
    let (status, _) = app
        .send(
            POST,
            "/api/v1/officer/certificate-stock/R370000300/waste",
            &app.admin_token("PY-ZYY"),
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_eq!(status, 404);
    for who in [token.clone(), app.hospital_token("PY-RMYY")] {
        let (status, _) = app.send(GET, "/api/v1/officer/applications", &who, None).await;
        assert_eq!(status, 403);
    }
    let (status, _) = app.send(GET, "/api/v1/officer/stats", "not-a-token", None).await;
    assert_eq!(status, 401);
    // Nothing above changed the application, and audited reads were refused before any read.
    assert_eq!(app.state_of(&token, &app_id).await, "submitted");
}

// ---- courier events ------------------------------------------------------------------------

#[tokio::test]
async fn forged_stale_and_repeated_courier_events_change_nothing() {
    let app = spawn_app().await;
    app.stock("R370000400", "R370000400").await;
    let (token, app_id) = app.submitted().await;
    app.approve(&app_id, None).await;
    let tracking = app.ship(&app_id).await;
    let forged = app.courier(&tracking, json!({"event": "delivered", "forge": true})).await;
    assert_eq!(forged["status"], 401);
    let stale = app.courier(&tracking, json!({"event": "delivered", "timestamp_offset_secs": 600})).await;
    assert_eq!(stale["status"], 401);
    assert_eq!(app.state_of(&token, &app_id).await, "shipped");

    // The same signed request delivered again (a replay within the window) is recognised.
    let first = app.courier(&tracking, json!({"event": "delivered", "signed_by": "张伟", "at": 1_795_000_000})).await;
    assert_eq!(first["status"], 200);
    let ts = first["timestamp"].as_str().expect("ts");
    let body = first["event"].to_string();
    let secret = "dev-courier-secret";
    let replay = app
        .client
        .post(app.url("/api/v1/courier/events"))
        .header("content-type", "application/json")
        .header("X-Courier-Timestamp", ts)
        .header("X-Courier-Signature", birthcert::clients::courier::sign(secret, ts, body.as_bytes()))
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.json::<Value>().await.expect("json")["duplicate"], true);
    assert_eq!(app.events_of(&app_id).await.iter().filter(|e| *e == "delivered").count(), 1);

    let missing = app.client.post(app.url("/api/v1/courier/events")).json(&json!({})).send().await.expect("sent");
    assert_eq!(missing.status(), 401);
}

// ---- deadlines -----------------------------------------------------------------------------

#[tokio::test]
async fn the_deadline_watcher_flags_overdue_applications_and_the_queue_shows_them() {
    let app = spawn_app().await;
    let (_, app_id) = app.submitted().await;
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    let sql = match app.state.db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            format!("UPDATE applications SET review_due_at = '{}' WHERE id = '{app_id}'", past.to_rfc3339())
        }
        _ => format!(
            "UPDATE applications SET review_due_at = '{}' WHERE id = '{app_id}'",
            past.format("%Y-%m-%d %H:%M:%S%.6f+00:00")
        ),
    };
    app.state.db.execute_unprepared(&sql).await.expect("moved the deadline");
    // One pass of the watcher, as the worker runs it.
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let watcher = tokio::spawn(birthcert::workers::deadlines::run(
        app.state.db.clone(),
        std::time::Duration::from_secs(3600),
        stop_rx,
    ));
    crate::helpers::eventually("the application is flagged", || async {
        birthcert::persistence::applications::count_overdue(&app.state.db).await.expect("count") == 1
    })
    .await;
    stop.send(true).expect("stop");
    watcher.await.expect("stopped");
    let flagged_again = birthcert::persistence::applications::flag_overdue(&app.state.db, chrono::Utc::now()).await;
    assert_eq!(flagged_again.expect("flag"), 0, "flagged once");
    let officer = app.officer_token("PY-RMYY");
    let (_, overdue) = app.send(GET, "/api/v1/officer/applications?overdue=true", &officer, None).await;
    assert_eq!(overdue["items"][0]["id"], app_id.as_str());
    assert_eq!(overdue["items"][0]["overdue"], true);
    let (_, on_time) = app.send(GET, "/api/v1/officer/applications?overdue=false", &officer, None).await;
    assert_eq!(on_time["total"], 0);
    let (_, stats) = app.send(GET, "/api/v1/officer/stats", &officer, None).await;
    assert_eq!(stats["overdue_now"], 1);
}

// ---- the audit chain -----------------------------------------------------------------------

#[tokio::test]
async fn audit_verify_passes_on_the_real_chain_and_names_the_altered_entry() {
    let app = spawn_app().await;
    let (_, _app_id) = app.submitted().await;
    let out = app.command(&["audit", "verify"], None);
    assert!(out.success, "{}", out.stderr);
    assert!(out.stderr.contains("intact"), "{}", out.stderr);

    app.state
        .db
        .execute_unprepared("UPDATE audit_log SET detail = '{\"to\":\"issued\"}' WHERE seq = 3")
        .await
        .expect("tampered");
    let out = app.command(&["audit", "verify"], None);
    assert!(!out.success);
    assert!(out.stderr.contains("entry 3") && out.stderr.contains("altered"), "{}", out.stderr);
}

/// What someone with write access to the database but not to the anchor file can do: alter an
/// entry, recompute every hash after it and the head, so the chain itself verifies again.
async fn rewrite_chain_from(app: &crate::helpers::TestApp, seq: i32, new_detail: &str) {
    use birthcert::domain::audit::chain_hash;
    use birthcert::persistence::entities::{audit_head, audit_log};
    use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, QueryOrder, Set};
    let db = &app.state.db;
    let rows = audit_log::Entity::find().order_by_asc(audit_log::Column::Seq).all(db).await.expect("rows");
    let mut prev = migrations::AUDIT_GENESIS.to_string();
    for row in rows {
        let mut row = row;
        if row.seq == seq {
            row.detail = new_detail.to_string();
        }
        let at = birthcert::persistence::audit::stamp(row.at);
        let hash = chain_hash(&prev, &birthcert::persistence::audit::content_of(&row, &at));
        let mut active = row.clone().into_active_model();
        active.detail = Set(row.detail.clone());
        active.prev_hash = Set(prev.clone());
        active.hash = Set(hash.clone());
        active.update(db).await.expect("rewritten");
        prev = hash;
    }
    let mut head = audit_head::Entity::find_by_id(1).one(db).await.expect("q").expect("head").into_active_model();
    head.hash = Set(prev);
    head.update(db).await.expect("head");
}

#[tokio::test]
async fn a_chain_rewritten_with_recomputed_hashes_is_caught_by_the_anchors_kept_outside_the_database() {
    let app = spawn_app().await;
    let (_, app_id) = app.submitted().await;
    let out = app.command(&["audit", "anchor"], None);
    assert!(out.success && out.stderr.contains("anchored entry"), "{}", out.stderr);
    app.approve(&app_id, None).await;
    let out = app.command(&["audit", "verify"], None);
    assert!(out.success && out.stderr.contains("1 anchors"), "{}", out.stderr);

    // Entry 2 said something else; every hash after it is recomputed.
    rewrite_chain_from(&app, 2, r#"{"rewritten":true}"#).await;
    let without_anchors =
        app.command_with(&["audit", "verify"], &[("BIRTHCERT__AUDIT__ANCHOR_FILE", "/nonexistent/anchors")]);
    assert!(without_anchors.success, "the chain alone cannot tell: {}", without_anchors.stderr);
    let out = app.command(&["audit", "verify"], None);
    assert!(!out.success && out.stderr.contains("rewritten"), "{}", out.stderr);
}

#[tokio::test]
async fn the_service_anchors_the_head_as_the_chain_grows() {
    let app = crate::helpers::spawn_app_with(crate::helpers::TestOptions {
        configure: Some(Box::new(|s| s.audit.anchor_secs = 1)),
        ..Default::default()
    })
    .await;
    let (_, _app_id) = app.submitted().await;
    let file = birthcert::audit_anchor::AnchorFile::new(app.state.settings.audit.anchor_file.clone());
    let (entries, hash) = birthcert::persistence::audit::head(&app.state.db).await.expect("head");
    let mut anchored = false;
    for _ in 0..100 {
        if file.read().expect("anchors").iter().any(|a| a.entries == entries && a.hash == hash) {
            anchored = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(anchored, "the head of {entries} entries was anchored: {:?}", file.read());
    let out = app.command(&["audit", "verify"], None);
    assert!(out.success, "{}", out.stderr);
}

#[tokio::test]
async fn a_chain_cut_short_below_an_anchor_is_caught() {
    let app = spawn_app().await;
    let (_, app_id) = app.submitted().await;
    app.approve(&app_id, None).await;
    assert!(app.command(&["audit", "anchor"], None).success);
    // The last entries removed and the head set back to the entry before them.
    let db = &app.state.db;
    let last_kept: String = {
        use birthcert::persistence::entities::audit_log;
        use sea_orm::{EntityTrait, QueryOrder};
        let rows = audit_log::Entity::find().order_by_asc(audit_log::Column::Seq).all(db).await.expect("rows");
        let keep = rows.len() - 2;
        for row in &rows[keep..] {
            audit_log::Entity::delete_by_id(row.seq).exec(db).await.expect("deleted");
        }
        rows[keep - 1].hash.clone()
    };
    db.execute_unprepared(&format!("UPDATE audit_head SET hash = '{last_kept}', entries = entries - 2"))
        .await
        .expect("head");
    let out = app.command(&["audit", "verify"], None);
    assert!(!out.success && out.stderr.contains("shorter than the anchor"), "{}", out.stderr);
}

// ---- the printable form --------------------------------------------------------------------

/// Text of a PDF as poppler's pdftotext reads it (installed by .ci/run with the CJK font).
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("form.pdf");
    std::fs::write(&path, pdf).expect("written");
    let out = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed: .ci/run installs it");
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test]
async fn the_printed_form_carries_every_field_the_digest_and_the_certificate_number() {
    let app = spawn_app().await;
    app.stock("R370000500", "R370000500").await;
    let (_, app_id) = app.submitted().await;
    let officer = app.officer_token("PY-RMYY");
    let (_, detail) = app.send(GET, &format!("/api/v1/officer/applications/{app_id}"), &officer, None).await;
    app.approve(&app_id, None).await;
    let res = app
        .client
        .get(app.url(&format!("/api/v1/officer/applications/{app_id}/registration-form.pdf")))
        .bearer_auth(&officer)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let pdf = res.bytes().await.expect("pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(pdf.len() < 2_000_000, "only the glyphs used are embedded ({} bytes)", pdf.len());
    let images = pdf_images(&pdf);
    assert_eq!(images, [("image".to_string(), 480, 180)], "the signature whole, with no mis-sized soft mask");
    let text = pdf_text(&pdf);
    for expected in [
        "出生医学证明首次签发登记表",
        "R370000500",
        "张小满",
        "李梅",
        "张伟",
        "平阴县人民医院",
        &mother_id(),
        detail["form_digest"].as_str().expect("digest"),
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    let (status, _) = app
        .send(
            GET,
            &format!("/api/v1/officer/applications/{app_id}/registration-form.pdf"),
            &app.officer_token("PY-ZYY"),
            None,
        )
        .await;
    assert_eq!(status, 404, "another institution's officer cannot print it");
}

#[tokio::test]
async fn a_register_longer_than_one_page_streams_whole_and_in_order() {
    use birthcert::persistence::registers::{write_registers, FirstIssuanceEntry, OnlineIssuanceEntry};
    let app = spawn_app().await;
    let (_, app_id) = app.submitted().await;
    let start = chrono::Utc::now() - chrono::Duration::hours(3);
    let rows = 1_234;
    for i in 0..rows {
        // Pairs of rows share a second, so the cursor's tie-break on the id is exercised.
        let at = start + chrono::Duration::seconds(i / 2);
        let number = format!("G{:09}", i);
        let first = FirstIssuanceEntry {
            certificate_number: number.clone(),
            application_id: app_id.clone(),
            institution_code: "PY-RMYY".into(),
            newborn_name: "张小满".into(),
            baby_sex: "female".into(),
            birth_at: at,
            mother_name: "李梅".into(),
            father_name: "张伟".into(),
            issued_by: "officer-1".into(),
            issued_at: at,
        };
        let online = OnlineIssuanceEntry {
            certificate_number: number,
            application_id: app_id.clone(),
            institution_code: "PY-RMYY".into(),
            claimant_relation: "father".into(),
            out_trade_no: None,
            submitted_at: at,
            issued_at: at,
            issued_by: "officer-1".into(),
        };
        write_registers(&app.state.db, &first, &online).await.expect("written");
    }
    let officer = app.officer_token("PY-RMYY");
    // The register's days are China days; the rows must fall inside them whatever the hour here.
    let china_day = |t: chrono::DateTime<chrono::Utc>| birthcert::domain::working_days::to_china(t).format("%Y-%m-%d");
    let from = china_day(start);
    let to = china_day(chrono::Utc::now());
    let (status, json) =
        app.send(GET, &format!("/api/v1/officer/registers/first-issuance?from={from}&to={to}"), &officer, None).await;
    assert_eq!(status, 200);
    let numbers: Vec<&str> =
        json.as_array().expect("a JSON array").iter().filter_map(|r| r["certificate_number"].as_str()).collect();
    assert_eq!(numbers.len(), rows as usize);
    let expected: Vec<String> = (0..rows).map(|i| format!("G{:09}", i)).collect();
    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, expected, "every row once");
    let times: Vec<chrono::DateTime<chrono::Utc>> = json
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["issued_at"].as_str().expect("time").parse().expect("RFC 3339"))
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first across page boundaries");
    let csv = app
        .client
        .get(app.url(&format!("/api/v1/officer/registers/online-issuance?from={from}&to={to}&format=csv")))
        .bearer_auth(&officer)
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert_eq!(csv.lines().count(), rows as usize + 1, "header and every row");
    let (status, body) = app.send(GET, "/api/v1/officer/registers/first-issuance?format=xml", &officer, None).await;
    assert_eq!((status, body["code"].clone()), (400, json!("unknown_format")));
}

// ---- every step out of order ---------------------------------------------------------------

/// Each step of the journey tried where it does not belong: 409 `wrong_state`, with the
/// application's current state in the body, and nothing changed.
#[tokio::test]
async fn every_step_out_of_order_is_refused_with_the_current_state() {
    let app = spawn_app().await;
    let (draft_token, draft) = app.new_application().await;
    let (paid_token, paid) = app.submitted().await;
    let steps = |id: &str| -> Vec<(reqwest::Method, String, Option<Value>)> {
        let base = format!("/api/v1/applications/{id}");
        vec![
            (POST, format!("{base}/identity/mother/face-sessions"), None),
            (
                POST,
                format!("{base}/modification-requests"),
                Some(json!({"items": [{"field": "weight_g", "requested": "3350", "reason": "称重记录不同"}]})),
            ),
            (POST, format!("{base}/confirmation"), Some(json!({"newborn_name": "张小满"}))),
            (
                PUT,
                format!("{base}/delivery-address"),
                Some(
                    json!({"recipient": "张伟", "phone": "13987654321", "region_code": "370124", "address": "平阴县榆山街道青龙路1号"}),
                ),
            ),
            (POST, format!("{base}/payment"), None),
            (POST, format!("{base}/resubmission"), None),
        ]
    };
    for (token, id, state) in [(&draft_token, &draft, "draft"), (&paid_token, &paid, "submitted")] {
        for (method, path, body) in steps(id) {
            let (status, answer) = app.send(method.clone(), &path, token, body).await;
            assert_eq!((status, answer["code"].clone()), (409, json!("wrong_state")), "{method} {path}: {answer}");
            assert_eq!(answer["state"], state, "{method} {path}: {answer}");
        }
        for path in [
            format!("/api/v1/applications/{id}/documents/mother_id_front"),
            format!("/api/v1/applications/{id}/signature"),
        ] {
            let (status, answer) = app.upload(token, &path, png(), "x.png").await;
            assert_eq!((status, answer["state"].clone()), (409, json!(state)), "PUT {path}: {answer}");
        }
        assert_eq!(app.state_of(token, id).await, state, "nothing moved");
    }
    // The parents cannot be changed once the form is frozen, nor can a paid application be
    // withdrawn.
    let (status, answer) = app
        .send(
            PUT,
            &format!("/api/v1/applications/{paid}/parents"),
            &paid_token,
            Some(parents(&mother_id(), "resident_id", &father_id())),
        )
        .await;
    assert_eq!((status, answer["state"].clone()), (409, json!("submitted")), "{answer}");
    let (status, answer) = app.send(POST, &format!("/api/v1/applications/{paid}/withdrawal"), &paid_token, None).await;
    assert_eq!((status, answer["state"].clone()), (409, json!("submitted")), "{answer}");
    // The officer's steps out of order, on the draft.
    let officer = app.officer_token("PY-RMYY");
    for (path, body) in [
        (format!("/api/v1/officer/applications/{draft}/approval"), json!({})),
        (format!("/api/v1/officer/applications/{draft}/shipment"), json!({})),
        (format!("/api/v1/officer/applications/{draft}/return"), json!({"reasons": [{"code": "x", "message": "y"}]})),
    ] {
        let (status, answer) = app.send(POST, &path, &officer, Some(body)).await;
        assert_eq!((status, answer["state"].clone()), (409, json!("draft")), "{path}: {answer}");
    }
}

#[tokio::test]
async fn a_lost_parcel_that_turns_up_moves_only_its_own_shipment() {
    let app = spawn_app().await;
    app.stock("R370000300", "R370000302").await;
    let (token, app_id) = app.submitted().await;
    app.approve(&app_id, None).await;
    let lost = app.ship(&app_id).await;
    let sent = app.courier(&lost, json!({"event": "lost", "loss_certificate_no": "YS-2026-0099"})).await;
    assert_eq!(sent["status"], 200, "{sent}");
    // Before the reissue, the lost parcel's late news changes nothing either.
    let sent = app.courier(&lost, json!({"event": "in_transit"})).await;
    assert_eq!(sent["status"], 200, "{sent}");
    assert_eq!(app.state_of(&token, &app_id).await, "lost_in_transit");

    app.approve(&app_id, None).await;
    let reissued = app.ship(&app_id).await;
    assert_ne!(reissued, lost);
    let sent = app.courier(&lost, json!({"event": "delivered", "signed_by": "张伟"})).await;
    assert_eq!(sent["status"], 200, "recorded: {sent}");
    assert_eq!(app.state_of(&token, &app_id).await, "shipped", "the reissued certificate is still in the post");
    let officer = app.officer_token("PY-RMYY");
    let (_, detail) = app.send(GET, &format!("/api/v1/officer/applications/{app_id}"), &officer, None).await;
    let states: Vec<&str> =
        detail["certificates"].as_array().expect("certs").iter().map(|c| c["state"].as_str().unwrap_or("")).collect();
    assert_eq!(states, ["lost", "issued"]);
    assert_eq!(detail["shipment"]["tracking_number"], reissued.as_str());
    assert!(!app.events_of(&app_id).await.contains(&"delivered".to_string()), "the family is not told");

    // The label names the place as GB/T 2260 does.
    let orders = app.mock_get("/_mock/courier/orders").await;
    let labels: Vec<&str> =
        orders.as_array().expect("orders").iter().filter_map(|o| o["recipient"]["address"].as_str()).collect();
    assert!(labels.iter().all(|a| a.starts_with("山东省济南市平阴县")), "{labels:?}");
    let sent = app.courier(&reissued, json!({"event": "delivered", "signed_by": "张伟"})).await;
    assert_eq!(sent["status"], 200, "{sent}");
    assert_eq!(app.state_of(&token, &app_id).await, "delivered");
}

#[tokio::test]
async fn a_hand_held_photo_waits_for_the_officer_who_sees_it_and_accepts_or_refuses_it() {
    let app = spawn_app().await;
    app.stock("R370000400", "R370000401").await;
    let officer = app.officer_token("PY-RMYY");
    let (token, app_id) = app.application_with_parents().await;
    let base = format!("/api/v1/applications/{app_id}");
    assert_eq!(app.face(&token, &app_id, "mother").await.0, 200);
    let handheld = format!("{base}/identity/father/handheld-photo");
    assert_eq!(app.upload(&token, &handheld, photo(400, 500), "me.jpg").await.0, 201);
    for kind in ["mother_id_front", "mother_id_back", "father_id_front", "father_id_back"] {
        assert_eq!(app.upload(&token, &format!("{base}/documents/{kind}"), png(), "x.png").await.0, 201);
    }
    let (status, body) =
        app.send(POST, &format!("{base}/confirmation"), &token, Some(json!({"newborn_name": "张小满"}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.upload(&token, &format!("{base}/signature"), png(), "s.png").await.0, 200);
    let (status, _) = app.send(PUT, &format!("{base}/delivery-address"), &token,
        Some(json!({"recipient": "张伟", "phone": "13987654321", "region_code": "370124", "address": "平阴县榆山街道青龙路1号"}))).await;
    assert_eq!(status, 200);
    let (_, order) = app.send(POST, &format!("{base}/payment"), &token, None).await;
    app.mock_post(&format!("/_mock/pay/{}", order["out_trade_no"].as_str().expect("order")), &json!({})).await;
    assert_eq!(app.state_of(&token, &app_id).await, "submitted");

    // The officer sees how each parent was verified, and the photo itself.
    let detail_path = format!("/api/v1/officer/applications/{app_id}");
    let identity_of = |detail: &Value, role: &str| {
        detail["parents"].as_array().expect("parents").iter().find(|p| p["role"] == role).expect("parent")["identity"]
            .clone()
    };
    let (_, detail) = app.send(GET, &detail_path, &officer, None).await;
    assert_eq!(identity_of(&detail, "mother")["method"], "face");
    assert_eq!(identity_of(&detail, "father")["method"], "handheld_photo");
    assert_eq!(identity_of(&detail, "father")["status"], "awaiting_review");
    let res = app
        .client
        .get(app.url(&format!("{detail_path}/documents/father_handheld_photo")))
        .bearer_auth(&officer)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    // Another institution's officer does not see it; another family cannot send one for this case.
    let elsewhere = app.officer_token("PY-ZYY");
    let photo_path = format!("{detail_path}/documents/father_handheld_photo");
    assert_eq!(app.send(GET, &photo_path, &elsewhere, None).await.0, 404);
    let (stranger, _) = app.new_application().await;
    assert_eq!(app.upload(&stranger, &handheld, photo(400, 500), "me.jpg").await.0, 404);
    // While the case is with the officer the family cannot swap it.
    assert_eq!(app.upload(&token, &handheld, photo(400, 500), "me.jpg").await.0, 409);

    // Refused: the case goes back with the photo to redo; a new one, then resubmission.
    let (status, body) = app
        .send(
            POST,
            &format!("{detail_path}/return"),
            &officer,
            Some(json!({
            "reasons": [{"code": "handheld_unreadable", "message": "手持身份证照片看不清证件号码"}],
            "redo_documents": ["father_handheld_photo"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, detail) = app.send(GET, &detail_path, &officer, None).await;
    assert_eq!(identity_of(&detail, "father")["status"], "refused");
    let (status, _) = app
        .send(
            POST,
            &format!("{detail_path}/return"),
            &officer,
            Some(json!({
            "reasons": [{"code": "again", "message": "重复退回"}], "redo_documents": []})),
        )
        .await;
    assert_eq!(status, 409, "a returned case cannot be returned again");
    let resubmit = format!("{base}/resubmission");
    assert_eq!(app.send(POST, &resubmit, &token, None).await.1["code"], "documents_to_redo");
    assert_eq!(app.upload(&token, &handheld, photo(600, 800), "again.jpg").await.0, 201);
    assert_eq!(app.send(POST, &resubmit, &token, None).await.0, 200);

    // Accepted by approving the case.
    assert_eq!(app.approve(&app_id, None).await.0, 200);
    let (_, detail) = app.send(GET, &detail_path, &officer, None).await;
    assert_eq!(identity_of(&detail, "father")["status"], "accepted");
}

#[tokio::test]
async fn reading_the_queue_and_the_modification_requests_is_audited_and_a_refused_query_is_not() {
    let app = spawn_app().await;
    let officer = app.officer_token("PY-RMYY");
    let reads = || async {
        birthcert::persistence::audit::entries_about(&app.state.db, "institution", "PY-RMYY")
            .await
            .expect("audit")
            .into_iter()
            .map(|e| (e.action, e.actor_id))
            .collect::<Vec<_>>()
    };
    let (status, _) =
        app.send(reqwest::Method::GET, "/api/v1/officer/applications?state=nonsense", &officer, None).await;
    assert_eq!(status, 400);
    let (status, _) =
        app.send(reqwest::Method::GET, "/api/v1/officer/modification-requests?state=nonsense", &officer, None).await;
    assert_eq!(status, 400);
    assert!(reads().await.is_empty(), "nothing was read");

    let (status, _) = app.send(reqwest::Method::GET, "/api/v1/officer/applications?page=2", &officer, None).await;
    assert_eq!(status, 200);
    let (status, _) = app.send(reqwest::Method::GET, "/api/v1/officer/modification-requests", &officer, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        reads().await,
        vec![
            ("read_queue".to_string(), app.accounts["officer:PY-RMYY"].clone()),
            ("read_modification_requests".to_string(), app.accounts["officer:PY-RMYY"].clone())
        ]
    );
    // The institution's other officers see the same trail of who looked.
    let entries =
        birthcert::persistence::audit::entries_about(&app.state.db, "institution", "PY-RMYY").await.expect("audit");
    assert!(entries[0].detail.contains("\"page\":2"), "{}", entries[0].detail);
}

/// The images of a PDF as poppler's pdfimages lists them: (type, width, height) per image.
fn pdf_images(pdf: &[u8]) -> Vec<(String, u32, u32)> {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, pdf).expect("written");
    let out = std::process::Command::new("pdfimages")
        .arg("-list")
        .arg(&path)
        .output()
        .expect("pdfimages (poppler-utils) is installed: scripts/test installs it");
    assert!(out.status.success(), "pdfimages reads it: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(2)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((f.get(2)?.to_string(), f.get(3)?.parse().ok()?, f.get(4)?.parse().ok()?))
        })
        .collect()
}

#[tokio::test]
async fn the_certificate_prints_with_its_stub_and_the_seal_keeper_records_the_stamp() {
    let app = spawn_app().await;
    app.stock("R370000510", "R370000511").await;
    let (_, app_id) = app.submitted().await;
    app.approve(&app_id, None).await;
    let officer = app.officer_token("PY-RMYY");
    let print = "/api/v1/officer/certificates/R370000510/print.pdf";
    let res = app.client.get(app.url(print)).bearer_auth(&officer).send().await.expect("sent");
    assert_eq!((res.status().as_u16(), res.headers()["content-type"].to_str().ok()), (200, Some("application/pdf")));
    let pdf = res.bytes().await.expect("pdf");
    let text = pdf_text(&pdf);
    for expected in
        ["出生医学证明", "出生医学证明存根", "见证人签字", "R370000510", "张小满", "李梅", "张伟", "平阴县人民医院"]
    {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    let images = pdf_images(&pdf);
    assert!(
        images.iter().any(|(kind, w, h)| kind == "image" && *w > 1 && *h > 1),
        "the mother's signature is in the stub's witness box: {images:?}"
    );
    assert!(images.iter().all(|(kind, _, _)| kind != "smask"), "no soft mask a strict reader refuses: {images:?}");
    let (status, _) = app.send(GET, print, &app.officer_token("PY-ZYY"), None).await;
    assert_eq!(status, 404, "another institution's certificate");

    // Only the seal keeper records the stamp; once.
    let seal = "/api/v1/officer/certificates/R370000510/seal";
    let (status, body) = app.send(POST, seal, &officer, None).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("not_seal_keeper")), "{body}");
    let password = "seal keeper password";
    let added = app.command(
        &["officer", "add", "--institution", "PY-RMYY", "--username", "kong.seal", "--can-seal"],
        Some(password),
    );
    assert!(added.success, "{}", added.stderr);
    let res = app.post_json("/api/v1/officer/session", &json!({"username": "kong.seal", "password": password})).await;
    let keeper = res.json::<Value>().await.expect("json")["token"].as_str().expect("token").to_string();
    let (status, body) = app.send(POST, seal, &keeper, None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.send(POST, seal, &keeper, None).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("already_sealed")));
    let (_, detail) = app.send(GET, &format!("/api/v1/officer/applications/{app_id}"), &officer, None).await;
    assert!(detail["certificates"][0]["sealed_at"].is_string(), "{detail}");
    assert!(detail["timeline"].to_string().contains("certificate_sealed"));

    // A voided certificate neither prints nor takes the seal.
    let tracking = app.ship(&app_id).await;
    app.courier(&tracking, json!({"event": "delivered", "signed_by": "李梅"})).await;
    app.send(POST, "/api/v1/officer/certificates/R370000510/void", &officer, Some(json!({"reason": "打印错误"}))).await;
    assert_eq!(app.send(GET, print, &officer, None).await.0, 409);
    let (status, _) = app.send(POST, seal, &keeper, None).await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn a_misprint_is_voided_before_it_leaves_or_on_its_way_and_a_new_number_issued() {
    let app = spawn_app().await;
    app.stock("R370000520", "R370000523").await;
    let officer = app.officer_token("PY-RMYY");
    let (token, app_id) = app.submitted().await;
    app.approve(&app_id, None).await;
    let void = |number: &str| format!("/api/v1/officer/certificates/{number}/void");

    // Still in the office: voided at once, the next blank issued, the family told both.
    let (status, body) = app.send(POST, &void("R370000520"), &officer, Some(json!({"reason": "套打错位"}))).await;
    assert_eq!((status, body["certificate_number"].clone()), (200, json!("R370000521")), "{body}");
    assert_eq!(app.state_of(&token, &app_id).await, "issued");
    // A second misprint of the new one is its own move, with its own messages.
    let (status, body) = app.send(POST, &void("R370000521"), &officer, Some(json!({"reason": "姓名打印错误"}))).await;
    assert_eq!((status, body["certificate_number"].clone()), (200, json!("R370000522")), "{body}");
    assert_eq!(app.events_of(&app_id).await, ["submitted", "issued", "reissuing", "issued", "reissuing", "issued"]);

    // On its way: voided, reissued, posted again; the old parcel's later delivery moves only
    // that parcel.
    let first_parcel = app.ship(&app_id).await;
    let (status, body) = app.send(POST, &void("R370000522"), &officer, Some(json!({"reason": "出生时间有误"}))).await;
    assert_eq!((status, body["certificate_number"].clone()), (200, json!("R370000523")), "{body}");
    assert_eq!(app.state_of(&token, &app_id).await, "issued");
    let second_parcel = app.ship(&app_id).await;
    assert_ne!(first_parcel, second_parcel);
    app.courier(&first_parcel, json!({"event": "delivered", "signed_by": "李梅"})).await;
    assert_eq!(app.state_of(&token, &app_id).await, "shipped", "the voided parcel does not deliver the case");
    let (_, detail) = app.send(GET, &format!("/api/v1/officer/applications/{app_id}"), &officer, None).await;
    let states: Vec<_> = detail["certificates"].as_array().expect("list").iter().map(|c| c["state"].clone()).collect();
    assert_eq!(states, [json!("voided"), json!("voided"), json!("voided"), json!("issued")]);
    assert_eq!(detail["certificates"][0]["void_reason"], "套打错位");
    // Each voided paper is waste (废证) in the stock, with its reason; the one in force is issued.
    let stock = |n: &'static str| birthcert::persistence::certificates::stock_entry(&app.state.db, n);
    let voided = stock("R370000520").await.expect("read").expect("in stock");
    assert_eq!((voided.state.as_str(), voided.waste_reason.as_deref()), ("waste", Some("作废：套打错位")));
    assert_eq!(stock("R370000523").await.expect("read").expect("in stock").state.as_str(), "issued");
}

#[tokio::test]
async fn a_parcel_damaged_or_destroyed_is_reissued_like_a_lost_one_with_its_loss_certificate_kept() {
    let app = spawn_app().await;
    app.stock("R370000530", "R370000533").await;
    let officer = app.officer_token("PY-RMYY");
    let (token, app_id) = app.submitted().await;
    let loss_doc = format!("/api/v1/officer/applications/{app_id}/documents/loss_certificate");
    app.approve(&app_id, None).await;
    // Nothing was lost yet: there is no loss certificate to keep.
    let (status, body) = app.upload(&officer, &loss_doc, jpeg(), "loss.jpg").await;
    assert_eq!((status, body["code"].as_str()), (409, Some("no_loss")), "{body}");

    let tracking = app.ship(&app_id).await;
    let sent = app.courier(&tracking, json!({"event": "damaged"})).await;
    assert_eq!(sent["status"], 422, "a damaged parcel needs the courier's loss certificate number");
    let sent = app.courier(&tracking, json!({"event": "damaged", "loss_certificate_no": "YS-2026-0530"})).await;
    assert_eq!(sent["status"], 200, "{sent}");
    assert_eq!(app.state_of(&token, &app_id).await, "lost_in_transit");
    let (_, detail) = app.send(GET, &format!("/api/v1/officer/applications/{app_id}"), &officer, None).await;
    assert_eq!(detail["shipment"]["status"], "damaged");
    assert_eq!(detail["certificates"][0]["loss_certificate_no"], "YS-2026-0530");

    // The loss certificate's image: only a real image, only by this institution, then readable.
    let (status, _) = app.upload(&officer, &loss_doc, b"%PDF-1.4 not an image".to_vec(), "loss.pdf").await;
    assert_eq!(status, 415);
    let (status, _) = app.upload(&app.officer_token("PY-ZYY"), &loss_doc, jpeg(), "loss.jpg").await;
    assert_eq!(status, 404);
    // By POST, as by PUT.
    let (status, body) = app.upload_by(POST, &officer, &loss_doc, jpeg(), "loss.jpg").await;
    assert_eq!((status, body["kind"].as_str()), (201, Some("loss_certificate")), "{body}");
    let res = app.client.get(app.url(&loss_doc)).bearer_auth(&officer).send().await.expect("sent");
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.expect("bytes").to_vec(), jpeg(), "the image as uploaded");

    // Reissued with unchanged data; a destroyed parcel does the same.
    assert_eq!(app.approve(&app_id, None).await.1["certificate_number"], "R370000531");
    let tracking = app.ship(&app_id).await;
    app.courier(&tracking, json!({"event": "destroyed", "loss_certificate_no": "YS-2026-0531"})).await;
    assert_eq!(app.state_of(&token, &app_id).await, "lost_in_transit");
    assert_eq!(app.approve(&app_id, None).await.1["certificate_number"], "R370000532");
}

/// The files of a ZIP by name.
fn unzip(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).expect("entry");
            let mut data = Vec::new();
            f.read_to_end(&mut data).expect("read");
            (f.name().to_string(), data)
        })
        .collect()
}

#[tokio::test]
async fn a_case_archive_holds_every_filed_paper_with_a_manifest_of_checksums() {
    use sha2::Digest;
    let app = spawn_app().await;
    app.stock("R370000540", "R370000540").await;
    let officer = app.officer_token("PY-RMYY");
    let (_, app_id) = app.submitted().await;
    app.approve(&app_id, None).await;
    let path = format!("/api/v1/officer/applications/{app_id}/archive.zip");
    let res = app.client.get(app.url(&path)).bearer_auth(&officer).send().await.expect("sent");
    assert_eq!((res.status().as_u16(), res.headers()["content-type"].to_str().ok()), (200, Some("application/zip")));
    let files = unzip(&res.bytes().await.expect("zip"));
    for name in [
        "registration-form.pdf",
        "certificate-R370000540-issued.pdf",
        "documents/mother_id_front.png",
        "documents/father_id_back.png",
        "signature.png",
        "audit.json",
        "manifest.json",
    ] {
        assert!(files.contains_key(name), "{name} in {:?}", files.keys().collect::<Vec<_>>());
    }
    assert!(pdf_text(&files["certificate-R370000540-issued.pdf"]).contains("出生医学证明存根"));
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).expect("manifest");
    assert_eq!(manifest["application_id"], app_id.as_str());
    let listed = manifest["files"].as_array().expect("files");
    assert_eq!(listed.len(), files.len() - 1, "every file but the manifest itself");
    for f in listed {
        let bytes = &files[f["name"].as_str().expect("name")];
        assert_eq!(f["sha256"], hex::encode(sha2::Sha256::digest(bytes)), "{f}");
        assert_eq!(f["size"], bytes.len());
    }
    let audit = String::from_utf8(files["audit.json"].clone()).expect("utf-8");
    assert!(audit.contains("read_archive") && audit.contains("state_changed"), "{audit}");
    let (status, _) = app.send(GET, &path, &app.officer_token("PY-ZYY"), None).await;
    assert_eq!(status, 404, "another institution's case");

    // The month's archives, as the operator exports them.
    let out = tempfile::tempdir().expect("dir");
    let month = birthcert::domain::working_days::to_china(chrono::Utc::now()).format("%Y-%m").to_string();
    let done =
        app.command(&["archive", "export", "--month", &month, "--out", out.path().to_str().expect("path")], None);
    assert!(done.success, "{}", done.stderr);
    let zip = std::fs::read(out.path().join("PY-RMYY").join(format!("{app_id}.zip"))).expect("the case's zip");
    assert!(unzip(&zip).contains_key("manifest.json"));
    let bad = app.command(&["archive", "export", "--month", "2026-13", "--out", out.path().to_str().expect("p")], None);
    assert!(!bad.success && bad.stderr.contains("YYYY-MM"), "{}", bad.stderr);
}

#[tokio::test]
async fn the_printed_qr_address_tells_anyone_whether_the_certificate_is_valid_or_void() {
    let app = spawn_app().await;
    app.stock("R370000550", "R370000551").await;
    let officer = app.officer_token("PY-RMYY");
    let (_, app_id) = app.submitted().await;
    app.approve(&app_id, None).await;
    let res = app
        .client
        .get(app.url("/api/v1/officer/certificates/R370000550/print.pdf"))
        .bearer_auth(&officer)
        .send()
        .await
        .expect("sent");
    let pdf = res.bytes().await.expect("pdf");
    let text = pdf_text(&pdf);
    let at = text.find("/v/").expect("the check's address is printed beside the QR code") + 3;
    let token: String = text[at..].chars().take_while(|c| !c.is_whitespace()).collect();
    assert!(token.starts_with("R370000550."), "{token}");
    assert_eq!(pdf_images(&pdf).iter().filter(|(kind, w, h)| kind == "image" && w == h).count(), 1, "the QR code");

    let check = |token: String| {
        let app = &app;
        async move {
            let res = app.client.get(app.url(&format!("/v/{token}"))).header("Accept", "application/json").send().await;
            let res = res.expect("sent");
            (res.status().as_u16(), res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, view) = check(token.clone()).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        (view["status"].as_str(), view["certificate_number"].as_str(), view["newborn_name_masked"].as_str()),
        (Some("valid"), Some("R370000550"), Some("张**"))
    );
    assert_eq!(view["institution"], "平阴县人民医院");
    let page = app.get(&format!("/v/{token}")).await.text().await.expect("page");
    assert!(page.contains("有效") && !page.contains("张小满"), "a page for a phone, the name masked");

    // A forged tag, another number under this tag, or nonsense: not found, all the same.
    let mut forged = token.clone();
    let last = forged.pop().expect("a char");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let other = token.replacen("R370000550", "R370000551", 1);
    for bad in [forged, other, "R370000550".into(), "x.y".into()] {
        assert_eq!(check(bad.clone()).await.0, 404, "{bad}");
    }

    // Voided, it says so.
    let tracking = app.ship(&app_id).await;
    app.courier(&tracking, json!({"event": "delivered", "signed_by": "李梅"})).await;
    app.send(POST, "/api/v1/officer/certificates/R370000550/void", &officer, Some(json!({"reason": "打印错误"}))).await;
    assert_eq!(check(token.clone()).await.1["status"], "void");

    // Asked too often from one address: 429.
    let mut last = 0;
    for _ in 0..birthcert::services::issuing::authenticity::CHECKS_PER_MINUTE {
        last = check(token.clone()).await.0;
    }
    assert_eq!(last, 429);
}
