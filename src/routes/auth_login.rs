//! `POST /api/v1/auth/login`: mini-program sign-in. The code is exchanged for the openid and
//! session key at WeChat; the session key stays in the key-value store and never leaves the
//! server.

use actix_web::{post, web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::routes::error::ApiError;
use crate::services::sign_in;
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

#[utoipa::path(tag = "applicant", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::routes::error::ErrorBody), (status = 429), (status = 502)))]
#[post("/api/v1/auth/login")]
pub async fn login(state: web::Data<AppState>, body: web::Json<LoginRequest>) -> Result<HttpResponse, ApiError> {
    let s = sign_in::applicant(&state.db, state.kv.as_ref(), &state.wechat, &state.jwt, &body.code).await?;
    Ok(HttpResponse::Ok().json(LoginResponse { token: s.token, expires_in: s.expires_in }))
}
