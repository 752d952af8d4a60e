//! The courier: HMAC-signed bookings that return a tracking number, and events sent to the
//! service on demand.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::control::injected_fault;
use crate::{now_secs, random_id, State};

/// What this system remembers.
#[derive(Default)]
pub(crate) struct Courier {
    /// order_ref → booking (with its tracking number)
    courier_orders: HashMap<String, Value>,
}

/// hex HMAC-SHA256 of `timestamp + "\n" + body`, the courier's scheme both ways (and the SMS
/// gateway's).
pub(crate) fn courier_signature(secret: &str, timestamp: &str, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(timestamp.as_bytes());
    mac.update(b"\n");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Books a delivery. Signed like the events; the same `order_ref` gets the same tracking number
/// (a retried booking does not book twice).
#[post("/courier/v1/orders")]
pub(crate) async fn courier_book(state: State, req: HttpRequest, body: String) -> HttpResponse {
    if let Some(fault) = injected_fault(&state, "/courier/v1/orders").await {
        return fault;
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let s = &state.settings;
    if header("X-Courier-App-Key") != s.courier_app_key
        || header("X-Courier-Signature") != courier_signature(&s.courier_secret, &header("X-Courier-Timestamp"), &body)
    {
        return HttpResponse::Unauthorized().json(json!({"code": "bad_signature"}));
    }
    let Ok(order) = serde_json::from_str::<Value>(&body) else {
        return HttpResponse::BadRequest().json(json!({"code": "bad_json"}));
    };
    let Some(order_ref) = order["order_ref"].as_str().filter(|r| !r.is_empty()).map(str::to_string) else {
        return HttpResponse::BadRequest().json(json!({"code": "order_ref_required"}));
    };
    for field in ["name", "phone", "address"] {
        if order["recipient"][field].as_str().is_none_or(str::is_empty) {
            return HttpResponse::BadRequest().json(json!({"code": "recipient_incomplete", "field": field}));
        }
    }
    let mut inner = state.courier();
    let booking = inner
        .courier_orders
        .entry(order_ref)
        .or_insert_with(|| {
            let digits: String = random_id("").chars().filter(char::is_ascii_digit).take(10).collect();
            json!({"tracking_number": format!("EMS{digits:0>10}CN"), "carrier": "EMS", "order": order})
        })
        .clone();
    HttpResponse::Ok().json(json!({"tracking_number": booking["tracking_number"], "carrier": booking["carrier"]}))
}

#[get("/_mock/courier/orders")]
pub(crate) async fn courier_orders(state: State) -> HttpResponse {
    let orders: Vec<Value> = state.courier().courier_orders.values().cloned().collect();
    HttpResponse::Ok().json(orders)
}

#[derive(Deserialize)]
struct CourierEventControl {
    event: String,
    signed_by: Option<String>,
    loss_certificate_no: Option<String>,
    /// Event time (Unix seconds); default now.
    at: Option<i64>,
    /// Sign with a wrong secret (a forged event).
    #[serde(default)]
    forge: bool,
    /// Stamp the request this many seconds in the past (a replay).
    #[serde(default)]
    timestamp_offset_secs: i64,
}

/// Sends the signed courier event for a booked tracking number to the service.
#[post("/_mock/courier/{tracking_number}/events")]
pub(crate) async fn courier_send_event(
    state: State,
    path: web::Path<String>,
    body: web::Json<CourierEventControl>,
) -> HttpResponse {
    let tracking = path.into_inner();
    let service_url = {
        let inner = state.courier();
        if !inner.courier_orders.values().any(|o| o["tracking_number"] == tracking.as_str()) {
            return HttpResponse::NotFound().json(json!({"error": "no such tracking number"}));
        }
        drop(inner);
        state.service_url()
    };
    let Some(service_url) = service_url else {
        return HttpResponse::Conflict().json(json!({"error": "no service URL configured"}));
    };
    let now = i64::try_from(now_secs()).unwrap_or_default();
    let mut event = json!({"tracking_number": tracking, "event": body.event, "at": body.at.unwrap_or(now)});
    if let Some(s) = &body.signed_by {
        event["signed_by"] = json!(s);
    }
    if let Some(l) = &body.loss_certificate_no {
        event["loss_certificate_no"] = json!(l);
    }
    let payload = event.to_string();
    let ts = (now - body.timestamp_offset_secs).to_string();
    let secret = if body.forge { "not-the-secret" } else { state.settings.courier_secret.as_str() };
    let res = state
        .http
        .post(format!("{service_url}/api/v1/courier/events"))
        .header("content-type", "application/json")
        .header("X-Courier-Timestamp", &ts)
        .header("X-Courier-Signature", courier_signature(secret, &ts, &payload))
        .body(payload.clone())
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    match res {
        Ok(r) => HttpResponse::Ok().json(json!({"status": r.status().as_u16(), "event": event, "timestamp": ts})),
        Err(e) => HttpResponse::BadGateway().json(json!({"error": e.to_string()})),
    }
}

/// This system's routes.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(courier_book).service(courier_orders).service(courier_send_event);
}
