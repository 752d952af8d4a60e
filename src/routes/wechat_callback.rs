//! `GET/POST /wechat/callback`: the official account's server URL.
//!
//! Every request carries `signature`; safe mode (`encrypt_type=aes`) must also carry a valid
//! `msg_signature` over the Encrypt field — checking only `signature` there is the classic
//! encrypted-mode bug. A post stamped more than `wechat.callback_max_age_secs` from now is a
//! replay and refused (URL verification is not: it only echoes). Duplicates (WeChat retries
//! after 5 s) are recognised through the shared store and answered with the first reply,
//! without repeating the effect. A reply that needs no lookup may be rendered before the claim
//! and carried by it (`wechat.callback_reply_first`): one store command per new message.

use std::borrow::Cow;
use std::time::Duration;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;

use crate::config::ReplyFirst;
use crate::routes::error::ApiError;
use crate::state::AppState;
use crate::wechat::message::Inbound;
use crate::wechat::reply::{self, Reply};
use crate::wechat::{signature, xml};
use secrecy::ExposeSecret;

/// WeChat's messages are small; anything bigger is not from WeChat.
pub const MAX_CALLBACK_BYTES: usize = 64 * 1024;
const DEDUPE_TTL: Duration = Duration::from_secs(300);
/// The reply must leave well inside WeChat's 5 s.
const REPLY_BUDGET: Duration = Duration::from_millis(3500);

#[derive(Deserialize, utoipa::IntoParams)]
pub struct VerifyQuery {
    signature: Option<String>,
    timestamp: Option<String>,
    nonce: Option<String>,
    echostr: Option<String>,
}

fn forbidden() -> HttpResponse {
    HttpResponse::Forbidden().content_type("text/plain; charset=utf-8").body("invalid signature")
}

fn signed(state: &AppState, signature_: Option<&str>, timestamp: Option<&str>, nonce: Option<&str>) -> bool {
    match (signature_, timestamp, nonce) {
        (Some(sig), Some(ts), Some(nonce)) => {
            signature::verify(&[state.settings.wechat.token.expose_secret(), ts, nonce], sig)
        }
        _ => false,
    }
}

/// URL verification: echo `echostr` when the signature matches.
#[utoipa::path(tag = "wechat", operation_id = "wechat_verify_url", params(VerifyQuery), responses((status = 200, description = "echostr"), (status = 403)))]
#[get("/wechat/callback")]
pub async fn verify(state: web::Data<AppState>, query: web::Query<VerifyQuery>) -> HttpResponse {
    let q = query.into_inner();
    if !signed(&state, q.signature.as_deref(), q.timestamp.as_deref(), q.nonce.as_deref()) {
        return forbidden();
    }
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(q.echostr.unwrap_or_default())
}

/// Borrowed from the query string (a value is copied only when it is percent-encoded, which
/// WeChat's are not): the callback is the busiest path, and six copies per message were a
/// measurable share of its time.
#[derive(Deserialize, utoipa::IntoParams)]
// Read from the query string by hand (below), so the document must be told where they are.
#[into_params(parameter_in = Query)]
pub struct PushQuery<'a> {
    #[serde(borrow)]
    signature: Option<Cow<'a, str>>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    nonce: Option<Cow<'a, str>>,
    #[serde(borrow)]
    openid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    encrypt_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    msg_signature: Option<Cow<'a, str>>,
}

fn bad_xml(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_xml", message)
}

/// Reads the body, refusing more than [`MAX_CALLBACK_BYTES`] with 400. A body that arrives in
/// one piece (WeChat's are a few hundred bytes) is kept as it came, not copied.
async fn read_body(mut payload: web::Payload) -> Result<web::Bytes, ApiError> {
    let mut first = web::Bytes::new();
    let mut joined: Option<web::BytesMut> = None;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))?;
        let read = joined.as_ref().map_or(first.len(), |j| j.len());
        if read + chunk.len() > MAX_CALLBACK_BYTES {
            return Err(ApiError::bad_request("xml_too_large", "callback body exceeds 64 KiB"));
        }
        match joined.as_mut() {
            Some(joined) => joined.extend_from_slice(&chunk),
            None if first.is_empty() => first = chunk,
            None => {
                let mut both = web::BytesMut::with_capacity(read + chunk.len());
                both.extend_from_slice(&first);
                both.extend_from_slice(&chunk);
                joined = Some(both);
            }
        }
    }
    Ok(joined.map_or(first, web::BytesMut::freeze))
}

