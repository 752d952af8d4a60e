//! The issuing side as a service: what the hospital and the issuing officer do, and what
//! happens to the certificate until the family holds it. Each state change is written with its
//! audit entry and its outbox row in one transaction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::blobs::BlobStore;
use crate::clients::courier::{Booking, Courier, CourierError, Recipient};
use crate::crypto::{Field, PersonalDataCipher};
use crate::domain::application::{transition, Command};
use crate::domain::application_state::ApplicationState as S;
use crate::domain::delivery::{self, DeliveryInput};
use crate::domain::masking;
use crate::domain::notification::Notification;
use crate::domain::CertificateNumber;
use crate::error::{ApiError, FieldError};
use crate::journey::{advance, store_number, wrong_state, DOCUMENT_KINDS};
use crate::persistence::applicant::{self, Application, DeliveryRecord};
use crate::persistence::audit::{self, Actor};
use crate::persistence::issuing::{self as store, Certificate, QueueFilter};
use crate::persistence::{identity, outbox, Db, PersistenceError};

fn validation(errors: Vec<(&'static str, &'static str)>) -> ApiError {
    ApiError::Validation {
        fields: errors.into_iter().map(|(f, c)| FieldError { field: f.into(), code: c.into() }).collect(),
    }
}

// ---- hospital ------------------------------------------------------------------------------

fn record_of(cipher: &PersonalDataCipher, institution: &str, checked: &delivery::CheckedDelivery) -> DeliveryRecord {
    DeliveryRecord {
        institution_code: institution.to_string(),
        mother_name: checked.mother_name.clone(),
        mother_id_type: checked.mother_id.id_type.as_str().to_string(),
        mother_id_number: store_number(cipher, Field::IdNumber, &checked.mother_id.number),
        baby_sex: checked.baby_sex.to_string(),
        birth_at: checked.birth_at,
        birth_place: checked.birth_place.clone(),
        gestational_weeks: checked.gestational_weeks,
        weight_g: checked.weight_g,
        length_cm: checked.length_cm,
        health_status: checked.health_status.to_string(),
        midwife_name: checked.midwife_name.clone(),
        late: checked.late,
    }
}

/// A new delivery record from the hospital's system → (id, late).
pub async fn create_delivery(
    db: &Db,
    cipher: &PersonalDataCipher,
    institution: &str,
    input: &DeliveryInput,
) -> Result<(String, bool), ApiError> {
    let checked = delivery::check(input, Utc::now()).map_err(validation)?;
    let record = record_of(cipher, institution, &checked);
    let txn = crate::persistence::begin(db).await?;
    let id = applicant::insert_delivery(&txn, &record).await?;
    audit::append(
        &txn,
        &Actor::hospital(institution),
        "delivery_recorded",
        "delivery",
        &id,
        json!({"late": checked.late}),
    )
    .await?;
    crate::persistence::commit(txn).await?;
    Ok((id, checked.late))
}

/// A correction: only while no application has frozen the form (an approved modification puts
/// the application back before confirmation, so it is allowed then too). `late` keeps the
/// original entry time's verdict.
pub async fn correct_delivery(
    db: &Db,
    cipher: &PersonalDataCipher,
    institution: &str,
    id: &str,
    input: &DeliveryInput,
) -> Result<(), ApiError> {
    let existing = applicant::delivery(db, id)
        .await?
        .filter(|d| d.record.institution_code == institution)
        .ok_or(ApiError::NotFound("delivery record"))?;
    if let Some(app) = store::live_application_of_delivery(db, id).await? {
        if store::FORM_FROZEN.contains(&app.state) || matches!(app.state, S::Delivered) {
            return Err(ApiError::Conflict {
                code: "form_frozen",
                message: "an application has confirmed this record; it can change only through an approved modification request".into(),
            });
        }
    }
    let checked = delivery::check(input, Utc::now()).map_err(validation)?;
    let mut record = record_of(cipher, institution, &checked);
    record.late = existing.record.late;
    let txn = crate::persistence::begin(db).await?;
    store::update_delivery(&txn, id, &record).await?;
    audit::append(&txn, &Actor::hospital(institution), "delivery_corrected", "delivery", id, json!({})).await?;
    crate::persistence::commit(txn).await?;
    Ok(())
}

// ---- the officer's queue and reads ---------------------------------------------------------

