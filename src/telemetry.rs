//! Logging, request ids and HTTP metrics. Every request runs inside a `request` span carrying
//! `request_id`, method, path and status; the same id is echoed in `X-Request-Id` and in error
//! bodies, and the request is counted and timed per route for `/metrics`. The span's fields are
//! only evaluated when the span is enabled, and a route without parameters finds its metrics
//! by its path, so a quiet production log and the metrics cost almost nothing per request (the
//! callback's throughput depends on it).

use std::borrow::Cow;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web;
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

/// The request's id, span, metrics and access-log line.
pub async fn middleware(
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
    let started = std::time::Instant::now();
    let call = REQUEST_ID.scope(id.clone(), next.call(req));
    // A quiet log disables the span: then nothing enters and leaves it at every poll.
    let mut res = if span.is_disabled() { call.await? } else { call.instrument(span.clone()).await? };
    let elapsed = started.elapsed();
    span.record("status", res.status().as_u16());
    let route = match res.request().app_data::<web::Data<crate::state::AppState>>() {
        Some(state) => state.http_metrics.observe(res.request(), res.status(), elapsed),
        None => route_of(res.request()),
    };
    // The access log: one line per request, by route template (no ids, no query string: a
    // query may carry a token), filterable on its own target (`RUST_LOG=access=off`); the route
    // is the one the metrics found.
    if tracing::enabled!(target: "access", tracing::Level::INFO) {
        tracing::info!(
            target: "access",
            request_id = %id_text,
            method = %res.request().method(),
            route = %route,
            status = res.status().as_u16(),
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    }
    res.headers_mut().insert(HeaderName::from_static("x-request-id"), id);
    Ok(res)
}

/// The route label of a path no route matched: scanners cannot grow the series count.
const UNMATCHED: &str = "UNMATCHED";

/// The request's route pattern (walks the router and builds a string), or [`UNMATCHED`].
fn route_of(req: &actix_web::HttpRequest) -> Cow<'static, str> {
    req.match_pattern().map_or(Cow::Borrowed(UNMATCHED), Cow::Owned)
}

type LabelHandles = (prometheus::IntCounter, prometheus::Histogram);
type FoldMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// A fixed route's label handles by (method, status).
type RouteHandles = FoldMap<(&'static str, u16), LabelHandles>;

/// `<namespace>_http_requests_total` and `<namespace>_http_requests_duration_seconds`, labelled
/// `endpoint` (the route pattern, `UNMATCHED` for none), `method`, `status`. The duration runs
/// from the request's arrival until its response head is ready (a streamed body — a register
/// download — is not included).
///
/// Finding a route's pattern walks the router and builds a string, and labelled lookups hash
/// their labels: per request that was a few per cent of the callback's time. A route without
/// parameters has its path as its pattern, so its label handles are kept by path once seen.
/// Only such paths are kept (at most one entry per fixed route, method and status), whatever
/// paths clients send.
pub struct HttpMetrics {
    requests: prometheus::IntCounterVec,
    durations: prometheus::HistogramVec,
    fixed_routes: std::sync::RwLock<FoldMap<Box<str>, RouteHandles>>,
}

impl HttpMetrics {
    pub fn register(namespace: &str, registry: &prometheus::Registry) -> Result<HttpMetrics, prometheus::Error> {
        let labels = ["endpoint", "method", "status"];
        let requests = prometheus::IntCounterVec::new(
            prometheus::Opts::new("http_requests_total", "Total number of HTTP requests").namespace(namespace),
            &labels,
        )?;
        let durations = prometheus::HistogramVec::new(
            prometheus::HistogramOpts::new(
                "http_requests_duration_seconds",
                "HTTP request duration in seconds for all requests",
            )
            .namespace(namespace),
            &labels,
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(durations.clone()))?;
        Ok(HttpMetrics { requests, durations, fixed_routes: Default::default() })
    }

    /// Counts and times one request → its route label (the pattern, or [`UNMATCHED`]).
    pub fn observe<'r>(
        &self,
        req: &'r actix_web::HttpRequest,
        status: StatusCode,
        elapsed: std::time::Duration,
    ) -> Cow<'r, str> {
        let (method, path) = (method_label(req.method()), req.path());
        let key = (method, status.as_u16());
        let read = self.fixed_routes.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((count, time)) = read.get(path).and_then(|statuses| statuses.get(&key)) {
            count.inc();
            time.observe(elapsed.as_secs_f64());
            return Cow::Borrowed(path);
        }
        drop(read);
        let route = route_of(req);
        let labels = [route.as_ref(), method, status.as_str()];
        let handles = (self.requests.with_label_values(&labels), self.durations.with_label_values(&labels));
        handles.0.inc();
        handles.1.observe(elapsed.as_secs_f64());
        if route == path {
            let mut write = self.fixed_routes.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            write.entry(path.into()).or_default().insert(key, handles);
        }
        route
    }
}

/// The method as a label: the standard ones by name, any other as `OTHER` (a client can send
/// any token as a method; each must not become a series).
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}
