//! The ID images of an application; a re-upload supersedes the current image of its kind.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::entities::document;
use super::{new_id, PersistenceError};

/// Documents of these kinds stored at or after `since` (re-uploaded after a return).
pub async fn documents_uploaded_since(
    db: &impl ConnectionTrait,
    application_id: &str,
    since: DateTime<Utc>,
) -> Result<Vec<String>, PersistenceError> {
    use super::entities::document;
    Ok(document::Entity::find()
        .filter(document::Column::ApplicationId.eq(application_id))
        .filter(document::Column::SupersededAt.is_null())
        .filter(document::Column::CreatedAt.gte(since))
        .all(db)
        .await?
        .into_iter()
        .map(|d| d.kind)
        .collect())
}

#[derive(Debug, Clone)]
pub struct Document {
    pub kind: String,
    pub sha256: String,
    pub size: i64,
    pub content_type: String,
}

/// Replaces the current document of `kind` (the old one stays, marked superseded).
/// Retires the current images of these kinds (a parent entered anew must photograph their ID).
pub async fn supersede(
    db: &impl ConnectionTrait,
    application_id: &str,
    kinds: &[String],
) -> Result<(), PersistenceError> {
    document::Entity::update_many()
        .col_expr(document::Column::SupersededAt, Expr::value(Utc::now()))
        .filter(document::Column::ApplicationId.eq(application_id))
        .filter(document::Column::Kind.is_in(kinds.iter().cloned()))
        .filter(document::Column::SupersededAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

pub async fn put_document(
    db: &impl ConnectionTrait,
    application_id: &str,
    kind: &str,
    sha256: &str,
    size: i64,
    content_type: &str,
) -> Result<(), PersistenceError> {
    document::Entity::update_many()
        .col_expr(document::Column::SupersededAt, Expr::value(Utc::now()))
        .filter(document::Column::ApplicationId.eq(application_id))
        .filter(document::Column::Kind.eq(kind))
        .filter(document::Column::SupersededAt.is_null())
        .exec(db)
        .await?;
    document::Entity::insert(document::ActiveModel {
        id: Set(new_id()),
        application_id: Set(application_id.to_string()),
        kind: Set(kind.to_string()),
        sha256: Set(sha256.to_string()),
        size: Set(size),
        content_type: Set(content_type.to_string()),
        created_at: Set(Utc::now()),
        superseded_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

pub async fn current_documents(
    db: &impl ConnectionTrait,
    application_id: &str,
) -> Result<Vec<Document>, PersistenceError> {
    Ok(document::Entity::find()
        .filter(document::Column::ApplicationId.eq(application_id))
        .filter(document::Column::SupersededAt.is_null())
        .order_by_asc(document::Column::Kind)
        .all(db)
        .await?
        .into_iter()
        .map(|d| Document { kind: d.kind, sha256: d.sha256, size: d.size, content_type: d.content_type })
        .collect())
}
