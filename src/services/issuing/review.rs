//! The officer's review: the queue of the institution (earliest deadline first), the audited
//! reads of a case and its images, the return with reasons, and decisions on the families'
//! modification requests. Every read of personal data is audited here before it is returned.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::hospital::{input_of, record_of};
use super::{application_in, case_in, validation};
use crate::blobs::BlobStore;
use crate::crypto::{Field, PersonalDataCipher};
use crate::domain::application::{Command, DOCUMENT_KINDS, HANDHELD_PHOTO};
use crate::domain::application_state::ApplicationState as S;
use crate::domain::delivery;
use crate::domain::modification::ModificationState;
use crate::domain::paging::Page;
use crate::domain::working_days::to_china;
use crate::domain::LifeCycle;
use crate::persistence::applications::{self, Application, QueueFilter};
use crate::persistence::audit::{self, Actor};
use crate::persistence::certificates::{self, Certificate};
use crate::persistence::province::{self, Report};
use crate::persistence::{
    deliveries, documents, identity, modifications, parents, payments, shipments, signatures, Db,
};
use crate::services::lifecycle::{self, Facts, ModificationDecision, Returned};
use crate::services::{audit_read, open_frozen_form, open_number, FieldError, PersonalRead, ServiceError};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueueItem {
    pub id: String,
    pub state: String,
    pub review_due_at: Option<DateTime<chrono::FixedOffset>>,
    pub overdue: bool,
    /// Due today (China time) and not yet overdue: the day's work.
    pub due_today: bool,
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
    pub page: Option<u64>,
    pub per_page: Option<u64>,
}

#[tracing::instrument(skip_all)]
/// A page of the queue; the read is audited (nothing is returned before its entry is committed).
pub async fn queue(db: &Db, reader: &Actor, institution: &str, q: &QueueQuery) -> Result<QueuePage, ServiceError> {
    let states: Vec<&'static str> = match q.state.as_deref() {
        None => vec![S::Submitted.as_str()],
        Some(s) => {
            vec![S::parse(s)
                .ok_or_else(|| ServiceError::bad_request("unknown_state", format!("no state {s:?}")))?
                .as_str()]
        }
    };
    let Page { page, per_page } =
        Page::parse(q.page, q.per_page, 20).map_err(|e| ServiceError::bad_request("invalid_page", e.to_string()))?;
    let read = PersonalRead::Queue { institution, states: &states, overdue: q.overdue, page, per_page };
    let now = Utc::now();
    let filter = QueueFilter {
        institution,
        states: &states,
        overdue: q.overdue,
        now,
        offset: Page { page, per_page }.offset(),
        limit: per_page,
    };
    let listing = async {
        let (apps, total) = applications::queue(db, &filter).await?;
        Ok((queue_items(db, apps, now).await?, total))
    };
    // Read while the entry is appended; returned only once it is committed.
    let ((), (items, total)) = tokio::try_join!(audit_read(db, reader, read), listing)?;
    Ok(QueuePage { items, total, page, per_page })
}

/// Cases as a list shows them: state, deadline, the mother's name and the birth. A case waiting
/// for a modification decision shows that decision's deadline (2 working days) instead.
async fn queue_items(db: &Db, apps: Vec<Application>, now: DateTime<Utc>) -> Result<Vec<QueueItem>, ServiceError> {
    let ids: Vec<String> = apps.iter().map(|a| a.delivery_id.clone()).collect();
    let waiting: Vec<String> =
        apps.iter().filter(|a| a.state == S::ModificationRequested).map(|a| a.id.clone()).collect();
    let (deliveries, modification_due) =
        tokio::try_join!(deliveries::deliveries_by_ids(db, &ids), modifications::pending_due(db, &waiting))?;
    Ok(apps
        .into_iter()
        .map(|a| {
            let d = deliveries.iter().find(|d| d.id == a.delivery_id);
            let decision_due = modification_due.iter().find(|(id, _)| *id == a.id).map(|(_, due)| *due);
            let due_at = decision_due.or(a.review_due_at);
            let (overdue, due_today) = match decision_due {
                Some(due) => (due < now, crate::domain::working_days::falls_due_today(due, now)),
                None => (a.state.is_overdue(a.review_due_at, now), a.state.is_due_today(a.review_due_at, now)),
            };
            QueueItem {
                overdue,
                due_today,
                review_due_at: due_at.map(to_china),
                mother_name: d.map(|d| d.record.mother_name.clone()).unwrap_or_default(),
                birth_at: d.map(|d| to_china(d.record.birth_at)),
                state: a.state.as_str().to_string(),
                newborn_name: a.newborn_name,
                claimant_relation: a.claimant_relation,
                id: a.id,
            }
        })
        .collect())
}

