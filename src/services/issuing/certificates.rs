//! Certificates: approval (a blank number consumed, the certificate recorded, both registers
//! written — as an effect of the move, through `lifecycle::apply`), losses, void and reissue,
//! and the recovery of a voided certificate.

use chrono::Utc;
use serde_json::json;

use super::stock::take_number;
use super::{application_in, parse_number};
use crate::domain::application::Command;
use crate::domain::application_state::ApplicationState as S;
use crate::domain::certificate::CertificateState;
use crate::domain::shipment::ShipmentStatus;
use crate::persistence::applications::{self, Application};
use crate::persistence::audit::{self, Actor};
use crate::persistence::certificates::{self, Certificate};
use crate::persistence::{deliveries, identity, parents, registers, shipments, Db, PersistenceError, Txn};
use crate::services::lifecycle::{self, Facts};
use crate::services::ServiceError;

/// What `Effect::IssueCertificate` needs: the officer's chosen number (else the lowest blank)
/// and the certificate the new one replaces (a reissue).
#[derive(Debug, Default)]
pub struct IssueRequest {
    pub given: Option<String>,
    pub replaces: Option<String>,
}

/// Consumes a number, records the certificate, writes both registers. Every number issued is
/// in the registers, reissues too (they are linked through `replaces`). Only
/// `lifecycle::apply` calls it, as the effect of a move to `issued`.
#[tracing::instrument(skip_all)]
pub(in crate::services) async fn issue(
    txn: &Txn,
    officer: &Actor,
    app: &Application,
    request: &IssueRequest,
) -> Result<String, ServiceError> {
    let number = take_number(txn, &app.institution_code, request.given.as_deref()).await?;
    let replaces = request.replaces.as_deref();
    let now = Utc::now();
    certificates::insert_certificate(txn, &number, app, replaces, &officer.id, now).await.map_err(|e| match e {
        PersistenceError::Conflict(_) => {
            ServiceError::Conflict { code: "number_used", message: format!("{number} was already used") }
        }
        other => other.into(),
    })?;
    let delivery =
        deliveries::delivery(txn, &app.delivery_id).await?.ok_or(ServiceError::NotFound("delivery record"))?;
    let parents = parents::parents(txn, &app.id).await?;
    let name_of = |role: &str| parents.iter().find(|p| p.role == role).map(|p| p.name.clone()).unwrap_or_default();
    let (submitted_at, out_trade_no) = applications::submission(txn, &app.id).await?;
    registers::write_registers(
        txn,
        &registers::FirstIssuanceEntry {
            certificate_number: number.clone(),
            application_id: app.id.clone(),
            institution_code: app.institution_code.clone(),
            newborn_name: app.newborn_name.clone().unwrap_or_default(),
            baby_sex: delivery.record.baby_sex.clone(),
            birth_at: delivery.record.birth_at,
            mother_name: name_of("mother"),
            father_name: name_of("father"),
            issued_by: officer.id.clone(),
            issued_at: now,
        },
        &registers::OnlineIssuanceEntry {
            certificate_number: number.clone(),
            application_id: app.id.clone(),
            institution_code: app.institution_code.clone(),
            claimant_relation: app.claimant_relation.clone(),
            out_trade_no,
            submitted_at: submitted_at.unwrap_or(now),
            issued_at: now,
            issued_by: officer.id.clone(),
        },
    )
    .await?;
    Ok(number)
}

