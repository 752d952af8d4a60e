//! The one door for an application's state: `apply` runs the state machine
//! (`domain::application::transition`) and writes, in the caller's transaction, every effect the
//! transition names — the eligibility verdict, the frozen form, the review clock, the return,
//! the certificate and its registers, the open order closed, the applicant's messages — then the
//! move itself with its
//! timeline entry and audit entry. Nothing else in the crate moves an application
//! (`tests/api/architecture.rs` checks that `persistence::applications::move_state` has this one
//! caller).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::issuing::certificates::{self, IssueRequest};
use super::ServiceError;
use crate::domain::application::{transition, Command, Effect, Transition};
use crate::domain::masking::short_reference;
use crate::domain::notification::{Notification, NotificationEvent};
use crate::domain::province::ReportKind;
use crate::domain::Calendar;
use crate::persistence::applications::{self, Application};
use crate::persistence::audit::Actor;
use crate::persistence::{institutions, outbox, payments, province, Db, Txn};

/// A command with what its effects need. Each effect names the facts it reads; a fact an effect
/// needs and the caller did not give is a programming error (500), caught by the API tests.
#[derive(Debug, Default)]
pub struct Facts {
    /// Shown in the timeline and the audit entry of the move.
    pub detail: Option<Value>,
    /// `RecordEligibility`: the failed rules' codes (empty when eligible).
    pub eligibility_reasons: Vec<&'static str>,
    /// `StartReviewClock` and the "submitted" message.
    pub review_due_at: Option<DateTime<Utc>>,
    /// `FreezeForm`.
    pub frozen_form: Option<FrozenForm>,
    /// `RecordReturn` and the "returned" message.
    pub returned: Option<Returned>,
    /// The "modification decided" message.
    pub modification: Option<ModificationDecision>,
    /// `IssueCertificate`.
    pub issue: Option<IssueRequest>,
    /// The "shipped" message.
    pub parcel: Option<Parcel>,
    /// The "reissuing" message: why a new certificate is coming.
    pub reissue_reason: Option<String>,
    /// `ReportVoid`: the number that can no longer be valid.
    pub voided: Option<String>,
    /// `CloseOrder`: whether the platform has closed the order already.
    pub order_at_platform: Option<OrderAtPlatform>,
    /// The "referred" message: why, and where and when to go.
    pub referral: Option<Referral>,
}

#[derive(Debug)]
pub struct Referral {
    pub reason: String,
    /// The institution's name, address, phone and office hours, as the family reads them.
    pub contact: String,
}

/// Where an order stands at WeChat Pay when the case lets go of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderAtPlatform {
    Closed,
    /// The platform could not be reached: the payment-calls worker closes it later.
    CloseOwed,
}

#[derive(Debug)]
pub struct FrozenForm {
    pub newborn_name: String,
    /// The canonical JSON sealed under the data key (`PersonalDataCipher::seal_form`): the form
    /// holds both parents' full ID numbers.
    pub sealed_json: String,
    /// SHA-256 of the canonical JSON in clear, so sealing and re-sealing never change it.
    pub digest: String,
}

#[derive(Debug)]
pub struct Returned {
    /// The reasons as the officer gave them (code and message), kept on the application.
    pub reasons: Value,
    /// What the family reads.
    pub messages: Vec<String>,
    pub redo_documents: Vec<String>,
}

#[derive(Debug)]
pub struct ModificationDecision {
    pub approved: bool,
    pub note: String,
}

#[derive(Debug)]
pub struct Parcel {
    pub carrier: String,
    pub tracking_number: String,
}

/// What `apply` did.
#[derive(Debug)]
pub struct Applied {
    /// The application as it is now.
    pub app: Application,
    /// The number issued by `IssueCertificate`, if the move issued one.
    pub certificate_number: Option<String>,
}

/// The transition `command` would make from the application's state, or 409 `wrong_state`
/// naming `action`. Services call it before any slow work so an out-of-order call fails fast.
pub fn check(app: &Application, command: Command, action: &str) -> Result<Transition, ServiceError> {
    transition(app.state, command).map_err(|_| ServiceError::wrong_state(app.state, action))
}

