//! Delivers queued notifications: a template message when the user follows the official
//! account, else a subscribe message when they accepted that template, else one SMS to the
//! claimant's own phone, else the row is marked undeliverable (it stays visible in the
//! application's timeline). An officer's morning digest
//! is addressed to the user of the WeChat the officer bound (`services::digest`). Retries with exponential
//! backoff up to a bound; 43004, 43101 and 40003 are final, retrying cannot help.

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::{json, Map};
use tracing::Instrument;

use crate::clients::sms::{SmsGateway, Text};
use crate::clients::wechat::{ErrKind, MiniProgramLink, SubscribeMessage, TemplateMessage, WechatClient, WechatError};
use crate::config::Settings;
use crate::crypto::{Field, PersonalDataCipher};
use crate::domain::notification::Notification;
use crate::persistence::outbox::{self, OutboxRow, Outcome};
use crate::persistence::{applications, parents, users, Db, PersistenceError};

pub struct OutboxWorker {
    db: Db,
    wechat: Arc<WechatClient>,
    sms: Arc<dyn SmsGateway>,
    cipher: PersonalDataCipher,
    settings: Arc<Settings>,
}

const BATCH: u64 = 64;
/// Rows of one batch sent at once.
const IN_FLIGHT: usize = 32;
const LEASE_SECS: i64 = 60;

fn row_span(row: &OutboxRow) -> tracing::Span {
    tracing::info_span!(
        "outbox_row",
        seq = row.seq,
        event = row.notification.event().as_str(),
        application_id = row.application_id.as_deref().unwrap_or_default(),
        attempt = row.attempts + 1,
    )
}

fn is_final(kind: ErrKind) -> bool {
    matches!(kind, ErrKind::RequireSubscribe | ErrKind::UserRefusedSubscription | ErrKind::InvalidOpenId)
}

impl OutboxWorker {
    pub fn new(
        db: Db,
        wechat: Arc<WechatClient>,
        sms: Arc<dyn SmsGateway>,
        cipher: PersonalDataCipher,
        settings: Arc<Settings>,
    ) -> OutboxWorker {
        OutboxWorker { db, wechat, sms, cipher, settings }
    }

    /// One pass over due rows; returns how many were handled. Tests call this to drain the
    /// outbox step by step.
    pub async fn run_once(&self) -> Result<usize, PersistenceError> {
        let rows = outbox::claim_due(&self.db, BATCH, Duration::seconds(LEASE_SECS)).await?;
        // The leased rows are this worker's alone: different people's messages go side by side
        // (each waits mostly on the platform), a bounded number at a time; one person's go in
        // the order they were queued, so "issued" never arrives before "submitted".
        let mut by_user: Vec<Vec<&OutboxRow>> = Vec::new();
        for row in &rows {
            match by_user.iter_mut().find(|g| g[0].user_id == row.user_id) {
                Some(group) => group.push(row),
                None => by_user.push(vec![row]),
            }
        }
        for chunk in by_user.chunks(IN_FLIGHT) {
            let sends: Vec<_> = chunk
                .iter()
                .map(|group| async move {
                    for row in group {
                        self.deliver(row).instrument(row_span(row)).await?;
                    }
                    Ok::<(), PersistenceError>(())
                })
                .collect();
            for sent in futures_util::future::join_all(sends).await {
                sent?;
            }
        }
        Ok(rows.len())
    }

    /// Runs until `stop` flips to true.
    pub async fn run(self, stop: tokio::sync::watch::Receiver<bool>) {
        let idle = std::time::Duration::from_millis(self.settings.workers.outbox_poll_ms);
        super::poll("outbox", idle, stop, || self.run_once()).await;
    }

    async fn deliver(&self, row: &OutboxRow) -> Result<(), PersistenceError> {
        let event = row.notification.event();
        let template_id = self.settings.wechat.templates.for_event(event).to_string();
        let mut data = Map::new();
        for (key, value) in row.notification.fields(row.created_at) {
            data.insert(key.to_string(), json!({ "value": value }));
        }
        // Stable per row, so WeChat drops a resend of a message that did arrive.
        let client_msg_id = format!("bc{}", row.seq);

        let official = users::external_id(&self.db, &row.user_id, users::OFFICIAL_ACCOUNT).await?;
        let result: Result<(&str, String), WechatError> = if let Some(openid) = official {
            let message = TemplateMessage {
                touser: openid,
                template_id,
                // An officer's digest is for the console, not the families' mini-program.
                miniprogram: (!matches!(row.notification, Notification::DailyDigest { .. })).then(|| MiniProgramLink {
                    appid: self.settings.wechat.mini_program_app_id.clone(),
                    pagepath: self.page(row),
                }),
                client_msg_id,
                data,
            };
            self.wechat.send_template(&message).await.map(|msgid| ("template", msgid))
        } else if users::consent_status(&self.db, &row.user_id, &template_id).await?.as_deref() == Some("accept") {
            let Some(openid) = users::external_id(&self.db, &row.user_id, users::MINI_PROGRAM).await? else {
                return outbox::record(&self.db, row.seq, Outcome::Undeliverable { reason: "no mini-program openid" })
                    .await;
            };
            let message = SubscribeMessage {
                touser: openid,
                template_id,
                page: self.page(row),
                miniprogram_state: "formal".into(),
                lang: "zh_CN".into(),
                data,
            };
            self.wechat.send_subscribe(&message).await.map(|()| ("subscribe", String::new()))
        } else {
            return self.text_instead(row).await;
        };

        self.record_sent(row, result).await
    }

