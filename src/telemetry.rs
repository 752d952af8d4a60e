//! Logging, request ids and HTTP metrics. Every request runs inside a `request` span carrying
//! `request_id`, method, path and status; the same id is echoed in `X-Request-Id` and in error
//! bodies, and the request is counted and timed per route for `/metrics`. The span's fields are
//! only evaluated when the span is enabled, and a route without parameters finds its metrics
//! by its path, and each worker thread counts into series of its own (summed when scraped), so a
//! quiet production log and the metrics cost almost nothing per request (the callback's
//! throughput depends on it).

use std::borrow::Cow;

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

tokio::task_local! {
    static REQUEST_ID: RequestId;
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
    REQUEST_ID.try_with(|id| id.to_string()).ok()
}

/// A request's id: a caller's own `X-Request-Id` when it is short and plain (a load balancer's
/// id ties its log to ours), otherwise a fresh UUID. A fresh one is kept as its 16 bytes and
/// written out only where it is shown: once in the response header, and in the log or an error
/// body when there is one.
#[derive(Clone)]
enum RequestId {
    Fresh(uuid::Uuid),
    Theirs(HeaderValue),
}

impl RequestId {
    fn of(req: &ServiceRequest) -> RequestId {
        let plain = |v: &&HeaderValue| {
            let b = v.as_bytes();
            !b.is_empty() && b.len() <= 64 && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        };
        match req.headers().get("x-request-id").filter(plain) {
            Some(theirs) => RequestId::Theirs(theirs.clone()),
            None => RequestId::Fresh(uuid::Uuid::new_v4()),
        }
    }

    fn header(&self) -> HeaderValue {
        match self {
            RequestId::Theirs(value) => value.clone(),
            RequestId::Fresh(id) => {
                let mut buf = uuid::Uuid::encode_buffer();
                HeaderValue::from_str(id.hyphenated().encode_lower(&mut buf)).expect("a UUID is a valid header value")
            }
        }
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Only plain ASCII is ever kept (`RequestId::of`).
            RequestId::Theirs(value) => f.write_str(value.to_str().unwrap_or_default()),
            RequestId::Fresh(id) => std::fmt::Display::fmt(&id.hyphenated(), f),
        }
    }
}

/// The request's id, span, metrics and access-log line, wrapped around the whole app
/// (`App::wrap`), each worker counting into its own series ([`HttpMetrics::worker`]).
///
/// Written out rather than with `middleware::from_fn`, which boxes the service it wraps: every
/// request then paid one more allocation and a dynamic call before reaching the router, on the
/// callback's path, the busiest there is. Here the inner future is held in this one's own.
pub struct RequestTelemetry {
    metrics: Arc<HttpMetrics>,
}

impl RequestTelemetry {
    pub fn new(metrics: Arc<HttpMetrics>) -> RequestTelemetry {
        RequestTelemetry { metrics }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequestTelemetry
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = RequestTelemetryService<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, Self::InitError>>;

    /// Called once per worker thread, where its app is built: the worker's own series.
    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(RequestTelemetryService { service, metrics: Rc::new(self.metrics.worker()) }))
    }
}

pub struct RequestTelemetryService<S> {
    service: S,
    metrics: Rc<WorkerHttpMetrics>,
}

impl<S, B> Service<ServiceRequest> for RequestTelemetryService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = Telemetered<S::Future>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let id = RequestId::of(&req);
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            method = %req.method(),
            path = %req.path(),
            status = tracing::field::Empty,
        );
        // A quiet log disables the span: then nothing enters and leaves it at every poll.
        let span = (!span.is_disabled()).then_some(span);
        Telemetered {
            call: REQUEST_ID.scope(id.clone(), self.service.call(req)),
            span,
            id,
            started: std::time::Instant::now(),
            metrics: self.metrics.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// A request being served inside its id's scope and its span (when enabled).
    pub struct Telemetered<F> {
        #[pin]
        call: tokio::task::futures::TaskLocalFuture<RequestId, F>,
        span: Option<tracing::Span>,
        id: RequestId,
        started: std::time::Instant,
        metrics: Rc<WorkerHttpMetrics>,
    }
}

