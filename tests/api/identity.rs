//! Face verification, the father's hand-held photo, and the ID documents.

use serde_json::{json, Value};

use crate::helpers::{jpeg, mother_id, photo, png, png_with, spawn_app, FATHER_NAME};

#[tokio::test]
async fn both_parents_pass_face_verification_and_identity_is_complete() {
    let app = spawn_app().await;
    let (token, app_id) = app.application_with_parents().await;
    let (status, body) = app.face(&token, &app_id, "mother").await;
    assert_eq!((status, body["verified"].clone()), (200, json!(true)));
    assert_eq!(app.state_of(&token, &app_id).await, "parents_entered");
    let (status, _) = app.face(&token, &app_id, "mother").await;
    assert_eq!(status, 409, "already verified");
    let (status, _) = app.face(&token, &app_id, "father").await;
    assert_eq!(status, 200);
    assert_eq!(app.state_of(&token, &app_id).await, "identity_verified");
    let (status, _) = app.face(&token, &app_id, "grandma").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_father_may_use_a_hand_held_photo_once_the_mother_passed() {
    let app = spawn_app().await;
    let (token, app_id) = app.application_with_parents().await;
    let path = format!("/api/v1/applications/{app_id}/identity/father/handheld-photo");
    let (status, body) = app.upload(&token, &path, jpeg(), "me.jpg").await;
    assert_eq!(status, 409);
    assert_eq!(body["code"], "mother_not_verified");
    app.face(&token, &app_id, "mother").await;
    // It must be a whole image an officer can read: not a body that only starts like a JPEG,
    // not a thumbnail. Refused uploads change nothing.
    let only_starts_like_a_jpeg = [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[1u8; 128]].concat();
    let (status, body) = app.upload(&token, &path, only_starts_like_a_jpeg, "me.jpg").await;
    assert_eq!((status, body["code"].as_str()), (415, Some("unsupported_media_type")), "{body}");
    let (status, body) = app.upload(&token, &path, photo(299, 600), "me.jpg").await;
    assert_eq!((status, body["code"].as_str()), (422, Some("image_too_small")), "{body}");
    // A few bytes that claim more pixels on a side than any photo has (a decompression bomb's
    // shape) are refused from the header, before anything is unpacked.
    let mut wide = std::io::Cursor::new(Vec::new());
    image::DynamicImage::new_luma8(birthcert::blobs::MAX_SIDE + 1, 1)
        .write_to(&mut wide, image::ImageOutputFormat::Png)
        .expect("png");
    let (status, body) = app.upload(&token, &path, wide.into_inner(), "me.png").await;
    assert_eq!((status, body["code"].as_str()), (422, Some("image_too_large")), "{body}");
    assert_eq!(app.state_of(&token, &app_id).await, "parents_entered");
    let (status, _) = app.upload(&token, &path, photo(480, 640), "me.jpg").await;
    assert_eq!(status, 201);
    assert_eq!(app.state_of(&token, &app_id).await, "identity_verified");
}

#[tokio::test]
async fn three_failed_faces_end_online_eligibility_with_advice() {
    let app = spawn_app().await;
    let (token, app_id) = app.application_with_parents().await;
    app.mock_post("/_mock/face", &json!({"cert_no": mother_id(), "outcome": "fail"})).await;
    for attempt in 1..=3 {
        let (status, body) = app.face(&token, &app_id, "mother").await;
        assert_eq!(status, 422);
        let expected = if attempt < 3 { "face_verification_failed" } else { "face_attempts_exhausted" };
        assert_eq!(body["code"], expected, "attempt {attempt}");
    }
    let (_, view) = app.send(reqwest::Method::GET, &format!("/api/v1/applications/{app_id}"), &token, None).await;
    assert_eq!(view["state"], "ineligible");
    assert_eq!(view["eligibility_reasons"], json!(["face_attempts_exhausted"]));
    let (status, _) = app.face(&token, &app_id, "father").await;
    assert_eq!(status, 409);
    let _ = FATHER_NAME;
}

#[tokio::test]
async fn face_sessions_are_rate_limited_per_user() {
    let app = spawn_app().await;
    let (token, app_id) = app.application_with_parents().await;
    app.consent(&token).await;
    let path = format!("/api/v1/applications/{app_id}/identity/mother/face-sessions");
    for n in 0..birthcert::services::applicant::identity::FACE_SESSIONS_PER_HOUR {
        let (status, body) = app.send(reqwest::Method::POST, &path, &token, None).await;
        assert_eq!(status, 201, "session {n}: {body}");
    }
    let (status, body) = app.send(reqwest::Method::POST, &path, &token, None).await;
    assert_eq!((status, body["code"].clone()), (429, json!("rate_limited")), "{body}");
    // Another family is not held back by this one.
    let (other, other_app) = app.application_with_parents().await;
    let (status, _) = app.face(&other, &other_app, "mother").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn face_verification_out_of_order_is_409() {
    let app = spawn_app().await;
    let (token, app_id) = app.new_application().await;
    let (status, body) = app.face(&token, &app_id, "mother").await;
    assert_eq!(status, 409);
    assert_eq!(body["code"], "wrong_state");
}

#[tokio::test]
async fn four_id_images_complete_the_documents_step_and_bad_files_are_refused() {
    let app = spawn_app().await;
    let (token, app_id) = app.application_with_parents().await;
    let doc = |kind: &str| format!("/api/v1/applications/{app_id}/documents/{kind}");
    let (status, _) = app.upload(&token, &doc("mother_id_front"), png_with(0), "a.png").await;
    assert_eq!(status, 409, "documents come after identity");
    app.face(&token, &app_id, "mother").await;
    app.face(&token, &app_id, "father").await;

    // Judged by content: a GIF named .png is refused, a PNG named .txt accepted.
    let (status, body) = app.upload(&token, &doc("mother_id_front"), b"GIF89a-----------".to_vec(), "x.png").await;
    assert_eq!((status, body["code"].clone()), (415, json!("unsupported_media_type")));
    let over_the_limit = [png(), vec![0; 5 * 1024 * 1024]].concat();
    let (status, body) = app.upload(&token, &doc("mother_id_front"), over_the_limit, "big.png").await;
    assert_eq!((status, body["code"].clone()), (413, json!("payload_too_large")));
    let (status, _) = app.upload(&token, &doc("passport_photo"), png_with(0), "x.png").await;
    assert_eq!(status, 404);

    let (status, first) = app.upload(&token, &doc("mother_id_front"), png_with(1), "x.txt").await;
    assert_eq!(status, 201);
    assert_eq!(first["sha256"].as_str().expect("hash").len(), 64);
    // A re-upload replaces it.
    let (_, second) = app.upload(&token, &doc("mother_id_front"), png_with(2), "x.png").await;
    assert_ne!(first["sha256"], second["sha256"]);
    for kind in ["mother_id_back", "father_id_front"] {
        assert_eq!(app.upload(&token, &doc(kind), jpeg(), "x.jpg").await.0, 201);
    }
    assert_eq!(app.state_of(&token, &app_id).await, "identity_verified");
    assert_eq!(app.upload(&token, &doc("father_id_back"), jpeg(), "x.jpg").await.0, 201);
    assert_eq!(app.state_of(&token, &app_id).await, "documents_uploaded");
    let current = birthcert::persistence::documents::current_documents(&app.state.db, &app_id).await.expect("docs");
    assert_eq!(current.len(), 4);
    assert!(current.iter().any(|d| d.sha256 == second["sha256"].as_str().expect("h")));
    // Bodies that are not multipart.
    let res =
        app.client.put(app.url(&doc("mother_id_back"))).bearer_auth(&token).body("raw").send().await.expect("sent");
    assert_eq!(res.status(), 415);
}

#[tokio::test]
async fn a_refused_upload_stores_nothing() {
    let app = spawn_app().await;
    let (token, app_id) = app.application_with_parents().await;
    let (status, _) = app
        .upload(&token, &format!("/api/v1/applications/{app_id}/documents/mother_id_front"), png_with(3), "a.png")
        .await;
    assert_eq!(status, 409);
    let (status, _) = app
        .upload(&token, &format!("/api/v1/applications/{app_id}/identity/father/handheld-photo"), png_with(4), "a.png")
        .await;
    assert_eq!(status, 409);
    let dir = app.state.blobs.dir().to_path_buf();
    let stored = walk(&dir);
    assert!(stored.is_empty(), "{stored:?}");
}

#[tokio::test]
async fn id_images_and_the_signature_are_decoded_whole_at_upload_and_a_bomb_is_refused_there() {
    let app = spawn_app().await;
    let (token, app_id) = app.documents_uploaded().await;
    let base = format!("/api/v1/applications/{app_id}");
    let before = walk(app.state.blobs.dir()).len();
    // A few hundred bytes whose header promises 100,000 × 100,000 pixels: without the bound it
    // would be unpacked into tens of gigabytes when the form is printed.
    let mut bomb = std::io::Cursor::new(Vec::new());
    image::DynamicImage::new_luma8(1, 1).write_to(&mut bomb, image::ImageOutputFormat::Png).expect("png");
    let mut bomb = bomb.into_inner();
    bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc_of(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    let only_starts_like_a_png = [&b"\x89PNG\r\n\x1a\n"[..], &[7u8; 200]].concat();
    for path in [format!("{base}/documents/mother_id_front"), format!("{base}/signature")] {
        if path.ends_with("signature") {
            let name = Some(json!({"newborn_name": "张小满"}));
            let (status, body) = app.send(reqwest::Method::POST, &format!("{base}/confirmation"), &token, name).await;
            assert_eq!(status, 200, "{body}");
        }
        let (status, body) = app.upload(&token, &path, bomb.clone(), "s.png").await;
        assert_eq!((status, body["code"].as_str()), (422, Some("image_too_large")), "{path}: {body}");
        let (status, body) = app.upload(&token, &path, only_starts_like_a_png.clone(), "s.png").await;
        assert_eq!((status, body["code"].as_str()), (415, Some("unsupported_media_type")), "{path}: {body}");
    }
    assert_eq!(walk(app.state.blobs.dir()).len(), before, "nothing stored");
    assert_eq!(app.state_of(&token, &app_id).await, "confirmed");
    assert_eq!(app.upload(&token, &format!("{base}/signature"), png(), "s.png").await.0, 200);
}

/// CRC-32 (ISO-HDLC), as a PNG chunk carries it: so the forged header passes the decoder's
/// checksum and is refused for its size, not for a bad CRC.
fn crc_of(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.flatten().flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] }).collect()
}

