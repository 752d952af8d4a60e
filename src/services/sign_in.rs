//! Sign-in for every audience: the family through the mini-program's login code (the session
//! key stays in the key-value store and never leaves the server), officers with a password
//! (argon2, off the async workers), hospital systems with an API key (stored only as a hash).
//! Each answers a signed token and its lifetime.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::ServiceError;
use crate::auth::{self, JwtKeys, Role};
use crate::clients::wechat::{ErrKind, WechatClient, WechatError};
use crate::config::SecuritySettings;
use crate::kv::KvStore;
use crate::persistence::audit::Actor;
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
    let actor = Actor::applicant(&user_id);
    super::audit_sign_in(db, &actor, "applicant.signed_in", ("user", &user_id), serde_json::json!({})).await?;
    tracing::info!(%user_id, "applicant signed in");
    session(jwt, &user_id, Role::Applicant, None)
}

/// Failed sign-ins from one client address, per kind of account: beyond
/// `security.login_max_failures` in the window, 429 `too_many_attempts` before anything is
/// checked or audited (so a flood of bogus sign-ins cannot grow the audit log either). The key is
/// a digest: a forwarded address of any length makes a key of one size.
struct AddressFailures {
    key: String,
    window: Duration,
}

/// The window in which sign-in attempts are counted.
fn login_window(limits: &SecuritySettings) -> Duration {
    Duration::from_secs(limits.login_window_secs.max(1))
}

fn too_many_attempts(window: Duration) -> ServiceError {
    ServiceError::TooManyAttempts { retry_after_secs: window.as_secs() }
}

/// A key part of fixed size, whatever a client sends as a username or a forwarded address.
fn digest(text: &str) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()))
}

impl AddressFailures {
    /// `counter` names the kind of account (officers keep the key they always had, so a deploy
    /// does not reset their counters).
    async fn check(
        kv: &dyn KvStore,
        limits: &SecuritySettings,
        counter: &str,
        client: &str,
    ) -> Result<AddressFailures, ServiceError> {
        let window = login_window(limits);
        let key = format!("{counter}:{}", digest(client));
        let failures = kv.get(&key).await?.and_then(|n| n.parse::<i64>().ok()).unwrap_or(0);
        if failures >= limits.login_max_failures {
            tracing::warn!(client, counter, "sign-in refused: too many failures from this address");
            return Err(too_many_attempts(window));
        }
        Ok(AddressFailures { key, window })
    }

    async fn failed(&self, kv: &dyn KvStore) -> Result<(), ServiceError> {
        kv.increment(&self.key, self.window).await?;
        Ok(())
    }
}

/// Who is signing in, and from where.
pub struct OfficerAttempt<'a> {
    pub username: &'a str,
    pub password: SecretString,
    /// The client's address as the reverse proxy in front of the service reports it
    /// (`Forwarded`/`X-Forwarded-For`, else the peer).
    pub client: &'a str,
}

/// Password checks at once, at most: each argon2 check holds 19 MiB and tens of milliseconds
/// of a core, so a flood of bogus sign-ins queues here instead of exhausting memory.
fn password_checks() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())))
}

