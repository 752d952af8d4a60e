//! WeChat Pay: creating the courier-fee order, and the platform's result notification.

use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Serialize;

use crate::routes::error::ApiError;
use crate::routes::extract::Applicant;
use crate::services::applicant::payment::{self, NotifyError, NotifyHeaders};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct PaymentAnswer {
    pub out_trade_no: String,
    pub amount_fen: i32,
    /// For `wx.requestPayment`: appId, timeStamp, nonceStr, package, signType, paySign.
    pub pay_params: crate::wechat::pay::PayParams,
}

#[utoipa::path(tag = "applicant", security(("bearer" = [])),
    responses((status = 201, body = PaymentAnswer), (status = 404), (status = 409), (status = 502)))]
#[post("/api/v1/applications/{id}/payment")]
pub async fn create_payment(
    state: web::Data<AppState>,
    who: Applicant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let p = payment::create_payment(
        &state.db,
        &state.pay,
        &state.settings.pay.description,
        &state.pay_notify_url,
        who.id(),
        &id,
    )
    .await?;
    Ok(HttpResponse::Created().json(PaymentAnswer {
        out_trade_no: p.out_trade_no,
        amount_fen: p.amount_fen,
        pay_params: p.pay_params,
    }))
}

/// WeChat Pay v3 notifications, payments and refunds alike: signature (public-key or certificate
/// mode), timestamp within 5 minutes, AES-256-GCM resource, amount/appid/mchid checked. 204 when
/// applied or already applied; 401 with nothing changed when it does not verify.
#[utoipa::path(tag = "platform", request_body(content = String, content_type = "application/json"),
    responses((status = 204), (status = 401, body = crate::routes::error::ErrorBody)))]
#[post("/api/v1/payments/notify")]
pub async fn notify(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let headers = NotifyHeaders {
        timestamp: header("Wechatpay-Timestamp"),
        nonce: header("Wechatpay-Nonce"),
        signature: header("Wechatpay-Signature"),
        serial: header("Wechatpay-Serial"),
    };
    let body = std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("invalid_body", "body is not UTF-8"))?;
    let settings = &state.settings;
    match payment::settle_notification(
        &state.db,
        &state.pay_keys,
        &state.pay_api_v3_key,
        &settings.wechat.mini_program_app_id,
        &settings.pay.mch_id,
        &state.calendar,
        &headers,
        body,
    )
    .await
    {
        Ok(()) => Ok(HttpResponse::NoContent().finish()),
        Err(NotifyError::Rejected(why)) => {
            tracing::warn!(reason = %why, "payment notification rejected");
            Err(ApiError::unauthorized("invalid_notification", why))
        }
        Err(NotifyError::Api(e)) => Err(e),
    }
}