/// At most this many cases answer a search: it finds one case, not a report.
const SEARCH_LIMIT: u64 = 50;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResult {
    /// How the term was read: `case_reference`, `name` or `code` (an ID, certificate or
    /// tracking number).
    pub read_as: &'static str,
    /// The institution's cases it matches, newest first (at most 50).
    pub items: Vec<QueueItem>,
}

/// The one search box: a parent's name, an ID number (through its blind index), a certificate
/// number, a tracking number or a case reference → the institution's matching cases. An
/// audited read (the kind of term is recorded, never the term: it may be an ID number).
#[tracing::instrument(skip_all)]
pub async fn search(
    db: &Db,
    cipher: &PersonalDataCipher,
    reader: &Actor,
    institution: &str,
    q: &str,
) -> Result<SearchResult, ServiceError> {
    use crate::domain::search::SearchTerm;
    use crate::persistence::search::{self, SearchKeys};
    let term = SearchTerm::parse(q).map_err(|e| ServiceError::bad_request("invalid_search", e.to_string()))?;
    audit_read(db, reader, PersonalRead::Search { institution, kind: term.kind() }).await?;
    let bidx;
    let keys = match &term {
        SearchTerm::CaseReference(id) => SearchKeys { case_reference: Some(id), ..SearchKeys::default() },
        SearchTerm::Name(name) => SearchKeys { name: Some(name), ..SearchKeys::default() },
        SearchTerm::Code(code) => {
            bidx = cipher.blind_index(Field::IdNumber, code);
            SearchKeys { id_number_bidx: Some(&bidx), number: Some(code), ..SearchKeys::default() }
        }
    };
    let apps = search::search(db, institution, &keys, SEARCH_LIMIT).await?;
    Ok(SearchResult { read_as: term.kind(), items: queue_items(db, apps, Utc::now()).await? })
}