/// An officer's sign-in. An unknown or disabled officer costs the same argon2 work as a wrong
/// password, so usernames cannot be told apart by time. Guessing is limited
/// (`security.login_*`): each username may try `login_max_failures` times in the window
/// (counted before the check, so a burst at once cannot slip past; a success clears it), and
/// each client address may fail that many times (counted after the check, so colleagues behind
/// one office address are not locked out by each other's successes). Beyond either, 429
/// `too_many_attempts` with `Retry-After`, and the password is not even checked. Every
/// sign-in that is checked is audited, success or failure.
#[tracing::instrument(skip_all)]
pub async fn officer(
    db: &Db,
    kv: &dyn KvStore,
    jwt: &JwtKeys,
    limits: &SecuritySettings,
    attempt: OfficerAttempt<'_>,
) -> Result<Session, ServiceError> {
    let username = attempt.username.trim();
    let window = login_window(limits);
    let name_key = format!("login_attempts:username:{}", digest(&username.to_lowercase()));
    let address = AddressFailures::check(kv, limits, "login_failures:address", attempt.client).await?;
    if kv.increment(&name_key, window).await? > limits.login_max_failures {
        tracing::warn!("officer sign-in refused: too many attempts for this username");
        return Err(too_many_attempts(window));
    }
    let officer = staff::find_officer_by_username(db, username).await?;
    let phc = officer
        .as_ref()
        .filter(|o| o.active)
        .map(|o| o.password_hash.clone())
        .unwrap_or_else(|| auth::dummy_password_hash().to_string());
    let ok = {
        let _slot = password_checks().acquire().await.map_err(ServiceError::internal)?;
        // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
        let password = attempt.password;
        tokio::task::spawn_blocking(move || auth::verify_password(password.expose_secret(), &phc))
            .await
            .map_err(ServiceError::internal)?
    };
    let detail = serde_json::json!({"username": username, "client": attempt.client});
    let officer = match officer {
        Some(o) if ok && o.active => o,
        _ => {
            address.failed(kv).await?;
            let actor = Actor::sign_in(attempt.client);
            super::audit_sign_in(db, &actor, "officer.sign_in_failed", ("username", username), detail).await?;
            return Err(ServiceError::Unauthorized {
                code: "invalid_credentials",
                message: "username or password is wrong".into(),
            });
        }
    };
    kv.delete(&name_key).await?;
    super::audit_sign_in(db, &Actor::officer(&officer.id), "officer.signed_in", ("officer", &officer.id), detail)
        .await?;
    let role = if officer.is_admin { Role::Admin } else { Role::Officer };
    tracing::info!(officer.id = %officer.id, "officer signed in");
    session(jwt, &officer.id, role, Some(&officer.institution_code))
}

/// A hospital system's sign-in with its API key. The token names the key, so revoking the key
/// ends the token too. Audited, success or failure; failures are limited per client address like
/// officers' (`security.login_*`).
#[tracing::instrument(skip_all)]
pub async fn hospital(
    db: &Db,
    kv: &dyn KvStore,
    jwt: &JwtKeys,
    limits: &SecuritySettings,
    client: &str,
    institution_code: &str,
    api_key: &str,
) -> Result<Session, ServiceError> {
    let address = AddressFailures::check(kv, limits, "login_failures:hospital:address", client).await?;
    let institution_code = institution_code.trim();
    let hash = auth::hash_api_key(api_key);
    // What a client sent goes into the log only as much as a real code could be.
    let shown: String = institution_code.chars().take(32).collect();
    let detail = serde_json::json!({"institution": shown});
    match staff::active_hospital_key_by_hash(db, &hash).await? {
        Some(key) if key.institution_code == institution_code => {
            let actor = Actor::hospital(institution_code);
            super::audit_sign_in(db, &actor, "hospital.signed_in", ("hospital_key", &key.id), detail).await?;
            session(jwt, &key.id, Role::Hospital, Some(&key.institution_code))
        }
        _ => {
            address.failed(kv).await?;
            let actor = Actor::sign_in(client);
            let subject = ("institution", shown.as_str());
            super::audit_sign_in(db, &actor, "hospital.sign_in_failed", subject, detail).await?;
            Err(ServiceError::Unauthorized {
                code: "invalid_credentials",
                message: "institution code or API key is wrong".into(),
            })
        }
    }
}

/// Is the holder of a valid token still allowed in? Officers and hospital keys can be taken back
/// (`officer disable`, `hospital-key revoke`), so their tokens are checked against the accounts on
/// every request; a family's token needs no such check.
pub async fn still_allowed(db: &Db, claims: &auth::Claims) -> Result<bool, ServiceError> {
    let institution = claims.inst.as_deref().unwrap_or_default();
    Ok(match claims.role {
        Role::Applicant => true,
        Role::Officer | Role::Admin => staff::officer_is_active(db, &claims.sub).await?,
        Role::Hospital => staff::hospital_key_is_active(db, &claims.sub, institution).await?,
    })
}
