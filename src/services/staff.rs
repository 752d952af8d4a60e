//! Institution-side accounts (officers and hospital systems' API keys): created, disabled,
//! re-enabled, reset and revoked. Shared by the command line, the embedded demo seed and the
//! tests, and the console's admin pages. Every change is in the audit log, in the same
//! transaction as the change, under who made it: the operator at the command line (any
//! institution) or an institution's admin (only their own institution's accounts).

use crate::auth;
use crate::persistence::audit::{self, Actor};
use crate::persistence::{self, staff, Db, PersistenceError};

pub use crate::persistence::staff::HospitalKey;

/// Who changes an account.
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    /// The operator at the command line: every institution.
    Operator,
    /// An institution's admin in the console: their own institution only.
    Admin { id: &'a str, institution: &'a str },
}

impl By<'_> {
    fn actor(&self) -> Actor {
        match self {
            By::Operator => Actor::operator(),
            By::Admin { id, .. } => Actor::officer(id),
        }
    }

    /// May this change touch an account of that institution? (An admin never learns whether an
    /// account of another institution exists: it is "unknown" to them.)
    fn reaches(&self, institution: &str) -> bool {
        match self {
            By::Operator => true,
            By::Admin { institution: own, .. } => *own == institution,
        }
    }
}

/// Ends an account change: its audit entry, in the same transaction, then the commit.
async fn audited(
    txn: persistence::Txn,
    by: By<'_>,
    action: &str,
    subject: (&str, &str),
    detail: serde_json::Value,
) -> Result<(), AccountError> {
    audit::append(&txn, &by.actor(), action, subject.0, subject.1, detail).await?;
    Ok(persistence::commit(txn).await?)
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("unknown institution {0:?}")]
    UnknownInstitution(String),
    #[error("username {0:?} is taken")]
    UsernameTaken(String),
    #[error("username must be 3–64 letters, digits, '.', '_' or '-'")]
    BadUsername,
    #[error("no officer named {0:?}")]
    UnknownOfficer(String),
    #[error("no hospital key with id {0:?}")]
    UnknownKey(String),
    #[error("an admin cannot disable their own account")]
    OwnAccount,
    #[error("password must be at least {MIN_PASSWORD_CHARS} characters")]
    ShortPassword,
    #[error(transparent)]
    Persistence(#[from] PersistenceError),
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
}

/// An account change refused in the console, as the API would answer it.
impl From<AccountError> for crate::services::ServiceError {
    fn from(e: AccountError) -> Self {
        use crate::services::{FieldError, ServiceError};
        let field = |field: &str, code: &str| ServiceError::Validation { fields: vec![FieldError::new(field, code)] };
        match e {
            AccountError::UnknownInstitution(_) => ServiceError::NotFound("institution"),
            AccountError::UnknownOfficer(_) => ServiceError::NotFound("officer"),
            AccountError::UnknownKey(_) => ServiceError::NotFound("hospital key"),
            AccountError::UsernameTaken(_) => ServiceError::Conflict { code: "username_taken", message: e.to_string() },
            AccountError::OwnAccount => ServiceError::Conflict { code: "own_account", message: e.to_string() },
            AccountError::BadUsername => field("username", "invalid"),
            AccountError::ShortPassword => field("password", "too_short"),
            AccountError::Persistence(p) => p.into(),
            AccountError::Auth(a) => ServiceError::internal(a),
        }
    }
}

#[tracing::instrument(skip_all)]
pub async fn add_officer(
    db: &Db,
    by: By<'_>,
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
    if !by.reaches(institution) {
        return Err(AccountError::UnknownInstitution(institution.to_string()));
    }
    ensure_institution(db, institution).await?;
    let phc = hashed(password).await?;
    let txn = persistence::begin(db).await?;
    let officer = staff::create_officer(&*txn, institution, username, &phc, admin).await.map_err(|e| match e {
        PersistenceError::Conflict(_) => AccountError::UsernameTaken(username.to_string()),
        other => AccountError::Persistence(other),
    })?;
    let detail = serde_json::json!({"username": username, "institution": institution, "admin": admin});
    audited(txn, by, "officer.created", ("officer", &officer.id), detail).await?;
    Ok(officer)
}

pub const MIN_PASSWORD_CHARS: usize = 12;

/// argon2id, off the async workers.
async fn hashed(password: &str) -> Result<String, AccountError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::ShortPassword);
    }
    let password = password.to_string();
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| AccountError::Auth(auth::AuthError::Hashing(e.to_string())))?
        .map_err(AccountError::Auth)
}

/// Disables the officer, or enables them again. A disabled officer cannot sign in, and every
/// token they already hold is refused from the next request on.
#[tracing::instrument(skip_all)]
pub async fn set_officer_enabled(db: &Db, by: By<'_>, username: &str, enabled: bool) -> Result<(), AccountError> {
    let officer = reachable_officer(db, by, username).await?;
    if matches!(by, By::Admin { id, .. } if id == officer.id) && !enabled {
        return Err(AccountError::OwnAccount);
    }
    let txn = persistence::begin(db).await?;
    let id = staff::set_officer_disabled(&*txn, username, !enabled)
        .await?
        .ok_or_else(|| AccountError::UnknownOfficer(username.to_string()))?;
    let action = if enabled { "officer.enabled" } else { "officer.disabled" };
    audited(txn, by, action, ("officer", &id), serde_json::json!({"username": username})).await
}

