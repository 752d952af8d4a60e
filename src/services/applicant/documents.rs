//! The four ID images (judged by content: JPEG or PNG, at most 5 MiB), the upload checks made
//! before a body is read, and the resubmission after an officer's return.

use super::own_application;
use crate::blobs::{BlobError, BlobStore, StoredBlob, MAX_IMAGE_BYTES};
use crate::domain::application::{Command, DOCUMENT_KINDS, HANDHELD_PHOTO};
use crate::domain::application_state::ApplicationState as S;
use crate::domain::Calendar;
use crate::persistence::applications::{self, Application};
use crate::persistence::audit::Actor;
use crate::persistence::{documents, identity, Db};
use crate::services::lifecycle::{self, Facts};
use crate::services::ServiceError;

fn blob_error(e: BlobError) -> ServiceError {
    match e {
        BlobError::TooLarge => ServiceError::PayloadTooLarge,
        BlobError::NotAnImage => ServiceError::UnsupportedMediaType("upload a JPEG or PNG image".into()),
        BlobError::Empty => ServiceError::bad_request("empty_file", "the file is empty"),
        e @ BlobError::TooSmall { .. } => {
            ServiceError::Unprocessable { code: "image_too_small", message: e.to_string() }
        }
        e @ BlobError::TooManyPixels => ServiceError::Unprocessable { code: "image_too_large", message: e.to_string() },
        BlobError::Io(e) => ServiceError::internal(e),
        e @ BlobError::Sealed(..) => ServiceError::internal(e),
    }
}

#[tracing::instrument(skip_all)]
pub async fn store_image<S, E>(blobs: &BlobStore, chunks: S) -> Result<StoredBlob, ServiceError>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    blobs.store_image(chunks, MAX_IMAGE_BYTES).await.map_err(blob_error)
}

/// Whether the father's hand-held photo may be sent now: instead of his face, once the mother
/// passed hers; or again after a return that named it.
pub(super) async fn handheld_allowed(db: &Db, app: &Application) -> Result<(), ServiceError> {
    match app.state {
        S::ParentsEntered => {
            if !identity::passed(db, &app.id, "mother").await? {
                return Err(ServiceError::Conflict {
                    code: "mother_not_verified",
                    message: "the mother must pass face verification first".into(),
                });
            }
            Ok(())
        }
        S::Returned if applications::redo_documents(db, &app.id).await?.iter().any(|k| k == HANDHELD_PHOTO) => Ok(()),
        _ => Err(ServiceError::wrong_state(app.state, "a hand-held photo")),
    }
}

/// The father's hand-held ID photo is read by an officer: it must show the face and the card.
pub const HANDHELD_MIN_SIDE: u32 = 300;

/// Stores the father's hand-held photo: a whole JPEG or PNG of at least 300 × 300 pixels.
#[tracing::instrument(skip_all)]
pub async fn store_handheld_photo<S, E>(blobs: &BlobStore, chunks: S) -> Result<StoredBlob, ServiceError>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    blobs.store_photo(chunks, MAX_IMAGE_BYTES, HANDHELD_MIN_SIDE).await.map_err(blob_error)
}

/// Stores an upload by what it is for: the hand-held photo must be a whole, large-enough image;
/// documents and the signature are judged by their first bytes.
pub async fn store_upload<S, E>(blobs: &BlobStore, upload: Upload, chunks: S) -> Result<StoredBlob, ServiceError>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    match upload {
        Upload::HandheldPhoto => store_handheld_photo(blobs, chunks).await,
        Upload::Document | Upload::Signature => store_image(blobs, chunks).await,
    }
}

/// What an upload is for; checked before the body is read, so a refused upload stores nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upload {
    HandheldPhoto,
    Document,
    Signature,
}

#[tracing::instrument(skip_all, fields(application_id = %application_id))]
pub async fn check_upload_allowed(
    db: &Db,
    user_id: &str,
    application_id: &str,
    upload: Upload,
) -> Result<(), ServiceError> {
    let app = own_application(db, user_id, application_id).await?;
    match upload {
        Upload::HandheldPhoto => handheld_allowed(db, &app).await?,
        Upload::Document => {
            if !matches!(app.state, S::IdentityVerified | S::DocumentsUploaded | S::Returned) {
                return Err(ServiceError::wrong_state(app.state, "uploading documents"));
            }
        }
        Upload::Signature => {
            lifecycle::check(&app, Command::Sign, "signing")?;
        }
    }
    Ok(())
}

/// Stores one of the four ID images; the fourth completes the documents step. Re-uploads
/// replace the current image until the form is confirmed, and after a return.
#[tracing::instrument(skip_all, fields(application_id = %application_id))]
pub async fn put_document(
    db: &Db,
    user_id: &str,
    application_id: &str,
    kind: &str,
    blob: &StoredBlob,
) -> Result<(), ServiceError> {
    if !DOCUMENT_KINDS.contains(&kind) {
        return Err(ServiceError::NotFound("document kind"));
    }
    let app = own_application(db, user_id, application_id).await?;
    if !matches!(app.state, S::IdentityVerified | S::DocumentsUploaded | S::Returned) {
        return Err(ServiceError::wrong_state(app.state, "uploading documents"));
    }
    let txn = crate::persistence::begin(db).await?;
    documents::put_document(
        &txn,
        &app.id,
        kind,
        &blob.sha256,
        i64::try_from(blob.size).unwrap_or(i64::MAX),
        blob.image_type.mime(),
    )
    .await?;
    applications::add_event(&txn, &app.id, "document_uploaded", None, None, Some(serde_json::json!({"kind": kind})))
        .await?;
    super::catch_up(&txn, app).await?;
    crate::persistence::commit(txn).await?;
    Ok(())
}

/// The family sends the application back after a return: every document the officer named
/// must have been uploaded again since. The frozen form stays as it was.
#[tracing::instrument(skip_all, fields(application_id = %id))]
pub async fn resubmit(db: &Db, calendar: &Calendar, user_id: &str, id: &str) -> Result<Application, ServiceError> {
    let app = own_application(db, user_id, id).await?;
    lifecycle::check(&app, Command::Resubmit, "resubmission")?;
    let returned_at = applications::last_entered(db, &app.id, S::Returned).await?.unwrap_or(app.updated_at);
    let mut redone = documents::documents_uploaded_since(db, &app.id, returned_at).await?;
    if identity::handheld_photo(db, &app.id).await?.is_some_and(|(_, at)| at >= returned_at) {
        redone.push(HANDHELD_PHOTO.to_string());
    }
    let missing: Vec<String> =
        applications::redo_documents(db, &app.id).await?.into_iter().filter(|k| !redone.contains(k)).collect();
    if !missing.is_empty() {
        return Err(ServiceError::Unprocessable {
            code: "documents_to_redo",
            message: format!("upload these documents again first: {}", missing.join(", ")),
        });
    }
    let due_at = lifecycle::review_deadline(db, calendar, &app.institution_code).await?;
    let txn = crate::persistence::begin(db).await?;
    let applied = lifecycle::apply(
        &txn,
        &Actor::applicant(user_id),
        &app,
        Command::Resubmit,
        Facts {
            detail: Some(serde_json::json!({"resubmitted": true})),
            review_due_at: Some(due_at),
            ..Facts::default()
        },
    )
    .await?;
    crate::persistence::commit(txn).await?;
    Ok(applied.app)
}
