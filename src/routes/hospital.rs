//! The midwifery institution's system: delivery records of its own births.

use actix_web::{get, post, put, web, HttpResponse};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::delivery::DeliveryInput;
use crate::domain::working_days::{china_day_range, DayRangeError};
use crate::routes::error::ApiError;
use crate::routes::extract::Hospital;
use crate::services::issuing::hospital::{self, DeliveryListItem};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DeliveryBody {
    pub mother_name: String,
    /// `resident_id`, `hk_macao_permit`, `taiwan_permit`, `passport`, `foreign_permanent_residence_id`.
    pub mother_id_type: String,
    pub mother_id_number: String,
    /// `male`, `female`, `unknown`.
    pub baby_sex: String,
    pub birth_at: DateTime<FixedOffset>,
    pub birth_place: String,
    pub gestational_weeks: i32,
    pub weight_g: i32,
    pub length_cm: i32,
    /// `good`, `fair`, `poor`.
    pub health_status: String,
    pub midwife_name: String,
}

impl DeliveryBody {
    fn input(self) -> DeliveryInput {
        DeliveryInput {
            mother_name: self.mother_name,
            mother_id_type: self.mother_id_type,
            mother_id_number: self.mother_id_number,
            baby_sex: self.baby_sex,
            birth_at: self.birth_at.with_timezone(&Utc),
            birth_place: self.birth_place,
            gestational_weeks: self.gestational_weeks,
            weight_g: self.weight_g,
            length_cm: self.length_cm,
            health_status: self.health_status,
            midwife_name: self.midwife_name,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryCreated {
    pub id: String,
    /// Entered more than 24 h after the birth.
    pub late: bool,
}

#[utoipa::path(tag = "hospital", request_body = DeliveryBody, security(("bearer" = [])),
    responses((status = 201, body = DeliveryCreated), (status = 400), (status = 403), (status = 422, description = "validation_failed with fields")))]
#[post("/api/v1/hospital/deliveries")]
pub async fn create_delivery(
    state: web::Data<AppState>,
    who: Hospital,
    body: web::Json<DeliveryBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, late) =
        hospital::create_delivery(&state.db, &state.cipher, who.institution(), &body.into_inner().input()).await?;
    Ok(HttpResponse::Created().json(DeliveryCreated { id, late }))
}

#[utoipa::path(tag = "hospital", request_body = DeliveryBody, security(("bearer" = [])),
    responses((status = 204), (status = 404), (status = 409, description = "form_frozen"), (status = 422)))]
#[put("/api/v1/hospital/deliveries/{id}")]
pub async fn correct_delivery(
    state: web::Data<AppState>,
    who: Hospital,
    id: web::Path<String>,
    body: web::Json<DeliveryBody>,
) -> Result<HttpResponse, ApiError> {
    hospital::correct_delivery(&state.db, &state.cipher, who.institution(), &id, &body.into_inner().input()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DateRange {
    /// First day, `YYYY-MM-DD` (China time); default 30 days ago.
    pub from: Option<NaiveDate>,
    /// Last day included, `YYYY-MM-DD`; default today.
    pub to: Option<NaiveDate>,
}

/// The requested days as a UTC range (see `working_days::china_day_range`).
pub fn china_days(range: &DateRange) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    china_day_range(range.from, range.to, Utc::now()).map_err(|e| match e {
        DayRangeError::OutOfRange => ApiError::bad_request("invalid_date", e.to_string()),
        DayRangeError::Reversed => ApiError::bad_request("invalid_range", e.to_string()),
    })
}

/// Births in the range, oldest first, at most 5000 (narrow the range for more).
#[utoipa::path(tag = "hospital", operation_id = "hospital_list_deliveries", params(DateRange), security(("bearer" = [])), responses((status = 200, body = [DeliveryListItem])))]
#[get("/api/v1/hospital/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    who: Hospital,
    range: web::Query<DateRange>,
) -> Result<HttpResponse, ApiError> {
    let (from, to) = china_days(&range)?;
    let list = hospital::deliveries(&state.db, who.institution(), from, to).await?;
    Ok(HttpResponse::Ok().json(list))
}
