//! The SMS gateway: a send signed with the courier's scheme (`courier_signature`), each text
//! recorded; `GET /_mock/sms` lists what was texted.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use crate::control::injected_fault;
use crate::courier::courier_signature;
use crate::{random_id, State};

#[derive(Default)]
pub(crate) struct Sms {
    sent: Vec<Value>,
}

/// One text to one mainland mobile number, at most 300 characters, with the sender's sign name.
#[post("/sms/v1/send")]
pub(crate) async fn send(state: State, req: HttpRequest, body: String) -> HttpResponse {
    if let Some(fault) = injected_fault(&state, "/sms/v1/send").await {
        return fault;
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let s = &state.settings;
    if header("X-Sms-App-Key") != s.sms_app_key
        || header("X-Sms-Signature") != courier_signature(&s.sms_secret, &header("X-Sms-Timestamp"), &body)
    {
        return HttpResponse::Unauthorized().json(json!({"code": "bad_signature"}));
    }
    let Ok(message) = serde_json::from_str::<Value>(&body) else {
        return HttpResponse::BadRequest().json(json!({"code": "bad_json"}));
    };
    let phone = message["phone"].as_str().unwrap_or_default();
    let mobile = phone.len() == 11 && phone.starts_with('1') && phone.bytes().all(|b| b.is_ascii_digit());
    if !mobile {
        return HttpResponse::BadRequest().json(json!({"code": "invalid_phone"}));
    }
    let text = message["text"].as_str().unwrap_or_default();
    if text.is_empty() || text.chars().count() > 300 || message["sign_name"].as_str().is_none_or(str::is_empty) {
        return HttpResponse::BadRequest().json(json!({"code": "invalid_text"}));
    }
    let message_id = random_id("sms");
    let mut record = message.clone();
    record["message_id"] = json!(message_id);
    state.sms().sent.push(record);
    HttpResponse::Ok().json(json!({"message_id": message_id}))
}

#[get("/_mock/sms")]
pub(crate) async fn sent(state: State) -> HttpResponse {
    HttpResponse::Ok().json(state.sms().sent.clone())
}

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(send).service(sent);
}
