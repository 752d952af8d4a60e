//! The courier fee through WeChat Pay v3: the JSAPI order and the signed pay parameters for
//! `wx.requestPayment`; the platform's notification that submits the application, or refunds a
//! payment the case can no longer take; and the refund's own result.

use crate::clients::pay::{JsapiOrder, PayClient, PayClientError};
use crate::domain::application::Command;
use crate::domain::application_state::ApplicationState as S;
use crate::domain::payment::{settle, PaymentState, Settlement};
use crate::domain::Calendar;
use crate::persistence::applications;
use crate::persistence::audit;
use crate::persistence::audit::Actor;
use crate::persistence::payments::Payment;
use crate::persistence::{payments, users, Db, PersistenceError};
use crate::services::lifecycle::{self, Facts, OrderAtPlatform};
use crate::services::ServiceError;
use crate::wechat::pay::{Notice, PayError, PlatformKeys, Refund, Transaction};

/// Where the family's courier fee stands, for the applicant view and the officer detail.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PaymentSummary {
    /// `created`, `paid`, `closed`, `refund_pending` or `refunded`.
    pub status: &'static str,
    pub amount_fen: i32,
    pub out_trade_no: String,
    /// WeChat Pay's number for the refund, once it has one.
    pub refund_id: Option<String>,
}

/// The order that matters to the family among an application's orders (oldest first): the
/// latest one that took money (paid, or on its way back), else the latest one.
pub fn summary(orders: Vec<Payment>) -> Option<PaymentSummary> {
    let latest_with_money = orders.iter().rposition(|o| o.state.holds_money());
    let chosen = latest_with_money.or(orders.len().checked_sub(1))?;
    let order = orders.into_iter().nth(chosen)?;
    Some(PaymentSummary {
        status: order.state.as_str(),
        amount_fen: order.amount_fen,
        out_trade_no: order.out_trade_no,
        refund_id: order.refund_id,
    })
}