#[tokio::test]
async fn a_parent_changed_after_verification_is_verified_again_and_an_unchanged_one_keeps_it() {
    let app = spawn_app().await;
    let (token, app_id) = app.documents_uploaded().await;
    let parents_path = format!("/api/v1/applications/{app_id}/parents");
    let doc = |kind: &str| format!("/api/v1/applications/{app_id}/documents/{kind}");

    // The same two parents again: nothing to redo.
    let same = crate::helpers::parents(&mother_id(), "resident_id", &crate::helpers::father_id());
    let (status, body) = app.send(reqwest::Method::PUT, &parents_path, &token, Some(same)).await;
    assert_eq!((status, body["application"]["state"].as_str()), (200, Some("documents_uploaded")), "{body}");

    // Another father: he is verified afresh and photographs his own ID; the mother keeps hers.
    let mut other = crate::helpers::parents(&mother_id(), "resident_id", &crate::helpers::id("37012419900101003"));
    other["father"]["name"] = json!("王强");
    let (status, body) = app.send(reqwest::Method::PUT, &parents_path, &token, Some(other)).await;
    assert_eq!((status, body["application"]["state"].as_str()), (200, Some("parents_entered")), "{body}");
    let (status, body) = app.face(&token, &app_id, "mother").await;
    assert_eq!((status, body["code"].as_str()), (409, Some("already_verified")), "the mother keeps her result");
    let (status, body) = app.face(&token, &app_id, "father").await;
    assert_eq!(status, 200, "the new father gets his own face session: {body}");
    assert_eq!(app.state_of(&token, &app_id).await, "identity_verified", "his ID images are to be taken again");
    for kind in ["father_id_front", "father_id_back"] {
        assert_eq!(app.upload(&token, &doc(kind), png_with(40), "f.png").await.0, 201);
    }
    assert_eq!(app.state_of(&token, &app_id).await, "documents_uploaded");

    // A changed name is a changed parent too.
    let mut renamed = crate::helpers::parents(&mother_id(), "resident_id", &crate::helpers::id("37012419900101003"));
    renamed["father"]["name"] = json!("王刚");
    let (status, body) = app.send(reqwest::Method::PUT, &parents_path, &token, Some(renamed)).await;
    assert_eq!((status, body["application"]["state"].as_str()), (200, Some("parents_entered")), "{body}");

    // The officer's case page says the same: the mother verified by face, the renamed father not
    // (王强's pass is not his).
    let officer = app.officer_token("PY-RMYY");
    let case = format!("/api/v1/officer/applications/{app_id}");
    let (status, detail) = app.send(reqwest::Method::GET, &case, &officer, None).await;
    assert_eq!(status, 200, "{detail}");
    let parent = |role: &str| {
        detail["parents"].as_array().expect("parents").iter().find(|p| p["role"] == role).expect("parent").clone()
    };
    assert_eq!(parent("mother")["identity"]["method"], "face", "{detail}");
    assert_eq!(parent("mother")["identity"]["status"], "passed", "{detail}");
    assert_eq!((parent("father")["name"].as_str(), &parent("father")["identity"]), (Some("王刚"), &Value::Null));
}

