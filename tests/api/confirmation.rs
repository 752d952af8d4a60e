//! From uploaded documents to the address: form, modification request, confirmation with the
//! newborn's name, the mother's e-signature, and the courier fee.

use serde_json::json;

use crate::helpers::{father_id, mother_id, parents, png, spawn_app};

#[tokio::test]
async fn the_form_shows_the_hospital_record_and_both_parents_masked() {
    let app = spawn_app().await;
    let (token, app_id) = app.documents_uploaded().await;
    let (status, body) =
        app.send(reqwest::Method::GET, &format!("/api/v1/applications/{app_id}/registration-form"), &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["frozen"], false);
    let form = &body["form"];
    assert_eq!(form["mother"]["name"], "李梅");
    assert_eq!(form["father"]["name"], "张伟");
    assert_eq!(form["mother"]["age"], 31);
    assert_eq!(form["weight_g"], 3300);
    assert_eq!(form["issuing_institution"], "平阴县人民医院");
    assert!(form["birth_at"].as_str().expect("time").contains('年'));
    assert!(!body.to_string().contains(&mother_id()) && !body.to_string().contains(&father_id()));
}

#[tokio::test]
async fn confirmation_checks_the_name_freezes_the_form_and_nothing_changes_afterwards() {
    let app = spawn_app().await;
    let (token, app_id) = app.documents_uploaded().await;
    let confirm = |name: &'static str| {
        let app = &app;
        let token = token.clone();
        let path = format!("/api/v1/applications/{app_id}/confirmation");
        async move { app.send(reqwest::Method::POST, &path, &token, Some(json!({"newborn_name": name}))).await }
    };
    let (status, body) = confirm("赵小明").await;
    assert_eq!((status, body["code"].clone()), (422, json!("third_surname")));
    let (status, body) = confirm("张Xiao明").await;
    assert_eq!((status, body["code"].clone()), (422, json!("invalid_name")));
    assert_eq!(app.state_of(&token, &app_id).await, "documents_uploaded", "a refused name changes nothing");

    let (status, body) = confirm("李小满").await;
    assert_eq!(status, 200, "{body}");
    let digest = body["form_digest"].as_str().expect("digest").to_string();
    assert_eq!(digest.len(), 64);
    assert_eq!(app.state_of(&token, &app_id).await, "confirmed");

    let (_, form) =
        app.send(reqwest::Method::GET, &format!("/api/v1/applications/{app_id}/registration-form"), &token, None).await;
    assert_eq!(form["frozen"], true);
    assert_eq!(form["form_digest"], digest.as_str());
    assert_eq!(form["form"]["newborn_name"], "李小满");
    // The digest is over the stored snapshot.
    let (snapshot, stored_digest) =
        birthcert::persistence::applications::frozen_form(&app.state.db, &app_id).await.expect("q").expect("frozen");
    // Stored sealed: the parents' ID numbers are not in the database in clear.
    assert!(snapshot.starts_with("sealed:v1:") && !snapshot.contains(&mother_id()), "{snapshot}");
    let parsed: birthcert::domain::registration_form::RegistrationForm =
        serde_json::from_str(&app.state.cipher.open_form(&snapshot).expect("opens")).expect("snapshot");
    assert_eq!(parsed.digest(), stored_digest);
    assert_eq!(stored_digest, digest);

    // Frozen: no second confirmation, no new parents, no new documents.
    assert_eq!(confirm("张小明").await.0, 409);
    let (status, _) = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/applications/{app_id}/parents"),
            &token,
            Some(parents(&mother_id(), "resident_id", &father_id())),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) =
        app.upload(&token, &format!("/api/v1/applications/{app_id}/documents/mother_id_front"), png(), "x.png").await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn a_modification_request_holds_the_application_for_the_officer() {
    let app = spawn_app().await;
    let (token, app_id) = app.documents_uploaded().await;
    let path = format!("/api/v1/applications/{app_id}/modification-requests");
    let (status, body) = app
        .send(
            reqwest::Method::POST,
            &path,
            &token,
            Some(json!({"items": [{"field": "favourite_colour", "requested": "x", "reason": "y"}]})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["fields"][0]["code"], "not_modifiable");
    let (status, _) = app.send(reqwest::Method::POST, &path, &token, Some(json!({"items": []}))).await;
    assert_eq!(status, 422);
    let (status, body) = app
        .send(
            reqwest::Method::POST,
            &path,
            &token,
            Some(json!({"items": [{"field": "weight_g", "requested": "3350", "reason": "医院称重记录为3350克"}]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(app.state_of(&token, &app_id).await, "modification_requested");
    let (status, _) = app
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/applications/{app_id}/confirmation"),
            &token,
            Some(json!({"newborn_name": "张小明"})),
        )
        .await;
    assert_eq!(status, 409, "confirmation waits for the officer's decision");
}

#[tokio::test]
async fn signature_then_address_with_the_regional_fee() {
    let app = spawn_app().await;
    let (token, app_id) = app.documents_uploaded().await;
    let sig = format!("/api/v1/applications/{app_id}/signature");
    let addr = format!("/api/v1/applications/{app_id}/delivery-address");
    let address = |region: &str| json!({"recipient": "张伟", "phone": "13987654321", "region_code": region, "address": "平阴县榆山街道青龙路1号"});
    assert_eq!(app.upload(&token, &sig, png(), "s.png").await.0, 409, "sign after confirming");
    assert_eq!(
        app.send(reqwest::Method::PUT, &addr, &token, Some(address("370124"))).await.0,
        409,
        "address after signing"
    );

    app.send(
        reqwest::Method::POST,
        &format!("/api/v1/applications/{app_id}/confirmation"),
        &token,
        Some(json!({"newborn_name": "张小明"})),
    )
    .await;
    let (status, _) = app.upload(&token, &sig, vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4, 5, 6], "s.jpg").await;
    assert_eq!(status, 415, "the signature is a PNG");
    let (status, body) = app.upload(&token, &sig, png(), "s.png").await;
    assert_eq!(status, 200, "{body}");
    let (_, form) =
        app.send(reqwest::Method::GET, &format!("/api/v1/applications/{app_id}/registration-form"), &token, None).await;
    assert_eq!(body["form_digest"], form["form_digest"], "the signature is bound to the frozen form");
    assert_eq!(app.state_of(&token, &app_id).await, "signed");

    let (status, body) = app
        .send(
            reqwest::Method::PUT,
            &addr,
            &token,
            Some(json!({"recipient": "", "phone": "123", "region_code": "37", "address": "x"})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["fields"].as_array().expect("fields").len(), 3, "recipient, phone, address: {body}");
    // Only a county-level code of GB/T 2260 is a destination.
    for code in ["37", "999999", "370100", "370000", "37012a", "370124 "] {
        let (status, body) = app.send(reqwest::Method::PUT, &addr, &token, Some(address(code))).await;
        let expected = if code == "370124 " { 200 } else { 400 };
        assert_eq!(status, expected, "{code:?}: {body}");
        if expected == 400 {
            assert_eq!(body["code"], "unknown_region", "{code:?}");
        }
    }
    let (status, body) = app.send(reqwest::Method::PUT, &addr, &token, Some(address("650102"))).await;
    assert_eq!((status, body["courier_fee_fen"].clone()), (200, json!(2600)));
    assert_eq!(body["region"]["province"], "新疆维吾尔自治区");
    assert_eq!(body["region"]["county"], "天山区");
    let (_, body) = app.send(reqwest::Method::PUT, &addr, &token, Some(address("370124"))).await;
    assert_eq!(body["courier_fee_fen"], 1800);
    let (_, view) = app.send(reqwest::Method::GET, &format!("/api/v1/applications/{app_id}"), &token, None).await;
    assert!(!view.to_string().contains("13987654321"));
}

#[tokio::test]
async fn eligibility_is_checked_again_at_confirmation() {
    let app = spawn_app().await;
    let officer = app.officer_token("PY-RMYY");
    let (token, app_id) = app.documents_uploaded().await;
    // The hospital's record is corrected to another mother's name through an approved request.
    let (status, _) = app
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/applications/{app_id}/modification-requests"),
            &token,
            Some(json!({"items": [{"field": "mother_name", "requested": "李梅梅", "reason": "登记时少写一字"}]})),
        )
        .await;
    assert_eq!(status, 201);
    let (_, pending) =
        app.send(reqwest::Method::GET, "/api/v1/officer/modification-requests?state=pending", &officer, None).await;
    let id = pending[0]["id"].as_str().expect("request").to_string();
    let decide = format!("/api/v1/officer/modification-requests/{id}/decision");
    let (status, body) =
        app.send(reqwest::Method::POST, &decide, &officer, Some(json!({"approved": true, "note": "已核对"}))).await;
    assert_eq!(status, 200, "{body}");

    let confirm = format!("/api/v1/applications/{app_id}/confirmation");
    let (status, body) =
        app.send(reqwest::Method::POST, &confirm, &token, Some(json!({"newborn_name": "张小满"}))).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("not_eligible")), "{body}");
    assert_eq!(body["reasons"][0]["code"], "mother_mismatch", "{body}");
    assert_eq!(app.state_of(&token, &app_id).await, "documents_uploaded", "nothing frozen");

    // The family enters the mother as the record now has her; the rules pass again.
    let mut parents = parents(&mother_id(), "resident_id", &father_id());
    parents["mother"]["name"] = json!("李梅梅");
    let path = format!("/api/v1/applications/{app_id}/parents");
    let (status, body) = app.send(reqwest::Method::PUT, &path, &token, Some(parents)).await;
    assert_eq!((status, body["eligibility"]["eligible"].as_bool()), (200, Some(true)), "{body}");
}

#[tokio::test]
async fn a_modification_request_is_due_in_two_working_days_and_counted_when_overdue() {
    let app = spawn_app().await;
    let officer = app.officer_token("PY-RMYY");
    let (token, app_id) = app.documents_uploaded().await;
    let items = json!({"items": [{"field": "length_cm", "requested": "51", "reason": "测量有误"}]});
    let path = format!("/api/v1/applications/{app_id}/modification-requests");
    assert_eq!(app.send(reqwest::Method::POST, &path, &token, Some(items)).await.0, 201);
    let (_, list) = app.send(reqwest::Method::GET, "/api/v1/officer/modification-requests", &officer, None).await;
    let due = chrono::DateTime::parse_from_rfc3339(list[0]["due_at"].as_str().expect("due_at")).expect("time");
    // Two working days, exactly as a review submitted now would be due (the calendar's rule).
    let review = birthcert::services::lifecycle::review_deadline(&app.state.db, &app.state.calendar, "PY-RMYY")
        .await
        .expect("deadline");
    assert_eq!(due.with_timezone(&chrono::Utc), review, "{list}");
    assert_eq!(list[0]["overdue"], false);
    let (_, stats) = app.send(reqwest::Method::GET, "/api/v1/officer/stats", &officer, None).await;
    assert_eq!(stats["modifications_overdue"], 0);

    // Past its deadline and still pending: flagged in the list and counted in the stats.
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    app.set_column("modification_requests", "due_at", past, &format!("application_id = '{app_id}'")).await;
    let (_, list) = app.send(reqwest::Method::GET, "/api/v1/officer/modification-requests", &officer, None).await;
    assert_eq!(list[0]["overdue"], true, "{list}");
    let (_, stats) = app.send(reqwest::Method::GET, "/api/v1/officer/stats", &officer, None).await;
    assert_eq!(stats["modifications_overdue"], 1, "{stats}");
    // The officer's queue of cases waiting for that decision marks it overdue, with its deadline.
    let queue = "/api/v1/officer/applications?state=modification_requested";
    let (_, page) = app.send(reqwest::Method::GET, queue, &officer, None).await;
    assert_eq!(
        (page["items"][0]["id"].as_str(), page["items"][0]["overdue"].as_bool()),
        (Some(app_id.as_str()), Some(true))
    );
    assert!(page["items"][0]["review_due_at"].is_string(), "{page}");
    // Decided, it is no longer overdue.
    let id = list[0]["id"].as_str().expect("id");
    let decide = format!("/api/v1/officer/modification-requests/{id}/decision");
    app.send(reqwest::Method::POST, &decide, &officer, Some(json!({"approved": false, "note": "与原始记录一致"})))
        .await;
    let (_, stats) = app.send(reqwest::Method::GET, "/api/v1/officer/stats", &officer, None).await;
    assert_eq!(stats["modifications_overdue"], 0);
}