/// Messages and events.
#[utoipa::path(tag = "wechat", params(PushQuery), request_body(content = String, content_type = "text/xml"),
    responses((status = 200, description = "passive reply XML or `success`"), (status = 400), (status = 403)))]
#[post("/wechat/callback")]
pub async fn push(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let q: PushQuery<'_> = serde_urlencoded::from_str(request.query_string())
        .map_err(|e| ApiError::bad_request("invalid_query", format!("query string: {e}")))?;
    let (Some(timestamp), Some(nonce)) = (q.timestamp.as_deref(), q.nonce.as_deref()) else {
        return Ok(forbidden());
    };
    if !signed(&state, q.signature.as_deref(), Some(timestamp), Some(nonce)) {
        return Ok(forbidden());
    }
    let wechat = &state.settings.wechat;
    if !signature::is_fresh(timestamp, chrono::Utc::now().timestamp(), wechat.callback_max_age_secs) {
        return Err(ApiError::Denied {
            code: "stale_timestamp",
            message: format!("the callback's timestamp is more than {} s from now", wechat.callback_max_age_secs),
        });
    }
    let safe_mode = q.encrypt_type.as_deref() == Some("aes");
    if wechat.safe_mode_only && !safe_mode {
        return Err(ApiError::Denied {
            code: "safe_mode_required",
            message: "this account takes encrypted callbacks only".into(),
        });
    }
    let body = read_body(payload).await?;
    let body = std::str::from_utf8(&body).map_err(|_| bad_xml("body is not UTF-8"))?;
    let token = wechat.token.expose_secret();

    let (plain, key): (Cow<'_, str>, _) = if safe_mode {
        let outer = xml::parse(body).map_err(|e| bad_xml(e.to_string()))?;
        let encrypted =
            outer.text_of("Encrypt").filter(|e| !e.is_empty()).ok_or_else(|| bad_xml("Encrypt is missing"))?;
        let valid =
            q.msg_signature.as_deref().is_some_and(|ms| signature::verify(&[token, timestamp, nonce, encrypted], ms));
        if !valid {
            return Ok(forbidden());
        }
        let (plain, key) = state
            .wechat_keys
            .decrypt(encrypted, &wechat.app_id)
            .map_err(|e| ApiError::bad_request("decrypt_failed", e.to_string()))?;
        (Cow::Owned(plain), Some(key.clone()))
    } else {
        (Cow::Borrowed(body), None)
    };
    let message = Inbound::parse(&plain).map_err(|e| bad_xml(e.to_string()))?;
    if let Some(openid) = q.openid.as_deref() {
        if openid != message.header().from_user {
            return Err(bad_xml("openid does not match FromUserName"));
        }
    }

    // One round trip whether this is the first delivery or a retry: the claim answers what the
    // first delivery sent (empty while it is still being handled, or when it said `success`).
    let key_name = message.dedupe_key("wechat:callback:");
    let sealed = |xml: String| match &key {
        Some(key) => reply::seal(&xml, key, &wechat.app_id, token, chrono::Utc::now().timestamp()),
        None => xml,
    };
    if reply_first(&state) {
        if let Some(reply) = state.official_account.immediate_reply(&message) {
            // The claim carries the reply: no second command to keep it for the retries.
            let body = reply.map(|r| sealed(render(&r, &message, &wechat.original_id)));
            return match claim(&state, &key_name, body.as_deref().unwrap_or("")).await {
                Ok(Some(first)) => Ok(first_reply(first, safe_mode)),
                Ok(None) => Ok(body.map_or_else(success, reply_response)),
                Err(e) => {
                    tracing::warn!(error = %e, "dedupe store unavailable; answered without dedupe");
                    Ok(body.map_or_else(success, reply_response))
                }
            };
        }
    }
    let claimed = match claim(&state, &key_name, "").await {
        Ok(None) => Some(key_name),
        Ok(Some(first)) => return Ok(first_reply(first, safe_mode)),
        Err(e) => {
            // Without the store a retry may be handled twice; every effect is idempotent.
            tracing::warn!(error = %e, "dedupe store unavailable; handling without dedupe");
            None
        }
    };
    let Some(xml) = answer(&state, &message).await else {
        return Ok(success());
    };
    let body = sealed(xml);
    // Kept as sent, in the claim, for WeChat's retries (seconds later): a retry gets these very
    // bytes without handling, rendering or encrypting anything, and the answer does not wait for
    // the store.
    if let Some(name) = claimed {
        state.kv.fill_claim(&name, &body);
    }
    Ok(reply_response(body))
}