/// Everything about one application, unmasked, for the officer. The read is audited: its entry
/// is appended while the case is read, and nothing is returned unless the entry is committed.
/// The case's rows are read at once (each keyed by the application's own ids), one statement
/// per table: the case page is what officers open all day.
#[tracing::instrument(skip_all, fields(application_id = %id))]
pub async fn detail(
    db: &Db,
    cipher: &PersonalDataCipher,
    officer: &Actor,
    institution: &str,
    id: &str,
) -> Result<Value, ServiceError> {
    let case = case_in(db, institution, id).await?;
    let app = &case.application;
    let reads = async {
        Ok(tokio::try_join!(
            deliveries::delivery(db, &app.delivery_id),
            parents::parents(db, &app.id),
            identity::results_of_current_parents(db, &app.id),
            documents::current_documents(db, &app.id),
            certificates::certificates_of(db, &app.id),
            shipments::latest_shipment(db, &app.id),
            applications::timeline(db, &app.id),
            signatures::signature_of(db, &app.id),
            payments::of_application(db, &app.id),
            province::of_case(db, &app.id, &app.delivery_id),
        )?)
    };
    let (
        (),
        (delivery, parents, verifications, documents, certificates, shipment, timeline, signature, payments, reports),
    ) = tokio::try_join!(audit_read(db, officer, PersonalRead::Application(&app.id)), reads)?;
    let delivery = delivery.ok_or(ServiceError::NotFound("delivery record"))?;
    let parents = parents
        .into_iter()
        .map(|p| {
            let phone = match &p.phone {
                Some(s) => Some(open_number(cipher, Field::Phone, &s.sealed, "parent phone")?),
                None => None,
            };
            // How this parent proved who they are (and, for a hand-held photo, whether it is reviewed).
            let identity = verifications.iter().find(|v| v.parent_role == p.role).map(|v| {
                json!({"method": v.method, "status": v.outcome,
                       "verified_at": to_china(v.finished_at.unwrap_or(v.created_at))})
            });
            Ok(json!({
                "role": p.role, "name": p.name, "id_type": p.id_type, "identity": identity,
                "id_number": open_number(cipher, Field::IdNumber, &p.id_number.sealed, "parent id")?,
                "nationality": p.nationality, "ethnicity": p.ethnicity, "phone": phone, "address": p.address,
            }))
        })
        .collect::<Result<Vec<Value>, ServiceError>>()?;
    let documents: Vec<Value> = documents
        .into_iter()
        .map(|d| json!({"kind": d.kind, "sha256": d.sha256, "size": d.size, "content_type": d.content_type}))
        .collect();
    let address = match &case.address {
        Some(a) => Some(json!({
            "recipient": a.recipient, "phone": open_number(cipher, Field::Phone, &a.phone, "recipient phone")?,
            "region_code": a.region_code, "address": a.address,
        })),
        None => None,
    };
    let certificates: Vec<Value> = certificates.iter().map(certificate_view).collect();
    let shipment = shipment.map(|s| {
        json!({"carrier": s.carrier, "tracking_number": s.tracking_number, "status": s.status.as_str(), "signed_by": s.signed_by})
    });
    let timeline: Vec<Value> = timeline
        .into_iter()
        .map(|e| json!({"kind": e.kind, "from": e.from_state, "to": e.to_state, "detail": e.detail, "at": to_china(e.at)}))
        .collect();
    let form = match &case.frozen_form {
        Some((stored, _)) => {
            Some(serde_json::to_value(open_frozen_form(cipher, &app.id, stored)?).map_err(ServiceError::internal)?)
        }
        None => None,
    };
    let signature = signature
        .map(|(sha, digest, at)| json!({"image_sha256": sha, "form_digest": digest, "signed_at": to_china(at)}));
    Ok(json!({
        "id": app.id,
        "state": app.state.as_str(),
        "institution_code": app.institution_code,
        "claimant_relation": app.claimant_relation,
        "review_due_at": app.review_due_at.map(to_china),
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
            "mother_id_number": open_number(cipher, Field::IdNumber, &delivery.record.mother_id_number.sealed, "delivery mother id")?,
            "baby_sex": delivery.record.baby_sex,
            "birth_at": to_china(delivery.record.birth_at),
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
        "payment": crate::services::applicant::payment::summary(payments),
        "province_report": province_report(&reports),
        "timeline": timeline,
    }))
}

/// What the provincial system has of the case: `status` is the worst of its reports (the
/// delivery record's, each issuance's, each void's) — `reported` when the province has them all,
/// `pending` while any waits, `rejected` when one was refused — and `reported_at` the latest
/// acknowledgement; `null` while there is nothing to report yet.
fn province_report(reports: &[Report]) -> Value {
    let states: Vec<_> = reports.iter().map(|r| r.state).collect();
    let Some(status) = crate::domain::province::overall(&states) else { return Value::Null };
    let items: Vec<Value> = reports
        .iter()
        .map(|r| {
            json!({"kind": r.kind.as_str(), "subject": r.subject, "status": r.state.as_str(),
                   "reported_at": r.reported_at.map(to_china), "attempts": r.attempts, "last_error": r.last_error})
        })
        .collect();
    json!({
        "status": status.as_str(),
        "reported_at": reports.iter().filter_map(|r| r.reported_at).max().map(to_china),
        "reports": items,
    })
}

