//! Every image upload: the parents' ID images, the father's hand-held photo, the mother's
//! signature, the officer's loss certificate. Each path takes `PUT` and, the same, `POST`:
//! WeChat's `wx.uploadFile` can only POST. The body is `multipart/form-data` with one part named
//! `file` (JPEG or PNG judged by content; a PNG for the signature); the case and its state are
//! checked before the body is read, so a refused upload stores nothing.

use actix_web::{post, put, web, HttpResponse};
use serde::Serialize;

use crate::domain::application::DOCUMENT_KINDS;
use crate::domain::working_days::to_china;
use crate::routes::error::ApiError;
use crate::routes::extract::{Applicant, Officer};
use crate::services::applicant::{documents, form, identity};
use crate::services::issuing::review;
use crate::state::AppState;

/// The multipart body every upload sends.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema only: the body is streamed, never deserialised into this
pub struct UploadForm {
    /// The image: JPEG or PNG (the signature: PNG), at most the configured upload size.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DocumentAnswer {
    pub kind: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SignatureAnswer {
    /// China time.
    #[schema(value_type = String, format = DateTime)]
    pub signed_at: chrono::DateTime<chrono::FixedOffset>,
    /// The frozen form's SHA-256 the signature is bound to.
    pub form_digest: String,
}

/// The multipart part named `file`, as a stream. The `Multipart` is returned too: the field
/// can only be read while it is alive.
pub(crate) async fn file_part(
    req: &actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<(actix_multipart::Multipart, actix_multipart::Field), ApiError> {
    use futures_util::StreamExt;
    let mut multipart = actix_multipart::Multipart::new(req.headers(), payload);
    while let Some(field) = multipart.next().await {
        let field = field.map_err(|e| match e {
            actix_multipart::MultipartError::ContentTypeMissing
            | actix_multipart::MultipartError::ContentTypeParse
            | actix_multipart::MultipartError::ContentTypeIncompatible => {
                ApiError::UnsupportedMediaType("send the image as multipart/form-data with a part named file".into())
            }
            other => ApiError::bad_request("invalid_multipart", other.to_string()),
        })?;
        if field.name() == Some("file") {
            return Ok((multipart, field));
        }
    }
    Err(ApiError::bad_request("file_missing", "a multipart part named file is required"))
}

/// A family's upload: the state allows it, then the `file` part is streamed to the blob store.
async fn receive_image(
    state: &AppState,
    user_id: &str,
    application_id: &str,
    upload: documents::Upload,
    req: &actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<crate::blobs::StoredBlob, ApiError> {
    documents::check_upload_allowed(&state.db, user_id, application_id, upload).await?;
    let (_multipart, field) = file_part(req, payload).await?;
    documents::store_upload(&state.blobs, upload, field).await
}

// ---- one of the four ID images --------------------------------------------------------------

async fn document(
    state: web::Data<AppState>,
    who: Applicant,
    path: web::Path<(String, String)>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (id, kind) = path.into_inner();
    if !DOCUMENT_KINDS.contains(&kind.as_str()) {
        return Err(ApiError::NotFound("document kind"));
    }
    let blob = receive_image(&state, who.id(), &id, documents::Upload::Document, &req, payload).await?;
    documents::put_document(&state.db, who.id(), &id, &kind, &blob).await?;
    Ok(HttpResponse::Created().json(DocumentAnswer { kind, sha256: blob.sha256, size: blob.size }))
}

/// One ID image: `kind` is `mother_id_front`, `mother_id_back`, `father_id_front` or
/// `father_id_back`; a new one replaces the old.
#[utoipa::path(tag = "applicant", security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = DocumentAnswer), (status = 404), (status = 409), (status = 413), (status = 415)))]
#[put("/api/v1/applications/{id}/documents/{kind}")]
pub async fn put_document(
    state: web::Data<AppState>,
    who: Applicant,
    path: web::Path<(String, String)>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    document(state, who, path, req, payload).await
}

/// The same as the `PUT` (for `wx.uploadFile`).
#[utoipa::path(tag = "applicant", security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = DocumentAnswer), (status = 404), (status = 409), (status = 413), (status = 415)))]
#[post("/api/v1/applications/{id}/documents/{kind}")]
pub async fn post_document(
    state: web::Data<AppState>,
    who: Applicant,
    path: web::Path<(String, String)>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    document(state, who, path, req, payload).await
}

// ---- the father's hand-held ID photo --------------------------------------------------------

async fn handheld_photo(
    state: web::Data<AppState>,
    who: Applicant,
    id: web::Path<String>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let blob = receive_image(&state, who.id(), &id, documents::Upload::HandheldPhoto, &req, payload).await?;
    identity::handheld_photo(&state.db, who.id(), &id, &blob).await?;
    Ok(HttpResponse::Created().json(DocumentAnswer {
        kind: "father_handheld_photo".into(),
        sha256: blob.sha256,
        size: blob.size,
    }))
}

/// The father's hand-held ID photo, once the mother passed face verification; the officer
/// accepts or refuses it at review.
#[utoipa::path(tag = "applicant", security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = DocumentAnswer), (status = 404), (status = 409), (status = 413), (status = 415)))]
#[put("/api/v1/applications/{id}/identity/father/handheld-photo")]
pub async fn put_handheld_photo(
    state: web::Data<AppState>,
    who: Applicant,
    id: web::Path<String>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    handheld_photo(state, who, id, req, payload).await
}

/// The same as the `PUT` (for `wx.uploadFile`).
#[utoipa::path(tag = "applicant", security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = DocumentAnswer), (status = 404), (status = 409), (status = 413), (status = 415)))]
#[post("/api/v1/applications/{id}/identity/father/handheld-photo")]
pub async fn post_handheld_photo(
    state: web::Data<AppState>,
    who: Applicant,
    id: web::Path<String>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    handheld_photo(state, who, id, req, payload).await
}

// ---- the mother's e-signature ---------------------------------------------------------------

async fn signature(
    state: web::Data<AppState>,
    who: Applicant,
    id: web::Path<String>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let blob = receive_image(&state, who.id(), &id, documents::Upload::Signature, &req, payload).await?;
    let (signed_at, form_digest) = form::sign(&state.db, who.id(), &id, &blob).await?;
    Ok(HttpResponse::Ok().json(SignatureAnswer { signed_at: to_china(signed_at), form_digest }))
}

/// The mother's e-signature (a PNG), bound to the confirmed form's digest.
#[utoipa::path(tag = "applicant", security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 200, body = SignatureAnswer), (status = 404), (status = 409), (status = 413), (status = 415)))]
#[put("/api/v1/applications/{id}/signature")]
pub async fn put_signature(
    state: web::Data<AppState>,
    who: Applicant,
    id: web::Path<String>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    signature(state, who, id, req, payload).await
}

/// The same as the `PUT` (for `wx.uploadFile`).
#[utoipa::path(tag = "applicant", security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 200, body = SignatureAnswer), (status = 404), (status = 409), (status = 413), (status = 415)))]
#[post("/api/v1/applications/{id}/signature")]
pub async fn post_signature(
    state: web::Data<AppState>,
    who: Applicant,
    id: web::Path<String>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    signature(state, who, id, req, payload).await
}

// ---- the courier's loss certificate (officer) -----------------------------------------------

async fn loss_certificate(
    state: web::Data<AppState>,
    who: Officer,
    id: web::Path<String>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // Refused before the upload is read when there is no loss to document.
    review::loss_to_document(&state.db, who.institution(), &id).await?;
    let (_multipart, field) = file_part(&req, payload).await?;
    let blob = documents::store_upload(&state.blobs, documents::Upload::Document, field).await?;
    review::put_loss_certificate(&state.db, &crate::routes::officer::actor(&who), who.institution(), &id, &blob)
        .await?;
    Ok(HttpResponse::Created().json(DocumentAnswer {
        kind: review::LOSS_CERTIFICATE.into(),
        sha256: blob.sha256,
        size: blob.size,
    }))
}

/// The courier's loss certificate (a parcel lost, damaged or destroyed), kept with the case.
#[utoipa::path(tag = "officer", security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = DocumentAnswer), (status = 404), (status = 409, description = "no_loss: no parcel of the case was lost"), (status = 413), (status = 415)))]
#[put("/api/v1/officer/applications/{id}/documents/loss_certificate")]
pub async fn put_loss_certificate(
    state: web::Data<AppState>,
    who: Officer,
    id: web::Path<String>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    loss_certificate(state, who, id, req, payload).await
}

/// The same as the `PUT`.
#[utoipa::path(tag = "officer", security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = DocumentAnswer), (status = 404), (status = 409, description = "no_loss: no parcel of the case was lost"), (status = 413), (status = 415)))]
#[post("/api/v1/officer/applications/{id}/documents/loss_certificate")]
pub async fn post_loss_certificate(
    state: web::Data<AppState>,
    who: Officer,
    id: web::Path<String>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    loss_certificate(state, who, id, req, payload).await
}
