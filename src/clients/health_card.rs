//! The electronic health card open platform: the mother's card by a one-time health code.
//!
//! Envelope and signing follow the platform as documented by its SDKs (`commonIn` + `req`,
//! `sign` = base64(SHA-256(sorted `k=v` pairs joined by `&` + appSecret))); the reference marks
//! the signing rule as not yet confirmed against Tencent's own SDK, so it lives in one place.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::kv::KvStore;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCard {
    pub name: String,
    pub id_number: String,
    pub phone: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum HealthCardError {
    #[error("the health code is unknown, used or expired")]
    UnknownCode,
    #[error("health-card platform: {0}")]
    Upstream(String),
}

#[async_trait::async_trait]
pub trait HealthCardPlatform: Send + Sync {
    async fn card_by_health_code(&self, health_code: &str) -> Result<HealthCard, HealthCardError>;
}

/// `sign` over the envelope: every non-empty field of `commonIn` (but `sign`) and `req`, sorted
/// by key, `k=v` joined with `&`, the app secret appended, SHA-256, base64.
pub fn sign(common_in: &Value, req: &Value, app_secret: &str) -> String {
    let mut pairs = BTreeMap::new();
    for obj in [common_in, req] {
        if let Some(map) = obj.as_object() {
            for (k, v) in map {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => continue,
                    other => other.to_string(),
                };
                if k != "sign" && !text.is_empty() {
                    pairs.insert(k.clone(), text);
                }
            }
        }
    }
    let joined: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let digest = Sha256::digest(format!("{}{app_secret}", joined.join("&")).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(digest)
}

pub struct HttpHealthCardPlatform {
    pub http: reqwest::Client,
    pub base_url: String,
    pub app_id: String,
    pub app_secret: SecretString,
    pub hospital_id: String,
    pub kv: Arc<dyn KvStore>,
}

const TOKEN_PATH: &str = "/rest/auth/HealthCard/HealthOpenAuth/AuthObj/getAppToken";
/// `resultCode` of a request whose appToken the platform does not accept.
const TOKEN_INVALID: i64 = -3;
const CARD_PATH: &str = "/rest/auth/HealthCard/HealthOpenPlatform/ISVOpenObj/getHealthCardByHealthCode";

impl HttpHealthCardPlatform {
    async fn post(&self, path: &str, body: &Value) -> Result<Value, HealthCardError> {
        let res = self
            .http
            .post(format!("{}{path}", self.base_url))
            .json(body)
            .send()
            .await
            .map_err(|e| HealthCardError::Upstream(super::describe(e)))?;
        if !res.status().is_success() {
            return Err(HealthCardError::Upstream(format!("HTTP {}", res.status())));
        }
        res.json().await.map_err(|e| HealthCardError::Upstream(super::describe(e)))
    }

    fn token_key(&self) -> String {
        format!("health_card:app_token:{}", self.app_id)
    }

    async fn app_token(&self) -> Result<String, HealthCardError> {
        let key = self.token_key();
        if let Ok(Some(token)) = self.kv.get(&key).await {
            return Ok(token);
        }
        let answer = self.post(TOKEN_PATH, &json!({"appId": self.app_id})).await?;
        if answer["commonOut"]["resultCode"].as_i64() != Some(0) {
            return Err(HealthCardError::Upstream(format!("getAppToken: {}", answer["commonOut"]["errMsg"])));
        }
        let token = answer["rsp"]["appToken"].as_str().unwrap_or_default().to_string();
        let ttl = answer["rsp"]["expiresIn"].as_u64().unwrap_or(7200).saturating_sub(60).max(30);
        let _ = self.kv.set(&key, &token, Duration::from_secs(ttl)).await;
        Ok(token)
    }
}

#[async_trait::async_trait]
impl HealthCardPlatform for HttpHealthCardPlatform {
    async fn card_by_health_code(&self, health_code: &str) -> Result<HealthCard, HealthCardError> {
        let token = self.app_token().await?;
        let answer = self.card_request(&token, health_code).await?;
        // A token the platform no longer knows (revoked, or issued before the platform
        // restarted): drop it only if it is still the cached one, fetch a new one, retry once.
        let answer = if answer["commonOut"]["resultCode"].as_i64() == Some(TOKEN_INVALID) {
            let _ = self.kv.compare_and_delete(&self.token_key(), &token).await;
            let token = self.app_token().await?;
            self.card_request(&token, health_code).await?
        } else {
            answer
        };
        match answer["commonOut"]["resultCode"].as_i64() {
            Some(0) => {}
            // The platform's "not found / invalid code" family.
            Some(code) if (10000..20000).contains(&code) => return Err(HealthCardError::UnknownCode),
            _ => return Err(HealthCardError::Upstream(format!("{}", answer["commonOut"]))),
        }
        let card = &answer["rsp"]["card"];
        let text = |k: &str| card[k].as_str().unwrap_or_default().trim().to_string();
        Ok(HealthCard {
            name: text("name"),
            id_number: text("idNumber"),
            phone: Some(text("phone1")).filter(|p| !p.is_empty()),
        })
    }
}

impl HttpHealthCardPlatform {
    async fn card_request(&self, token: &str, health_code: &str) -> Result<Value, HealthCardError> {
        let mut common_in = json!({
            "appToken": token,
            "requestId": uuid::Uuid::new_v4().simple().to_string(),
            "hospitalId": self.hospital_id,
            "timestamp": chrono::Utc::now().timestamp().to_string(),
            "channelNum": "0",
        });
        let req = json!({ "healthCode": health_code });
        common_in["sign"] = Value::String(sign(&common_in, &req, self.app_secret.expose_secret()));
        self.post(CARD_PATH, &json!({"commonIn": common_in, "req": req})).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_sorts_skips_empty_and_the_sign_field() {
        let common = json!({"b": "2", "a": "1", "sign": "x", "empty": ""});
        let req = json!({"c": 3});
        let expected = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"a=1&b=2&c=3secret"));
        assert_eq!(sign(&common, &req, "secret"), expected);
    }
}
