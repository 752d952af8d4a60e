//! The SMS gateway: the last way to reach a family that neither follows the official account
//! nor accepted the subscribe template. Signed like the courier (hex HMAC-SHA256 of
//! `timestamp + "\n" + body`).

use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::courier::post_signed;

#[derive(Debug, Clone, Serialize)]
pub struct Text<'a> {
    pub phone: &'a str,
    pub sign_name: &'a str,
    pub text: &'a str,
}

#[derive(Debug, Deserialize)]
struct Sent {
    message_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    #[error("the SMS gateway refused the text: {0}")]
    Refused(String),
    #[error("SMS gateway unreachable: {0}")]
    Transport(String),
}

#[async_trait::async_trait]
pub trait SmsGateway: Send + Sync {
    /// Sends one text → the gateway's message id.
    async fn send(&self, text: &Text<'_>) -> Result<String, SmsError>;
}

pub struct HttpSmsGateway {
    pub http: reqwest::Client,
    pub base_url: String,
    pub app_key: String,
    pub secret: SecretString,
}

#[async_trait::async_trait]
impl SmsGateway for HttpSmsGateway {
    async fn send(&self, text: &Text<'_>) -> Result<String, SmsError> {
        let body = serde_json::to_vec(text).map_err(|e| SmsError::Refused(e.to_string()))?;
        let url = format!("{}/sms/v1/send", self.base_url);
        let (status, answer) =
            post_signed(&self.http, &url, "Sms", &self.app_key, &self.secret, body, Duration::from_secs(5))
                .await
                .map_err(SmsError::Transport)?;
        if !status.is_success() {
            return Err(SmsError::Refused(format!("HTTP {status}: {answer}")));
        }
        let sent: Sent =
            serde_json::from_str(&answer).map_err(|e| SmsError::Refused(format!("unreadable answer: {e}")))?;
        Ok(sent.message_id)
    }
}
