//! Officers and hospital API keys: the institution-side accounts.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::entities::{hospital_api_key, officer};
use super::{is_unique_violation, new_id, PersistenceError};

#[derive(Debug, Clone)]
pub struct Officer {
    pub id: String,
    pub institution_code: String,
    pub username: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub active: bool,
}

pub async fn create_officer(
    db: &impl ConnectionTrait,
    institution_code: &str,
    username: &str,
    password_hash: &str,
    is_admin: bool,
) -> Result<Officer, PersistenceError> {
    let id = new_id();
    let model = officer::ActiveModel {
        id: Set(id.clone()),
        institution_code: Set(institution_code.to_string()),
        username: Set(username.to_string()),
        password_hash: Set(password_hash.to_string()),
        is_admin: Set(is_admin),
        created_at: Set(Utc::now()),
        disabled_at: Set(None),
    };
    officer::Entity::insert(model).exec(db).await.map_err(|e| {
        if is_unique_violation(&e) {
            PersistenceError::Conflict("officer username")
        } else {
            PersistenceError::Db(e)
        }
    })?;
    Ok(Officer {
        id,
        institution_code: institution_code.to_string(),
        username: username.to_string(),
        password_hash: password_hash.to_string(),
        is_admin,
        active: true,
    })
}

pub async fn find_officer_by_username(
    db: &impl ConnectionTrait,
    username: &str,
) -> Result<Option<Officer>, PersistenceError> {
    Ok(officer::Entity::find().filter(officer::Column::Username.eq(username)).one(db).await?.map(|m| Officer {
        active: m.disabled_at.is_none(),
        id: m.id,
        institution_code: m.institution_code,
        username: m.username,
        password_hash: m.password_hash,
        is_admin: m.is_admin,
    }))
}

pub async fn create_hospital_key(
    db: &impl ConnectionTrait,
    institution_code: &str,
    key_hash: &str,
) -> Result<String, PersistenceError> {
    let id = new_id();
    let model = hospital_api_key::ActiveModel {
        id: Set(id.clone()),
        institution_code: Set(institution_code.to_string()),
        key_hash: Set(key_hash.to_string()),
        created_at: Set(Utc::now()),
        revoked_at: Set(None),
    };
    hospital_api_key::Entity::insert(model).exec(db).await?;
    Ok(id)
}

/// The institution an active key belongs to.
pub async fn institution_for_hospital_key(
    db: &impl ConnectionTrait,
    key_hash: &str,
) -> Result<Option<String>, PersistenceError> {
    Ok(hospital_api_key::Entity::find()
        .filter(hospital_api_key::Column::KeyHash.eq(key_hash))
        .filter(hospital_api_key::Column::RevokedAt.is_null())
        .one(db)
        .await?
        .map(|m| m.institution_code))
}
