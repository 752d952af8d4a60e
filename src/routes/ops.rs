//! Liveness and readiness for the load balancer and the orchestrator.

use std::time::Duration;

use actix_web::{get, web, HttpResponse};
use serde::Serialize;

use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    status: &'static str,
}

/// The process is up and serving.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    status: &'static str,
    /// Present when not ready: which dependency failed and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    database: &'static str,
    key_value_store: &'static str,
}

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Ready to take traffic: the database and the key-value store both answer.
#[utoipa::path(tag = "operations", responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let (db, kv) = tokio::join!(
        tokio::time::timeout(CHECK_TIMEOUT, crate::persistence::ping(&state.db)),
        tokio::time::timeout(CHECK_TIMEOUT, state.kv.ping()),
    );
    let db_err = match db {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!("database: {e}")),
        Err(_) => Some("database: timed out".to_string()),
    };
    let kv_err = match kv {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!("key-value store: {e}")),
        Err(_) => Some("key-value store: timed out".to_string()),
    };
    let status_of = |e: &Option<String>| if e.is_none() { "ok" } else { "unavailable" };
    let body = Readiness {
        status: if db_err.is_none() && kv_err.is_none() { "ok" } else { "unavailable" },
        code: (db_err.is_some() || kv_err.is_some()).then_some("not_ready"),
        database: status_of(&db_err),
        key_value_store: status_of(&kv_err),
        reason: match (&db_err, &kv_err) {
            (None, None) => None,
            (a, b) => Some([a.clone(), b.clone()].into_iter().flatten().collect::<Vec<_>>().join("; ")),
        },
    };
    if body.status == "ok" {
        HttpResponse::Ok().json(body)
    } else {
        tracing::warn!(reason = ?body.reason, "not ready");
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Prometheus' text format: requests and latency per route, and the business gauges.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    use prometheus::Encoder;
    let mut text = Vec::new();
    match prometheus::TextEncoder::new().encode(&state.metrics.gather(), &mut text) {
        Ok(()) => HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(text),
        Err(e) => {
            tracing::error!(error = %e, "metrics could not be rendered");
            HttpResponse::InternalServerError().finish()
        }
    }
}
