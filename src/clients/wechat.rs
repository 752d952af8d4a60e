//! The WeChat platform API: access tokens shared through the key-value store with one
//! refresher across all instances, and typed calls for login, user info, template and
//! subscribe messages and face verification 2.0.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::config::{Settings, TokenEndpoint};
use crate::kv::{KvError, KvStore};

/// Documented errcodes, named. Anything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrKind {
    SystemBusy,
    InvalidCredential,
    IllegalToken,
    TokenExpired,
    InvalidAppId,
    InvalidSecret,
    InvalidOpenId,
    InvalidTemplateId,
    InvalidCode,
    CodeUsed,
    HighRiskUser,
    RequireSubscribe,
    UserRefusedSubscription,
    DailyQuota,
    RateLimited,
    InvalidPage,
    InvalidTemplateParam,
    FaceVerifyIdInvalid,
    Other,
}

impl ErrKind {
    pub fn from_code(code: i64) -> ErrKind {
        match code {
            -1 => ErrKind::SystemBusy,
            40001 => ErrKind::InvalidCredential,
            40014 => ErrKind::IllegalToken,
            42001 => ErrKind::TokenExpired,
            40013 => ErrKind::InvalidAppId,
            40125 => ErrKind::InvalidSecret,
            40003 => ErrKind::InvalidOpenId,
            40037 => ErrKind::InvalidTemplateId,
            40029 => ErrKind::InvalidCode,
            40163 => ErrKind::CodeUsed,
            40226 => ErrKind::HighRiskUser,
            43004 => ErrKind::RequireSubscribe,
            43101 => ErrKind::UserRefusedSubscription,
            45009 => ErrKind::DailyQuota,
            45011 => ErrKind::RateLimited,
            41030 => ErrKind::InvalidPage,
            47003 => ErrKind::InvalidTemplateParam,
            84001 => ErrKind::FaceVerifyIdInvalid,
            _ => ErrKind::Other,
        }
    }

