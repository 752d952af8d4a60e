//! Makes the WeChat Pay calls that payments owe when a case ends: closing an order the platform
//! could not be told about at once, and refunding money that arrived for a case that cannot take
//! it. The order row is the queue entry (see `persistence::payments`); each call is idempotent at
//! the platform (closing a closed order is accepted again, a refund is keyed by
//! `out_refund_no`), so a call repeated after a crash or a lost answer does no harm.

use std::sync::Arc;

use chrono::{Duration, Utc};
use tracing::Instrument;

use crate::clients::pay::{PayClient, PayClientError, RefundRequest};
use crate::config::Settings;
use crate::domain::payment::{refund_number, PaymentState};
use crate::persistence::payments::{self, CallOutcome, Payment};
use crate::persistence::{Db, PersistenceError};

/// Shown to the payer beside the refund in WeChat.
pub const REFUND_REASON: &str = "出生医学证明网上申请已结束，邮寄费全额退回";

const BATCH: u64 = 20;
const LEASE_SECS: i64 = 60;

pub struct PaymentCallsWorker {
    db: Db,
    pay: Arc<PayClient>,
    notify_url: String,
    settings: Arc<Settings>,
}

impl PaymentCallsWorker {
    pub fn new(db: Db, pay: Arc<PayClient>, notify_url: String, settings: Arc<Settings>) -> PaymentCallsWorker {
        PaymentCallsWorker { db, pay, notify_url, settings }
    }

    /// One pass over the calls that are due; returns how many were made. Tests call this to
    /// drain the queue step by step.
    pub async fn run_once(&self) -> Result<usize, PersistenceError> {
        let due = payments::claim_platform_calls(&self.db, BATCH, Duration::seconds(LEASE_SECS)).await?;
        for order in &due {
            let span = tracing::info_span!(
                "payment_call",
                out_trade_no = %order.out_trade_no,
                state = order.state.as_str(),
                attempt = order.platform_attempts + 1,
            );
            self.call(order).instrument(span).await?;
        }
        Ok(due.len())
    }

    /// Runs until `stop` flips to true.
    pub async fn run(self, stop: tokio::sync::watch::Receiver<bool>) {
        let idle = std::time::Duration::from_millis(self.settings.workers.outbox_poll_ms);
        super::poll("payment calls", idle, stop, || self.run_once()).await;
    }

    async fn call(&self, order: &Payment) -> Result<(), PersistenceError> {
        let result = match order.state {
            PaymentState::Closed => match self.pay.close(&order.out_trade_no).await {
                Ok(()) => Ok(None),
                // Paid after all: its notification will refund it. Already gone: nothing to close.
                Err(PayClientError::Refused { code, .. }) if code == "ORDERPAID" || code == "ORDER_NOT_EXIST" => {
                    tracing::info!(code, "order not closed at the platform: nothing left to close");
                    Ok(None)
                }
                Err(e) => Err(e),
            },
            PaymentState::RefundPending => {
                let out_refund_no = refund_number(&order.out_trade_no);
                let request = RefundRequest {
                    out_trade_no: &order.out_trade_no,
                    out_refund_no: &out_refund_no,
                    reason: REFUND_REASON,
                    notify_url: &self.notify_url,
                    refund_fen: order.amount_fen,
                    total_fen: order.amount_fen,
                };
                self.pay.refund(&request).await.map(|answer| {
                    tracing::info!(refund_id = %answer.refund_id, status = %answer.status, "refund requested");
                    Some(answer.refund_id)
                })
            }
            // Settled meanwhile (a notification moved it): nothing is owed any more.
            _ => Ok(None),
        };
        let attempts = order.platform_attempts + 1;
        let error = result.as_ref().err().map(ToString::to_string).unwrap_or_default();
        let outcome = match &result {
            Ok(refund_id) => CallOutcome::Done { refund_id: refund_id.as_deref() },
            Err(e) if e.is_retryable() && attempts < self.settings.workers.payment_calls_max_attempts => {
                let delay = super::backoff(self.settings.workers.outbox_base_backoff_secs, attempts);
                tracing::warn!(%error, attempts, retry_in_secs = delay.num_seconds(), "payment call will be retried");
                CallOutcome::Retry { error: &error, at: Utc::now() + delay }
            }
            Err(_) => {
                tracing::error!(%error, attempts, "payment call given up: the order needs a person");
                CallOutcome::GaveUp { error: &error }
            }
        };
        payments::record_platform_call(&self.db, &order.out_trade_no, outcome).await
    }
}
