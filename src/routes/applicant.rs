//! The mini-program's endpoints for the parent's journey. Extract, call `journey`, answer.
//! Every response masks personal data; another user's ids are "not found".

use actix_web::http::StatusCode;
use actix_web::{get, post, put, web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::routes::error::ApiError;
use crate::routes::extract::Applicant;
use crate::routes::idempotency;
use crate::services::applicant::applications::{self as applications_service, EligibilityView, ParentsInput};
use crate::services::applicant::views::{self, ApplicationView, DeliveryView, HealthCardView};
use crate::services::applicant::{documents, form, identity};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct BindHealthCard {
    pub health_code: String,
}

#[utoipa::path(tag = "applicant", request_body = BindHealthCard, security(("bearer" = [])),
    responses((status = 201, body = HealthCardView), (status = 200, body = HealthCardView, description = "already bound"), (status = 422)))]
#[post("/api/v1/health-cards")]
pub async fn bind_health_card(
    state: web::Data<AppState>,
    who: Applicant,
    req: actix_web::HttpRequest,
    raw: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let (state, user_id) = (&state, who.id());
    idempotency::run_json(state, &req, user_id, &raw, |body: BindHealthCard| async move {
        let code = body.health_code.trim();
        if code.is_empty() || code.len() > 256 {
            return Err(ApiError::bad_request("invalid_health_code", "health_code is required"));
        }
        let (card, created) = applications_service::bind_health_card(
            &state.db,
            &state.cipher,
            state.health_cards.as_ref(),
            user_id,
            code,
        )
        .await?;
        let status = if created { StatusCode::CREATED } else { StatusCode::OK };
        Ok((status, serde_json::to_value(views::card_view(&card)).unwrap_or_default()))
    })
    .await
}

#[utoipa::path(tag = "applicant", security(("bearer" = [])), responses((status = 200, body = [HealthCardView])))]
#[get("/api/v1/health-cards")]
pub async fn list_health_cards(state: web::Data<AppState>, who: Applicant) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(views::health_cards(&state.db, who.id()).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DeliveriesQuery {
    pub health_card_id: String,
}

#[utoipa::path(tag = "applicant", params(DeliveriesQuery), security(("bearer" = [])), responses((status = 200, body = [DeliveryView]), (status = 404)))]
#[get("/api/v1/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    who: Applicant,
    query: web::Query<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(views::deliveries(&state.db, who.id(), &query.health_card_id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewApplication {
    pub delivery_id: String,
    pub health_card_id: String,
    /// `mother` or `father`.
    pub claimant_relation: String,
}

#[utoipa::path(tag = "applicant", request_body = NewApplication, security(("bearer" = [])),
    responses((status = 201, body = ApplicationView), (status = 404), (status = 409), (status = 422)))]
#[post("/api/v1/applications")]
pub async fn create_application(
    state: web::Data<AppState>,
    who: Applicant,
    req: actix_web::HttpRequest,
    raw: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let (state, user_id) = (&state, who.id());
    idempotency::run_json(state, &req, user_id, &raw, |body: NewApplication| async move {
        let app = applications_service::create_application(
            &state.db,
            user_id,
            &body.delivery_id,
            &body.health_card_id,
            &body.claimant_relation,
        )
        .await?;
        Ok((StatusCode::CREATED, serde_json::to_value(views::view(&state.db, app).await?).unwrap_or_default()))
    })
    .await
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SubscriptionsBody {
    /// The template ids the user accepted in `wx.requestSubscribeMessage`.
    pub accepted_template_ids: Vec<String>,
}

#[utoipa::path(tag = "applicant", request_body = SubscriptionsBody, security(("bearer" = [])),
    responses((status = 200, body = SubscriptionsAnswer), (status = 404), (status = 422)))]
#[post("/api/v1/applications/{id}/subscriptions")]
pub async fn record_subscriptions(
    state: web::Data<AppState>,
    who: Applicant,
    id: web::Path<String>,
    body: web::Json<SubscriptionsBody>,
) -> Result<HttpResponse, ApiError> {
    let accepted = applications_service::record_subscriptions(
        &state.db,
        &state.settings.wechat.templates,
        who.id(),
        &id,
        &body.accepted_template_ids,
    )
    .await?;
    Ok(HttpResponse::Ok().json(SubscriptionsAnswer { accepted }))
}

#[utoipa::path(tag = "applicant", security(("bearer" = [])), responses((status = 200, body = [ApplicationView])))]
#[get("/api/v1/applications")]
pub async fn list_applications(state: web::Data<AppState>, who: Applicant) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(views::applications(&state.db, who.id()).await?))
}