/// Approval of a submitted application, or the reissue after a loss in transit.
#[tracing::instrument(skip_all, fields(application_id = %id))]
pub async fn approve(
    db: &Db,
    officer: &Actor,
    institution: &str,
    id: &str,
    given: Option<&str>,
) -> Result<String, ServiceError> {
    let app = application_in(db, institution, id).await?;
    lifecycle::check(&app, Command::Approve, "approval")?;
    let replaces = if app.state == S::LostInTransit {
        certificates::certificates_of(db, &app.id)
            .await?
            .into_iter()
            .rev()
            .find(|c| c.state == CertificateState::Lost)
            .map(|c| c.id)
    } else {
        None
    };
    let txn = crate::persistence::begin(db).await?;
    // Approving is the officer's acceptance of a hand-held photo that waited for review.
    identity::review_handheld(&txn, &app.id, true).await?;
    let applied = lifecycle::apply(
        &txn,
        officer,
        &app,
        Command::Approve,
        Facts {
            detail: Some(json!({"replaces": replaces})),
            issue: Some(IssueRequest { given: given.map(str::to_string), replaces }),
            ..Facts::default()
        },
    )
    .await?;
    crate::persistence::commit(txn).await?;
    applied.certificate_number.ok_or_else(|| ServiceError::internal(anyhow::anyhow!("approval issued no number")))
}

/// A loss (from the courier, or reported to the officer): the certificate is lost, the
/// application waits for the reissue, the family is told.
#[tracing::instrument(skip_all)]
pub(super) async fn mark_lost(
    txn: &Txn,
    actor: &Actor,
    app: &Application,
    certificate: &Certificate,
    loss_certificate_no: &str,
) -> Result<(), ServiceError> {
    lifecycle::check(app, Command::ReportLost, "a loss report")?;
    if !certificates::move_certificate(txn, &certificate.id, CertificateState::Lost, Some(loss_certificate_no), None)
        .await?
    {
        return Err(ServiceError::Conflict {
            code: "certificate_state",
            message: format!("certificate {} is {}", certificate.number, certificate.state),
        });
    }
    lifecycle::apply(
        txn,
        actor,
        app,
        Command::ReportLost,
        Facts {
            detail: Some(json!({"certificate_number": certificate.number, "loss_certificate_no": loss_certificate_no})),
            reissue_reason: Some("邮寄途中遗失，正在补发".into()),
            voided: Some(certificate.number.clone()),
            ..Facts::default()
        },
    )
    .await?;
    Ok(())
}

pub(super) fn valid_loss_no(loss: &str) -> Result<&str, ServiceError> {
    let loss = loss.trim();
    if loss.is_empty() || loss.len() > 64 || !loss.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(ServiceError::invalid("loss_certificate_no", "required"));
    }
    Ok(loss)
}

#[tracing::instrument(skip_all, fields(certificate = %number))]
pub(super) async fn certificate_in(
    db: &Db,
    institution: &str,
    number: &str,
) -> Result<(Certificate, Application), ServiceError> {
    let number = parse_number("number", number)?;
    let c = certificates::certificate_by_number(db, number.as_str())
        .await?
        .filter(|c| c.institution_code == institution)
        .ok_or(ServiceError::NotFound("certificate"))?;
    let app = application_in(db, institution, &c.application_id).await?;
    Ok((c, app))
}

/// A loss reported outside the courier integration.
#[tracing::instrument(skip_all, fields(certificate = %number))]
pub async fn report_loss(
    db: &Db,
    officer: &Actor,
    institution: &str,
    number: &str,
    loss_certificate_no: &str,
) -> Result<(), ServiceError> {
    let loss = valid_loss_no(loss_certificate_no)?;
    let (certificate, app) = certificate_in(db, institution, number).await?;
    let txn = crate::persistence::begin(db).await?;
    mark_lost(&txn, officer, &app, &certificate, loss).await?;
    if let Some(s) = shipments::latest_shipment(&txn, &app.id).await? {
        shipments::move_shipment(&txn, &s.id, ShipmentStatus::Lost, None).await?;
    }
    crate::persistence::commit(txn).await?;
    Ok(())
}