/// The console's "show": the case's ID numbers and phones in full, recorded as such in the audit
/// log (the page masks them until asked).
pub async fn unmask(db: &Db, officer: &Actor, institution: &str, id: &str) -> Result<(), ServiceError> {
    let app = application_in(db, institution, id).await?;
    audit_read(db, officer, PersonalRead::Unmasked(&app.id)).await
}

pub fn certificate_view(c: &Certificate) -> Value {
    json!({
        "number": c.number, "state": c.state.as_str(), "issued_at": to_china(c.issued_at),
        "replaces_certificate_id": c.replaces_certificate_id, "loss_certificate_no": c.loss_certificate_no,
        "void_reason": c.void_reason, "recovered_at": c.recovered_at.map(to_china),
        "sealed_by": c.sealed_by, "sealed_at": c.sealed_at.map(to_china),
    })
}

/// One document image for the officer (audited) → (bytes, content type).
#[tracing::instrument(skip_all, fields(application_id = %id))]
pub async fn document(
    db: &Db,
    blobs: &BlobStore,
    officer: &Actor,
    institution: &str,
    id: &str,
    kind: &str,
) -> Result<(Vec<u8>, String), ServiceError> {
    let app = application_in(db, institution, id).await?;
    let doc = if kind == "signature" {
        signatures::signature_of(db, &app.id).await?.map(|(sha, _, _)| (sha, "image/png".to_string()))
    } else if kind == HANDHELD_PHOTO {
        // Its type is read from the image itself once loaded.
        identity::handheld_photo(db, &app.id).await?.map(|(sha, _)| (sha, String::new()))
    } else {
        documents::current_documents(db, &app.id)
            .await?
            .into_iter()
            .find(|d| d.kind == kind)
            .map(|d| (d.sha256, d.content_type))
    };
    let (sha, content_type) = doc.ok_or(ServiceError::NotFound("document"))?;
    audit_read(db, officer, PersonalRead::Document { application_id: &app.id, kind, sha256: &sha }).await?;
    let bytes = blobs
        .read(&sha)
        .await
        .map_err(|e| ServiceError::internal(anyhow::Error::new(e).context(format!("blob {sha}"))))?;
    let content_type = if content_type.is_empty() {
        crate::blobs::ImageType::sniff(&bytes).map_or("application/octet-stream", |t| t.mime()).to_string()
    } else {
        content_type
    };
    Ok((bytes, content_type))
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ReturnReason {
    pub code: String,
    pub message: String,
}

#[tracing::instrument(skip_all, fields(application_id = %id))]
pub async fn return_application(
    db: &Db,
    officer: &Actor,
    institution: &str,
    id: &str,
    reasons: &[ReturnReason],
    redo_documents: &[String],
) -> Result<Application, ServiceError> {
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
        if !DOCUMENT_KINDS.contains(&k.as_str()) && k != HANDHELD_PHOTO {
            fields.push(FieldError { field: format!("redo_documents[{i}]"), code: "unknown_kind".into() });
        }
    }
    if !fields.is_empty() {
        return Err(ServiceError::Validation { fields });
    }
    let app = application_in(db, institution, id).await?;
    lifecycle::check(&app, Command::Return, "a return")?;
    let refuses_handheld = redo_documents.iter().any(|k| k == HANDHELD_PHOTO);
    if refuses_handheld && identity::handheld_photo(db, &app.id).await?.is_none() {
        return Err(ServiceError::invalid("redo_documents", "no_handheld_photo"));
    }
    let reasons_json = serde_json::to_value(reasons).map_err(ServiceError::internal)?;
    let txn = crate::persistence::begin(db).await?;
    if refuses_handheld {
        identity::review_handheld(&txn, &app.id, false).await?;
    }
    let applied = lifecycle::apply(
        &txn,
        officer,
        &app,
        Command::Return,
        Facts {
            detail: Some(json!({"reasons": reasons_json, "redo_documents": redo_documents})),
            returned: Some(Returned {
                messages: reasons.iter().map(|r| r.message.clone()).collect(),
                reasons: reasons_json,
                redo_documents: redo_documents.to_vec(),
            }),
            ..Facts::default()
        },
    )
    .await?;
    crate::persistence::commit(txn).await?;
    Ok(applied.app)
}

