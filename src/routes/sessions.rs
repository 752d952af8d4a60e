//! Sign-in for the institution side: officers with a password, hospital systems with an API key.

use actix_web::{post, web, HttpResponse};
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

#[utoipa::path(tag = "officer", request_body = OfficerLogin,
    responses((status = 200, body = SessionToken), (status = 401, body = crate::routes::error::ErrorBody)))]
#[post("/api/v1/officer/session")]
pub async fn officer_session(
    state: web::Data<AppState>,
    body: web::Json<OfficerLogin>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let s = sign_in::officer(&state.db, &state.jwt, &body.username, body.password.into()).await?;
    Ok(HttpResponse::Ok().json(SessionToken { token: s.token, expires_in: s.expires_in }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct HospitalLogin {
    pub institution_code: String,
    pub api_key: String,
}

#[utoipa::path(tag = "hospital", request_body = HospitalLogin,
    responses((status = 200, body = SessionToken), (status = 401, body = crate::routes::error::ErrorBody)))]
#[post("/api/v1/hospital/session")]
pub async fn hospital_session(
    state: web::Data<AppState>,
    body: web::Json<HospitalLogin>,
) -> Result<HttpResponse, ApiError> {
    let s = sign_in::hospital(&state.db, &state.jwt, &body.institution_code, &body.api_key).await?;
    Ok(HttpResponse::Ok().json(SessionToken { token: s.token, expires_in: s.expires_in }))
}
