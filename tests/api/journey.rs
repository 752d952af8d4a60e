//! The parent's journey so far: health card, delivery records, application, parents and
//! eligibility, withdrawal, the application view — with ownership and masking.

use birthcert::persistence::parents;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use crate::helpers::{father_id, id, mother_id, parents, spawn_app, MOTHER};

#[tokio::test]
async fn health_card_binds_once_with_masked_details() {
    let app = spawn_app().await;
    let (token, card_id) = app.parent_with_card(MOTHER, &mother_id()).await;
    let (status, list) = app.send(reqwest::Method::GET, "/api/v1/health-cards", &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["id"], card_id.as_str());
    assert_eq!(list[0]["name_masked"], "李*");
    assert_eq!(list[0]["id_number_masked"], "3701**********0021".replace("0021", &mother_id()[14..]));
    assert!(!list.to_string().contains(&mother_id()));

    let (status, body) =
        app.send(reqwest::Method::POST, "/api/v1/health-cards", &token, Some(json!({"health_code": "nope"}))).await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "invalid_health_code");

    // Someone else sees none of it.
    let other = app.wechat_user(false).await;
    let (other_token, _) = app.login(other["code"].as_str().expect("code")).await;
    let (_, list) = app.send(reqwest::Method::GET, "/api/v1/health-cards", &other_token, None).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn a_used_health_code_is_refused() {
    let app = spawn_app().await;
    let user = app.wechat_user(false).await;
    let (token, _) = app.login(user["code"].as_str().expect("code")).await;
    let code = app.mock_post("/_mock/health-cards", &json!({"name": MOTHER, "id_number": mother_id()})).await;
    let body = json!({"health_code": code["health_code"]});
    assert_eq!(app.send(reqwest::Method::POST, "/api/v1/health-cards", &token, Some(body.clone())).await.0, 201);
    let (status, answer) = app.send(reqwest::Method::POST, "/api/v1/health-cards", &token, Some(body)).await;
    assert_eq!(status, 422);
    assert_eq!(answer["code"], "invalid_health_code");
    let unknown = json!({"health_code": "HC-never-issued"});
    let (status, answer) = app.send(reqwest::Method::POST, "/api/v1/health-cards", &token, Some(unknown)).await;
    assert_eq!((status, answer["code"].clone()), (422, json!("invalid_health_code")));
}

