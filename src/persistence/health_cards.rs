//! The mothers' electronic health cards bound by users (ID number sealed, with its blind index).

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::entities::health_card;
use super::{is_unique_violation, new_id, PersistenceError, StoredNumber};
use crate::crypto::Sealed;

#[derive(Debug, Clone)]
pub struct HealthCard {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub id_number: StoredNumber,
}

fn card_from(m: health_card::Model) -> HealthCard {
    HealthCard {
        id: m.id,
        user_id: m.user_id,
        name: m.name,
        id_number: StoredNumber {
            sealed: Sealed { key_id: m.id_number_key_id, ciphertext: m.id_number_enc },
            bidx: m.id_number_bidx,
            masked: m.id_number_masked,
        },
    }
}

/// Binds a card to the user; binding the same person's card again returns the existing one.
pub async fn bind_health_card(
    db: &impl ConnectionTrait,
    user_id: &str,
    name: &str,
    id_number: &StoredNumber,
    phone: Option<&StoredNumber>,
) -> Result<(HealthCard, bool), PersistenceError> {
    let id = new_id();
    let inserted = health_card::Entity::insert(health_card::ActiveModel {
        id: Set(id.clone()),
        user_id: Set(user_id.to_string()),
        name: Set(name.to_string()),
        id_number_enc: Set(id_number.sealed.ciphertext.clone()),
        id_number_key_id: Set(id_number.sealed.key_id.clone()),
        id_number_bidx: Set(id_number.bidx.clone()),
        id_number_masked: Set(id_number.masked.clone()),
        phone_enc: Set(phone.map(|p| p.sealed.ciphertext.clone())),
        phone_key_id: Set(phone.map(|p| p.sealed.key_id.clone())),
        phone_bidx: Set(phone.map(|p| p.bidx.clone())),
        phone_masked: Set(phone.map(|p| p.masked.clone())),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(db)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            let existing = health_card::Entity::find()
                .filter(health_card::Column::UserId.eq(user_id))
                .filter(health_card::Column::IdNumberBidx.eq(&id_number.bidx))
                .one(db)
                .await?
                .ok_or(PersistenceError::NotFound("health card"))?;
            return Ok((card_from(existing), false));
        }
        Err(e) => return Err(e.into()),
    }
    let card = health_card::Entity::find_by_id(id).one(db).await?.ok_or(PersistenceError::NotFound("health card"))?;
    Ok((card_from(card), true))
}

pub async fn health_cards(db: &impl ConnectionTrait, user_id: &str) -> Result<Vec<HealthCard>, PersistenceError> {
    Ok(health_card::Entity::find()
        .filter(health_card::Column::UserId.eq(user_id))
        .order_by_asc(health_card::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(card_from)
        .collect())
}

/// The card if it belongs to this user.
pub async fn health_card(
    db: &impl ConnectionTrait,
    user_id: &str,
    id: &str,
) -> Result<Option<HealthCard>, PersistenceError> {
    Ok(health_card::Entity::find_by_id(id.to_string())
        .filter(health_card::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .map(card_from))
}
