//! The frozen registration form, modification requests, the e-signature and the address.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::applicant::StoredNumber;
use super::entities::{application, modification_request, signature};
use super::{new_id, PersistenceError};

/// Freezes the form: written once, never updated (the filter refuses a second freeze).
pub async fn freeze(
    db: &impl ConnectionTrait,
    application_id: &str,
    newborn_name: &str,
    snapshot: &str,
    digest: &str,
) -> Result<bool, PersistenceError> {
    let r = application::Entity::update_many()
        .col_expr(application::Column::NewbornName, Expr::value(newborn_name))
        .col_expr(application::Column::FormSnapshot, Expr::value(snapshot))
        .col_expr(application::Column::FormDigest, Expr::value(digest))
        .col_expr(application::Column::ConfirmedAt, Expr::value(Utc::now()))
        .filter(application::Column::Id.eq(application_id))
        .filter(application::Column::FormDigest.is_null())
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn frozen(
    db: &impl ConnectionTrait,
    application_id: &str,
) -> Result<Option<(String, String)>, PersistenceError> {
    Ok(application::Entity::find_by_id(application_id.to_string())
        .one(db)
        .await?
        .and_then(|a| a.form_snapshot.zip(a.form_digest)))
}

pub async fn add_modification_request(
    db: &impl ConnectionTrait,
    application_id: &str,
    items: &serde_json::Value,
) -> Result<String, PersistenceError> {
    let id = new_id();
    modification_request::Entity::insert(modification_request::ActiveModel {
        id: Set(id.clone()),
        application_id: Set(application_id.to_string()),
        items: Set(items.to_string()),
        state: Set("pending".into()),
        decision_note: Set(None),
        decided_by: Set(None),
        created_at: Set(Utc::now()),
        decided_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(id)
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

pub async fn set_address(
    db: &impl ConnectionTrait,
    application_id: &str,
    recipient: &str,
    phone: &StoredNumber,
    region_code: &str,
    address: &str,
    fee_fen: i32,
) -> Result<(), PersistenceError> {
    application::Entity::update_many()
        .col_expr(application::Column::RecipientName, Expr::value(recipient))
        .col_expr(application::Column::RecipientPhoneEnc, Expr::value(phone.sealed.ciphertext.clone()))
        .col_expr(application::Column::RecipientPhoneKeyId, Expr::value(phone.sealed.key_id.clone()))
        .col_expr(application::Column::RecipientPhoneBidx, Expr::value(phone.bidx.clone()))
        .col_expr(application::Column::RecipientPhoneMasked, Expr::value(phone.masked.clone()))
        .col_expr(application::Column::DeliveryRegionCode, Expr::value(region_code))
        .col_expr(application::Column::DeliveryAddress, Expr::value(address))
        .col_expr(application::Column::CourierFeeFen, Expr::value(fee_fen))
        .filter(application::Column::Id.eq(application_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The courier fee set with the address, if given.
pub async fn courier_fee(db: &impl ConnectionTrait, application_id: &str) -> Result<Option<i32>, PersistenceError> {
    Ok(application::Entity::find_by_id(application_id.to_string()).one(db).await?.and_then(|a| a.courier_fee_fen))
}