    /// Neither a template nor a subscribe message can reach the family: one SMS to the
    /// claimant's own phone (the parent who applied, as they entered it), once — a failed text
    /// is not retried, so an event never sends two. Without such a phone the row is
    /// undeliverable and stays visible in the timeline.
    async fn text_instead(&self, row: &OutboxRow) -> Result<(), PersistenceError> {
        let phone = match &row.application_id {
            Some(id) => self.claimant_phone(id).await?,
            None => None,
        };
        let Some(phone) = phone else {
            tracing::info!(seq = row.seq, "notification undeliverable: not following, no consent, no phone");
            return outbox::record(
                &self.db,
                row.seq,
                Outcome::Undeliverable {
                    reason: "user neither follows the account nor accepted the subscribe template, and gave no phone",
                },
            )
            .await;
        };
        let fields = row.notification.fields(row.created_at);
        let value = |key: &str| fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str()).unwrap_or_default();
        let body =
            format!("{}：{}。{}（{}）", value("keyword1"), value("keyword2"), value("keyword3"), value("keyword4"));
        let text = Text { phone: &phone, sign_name: &self.settings.sms.sign_name, text: &body };
        match self.sms.send(&text).await {
            Ok(message_id) => {
                tracing::info!(seq = row.seq, channel = "sms", "notification sent");
                outbox::record(&self.db, row.seq, Outcome::Sent { channel: "sms", msgid: &message_id }).await
            }
            Err(e) => {
                tracing::warn!(seq = row.seq, error = %e, "SMS not sent; not retried (at most one per event)");
                outbox::record(&self.db, row.seq, Outcome::Failed { errcode: None, error: &e.to_string() }).await
            }
        }
    }

    /// The phone of the parent who applied, opened; None when they gave none (or the claimant is
    /// not a parent on the form).
    async fn claimant_phone(&self, application_id: &str) -> Result<Option<String>, PersistenceError> {
        let Some(app) = applications::application(&self.db, application_id).await? else { return Ok(None) };
        let claimant = parents::parents(&self.db, &app.id).await?.into_iter().find(|p| p.role == app.claimant_relation);
        let Some(sealed) = claimant.and_then(|p| p.phone) else { return Ok(None) };
        self.cipher
            .open(Field::Phone, &sealed.sealed)
            .map(Some)
            .map_err(|e| PersistenceError::Corrupt(format!("claimant phone of {application_id}: {e}")))
    }

    /// Records what the platform answered: sent, retried later with backoff, or failed.
    async fn record_sent(
        &self,
        row: &OutboxRow,
        result: Result<(&str, String), WechatError>,
    ) -> Result<(), PersistenceError> {
        match result {
            Ok((channel, msgid)) => {
                tracing::info!(seq = row.seq, channel, "notification sent");
                outbox::record(&self.db, row.seq, Outcome::Sent { channel, msgid: &msgid }).await
            }
            Err(e) => {
                let attempts = row.attempts + 1;
                let error = e.to_string();
                let final_error = e.kind().is_some_and(is_final);
                if final_error || attempts >= self.settings.workers.outbox_max_attempts {
                    tracing::warn!(seq = row.seq, errcode = ?e.errcode(), attempts, "notification failed");
                    outbox::record(&self.db, row.seq, Outcome::Failed { errcode: e.errcode(), error: &error }).await
                } else {
                    let delay = self.backoff(attempts);
                    tracing::info!(seq = row.seq, errcode = ?e.errcode(), attempts, retry_in_secs = delay.num_seconds(), "notification will be retried");
                    outbox::record(
                        &self.db,
                        row.seq,
                        Outcome::Retry { errcode: e.errcode(), error: &error, at: Utc::now() + delay },
                    )
                    .await
                }
            }
        }
    }

    fn backoff(&self, attempts: i32) -> Duration {
        super::backoff(self.settings.workers.outbox_base_backoff_secs, attempts)
    }

    fn page(&self, row: &OutboxRow) -> String {
        match &row.application_id {
            Some(id) => format!("{}?id={id}", self.settings.wechat.mini_program_page),
            None => self.settings.wechat.mini_program_page.clone(),
        }
    }
}
