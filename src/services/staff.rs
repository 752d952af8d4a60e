//! Creating institution-side accounts, shared by the command line, the embedded demo seed and
//! the tests.

use crate::auth;
use crate::persistence::{self, staff, Db, PersistenceError};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("unknown institution {0:?}")]
    UnknownInstitution(String),
    #[error("username {0:?} is taken")]
    UsernameTaken(String),
    #[error("username must be 3–64 letters, digits, '.', '_' or '-'")]
    BadUsername,
    #[error(transparent)]
    Persistence(PersistenceError),
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
}

#[tracing::instrument(skip_all)]
pub async fn add_officer(
    db: &Db,
    institution: &str,
    username: &str,
    password: &str,
    admin: bool,
) -> Result<staff::Officer, AccountError> {
    let username = username.trim();
    let valid = (3..=64).contains(&username.len())
        && username.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid {
        return Err(AccountError::BadUsername);
    }
    ensure_institution(db, institution).await?;
    let password = password.to_string();
    let phc = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| AccountError::Auth(auth::AuthError::Hashing(e.to_string())))??;
    staff::create_officer(db, institution, username, &phc, admin).await.map_err(|e| match e {
        PersistenceError::Conflict(_) => AccountError::UsernameTaken(username.to_string()),
        other => AccountError::Persistence(other),
    })
}

/// Returns the new key; it is not stored anywhere in clear.
#[tracing::instrument(skip_all)]
pub async fn add_hospital_key(db: &Db, institution: &str) -> Result<String, AccountError> {
    ensure_institution(db, institution).await?;
    let key = auth::generate_api_key();
    staff::create_hospital_key(db, institution, &auth::hash_api_key(&key)).await.map_err(AccountError::Persistence)?;
    Ok(key)
}

#[tracing::instrument(skip_all)]
async fn ensure_institution(db: &Db, code: &str) -> Result<(), AccountError> {
    match persistence::institutions::get(db, code).await.map_err(AccountError::Persistence)? {
        Some(_) => Ok(()),
        None => Err(AccountError::UnknownInstitution(code.to_string())),
    }
}

/// Embedded profile only: an officer and an admin at the first institution so the whole
/// journey can be tried on a bare machine. Never enabled in production.
#[tracing::instrument(skip_all)]
pub async fn seed_demo_accounts(db: &Db, institution: &str, password: &str) -> Result<(), AccountError> {
    for (username, admin) in [("demo.officer", false), ("demo.admin", true)] {
        if staff::find_officer_by_username(db, username).await.map_err(AccountError::Persistence)?.is_none() {
            add_officer(db, institution, username, password, admin).await?;
            tracing::info!(username, institution, "demo account created");
        }
    }
    Ok(())
}
