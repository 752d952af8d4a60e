//! The courier: booking a delivery returns a tracking number; events come back to
//! `POST /api/v1/courier/events`. Both directions are signed with hex HMAC-SHA256 over
//! `timestamp + "\n" + body` under the shared secret.

use std::time::Duration;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = hmac(secret);
    mac.update(timestamp.as_bytes());
    mac.update(b"\n");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn hmac(secret: &str) -> Hmac<Sha256> {
    crate::crypto::hmac_sha256(secret.as_bytes())
}

/// Constant-time check of a received signature (lower-case hex).
pub fn verify(secret: &str, timestamp: &str, body: &[u8], signature_hex: &str) -> bool {
    let Ok(given) = hex::decode(signature_hex) else { return false };
    let mut mac = hmac(secret);
    mac.update(timestamp.as_bytes());
    mac.update(b"\n");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

#[derive(Debug, Clone, Serialize)]
pub struct Recipient {
    pub name: String,
    pub phone: String,
    pub region_code: String,
    pub address: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Booking {
    /// Our reference (the certificate id): the courier books it once, however often we ask.
    pub order_ref: String,
    pub sender: String,
    pub recipient: Recipient,
    pub item: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Booked {
    pub carrier: String,
    pub tracking_number: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CourierError {
    #[error("courier refused the booking: {0}")]
    Refused(String),
    #[error("courier unreachable: {0}")]
    Transport(String),
}

#[async_trait::async_trait]
pub trait Courier: Send + Sync {
    async fn book(&self, booking: &Booking) -> Result<Booked, CourierError>;
}

/// A signed partner call — the scheme the courier, the SMS gateway and the provincial system
/// share: a JSON body POSTed with `X-<Partner>-App-Key`, `X-<Partner>-Timestamp` and
/// `X-<Partner>-Signature` (see [`sign`]) → the answer's status and text. `Err` is a transport
/// failure (not reached, no answer), described without the URL.
pub async fn post_signed(
    http: &reqwest::Client,
    url: &str,
    partner: &str,
    app_key: &str,
    secret: &SecretString,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<(reqwest::StatusCode, String), String> {
    let ts = chrono::Utc::now().timestamp().to_string();
    let signature = sign(secret.expose_secret(), &ts, &body);
    let res = http
        .post(url)
        .header("content-type", "application/json")
        .header(format!("X-{partner}-App-Key"), app_key)
        .header(format!("X-{partner}-Timestamp"), &ts)
        .header(format!("X-{partner}-Signature"), signature)
        .body(body)
        .timeout(timeout)
        .send()
        .await
        .map_err(super::describe)?;
    let status = res.status();
    let text = res.text().await.map_err(super::describe)?;
    Ok((status, text))
}

pub struct HttpCourier {
    pub http: reqwest::Client,
    pub base_url: String,
    pub app_key: String,
    pub secret: SecretString,
}

#[async_trait::async_trait]
impl Courier for HttpCourier {
    async fn book(&self, booking: &Booking) -> Result<Booked, CourierError> {
        let body = serde_json::to_vec(booking).map_err(|e| CourierError::Refused(e.to_string()))?;
        let url = format!("{}/courier/v1/orders", self.base_url);
        let (status, text) =
            post_signed(&self.http, &url, "Courier", &self.app_key, &self.secret, body, Duration::from_secs(5))
                .await
                .map_err(CourierError::Transport)?;
        if status.is_server_error() {
            return Err(CourierError::Transport(format!("HTTP {status}")));
        }
        if !status.is_success() {
            return Err(CourierError::Refused(format!("HTTP {status}: {text}")));
        }
        serde_json::from_str(&text).map_err(|e| CourierError::Refused(format!("unreadable answer: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2 (key "Jefe") checks the HMAC itself; the framing is ours.
    #[test]
    fn hmac_matches_rfc_4231_and_the_framing_is_timestamp_newline_body() {
        let mut mac = hmac("Jefe");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // "what do ya want " + "\n" + "for nothing?" is not the same message.
        assert_ne!(sign("Jefe", "what do ya want", b"for nothing?"), sign("Jefe", "what do ya want ", b"for nothing?"));
    }

    #[test]
    fn verify_accepts_the_signature_and_nothing_else() {
        let sig = sign("s3cret", "1764122400", br#"{"event":"delivered"}"#);
        assert!(verify("s3cret", "1764122400", br#"{"event":"delivered"}"#, &sig));
        assert!(!verify("s3cret", "1764122401", br#"{"event":"delivered"}"#, &sig));
        assert!(!verify("other", "1764122400", br#"{"event":"delivered"}"#, &sig));
        assert!(!verify("s3cret", "1764122400", br#"{"event":"lost"}"#, &sig));
        assert!(!verify("s3cret", "1764122400", br#"{"event":"delivered"}"#, "zz"));
    }
}
