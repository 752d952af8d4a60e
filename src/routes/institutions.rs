//! GET /api/v1/institutions: where to apply on site and whom to call.

use actix_web::{get, web, HttpResponse};

use crate::routes::error::ApiError;
use crate::services::institutions::{self, InstitutionView};
use crate::state::AppState;

#[utoipa::path(tag = "public", responses((status = 200, body = [InstitutionView])))]
#[get("/api/v1/institutions")]
pub async fn list_institutions(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(institutions::list(&state.db, &state.calendar, chrono::Utc::now()).await?))
}
