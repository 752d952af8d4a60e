//! `Idempotency-Key` on creating POSTs: the first successful answer is stored per user, path
//! and key; a repeat with the same body gets it back, a repeat with another body is refused.
//! Concurrent repeats are serialised through a short lock in the key-value store.

use std::future::Future;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use crate::persistence::idempotency;
use crate::routes::error::ApiError;
use crate::state::AppState;

const HEADER: &str = "idempotency-key";
const LOCK_TTL: Duration = Duration::from_secs(30);

/// What a creating handler answers: status and JSON body.
pub type Answer = (StatusCode, serde_json::Value);

pub async fn run<F, Fut>(
    state: &AppState,
    req: &HttpRequest,
    user_id: &str,
    body: &[u8],
    handler: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Answer, ApiError>>,
{
    let Some(key) = req.headers().get(HEADER) else {
        let (status, body) = handler().await?;
        return Ok(HttpResponse::build(status).json(body));
    };
    let key = key
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 64)
        .ok_or_else(|| {
            ApiError::bad_request("invalid_idempotency_key", "Idempotency-Key must be 1 to 64 visible characters")
        })?
        .to_string();
    let scope = format!("{user_id}:{}", req.path());
    let request_hash = hex::encode(Sha256::digest(body));
    let lock = format!("idempotency:{scope}:{key}");
    let token = uuid::Uuid::new_v4().to_string();
    if !state.kv.set_if_absent(&lock, &token, LOCK_TTL).await? {
        return Err(ApiError::Conflict {
            code: "request_in_progress",
            message: "the same request is still being processed".into(),
        });
    }
    let result = async {
        if let Some(stored) = idempotency::find(&state.db, &scope, &key).await? {
            return replay(stored, &request_hash);
        }
        // Only what was created is remembered: a refusal is worked out again on retry, since
        // the reason (a conflicting application, a busy platform) may have gone away.
        let (status, body) = handler().await?;
        idempotency::save(&state.db, &scope, &key, &request_hash, status.as_u16(), &body.to_string()).await?;
        Ok(HttpResponse::build(status).json(body))
    }
    .await;
    let _ = state.kv.compare_and_delete(&lock, &token).await;
    result
}

fn replay(stored: idempotency::Stored, request_hash: &str) -> Result<HttpResponse, ApiError> {
    if stored.request_hash != request_hash {
        return Err(ApiError::Unprocessable {
            code: "idempotency_key_reused",
            message: "this Idempotency-Key was used with a different request".into(),
        });
    }
    let status = StatusCode::from_u16(u16::try_from(stored.status_code).unwrap_or(200)).unwrap_or(StatusCode::OK);
    Ok(HttpResponse::build(status)
        .insert_header(("Idempotent-Replayed", "true"))
        .content_type("application/json")
        .body(stored.response_body))
}

/// [`run`] for a JSON body: parses it into the handler's request type (400 when it does not
/// fit) and keys the stored answer on the canonical JSON.
pub async fn run_json<T, F, Fut>(
    state: &AppState,
    req: &HttpRequest,
    user_id: &str,
    raw: &serde_json::Value,
    handler: F,
) -> Result<HttpResponse, ApiError>
where
    T: serde::de::DeserializeOwned,
    F: FnOnce(T) -> Fut,
    Fut: Future<Output = Result<Answer, ApiError>>,
{
    let body: T = serde_json::from_value(raw.clone())
        .map_err(|e| ApiError::bad_request("invalid_json", format!("request body: {e}")))?;
    let canonical = serde_json::to_vec(raw).unwrap_or_default();
    run(state, req, user_id, &canonical, || handler(body)).await
}
