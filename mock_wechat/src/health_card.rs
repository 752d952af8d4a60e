//! The electronic health card platform: signed `commonIn`/`req` envelopes, app tokens, cards by
//! one-time health code; cards registered through `POST /_mock/health-cards`.

use std::collections::HashMap;

use actix_web::{post, web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::control::injected_fault;
use crate::{random_id, State};

/// What this system remembers.
#[derive(Default)]
pub(crate) struct HealthCards {
    health_cards: HashMap<String, Value>,
    used_health_codes: std::collections::HashSet<String>,
    health_card_tokens: std::collections::HashSet<String>,
}

fn hc_out(code: i64, msg: &str, rsp: Value) -> HttpResponse {
    HttpResponse::Ok().json(json!({"commonOut": {"resultCode": code, "errMsg": msg}, "rsp": rsp}))
}

/// The platform's signature, computed apart from the service's code.
fn hc_sign(common_in: &Value, req: &Value, secret: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for obj in [common_in, req] {
        for (k, v) in obj.as_object().into_iter().flatten() {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            if k != "sign" && !text.is_empty() {
                pairs.push((k.clone(), text));
            }
        }
    }
    pairs.sort();
    let joined = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(format!("{joined}{secret}").as_bytes()))
}

#[post("/rest/auth/HealthCard/HealthOpenAuth/AuthObj/getAppToken")]
pub(crate) async fn hc_app_token(state: State, body: web::Json<Value>) -> HttpResponse {
    if body["appId"].as_str() != Some(state.settings.health_card_app_id.as_str()) {
        return hc_out(-1, "invalid appId", Value::Null);
    }
    let token = random_id("hctoken_");
    state.health_cards().health_card_tokens.insert(token.clone());
    hc_out(0, "", json!({"appToken": token, "expiresIn": 7200}))
}

#[post("/rest/auth/HealthCard/HealthOpenPlatform/ISVOpenObj/getHealthCardByHealthCode")]
pub(crate) async fn hc_card_by_code(state: State, body: web::Json<Value>) -> HttpResponse {
    if let Some(f) =
        injected_fault(&state, "/rest/auth/HealthCard/HealthOpenPlatform/ISVOpenObj/getHealthCardByHealthCode").await
    {
        return f;
    }
    let common_in = &body["commonIn"];
    let req = &body["req"];
    if common_in["sign"].as_str() != Some(hc_sign(common_in, req, &state.settings.health_card_app_secret).as_str()) {
        return hc_out(-2, "sign mismatch", Value::Null);
    }
    let mut inner = state.health_cards();
    if !inner.health_card_tokens.contains(common_in["appToken"].as_str().unwrap_or_default()) {
        return hc_out(-3, "invalid appToken", Value::Null);
    }
    let code = req["healthCode"].as_str().unwrap_or_default().to_string();
    if inner.used_health_codes.contains(&code) {
        return hc_out(10002, "healthCode already used", Value::Null);
    }
    let Some(card) = inner.health_cards.get(&code).cloned() else {
        return hc_out(10001, "invalid healthCode", Value::Null);
    };
    inner.used_health_codes.insert(code);
    hc_out(0, "", json!({"isSelf": true, "card": card}))
}

#[derive(Deserialize)]
struct NewHealthCard {
    name: String,
    id_number: String,
    #[serde(default)]
    phone: String,
}

#[post("/_mock/health-cards")]
pub(crate) async fn create_health_card(state: State, body: web::Json<NewHealthCard>) -> HttpResponse {
    let code = random_id("hc_");
    state.health_cards().health_cards.insert(
        code.clone(),
        json!({"name": body.name, "idNumber": body.id_number, "idType": "01", "phone1": body.phone, "healthCardId": random_id("card_")}),
    );
    HttpResponse::Ok().json(json!({"health_code": code}))
}

/// This system's routes.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(hc_app_token).service(hc_card_by_code).service(create_health_card);
}