#[tokio::test]
async fn three_face_failures_count_per_person_and_birth_not_per_application() {
    let app = spawn_app().await;
    let delivery = app.seed_delivery(crate::helpers::MOTHER, &mother_id()).await;
    let (token, card_id) = app.parent_with_card(crate::helpers::MOTHER, &mother_id()).await;
    let create = json!({"delivery_id": delivery, "health_card_id": card_id, "claimant_relation": "mother"});
    let both = crate::helpers::parents(&mother_id(), "resident_id", &crate::helpers::father_id());

    let (_, first) = app.send(reqwest::Method::POST, "/api/v1/applications", &token, Some(create.clone())).await;
    let first = first["id"].as_str().expect("id").to_string();
    let put = format!("/api/v1/applications/{first}/parents");
    assert_eq!(app.send(reqwest::Method::PUT, &put, &token, Some(both.clone())).await.0, 200);
    app.mock_post("/_mock/face", &json!({"cert_no": mother_id(), "outcome": "fail"})).await;
    for _ in 0..2 {
        assert_eq!(app.face(&token, &first, "mother").await.1["code"], "face_verification_failed");
    }
    // Withdrawing and starting again for the same birth brings no fresh attempts.
    let withdraw = format!("/api/v1/applications/{first}/withdrawal");
    assert_eq!(app.send(reqwest::Method::POST, &withdraw, &token, None).await.0, 200);
    let (status, second) = app.send(reqwest::Method::POST, "/api/v1/applications", &token, Some(create)).await;
    assert_eq!(status, 201, "{second}");
    let second = second["id"].as_str().expect("id").to_string();
    let put = format!("/api/v1/applications/{second}/parents");
    assert_eq!(app.send(reqwest::Method::PUT, &put, &token, Some(both.clone())).await.0, 200);
    let (status, body) = app.face(&token, &second, "mother").await;
    assert_eq!((status, body["code"].as_str()), (422, Some("face_attempts_exhausted")), "the third failure: {body}");
    assert_eq!(app.state_of(&token, &second).await, "ineligible");

    // A third application for the birth is told at once, when the parents are entered.
    let create = json!({"delivery_id": delivery, "health_card_id": card_id, "claimant_relation": "mother"});
    let (status, third) = app.send(reqwest::Method::POST, "/api/v1/applications", &token, Some(create)).await;
    assert_eq!(status, 201, "{third}");
    let put = format!("/api/v1/applications/{}/parents", third["id"].as_str().expect("id"));
    let (status, body) = app.send(reqwest::Method::PUT, &put, &token, Some(both)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["eligibility"]["eligible"], false);
    assert_eq!(body["eligibility"]["reasons"][0]["code"], "face_attempts_exhausted");
    assert_eq!(body["application"]["state"], "ineligible");
}

