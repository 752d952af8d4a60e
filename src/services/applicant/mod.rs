//! The family's side, in the order of the journey: `applications` (health card, delivery
//! record, the application, parents, withdrawal, what the family sees), `identity` (face
//! verification, hand-held photo), `documents` (ID images, resubmission), `form` (registration
//! form, modification request, confirmation, signature, address), `payment` (the courier fee), `views` (what the family sees, masked).
//! Every lookup is scoped to the signed-in user: another family's ids are "not found".

pub mod applications;
pub mod consent;
pub mod documents;
pub mod form;
pub mod identity;
pub mod payment;
pub mod views;

use super::lifecycle::{self, Facts};
use super::ServiceError;
use crate::domain::application::{Command, DOCUMENT_KINDS};
use crate::domain::application_state::ApplicationState as S;
use crate::persistence::applications::{application_of, Application};
use crate::persistence::audit::Actor;
use crate::persistence::{documents as stored_documents, identity as verifications, Db, Txn};

/// The user's own application, or "not found".
#[tracing::instrument(skip_all, fields(application_id = %id))]
async fn own_application(db: &Db, user_id: &str, id: &str) -> Result<Application, ServiceError> {
    application_of(db, user_id, id).await?.ok_or(ServiceError::NotFound("application"))
}

/// Moves the application past the steps whose conditions already hold — identity once both
/// parents are verified, documents once all four images are current — through the one door.
/// Every step that can complete one (a face result, a hand-held photo, an image, parents entered
/// again unchanged) ends with this, so the conditions are written once.
async fn catch_up(txn: &Txn, app: Application) -> Result<Application, ServiceError> {
    let actor = Actor::applicant(&app.user_id);
    let mut app = app;
    if app.state == S::ParentsEntered
        && verifications::passed(txn, &app.id, "mother").await?
        && verifications::passed(txn, &app.id, "father").await?
    {
        app = lifecycle::apply(txn, &actor, &app, Command::CompleteIdentity, Facts::default()).await?.app;
    }
    if app.state == S::IdentityVerified {
        let current = stored_documents::current_documents(txn, &app.id).await?;
        if DOCUMENT_KINDS.iter().all(|k| current.iter().any(|d| d.kind == *k)) {
            app = lifecycle::apply(txn, &actor, &app, Command::CompleteDocuments, Facts::default()).await?.app;
        }
    }
    Ok(app)
}