#[utoipa::path(tag = "applicant", security(("bearer" = [])), responses((status = 200, body = ApplicationView), (status = 404)))]
#[get("/api/v1/applications/{id}")]
pub async fn get_application(
    state: web::Data<AppState>,
    who: Applicant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(views::application(&state.db, who.id(), &id).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ParentsAnswer {
    pub eligibility: EligibilityView,
    pub application: ApplicationView,
}

#[utoipa::path(tag = "applicant", request_body = ParentsInput, security(("bearer" = [])),
    responses((status = 200, body = ParentsAnswer), (status = 404), (status = 409), (status = 422)))]
#[put("/api/v1/applications/{id}/parents")]
pub async fn put_parents(
    state: web::Data<AppState>,
    who: Applicant,
    id: web::Path<String>,
    body: web::Json<ParentsInput>,
) -> Result<HttpResponse, ApiError> {
    let (eligibility, app) =
        applications_service::enter_parents(&state.db, &state.cipher, who.id(), &id, &body).await?;
    Ok(HttpResponse::Ok().json(ParentsAnswer { eligibility, application: views::view(&state.db, app).await? }))
}

#[utoipa::path(tag = "applicant", security(("bearer" = [])), responses((status = 200, body = ApplicationView), (status = 404), (status = 409)))]
#[post("/api/v1/applications/{id}/withdrawal")]
pub async fn withdraw(
    state: web::Data<AppState>,
    who: Applicant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let app = applications_service::withdraw(&state.db, &state.pay, who.id(), &id).await?;
    Ok(HttpResponse::Ok().json(views::view(&state.db, app).await?))
}

#[utoipa::path(tag = "applicant", security(("bearer" = [])),
    responses((status = 200, body = ApplicationView), (status = 404), (status = 409), (status = 422, description = "documents_to_redo")))]
#[post("/api/v1/applications/{id}/resubmission")]
pub async fn resubmit(
    state: web::Data<AppState>,
    who: Applicant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let app = documents::resubmit(&state.db, &state.calendar, who.id(), &id).await?;
    Ok(HttpResponse::Ok().json(views::view(&state.db, app).await?))
}

// ---- identity and documents -------------------------------------------------------------

#[derive(Serialize, utoipa::ToSchema)]
pub struct FaceSessionAnswer {
    /// For `wx.requestFacialVerify({verifyId})`.
    pub verify_id: String,
    pub expires_in: u64,
}

#[utoipa::path(tag = "applicant", security(("bearer" = [])),
    responses((status = 201, body = FaceSessionAnswer), (status = 404), (status = 409), (status = 422), (status = 429), (status = 502)))]
#[post("/api/v1/applications/{id}/identity/{role}/face-sessions")]
pub async fn start_face_session(
    state: web::Data<AppState>,
    who: Applicant,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, role) = path.into_inner();
    let s = identity::start_face_session(
        &state.db,
        state.kv.as_ref(),
        &state.cipher,
        state.face.as_ref(),
        who.id(),
        &id,
        &role,
    )
    .await?;
    Ok(HttpResponse::Created().json(FaceSessionAnswer { verify_id: s.verify_id, expires_in: s.expires_in }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct FaceResultRequest {
    pub verify_id: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FaceResultAnswer {
    pub verified: bool,
}

#[utoipa::path(tag = "applicant", request_body = FaceResultRequest, security(("bearer" = [])),
    responses((status = 200, body = FaceResultAnswer), (status = 404), (status = 422, description = "face_verification_failed or face_attempts_exhausted")))]
#[post("/api/v1/applications/{id}/identity/{role}/face-result")]
pub async fn face_result(
    state: web::Data<AppState>,
    who: Applicant,
    path: web::Path<(String, String)>,
    body: web::Json<FaceResultRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, role) = path.into_inner();
    let verified = identity::face_result(
        &state.db,
        &state.cipher,
        state.face.as_ref(),
        who.id(),
        &id,
        &role,
        body.verify_id.trim(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(FaceResultAnswer { verified }))
}

/// The consent texts in force (face recognition, the privacy notice), with their versions.
#[utoipa::path(tag = "applicant", responses((status = 200, body = [crate::services::applicant::consent::ConsentTextView])))]
#[get("/api/v1/consents/current")]
pub async fn current_consents() -> HttpResponse {
    HttpResponse::Ok().json(crate::services::applicant::consent::current())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ConsentBody {
    /// `face_recognition` or `privacy_notice`.
    pub kind: String,
    /// The version of the text shown (`GET /api/v1/consents/current`).
    pub version: String,
}

/// The parent consents to one text; a face session needs both, of the current versions.
#[utoipa::path(tag = "applicant", request_body = ConsentBody, security(("bearer" = [])),
    responses((status = 201, body = crate::services::applicant::consent::ConsentGiven), (status = 422)))]
