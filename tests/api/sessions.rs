use birthcert::auth::Role;
use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn officer_signs_in_with_the_right_password_only() {
    let app = spawn_app().await;
    birthcert::services::staff::add_officer(&app.state.db, "PY-ZYY", "li.officer", "a long password 1", false)
        .await
        .expect("created");

    let res = app
        .post_json("/api/v1/officer/session", &json!({"username": "li.officer", "password": "a long password 1"}))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    let claims = app.state.jwt.verify(body["token"].as_str().expect("token")).expect("valid token");
    assert_eq!(claims.role, Role::Officer);
    assert_eq!(claims.inst.as_deref(), Some("PY-ZYY"));

    for (username, password) in [("li.officer", "wrong password"), ("nobody", "a long password 1")] {
        let res = app.post_json("/api/v1/officer/session", &json!({"username": username, "password": password})).await;
        assert_eq!(res.status(), 401);
        assert!(res.headers().get("www-authenticate").is_some());
        assert_eq!(res.json::<Value>().await.expect("json")["code"], "invalid_credentials");
    }
}

#[tokio::test]
async fn admin_officers_get_the_admin_role() {
    let app = spawn_app().await;
    birthcert::services::staff::add_officer(&app.state.db, "PY-RMYY", "wang.admin", "another long pass", true)
        .await
        .expect("created");
    let body: Value = app
        .post_json("/api/v1/officer/session", &json!({"username": "wang.admin", "password": "another long pass"}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(app.state.jwt.verify(body["token"].as_str().expect("token")).expect("valid").role, Role::Admin);
}

#[tokio::test]
async fn accounts_refuse_unknown_institutions_and_taken_usernames() {
    let app = spawn_app().await;
    assert!(birthcert::services::staff::add_officer(&app.state.db, "NOPE", "x.officer", "long enough pass", false)
        .await
        .is_err());
    birthcert::services::staff::add_officer(&app.state.db, "PY-RMYY", "x.officer", "long enough pass", false)
        .await
        .expect("first");
    let again =
        birthcert::services::staff::add_officer(&app.state.db, "PY-ZYY", "x.officer", "long enough pass", false).await;
    assert!(matches!(again, Err(birthcert::services::staff::AccountError::UsernameTaken(_))));
}

#[tokio::test]
async fn hospital_key_gives_a_token_scoped_to_its_institution() {
    let app = spawn_app().await;
    let key = birthcert::services::staff::add_hospital_key(&app.state.db, "PY-FYBJ").await.expect("key");

    let res = app.post_json("/api/v1/hospital/session", &json!({"institution_code": "PY-FYBJ", "api_key": key})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    let claims = app.state.jwt.verify(body["token"].as_str().expect("token")).expect("valid");
    assert_eq!(claims.role, Role::Hospital);
    assert_eq!(claims.inst.as_deref(), Some("PY-FYBJ"));

    // The right key for another institution, and a made-up key, are both refused.
    for (code, key) in [("PY-RMYY", key.as_str()), ("PY-FYBJ", "bck_made_up")] {
        let res = app.post_json("/api/v1/hospital/session", &json!({"institution_code": code, "api_key": key})).await;
        assert_eq!(res.status(), 401);
    }
}
