//! WeChat Pay v3 calls: the JSAPI order, closing an order and refunding one. Signing and notification checks
//! live in `wechat::pay`.

use std::time::Duration;

use serde_json::json;

use crate::wechat::pay::MerchantSigner;

#[derive(Debug, thiserror::Error)]
pub enum PayClientError {
    #[error("WeChat Pay refused the order: {code}: {message}")]
    Refused { code: String, message: String },
    #[error("WeChat Pay unreachable: {0}")]
    Transport(String),
}

impl PayClientError {
    /// Whether asking again later can help: the platform was unreachable or said it was busy.
    /// A refusal on the merits (wrong state, wrong amount) will be refused again.
    pub fn is_retryable(&self) -> bool {
        match self {
            PayClientError::Transport(_) => true,
            PayClientError::Refused { code, .. } => {
                matches!(code.as_str(), "SYSTEM_ERROR" | "FREQUENCY_LIMITED" | "UNKNOWN" | "NOT_ENOUGH")
            }
        }
    }
}

pub struct PayClient {
    pub http: reqwest::Client,
    pub base_url: String,
    pub mch_id: String,
    pub app_id: String,
    pub serial_no: String,
    pub signer: MerchantSigner,
}

pub struct JsapiOrder<'a> {
    pub out_trade_no: &'a str,
    pub description: &'a str,
    pub amount_fen: i32,
    pub payer_openid: &'a str,
    pub notify_url: &'a str,
}

pub struct RefundRequest<'a> {
    pub out_trade_no: &'a str,
    pub out_refund_no: &'a str,
    /// Shown to the payer with the refund (80 characters at most).
    pub reason: &'a str,
    pub notify_url: &'a str,
    pub refund_fen: i32,
    pub total_fen: i32,
}

/// The platform's answer to a refund request.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct RefundAnswer {
    pub refund_id: String,
    pub out_refund_no: String,
    /// `SUCCESS`, `PROCESSING`, `CLOSED` or `ABNORMAL`.
    pub status: String,
}

impl PayClient {
    pub fn new(
        base_url: String,
        mch_id: &str,
        app_id: &str,
        serial_no: &str,
        signer: MerchantSigner,
    ) -> Result<PayClient, reqwest::Error> {
        let http = super::http_client(Duration::from_secs(5))?;
        Ok(PayClient {
            http,
            base_url,
            mch_id: mch_id.into(),
            app_id: app_id.into(),
            serial_no: serial_no.into(),
            signer,
        })
    }

    /// Places the order; returns the `prepay_id`. Placing the same out_trade_no again returns
    /// the same prepay id (the platform deduplicates by out_trade_no).
    pub async fn jsapi(&self, order: &JsapiOrder<'_>) -> Result<String, PayClientError> {
        let body = json!({
            "appid": self.app_id, "mchid": self.mch_id, "description": order.description,
            "out_trade_no": order.out_trade_no, "notify_url": order.notify_url,
            "amount": {"total": order.amount_fen, "currency": "CNY"},
            "payer": {"openid": order.payer_openid},
        });
        let answer = self.post("/v3/pay/transactions/jsapi", &body).await?;
        answer["prepay_id"].as_str().map(str::to_string).ok_or_else(|| PayClientError::Transport("no prepay_id".into()))
    }

    /// Closes an unpaid order so it can no longer be paid (the platform answers 204; closing
    /// an order already closed is accepted again).
    pub async fn close(&self, out_trade_no: &str) -> Result<(), PayClientError> {
        let path = format!("/v3/pay/transactions/out-trade-no/{out_trade_no}/close");
        self.post(&path, &json!({ "mchid": self.mch_id })).await.map(|_| ())
    }

    /// Asks for a full or partial refund of a paid order. The platform keys a refund by
    /// `out_refund_no`: asking again with the same number answers the same refund, so a retry
    /// after a lost answer cannot refund twice. The result follows as a `REFUND.*` notification.
    pub async fn refund(&self, refund: &RefundRequest<'_>) -> Result<RefundAnswer, PayClientError> {
        let body = json!({
            "out_trade_no": refund.out_trade_no, "out_refund_no": refund.out_refund_no,
            "reason": refund.reason, "notify_url": refund.notify_url,
            "amount": {"refund": refund.refund_fen, "total": refund.total_fen, "currency": "CNY"},
        });
        let answer = self.post("/v3/refund/domestic/refunds", &body).await?;
        serde_json::from_value(answer).map_err(|e| PayClientError::Transport(format!("refund answer: {e}")))
    }

    /// A merchant-signed POST → the JSON answer (null for 204), or the platform's refusal.
    async fn post(&self, path: &str, body: &serde_json::Value) -> Result<serde_json::Value, PayClientError> {
        let body = body.to_string();
        let timestamp = chrono::Utc::now().timestamp();
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let auth = self.signer.authorization(&self.mch_id, &self.serial_no, "POST", path, timestamp, &nonce, &body);
        let res = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header("Authorization", auth)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| PayClientError::Transport(super::describe(e)))?;
        let status = res.status();
        if status == reqwest::StatusCode::NO_CONTENT {
            return Ok(serde_json::Value::Null);
        }
        let answer: serde_json::Value = res.json().await.map_err(|e| PayClientError::Transport(super::describe(e)))?;
        if !status.is_success() {
            return Err(PayClientError::Refused {
                code: answer["code"].as_str().unwrap_or("UNKNOWN").into(),
                message: answer["message"].as_str().unwrap_or_default().into(),
            });
        }
        Ok(answer)
    }
}