#[tokio::test]
async fn face_verification_waits_for_both_consents_to_the_texts_in_force() {
    let app = spawn_app().await;
    let (token, app_id) = app.application_with_parents().await;
    let path = format!("/api/v1/applications/{app_id}/identity/mother/face-sessions");
    let (status, body) = app.send(reqwest::Method::POST, &path, &token, None).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("consent_required")), "{body}");

    let texts: serde_json::Value = app.get("/api/v1/consents/current").await.json().await.expect("json");
    let version = |kind: &str| {
        texts.as_array().expect("list").iter().find(|t| t["kind"] == kind).expect("kind")["version"].clone()
    };
    assert!(texts.to_string().contains("人脸"), "the face text is shown: {texts}");
    let give = |kind: &str, version: serde_json::Value| {
        let body = json!({"kind": kind, "version": version});
        let (app, token) = (&app, token.clone());
        async move { app.send(reqwest::Method::POST, "/api/v1/consents", &token, Some(body)).await }
    };
    // An older text, an unknown kind, or no sign-in consents to nothing.
    let (status, body) = give("face_recognition", json!("2020-01-01")).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("outdated_version")), "{body}");
    let (status, _) = give("marketing", json!("2026-12-01")).await;
    assert_eq!(status, 422);
    let res = app
        .post_json("/api/v1/consents", &json!({"kind": "face_recognition", "version": version("face_recognition")}))
        .await;
    assert_eq!(res.status(), 401);

    // One of the two is not enough.
    let (status, given) = give("face_recognition", version("face_recognition")).await;
    assert_eq!(status, 201, "{given}");
    assert!(given["consented_at"].is_string());
    let (status, body) = app.send(reqwest::Method::POST, &path, &token, None).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("consent_required")), "{body}");
    assert!(body["message"].as_str().expect("message").contains("privacy_notice"));
    // Both, at the versions in force: the session starts; the consents are in the audit log.
    assert_eq!(give("privacy_notice", version("privacy_notice")).await.0, 201);
    assert_eq!(give("privacy_notice", version("privacy_notice")).await.0, 201, "consenting again is harmless");
    let (status, body) = app.send(reqwest::Method::POST, &path, &token, None).await;
    assert_eq!(status, 201, "{body}");
    let user = app.state.jwt.verify(&token).expect("token").sub;
    let audit = birthcert::persistence::audit::entries_about(&app.state.db, "user", &user).await.expect("audit");
    assert_eq!(audit.iter().filter(|e| e.action == "consent.given").count(), 3);
}