/// The application if it belongs to the officer's institution (another institution's is "not
/// found", like any id the caller may not see).
async fn application_in(db: &Db, institution: &str, id: &str) -> Result<Application, ApiError> {
    applicant::application(db, id)
        .await?
        .filter(|a| a.institution_code == institution)
        .ok_or(ApiError::NotFound("application"))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueueItem {
    pub id: String,
    pub state: String,
    pub review_due_at: Option<DateTime<chrono::FixedOffset>>,
    pub overdue: bool,
    pub mother_name: String,
    pub birth_at: Option<DateTime<chrono::FixedOffset>>,
    pub newborn_name: Option<String>,
    pub claimant_relation: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueuePage {
    pub items: Vec<QueueItem>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

pub struct QueueQuery {
    pub state: Option<String>,
    pub overdue: Option<bool>,
    pub page: u64,
    pub per_page: u64,
}

pub async fn queue(db: &Db, institution: &str, q: &QueueQuery) -> Result<QueuePage, ApiError> {
    let states: Vec<&'static str> = match q.state.as_deref() {
        None => vec![S::Submitted.as_str()],
        Some(s) => {
            vec![S::parse(s).ok_or_else(|| ApiError::bad_request("unknown_state", format!("no state {s:?}")))?.as_str()]
        }
    };
    let per_page = q.per_page.clamp(1, 100);
    let page = q.page.max(1);
    let now = Utc::now();
    let (apps, total) = store::queue(
        db,
        &QueueFilter { institution, states, overdue: q.overdue, now, offset: (page - 1) * per_page, limit: per_page },
    )
    .await?;
    let ids: Vec<String> = apps.iter().map(|a| a.delivery_id.clone()).collect();
    let deliveries = store::deliveries_by_ids(db, &ids).await?;
    let items = apps
        .into_iter()
        .map(|a| {
            let d = deliveries.iter().find(|d| d.id == a.delivery_id);
            QueueItem {
                overdue: a.state.is_overdue(a.review_due_at, now),
                review_due_at: a.review_due_at.map(crate::domain::working_days::to_china),
                mother_name: d.map(|d| d.record.mother_name.clone()).unwrap_or_default(),
                birth_at: d.map(|d| crate::domain::working_days::to_china(d.record.birth_at)),
                state: a.state.as_str().to_string(),
                newborn_name: a.newborn_name,
                claimant_relation: a.claimant_relation,
                id: a.id,
            }
        })
        .collect();
    Ok(QueuePage { items, total, page, per_page })
}

fn open(cipher: &PersonalDataCipher, sealed: &crate::crypto::Sealed, what: &str) -> Result<String, ApiError> {
    cipher.open(Field::IdNumber, sealed).map_err(|e| ApiError::internal(anyhow::anyhow!("{what}: {e}")))
}

fn open_phone(cipher: &PersonalDataCipher, sealed: &crate::crypto::Sealed, what: &str) -> Result<String, ApiError> {
    cipher.open(Field::Phone, sealed).map_err(|e| ApiError::internal(anyhow::anyhow!("{what}: {e}")))
}

/// Everything about one application, unmasked, for the officer; the read is audited first, so
/// no personal data leaves without its audit entry.
pub async fn detail(
    db: &Db,
    cipher: &PersonalDataCipher,
    officer: &Actor,
    institution: &str,
    id: &str,
) -> Result<Value, ApiError> {
    let app = application_in(db, institution, id).await?;
    audit::append_alone(db, officer, "read_application", "application", &app.id, json!({})).await?;
    let delivery = applicant::delivery(db, &app.delivery_id).await?.ok_or(ApiError::NotFound("delivery record"))?;
    let mut parents = Vec::new();
    for p in applicant::parents(db, &app.id).await? {
        let phone = match &p.phone {
            Some(s) => Some(open_phone(cipher, &s.sealed, "parent phone")?),
            None => None,
        };
        parents.push(json!({
            "role": p.role, "name": p.name, "id_type": p.id_type,
            "id_number": open(cipher, &p.id_number.sealed, "parent id")?,
            "nationality": p.nationality, "ethnicity": p.ethnicity, "phone": phone, "address": p.address,
        }));
    }
    let documents: Vec<Value> = identity::current_documents(db, &app.id)
        .await?
        .into_iter()
        .map(|d| json!({"kind": d.kind, "sha256": d.sha256, "size": d.size, "content_type": d.content_type}))
        .collect();
    let address = match store::delivery_address(db, &app.id).await? {
        Some(a) => Some(json!({
            "recipient": a.recipient, "phone": open_phone(cipher, &a.phone, "recipient phone")?,
            "region_code": a.region_code, "address": a.address,
        })),
        None => None,
    };
    let certificates: Vec<Value> = store::certificates_of(db, &app.id).await?.iter().map(certificate_view).collect();
    let shipment = store::latest_shipment(db, &app.id).await?.map(|s| {
        json!({"carrier": s.carrier, "tracking_number": s.tracking_number, "status": s.status, "signed_by": s.signed_by})
    });
    let timeline: Vec<Value> = applicant::timeline(db, &app.id)
        .await?
        .into_iter()
        .map(|e| json!({"kind": e.kind, "from": e.from_state, "to": e.to_state, "detail": e.detail, "at": crate::domain::working_days::to_china(e.at)}))
        .collect();
    let form = crate::persistence::form::frozen(db, &app.id)
        .await?
        .and_then(|(snapshot, _)| serde_json::from_str::<Value>(&snapshot).ok());
    let signature = store::signature_of(db, &app.id)
        .await?
        .map(|(sha, digest, at)| json!({"image_sha256": sha, "form_digest": digest, "signed_at": crate::domain::working_days::to_china(at)}));
    Ok(json!({
        "id": app.id,
        "state": app.state.as_str(),
        "institution_code": app.institution_code,
        "claimant_relation": app.claimant_relation,
        "review_due_at": app.review_due_at.map(crate::domain::working_days::to_china),
        "overdue": app.state.is_overdue(app.review_due_at, Utc::now()),
        "return_reasons": app.return_reasons,
        "newborn_name": app.newborn_name,
        "form_digest": app.form_digest,
        "form": form,
        "signature": signature,
        "delivery": {
            "id": delivery.id,
            "mother_name": delivery.record.mother_name,
            "mother_id_type": delivery.record.mother_id_type,
            "mother_id_number": open(cipher, &delivery.record.mother_id_number.sealed, "delivery mother id")?,
            "baby_sex": delivery.record.baby_sex,
            "birth_at": crate::domain::working_days::to_china(delivery.record.birth_at),
            "birth_place": delivery.record.birth_place,
            "gestational_weeks": delivery.record.gestational_weeks,
            "weight_g": delivery.record.weight_g,
            "length_cm": delivery.record.length_cm,
            "health_status": delivery.record.health_status,
            "midwife_name": delivery.record.midwife_name,
            "late": delivery.record.late,
        },
        "parents": parents,
        "documents": documents,
        "delivery_address": address,
        "certificates": certificates,
        "shipment": shipment,
        "timeline": timeline,
    }))
}

pub fn certificate_view(c: &Certificate) -> Value {
    json!({
        "number": c.number, "state": c.state, "issued_at": crate::domain::working_days::to_china(c.issued_at),
        "replaces_certificate_id": c.replaces_certificate_id, "loss_certificate_no": c.loss_certificate_no,
        "void_reason": c.void_reason, "recovered_at": c.recovered_at.map(crate::domain::working_days::to_china),
    })
}

/// One document image for the officer (audited) → (bytes, content type).
pub async fn document(
    db: &Db,
    blobs: &BlobStore,
    officer: &Actor,
    institution: &str,
    id: &str,
    kind: &str,
) -> Result<(Vec<u8>, String), ApiError> {
    let app = application_in(db, institution, id).await?;
    let doc = if kind == "signature" {
        store::signature_of(db, &app.id).await?.map(|(sha, _, _)| (sha, "image/png".to_string()))
    } else {
        identity::current_documents(db, &app.id)
            .await?
            .into_iter()
            .find(|d| d.kind == kind)
            .map(|d| (d.sha256, d.content_type))
    };
    let (sha, content_type) = doc.ok_or(ApiError::NotFound("document"))?;
    audit::append_alone(db, officer, "read_document", "application", &app.id, json!({"kind": kind, "sha256": sha}))
        .await?;
    let bytes = blobs.read(&sha).await.map_err(|e| ApiError::internal(anyhow::anyhow!("blob {sha}: {e:?}")))?;
    Ok((bytes, content_type))
}

// ---- return and resubmission ---------------------------------------------------------------

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ReturnReason {
    pub code: String,
    pub message: String,
}

pub async fn return_application(
    db: &Db,
    officer: &Actor,
    institution: &str,
    id: &str,
    reasons: &[ReturnReason],
    redo_documents: &[String],
) -> Result<Application, ApiError> {
    let mut fields = Vec::new();
    if reasons.is_empty() {
        fields.push(FieldError { field: "reasons".into(), code: "required".into() });
    }
    for (i, r) in reasons.iter().enumerate() {
        let code_ok =
            !r.code.is_empty() && r.code.len() <= 64 && r.code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        if !code_ok {
            fields.push(FieldError { field: format!("reasons[{i}].code"), code: "invalid".into() });
        }
        if r.message.trim().is_empty() || r.message.chars().count() > 500 {
            fields.push(FieldError { field: format!("reasons[{i}].message"), code: "required".into() });
        }
    }
    for (i, k) in redo_documents.iter().enumerate() {
        if !DOCUMENT_KINDS.contains(&k.as_str()) {
            fields.push(FieldError { field: format!("redo_documents[{i}]"), code: "unknown_kind".into() });
        }
    }
    if !fields.is_empty() {
        return Err(ApiError::Validation { fields });
    }
    let app = application_in(db, institution, id).await?;
    let next = transition(app.state, Command::Return).map_err(|_| wrong_state(&app, "a return"))?;
    let reasons_json = serde_json::to_value(reasons).unwrap_or_default();
    let txn = crate::persistence::begin(db).await?;
    advance(&txn, officer, &app, next.to, Some(json!({"reasons": reasons_json, "redo_documents": redo_documents})))
        .await?;
    store::set_return(&txn, &app.id, &reasons_json, redo_documents).await?;
    let n = applicant::timeline(&txn, &app.id).await?.len();
    outbox::enqueue(
        &txn,
        &app.user_id,
        Some(&app.id),
        &Notification::Returned {
            reference: masking::short_reference(&app.id),
            reasons: reasons.iter().map(|r| r.message.clone()).collect(),
        },
        &format!("returned:{}:{n}", app.id),
    )
    .await?;
    crate::persistence::commit(txn).await?;
    applicant::application(db, &app.id).await?.ok_or(ApiError::NotFound("application"))
}

/// The family sends the application back after a return: every document the officer named
/// must have been uploaded again since. The frozen form stays as it was.
pub async fn resubmit(
    db: &Db,
    calendar: &crate::domain::Calendar,
    user_id: &str,
    id: &str,
) -> Result<Application, ApiError> {
    let app = applicant::application_of(db, user_id, id).await?.ok_or(ApiError::NotFound("application"))?;
    let next = transition(app.state, Command::Resubmit).map_err(|_| wrong_state(&app, "resubmission"))?;
    let returned_at = store::last_entered(db, &app.id, S::Returned).await?.unwrap_or(app.updated_at);
    let redone = store::documents_uploaded_since(db, &app.id, returned_at).await?;
    let missing: Vec<String> =
        store::redo_documents(db, &app.id).await?.into_iter().filter(|k| !redone.contains(k)).collect();
    if !missing.is_empty() {
        return Err(ApiError::Unprocessable {
            code: "documents_to_redo",
            message: format!("upload these documents again first: {}", missing.join(", ")),
        });
    }
    let due_at = crate::journey::review_deadline(db, calendar, &app.institution_code).await?;
    let txn = crate::persistence::begin(db).await?;
    advance(&txn, &Actor::applicant(user_id), &app, next.to, Some(json!({"resubmitted": true}))).await?;
    applicant::start_review_clock(&txn, &app.id, due_at).await?;
    let n = applicant::timeline(&txn, &app.id).await?.len();
    outbox::enqueue(
        &txn,
        &app.user_id,
        Some(&app.id),
        &Notification::Submitted { reference: masking::short_reference(&app.id), review_due_at: due_at },
        &format!("submitted:{}:resubmitted:{n}", app.id),
    )
    .await?;
    crate::persistence::commit(txn).await?;
    applicant::application(db, &app.id).await?.ok_or(ApiError::NotFound("application"))
}

// ---- modification requests -----------------------------------------------------------------

pub async fn modification_requests(db: &Db, institution: &str, state: Option<&str>) -> Result<Vec<Value>, ApiError> {
    if let Some(s) = state {
        if !matches!(s, "pending" | "approved" | "rejected") {
            return Err(ApiError::bad_request("unknown_state", "state is pending, approved or rejected"));
        }
    }
    Ok(store::modification_requests(db, institution, state)
        .await?
        .into_iter()
        .map(|m| {
            json!({"id": m.id, "application_id": m.application_id, "items": m.items, "state": m.state,
                   "decision_note": m.decision_note, "created_at": crate::domain::working_days::to_china(m.created_at),
                   "decided_at": m.decided_at.map(crate::domain::working_days::to_china)})
        })
        .collect())
}

pub async fn decide_modification(
    db: &Db,
    cipher: &PersonalDataCipher,
    officer: &Actor,
    institution: &str,
    request_id: &str,
    approved: bool,
    note: &str,
) -> Result<Application, ApiError> {
    let note = note.trim();
    if note.is_empty() || note.chars().count() > 500 {
        return Err(ApiError::Validation {
            fields: vec![FieldError { field: "note".into(), code: "required".into() }],
        });
    }
    let request =
        store::modification_request(db, request_id).await?.ok_or(ApiError::NotFound("modification request"))?;
    let app = application_in(db, institution, &request.application_id)
        .await
        .map_err(|_| ApiError::NotFound("modification request"))?;
    if request.state != "pending" {
        return Err(ApiError::Conflict { code: "already_decided", message: "this request was already decided".into() });
    }
    let next = transition(app.state, Command::DecideModification { approved })
        .map_err(|_| wrong_state(&app, "a modification decision"))?;
    let correction = if approved {
        let delivery = applicant::delivery(db, &app.delivery_id).await?.ok_or(ApiError::NotFound("delivery record"))?;
        let mother_id = open(cipher, &delivery.record.mother_id_number.sealed, "delivery mother id")?;
        let corrections =
            request.items.as_array().into_iter().flatten().map(|item| {
                (item["field"].as_str().unwrap_or_default(), item["requested"].as_str().unwrap_or_default())
            });
        let input = delivery::apply_corrections(&input_of(&delivery.record, &mother_id), corrections).map_err(|field| {
            ApiError::Unprocessable {
                code: "correction_invalid",
                message: format!("the requested value for {field} cannot be applied; reject the request or correct the record through the hospital"),
            }
        })?;
        let checked = delivery::check(&input, Utc::now()).map_err(validation)?;
        let mut record = record_of(cipher, &delivery.record.institution_code, &checked);
        record.late = delivery.record.late;
        Some((delivery.id, record))
    } else {
        None
    };
    let txn = crate::persistence::begin(db).await?;
    if !store::decide_modification(&txn, request_id, approved, note, &officer.id).await? {
        return Err(ApiError::Conflict { code: "already_decided", message: "this request was already decided".into() });
    }
    if let Some((delivery_id, record)) = &correction {
        store::update_delivery(&txn, delivery_id, record).await?;
        audit::append(
            &txn,
            officer,
            "delivery_corrected",
            "delivery",
            delivery_id,
            json!({"modification_request": request_id}),
        )
        .await?;
    }
    advance(
        &txn,
        officer,
        &app,
        next.to,
        Some(json!({"modification_request": request_id, "approved": approved, "note": note})),
    )
    .await?;
    outbox::enqueue(
        &txn,
        &app.user_id,
        Some(&app.id),
        &Notification::ModificationDecided {
            reference: masking::short_reference(&app.id),
            approved,
            note: note.to_string(),
        },
        &format!("modification_decided:{request_id}"),
    )
    .await?;
    crate::persistence::commit(txn).await?;
    applicant::application(db, &app.id).await?.ok_or(ApiError::NotFound("application"))
}

/// The stored record as the hospital's input, for re-checking after corrections.
fn input_of(record: &DeliveryRecord, mother_id: &str) -> DeliveryInput {
    DeliveryInput {
        mother_name: record.mother_name.clone(),
        mother_id_type: record.mother_id_type.clone(),
        mother_id_number: mother_id.to_string(),
        baby_sex: record.baby_sex.clone(),
        birth_at: record.birth_at,
        birth_place: record.birth_place.clone(),
        gestational_weeks: record.gestational_weeks,
        weight_g: record.weight_g,
        length_cm: record.length_cm,
        health_status: record.health_status.clone(),
        midwife_name: record.midwife_name.clone(),
    }
}

// ---- blank stock ---------------------------------------------------------------------------

fn parse_number(field: &'static str, value: &str) -> Result<CertificateNumber, ApiError> {
    CertificateNumber::parse(value)
        .map_err(|_| ApiError::Validation { fields: vec![FieldError { field: field.into(), code: "format".into() }] })
}

/// Most numbers one delivery of blank stock can bring (a county's stock for years).
pub const MAX_RANGE: usize = 10_000;

pub async fn receive_stock(
    db: &Db,
    admin: &Actor,
    institution: &str,
    first: &str,
    last: &str,
) -> Result<usize, ApiError> {
    let (first, last) = (parse_number("first", first)?, parse_number("last", last)?);
    let numbers: Vec<String> = CertificateNumber::range(&first, &last)
        .ok_or_else(|| ApiError::Unprocessable {
            code: "invalid_range",
            message: "first and last must share the letter and first must not come after last".into(),
        })?
        .take(MAX_RANGE + 1)
        .map(|n| n.as_str().to_string())
        .collect();
    if numbers.len() > MAX_RANGE {
        return Err(ApiError::Unprocessable {
            code: "range_too_large",
            message: format!("at most {MAX_RANGE} numbers at a time"),
        });
    }
    let txn = crate::persistence::begin(db).await?;
    store::receive_stock(&txn, institution, &numbers, &admin.id).await.map_err(|e| match e {
        PersistenceError::Conflict(_) => ApiError::Conflict {
            code: "already_received",
            message: "some numbers of this range were already received".into(),
        },
        other => other.into(),
    })?;
    audit::append(
        &txn,
        admin,
        "stock_received",
        "stock",
        first.as_str(),
        json!({"first": first.as_str(), "last": last.as_str(), "count": numbers.len()}),
    )
    .await?;
    crate::persistence::commit(txn).await?;
    Ok(numbers.len())
}

pub async fn waste(db: &Db, admin: &Actor, institution: &str, number: &str, reason: &str) -> Result<(), ApiError> {
    let number = parse_number("number", number)?;
    if reason.trim().is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::Validation {
            fields: vec![FieldError { field: "reason".into(), code: "required".into() }],
        });
    }
    let entry = store::stock_entry(db, number.as_str())
        .await?
        .filter(|e| e.institution_code == institution)
        .ok_or(ApiError::NotFound("certificate number in this institution's stock"))?;
    let txn = crate::persistence::begin(db).await?;
    if entry.state != "blank"
        || !store::consume_blank(&txn, institution, number.as_str(), "waste", Some(reason.trim())).await?
    {
        return Err(ApiError::Conflict {
            code: "number_used",
            message: format!("{number} was already used ({})", entry.state),
        });
    }
    audit::append(&txn, admin, "stock_wasted", "stock", number.as_str(), json!({"reason": reason.trim()})).await?;
    crate::persistence::commit(txn).await?;
    Ok(())
}

