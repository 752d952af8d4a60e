//! The provincial birth-certificate system. Each report carries its `report_id`; the province
//! keeps a report once however often it arrives, so a send repeated after a lost answer does no
//! harm. Signed like the courier (hex HMAC-SHA256 of `timestamp + "\n" + body`).

use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::courier::post_signed;

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
        let url = format!("{}/province/v1/reports", self.base_url);
        let (status, answer) =
            post_signed(&self.http, &url, "Province", &self.app_key, &self.secret, body, Duration::from_secs(10))
                .await
                .map_err(ProvinceError::Unavailable)?;
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
