//! The provincial birth-certificate system. Each report carries its `report_id`; the province
//! keeps a report once however often it arrives, so a send repeated after a lost answer does no
//! harm. Signed like the courier (hex HMAC-SHA256 of `timestamp + "\n" + body`).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::courier::sign;

/// One report as the province reads it: `data` holds the record, certificate or void.
#[derive(Debug, Clone, Serialize)]
pub struct ProvinceReport<'a> {
    pub report_id: &'a str,
    pub kind: &'a str,
    pub institution_code: &'a str,
    /// When the reported change was made (RFC 3339).
    pub occurred_at: String,
    pub data: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct Receipt {
    receipt: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvinceError {
    /// The province read the report and refused it (HTTP 400/422): sending it again cannot
    /// change the answer; a person must look.
    #[error("the provincial system refused the report: {0}")]
    Invalid(String),
    /// Not reached, not answered, or refused for a reason that can pass (a 5xx, a 401 while
    /// keys are being changed): send again later.
    #[error("the provincial system did not take the report: {0}")]
    Unavailable(String),
}

#[async_trait::async_trait]
pub trait ProvinceGateway: Send + Sync {
    /// Sends one report → the province's receipt.
    async fn report(&self, report: &ProvinceReport<'_>) -> Result<String, ProvinceError>;
}

pub struct HttpProvinceGateway {
    pub http: reqwest::Client,
    pub base_url: String,
    pub app_key: String,
    pub secret: SecretString,
}

#[async_trait::async_trait]
impl ProvinceGateway for HttpProvinceGateway {
    async fn report(&self, report: &ProvinceReport<'_>) -> Result<String, ProvinceError> {
        let body = serde_json::to_vec(report).map_err(|e| ProvinceError::Invalid(e.to_string()))?;
        let ts = chrono::Utc::now().timestamp().to_string();
        let res = self
            .http
            .post(format!("{}/province/v1/reports", self.base_url))
            .header("content-type", "application/json")
            .header("X-Province-App-Key", &self.app_key)
            .header("X-Province-Timestamp", &ts)
            .header("X-Province-Signature", sign(self.secret.expose_secret(), &ts, &body))
            .body(body)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| ProvinceError::Unavailable(super::describe(e)))?;
        let status = res.status();
        let answer = res.text().await.map_err(|e| ProvinceError::Unavailable(super::describe(e)))?;
        if status == reqwest::StatusCode::BAD_REQUEST || status == reqwest::StatusCode::UNPROCESSABLE_ENTITY {
            return Err(ProvinceError::Invalid(format!("HTTP {status}: {answer}")));
        }
        if !status.is_success() {
            return Err(ProvinceError::Unavailable(format!("HTTP {status}: {answer}")));
        }
        let receipt: Receipt =
            serde_json::from_str(&answer).map_err(|e| ProvinceError::Unavailable(format!("unreadable answer: {e}")))?;
        Ok(receipt.receipt)
    }
}