/// An issuer's error on a delivered certificate: it is voided and a new number issued at once
/// (registration data unchanged); the old one must come back (`recover`).
#[tracing::instrument(skip_all, fields(certificate = %number))]
pub async fn void_and_reissue(
    db: &Db,
    officer: &Actor,
    institution: &str,
    number: &str,
    reason: &str,
) -> Result<String, ServiceError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ServiceError::invalid("reason", "required"));
    }
    let (certificate, app) = certificate_in(db, institution, number).await?;
    lifecycle::check(&app, Command::VoidAndReissue, "void and reissue")?;
    let txn = crate::persistence::begin(db).await?;
    if !certificates::move_certificate(&txn, &certificate.id, CertificateState::Voided, None, Some(reason)).await? {
        return Err(ServiceError::Conflict {
            code: "certificate_state",
            message: format!("certificate {} is {}", certificate.number, certificate.state),
        });
    }
    // The misprinted paper is waste (废证) in the stock register, with the reason.
    certificates::waste_issued(&txn, &certificate.number, &format!("作废：{reason}")).await?;
    let applied = lifecycle::apply(
        &txn,
        officer,
        &app,
        Command::VoidAndReissue,
        Facts {
            detail: Some(json!({"voided": certificate.number, "reason": reason})),
            issue: Some(IssueRequest { given: None, replaces: Some(certificate.id.clone()) }),
            reissue_reason: Some("证件信息有误，重新签发".into()),
            voided: Some(certificate.number.clone()),
            ..Facts::default()
        },
    )
    .await?;
    crate::persistence::commit(txn).await?;
    applied.certificate_number.ok_or_else(|| ServiceError::internal(anyhow::anyhow!("reissue issued no number")))
}

#[tracing::instrument(skip_all, fields(certificate = %number))]
pub async fn recover(db: &Db, officer: &Actor, institution: &str, number: &str) -> Result<(), ServiceError> {
    let (certificate, _app) = certificate_in(db, institution, number).await?;
    let txn = crate::persistence::begin(db).await?;
    if !certificates::move_certificate(&txn, &certificate.id, CertificateState::Recovered, None, None).await? {
        return Err(ServiceError::Conflict {
            code: "certificate_state",
            message: format!(
                "only a voided certificate can be recovered; {} is {}",
                certificate.number, certificate.state
            ),
        });
    }
    audit::append(&txn, officer, "certificate_recovered", "certificate", &certificate.number, json!({})).await?;
    crate::persistence::commit(txn).await?;
    Ok(())
}

/// The seal keeper records that they stamped the special seal on a printed certificate: once,
/// on an issued certificate of their institution, with who and when (audited, and on the case's
/// timeline). Only an officer who keeps the seal (`officer add --can-seal`) may.
#[tracing::instrument(skip_all, fields(certificate = %number))]
pub async fn seal(
    db: &Db,
    officer: &Actor,
    officer_id: &str,
    institution: &str,
    number: &str,
) -> Result<chrono::DateTime<chrono::Utc>, ServiceError> {
    if !crate::persistence::staff::keeps_seal(db, officer_id).await? {
        return Err(ServiceError::Denied {
            code: "not_seal_keeper",
            message: "only the keeper of the special seal records its stamping".into(),
        });
    }
    let (certificate, app) = certificate_in(db, institution, number).await?;
    if certificate.state != CertificateState::Issued {
        return Err(ServiceError::Conflict {
            code: "certificate_state",
            message: format!("only an issued certificate is stamped; {} is {}", certificate.number, certificate.state),
        });
    }
    let now = chrono::Utc::now();
    let txn = crate::persistence::begin(db).await?;
    if !certificates::seal(&txn, &certificate.number, officer_id, now).await? {
        return Err(ServiceError::Conflict {
            code: "already_sealed",
            message: format!("certificate {} was stamped already", certificate.number),
        });
    }
    let detail = json!({"certificate_number": certificate.number, "sealed_by": officer_id});
    applications::add_event(&txn, &app.id, "certificate_sealed", None, None, Some(detail.clone())).await?;
    audit::append(&txn, officer, "certificate_sealed", "certificate", &certificate.number, detail).await?;
    crate::persistence::commit(txn).await?;
    Ok(now)
}