// ---- approval, shipment, delivery, loss, void ----------------------------------------------

/// Takes the given number (it must be a blank of this institution) or the next free one.
async fn take_number(
    txn: &crate::persistence::Txn,
    institution: &str,
    given: Option<&str>,
) -> Result<String, ApiError> {
    let number = match given {
        Some(n) => {
            let n = parse_number("certificate_number", n)?;
            let entry = store::stock_entry(txn, n.as_str()).await?;
            match entry {
                Some(e) if e.institution_code == institution => {}
                _ => {
                    return Err(ApiError::Unprocessable {
                        code: "not_in_stock",
                        message: format!("{n} is not in this institution's blank stock"),
                    })
                }
            }
            n.as_str().to_string()
        }
        None => store::next_blank(txn, institution).await?.ok_or_else(|| ApiError::Conflict {
            code: "no_blank_stock",
            message: "no blank certificates left in stock; receive a new range first".into(),
        })?,
    };
    if !store::consume_blank(txn, institution, &number, "issued", None).await? {
        return Err(ApiError::Conflict { code: "number_used", message: format!("{number} was already used") });
    }
    Ok(number)
}

/// Consumes a number, records the certificate, writes both registers. Every number issued is
/// in the registers, reissues too (they are linked through `replaces`).
async fn issue_certificate(
    txn: &crate::persistence::Txn,
    officer: &Actor,
    app: &Application,
    given: Option<&str>,
    replaces: Option<&str>,
) -> Result<String, ApiError> {
    let number = take_number(txn, &app.institution_code, given).await?;
    let now = Utc::now();
    store::insert_certificate(txn, &number, app, replaces, &officer.id, now).await.map_err(|e| match e {
        PersistenceError::Conflict(_) => {
            ApiError::Conflict { code: "number_used", message: format!("{number} was already used") }
        }
        other => other.into(),
    })?;
    let delivery = applicant::delivery(txn, &app.delivery_id).await?.ok_or(ApiError::NotFound("delivery record"))?;
    let parents = applicant::parents(txn, &app.id).await?;
    let name_of = |role: &str| parents.iter().find(|p| p.role == role).map(|p| p.name.clone()).unwrap_or_default();
    let (submitted_at, out_trade_no) = store::submission(txn, &app.id).await?;
    store::write_registers(
        txn,
        &store::FirstIssuanceEntry {
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
        &store::OnlineIssuanceEntry {
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
    outbox::enqueue(
        txn,
        &app.user_id,
        Some(&app.id),
        &Notification::Issued { reference: masking::short_reference(&app.id), certificate_number: number.clone() },
        &format!("issued:{number}"),
    )
    .await?;
    Ok(number)
}

/// Approval of a submitted application, or the reissue after a loss in transit.
pub async fn approve(
    db: &Db,
    officer: &Actor,
    institution: &str,
    id: &str,
    given: Option<&str>,
) -> Result<String, ApiError> {
    let app = application_in(db, institution, id).await?;
    let next = transition(app.state, Command::Approve).map_err(|_| wrong_state(&app, "approval"))?;
    let replaces = if app.state == S::LostInTransit {
        store::certificates_of(db, &app.id).await?.into_iter().rev().find(|c| c.state == "lost").map(|c| c.id)
    } else {
        None
    };
    let txn = crate::persistence::begin(db).await?;
    let number = issue_certificate(&txn, officer, &app, given, replaces.as_deref()).await?;
    advance(&txn, officer, &app, next.to, Some(json!({"certificate_number": number, "replaces": replaces}))).await?;
    crate::persistence::commit(txn).await?;
    Ok(number)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShipmentView {
    pub carrier: String,
    pub tracking_number: String,
    pub certificate_number: String,
}

/// Books the courier for the issued certificate and tells the family the tracking number. The
/// booking is keyed by the certificate, so a retry after a failure does not book twice.
pub async fn ship(
    db: &Db,
    cipher: &PersonalDataCipher,
    courier: &dyn Courier,
    sender: &str,
    officer: &Actor,
    institution: &str,
    id: &str,
) -> Result<ShipmentView, ApiError> {
    let app = application_in(db, institution, id).await?;
    let next = transition(app.state, Command::Ship).map_err(|_| wrong_state(&app, "shipment"))?;
    let certificate = store::current_certificate(db, &app.id).await?.ok_or_else(|| wrong_state(&app, "shipment"))?;
    let address = store::delivery_address(db, &app.id).await?.ok_or_else(|| ApiError::Conflict {
        code: "no_address",
        message: "the application has no delivery address".into(),
    })?;
    let booked = courier
        .book(&Booking {
            order_ref: certificate.id.clone(),
            sender: sender.to_string(),
            recipient: Recipient {
                name: address.recipient.clone(),
                phone: open_phone(cipher, &address.phone, "recipient phone")?,
                region_code: address.region_code.clone(),
                address: address.address.clone(),
            },
            item: "出生医学证明".into(),
        })
        .await
        .map_err(|e| match e {
            CourierError::Transport(t) => ApiError::Upstream { service: "courier", source: anyhow::anyhow!(t) },
            CourierError::Refused(r) => ApiError::Upstream { service: "courier", source: anyhow::anyhow!(r) },
        })?;
    let txn = crate::persistence::begin(db).await?;
    store::insert_shipment(&txn, &app.id, &certificate.id, &booked.carrier, &booked.tracking_number).await?;
    advance(
        &txn,
        officer,
        &app,
        next.to,
        Some(json!({"carrier": booked.carrier, "tracking_number": booked.tracking_number})),
    )
    .await?;
    outbox::enqueue(
        &txn,
        &app.user_id,
        Some(&app.id),
        &Notification::Shipped {
            reference: masking::short_reference(&app.id),
            carrier: booked.carrier.clone(),
            tracking_number: booked.tracking_number.clone(),
        },
        &format!("shipped:{}", booked.tracking_number),
    )
    .await?;
    crate::persistence::commit(txn).await?;
    Ok(ShipmentView {
        carrier: booked.carrier,
        tracking_number: booked.tracking_number,
        certificate_number: certificate.number,
    })
}

/// A loss (from the courier, or reported to the officer): the certificate is lost, the
/// application waits for the reissue, the family is told.
async fn mark_lost(
    txn: &crate::persistence::Txn,
    actor: &Actor,
    app: &Application,
    certificate: &Certificate,
    loss_certificate_no: &str,
) -> Result<(), ApiError> {
    let next = transition(app.state, Command::ReportLost).map_err(|_| wrong_state(app, "a loss report"))?;
    if !store::move_certificate(txn, &certificate.id, &["issued"], "lost", Some(loss_certificate_no), None).await? {
        return Err(ApiError::Conflict {
            code: "certificate_state",
            message: format!("certificate {} is {}", certificate.number, certificate.state),
        });
    }
    advance(
        txn,
        actor,
        app,
        next.to,
        Some(json!({"certificate_number": certificate.number, "loss_certificate_no": loss_certificate_no})),
    )
    .await?;
    outbox::enqueue(
        txn,
        &app.user_id,
        Some(&app.id),
        &Notification::Reissuing {
            reference: masking::short_reference(&app.id),
            reason: "邮寄途中遗失，正在补发".into(),
        },
        &format!("reissuing:lost:{}", certificate.number),
    )
    .await?;
    Ok(())
}

fn valid_loss_no(loss: &str) -> Result<&str, ApiError> {
    let loss = loss.trim();
    if loss.is_empty() || loss.len() > 64 || !loss.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(ApiError::Validation {
            fields: vec![FieldError { field: "loss_certificate_no".into(), code: "required".into() }],
        });
    }
    Ok(loss)
}

async fn certificate_in(db: &Db, institution: &str, number: &str) -> Result<(Certificate, Application), ApiError> {
    let number = parse_number("number", number)?;
    let c = store::certificate_by_number(db, number.as_str())
        .await?
        .filter(|c| c.institution_code == institution)
        .ok_or(ApiError::NotFound("certificate"))?;
    let app = application_in(db, institution, &c.application_id).await?;
    Ok((c, app))
}

/// A loss reported outside the courier integration.
pub async fn report_loss(
    db: &Db,
    officer: &Actor,
    institution: &str,
    number: &str,
    loss_certificate_no: &str,
) -> Result<(), ApiError> {
    let loss = valid_loss_no(loss_certificate_no)?;
    let (certificate, app) = certificate_in(db, institution, number).await?;
    let txn = crate::persistence::begin(db).await?;
    mark_lost(&txn, officer, &app, &certificate, loss).await?;
    if let Some(s) = store::latest_shipment(&txn, &app.id).await? {
        store::set_shipment_status(&txn, &s.id, "lost", None).await?;
    }
    crate::persistence::commit(txn).await?;
    Ok(())
}

/// An issuer's error on a delivered certificate: it is voided and a new number issued at once
/// (registration data unchanged); the old one must come back (`recover`).
pub async fn void_and_reissue(
    db: &Db,
    officer: &Actor,
    institution: &str,
    number: &str,
    reason: &str,
) -> Result<String, ApiError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::Validation {
            fields: vec![FieldError { field: "reason".into(), code: "required".into() }],
        });
    }
    let (certificate, app) = certificate_in(db, institution, number).await?;
    let next = transition(app.state, Command::VoidAndReissue).map_err(|_| wrong_state(&app, "void and reissue"))?;
    let txn = crate::persistence::begin(db).await?;
    if !store::move_certificate(&txn, &certificate.id, &["delivered"], "voided", None, Some(reason)).await? {
        return Err(ApiError::Conflict {
            code: "certificate_state",
            message: format!("certificate {} is {}", certificate.number, certificate.state),
        });
    }
    // The parent hears why before hearing the new number.
    outbox::enqueue(
        &txn,
        &app.user_id,
        Some(&app.id),
        &Notification::Reissuing {
            reference: masking::short_reference(&app.id),
            reason: "证件信息有误，重新签发".into(),
        },
        &format!("reissuing:void:{}", certificate.number),
    )
    .await?;
    let new_number = issue_certificate(&txn, officer, &app, None, Some(&certificate.id)).await?;
    advance(
        &txn,
        officer,
        &app,
        next.to,
        Some(json!({"voided": certificate.number, "reason": reason, "certificate_number": new_number})),
    )
    .await?;
    crate::persistence::commit(txn).await?;
    Ok(new_number)
}