pub struct PaymentView {
    pub out_trade_no: String,
    pub amount_fen: i32,
    pub pay_params: crate::wechat::pay::PayParams,
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
/// (`Effect::CloseOrder`). An order paid meanwhile cannot be closed: the payment stands (409
/// `order_paid`). A platform that cannot be reached does not hold the family's withdrawal or
/// new address up: the close is owed and the payment-calls worker makes it; a payment that
/// slips through meanwhile is refunded.
pub(super) async fn close_open_order(
    db: &Db,
    pay: &PayClient,
    application_id: &str,
) -> Result<OrderAtPlatform, ServiceError> {
    let Some(order) = payments::open_order(db, application_id).await? else {
        return Ok(OrderAtPlatform::Closed);
    };
    match pay.close(&order.out_trade_no).await {
        Ok(()) => Ok(OrderAtPlatform::Closed),
        Err(PayClientError::Refused { code, .. }) if code == "ORDERPAID" => Err(ServiceError::Conflict {
            code: "order_paid",
            message: "the courier fee was just paid; the application is with the officer now".into(),
        }),
        Err(e) if e.is_retryable() => {
            tracing::warn!(error = %e, out_trade_no = %order.out_trade_no, "order close owed: WeChat Pay unreachable");
            Ok(OrderAtPlatform::CloseOwed)
        }
        // Refused on the merits (no such order, already closed): there is nothing left to close.
        Err(e) => {
            tracing::warn!(error = %e, out_trade_no = %order.out_trade_no, "order close refused; treated as closed");
            Ok(OrderAtPlatform::Closed)
        }
    }
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

/// Verifies, decrypts and applies a WeChat Pay notification: a payment (`TRANSACTION.SUCCESS`)
/// or a refund's result (`REFUND.*`), both posted to the same notify URL and verified the same
/// way. Repeats are harmless: each order is paid once, refunded once, and its application moves
/// once.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all)]
pub async fn settle_notification(
    db: &Db,
    keys: &PlatformKeys,
    api_v3_key: &[u8; 32],
    expected_app_id: &str,
    expected_mch_id: &str,
    calendar: &Calendar,
    headers: &NotifyHeaders<'_>,
    body: &str,
) -> Result<(), NotifyError> {
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
    if notice.is_refund() {
        let refund = notice.refund(api_v3_key).map_err(|e| reject(&e.to_string()))?;
        if refund.mchid != expected_mch_id {
            return Err(reject("mchid is not ours"));
        }
        return settle_refund(db, &notice.event_type, &refund).await;
    }
    if notice.event_type != Notice::TRANSACTION_SUCCESS {
        // Other events are acknowledged and not acted on.
        return Ok(());
    }
    let tx = notice.transaction(api_v3_key).map_err(|e| reject(&e.to_string()))?;
    if tx.appid != expected_app_id || tx.mchid != expected_mch_id {
        return Err(reject("appid or mchid is not ours"));
    }
    if tx.trade_state != "SUCCESS" {
        return Ok(());
    }
    settle_payment(db, calendar, &tx).await
}

fn reject(why: &str) -> NotifyError {
    NotifyError::Rejected(why.to_string())
}

/// A verified payment: submits the application it was for, or — when the case can no longer
/// take it (withdrawn, or the order was closed after an address change) — is recorded and
/// refunded in full (`domain::payment::settle`).
async fn settle_payment(db: &Db, calendar: &Calendar, tx: &Transaction) -> Result<(), NotifyError> {
    let order = payments::by_out_trade_no(db, &tx.out_trade_no).await?.ok_or_else(|| reject("unknown out_trade_no"))?;
    if tx.amount.total != i64::from(order.amount_fen) {
        return Err(reject("amount differs from the order"));
    }
    let app = applications::application(db, &order.application_id)
        .await?
        .ok_or_else(|| reject("order without application"))?;
    let actor = Actor { kind: "payment", id: tx.out_trade_no.clone() };
    match settle(order.state, app.state == S::AwaitingPayment) {
        Settlement::AlreadySettled => Ok(()),
        Settlement::Submits => {
            // Read before the transaction: a read on a second pooled connection while this one
            // holds the order's row lock would, under a burst of notifications, leave every
            // pooled connection waiting for another one.
            let due_at = lifecycle::review_deadline(db, calendar, &app.institution_code).await?;
            let txn = crate::persistence::begin(db).await?;
            if payments::mark_paid(&txn, &tx.out_trade_no, &tx.transaction_id).await? {
                let facts = Facts {
                    detail: Some(serde_json::json!({"out_trade_no": tx.out_trade_no})),
                    review_due_at: Some(due_at),
                    ..Facts::default()
                };
                lifecycle::apply(&txn, &actor, &app, Command::PaymentSucceeded, facts).await?;
            }
            crate::persistence::commit(txn).await?;
            Ok(())
        }
        Settlement::Refunds => {
            let txn = crate::persistence::begin(db).await?;
            // Paid and owed back in one transaction: the refund cannot be forgotten.
            if payments::mark_paid(&txn, &tx.out_trade_no, &tx.transaction_id).await?
                && payments::begin_refund(&txn, &tx.out_trade_no).await?
            {
                let detail = serde_json::json!({"out_trade_no": tx.out_trade_no, "amount_fen": order.amount_fen});
                applications::add_event(&txn, &app.id, "payment_refund_started", None, None, Some(detail.clone()))
                    .await?;
                audit::append(&txn, &actor, "payment.refund_started", "application", &app.id, detail).await?;
                tracing::warn!(out_trade_no = %tx.out_trade_no, state = %app.state, "payment for a case that cannot take it: refunding");
            }
            crate::persistence::commit(txn).await?;
            Ok(())
        }
    }
}

/// A verified refund result. `REFUND.SUCCESS` ends the payment's life as `refunded` (once);
/// `ABNORMAL` (the payer's card was closed or frozen) and `CLOSED` leave it `refund_pending` for
/// the merchant to pay out by hand in the merchant platform, which is the platform's own remedy;
/// the timeline says so.
async fn settle_refund(db: &Db, event_type: &str, refund: &Refund) -> Result<(), NotifyError> {
    let order =
        payments::by_out_refund_no(db, &refund.out_refund_no).await?.ok_or_else(|| reject("unknown out_refund_no"))?;
    if order.out_trade_no != refund.out_trade_no || refund.amount.refund != i64::from(order.amount_fen) {
        return Err(reject("refund differs from the order"));
    }
    let detail = serde_json::json!({
        "out_trade_no": order.out_trade_no, "refund_id": refund.refund_id, "amount_fen": order.amount_fen,
    });
    let actor = Actor { kind: "payment", id: order.out_trade_no.clone() };
    let txn = crate::persistence::begin(db).await?;
    if event_type == Notice::REFUND_SUCCESS && refund.refund_status == "SUCCESS" {
        if payments::mark_refunded(&txn, &refund.out_refund_no, &refund.refund_id).await? {
            applications::add_event(&txn, &order.application_id, "payment_refunded", None, None, Some(detail.clone()))
                .await?;
            audit::append(&txn, &actor, "payment.refunded", "application", &order.application_id, detail).await?;
        }
    } else if order.state == PaymentState::RefundPending {
        tracing::error!(out_trade_no = %order.out_trade_no, status = %refund.refund_status, "refund did not reach the payer: pay it out by hand");
        applications::add_event(&txn, &order.application_id, "payment_refund_failed", None, None, Some(detail)).await?;
    }
    crate::persistence::commit(txn).await?;
    Ok(())
}