impl<F, B> Future for Telemetered<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let polled = {
            let _entered = this.span.as_ref().map(tracing::Span::enter);
            this.call.poll(cx)
        };
        let mut res = match polled {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(res)) => res,
        };
        let elapsed = this.started.elapsed();
        if let Some(span) = this.span {
            span.record("status", res.status().as_u16());
        }
        let route = this.metrics.observe(res.request(), res.status(), elapsed);
        let id = &*this.id;
        // The access log: one line per request, by route template (no ids, no query string: a
        // query may carry a token), filterable on its own target (`RUST_LOG=access=off`); the
        // route is the one the metrics found.
        if tracing::enabled!(target: "access", tracing::Level::INFO) {
            tracing::info!(
                target: "access",
                request_id = %id,
                method = %res.request().method(),
                route = %route,
                status = res.status().as_u16(),
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                "request"
            );
        }
        res.headers_mut().insert(HeaderName::from_static("x-request-id"), id.header());
        Poll::Ready(Ok(res))
    }
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

/// One set of the two HTTP series.
#[derive(Clone)]
struct HttpSeries {
    requests: prometheus::IntCounterVec,
    durations: prometheus::HistogramVec,
}

impl HttpSeries {
    fn new(namespace: &str) -> Result<HttpSeries, prometheus::Error> {
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
        Ok(HttpSeries { requests, durations })
    }
}

/// `<namespace>_http_requests_total` and `<namespace>_http_requests_duration_seconds`, labelled
/// `endpoint` (the route pattern, `UNMATCHED` for none), `method`, `status`. The duration runs
/// from the request's arrival until its response head is ready (a streamed body — a register
/// download — is not included).
///
/// Each worker thread counts into series of its own ([`HttpMetrics::worker`]), summed when
/// `/metrics` is scraped: shared counters would be written by every worker on every request,
/// and the cache lines holding them would move between cores each time (the callback's
/// throughput depends on it). Scrapes are rare; requests are not.
pub struct HttpMetrics {
    namespace: String,
    /// Registered for its descriptions; also the series of a worker whose own could not be
    /// made (cannot happen: they are made with the same options, which were accepted).
    template: HttpSeries,
    workers: std::sync::Mutex<Vec<HttpSeries>>,
}

impl HttpMetrics {
    pub fn register(namespace: &str, registry: &prometheus::Registry) -> Result<Arc<HttpMetrics>, prometheus::Error> {
        let metrics = Arc::new(HttpMetrics {
            namespace: namespace.to_string(),
            template: HttpSeries::new(namespace)?,
            workers: Default::default(),
        });
        registry.register(Box::new(SummedOverWorkers(metrics.clone())))?;
        Ok(metrics)
    }

    /// The series a worker thread counts into: made once per worker, where the app is built.
    pub fn worker(&self) -> WorkerHttpMetrics {
        let series = match HttpSeries::new(&self.namespace) {
            Ok(own) => {
                self.workers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(own.clone());
                own
            }
            Err(_) => self.template.clone(),
        };
        WorkerHttpMetrics { series, fixed_routes: Default::default() }
    }
}

/// The collector `/metrics` reads: every worker's series (and the template's), one metric per
/// label set, counts and sums added.
struct SummedOverWorkers(Arc<HttpMetrics>);

impl prometheus::core::Collector for SummedOverWorkers {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        let template = &self.0.template;
        template.requests.desc().into_iter().chain(template.durations.desc()).collect()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        let workers = self.0.workers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let all = || std::iter::once(&self.0.template).chain(workers.iter());
        let requests = sum_families(all().flat_map(|s| s.requests.collect()));
        let durations = sum_families(all().flat_map(|s| s.durations.collect()));
        requests.into_iter().chain(durations).collect()
    }
}

/// Families of one name, as many workers collected them → one family, one metric per label set
/// (counters and histograms added; every worker's histogram has the same buckets).
fn sum_families(
    families: impl Iterator<Item = prometheus::proto::MetricFamily>,
) -> Option<prometheus::proto::MetricFamily> {
    let mut summed: Option<prometheus::proto::MetricFamily> = None;
    let mut by_labels: std::collections::BTreeMap<Vec<String>, prometheus::proto::Metric> = Default::default();
    for mut family in families {
        for metric in family.take_metric() {
            let key = metric.get_label().iter().map(|pair| pair.value().to_string()).collect();
            match by_labels.entry(key) {
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(metric);
                }
                std::collections::btree_map::Entry::Occupied(mut slot) => {
                    add_metric(family.get_field_type(), slot.get_mut(), &metric)
                }
            }
        }
        summed.get_or_insert(family);
    }
    let mut family = summed?;
    family.set_metric(by_labels.into_values().collect());
    Some(family)
}

