//! The web console's sessions. Signing in goes through `sign_in::officer` or `sign_in::hospital`
//! (same limits, same audit as the API); the session is a random id in an HttpOnly, SameSite=Strict cookie, and what it stands
//! for — the officer's token and the session's CSRF token — is kept in the key-value store under
//! a digest of the id, so a leaked store does not hand out cookies and signing out ends it at once.
//! Every request re-checks the token and the account (`sign_in::still_allowed`).

use std::time::Duration;

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::sign_in::{self, Session};
use super::ServiceError;
use crate::auth::{Claims, JwtKeys};
use crate::kv::KvStore;
use crate::persistence::Db;

/// A signed-in officer, admin or hospital in the console.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub claims: Claims,
    /// Sent back with every form; compared in constant time.
    pub csrf_token: String,
}

impl ConsoleSession {
    /// The institution the session sees (every console role has one).
    pub fn institution(&self) -> &str {
        self.claims.inst.as_deref().unwrap_or_default()
    }

    /// Who acts, for the audit log and the services.
    pub fn actor(&self) -> crate::persistence::audit::Actor {
        match self.claims.role {
            crate::auth::Role::Hospital => crate::persistence::audit::Actor::hospital(self.institution()),
            _ => crate::persistence::audit::Actor::officer(&self.claims.sub),
        }
    }

    /// Does a posted form carry this session's CSRF token?
    pub fn accepts(&self, posted: Option<&str>) -> bool {
        posted.is_some_and(|p| bool::from(subtle::ConstantTimeEq::ct_eq(p.as_bytes(), self.csrf_token.as_bytes())))
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn key(cookie: &str) -> String {
    format!("console_session:{}", hex::encode(Sha256::digest(cookie.as_bytes())))
}

/// Opens a session for a signed-in officer or hospital → the cookie's value.
pub async fn open(kv: &dyn KvStore, session: &Session) -> Result<String, ServiceError> {
    let cookie = random_token();
    let value = serde_json::json!({"token": session.token, "csrf": random_token()}).to_string();
    kv.set(&key(&cookie), &value, Duration::from_secs(session.expires_in)).await?;
    Ok(cookie)
}

/// The session a cookie stands for, if it is still good: known, its token valid, its officer
/// still active.
pub async fn find(
    db: &Db,
    kv: &dyn KvStore,
    jwt: &JwtKeys,
    cookie: &str,
) -> Result<Option<ConsoleSession>, ServiceError> {
    if cookie.is_empty() || cookie.len() > 100 {
        return Ok(None);
    }
    let Some(stored) = kv.get(&key(cookie)).await? else { return Ok(None) };
    let stored: serde_json::Value = serde_json::from_str(&stored).map_err(ServiceError::internal)?;
    let (Some(token), Some(csrf)) = (stored["token"].as_str(), stored["csrf"].as_str()) else { return Ok(None) };
    let Ok(claims) = jwt.verify(token) else { return Ok(None) };
    if claims.inst.is_none()
        || !matches!(claims.role, crate::auth::Role::Officer | crate::auth::Role::Admin | crate::auth::Role::Hospital)
        || !sign_in::still_allowed(db, &claims).await?
    {
        return Ok(None);
    }
    Ok(Some(ConsoleSession { claims, csrf_token: csrf.to_string() }))
}

/// Signs out: the cookie stops working at once.
pub async fn close(kv: &dyn KvStore, cookie: &str) -> Result<(), ServiceError> {
    kv.delete(&key(cookie)).await?;
    Ok(())
}
