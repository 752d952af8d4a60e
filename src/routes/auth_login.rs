//! `POST /api/v1/auth/login`: mini-program sign-in. The code is exchanged for the openid and
//! session key at WeChat; the session key stays in the key-value store and never leaves the
//! server.

use std::time::Duration;

use actix_web::{post, web, HttpResponse};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::clients::wechat::{ErrKind, WechatError};
use crate::persistence::users;
use crate::routes::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    /// From `wx.login()`; single use, valid for 5 minutes.
    pub code: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    pub token: String,
    pub expires_in: u64,
}

const LOGIN_WINDOW: Duration = Duration::from_secs(60);
const LOGINS_PER_WINDOW: i64 = 20;

/// Kept as long as WeChat keeps a session key useful.
const SESSION_KEY_TTL: Duration = Duration::from_secs(3 * 24 * 3600);

pub fn map_wechat_error(e: WechatError) -> ApiError {
    match e.kind() {
        Some(ErrKind::InvalidCode | ErrKind::CodeUsed) => ApiError::unauthorized(
            "invalid_login_code",
            "the login code is invalid, used or expired; call wx.login again",
        ),
        Some(ErrKind::RateLimited) => ApiError::RateLimited,
        Some(ErrKind::HighRiskUser) => ApiError::Forbidden("WeChat refused this account for risk control".into()),
        _ => ApiError::Upstream { service: "WeChat", source: e.into() },
    }
}

#[utoipa::path(tag = "applicant", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::routes::error::ErrorBody), (status = 429), (status = 502)))]
#[post("/api/v1/auth/login")]
pub async fn login(state: web::Data<AppState>, body: web::Json<LoginRequest>) -> Result<HttpResponse, ApiError> {
    let code = body.code.trim();
    if code.is_empty() || code.len() > 128 {
        return Err(ApiError::bad_request("invalid_login_code", "code is required"));
    }
    let session = state.wechat.jscode2session(code).await.map_err(map_wechat_error)?;
    // Per user: a client looping on wx.login is stopped here before it reaches WeChat's own limit.
    let attempts = state.kv.increment(&format!("ratelimit:login:{}", session.openid), LOGIN_WINDOW).await?;
    if attempts > LOGINS_PER_WINDOW {
        return Err(ApiError::RateLimited);
    }
    let user_id = users::sign_in(&state.db, &session.openid, session.unionid.as_deref()).await?;
    state.kv.set(&format!("session_key:{user_id}"), session.session_key.expose_secret(), SESSION_KEY_TTL).await?;
    let token = state.jwt.issue(&user_id, Role::Applicant, None).map_err(ApiError::internal)?;
    tracing::info!(%user_id, "applicant signed in");
    Ok(HttpResponse::Ok().json(LoginResponse { token, expires_in: state.jwt.ttl_secs }))
}