pub async fn recover(db: &Db, officer: &Actor, institution: &str, number: &str) -> Result<(), ApiError> {
    let (certificate, _app) = certificate_in(db, institution, number).await?;
    let txn = crate::persistence::begin(db).await?;
    if !store::move_certificate(&txn, &certificate.id, &["voided"], "recovered", None, None).await? {
        return Err(ApiError::Conflict {
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

// ---- courier events ------------------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CourierEvent {
    pub tracking_number: String,
    pub event: String,
    /// Unix seconds.
    pub at: i64,
    pub signed_by: Option<String>,
    pub loss_certificate_no: Option<String>,
}

/// Applies a verified courier event once → whether it was new.
pub async fn courier_event(db: &Db, event: &CourierEvent, raw: &str) -> Result<bool, ApiError> {
    if !matches!(event.event.as_str(), "picked_up" | "in_transit" | "delivered" | "lost") {
        return Err(ApiError::bad_request("unknown_event", format!("no courier event {:?}", event.event)));
    }
    let shipment =
        store::shipment_by_tracking(db, &event.tracking_number).await?.ok_or(ApiError::NotFound("shipment"))?;
    let loss = match event.event.as_str() {
        "lost" => Some(valid_loss_no(event.loss_certificate_no.as_deref().unwrap_or_default())?),
        _ => None,
    };
    let actor = Actor { kind: "courier", id: event.tracking_number.clone() };
    let txn = crate::persistence::begin(db).await?;
    if !store::record_courier_event(&txn, &event.tracking_number, &event.event, event.at, raw).await? {
        return Ok(false);
    }
    let app = applicant::application(&txn, &shipment.application_id).await?.ok_or(ApiError::NotFound("application"))?;
    match event.event.as_str() {
        "delivered" => {
            let next = transition(app.state, Command::Deliver).map_err(|_| wrong_state(&app, "delivery"))?;
            store::set_shipment_status(&txn, &shipment.id, "delivered", event.signed_by.as_deref()).await?;
            store::move_certificate(&txn, &shipment.certificate_id, &["issued"], "delivered", None, None).await?;
            advance(&txn, &actor, &app, next.to, Some(json!({"signed_by": event.signed_by}))).await?;
            outbox::enqueue(
                &txn,
                &app.user_id,
                Some(&app.id),
                &Notification::Delivered { reference: masking::short_reference(&app.id) },
                &format!("delivered:{}", event.tracking_number),
            )
            .await?;
        }
        "lost" => {
            let certificates = store::certificates_of(&txn, &app.id).await?;
            let certificate = certificates
                .iter()
                .find(|c| c.id == shipment.certificate_id)
                .ok_or(ApiError::NotFound("certificate"))?;
            store::set_shipment_status(&txn, &shipment.id, "lost", None).await?;
            mark_lost(&txn, &actor, &app, certificate, loss.unwrap_or_default()).await?;
        }
        other => {
            // Progress only: the application stays `shipped`.
            if shipment.status != "delivered" && shipment.status != "lost" {
                store::set_shipment_status(&txn, &shipment.id, other, None).await?;
            }
            audit::append(&txn, &actor, "courier_progress", "application", &app.id, json!({"event": other})).await?;
        }
    }
    crate::persistence::commit(txn).await?;
    Ok(true)
}

// ---- stats and the deadline watcher --------------------------------------------------------

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Stats {
    pub institution_code: String,
    pub per_state: std::collections::BTreeMap<String, i64>,
    pub deadlines_met: i64,
    pub deadlines_missed: i64,
    pub overdue_now: i64,
    pub blank_stock: u64,
}

pub async fn stats(db: &Db, institution: &str) -> Result<Stats, ApiError> {
    let per_state = store::counts_per_state(db, institution).await?.into_iter().collect();
    let d = store::deadline_counts(db, institution, Utc::now()).await?;
    Ok(Stats {
        institution_code: institution.to_string(),
        per_state,
        deadlines_met: d.met,
        deadlines_missed: d.missed,
        overdue_now: d.overdue_open,
        blank_stock: store::blank_count(db, institution).await?,
    })
}
