//! Sends the reports owed to the provincial birth-certificate system (`domain::province`). A
//! report is built when it is sent, from the rows it names (the delivery record as it stands,
//! the first-issuance register's entry, the voided certificate), so nothing personal waits in
//! the queue in the clear. It is sent until the province has it: unreachable or failing, it is
//! tried again with the outbox's backoff, without end — a report is owed, not optional. Only a
//! report the province reads and refuses is left `rejected` for a person (logged as an error,
//! shown to the officer). The province keeps a report once per `report_id`, so a report sent
//! again after a crash between its send and its record is not kept twice.

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::{json, Value};
use tracing::Instrument;

use crate::clients::province::{ProvinceError, ProvinceGateway, ProvinceReport};
use crate::config::Settings;
use crate::crypto::{Field, PersonalDataCipher};
use crate::domain::certificate::CertificateState;
use crate::domain::province::{void_reason, ReportKind};
use crate::persistence::province::{self, Outcome, Report};
use crate::persistence::{certificates, deliveries, registers, Db, PersistenceError};

const BATCH: u64 = 20;
const LEASE_SECS: i64 = 60;

pub struct ProvinceReportWorker {
    db: Db,
    gateway: Arc<dyn ProvinceGateway>,
    cipher: PersonalDataCipher,
    settings: Arc<Settings>,
}

impl ProvinceReportWorker {
    pub fn new(
        db: Db,
        gateway: Arc<dyn ProvinceGateway>,
        cipher: PersonalDataCipher,
        settings: Arc<Settings>,
    ) -> ProvinceReportWorker {
        ProvinceReportWorker { db, gateway, cipher, settings }
    }

    /// One pass over due reports; returns how many were handled. Tests call this to drain the
    /// queue step by step.
    pub async fn run_once(&self) -> Result<usize, PersistenceError> {
        let due = province::claim_due(&self.db, BATCH, Duration::seconds(LEASE_SECS)).await?;
        for report in &due {
            let span = tracing::info_span!(
                "province_report",
                seq = report.seq,
                kind = report.kind.as_str(),
                attempt = report.attempts + 1,
            );
            self.send(report).instrument(span).await?;
        }
        Ok(due.len())
    }

    /// Runs until `stop` flips to true.
    pub async fn run(self, stop: tokio::sync::watch::Receiver<bool>) {
        let idle = std::time::Duration::from_millis(self.settings.workers.outbox_poll_ms);
        super::poll("province reports", idle, stop, || self.run_once()).await;
    }

    async fn send(&self, report: &Report) -> Result<(), PersistenceError> {
        let Some(data) = self.data(report).await? else {
            let error = "what the report names no longer exists";
            tracing::error!(report_id = %report.report_id, "province report rejected: {error}");
            return province::record(&self.db, report.seq, Outcome::Rejected { error }).await;
        };
        let body = ProvinceReport {
            report_id: &report.report_id,
            kind: report.kind.as_str(),
            institution_code: &report.institution_code,
            occurred_at: report.created_at.to_rfc3339(),
            data,
        };
        match self.gateway.report(&body).await {
            Ok(receipt) => {
                tracing::info!(report_id = %report.report_id, %receipt, "reported to the province");
                province::record(&self.db, report.seq, Outcome::Reported { receipt: &receipt }).await
            }
            Err(ProvinceError::Invalid(error)) => {
                tracing::error!(report_id = %report.report_id, %error, "province report rejected: needs a person");
                province::record(&self.db, report.seq, Outcome::Rejected { error: &error }).await
            }
            Err(ProvinceError::Unavailable(error)) => {
                let delay = super::backoff(self.settings.workers.outbox_base_backoff_secs, report.attempts + 1);
                tracing::warn!(report_id = %report.report_id, %error, retry_in_secs = delay.num_seconds(), "province report will be sent again");
                province::record(&self.db, report.seq, Outcome::Retry { error: &error, at: Utc::now() + delay }).await
            }
        }
    }

    /// The report's content, read now; None when its subject is gone.
    async fn data(&self, report: &Report) -> Result<Option<Value>, PersistenceError> {
        Ok(match report.kind {
            ReportKind::Delivery => {
                let Some(d) = deliveries::delivery(&self.db, &report.subject).await? else { return Ok(None) };
                let r = d.record;
                let mother_id_number = self
                    .cipher
                    .open(Field::IdNumber, &r.mother_id_number.sealed)
                    .map_err(|e| PersistenceError::Corrupt(format!("delivery record {}: {e}", d.id)))?;
                Some(json!({
                    "record_id": d.id,
                    "mother_name": r.mother_name,
                    "mother_id_type": r.mother_id_type,
                    "mother_id_number": mother_id_number,
                    "baby_sex": r.baby_sex,
                    "birth_at": r.birth_at.to_rfc3339(),
                    "birth_place": r.birth_place,
                    "gestational_weeks": r.gestational_weeks,
                    "weight_g": r.weight_g,
                    "length_cm": r.length_cm,
                    "health_status": r.health_status,
                    "midwife_name": r.midwife_name,
                }))
            }
            ReportKind::Issuance => {
                let Some(entry) = registers::first_issuance_of(&self.db, &report.subject).await? else {
                    return Ok(None);
                };
                let replaced = certificates::certificate_by_number(&self.db, &entry.certificate_number)
                    .await?
                    .and_then(|c| c.replaces_certificate_id);
                let replaces = match replaced {
                    Some(id) => certificates::number_of(&self.db, &id).await?,
                    None => None,
                };
                Some(json!({
                    "certificate_number": entry.certificate_number,
                    "newborn_name": entry.newborn_name,
                    "baby_sex": entry.baby_sex,
                    "birth_at": entry.birth_at.to_rfc3339(),
                    "mother_name": entry.mother_name,
                    "father_name": entry.father_name,
                    "issued_at": entry.issued_at.to_rfc3339(),
                    "replaces": replaces,
                }))
            }
            ReportKind::Void => {
                let Some(c) = certificates::certificate_by_number(&self.db, &report.subject).await? else {
                    return Ok(None);
                };
                Some(json!({
                    "certificate_number": c.number,
                    "reason": void_reason(c.state != CertificateState::Lost),
                    "note": c.void_reason,
                    "loss_certificate_no": c.loss_certificate_no,
                }))
            }
        })
    }
}
