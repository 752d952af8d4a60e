//! Officers and hospital API keys: the institution-side accounts.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::entities::{hospital_api_key, officer};
use super::{is_unique_violation, new_id, PersistenceError};

#[derive(Debug, Clone)]
pub struct Officer {
    pub id: String,
    /// Keeps the special seal.
    pub can_seal: bool,
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
        digest_openid: Set(None),
        digest_code_hash: Set(None),
        digest_code_expires_at: Set(None),
        can_seal: Set(false),
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
        can_seal: false,
        active: true,
    })
}

fn officer_of(m: officer::Model) -> Officer {
    Officer {
        can_seal: m.can_seal,
        active: m.disabled_at.is_none(),
        id: m.id,
        institution_code: m.institution_code,
        username: m.username,
        password_hash: m.password_hash,
        is_admin: m.is_admin,
    }
}

/// The institution's officers, by username.
pub async fn officers(db: &impl ConnectionTrait, institution_code: &str) -> Result<Vec<Officer>, PersistenceError> {
    Ok(officer::Entity::find()
        .filter(officer::Column::InstitutionCode.eq(institution_code))
        .order_by_asc(officer::Column::Username)
        .all(db)
        .await?
        .into_iter()
        .map(officer_of)
        .collect())
}

pub async fn find_officer_by_username(
    db: &impl ConnectionTrait,
    username: &str,
) -> Result<Option<Officer>, PersistenceError> {
    Ok(officer::Entity::find().filter(officer::Column::Username.eq(username)).one(db).await?.map(officer_of))
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

/// An active key with this hash: its id and institution.
pub async fn active_hospital_key_by_hash(
    db: &impl ConnectionTrait,
    key_hash: &str,
) -> Result<Option<HospitalKey>, PersistenceError> {
    Ok(hospital_api_key::Entity::find()
        .filter(hospital_api_key::Column::KeyHash.eq(key_hash))
        .filter(hospital_api_key::Column::RevokedAt.is_null())
        .one(db)
        .await?
        .map(HospitalKey::from))
}

/// A hospital system's API key as an administrator sees it (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HospitalKey {
    pub id: String,
    pub institution_code: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<hospital_api_key::Model> for HospitalKey {
    fn from(m: hospital_api_key::Model) -> Self {
        HospitalKey {
            id: m.id,
            institution_code: m.institution_code,
            created_at: m.created_at,
            revoked_at: m.revoked_at,
        }
    }
}

/// Is the key with this id still active, and for this institution? Asked on every request a
/// hospital system makes, so a revoked key's tokens stop working at once.
pub async fn hospital_key_is_active(
    db: &impl ConnectionTrait,
    id: &str,
    institution_code: &str,
) -> Result<bool, PersistenceError> {
    Ok(hospital_api_key::Entity::find_by_id(id.to_string())
        .filter(hospital_api_key::Column::InstitutionCode.eq(institution_code))
        .filter(hospital_api_key::Column::RevokedAt.is_null())
        .one(db)
        .await?
        .is_some())
}

pub async fn hospital_keys(
    db: &impl ConnectionTrait,
    institution_code: &str,
) -> Result<Vec<HospitalKey>, PersistenceError> {
    Ok(hospital_api_key::Entity::find()
        .filter(hospital_api_key::Column::InstitutionCode.eq(institution_code))
        .order_by_asc(hospital_api_key::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(HospitalKey::from)
        .collect())
}

/// Revokes the key (once: revoking a revoked key keeps its first time). None if no such key.
pub async fn revoke_hospital_key(db: &impl ConnectionTrait, id: &str) -> Result<Option<HospitalKey>, PersistenceError> {
    hospital_api_key::Entity::update_many()
        .col_expr(hospital_api_key::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(hospital_api_key::Column::Id.eq(id))
        .filter(hospital_api_key::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(hospital_api_key::Entity::find_by_id(id.to_string()).one(db).await?.map(HospitalKey::from))
}

/// Is the officer with this id still there and not disabled? Asked on every request an officer
/// makes, so disabling takes effect at once, whatever tokens the officer holds.
pub async fn officer_is_active(db: &impl ConnectionTrait, id: &str) -> Result<bool, PersistenceError> {
    Ok(officer::Entity::find_by_id(id.to_string())
        .filter(officer::Column::DisabledAt.is_null())
        .one(db)
        .await?
        .is_some())
}

/// Disables (or enables) the officer. Returns the officer's id, None if no such username.
pub async fn set_officer_disabled(
    db: &impl ConnectionTrait,
    username: &str,
    disabled: bool,
) -> Result<Option<String>, PersistenceError> {
    // Disabling keeps the first time it happened; enabling clears it.
    let change = if disabled {
        (Expr::value(Utc::now()), officer::Column::DisabledAt.is_null())
    } else {
        (Expr::value(Option::<DateTime<Utc>>::None), officer::Column::DisabledAt.is_not_null())
    };
    update_officer(db, username, officer::Column::DisabledAt, change.0, Some(change.1)).await
}

/// Sets a new password hash. Returns the officer's id, None if no such username.
pub async fn set_officer_password(
    db: &impl ConnectionTrait,
    username: &str,
    password_hash: &str,
) -> Result<Option<String>, PersistenceError> {
    update_officer(db, username, officer::Column::PasswordHash, Expr::value(password_hash), None).await
}

/// Sets one column of the officer with this username (where `only_if` holds) → the officer's id,
/// None if no such username.
async fn update_officer(
    db: &impl ConnectionTrait,
    username: &str,
    column: officer::Column,
    value: sea_orm::sea_query::SimpleExpr,
    only_if: Option<sea_orm::sea_query::SimpleExpr>,
) -> Result<Option<String>, PersistenceError> {
    let Some(found) = officer::Entity::find().filter(officer::Column::Username.eq(username)).one(db).await? else {
        return Ok(None);
    };
    let mut update = officer::Entity::update_many().col_expr(column, value).filter(officer::Column::Id.eq(&found.id));
    if let Some(condition) = only_if {
        update = update.filter(condition);
    }
    update.exec(db).await?;
    Ok(Some(found.id))
}

// ---- the morning digest ----------------------------------------------------------------------

/// Keeps a binding code (its hash) for the officer until `expires_at`; a new one replaces it.
pub async fn set_digest_code(
    db: &impl ConnectionTrait,
    officer_id: &str,
    code_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), PersistenceError> {
    officer::Entity::update_many()
        .col_expr(officer::Column::DigestCodeHash, Expr::value(code_hash))
        .col_expr(officer::Column::DigestCodeExpiresAt, Expr::value(expires_at))
        .filter(officer::Column::Id.eq(officer_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Binds the digest of the active officer whose unexpired code this is to `openid`, using the
/// code up → the officer's id, None if no such code.
pub async fn bind_digest(
    db: &impl ConnectionTrait,
    code_hash: &str,
    openid: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, PersistenceError> {
    let Some(found) = officer::Entity::find()
        .filter(officer::Column::DigestCodeHash.eq(code_hash))
        .filter(officer::Column::DigestCodeExpiresAt.gt(now))
        .filter(officer::Column::DisabledAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    // Only the one that still holds this code: a code is used once.
    let done = officer::Entity::update_many()
        .col_expr(officer::Column::DigestOpenid, Expr::value(openid))
        .col_expr(officer::Column::DigestCodeHash, Expr::value(Option::<String>::None))
        .col_expr(officer::Column::DigestCodeExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(officer::Column::Id.eq(&found.id))
        .filter(officer::Column::DigestCodeHash.eq(code_hash))
        .exec(db)
        .await?;
    Ok((done.rows_affected == 1).then_some(found.id))
}

/// Stops the officer's digest (and any waiting code).
pub async fn clear_digest(db: &impl ConnectionTrait, officer_id: &str) -> Result<(), PersistenceError> {
    officer::Entity::update_many()
        .col_expr(officer::Column::DigestOpenid, Expr::value(Option::<String>::None))
        .col_expr(officer::Column::DigestCodeHash, Expr::value(Option::<String>::None))
        .col_expr(officer::Column::DigestCodeExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(officer::Column::Id.eq(officer_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Where the active officer's digest goes, if they opted in.
pub async fn digest_openid(db: &impl ConnectionTrait, officer_id: &str) -> Result<Option<String>, PersistenceError> {
    Ok(officer::Entity::find_by_id(officer_id.to_string())
        .filter(officer::Column::DisabledAt.is_null())
        .one(db)
        .await?
        .and_then(|o| o.digest_openid))
}

/// Active officers who opted in: (officer id, institution, where the digest goes).
pub async fn digest_recipients(db: &impl ConnectionTrait) -> Result<Vec<(String, String, String)>, PersistenceError> {
    Ok(officer::Entity::find()
        .filter(officer::Column::DigestOpenid.is_not_null())
        .filter(officer::Column::DisabledAt.is_null())
        .order_by_asc(officer::Column::InstitutionCode)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|o| Some((o.id, o.institution_code, o.digest_openid?)))
        .collect())
}

/// Makes the officer a keeper of the special seal (or not) → the officer's id, None if no such
/// username.
pub async fn set_can_seal(
    db: &impl ConnectionTrait,
    username: &str,
    can_seal: bool,
) -> Result<Option<String>, PersistenceError> {
    update_officer(db, username, officer::Column::CanSeal, Expr::value(can_seal), None).await
}

/// Does the active officer with this id keep the seal?
pub async fn keeps_seal(db: &impl ConnectionTrait, officer_id: &str) -> Result<bool, PersistenceError> {
    Ok(officer::Entity::find_by_id(officer_id.to_string())
        .filter(officer::Column::DisabledAt.is_null())
        .one(db)
        .await?
        .is_some_and(|o| o.can_seal))
}
