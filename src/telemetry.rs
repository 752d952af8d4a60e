//! Logging and request ids. Every request runs inside a `request` span carrying `request_id`,
//! method, path and status; the same id is echoed in `X-Request-Id` and in error bodies. The
//! span's fields are only evaluated when the span is enabled, so a quiet production log costs
//! almost nothing per request (the callback's throughput depends on it).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

tokio::task_local! {
    static REQUEST_ID: HeaderValue;
}

/// Installs the global subscriber. `RUST_LOG` overrides the default filter. Safe to call more
/// than once (later calls do nothing), which the test harness relies on.
pub fn init(format: LogFormat, default_filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().json().flatten_event(true).with_current_span(true))
            .try_init(),
        LogFormat::Pretty => registry.with(tracing_subscriber::fmt::layer().with_target(false)).try_init(),
    };
}

/// The id of the request being served on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(|id| id.to_str().map(str::to_string).ok()).ok().flatten()
}

/// A caller's own `X-Request-Id` is kept when it is short and plain (a load balancer's id ties
/// its log to ours); otherwise a fresh UUID is made. Held as the header value it is echoed in:
/// made once per request, shared by the span, the error bodies and the response.
fn request_id(req: &ServiceRequest) -> HeaderValue {
    let plain = |v: &&HeaderValue| {
        let b = v.as_bytes();
        !b.is_empty() && b.len() <= 64 && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    };
    match req.headers().get("x-request-id").filter(plain) {
        Some(theirs) => theirs.clone(),
        None => {
            let mut buf = uuid::Uuid::encode_buffer();
            let fresh = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
            HeaderValue::from_str(fresh).expect("a UUID is a valid header value")
        }
    }
}

pub async fn request_id_middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use tracing::Instrument;
    let id = request_id(&req);
    let id_text = id.to_str().unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        request_id = %id_text,
        method = %req.method(),
        path = %req.path(),
        status = tracing::field::Empty,
    );
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let mut res = REQUEST_ID.scope(id.clone(), next.call(req).instrument(span.clone())).await?;
    span.record("status", res.status().as_u16());
    // The access log: one line per request, by route template (no ids, no query string: a
    // query may carry a token), filterable on its own target (`RUST_LOG=access=off`). The
    // route is looked up only when the line will be written.
    if tracing::enabled!(target: "access", tracing::Level::INFO) {
        let route = res.request().match_pattern().unwrap_or_else(|| "UNMATCHED".to_string());
        tracing::info!(
            target: "access",
            request_id = %id_text,
            method = %method,
            route = %route,
            status = res.status().as_u16(),
            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request"
        );
    }
    res.headers_mut().insert(HeaderName::from_static("x-request-id"), id);
    Ok(res)
}
