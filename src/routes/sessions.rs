//! Sign-in for the institution side: officers with a password, hospital systems with an API key.

use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::routes::error::ApiError;
use crate::services::sign_in;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct OfficerLogin {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionToken {
    pub token: String,
    pub expires_in: u64,
}

/// Officer sign-in. Failures are limited per username and per client address
/// (`security.login_*`): beyond them, 429 `too_many_attempts` with `Retry-After`.
#[utoipa::path(tag = "officer", request_body = OfficerLogin,
    responses((status = 200, body = SessionToken), (status = 401, body = crate::routes::error::ErrorBody),
        (status = 429, body = crate::routes::error::ErrorBody)))]
#[post("/api/v1/officer/session")]
pub async fn officer_session(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<OfficerLogin>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let client = client_address(&req.connection_info());
    let attempt = sign_in::OfficerAttempt { username: &body.username, password: body.password.into(), client: &client };
    let s = sign_in::officer(&state.db, state.kv.as_ref(), &state.jwt, &state.settings.security, attempt).await?;
    Ok(HttpResponse::Ok().json(SessionToken { token: s.token, expires_in: s.expires_in }))
}

/// The client's address without its port, as the reverse proxy reports it (`Forwarded` /
/// `X-Forwarded-For`), else the peer's. Exposed without a proxy, a client can claim any address
/// this way; the per-username limit does not depend on it.
pub(crate) fn client_address(info: &actix_web::dev::ConnectionInfo) -> String {
    let raw = info.realip_remote_addr().unwrap_or("unknown");
    raw.parse::<std::net::SocketAddr>().map_or_else(|_| raw.to_string(), |a| a.ip().to_string())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct HospitalLogin {
    pub institution_code: String,
    pub api_key: String,
}

/// A hospital system's sign-in. Failures are limited per client address (`security.login_*`).
#[utoipa::path(tag = "hospital", request_body = HospitalLogin,
    responses((status = 200, body = SessionToken), (status = 401, body = crate::routes::error::ErrorBody),
        (status = 429, body = crate::routes::error::ErrorBody)))]
#[post("/api/v1/hospital/session")]
pub async fn hospital_session(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<HospitalLogin>,
) -> Result<HttpResponse, ApiError> {
    let client = client_address(&req.connection_info());
    let (kv, limits) = (state.kv.as_ref(), &state.settings.security);
    let s =
        sign_in::hospital(&state.db, kv, &state.jwt, limits, &client, &body.institution_code, &body.api_key).await?;
    Ok(HttpResponse::Ok().json(SessionToken { token: s.token, expires_in: s.expires_in }))
}