#[tokio::test]
async fn deliveries_are_those_of_the_cards_mother_only() {
    let app = spawn_app().await;
    let mine = app.seed_delivery(MOTHER, &mother_id()).await;
    app.seed_delivery("王芳", &id("37012419960101002")).await;
    let (token, card_id) = app.parent_with_card(MOTHER, &mother_id()).await;
    let (status, list) =
        app.send(reqwest::Method::GET, &format!("/api/v1/deliveries?health_card_id={card_id}"), &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().expect("list").len(), 1);
    assert_eq!(list[0]["id"], mine.as_str());
    assert_eq!(list[0]["institution"]["name"], "平阴县人民医院");
    assert!(list[0]["birth_at"].as_str().expect("time").ends_with("+08:00"));

    let other = app.wechat_user(false).await;
    let (other_token, _) = app.login(other["code"].as_str().expect("code")).await;
    let (status, _) = app
        .send(reqwest::Method::GET, &format!("/api/v1/deliveries?health_card_id={card_id}"), &other_token, None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn one_live_application_per_delivery_and_none_after_a_certificate() {
    let app = spawn_app().await;
    let delivery = app.seed_delivery(MOTHER, &mother_id()).await;
    let (token, card_id) = app.parent_with_card(MOTHER, &mother_id()).await;
    let new = json!({"delivery_id": delivery, "health_card_id": card_id, "claimant_relation": "mother"});
    let (status, first) = app.send(reqwest::Method::POST, "/api/v1/applications", &token, Some(new.clone())).await;
    assert_eq!(status, 201);
    assert_eq!(first["state"], "draft");
    let (status, again) = app.send(reqwest::Method::POST, "/api/v1/applications", &token, Some(new.clone())).await;
    assert_eq!(status, 409);
    assert_eq!(again["code"], "application_exists");

    let first_id = first["id"].as_str().expect("id");
    let (status, withdrawn) =
        app.send(reqwest::Method::POST, &format!("/api/v1/applications/{first_id}/withdrawal"), &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(withdrawn["state"], "withdrawn");
    let (status, _) =
        app.send(reqwest::Method::POST, &format!("/api/v1/applications/{first_id}/withdrawal"), &token, None).await;
    assert_eq!(status, 409, "withdrawing twice is out of order");
    let (status, second) = app.send(reqwest::Method::POST, "/api/v1/applications", &token, Some(new.clone())).await;
    assert_eq!(status, 201);

    // A certificate for this birth ends online first issuance.
    let second_id = second["id"].as_str().expect("id");
    app.state
        .db
        .execute_unprepared(&format!(
            "INSERT INTO certificate_stock (number, institution_code, state, received_by, received_at) VALUES ('R370000001', 'PY-RMYY', 'issued', 'a', '2026-11-26T10:00:00+08:00'); \
             INSERT INTO certificates (id, number, application_id, institution_code, state, issued_by, issued_at) VALUES ('c1', 'R370000001', '{second_id}', 'PY-RMYY', 'issued', 'o', '2026-11-26T10:00:00+08:00'); \
             UPDATE applications SET state = 'withdrawn' WHERE id = '{second_id}'"
        ))
        .await
        .expect("certificate");
    let (status, body) = app.send(reqwest::Method::POST, "/api/v1/applications", &token, Some(new)).await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "not_first_issuance");
}

#[tokio::test]
async fn bad_application_requests() {
    let app = spawn_app().await;
    let delivery = app.seed_delivery(MOTHER, &mother_id()).await;
    let other_delivery = app.seed_delivery("王芳", &id("37012419960101002")).await;
    let (token, card_id) = app.parent_with_card(MOTHER, &mother_id()).await;
    let (status, body) = app
        .send(
            reqwest::Method::POST,
            "/api/v1/applications",
            &token,
            Some(json!({"delivery_id": delivery, "health_card_id": card_id, "claimant_relation": "uncle"})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["fields"][0]["field"], "claimant_relation");
    let (status, _) = app
        .send(
            reqwest::Method::POST,
            "/api/v1/applications",
            &token,
            Some(json!({"delivery_id": other_delivery, "health_card_id": card_id, "claimant_relation": "mother"})),
        )
        .await;
    assert_eq!(status, 404, "another mother's delivery record is not reachable");
    let (status, _) = app
        .send(
            reqwest::Method::POST,
            "/api/v1/applications",
            &token,
            Some(json!({"delivery_id": delivery, "health_card_id": "nope", "claimant_relation": "mother"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .send(
            reqwest::Method::POST,
            "/api/v1/applications",
            "not-a-token",
            Some(json!({"delivery_id": delivery, "health_card_id": card_id, "claimant_relation": "mother"})),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn eligible_parents_move_the_application_on_and_the_view_shows_it_masked() {
    let app = spawn_app().await;
    let (token, app_id) = app.new_application().await;
    let (status, body) = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/applications/{app_id}/parents"),
            &token,
            Some(parents(&mother_id(), "resident_id", &father_id())),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["eligibility"]["eligible"], true);
    assert_eq!(body["eligibility"]["reasons"], json!([]));
    assert_eq!(body["application"]["state"], "parents_entered");

    // Parents stay editable until confirmation.
    let (status, body) = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/applications/{app_id}/parents"),
            &token,
            Some(parents(&mother_id(), "resident_id", &father_id())),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["application"]["state"], "parents_entered");

    let res = app
        .client
        .get(app.url(&format!("/api/v1/applications/{app_id}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    let text = res.text().await.expect("text");
    assert!(!text.contains(&mother_id()) && !text.contains(&father_id()) && !text.contains("13812345678"), "{text}");
    let view: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(view["steps"][0], json!({"step": "parents", "done": true}));
    assert_eq!(view["steps"][1], json!({"step": "identity", "done": false}));
    let kinds: Vec<&str> =
        view["timeline"].as_array().expect("timeline").iter().map(|e| e["kind"].as_str().expect("kind")).collect();
    assert_eq!(kinds, ["created", "state_changed", "parents_updated"]);
    assert!(view["state_description"].as_str().expect("text").contains("人脸识别"));

    // The stored numbers are ciphertext.
    let stored = parents::parents(&app.state.db, &app_id).await.expect("parents");
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|p| !p.id_number.sealed.ciphertext.contains("370124")));
}

#[tokio::test]
async fn failed_rules_are_all_reported_and_the_application_becomes_ineligible() {
    let app = spawn_app().await;
    let (token, app_id) = app.new_application().await;
    let mut body = parents(&id("37012419950310004"), "hk_macao_permit", "H12345678");
    body["mother"]["name"] = json!("李美");
    let (status, answer) =
        app.send(reqwest::Method::PUT, &format!("/api/v1/applications/{app_id}/parents"), &token, Some(body)).await;
    assert_eq!(status, 200);
    assert_eq!(answer["eligibility"]["eligible"], false);
    let codes: Vec<&str> = answer["eligibility"]["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| r["code"].as_str().expect("code"))
        .collect();
    assert_eq!(codes, ["parent_not_mainland_resident", "mother_mismatch"]);
    assert!(answer["eligibility"]["reasons"][0]["message"].as_str().expect("m").contains("现场"));
    assert_eq!(answer["application"]["state"], "ineligible");
    assert_eq!(
        answer["application"]["eligibility_reasons"],
        json!(["parent_not_mainland_resident", "mother_mismatch"])
    );

    let (status, answer) = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/applications/{app_id}/parents"),
            &token,
            Some(parents(&mother_id(), "resident_id", &father_id())),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(answer["code"], "wrong_state");
}

#[tokio::test]
async fn a_single_parent_is_told_to_apply_on_site() {
    let app = spawn_app().await;
    let (token, app_id) = app.new_application().await;
    let mut body = parents(&mother_id(), "resident_id", &father_id());
    body.as_object_mut().expect("object").remove("father");
    let (_, answer) =
        app.send(reqwest::Method::PUT, &format!("/api/v1/applications/{app_id}/parents"), &token, Some(body)).await;
    assert_eq!(answer["eligibility"]["reasons"][0]["code"], "single_parent");
}

#[tokio::test]
async fn invalid_parent_input_is_422_and_changes_nothing() {
    let app = spawn_app().await;
    let (token, app_id) = app.new_application().await;
    let mut body = parents(&mother_id(), "resident_id", &father_id());
    let good = mother_id();
    let wrong_check = if good.ends_with('1') { '2' } else { '1' };
    body["mother"]["id_number"] = json!(format!("{}{wrong_check}", &good[..17]));
    body["father"]["phone"] = json!("12345");
    body["father"]["id_type"] = json!("driver_licence");
    let (status, answer) =
        app.send(reqwest::Method::PUT, &format!("/api/v1/applications/{app_id}/parents"), &token, Some(body)).await;
    assert_eq!(status, 422);
    assert_eq!(answer["code"], "validation_failed");
    let fields: Vec<(String, String)> = answer["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| (f["field"].as_str().expect("f").to_string(), f["code"].as_str().expect("c").to_string()))
        .collect();
    assert!(fields.contains(&("mother.id_number".into(), "checksum".into())), "{fields:?}");
    assert!(fields.contains(&("father.phone".into(), "format".into())), "{fields:?}");
    assert!(fields.contains(&("father.id_type".into(), "unknown".into())), "{fields:?}");
    assert!(parents::parents(&app.state.db, &app_id).await.expect("parents").is_empty());
    let (_, view) = app.send(reqwest::Method::GET, &format!("/api/v1/applications/{app_id}"), &token, None).await;
    assert_eq!(view["state"], "draft");
}

#[tokio::test]
async fn another_users_application_is_not_found_everywhere() {
    let app = spawn_app().await;
    let (_, app_id) = app.new_application().await;
    let other = app.wechat_user(false).await;
    let (other_token, _) = app.login(other["code"].as_str().expect("code")).await;
    for (method, path, body) in [
        (reqwest::Method::GET, format!("/api/v1/applications/{app_id}"), None),
        (
            reqwest::Method::PUT,
            format!("/api/v1/applications/{app_id}/parents"),
            Some(parents(&mother_id(), "resident_id", &father_id())),
        ),
        (reqwest::Method::POST, format!("/api/v1/applications/{app_id}/withdrawal"), None),
    ] {
        let (status, _) = app.send(method.clone(), &path, &other_token, body).await;
        assert_eq!(status, 404, "{method} {path}");
    }
    let (_, list) = app.send(reqwest::Method::GET, "/api/v1/applications", &other_token, None).await;
    assert_eq!(list, json!([]));
    // An officer token is the wrong role for applicant endpoints.
    let officer = app.officer_token("PY-RMYY");
    assert_eq!(app.send(reqwest::Method::GET, "/api/v1/applications", &officer, None).await.0, 403);
}

#[tokio::test]
async fn an_idempotency_key_returns_the_first_answer_without_a_second_effect() {
    let app = spawn_app().await;
    let delivery = app.seed_delivery(MOTHER, &mother_id()).await;
    let (token, card_id) = app.parent_with_card(MOTHER, &mother_id()).await;
    let body = json!({"delivery_id": delivery, "health_card_id": card_id, "claimant_relation": "mother"});
    let post = |key: &'static str, body: Value| {
        let app = &app;
        let token = token.clone();
        async move {
            let res = app
                .client
                .post(app.url("/api/v1/applications"))
                .bearer_auth(&token)
                .header("Idempotency-Key", key)
                .json(&body)
                .send()
                .await
                .expect("sent");
            let replayed = res.headers().get("idempotent-replayed").is_some();
            (res.status().as_u16(), replayed, res.json::<Value>().await.expect("json"))
        }
    };
    let (s1, r1, first) = post("k-1", body.clone()).await;
    let (s2, r2, second) = post("k-1", body.clone()).await;
    assert_eq!((s1, r1, s2, r2), (201, false, 201, true));
    assert_eq!(first["id"], second["id"]);
    let (_, list) = app.send(reqwest::Method::GET, "/api/v1/applications", &token, None).await;
    assert_eq!(list.as_array().expect("list").len(), 1, "one application, not two");

    let mut other = body.clone();
    other["claimant_relation"] = json!("father");
    let (status, _, answer) = post("k-1", other).await;
    assert_eq!(status, 422);
    assert_eq!(answer["code"], "idempotency_key_reused");
    // Without a key, the duplicate is refused by the rules.
    let (status, _) = app.send(reqwest::Method::POST, "/api/v1/applications", &token, Some(body)).await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn subscription_consent_is_recorded_for_our_templates_only() {
    let app = spawn_app().await;
    let (token, app_id) = app.new_application().await;
    let path = format!("/api/v1/applications/{app_id}/subscriptions");
    let (status, body) = app
        .send(
            reqwest::Method::POST,
            &path,
            &token,
            Some(json!({"accepted_template_ids": ["TPL_SUBMITTED", "SOMEONE_ELSES"]})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["fields"][0]["field"], "accepted_template_ids[1]");
    let (status, body) = app
        .send(
            reqwest::Method::POST,
            &path,
            &token,
            Some(json!({"accepted_template_ids": ["TPL_SUBMITTED", "TPL_ISSUED"]})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["accepted"], json!(["TPL_SUBMITTED", "TPL_ISSUED"]));
    let user_id = app.state.jwt.verify(&token).expect("token").sub;
    let consent =
        birthcert::persistence::users::consent_status(&app.state.db, &user_id, "TPL_ISSUED").await.expect("q");
    assert_eq!(consent.as_deref(), Some("accept"));
}

/// A cached health-card token the platform no longer accepts (it restarted, or revoked it) is
/// replaced once, and the parent never notices.
#[tokio::test]
async fn a_stale_health_card_token_is_replaced_and_the_binding_goes_through() {
    let app = spawn_app().await;
    let key = format!("health_card:app_token:{}", app.state.settings.health_card.app_id);
    app.state.kv.set(&key, "token-from-before-the-restart", std::time::Duration::from_secs(3600)).await.expect("kv");
    let (_token, card_id) = app.parent_with_card(MOTHER, &mother_id()).await;
    assert!(!card_id.is_empty());
    let cached = app.state.kv.get(&key).await.expect("kv").expect("a token is cached");
    assert_ne!(cached, "token-from-before-the-restart");
}