    /// The token used was not (or no longer) good: expire it if still current, refresh, retry.
    pub fn is_token_error(self) -> bool {
        matches!(self, ErrKind::InvalidCredential | ErrKind::IllegalToken | ErrKind::TokenExpired)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WechatError {
    #[error("WeChat API error {errcode}: {errmsg}")]
    Api { errcode: i64, errmsg: String, kind: ErrKind },
    #[error("WeChat did not answer in time")]
    Timeout,
    #[error("WeChat request failed: {0}")]
    Transport(String),
    #[error("WeChat answered HTTP {0}")]
    Status(u16),
    #[error("WeChat answer could not be read: {0}")]
    Decode(String),
    #[error("token store: {0}")]
    Store(#[from] KvError),
    #[error("timed out waiting for another instance to refresh the access token")]
    TokenLockTimeout,
}

impl WechatError {
    pub fn errcode(&self) -> Option<i64> {
        match self {
            WechatError::Api { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }

    pub fn kind(&self) -> Option<ErrKind> {
        match self {
            WechatError::Api { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

impl From<reqwest::Error> for WechatError {
    fn from(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            WechatError::Timeout
        } else {
            WechatError::Transport(super::describe(e))
        }
    }
}

/// One app's credentials: the official account or the mini-program.
#[derive(Clone)]
pub struct AppCredentials {
    pub app_id: String,
    pub secret: SecretString,
}

/// Access tokens of one app, cached in the shared store. Only one instance refreshes at a time
/// (a lock in the store, double-checked after it is taken); on a token error the cached token
/// is expired only if it is still the one that failed, so a fresh token another instance just
/// stored is never thrown away.
pub struct TokenCache {
    app: AppCredentials,
    kv: Arc<dyn KvStore>,
    http: reqwest::Client,
    base_url: String,
    endpoint: TokenEndpoint,
}

/// Refresh this long before WeChat's expiry.
const TOKEN_SAFETY_MARGIN_SECS: u64 = 300;
const LOCK_TTL: Duration = Duration::from_secs(15);
const LOCK_WAIT: Duration = Duration::from_secs(8);
const BUSY_RETRIES: u32 = 3;

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    errcode: Option<i64>,
    #[serde(default)]
    errmsg: Option<String>,
}

impl TokenCache {
    fn token_key(&self) -> String {
        format!("wechat:access_token:{}", self.app.app_id)
    }

    fn lock_key(&self) -> String {
        format!("wechat:access_token_lock:{}", self.app.app_id)
    }

    pub async fn get(&self) -> Result<String, WechatError> {
        if let Some(token) = self.kv.get(&self.token_key()).await? {
            return Ok(token);
        }
        let lock_value = uuid::Uuid::new_v4().to_string();
        let deadline = tokio::time::Instant::now() + LOCK_WAIT;
        loop {
            if self.kv.set_if_absent(&self.lock_key(), &lock_value, LOCK_TTL).await? {
                // Double-check: another instance may have refreshed while we waited.
                let result = match self.kv.get(&self.token_key()).await? {
                    Some(token) => Ok(token),
                    None => self.fetch_and_store().await,
                };
                let _ = self.kv.compare_and_delete(&self.lock_key(), &lock_value).await;
                return result;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
            if let Some(token) = self.kv.get(&self.token_key()).await? {
                return Ok(token);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(WechatError::TokenLockTimeout);
            }
        }
    }

    /// Forget `used` if it is still the cached token.
    pub async fn expire_if_current(&self, used: &str) -> Result<bool, WechatError> {
        Ok(self.kv.compare_and_delete(&self.token_key(), used).await?)
    }

    async fn fetch_and_store(&self) -> Result<String, WechatError> {
        let mut attempt = 0;
        loop {
            let answer = self.fetch_once().await;
            match answer {
                Err(WechatError::Api { kind: ErrKind::SystemBusy, .. }) if attempt + 1 < BUSY_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(e) => return Err(e),
                Ok((token, expires_in)) => {
                    let ttl = expires_in.saturating_sub(TOKEN_SAFETY_MARGIN_SECS).max(60);
                    self.kv.set(&self.token_key(), &token, Duration::from_secs(ttl)).await?;
                    tracing::info!(app_id = %self.app.app_id, ttl, "access token refreshed");
                    return Ok(token);
                }
            }
        }
    }

    async fn fetch_once(&self) -> Result<(String, u64), WechatError> {
        let request = match self.endpoint {
            TokenEndpoint::StableToken => {
                self.http.post(format!("{}/cgi-bin/stable_token", self.base_url)).json(&json!({
                    "grant_type": "client_credential",
                    "appid": self.app.app_id,
                    "secret": self.app.secret.expose_secret(),
                    "force_refresh": false,
                }))
            }
            TokenEndpoint::Token => self.http.get(format!("{}/cgi-bin/token", self.base_url)).query(&[
                ("grant_type", "client_credential"),
                ("appid", self.app.app_id.as_str()),
                ("secret", self.app.secret.expose_secret()),
            ]),
        };
        let response = request.send().await?;
        if !response.status().is_success() {
            return Err(WechatError::Status(response.status().as_u16()));
        }
        let answer: TokenAnswer = response.json().await.map_err(|e| WechatError::Decode(super::describe(e)))?;
        match (answer.access_token, answer.errcode.unwrap_or(0)) {
            (Some(token), 0) => Ok((token, answer.expires_in.unwrap_or(7200))),
            (_, code) => Err(api_error(code, answer.errmsg.unwrap_or_default())),
        }
    }
}

fn api_error(errcode: i64, errmsg: String) -> WechatError {
    WechatError::Api { errcode, errmsg, kind: ErrKind::from_code(errcode) }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64 << attempt.min(6))
}

/// `cert_hash` of face verification 2.0: base64 each value, `cert_type=..&cert_name=..&cert_no=..`,
/// lower-case hex SHA-256.
pub fn cert_hash(cert_type: &str, cert_name: &str, cert_no: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let s = format!(
        "cert_type={}&cert_name={}&cert_no={}",
        b64.encode(cert_type.as_bytes()),
        b64.encode(cert_name.as_bytes()),
        b64.encode(cert_no.as_bytes())
    );
    hex::encode(Sha256::digest(s.as_bytes()))
}

#[derive(Debug, Clone, Deserialize)]
pub struct CodeSession {
    pub openid: String,
    pub session_key: SecretString,
    #[serde(default)]
    pub unionid: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct UserInfo {
    /// 0 when the user does not follow the account (then only openid is returned).
    #[serde(default)]
    pub subscribe: i64,
    pub openid: String,
    #[serde(default)]
    pub unionid: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MiniProgramLink {
    pub appid: String,
    pub pagepath: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TemplateMessage {
    pub touser: String,
    pub template_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub miniprogram: Option<MiniProgramLink>,
    /// WeChat drops a second message with the same id to the same user within 10 minutes.
    pub client_msg_id: String,
    pub data: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubscribeMessage {
    pub touser: String,
    pub template_id: String,
    pub page: String,
    pub miniprogram_state: String,
    pub lang: String,
    pub data: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VerifyId {
    pub verify_id: String,
    #[serde(default = "default_verify_ttl")]
    pub expires_in: u64,
}

fn default_verify_ttl() -> u64 {
    3600
}

#[derive(Debug, Clone, Deserialize)]
pub struct VerifyResult {
    pub verify_ret: i64,
}

impl VerifyResult {
    /// The only passing outcome (errcode 0 was checked before this exists).
    pub fn passed(&self) -> bool {
        self.verify_ret == 10000
    }
}

pub struct WechatClient {
    http: reqwest::Client,
    base_url: String,
    official: TokenCache,
    mini: TokenCache,
    mini_app: AppCredentials,
}

impl WechatClient {
    pub fn new(settings: &Settings, kv: Arc<dyn KvStore>) -> Result<WechatClient, WechatError> {
        let http = super::http_client(Duration::from_secs(settings.wechat.request_timeout_secs))
            .map_err(|e| WechatError::Transport(super::describe(e)))?;
        let base_url = settings.base_url(crate::config::OutsideSystem::Wechat);
        let official =
            AppCredentials { app_id: settings.wechat.app_id.clone(), secret: settings.wechat.app_secret.clone() };
        let mini_app = AppCredentials {
            app_id: settings.wechat.mini_program_app_id.clone(),
            secret: settings.wechat.mini_program_app_secret.clone(),
        };
        let cache = |app: AppCredentials| TokenCache {
            app,
            kv: kv.clone(),
            http: http.clone(),
            base_url: base_url.clone(),
            endpoint: settings.wechat.token_endpoint,
        };
        Ok(WechatClient { official: cache(official), mini: cache(mini_app.clone()), mini_app, http, base_url })
    }

    /// Calls an API that takes `access_token`, with the refresh-and-retry-once rule for token
    /// errors and bounded backoff for "system busy".
    async fn call<T: DeserializeOwned>(
        &self,
        tokens: &TokenCache,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<T, WechatError> {
        let mut token_retried = false;
        let mut busy_attempts = 0;
        loop {
            let token = tokens.get().await?;
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.base_url))
                .query(&[("access_token", token.as_str())])
                .query(query);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await?;
            if !response.status().is_success() {
                return Err(WechatError::Status(response.status().as_u16()));
            }
            let value: Value = response.json().await.map_err(|e| WechatError::Decode(super::describe(e)))?;
            let errcode = value.get("errcode").and_then(Value::as_i64).unwrap_or(0);
            if errcode == 0 {
                return serde_json::from_value(value).map_err(|e| WechatError::Decode(e.to_string()));
            }
            let errmsg = value.get("errmsg").and_then(Value::as_str).unwrap_or_default().to_string();
            let kind = ErrKind::from_code(errcode);
            if kind.is_token_error() && !token_retried {
                token_retried = true;
                let expired = tokens.expire_if_current(&token).await?;
                tracing::warn!(errcode, expired, path, "access token refused; refreshing and retrying once");
                continue;
            }
            if kind == ErrKind::SystemBusy && busy_attempts + 1 < BUSY_RETRIES {
                busy_attempts += 1;
                tokio::time::sleep(backoff(busy_attempts)).await;
                continue;
            }
            return Err(WechatError::Api { errcode, errmsg, kind });
        }
    }

    /// `code` → openid, session_key, unionid. Uses the app secret, not an access token.
    pub async fn jscode2session(&self, code: &str) -> Result<CodeSession, WechatError> {
        let response = self
            .http
            .get(format!("{}/sns/jscode2session", self.base_url))
            .query(&[
                ("appid", self.mini_app.app_id.as_str()),
                ("secret", self.mini_app.secret.expose_secret()),
                ("js_code", code),
                ("grant_type", "authorization_code"),
            ])
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(WechatError::Status(response.status().as_u16()));
        }
        let value: Value = response.json().await.map_err(|e| WechatError::Decode(super::describe(e)))?;
        let errcode = value.get("errcode").and_then(Value::as_i64).unwrap_or(0);
        if errcode != 0 {
            return Err(api_error(
                errcode,
                value.get("errmsg").and_then(Value::as_str).unwrap_or_default().to_string(),
            ));
        }
        serde_json::from_value(value).map_err(|e| WechatError::Decode(e.to_string()))
    }

    pub async fn user_info(&self, openid: &str) -> Result<UserInfo, WechatError> {
        self.call(
            &self.official,
            reqwest::Method::GET,
            "/cgi-bin/user/info",
            &[("openid", openid), ("lang", "zh_CN")],
            None,
        )
        .await
    }

    /// Returns the `msgid` that TEMPLATESENDJOBFINISH will later name.
    pub async fn send_template(&self, message: &TemplateMessage) -> Result<String, WechatError> {
        let body = serde_json::to_value(message).map_err(|e| WechatError::Decode(e.to_string()))?;
        let answer: Value = self
            .call(&self.official, reqwest::Method::POST, "/cgi-bin/message/template/send", &[], Some(&body))
            .await?;
        Ok(match &answer["msgid"] {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => String::new(),
        })
    }

    /// `/cgi-bin/menu/create`: the official account's menu, replacing the one there.
    pub async fn create_menu(&self, menu: &Value) -> Result<(), WechatError> {
        let _: Value =
            self.call(&self.official, reqwest::Method::POST, "/cgi-bin/menu/create", &[], Some(menu)).await?;
        Ok(())
    }

    pub async fn send_subscribe(&self, message: &SubscribeMessage) -> Result<(), WechatError> {
        let body = serde_json::to_value(message).map_err(|e| WechatError::Decode(e.to_string()))?;
        let _: Value =
            self.call(&self.mini, reqwest::Method::POST, "/cgi-bin/message/subscribe/send", &[], Some(&body)).await?;
        Ok(())
    }

    pub async fn face_get_verify_id(
        &self,
        out_seq_no: &str,
        cert_name: &str,
        cert_no: &str,
        openid: &str,
    ) -> Result<VerifyId, WechatError> {
        let body = json!({
            "out_seq_no": out_seq_no,
            "cert_info": {"cert_type": "IDENTITY_CARD", "cert_name": cert_name, "cert_no": cert_no},
            "openid": openid,
        });
        self.call(&self.mini, reqwest::Method::POST, "/cityservice/face/identify/getverifyid", &[], Some(&body)).await
    }

    pub async fn face_query(
        &self,
        verify_id: &str,
        out_seq_no: &str,
        cert_hash: &str,
        openid: &str,
    ) -> Result<VerifyResult, WechatError> {
        let body = json!({"verify_id": verify_id, "out_seq_no": out_seq_no, "cert_hash": cert_hash, "openid": openid});
        self.call(&self.mini, reqwest::Method::POST, "/cityservice/face/identify/queryverifyinfo", &[], Some(&body))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_cert_hash_example() {
        assert_eq!(
            cert_hash("IDENTITY_CARD", "张三", "310101199801011234"),
            "3c241f7ff324977aeb91f173bb2a7b06569e6fd784d5573db34a636d8671108b"
        );
    }

    #[test]
    fn errcodes_are_named() {
        assert!(ErrKind::from_code(40001).is_token_error());
        assert!(ErrKind::from_code(40014).is_token_error());
        assert!(ErrKind::from_code(42001).is_token_error());
        assert!(!ErrKind::from_code(40003).is_token_error());
        assert_eq!(ErrKind::from_code(43101), ErrKind::UserRefusedSubscription);
        assert_eq!(ErrKind::from_code(45011), ErrKind::RateLimited);
        assert_eq!(ErrKind::from_code(12345), ErrKind::Other);
    }
}