/// Moves the application by `command` and writes every effect of the move, all in `txn`.
/// Answers 409 when the move is not allowed from the state read, or when another request moved
/// the application since it was read (the move is conditional on state and version).
#[tracing::instrument(skip_all, fields(application_id = %app.id, command = ?command))]
pub async fn apply(
    txn: &Txn,
    actor: &Actor,
    app: &Application,
    command: Command,
    facts: Facts,
) -> Result<Applied, ServiceError> {
    let t = check(app, command, command.action())?;
    let missing = |fact: &str| ServiceError::internal(anyhow::anyhow!("{command:?} needs {fact}"));
    // Every message of this move gets a key of its own: the version the move creates is unique
    // to the move, so a retried request cannot queue the same message twice.
    let dedupe_key = |event: NotificationEvent| format!("{}:{}:v{}", event.as_str(), app.id, app.version + 1);
    let reference = short_reference(&app.id);
    let mut certificate_number = None;
    for effect in &t.effects {
        match effect {
            Effect::RecordEligibility => {
                applications::set_eligibility_reasons(txn, &app.id, &facts.eligibility_reasons).await?;
            }
            Effect::FreezeForm => {
                let form = facts.frozen_form.as_ref().ok_or_else(|| missing("the frozen form"))?;
                if !applications::freeze_form(txn, &app.id, &form.newborn_name, &form.sealed_json, &form.digest).await?
                {
                    return Err(ServiceError::Conflict {
                        code: "wrong_state",
                        message: "the form is already confirmed".into(),
                    });
                }
            }
            Effect::StartReviewClock => {
                let due = facts.review_due_at.ok_or_else(|| missing("the review deadline"))?;
                applications::start_review_clock(txn, &app.id, due).await?;
            }
            Effect::RecordReturn => {
                let r = facts.returned.as_ref().ok_or_else(|| missing("the return"))?;
                applications::set_return(txn, &app.id, &r.reasons, &r.redo_documents).await?;
            }
            Effect::CloseOrder => {
                let at_platform = facts.order_at_platform.ok_or_else(|| missing("where the order stands"))?;
                payments::close_open(txn, &app.id, at_platform == OrderAtPlatform::CloseOwed).await?;
            }
            Effect::RefundPayment => {
                // The paid order (if any) becomes refund_pending, owed to the platform now.
                let paid = payments::of_application(txn, &app.id)
                    .await?
                    .into_iter()
                    .filter(|p| p.state == crate::domain::payment::PaymentState::Paid)
                    .collect::<Vec<_>>();
                for order in paid {
                    if payments::begin_refund(txn, &order.out_trade_no).await? {
                        let detail = json!({"out_trade_no": order.out_trade_no, "amount_fen": order.amount_fen});
                        applications::add_event(txn, &app.id, "payment_refund_started", None, None, Some(detail))
                            .await?;
                    }
                }
            }
            Effect::IssueCertificate => {
                let request = facts.issue.as_ref().ok_or_else(|| missing("the number to issue"))?;
                certificate_number = Some(certificates::issue(txn, actor, app, request).await?);
            }
            Effect::ReportIssuance => {
                let number = certificate_number.as_deref().ok_or_else(|| missing("an issued number"))?;
                province::enqueue(txn, ReportKind::Issuance, number, Some(&app.id), &app.institution_code).await?;
            }
            Effect::ReportVoid => {
                let number = facts.voided.as_deref().ok_or_else(|| missing("the voided number"))?;
                province::enqueue(txn, ReportKind::Void, number, Some(&app.id), &app.institution_code).await?;
            }
            Effect::Notify(event) => {
                let reference = reference.clone();
                let notification = match event {
                    NotificationEvent::Submitted => Notification::Submitted {
                        reference,
                        review_due_at: facts.review_due_at.ok_or_else(|| missing("the review deadline"))?,
                    },
                    NotificationEvent::Returned => Notification::Returned {
                        reference,
                        reasons: facts.returned.as_ref().ok_or_else(|| missing("the return"))?.messages.clone(),
                    },
                    NotificationEvent::ModificationDecided => {
                        let d = facts.modification.as_ref().ok_or_else(|| missing("the decision"))?;
                        Notification::ModificationDecided { reference, approved: d.approved, note: d.note.clone() }
                    }
                    NotificationEvent::Issued => Notification::Issued {
                        reference,
                        certificate_number: certificate_number.clone().ok_or_else(|| missing("an issued number"))?,
                    },
                    NotificationEvent::Shipped => {
                        let p = facts.parcel.as_ref().ok_or_else(|| missing("the parcel"))?;
                        Notification::Shipped {
                            reference,
                            carrier: p.carrier.clone(),
                            tracking_number: p.tracking_number.clone(),
                        }
                    }
                    NotificationEvent::Delivered => Notification::Delivered { reference },
                    NotificationEvent::Reissuing => Notification::Reissuing {
                        reference,
                        reason: facts.reissue_reason.clone().ok_or_else(|| missing("the reissue reason"))?,
                    },
                    NotificationEvent::Referred => {
                        let r = facts.referral.as_ref().ok_or_else(|| missing("the referral"))?;
                        Notification::Referred { reference, reason: r.reason.clone(), contact: r.contact.clone() }
                    }
                    // Officers' only: no move of a case sends it.
                    NotificationEvent::DailyDigest => return Err(missing("a case notification")),
                };
                outbox::enqueue(txn, &app.user_id, Some(&app.id), &notification, &dedupe_key(*event)).await?;
            }
        }
    }
    let mut detail = facts.detail;
    if let (Some(number), Some(Value::Object(map))) = (&certificate_number, detail.as_mut()) {
        map.insert("certificate_number".into(), Value::String(number.clone()));
    }
    let app = if let Some(event) = command.in_place_event().filter(|_| t.to == app.state) {
        applications::add_event(txn, &app.id, event, Some(app.state), Some(t.to), detail).await?;
        applications::application(txn, &app.id).await?.ok_or(ServiceError::NotFound("application"))?
    } else {
        // Last before commit: the audited move holds the audit chain's head until then.
        applications::move_state(txn, actor, app, t.to, detail).await?.ok_or_else(ServiceError::changed_meanwhile)?
    };
    Ok(Applied { app, certificate_number })
}

/// The review deadline for an application submitted now at this institution: close of
/// business of its office hours (17:30 when unknown) on the second working day after today.
/// Read before the transaction that uses it: a read on a second pooled connection while the
/// transaction holds row locks could, under a burst, leave every connection waiting for another.
#[tracing::instrument(skip_all)]
pub async fn review_deadline(
    db: &Db,
    calendar: &Calendar,
    institution_code: &str,
) -> Result<DateTime<Utc>, ServiceError> {
    let close = match institutions::get(db, institution_code).await? {
        Some(i) => i.office_hours.close_of_business(),
        None => chrono::NaiveTime::from_hms_opt(17, 30, 0).unwrap_or_default(),
    };
    let deadline = calendar.review_due_at(Utc::now(), close);
    if !deadline.uncovered_years.is_empty() {
        tracing::warn!(years = ?deadline.uncovered_years, "review deadline computed through years without holiday data");
    }
    Ok(deadline.due_at)
}
