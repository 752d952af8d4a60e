//! The mock's own control side: health, injected faults (any path, N times, an errcode, a
//! 500, a 400 or a hang) and counters for tests.

use std::time::Duration;

use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::{err, State};

/// What this system remembers.
#[derive(Default)]
pub(crate) struct Faults {
    faults: Vec<Fault>,
}

#[derive(Debug, Clone)]
struct Fault {
    path: String,
    mode: String,
    errcode: i64,
    times: u32,
}

/// Applies a fault injected for `path`, if one is pending.
pub(crate) async fn injected_fault(state: &State, path: &str) -> Option<HttpResponse> {
    let fault = {
        let mut inner = state.faults();
        let f = inner.faults.iter_mut().find(|f| f.path == path && f.times > 0)?;
        f.times -= 1;
        f.clone()
    };
    match fault.mode.as_str() {
        "http_500" => Some(HttpResponse::InternalServerError().body("mock fault")),
        // The system read the request and refuses it as invalid.
        "http_400" => Some(HttpResponse::BadRequest().json(json!({"code": "invalid", "message": "injected by mock"}))),
        "timeout" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Some(HttpResponse::GatewayTimeout().finish())
        }
        _ => Some(err(fault.errcode, "injected by mock")),
    }
}

#[get("/_mock/health")]
pub(crate) async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

#[get("/_mock/stats")]
pub(crate) async fn stats(state: State) -> HttpResponse {
    let inner = state.platform();
    HttpResponse::Ok().json(json!({
        "stable_token_fetches": inner.stable_fetches,
        "token_fetches": inner.plain_fetches,
        "callbacks_sent": inner.callbacks_sent,
        "user_info_calls": inner.user_info_calls,
    }))
}

#[derive(Deserialize)]
struct NewFault {
    path: String,
    mode: String,
    #[serde(default)]
    errcode: Option<i64>,
    #[serde(default = "one")]
    times: u32,
}

fn one() -> u32 {
    1
}

#[post("/_mock/faults")]
pub(crate) async fn add_fault(state: State, body: web::Json<NewFault>) -> HttpResponse {
    if !matches!(body.mode.as_str(), "errcode" | "http_500" | "http_400" | "timeout") {
        return HttpResponse::BadRequest().json(json!({"error": "mode is errcode, http_500, http_400 or timeout"}));
    }
    state.faults().faults.push(Fault {
        path: body.path.clone(),
        mode: body.mode.clone(),
        errcode: body.errcode.unwrap_or(-1),
        times: body.times,
    });
    HttpResponse::Ok().json(json!({"ok": true}))
}

/// This system's routes.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(health).service(stats).service(add_fault);
}
