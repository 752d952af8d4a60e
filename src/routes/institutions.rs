//! GET /api/v1/institutions: where to apply on site and whom to call.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;

use crate::routes::error::ApiError;
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct InstitutionView {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub office: String,
    pub phone: String,
    /// Working days only (Monday–Friday, State Council holidays excepted, make-up days included).
    pub office_hours: Vec<String>,
    /// Open at this moment, Asia/Shanghai time.
    pub open_now: bool,
    pub midwifery_qualified: bool,
    pub province_code: String,
}

#[utoipa::path(tag = "public", responses((status = 200, body = [InstitutionView])))]
#[get("/api/v1/institutions")]
pub async fn list_institutions(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let now = chrono::Utc::now();
    let views: Vec<InstitutionView> = crate::persistence::institutions::list(&state.db)
        .await?
        .into_iter()
        .map(|i| InstitutionView {
            open_now: i.office_hours.is_open(&state.calendar, now),
            office_hours: i.office_hours.display(),
            code: i.code,
            name: i.name,
            name_en: i.name_en,
            office: i.office,
            phone: i.phone,
            midwifery_qualified: i.midwifery_qualified,
            province_code: i.province_code,
        })
        .collect();
    Ok(HttpResponse::Ok().json(views))
}
