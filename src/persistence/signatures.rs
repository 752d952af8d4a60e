//! The mother's e-signature, bound to the frozen form's digest.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::entities::signature;
use super::{new_id, PersistenceError};

/// The mother's e-signature: the image's SHA-256 and the digest it was bound to.
pub async fn signature_of(
    db: &impl ConnectionTrait,
    application_id: &str,
) -> Result<Option<(String, String, DateTime<Utc>)>, PersistenceError> {
    use super::entities::signature;
    Ok(signature::Entity::find()
        .filter(signature::Column::ApplicationId.eq(application_id))
        .one(db)
        .await?
        .map(|s| (s.image_sha256, s.form_digest, s.signed_at)))
}

pub async fn add_signature(
    db: &impl ConnectionTrait,
    application_id: &str,
    form_digest: &str,
    image_sha256: &str,
) -> Result<DateTime<Utc>, PersistenceError> {
    let at = Utc::now();
    signature::Entity::insert(signature::ActiveModel {
        id: Set(new_id()),
        application_id: Set(application_id.to_string()),
        form_digest: Set(form_digest.to_string()),
        image_sha256: Set(image_sha256.to_string()),
        signed_at: Set(at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(at)
}