/// The document kind of the courier's loss certificate, uploaded by the officer.
pub const LOSS_CERTIFICATE: &str = "loss_certificate";

/// The case's certificate that was lost on the way (lost, damaged or destroyed), with the
/// courier's loss certificate number; 409 `no_loss` when there is none.
pub async fn loss_to_document(db: &Db, institution: &str, id: &str) -> Result<(Application, String), ServiceError> {
    let app = application_in(db, institution, id).await?;
    certificates::certificates_of(db, &app.id)
        .await?
        .into_iter()
        .find(|c| c.state == crate::domain::certificate::CertificateState::Lost)
        .map(|c| (app, c.number))
        .ok_or(ServiceError::Conflict {
            code: "no_loss",
            message: "no certificate of this case was lost on its way; there is no loss certificate to keep".into(),
        })
}

/// Keeps the image of the courier's loss certificate with the case (audited; on the timeline).
#[tracing::instrument(skip_all, fields(application_id = %id))]
pub async fn put_loss_certificate(
    db: &Db,
    officer: &Actor,
    institution: &str,
    id: &str,
    blob: &crate::blobs::StoredBlob,
) -> Result<(), ServiceError> {
    let (app, number) = loss_to_document(db, institution, id).await?;
    let txn = crate::persistence::begin(db).await?;
    let size = i64::try_from(blob.size).unwrap_or(i64::MAX);
    documents::put_document(&txn, &app.id, LOSS_CERTIFICATE, &blob.sha256, size, blob.image_type.mime()).await?;
    let detail = json!({"kind": LOSS_CERTIFICATE, "certificate_number": number, "sha256": blob.sha256});
    crate::persistence::applications::add_event(&txn, &app.id, "document_uploaded", None, None, Some(detail.clone()))
        .await?;
    crate::persistence::audit::append(&txn, officer, "loss_certificate_uploaded", "application", &app.id, detail)
        .await?;
    crate::persistence::commit(txn).await?;
    Ok(())
}

/// Referral to the counter (a special situation the online path cannot handle): the case ends
/// `referred`, a paid fee is refunded (owed to WeChat Pay in the same transaction), and the
/// family is told where to go — the institution's name, address, phone and office hours.
#[tracing::instrument(skip_all, fields(application_id = %id))]
pub async fn refer(
    db: &Db,
    officer: &Actor,
    institution: &str,
    id: &str,
    reason: &str,
) -> Result<Application, ServiceError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ServiceError::Validation { fields: vec![FieldError::new("reason", "required")] });
    }
    let app = application_in(db, institution, id).await?;
    lifecycle::check(&app, Command::Refer, "a referral to the counter")?;
    let place = crate::persistence::institutions::get(db, &app.institution_code)
        .await?
        .ok_or(ServiceError::NotFound("institution"))?;
    let contact = format!(
        "{}{}，电话{}，工作日{}",
        place.name,
        place.office,
        place.phone,
        place.office_hours.display().join("、")
    );
    let txn = crate::persistence::begin(db).await?;
    let applied = lifecycle::apply(
        &txn,
        officer,
        &app,
        Command::Refer,
        Facts {
            detail: Some(json!({"reason": reason, "contact": contact})),
            referral: Some(lifecycle::Referral { reason: reason.to_string(), contact }),
            ..Facts::default()
        },
    )
    .await?;
    crate::persistence::commit(txn).await?;
    Ok(applied.app)
}

