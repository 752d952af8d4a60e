//! Sign-in for the institution side: officers with a password, hospital systems with an API key.

use actix_web::{post, web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::auth::{self, Role};
use crate::persistence::staff;
use crate::routes::error::ApiError;
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

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "username or password is wrong")
}

#[utoipa::path(tag = "officer", request_body = OfficerLogin,
    responses((status = 200, body = SessionToken), (status = 401, body = crate::routes::error::ErrorBody)))]
#[post("/api/v1/officer/session")]
pub async fn officer_session(
    state: web::Data<AppState>,
    body: web::Json<OfficerLogin>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let officer = staff::find_officer_by_username(&state.db, body.username.trim()).await?;
    let phc = officer
        .as_ref()
        .filter(|o| o.active)
        .map(|o| o.password_hash.clone())
        .unwrap_or_else(|| auth::dummy_password_hash().to_string());
    // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
    let ok = web::block(move || auth::verify_password(&body.password, &phc)).await.map_err(ApiError::internal)?;
    let officer = match officer {
        Some(o) if ok && o.active => o,
        _ => return Err(invalid_credentials()),
    };
    let role = if officer.is_admin { Role::Admin } else { Role::Officer };
    let token = state.jwt.issue(&officer.id, role, Some(&officer.institution_code)).map_err(ApiError::internal)?;
    tracing::info!(officer.id = %officer.id, "officer signed in");
    Ok(HttpResponse::Ok().json(SessionToken { token, expires_in: state.jwt.ttl_secs }))
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
    let hash = auth::hash_api_key(&body.api_key);
    match staff::institution_for_hospital_key(&state.db, &hash).await? {
        Some(code) if code == body.institution_code.trim() => {
            let token = state
                .jwt
                .issue(&format!("hospital:{code}"), Role::Hospital, Some(&code))
                .map_err(ApiError::internal)?;
            Ok(HttpResponse::Ok().json(SessionToken { token, expires_in: state.jwt.ttl_secs }))
        }
        _ => Err(ApiError::unauthorized("invalid_credentials", "institution code or API key is wrong")),
    }
}
