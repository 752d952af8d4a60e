//! The provincial birth-certificate system: a report signed with the courier's scheme
//! (`courier_signature`), kept once per `report_id` — a repeat answers the first receipt and is
//! not kept again, as the province dedupes a sender that retries after a lost answer.
//! `GET /_mock/province/reports` lists what was reported, each with how often it was sent.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use crate::control::injected_fault;
use crate::courier::courier_signature;
use crate::{random_id, State};

#[derive(Default)]
pub(crate) struct Province {
    reports: Vec<Value>,
}

const KINDS: [&str; 3] = ["delivery", "issuance", "void"];

#[post("/province/v1/reports")]
pub(crate) async fn report(state: State, req: HttpRequest, body: String) -> HttpResponse {
    if let Some(fault) = injected_fault(&state, "/province/v1/reports").await {
        return fault;
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let s = &state.settings;
    if header("X-Province-App-Key") != s.province_app_key
        || header("X-Province-Signature")
            != courier_signature(&s.province_secret, &header("X-Province-Timestamp"), &body)
    {
        return HttpResponse::Unauthorized().json(json!({"code": "bad_signature"}));
    }
    let Ok(report) = serde_json::from_str::<Value>(&body) else {
        return HttpResponse::BadRequest().json(json!({"code": "bad_json"}));
    };
    let report_id = report["report_id"].as_str().unwrap_or_default().to_string();
    let kind = report["kind"].as_str().unwrap_or_default();
    if report_id.is_empty() || !KINDS.contains(&kind) || !report["data"].is_object() {
        return HttpResponse::BadRequest().json(json!({"code": "invalid_report"}));
    }
    let mut province = state.province();
    if let Some(kept) = province.reports.iter_mut().find(|r| r["report_id"] == report_id.as_str()) {
        kept["deliveries"] = json!(kept["deliveries"].as_u64().unwrap_or(1) + 1);
        return HttpResponse::Ok().json(json!({"receipt": kept["receipt"].clone(), "duplicate": true}));
    }
    let receipt = random_id("sd37");
    let mut kept = report;
    kept["receipt"] = json!(receipt);
    kept["deliveries"] = json!(1);
    province.reports.push(kept);
    HttpResponse::Ok().json(json!({"receipt": receipt, "duplicate": false}))
}

#[get("/_mock/province/reports")]
pub(crate) async fn reports(state: State) -> HttpResponse {
    HttpResponse::Ok().json(state.province().reports.clone())
}

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(report).service(reports);
}