#[tracing::instrument(skip_all)]
pub async fn modification_requests(
    db: &Db,
    reader: &Actor,
    institution: &str,
    state: Option<&str>,
) -> Result<Vec<Value>, ServiceError> {
    let state = state
        .map(|s| {
            ModificationState::parse(s)
                .ok_or_else(|| ServiceError::bad_request("unknown_state", "state is pending, approved or rejected"))
        })
        .transpose()?;
    let read = PersonalRead::ModificationRequests { institution, state: state.map(|s| s.as_str()) };
    audit_read(db, reader, read).await?;
    let now = Utc::now();
    Ok(modifications::modification_requests(db, institution, state)
        .await?
        .into_iter()
        .map(|m| {
            let overdue = m.state == ModificationState::Pending && m.due_at.is_some_and(|due| due < now);
            json!({"id": m.id, "application_id": m.application_id, "items": m.items, "state": m.state.as_str(),
                   "decision_note": m.decision_note, "created_at": to_china(m.created_at),
                   "decided_at": m.decided_at.map(to_china), "due_at": m.due_at.map(to_china), "overdue": overdue})
        })
        .collect())
}

#[tracing::instrument(skip_all, fields(modification_request = %request_id))]
pub async fn decide_modification(
    db: &Db,
    cipher: &PersonalDataCipher,
    officer: &Actor,
    institution: &str,
    request_id: &str,
    approved: bool,
    note: &str,
) -> Result<Application, ServiceError> {
    let note = note.trim();
    if note.is_empty() || note.chars().count() > 500 {
        return Err(ServiceError::Validation {
            fields: vec![FieldError { field: "note".into(), code: "required".into() }],
        });
    }
    let request = modifications::modification_request(db, request_id)
        .await?
        .ok_or(ServiceError::NotFound("modification request"))?;
    let app = application_in(db, institution, &request.application_id)
        .await
        .map_err(|_| ServiceError::NotFound("modification request"))?;
    if !request.state.can_move_to(ModificationState::decided(approved)) {
        return Err(ServiceError::Conflict {
            code: "already_decided",
            message: "this request was already decided".into(),
        });
    }
    lifecycle::check(&app, Command::DecideModification { approved }, "a modification decision")?;
    let correction = if approved {
        let delivery =
            deliveries::delivery(db, &app.delivery_id).await?.ok_or(ServiceError::NotFound("delivery record"))?;
        let mother_id =
            open_number(cipher, Field::IdNumber, &delivery.record.mother_id_number.sealed, "delivery mother id")?;
        let corrections =
            request.items.as_array().into_iter().flatten().map(|item| {
                (item["field"].as_str().unwrap_or_default(), item["requested"].as_str().unwrap_or_default())
            });
        let input = delivery::apply_corrections(&input_of(&delivery.record, &mother_id), corrections).map_err(|field| {
            ServiceError::Unprocessable {
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
    if !modifications::decide_modification(&txn, request_id, approved, note, &officer.id).await? {
        return Err(ServiceError::Conflict {
            code: "already_decided",
            message: "this request was already decided".into(),
        });
    }
    if let Some((delivery_id, record)) = &correction {
        deliveries::update_delivery(&txn, delivery_id, record).await?;
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
    let applied = lifecycle::apply(
        &txn,
        officer,
        &app,
        Command::DecideModification { approved },
        Facts {
            detail: Some(json!({"modification_request": request_id, "approved": approved, "note": note})),
            modification: Some(ModificationDecision { approved, note: note.to_string() }),
            ..Facts::default()
        },
    )
    .await?;
    crate::persistence::commit(txn).await?;
    Ok(applied.app)
}
