//! The courier's signed event callback.

use actix_web::{post, web, HttpRequest, HttpResponse};
use secrecy::ExposeSecret;

use crate::clients::courier;
use crate::routes::error::ApiError;
use crate::services::issuing::shipping::{self, CourierEvent};
use crate::state::AppState;

/// How far the courier's timestamp may be from our clock (a replay older than this is refused).
pub const MAX_SKEW_SECS: i64 = 300;

#[utoipa::path(tag = "callbacks", request_body = CourierEvent,
    params(("X-Courier-Timestamp" = String, Header, description = "Unix seconds"),
           ("X-Courier-Signature" = String, Header, description = "hex HMAC-SHA256 of timestamp + \"\\n\" + body")),
    responses((status = 200, description = "{accepted, duplicate}"), (status = 400), (status = 401), (status = 404), (status = 409)))]
#[post("/api/v1/courier/events")]
pub async fn events(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let timestamp = header("X-Courier-Timestamp");
    let signature = header("X-Courier-Signature");
    let Ok(ts) = timestamp.parse::<i64>() else {
        return Err(ApiError::unauthorized(
            "bad_signature",
            "X-Courier-Timestamp and X-Courier-Signature are required",
        ));
    };
    if (chrono::Utc::now().timestamp() - ts).abs() > MAX_SKEW_SECS {
        return Err(ApiError::unauthorized("stale_timestamp", "the timestamp is more than 5 minutes off"));
    }
    if !courier::verify(state.settings.courier.secret.expose_secret(), timestamp, &body, signature) {
        tracing::warn!("courier event with a bad signature refused");
        return Err(ApiError::unauthorized("bad_signature", "the signature does not match"));
    }
    let raw = std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("invalid_body", "the body is not UTF-8"))?;
    let event: CourierEvent =
        serde_json::from_str(raw).map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))?;
    let new = shipping::courier_event(&state.db, &event, raw).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"accepted": true, "duplicate": !new})))
}
