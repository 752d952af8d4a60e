//! What retention removes (`services::retention` decides when): the personal data of an
//! unfinished case, old answers to idempotent requests, old raw courier bodies. The registers,
//! certificates, the audit log, payments and the delivery records are never touched here.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::entities::{
    application, courier_event, document, identity_verification, modification_request, notification, parent, signature,
};
use super::PersistenceError;
use crate::domain::application_state::ApplicationState;

/// Unfinished cases in `states` untouched since `before` and not yet erased, oldest first.
pub async fn due_for_erasure(
    db: &impl ConnectionTrait,
    states: &[ApplicationState],
    before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<String>, PersistenceError> {
    Ok(application::Entity::find()
        .select_only()
        .column(application::Column::Id)
        .filter(application::Column::State.is_in(states.iter().map(|s| s.as_str())))
        .filter(application::Column::UpdatedAt.lt(before))
        .filter(application::Column::ErasedAt.is_null())
        .order_by_asc(application::Column::UpdatedAt)
        .limit(limit)
        .into_tuple::<String>()
        .all(db)
        .await?)
}

/// Erases the case's personal data (in the caller's transaction): both parents, how they were
/// verified, the ID images and the signature (rows), the modification requests, the frozen form,
/// the newborn's name, the address, the officer's return text and the payloads of messages
/// already sent. The row stays, with its state, dates and `erased_at`, so the family's list and
/// the statistics still add up. Only a case still in `states` and not yet erased is touched →
/// the SHA-256 of the images it referenced (the caller removes the files no other row uses), or
/// None if it was not erased.
pub async fn erase_case(
    txn: &impl ConnectionTrait,
    application_id: &str,
    states: &[ApplicationState],
    now: DateTime<Utc>,
) -> Result<Option<Vec<String>>, PersistenceError> {
    let null = || Expr::value(Option::<String>::None);
    // First, so that a case that moved on meanwhile (or another eraser) stops it here.
    let claimed = application::Entity::update_many()
        .col_expr(application::Column::ErasedAt, Expr::value(now))
        .col_expr(application::Column::NewbornName, null())
        .col_expr(application::Column::FormSnapshot, null())
        .col_expr(application::Column::ReturnReasons, null())
        .col_expr(application::Column::RecipientName, null())
        .col_expr(application::Column::RecipientPhoneEnc, null())
        .col_expr(application::Column::RecipientPhoneKeyId, null())
        .col_expr(application::Column::RecipientPhoneBidx, null())
        .col_expr(application::Column::RecipientPhoneMasked, null())
        .col_expr(application::Column::DeliveryAddress, null())
        .filter(application::Column::Id.eq(application_id))
        .filter(application::Column::State.is_in(states.iter().map(|s| s.as_str())))
        .filter(application::Column::ErasedAt.is_null())
        .exec(txn)
        .await?;
    if claimed.rows_affected == 0 {
        return Ok(None);
    }
    let mut images: Vec<String> = document::Entity::find()
        .select_only()
        .column(document::Column::Sha256)
        .filter(document::Column::ApplicationId.eq(application_id))
        .into_tuple::<String>()
        .all(txn)
        .await?;
    images.extend(
        signature::Entity::find()
            .select_only()
            .column(signature::Column::ImageSha256)
            .filter(signature::Column::ApplicationId.eq(application_id))
            .into_tuple::<String>()
            .all(txn)
            .await?,
    );
    images.extend(
        identity_verification::Entity::find()
            .select_only()
            .column(identity_verification::Column::DocumentSha256)
            .filter(identity_verification::Column::ApplicationId.eq(application_id))
            .filter(identity_verification::Column::DocumentSha256.is_not_null())
            .into_tuple::<String>()
            .all(txn)
            .await?,
    );
    images.sort();
    images.dedup();
    document::Entity::delete_many().filter(document::Column::ApplicationId.eq(application_id)).exec(txn).await?;
    signature::Entity::delete_many().filter(signature::Column::ApplicationId.eq(application_id)).exec(txn).await?;
    identity_verification::Entity::delete_many()
        .filter(identity_verification::Column::ApplicationId.eq(application_id))
        .exec(txn)
        .await?;
    parent::Entity::delete_many().filter(parent::Column::ApplicationId.eq(application_id)).exec(txn).await?;
    super::search::remove_names(txn, application_id, &super::search::PARENTS).await?;
    modification_request::Entity::delete_many()
        .filter(modification_request::Column::ApplicationId.eq(application_id))
        .exec(txn)
        .await?;
    // Messages still waiting keep their payload: they are on their way to the family.
    notification::Entity::update_many()
        .col_expr(notification::Column::Payload, Expr::value("{}"))
        .filter(notification::Column::ApplicationId.eq(application_id))
        .filter(notification::Column::State.ne("pending"))
        .exec(txn)
        .await?;
    Ok(Some(images))
}

/// Does any row still use this image? (Images are stored by content, so two cases can share one.)
pub async fn image_in_use(db: &impl ConnectionTrait, sha256: &str) -> Result<bool, PersistenceError> {
    let documents = document::Entity::find().filter(document::Column::Sha256.eq(sha256)).count(db);
    let signatures = signature::Entity::find().filter(signature::Column::ImageSha256.eq(sha256)).count(db);
    let verifications = identity_verification::Entity::find()
        .filter(identity_verification::Column::DocumentSha256.eq(sha256))
        .count(db);
    let (d, s, v) = tokio::try_join!(documents, signatures, verifications)?;
    Ok(d + s + v > 0)
}

/// Idempotency answers stored before `before`: removed (or only counted, for a dry run).
pub async fn expire_idempotency_keys(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
    dry_run: bool,
) -> Result<u64, PersistenceError> {
    let [p1] = super::placeholders(db);
    let verb = if dry_run { "SELECT COUNT(*) AS n FROM" } else { "DELETE FROM" };
    let sql = format!("{verb} idempotency_keys WHERE created_at < {p1}");
    let statement = sea_orm::Statement::from_sql_and_values(db.get_database_backend(), sql, [before.into()]);
    if dry_run {
        let row = db.query_one(statement).await?;
        return Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0).try_into().unwrap_or(0));
    }
    Ok(db.execute(statement).await?.rows_affected())
}

/// Raw courier bodies received before `before`: emptied (the event, its time and the tracking
/// number stay for the parcel's history).
pub async fn expire_courier_bodies(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
    dry_run: bool,
) -> Result<u64, PersistenceError> {
    let old = courier_event::Entity::find()
        .filter(courier_event::Column::ReceivedAt.lt(before))
        .filter(courier_event::Column::Body.ne(""));
    if dry_run {
        return Ok(old.count(db).await?);
    }
    Ok(courier_event::Entity::update_many()
        .col_expr(courier_event::Column::Body, Expr::value(""))
        .filter(courier_event::Column::ReceivedAt.lt(before))
        .filter(courier_event::Column::Body.ne(""))
        .exec(db)
        .await?
        .rows_affected)
}