/// Sets a new password (an officer who forgot theirs; the old one stops working at once).
#[tracing::instrument(skip_all)]
pub async fn reset_officer_password(db: &Db, by: By<'_>, username: &str, password: &str) -> Result<(), AccountError> {
    reachable_officer(db, by, username).await?;
    let phc = hashed(password).await?;
    let txn = persistence::begin(db).await?;
    let id = staff::set_officer_password(&*txn, username, &phc)
        .await?
        .ok_or_else(|| AccountError::UnknownOfficer(username.to_string()))?;
    audited(txn, by, "officer.password_reset", ("officer", &id), serde_json::json!({"username": username})).await
}

/// The institution's keys, oldest first, revoked ones included.
pub async fn hospital_keys(db: &Db, institution: &str) -> Result<Vec<HospitalKey>, AccountError> {
    ensure_institution(db, institution).await?;
    Ok(staff::hospital_keys(db, institution).await?)
}

/// Revokes a key: it cannot sign in again, and tokens it was given are refused at once.
#[tracing::instrument(skip_all)]
pub async fn revoke_hospital_key(db: &Db, by: By<'_>, id: &str) -> Result<HospitalKey, AccountError> {
    let txn = persistence::begin(db).await?;
    // Dropping the transaction undoes a revocation the admin may not make.
    let key = staff::revoke_hospital_key(&*txn, id)
        .await?
        .filter(|key| by.reaches(&key.institution_code))
        .ok_or_else(|| AccountError::UnknownKey(id.to_string()))?;
    let detail = serde_json::json!({"institution": key.institution_code});
    audited(txn, by, "hospital_key.revoked", ("hospital_key", &key.id), detail).await?;
    Ok(key)
}

/// Returns the new key; it is not stored anywhere in clear.
#[tracing::instrument(skip_all)]
pub async fn add_hospital_key(db: &Db, by: By<'_>, institution: &str) -> Result<String, AccountError> {
    if !by.reaches(institution) {
        return Err(AccountError::UnknownInstitution(institution.to_string()));
    }
    ensure_institution(db, institution).await?;
    let key = auth::generate_api_key();
    let txn = persistence::begin(db).await?;
    let id = staff::create_hospital_key(&*txn, institution, &auth::hash_api_key(&key)).await?;
    audited(txn, by, "hospital_key.created", ("hospital_key", &id), serde_json::json!({"institution": institution}))
        .await?;
    Ok(key)
}

/// Makes the officer a keeper of the special seal (the notice's 印章管理人员), who records each
/// certificate's stamping, or takes that away.
#[tracing::instrument(skip_all)]
pub async fn set_seal_keeper(db: &Db, by: By<'_>, username: &str, keeps: bool) -> Result<(), AccountError> {
    reachable_officer(db, by, username).await?;
    let txn = persistence::begin(db).await?;
    let id = staff::set_can_seal(&*txn, username, keeps)
        .await?
        .ok_or_else(|| AccountError::UnknownOfficer(username.to_string()))?;
    audited(txn, by, "officer.seal_keeper", ("officer", &id), serde_json::json!({"username": username, "keeps": keeps}))
        .await
}

/// The officer with this username, if the change may touch them.
async fn reachable_officer(db: &Db, by: By<'_>, username: &str) -> Result<staff::Officer, AccountError> {
    staff::find_officer_by_username(db, username)
        .await?
        .filter(|o| by.reaches(&o.institution_code))
        .ok_or_else(|| AccountError::UnknownOfficer(username.to_string()))
}

/// The institution's officers, by username.
pub async fn officers(db: &Db, institution: &str) -> Result<Vec<staff::Officer>, AccountError> {
    Ok(staff::officers(db, institution).await?)
}

#[tracing::instrument(skip_all)]
async fn ensure_institution(db: &Db, code: &str) -> Result<(), AccountError> {
    match persistence::institutions::get(db, code).await? {
        Some(_) => Ok(()),
        None => Err(AccountError::UnknownInstitution(code.to_string())),
    }
}

/// Embedded profile only: an officer and an admin at the first institution so the whole
/// journey can be tried on a bare machine. Never enabled in production.
#[tracing::instrument(skip_all)]
pub async fn seed_demo_accounts(db: &Db, institution: &str, password: &str) -> Result<(), AccountError> {
    for (username, admin) in [("demo.officer", false), ("demo.admin", true)] {
        if staff::find_officer_by_username(db, username).await?.is_none() {
            add_officer(db, By::Operator, institution, username, password, admin).await?;
            tracing::info!(username, institution, "demo account created");
        }
    }
    Ok(())
}