/// Claims the message with `value` (see [`crate::kv::KvStore::claim`]), counting a retry or a
/// first delivery for [`reply_first`].
async fn claim(state: &AppState, key: &str, value: &str) -> Result<Option<String>, crate::kv::KvError> {
    let claimed = state.kv.claim(key, value, DEDUPE_TTL).await?;
    state.callback_retries.record(claimed.is_some());
    Ok(claimed)
}

/// Whether a reply known without lookups is rendered before the message is claimed
/// (`wechat.callback_reply_first`): by itself, with Redis while most callbacks are first
/// deliveries (a retry throws the rendered reply away).
fn reply_first(state: &AppState) -> bool {
    match state.settings.wechat.callback_reply_first {
        ReplyFirst::Always => true,
        ReplyFirst::Never => false,
        ReplyFirst::Auto => state.kv.is_remote() && state.callback_retries.mostly_first_deliveries(),
    }
}

fn success() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(reply::SUCCESS)
}

fn reply_response(body: String) -> HttpResponse {
    HttpResponse::Ok().content_type("application/xml; charset=utf-8").body(body)
}

/// What a retry gets: the first delivery's reply as it was sent, or `success` when it had none
/// (the claim is empty). A reply kept in the other mode (the account switched between plaintext
/// and safe mode in the seconds between the two) is not sent: the retry gets `success`.
fn first_reply(stored: String, safe_mode: bool) -> HttpResponse {
    tracing::info!("duplicate callback; answered with the first reply");
    if stored.is_empty() || reply::is_envelope(&stored) != safe_mode {
        return success();
    }
    reply_response(stored)
}

fn render(reply: &Reply, message: &Inbound, account: &str) -> String {
    let h = message.header();
    let from = if h.to_user.is_empty() { account } else { h.to_user.as_str() };
    reply.to_xml(&h.from_user, from, chrono::Utc::now().timestamp())
}

/// The reply XML to `message` (None: answer `success`), worked out inside WeChat's deadline.
async fn answer(state: &AppState, message: &Inbound) -> Option<String> {
    // A reply known at once has no lookup to bound: no timer is set for it (a timer per message
    // was about 1 % of the callback's time under new messages).
    let reply = match state.official_account.immediate_reply(message) {
        Some(reply) => reply,
        None => handle_within_budget(state, message).await,
    };
    reply.map(|r| render(&r, message, state.settings.wechat.original_id.as_str()))
}

/// The lookups and effects of `message`, waited for up to [`REPLY_BUDGET`]. They run as a task
/// of their own, not as a future dropped when the budget runs out: past the budget WeChat gets
/// `success`, and what the message records (a delivery report, a consent, a follower leaving) is
/// still written rather than cancelled half-way while its claim tells every retry that it was
/// handled. (The task also keeps the lookups' future, nearly 3 KB, out of every callback's.)
async fn handle_within_budget(state: &AppState, message: &Inbound) -> Option<Reply> {
    let account = state.official_account.clone();
    let owned = message.clone();
    let task = tokio::spawn(async move { account.handle(&owned).await });
    // Answering anything but success would make WeChat retry a message we could not handle (or
    // are still handling); log it instead.
    match tokio::time::timeout(REPLY_BUDGET, task).await {
        Ok(Ok(Ok(reply))) => reply,
        Ok(Ok(Err(e))) => {
            tracing::error!(error = %e, "callback handling failed");
            None
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "callback handling stopped");
            None
        }
        Err(_) => {
            tracing::warn!("callback handling exceeded its budget; answered success, still handling");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Inbound;
    use crate::state::AppState;

    /// The size of the future `make` returns, without making one.
    fn future_size<A, B, F: std::future::Future>(_make: impl Fn(A, B) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// Every callback's future is moved into a box per request: a lookup's future held inline
    /// (about 3 KB) made each message copy it, even when it was answered at once.
    #[test]
    fn the_answer_future_stays_small_whatever_the_lookups_hold() {
        let answer = future_size(|state: &'static AppState, message: &'static Inbound| super::answer(state, message));
        let lookups =
            future_size(|state: &'static AppState, message: &'static Inbound| state.official_account.handle(message));
        assert!(answer < 512, "answer's future is {answer} bytes (the lookups' {lookups})");
    }
}