#[post("/api/v1/consents")]
pub async fn give_consent(
    state: web::Data<AppState>,
    who: Applicant,
    body: web::Json<ConsentBody>,
) -> Result<HttpResponse, ApiError> {
    let given = crate::services::applicant::consent::give(&state.db, who.id(), &body.kind, &body.version).await?;
    Ok(HttpResponse::Created().json(given))
}

// ---- registration form, confirmation, signature, address --------------------------------

#[utoipa::path(tag = "applicant", security(("bearer" = [])),
    responses((status = 200, body = RegistrationFormAnswer, description = "ID numbers masked"), (status = 404), (status = 409)))]
#[get("/api/v1/applications/{id}/registration-form")]
pub async fn registration_form(
    state: web::Data<AppState>,
    who: Applicant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (app, form) = form::registration_form_of(&state.db, &state.cipher, who.id(), &id).await?;
    let frozen = app.form_digest.is_some();
    Ok(HttpResponse::Ok().json(RegistrationFormAnswer { form: form.masked(), form_digest: app.form_digest, frozen }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ModificationRequestBody {
    pub items: Vec<form::ModificationItem>,
}

#[utoipa::path(tag = "applicant", request_body = ModificationRequestBody, security(("bearer" = [])),
    responses((status = 201, body = ModificationRequestAnswer), (status = 404), (status = 409), (status = 422)))]
#[post("/api/v1/applications/{id}/modification-requests")]
pub async fn request_modification(
    state: web::Data<AppState>,
    who: Applicant,
    id: web::Path<String>,
    body: web::Json<ModificationRequestBody>,
) -> Result<HttpResponse, ApiError> {
    let request_id = form::request_modification(&state.db, &state.calendar, who.id(), &id, &body.items).await?;
    Ok(HttpResponse::Created().json(ModificationRequestAnswer { id: request_id, state: "pending" }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ConfirmationBody {
    pub newborn_name: String,
}

#[utoipa::path(tag = "applicant", request_body = ConfirmationBody, security(("bearer" = [])),
    responses((status = 200, body = ConfirmationAnswer), (status = 404), (status = 409), (status = 422, description = "third_surname or invalid_name")))]
#[post("/api/v1/applications/{id}/confirmation")]
pub async fn confirm(
    state: web::Data<AppState>,
    who: Applicant,
    id: web::Path<String>,
    body: web::Json<ConfirmationBody>,
) -> Result<HttpResponse, ApiError> {
    let digest = form::confirm(&state.db, &state.cipher, who.id(), &id, &body.newborn_name).await?;
    Ok(HttpResponse::Ok().json(ConfirmationAnswer { form_digest: digest }))
}

#[utoipa::path(tag = "applicant", request_body = form::AddressInput, security(("bearer" = [])),
    responses((status = 200, body = AddressAnswer), (status = 400, description = "unknown_region"), (status = 404), (status = 409), (status = 422)))]
#[put("/api/v1/applications/{id}/delivery-address")]
pub async fn set_address(
    state: web::Data<AppState>,
    who: Applicant,
    id: web::Path<String>,
    body: web::Json<form::AddressInput>,
) -> Result<HttpResponse, ApiError> {
    let destinations = form::Destinations { fees: &state.settings.courier.fees, regions: &state.regions };
    let (fee, region) =
        form::set_address(&state.db, &state.cipher, destinations, &state.pay, who.id(), &id, &body).await?;
    Ok(HttpResponse::Ok().json(AddressAnswer { courier_fee_fen: fee, region }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SubscriptionsAnswer {
    /// The accepted template ids this service sends (others are ignored).
    pub accepted: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RegistrationFormAnswer {
    pub form: crate::domain::registration_form::RegistrationForm,
    /// Set once the family confirmed: the SHA-256 the signature is bound to.
    pub form_digest: Option<String>,
    pub frozen: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ModificationRequestAnswer {
    pub id: String,
    /// `pending` until the institution decides (due in 2 working days).
    pub state: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ConfirmationAnswer {
    /// The frozen form's SHA-256; the mother's signature is bound to it.
    pub form_digest: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AddressAnswer {
    pub courier_fee_fen: i32,
    pub region: crate::domain::region::Region,
}
