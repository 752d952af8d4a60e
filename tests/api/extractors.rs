//! The role extractors, on a small app of their own that shares the real state.

use actix_web::{test, web, App, HttpResponse};
use birthcert::auth::Role;
use birthcert::routes::extract::{Admin, Applicant, Hospital, Officer};
use serde_json::Value;

use crate::helpers::spawn_app;

async fn as_applicant(a: Applicant) -> HttpResponse {
    HttpResponse::Ok().body(a.id().to_string())
}
async fn as_hospital(h: Hospital) -> HttpResponse {
    HttpResponse::Ok().body(h.institution().to_string())
}
async fn as_officer(o: Officer) -> HttpResponse {
    HttpResponse::Ok().body(o.institution().to_string())
}
async fn as_admin(a: Admin) -> HttpResponse {
    HttpResponse::Ok().body(a.institution().to_string())
}

#[actix_web::test]
async fn each_role_reaches_only_its_endpoints() {
    let spawned = spawn_app().await;
    let jwt = spawned.state.jwt.clone();
    let app = test::init_service(
        App::new()
            .app_data(spawned.state.clone())
            .route("/applicant", web::get().to(as_applicant))
            .route("/hospital", web::get().to(as_hospital))
            .route("/officer", web::get().to(as_officer))
            .route("/admin", web::get().to(as_admin)),
    )
    .await;

    let tokens = [
        (Role::Applicant, jwt.issue("u-1", Role::Applicant, None).expect("token")),
        (Role::Hospital, spawned.hospital_token("PY-RMYY")),
        (Role::Officer, spawned.officer_token("PY-RMYY")),
        (Role::Admin, spawned.admin_token("PY-RMYY")),
    ];
    // Which roles each path admits: admins are officers too.
    let admits = |path: &str, role: Role| match path {
        "/applicant" => role == Role::Applicant,
        "/hospital" => role == Role::Hospital,
        "/officer" => matches!(role, Role::Officer | Role::Admin),
        _ => role == Role::Admin,
    };
    for path in ["/applicant", "/hospital", "/officer", "/admin"] {
        for (role, token) in &tokens {
            let req = test::TestRequest::get()
                .uri(path)
                .insert_header(("Authorization", format!("Bearer {token}")))
                .to_request();
            let res = test::call_service(&app, req).await;
            let expected = if admits(path, *role) { 200 } else { 403 };
            assert_eq!(res.status().as_u16(), expected, "{role:?} on {path}");
        }
        let res = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
        assert_eq!(res.status().as_u16(), 401);
        let body: Value = test::read_body_json(res).await;
        assert_eq!(body["code"], "missing_token");
    }

    let req =
        test::TestRequest::get().uri("/officer").insert_header(("Authorization", "Bearer not.a.token")).to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status().as_u16(), 401);
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body["code"], "invalid_token");

    // A token signed with another secret is not accepted.
    let mut other = spawned.state.settings.jwt.clone();
    other.secret = secrecy::SecretString::from("a-completely-different-secret-of-length");
    let forged = birthcert::auth::JwtKeys::new(&other).issue("o-1", Role::Admin, Some("PY-RMYY")).expect("token");
    let req = test::TestRequest::get()
        .uri("/admin")
        .insert_header(("Authorization", format!("Bearer {forged}")))
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status().as_u16(), 401);
}
