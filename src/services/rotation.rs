//! `birthcert crypto rotate`: after a new data key is configured (the old one listed in
//! `crypto.previous_data_keys`), every sealed value and image is sealed again under the new key;
//! then the old key can be dropped. Safe to run while the service runs and to run again: what is
//! already under the current key is left alone. The rotation is audited.

use crate::blobs::{BlobStore, ResealReport};
use crate::crypto::PersonalDataCipher;
use crate::persistence::audit::{self, Actor};
use crate::persistence::rotation::{self, Resealed};
use crate::persistence::{self, Db};

use super::ServiceError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Numbers and frozen forms in the database.
    pub values: Resealed,
    /// Image files.
    pub images: ResealReport,
}

#[tracing::instrument(skip_all, fields(key_id = cipher.current_key_id()))]
pub async fn rotate(db: &Db, cipher: &PersonalDataCipher, blobs: &BlobStore) -> Result<Rotation, ServiceError> {
    let values = rotation::reseal_all(db, cipher).await.map_err(ServiceError::internal)?;
    let images = blobs.reseal_all().await.map_err(ServiceError::internal)?;
    let txn = persistence::begin(db).await?;
    let detail = serde_json::json!({
        "key_id": cipher.current_key_id(),
        "values_resealed": values.resealed,
        "images_resealed": images.resealed,
    });
    audit::append(&txn, &Actor::operator(), "crypto.rotated", "data_key", cipher.current_key_id(), detail).await?;
    persistence::commit(txn).await?;
    Ok(Rotation { values, images })
}
