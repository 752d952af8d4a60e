//! The parents' separate consents: one row per user, kind and version, written once.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::entities::consent;
use super::{new_id, PersistenceError};

/// Records the consent (a repeat keeps the first time) → when it was given.
pub async fn record(
    db: &impl ConnectionTrait,
    user_id: &str,
    kind: &str,
    version: &str,
    at: DateTime<Utc>,
) -> Result<DateTime<Utc>, PersistenceError> {
    consent::Entity::insert(consent::ActiveModel {
        id: Set(new_id()),
        user_id: Set(user_id.to_string()),
        kind: Set(kind.to_string()),
        version: Set(version.to_string()),
        consented_at: Set(at),
    })
    .on_conflict(
        OnConflict::columns([consent::Column::UserId, consent::Column::Kind, consent::Column::Version])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(given_at(db, user_id, kind, version).await?.unwrap_or(at))
}

/// When the user consented to this version of this text, if they did.
pub async fn given_at(
    db: &impl ConnectionTrait,
    user_id: &str,
    kind: &str,
    version: &str,
) -> Result<Option<DateTime<Utc>>, PersistenceError> {
    Ok(consent::Entity::find()
        .filter(consent::Column::UserId.eq(user_id))
        .filter(consent::Column::Kind.eq(kind))
        .filter(consent::Column::Version.eq(version))
        .one(db)
        .await?
        .map(|c| c.consented_at))
}
