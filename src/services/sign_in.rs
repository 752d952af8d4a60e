//! Sign-in for every audience: the family through the mini-program's login code (the session
//! key stays in the key-value store and never leaves the server), officers with a password
//! (argon2, off the async workers), hospital systems with an API key (stored only as a hash).
//! Each answers a signed token and its lifetime.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::ServiceError;
use crate::auth::{self, JwtKeys, Role};
use crate::clients::wechat::{ErrKind, WechatClient, WechatError};
use crate::kv::KvStore;
use crate::persistence::{staff, users, Db};

/// A signed token and how long it lives.
pub struct Session {
    pub token: String,
    pub expires_in: u64,
}

const LOGIN_WINDOW: Duration = Duration::from_secs(60);
const LOGINS_PER_WINDOW: i64 = 20;

/// Kept as long as WeChat keeps a session key useful.
const SESSION_KEY_TTL: Duration = Duration::from_secs(3 * 24 * 3600);

fn wechat_error(e: WechatError) -> ServiceError {
    match e.kind() {
        Some(ErrKind::InvalidCode | ErrKind::CodeUsed) => ServiceError::Unauthorized {
            code: "invalid_login_code",
            message: "the login code is invalid, used or expired; call wx.login again".into(),
        },
        Some(ErrKind::RateLimited) => ServiceError::RateLimited,
        Some(ErrKind::HighRiskUser) => ServiceError::Forbidden("WeChat refused this account for risk control".into()),
        _ => ServiceError::Upstream { service: "WeChat", source: e.into() },
    }
}

fn session(jwt: &JwtKeys, sub: &str, role: Role, institution: Option<&str>) -> Result<Session, ServiceError> {
    let token = jwt.issue(sub, role, institution).map_err(ServiceError::internal)?;
    Ok(Session { token, expires_in: jwt.ttl_secs })
}

/// The family's sign-in with a `wx.login()` code.
#[tracing::instrument(skip_all)]
pub async fn applicant(
    db: &Db,
    kv: &dyn KvStore,
    wechat: &WechatClient,
    jwt: &JwtKeys,
    code: &str,
) -> Result<Session, ServiceError> {
    let code = code.trim();
    if code.is_empty() || code.len() > 128 {
        return Err(ServiceError::bad_request("invalid_login_code", "code is required"));
    }
    let wx = wechat.jscode2session(code).await.map_err(wechat_error)?;
    // Per user: a client looping on wx.login is stopped here before it reaches WeChat's own limit.
    let attempts = kv.increment(&format!("ratelimit:login:{}", wx.openid), LOGIN_WINDOW).await?;
    if attempts > LOGINS_PER_WINDOW {
        return Err(ServiceError::RateLimited);
    }
    let user_id = users::sign_in(db, &wx.openid, wx.unionid.as_deref()).await?;
    kv.set(&format!("session_key:{user_id}"), wx.session_key.expose_secret(), SESSION_KEY_TTL).await?;
    tracing::info!(%user_id, "applicant signed in");
    session(jwt, &user_id, Role::Applicant, None)
}

/// An officer's sign-in. An unknown or disabled officer costs the same argon2 work as a wrong
/// password, so usernames cannot be told apart by time.
#[tracing::instrument(skip_all)]
pub async fn officer(db: &Db, jwt: &JwtKeys, username: &str, password: SecretString) -> Result<Session, ServiceError> {
    let officer = staff::find_officer_by_username(db, username.trim()).await?;
    let phc = officer
        .as_ref()
        .filter(|o| o.active)
        .map(|o| o.password_hash.clone())
        .unwrap_or_else(|| auth::dummy_password_hash().to_string());
    // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(password.expose_secret(), &phc))
        .await
        .map_err(ServiceError::internal)?;
    let officer = match officer {
        Some(o) if ok && o.active => o,
        _ => {
            return Err(ServiceError::Unauthorized {
                code: "invalid_credentials",
                message: "username or password is wrong".into(),
            })
        }
    };
    let role = if officer.is_admin { Role::Admin } else { Role::Officer };
    tracing::info!(officer.id = %officer.id, "officer signed in");
    session(jwt, &officer.id, role, Some(&officer.institution_code))
}

/// A hospital system's sign-in with its API key.
#[tracing::instrument(skip_all)]
pub async fn hospital(db: &Db, jwt: &JwtKeys, institution_code: &str, api_key: &str) -> Result<Session, ServiceError> {
    let hash = auth::hash_api_key(api_key);
    match staff::institution_for_hospital_key(db, &hash).await? {
        Some(code) if code == institution_code.trim() => {
            session(jwt, &format!("hospital:{code}"), Role::Hospital, Some(&code))
        }
        _ => Err(ServiceError::Unauthorized {
            code: "invalid_credentials",
            message: "institution code or API key is wrong".into(),
        }),
    }
}