/// `wx.uploadFile` can only POST: every upload path takes POST with the same `file` part and
/// the same checks as its PUT.
#[tokio::test]
async fn every_upload_also_takes_post_as_wx_upload_file_sends_it() {
    let app = spawn_app().await;
    let post = reqwest::Method::POST;
    let (token, app_id) = app.application_with_parents().await;
    let base = format!("/api/v1/applications/{app_id}");
    app.face(&token, &app_id, "mother").await;
    let handheld = format!("{base}/identity/father/handheld-photo");
    let (status, body) = app.upload_by(post.clone(), &token, &handheld, b"GIF89a".to_vec(), "x.gif").await;
    assert_eq!(status, 415, "the same checks as the PUT: {body}");
    let (status, body) = app.upload_by(post.clone(), &token, &handheld, photo(600, 800), "me.jpg").await;
    assert_eq!((status, body["kind"].as_str()), (201, Some("father_handheld_photo")), "{body}");
    for kind in ["mother_id_front", "mother_id_back", "father_id_front", "father_id_back"] {
        let (status, body) =
            app.upload_by(post.clone(), &token, &format!("{base}/documents/{kind}"), png(), "x.png").await;
        assert_eq!((status, body["kind"].as_str()), (201, Some(kind)), "{body}");
    }
    assert_eq!(app.state_of(&token, &app_id).await, "documents_uploaded");
    let (status, _) =
        app.send(post.clone(), &format!("{base}/confirmation"), &token, Some(json!({"newborn_name": "张小满"}))).await;
    assert_eq!(status, 200);
    let (status, body) =
        app.upload_by(post.clone(), &token, &format!("{base}/signature"), crate::helpers::signature(), "s.png").await;
    assert_eq!(status, 200, "{body}");
    assert!(body["form_digest"].is_string() && body["signed_at"].is_string(), "{body}");
    assert_eq!(app.state_of(&token, &app_id).await, "signed");
    // Another family's case is not found by POST either.
    let (other, _) = app.parent_with_card("王丽", &crate::helpers::id("37012419960101002")).await;
    let (status, _) = app.upload_by(post, &other, &format!("{base}/documents/mother_id_front"), png(), "x.png").await;
    assert_eq!(status, 404);
}
