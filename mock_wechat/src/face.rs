//! Face verification 2.0: `getverifyid` and `queryverifyinfo`, with the outcome preset per ID
//! number through `POST /_mock/face`.

use std::collections::HashMap;

use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::control::injected_fault;
use crate::platform::token_app;
use crate::{err, random_id, State};

/// What this system remembers.
#[derive(Default)]
pub(crate) struct Face {
    face_outcomes: HashMap<String, String>,
    face_sessions: HashMap<String, FaceSession>,
}

#[derive(Debug, Clone)]
struct FaceSession {
    out_seq_no: String,
    cert_type: String,
    cert_name: String,
    cert_no: String,
    openid: String,
}

fn cert_hash(cert_type: &str, name: &str, no: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let b = base64::engine::general_purpose::STANDARD;
    let s = format!("cert_type={}&cert_name={}&cert_no={}", b.encode(cert_type), b.encode(name), b.encode(no));
    sha2::Sha256::digest(s.as_bytes()).iter().map(|x| format!("{x:02x}")).collect()
}

#[post("/cityservice/face/identify/getverifyid")]
pub(crate) async fn face_getverifyid(state: State, req: HttpRequest, body: web::Json<Value>) -> HttpResponse {
    if let Some(f) = injected_fault(&state, "/cityservice/face/identify/getverifyid").await {
        return f;
    }
    if token_app(&state, &req).as_deref() != Some(state.settings.mini_program_app_id.as_str()) {
        return err(40001, "invalid credential, access_token is invalid or not latest");
    }
    let out_seq_no = body["out_seq_no"].as_str().unwrap_or_default().to_string();
    let valid_seq = (5..=32).contains(&out_seq_no.len())
        && out_seq_no.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_seq {
        return err(40097, "invalid out_seq_no");
    }
    let session = FaceSession {
        out_seq_no,
        cert_type: body["cert_info"]["cert_type"].as_str().unwrap_or_default().to_string(),
        cert_name: body["cert_info"]["cert_name"].as_str().unwrap_or_default().to_string(),
        cert_no: body["cert_info"]["cert_no"].as_str().unwrap_or_default().to_string(),
        openid: body["openid"].as_str().unwrap_or_default().to_string(),
    };
    let verify_id = random_id("verify_");
    state.face().face_sessions.insert(verify_id.clone(), session);
    HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok", "verify_id": verify_id, "expires_in": 3600}))
}

#[post("/cityservice/face/identify/queryverifyinfo")]
pub(crate) async fn face_query(state: State, req: HttpRequest, body: web::Json<Value>) -> HttpResponse {
    if let Some(f) = injected_fault(&state, "/cityservice/face/identify/queryverifyinfo").await {
        return f;
    }
    if token_app(&state, &req).as_deref() != Some(state.settings.mini_program_app_id.as_str()) {
        return err(40001, "invalid credential, access_token is invalid or not latest");
    }
    let inner = state.face();
    let Some(s) = inner.face_sessions.get(body["verify_id"].as_str().unwrap_or_default()) else {
        return err(84001, "invalid verify_id");
    };
    if body["out_seq_no"].as_str() != Some(s.out_seq_no.as_str()) || body["openid"].as_str() != Some(s.openid.as_str())
    {
        return err(40097, "out_seq_no or openid does not match the verify_id");
    }
    if body["cert_hash"].as_str() != Some(cert_hash(&s.cert_type, &s.cert_name, &s.cert_no).as_str()) {
        return err(40097, "cert_hash does not match the verify_id");
    }
    let passed = inner.face_outcomes.get(&s.cert_no).map(String::as_str).unwrap_or("pass") == "pass";
    // 90100-range codes mean the person did not pass; 10000 is the only pass.
    HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok", "verify_ret": if passed { 10000 } else { 90100 }}))
}

#[derive(Deserialize)]
struct FaceOutcome {
    cert_no: String,
    #[serde(default = "pass")]
    outcome: String,
}

fn pass() -> String {
    "pass".into()
}

#[post("/_mock/face")]
pub(crate) async fn set_face(state: State, body: web::Json<FaceOutcome>) -> HttpResponse {
    state.face().face_outcomes.insert(body.cert_no.clone(), body.outcome.clone());
    HttpResponse::Ok().json(json!({"ok": true}))
}

/// This system's routes.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(face_getverifyid).service(face_query).service(set_face);
}
