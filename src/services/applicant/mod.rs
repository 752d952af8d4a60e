//! The family's side, in the order of the journey: `applications` (health card, delivery
//! record, the application, parents, withdrawal, what the family sees), `identity` (face
//! verification, hand-held photo), `documents` (ID images, resubmission), `form` (registration
//! form, modification request, confirmation, signature, address), `payment` (the courier fee), `views` (what the family sees, masked).
//! Every lookup is scoped to the signed-in user: another family's ids are "not found".

pub mod applications;
pub mod documents;
pub mod form;
pub mod identity;
pub mod payment;
pub mod views;

use super::ServiceError;
use crate::persistence::applications::{application_of, Application};
use crate::persistence::Db;

/// The user's own application, or "not found".
#[tracing::instrument(skip_all, fields(application_id = %id))]
async fn own_application(db: &Db, user_id: &str, id: &str) -> Result<Application, ServiceError> {
    application_of(db, user_id, id).await?.ok_or(ServiceError::NotFound("application"))
}
