//! The courier fee through WeChat Pay v3: the JSAPI order and the signed pay parameters for
//! `wx.requestPayment`, and the platform's notification that submits the application.

use crate::clients::pay::{JsapiOrder, PayClient, PayClientError};
use crate::domain::application::Command;
use crate::domain::application_state::ApplicationState as S;
use crate::domain::Calendar;
use crate::persistence::applications;
use crate::persistence::audit::Actor;
use crate::persistence::{payments, users, Db, PersistenceError};
use crate::services::lifecycle::{self, Facts};
use crate::services::ServiceError;
use crate::wechat::pay::{Notice, PayError, PlatformKeys};

pub struct PaymentView {
    pub out_trade_no: String,
    pub amount_fen: i32,
    pub pay_params: serde_json::Value,
}

/// Places the courier-fee order and answers what `wx.requestPayment` needs. Asking again while
/// the order is open answers the same order.
#[tracing::instrument(skip_all, fields(application_id = %application_id))]
pub async fn create_payment(
    db: &Db,
    pay: &PayClient,
    description: &str,
    notify_url: &str,
    user_id: &str,
    application_id: &str,
) -> Result<PaymentView, ServiceError> {
    // Four independent reads at once (separate pool connections): the order is on the
    // family's critical path, in front of a platform round trip.
    let (app, fee, openid, existing) = tokio::try_join!(
        applications::application_of(db, user_id, application_id),
        applications::courier_fee(db, application_id),
        users::external_id(db, user_id, users::MINI_PROGRAM),
        payments::open_order(db, application_id),
    )?;
    let app = app.ok_or(ServiceError::NotFound("application"))?;
    let openid = openid.ok_or(ServiceError::NotFound("mini-program identity"))?;
    let (out_trade_no, amount, prepay_id) = match (app.state, existing) {
        (S::AwaitingPayment, Some(order)) => {
            (order.out_trade_no, order.amount_fen, order.prepay_id.unwrap_or_default())
        }
        (S::Signed, _) => {
            let amount = fee.ok_or_else(|| ServiceError::Conflict {
                code: "address_missing",
                message: "give the delivery address first".into(),
            })?;
            lifecycle::check(&app, Command::CreateOrder, "payment")?;
            // 32 characters at most, letters and digits: the platform's rule.
            let out_trade_no = format!("BC{}", uuid::Uuid::new_v4().simple()).chars().take(32).collect::<String>();
            let prepay_id = pay
                .jsapi(&JsapiOrder {
                    out_trade_no: &out_trade_no,
                    description,
                    amount_fen: amount,
                    payer_openid: &openid,
                    notify_url,
                })
                .await
                .map_err(|e| ServiceError::Upstream { service: "WeChat Pay", source: e.into() })?;
            let txn = crate::persistence::begin(db).await?;
            payments::create(&txn, &app.id, &out_trade_no, amount, &prepay_id).await?;
            lifecycle::apply(
                &txn,
                &Actor::applicant(&app.user_id),
                &app,
                Command::CreateOrder,
                Facts { detail: Some(serde_json::json!({"out_trade_no": out_trade_no})), ..Facts::default() },
            )
            .await?;
            crate::persistence::commit(txn).await?;
            (out_trade_no, amount, prepay_id)
        }
        _ => return Err(ServiceError::wrong_state(app.state, "payment")),
    };
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let pay_params = pay.signer.pay_params(&pay.app_id, &prepay_id, chrono::Utc::now().timestamp(), &nonce);
    Ok(PaymentView { out_trade_no, amount_fen: amount, pay_params })
}

/// Closes the application's open order at the platform, before the transaction that records it
/// (`Effect::CloseOrder`). An order paid meanwhile cannot be closed: the payment stands.
pub(super) async fn close_open_order(db: &Db, pay: &PayClient, application_id: &str) -> Result<(), ServiceError> {
    let Some(order) = payments::open_order(db, application_id).await? else {
        return Ok(());
    };
    pay.close(&order.out_trade_no).await.map_err(|e| match e {
        PayClientError::Refused { code, .. } if code == "ORDERPAID" => ServiceError::Conflict {
            code: "order_paid",
            message: "the courier fee was just paid; the application is with the officer now".into(),
        },
        other => ServiceError::Upstream { service: "WeChat Pay", source: other.into() },
    })
}

/// The notification's headers.
pub struct NotifyHeaders<'a> {
    pub timestamp: &'a str,
    pub nonce: &'a str,
    pub signature: &'a str,
    pub serial: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("notification rejected: {0}")]
    Rejected(String),
    #[error(transparent)]
    Api(#[from] ServiceError),
}

impl From<PersistenceError> for NotifyError {
    fn from(e: PersistenceError) -> Self {
        NotifyError::Api(e.into())
    }
}

/// Verifies, decrypts and applies a payment notification. Repeats are harmless: the order is
/// marked paid once, and the application moves to `submitted` once, with its review deadline
/// and the "submitted" notification in the same transaction.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all)]
pub async fn settle_payment(
    db: &Db,
    keys: &PlatformKeys,
    api_v3_key: &[u8; 32],
    expected_app_id: &str,
    expected_mch_id: &str,
    calendar: &Calendar,
    headers: &NotifyHeaders<'_>,
    body: &str,
) -> Result<(), NotifyError> {
    let reject = |why: &str| NotifyError::Rejected(why.to_string());
    keys.verify(
        headers.serial,
        headers.timestamp,
        headers.nonce,
        body,
        headers.signature,
        chrono::Utc::now().timestamp(),
    )
    .map_err(|e| match e {
        PayError::Stale => reject("timestamp more than 5 minutes off"),
        other => reject(&other.to_string()),
    })?;
    let notice = Notice::parse(body).map_err(|e| reject(&e.to_string()))?;
    if notice.event_type != Notice::TRANSACTION_SUCCESS {
        // Other events (refunds, closures) are acknowledged and not acted on here.
        return Ok(());
    }
    let tx = notice.transaction(api_v3_key).map_err(|e| reject(&e.to_string()))?;
    if tx.appid != expected_app_id || tx.mchid != expected_mch_id {
        return Err(reject("appid or mchid is not ours"));
    }
    if tx.trade_state != "SUCCESS" {
        return Ok(());
    }
    let order = payments::by_out_trade_no(db, &tx.out_trade_no).await?.ok_or_else(|| reject("unknown out_trade_no"))?;
    if tx.amount.total != i64::from(order.amount_fen) {
        return Err(reject("amount differs from the order"));
    }
    let app = applications::application(db, &order.application_id)
        .await?
        .ok_or_else(|| reject("order without application"))?;
    // Read before the transaction: a read on a second pooled connection while this one holds the
    // order's row lock would, under a burst of notifications, leave every pooled connection
    // waiting for another one. Only a payment that can still submit needs the deadline.
    let due_at = match app.state {
        S::AwaitingPayment => Some(lifecycle::review_deadline(db, calendar, &app.institution_code).await?),
        _ => None,
    };
    let txn = crate::persistence::begin(db).await?;
    let first = payments::mark_paid(&txn, &tx.out_trade_no, &tx.transaction_id).await?;
    if let (true, Some(due_at)) = (first, due_at) {
        lifecycle::apply(
            &txn,
            &Actor { kind: "payment", id: tx.out_trade_no.clone() },
            &app,
            Command::PaymentSucceeded,
            Facts {
                detail: Some(serde_json::json!({"out_trade_no": tx.out_trade_no})),
                review_due_at: Some(due_at),
                ..Facts::default()
            },
        )
        .await?;
    }
    crate::persistence::commit(txn).await?;
    Ok(())
}