fn add_metric(
    kind: prometheus::proto::MetricType,
    into: &mut prometheus::proto::Metric,
    other: &prometheus::proto::Metric,
) {
    if kind == prometheus::proto::MetricType::COUNTER {
        let mut counter = into.get_counter().clone();
        counter.set_value(counter.get_value() + other.get_counter().get_value());
        into.set_counter(counter);
        return;
    }
    let (mut histogram, more) = (into.get_histogram().clone(), other.get_histogram());
    histogram.set_sample_count(histogram.get_sample_count() + more.get_sample_count());
    histogram.set_sample_sum(histogram.get_sample_sum() + more.get_sample_sum());
    let mut buckets = histogram.get_bucket().to_vec();
    for (bucket, extra) in buckets.iter_mut().zip(more.get_bucket()) {
        bucket.set_cumulative_count(bucket.cumulative_count() + extra.cumulative_count());
    }
    histogram.set_bucket(buckets);
    into.set_histogram(histogram);
}

/// One worker's HTTP series. Finding a route's pattern walks the router and builds a string,
/// and labelled lookups hash their labels: per request that was a few per cent of the
/// callback's time. A route without parameters has its path as its pattern, so its label
/// handles are kept by path once seen. Only such paths are kept (at most one entry per fixed
/// route, method and status), whatever paths clients send. Used by its own thread only.
pub struct WorkerHttpMetrics {
    series: HttpSeries,
    fixed_routes: std::cell::RefCell<FoldMap<Box<str>, RouteHandles>>,
}

impl WorkerHttpMetrics {
    /// Counts and times one request → its route label (the pattern, or [`UNMATCHED`]).
    pub fn observe<'r>(
        &self,
        req: &'r actix_web::HttpRequest,
        status: StatusCode,
        elapsed: std::time::Duration,
    ) -> Cow<'r, str> {
        let (method, path) = (method_label(req.method()), req.path());
        let key = (method, status.as_u16());
        if let Some((count, time)) = self.fixed_routes.borrow().get(path).and_then(|statuses| statuses.get(&key)) {
            count.inc();
            time.observe(elapsed.as_secs_f64());
            return Cow::Borrowed(path);
        }
        let route = route_of(req);
        let labels = [route.as_ref(), method, status.as_str()];
        let handles =
            (self.series.requests.with_label_values(&labels), self.series.durations.with_label_values(&labels));
        handles.0.inc();
        handles.1.observe(elapsed.as_secs_f64());
        if route == path {
            self.fixed_routes.borrow_mut().entry(path.into()).or_default().insert(key, handles);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn every_workers_requests_are_summed_into_one_series_per_label_set() {
        let registry = prometheus::Registry::new();
        let metrics = HttpMetrics::register("t", &registry).expect("registered");
        let (one, two) = (metrics.worker(), metrics.worker());
        let req = actix_web::test::TestRequest::with_uri("/somewhere").to_http_request();
        one.observe(&req, StatusCode::OK, Duration::from_millis(3));
        one.observe(&req, StatusCode::OK, Duration::from_millis(4));
        two.observe(&req, StatusCode::OK, Duration::from_millis(300));
        two.observe(&req, StatusCode::NOT_FOUND, Duration::from_millis(1));
        let text = prometheus::TextEncoder::new().encode_to_string(&registry.gather()).expect("text");
        let lines = |prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).collect::<Vec<_>>();
        let ok = r#"endpoint="UNMATCHED",method="GET",status="200""#;
        assert_eq!(
            lines("t_http_requests_total{"),
            [
                format!("t_http_requests_total{{{ok}}} 3"),
                r#"t_http_requests_total{endpoint="UNMATCHED",method="GET",status="404"} 1"#.to_string()
            ]
        );
        assert_eq!(
            lines(&format!("t_http_requests_duration_seconds_count{{{ok}}}")),
            [format!("t_http_requests_duration_seconds_count{{{ok}}} 3")]
        );
        assert!(text.contains(&format!(r#"t_http_requests_duration_seconds_bucket{{{ok},le="0.005"}} 2"#)), "{text}");
        assert!(text.contains(&format!(r#"t_http_requests_duration_seconds_bucket{{{ok},le="0.5"}} 3"#)), "{text}");
        assert!(text.contains(&format!("t_http_requests_duration_seconds_sum{{{ok}}} 0.307")), "{text}");
    }
}
