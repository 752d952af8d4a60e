//! The parent's side of the application (issue 4): binding the health card, choosing the
//! delivery record, entering parents with the eligibility rules, withdrawing, and the view of
//! where things stand. Routes call these; these call the domain rules and persistence and keep
//! each state change and its timeline entry in one transaction.

use serde::Serialize;

use crate::clients::health_card::{HealthCardError, HealthCardPlatform};
use crate::crypto::{Field, PersonalDataCipher};
use crate::domain::application::{transition, Command};
use crate::domain::eligibility::{self, DeclaredParent, Facts, IdDocument, IdType, Reason};
use crate::domain::masking;
use crate::domain::resident_id::ResidentId;
use crate::error::{ApiError, FieldError};
use crate::persistence::applicant::{self, Application, CreateError, ParentRecord, StoredNumber};
use crate::persistence::audit::Actor;
use crate::persistence::{institutions, Db, PersistenceError};

pub fn store_number(cipher: &PersonalDataCipher, field: Field, value: &str) -> StoredNumber {
    let masked = match field {
        Field::IdNumber => masking::mask_id_number(value),
        Field::Phone => masking::mask_phone(value),
    };
    StoredNumber { sealed: cipher.seal(field, value), bidx: cipher.blind_index(field, value), masked }
}

/// 409 `wrong_state` with the application's current state in the body.
pub(crate) fn wrong_state(app: &Application, action: &str) -> ApiError {
    ApiError::WrongState {
        state: app.state.as_str(),
        message: format!("{action} is not possible while the application is {}: {}", app.state, app.state.describe()),
    }
}

/// Someone else moved the application between our read and our write.
pub(crate) fn changed_meanwhile() -> ApiError {
    ApiError::Conflict { code: "wrong_state", message: "the application changed meanwhile; reload it".into() }
}

/// Moves the application (audited, in the caller's transaction), or answers 409 when a
/// concurrent request moved it first.
pub(crate) async fn advance(
    txn: &crate::persistence::Txn,
    actor: &Actor,
    app: &Application,
    to: crate::domain::application_state::ApplicationState,
    detail: Option<serde_json::Value>,
) -> Result<(), ApiError> {
    if applicant::move_state(txn, actor, &app.id, app.state, to, detail).await? {
        Ok(())
    } else {
        Err(changed_meanwhile())
    }
}

/// The review deadline for an application submitted now at this institution: close of
/// business of its office hours (17:30 when unknown) on the second working day after today.
pub(crate) async fn review_deadline(
    db: &Db,
    calendar: &crate::domain::Calendar,
    institution_code: &str,
) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    let close = match institutions::get(db, institution_code).await? {
        Some(i) => i.office_hours.close_of_business(),
        None => chrono::NaiveTime::from_hms_opt(17, 30, 0).unwrap_or_default(),
    };
    let deadline = calendar.review_due_at(chrono::Utc::now(), close);
    if !deadline.uncovered_years.is_empty() {
        tracing::warn!(years = ?deadline.uncovered_years, "review deadline computed through years without holiday data");
    }
    Ok(deadline.due_at)
}

/// Binds the mother's electronic health card from a one-time health code.
pub async fn bind_health_card(
    db: &Db,
    cipher: &PersonalDataCipher,
    platform: &dyn HealthCardPlatform,
    user_id: &str,
    health_code: &str,
) -> Result<(applicant::HealthCard, bool), ApiError> {
    let card = platform.card_by_health_code(health_code).await.map_err(|e| match e {
        HealthCardError::UnknownCode => ApiError::Unprocessable {
            code: "invalid_health_code",
            message: "the health code is unknown, used or expired; open the health card again".into(),
        },
        HealthCardError::Upstream(reason) => {
            ApiError::Upstream { service: "health-card platform", source: anyhow::anyhow!(reason) }
        }
    })?;
    let id = ResidentId::parse(&card.id_number).map_err(|_| ApiError::Unprocessable {
        code: "health_card_not_resident_id",
        message: "the health card does not carry a mainland resident ID; apply on site".into(),
    })?;
    let id_number = store_number(cipher, Field::IdNumber, id.as_str());
    let phone = card.phone.as_deref().filter(|p| !p.is_empty()).map(|p| store_number(cipher, Field::Phone, p));
    Ok(applicant::bind_health_card(db, user_id, &card.name, &id_number, phone.as_ref()).await?)
}

pub async fn create_application(
    db: &Db,
    user_id: &str,
    delivery_id: &str,
    health_card_id: &str,
    claimant_relation: &str,
) -> Result<Application, ApiError> {
    if !matches!(claimant_relation, "mother" | "father") {
        return Err(ApiError::Validation {
            fields: vec![FieldError { field: "claimant_relation".into(), code: "one_of_mother_father".into() }],
        });
    }
    let card = applicant::health_card(db, user_id, health_card_id).await?.ok_or(ApiError::NotFound("health card"))?;
    let delivery = applicant::delivery(db, delivery_id).await?.ok_or(ApiError::NotFound("delivery record"))?;
    // A delivery record is reachable only through the mother's card.
    if delivery.record.mother_id_number.bidx != card.id_number.bidx {
        return Err(ApiError::NotFound("delivery record"));
    }
    if applicant::certificate_exists_for_delivery(db, &delivery.id).await? {
        return Err(ApiError::Unprocessable {
            code: "not_first_issuance",
            message: Reason::NotFirstIssuance.message().into(),
        });
    }
    match applicant::create_application(db, user_id, &delivery, &card.id, claimant_relation).await {
        Ok(app) => Ok(app),
        Err(CreateError::LiveApplicationExists) => {
            Err(ApiError::Conflict { code: "application_exists", message: Reason::ApplicationExists.message().into() })
        }
        Err(CreateError::Other(e)) => Err(e.into()),
    }
}

/// One parent as the mini-program sends it.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct ParentInput {
    pub name: String,
    pub id_type: String,
    pub id_number: String,
    pub nationality: String,
    pub ethnicity: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct ParentsInput {
    pub mother: Option<ParentInput>,
    pub father: Option<ParentInput>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReasonView {
    pub code: &'static str,
    pub message: &'static str,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EligibilityView {
    pub eligible: bool,
    pub reasons: Vec<ReasonView>,
}

fn validate_parent(role: &str, p: &ParentInput, fields: &mut Vec<FieldError>) -> Option<IdDocument> {
    let mut bad =
        |field: &str, code: &str| fields.push(FieldError { field: format!("{role}.{field}"), code: code.into() });
    let name = p.name.trim();
    if name.is_empty() || name.chars().count() > 50 {
        bad("name", "required");
    }
    if p.nationality.trim().is_empty() {
        bad("nationality", "required");
    }
    if p.ethnicity.trim().is_empty() {
        bad("ethnicity", "required");
    }
    if let Some(phone) = &p.phone {
        let digits = phone.trim();
        if !(digits.len() == 11 && digits.starts_with('1') && digits.chars().all(|c| c.is_ascii_digit())) {
            bad("phone", "format");
        }
    }
    let Some(id_type) = IdType::parse(&p.id_type) else {
        bad("id_type", "unknown");
        return None;
    };
    match IdDocument::parse(id_type, &p.id_number) {
        Ok(doc) => Some(doc),
        Err(e) => {
            bad("id_number", e.code());
            None
        }
    }
}

/// Saves both parents and applies the eligibility rules. Invalid input changes nothing (422);
/// a failed rule moves the application to `ineligible` with every reason recorded.
pub async fn enter_parents(
    db: &Db,
    cipher: &PersonalDataCipher,
    user_id: &str,
    application_id: &str,
    input: &ParentsInput,
) -> Result<(EligibilityView, Application), ApiError> {
    let app = applicant::application_of(db, user_id, application_id).await?.ok_or(ApiError::NotFound("application"))?;
    let mut fields = Vec::new();
    let mother = input.mother.as_ref().map(|p| (p, validate_parent("mother", p, &mut fields)));
    let father = input.father.as_ref().map(|p| (p, validate_parent("father", p, &mut fields)));
    if !fields.is_empty() {
        return Err(ApiError::Validation { fields });
    }
    // Check the transition before looking further, so out-of-order calls get 409.
    transition(app.state, Command::EnterParents { eligible: true })
        .map_err(|_| wrong_state(&app, "entering parents"))?;

    let delivery = applicant::delivery(db, &app.delivery_id).await?.ok_or(ApiError::NotFound("delivery record"))?;
    let recorded_mother_id = cipher
        .open(Field::IdNumber, &delivery.record.mother_id_number.sealed)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("delivery record {}: {e}", delivery.id)))?;
    // Independent reads at once: this is the slowest step of the journey.
    let (institution, certificate_exists, other_live_application) = tokio::try_join!(
        institutions::get(db, &delivery.record.institution_code),
        applicant::certificate_exists_for_delivery(db, &delivery.id),
        applicant::other_live_application(db, &delivery.id, &app.id),
    )?;
    let declared = |p: &Option<(&ParentInput, Option<IdDocument>)>| {
        p.as_ref().and_then(|(input, doc)| {
            doc.clone().map(|document| DeclaredParent { name: input.name.trim().to_string(), document })
        })
    };
    let facts = Facts {
        certificate_exists,
        other_live_application,
        institution_eligible_online: institution.as_ref().is_some_and(|i| i.births_eligible_online()),
        mother: declared(&mother),
        father: declared(&father),
        recorded_mother_name: delivery.record.mother_name.clone(),
        recorded_mother_id,
        face_attempts_exhausted: false,
    };
    let reasons = eligibility::check(&facts);
    let eligible = reasons.is_empty();
    let next =
        transition(app.state, Command::EnterParents { eligible }).map_err(|_| wrong_state(&app, "entering parents"))?;

    let records: Vec<ParentRecord> = [("mother", &mother), ("father", &father)]
        .into_iter()
        .filter_map(|(role, p)| {
            let (input, doc) = p.as_ref()?;
            let doc = doc.as_ref()?;
            Some(ParentRecord {
                role: role.to_string(),
                name: input.name.trim().to_string(),
                id_type: doc.id_type.as_str().to_string(),
                id_number: store_number(cipher, Field::IdNumber, &doc.number),
                nationality: input.nationality.trim().to_string(),
                ethnicity: input.ethnicity.trim().to_string(),
                phone: input.phone.as_deref().map(|ph| store_number(cipher, Field::Phone, ph.trim())),
                address: input.address.clone(),
            })
        })
        .collect();
    let codes: Vec<&str> = reasons.iter().map(|r| r.code()).collect();
    let txn = crate::persistence::begin(db).await?;
    applicant::save_parents(&txn, &app.id, &records).await?;
    applicant::set_eligibility_reasons(&txn, &app.id, &codes).await?;
    let detail = serde_json::json!({ "eligible": eligible, "reasons": codes });
    if next.to == app.state {
        applicant::add_event(&txn, &app.id, "parents_updated", Some(app.state), Some(next.to), Some(detail)).await?;
    } else {
        advance(&txn, &Actor::applicant(&app.user_id), &app, next.to, Some(detail)).await?;
    }
    crate::persistence::commit(txn).await?;
    let app = applicant::application(db, &app.id).await?.ok_or(ApiError::NotFound("application"))?;
    let view = EligibilityView {
        eligible,
        reasons: reasons.iter().map(|r| ReasonView { code: r.code(), message: r.message() }).collect(),
    };
    Ok((view, app))
}

pub async fn withdraw(db: &Db, user_id: &str, application_id: &str) -> Result<Application, ApiError> {
    let app = applicant::application_of(db, user_id, application_id).await?.ok_or(ApiError::NotFound("application"))?;
    let next = transition(app.state, Command::Withdraw).map_err(|_| wrong_state(&app, "withdrawal"))?;
    let txn = crate::persistence::begin(db).await?;
    advance(&txn, &Actor::applicant(user_id), &app, next.to, None).await?;
    crate::persistence::commit(txn).await?;
    applicant::application(db, &app.id).await?.ok_or(ApiError::NotFound("application"))
}

// ---- identity and documents -------------------------------------------------------------

use crate::blobs::{BlobError, BlobStore, StoredBlob, MAX_IMAGE_BYTES};
use crate::clients::face::{FaceOutcome, FaceVerifier};
use crate::kv::KvStore;
use crate::persistence::{identity, users};

/// Failed face attempts per parent before online eligibility ends.
pub const MAX_FACE_FAILURES: u64 = 3;
/// Face sessions a user may start per hour (each costs a platform call and the family's time).
pub const FACE_SESSIONS_PER_HOUR: i64 = 20;

pub const DOCUMENT_KINDS: [&str; 4] = ["mother_id_front", "mother_id_back", "father_id_front", "father_id_back"];

fn parse_role(role: &str) -> Result<&'static str, ApiError> {
    match role {
        "mother" => Ok("mother"),
        "father" => Ok("father"),
        _ => Err(ApiError::NotFound("parent")),
    }
}

fn upstream(e: crate::clients::wechat::WechatError) -> ApiError {
    ApiError::Upstream { service: "WeChat face verification", source: e.into() }
}

/// The declared parent's name and ID number, opened for the provider.
async fn declared(
    db: &Db,
    cipher: &PersonalDataCipher,
    app: &Application,
    role: &str,
) -> Result<(String, String), ApiError> {
    let parent = applicant::parents(db, &app.id)
        .await?
        .into_iter()
        .find(|p| p.role == role)
        .ok_or_else(|| wrong_state(app, "face verification before the parents are entered"))?;
    let id = cipher
        .open(Field::IdNumber, &parent.id_number.sealed)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("parent id of {}: {e}", app.id)))?;
    Ok((parent.name, id))
}

pub struct FaceSessionView {
    pub verify_id: String,
    pub expires_in: u64,
}

#[allow(clippy::too_many_arguments)]
pub async fn start_face_session(
    db: &Db,
    kv: &dyn KvStore,
    cipher: &PersonalDataCipher,
    face: &dyn FaceVerifier,
    user_id: &str,
    application_id: &str,
    role: &str,
) -> Result<FaceSessionView, ApiError> {
    let role = parse_role(role)?;
    let app = applicant::application_of(db, user_id, application_id).await?.ok_or(ApiError::NotFound("application"))?;
    if app.state != crate::domain::application_state::ApplicationState::ParentsEntered {
        return Err(wrong_state(&app, "face verification"));
    }
    if identity::passed(db, &app.id, role).await? {
        return Err(ApiError::Conflict {
            code: "already_verified",
            message: format!("the {role} is already verified"),
        });
    }
    if identity::failed_faces(db, &app.id, role).await? >= MAX_FACE_FAILURES {
        return Err(ApiError::Unprocessable {
            code: "face_attempts_exhausted",
            message: Reason::FaceAttemptsExhausted.message().into(),
        });
    }
    let count = kv.increment(&format!("ratelimit:face:{user_id}"), std::time::Duration::from_secs(3600)).await?;
    if count > FACE_SESSIONS_PER_HOUR {
        return Err(ApiError::RateLimited);
    }
    let (name, id_number) = declared(db, cipher, &app, role).await?;
    let openid = users::external_id(db, user_id, users::MINI_PROGRAM)
        .await?
        .ok_or(ApiError::NotFound("mini-program identity"))?;
    let row_id = crate::persistence::new_id();
    let out_seq_no = row_id.replace('-', "");
    let session = face.start(&out_seq_no, &name, &id_number, &openid).await.map_err(upstream)?;
    identity::start_face(db, &row_id, &app.id, role, &session.verify_id).await?;
    Ok(FaceSessionView { verify_id: session.verify_id, expires_in: session.expires_in })
}

/// Queries the provider's verdict. A pass may complete the identity step; the third failure
/// of a parent ends online eligibility.
#[allow(clippy::too_many_arguments)]
pub async fn face_result(
    db: &Db,
    cipher: &PersonalDataCipher,
    face: &dyn FaceVerifier,
    user_id: &str,
    application_id: &str,
    role: &str,
    verify_id: &str,
) -> Result<bool, ApiError> {
    let role = parse_role(role)?;
    let app = applicant::application_of(db, user_id, application_id).await?.ok_or(ApiError::NotFound("application"))?;
    let session =
        identity::pending_face(db, &app.id, role, verify_id).await?.ok_or(ApiError::NotFound("face session"))?;
    let (name, id_number) = declared(db, cipher, &app, role).await?;
    let openid = users::external_id(db, user_id, users::MINI_PROGRAM)
        .await?
        .ok_or(ApiError::NotFound("mini-program identity"))?;
    let out_seq_no = session.id.replace('-', "");
    let outcome = face.result(verify_id, &out_seq_no, &name, &id_number, &openid).await.map_err(upstream)?;
    let (passed, code) = match outcome {
        FaceOutcome::Passed => (true, 10000),
        FaceOutcome::Failed { code } => (false, code),
    };
    let txn = crate::persistence::begin(db).await?;
    if !identity::finish(&txn, &session.id, passed, Some(code)).await? {
        return Err(ApiError::Conflict {
            code: "already_answered",
            message: "this face session already has a result".into(),
        });
    }
    if !passed {
        let failures = identity::failed_faces(&txn, &app.id, role).await?;
        if failures >= MAX_FACE_FAILURES {
            applicant::set_eligibility_reasons(&txn, &app.id, &[Reason::FaceAttemptsExhausted.code()]).await?;
            applicant::move_state(
                &txn,
                &Actor::applicant(&app.user_id),
                &app.id,
                app.state,
                crate::domain::application_state::ApplicationState::Ineligible,
                Some(serde_json::json!({"reasons": [Reason::FaceAttemptsExhausted.code()]})),
            )
            .await?;
            crate::persistence::commit(txn).await?;
            return Err(ApiError::Unprocessable {
                code: "face_attempts_exhausted",
                message: Reason::FaceAttemptsExhausted.message().into(),
            });
        }
        crate::persistence::commit(txn).await?;
        return Err(ApiError::Unprocessable {
            code: "face_verification_failed",
            message: format!(
                "人脸识别未通过，还可尝试{}次；请在光线充足处正对镜头重试。",
                MAX_FACE_FAILURES - failures
            ),
        });
    }
    complete_identity_if_done(&txn, &app).await?;
    crate::persistence::commit(txn).await?;
    Ok(true)
}

async fn complete_identity_if_done(txn: &crate::persistence::Txn, app: &Application) -> Result<(), ApiError> {
    if identity::passed(txn, &app.id, "mother").await? && identity::passed(txn, &app.id, "father").await? {
        let next =
            transition(app.state, Command::CompleteIdentity).map_err(|_| wrong_state(app, "completing identity"))?;
        applicant::move_state(txn, &Actor::applicant(&app.user_id), &app.id, app.state, next.to, None).await?;
    }
    Ok(())
}

fn blob_error(e: BlobError) -> ApiError {
    match e {
        BlobError::TooLarge => ApiError::PayloadTooLarge,
        BlobError::NotAnImage => ApiError::UnsupportedMediaType("upload a JPEG or PNG image".into()),
        BlobError::Empty => ApiError::bad_request("empty_file", "the file is empty"),
        BlobError::Io(e) => ApiError::internal(e),
    }
}

pub async fn store_image<S, E>(blobs: &BlobStore, chunks: S) -> Result<StoredBlob, ApiError>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    blobs.store_image(chunks, MAX_IMAGE_BYTES).await.map_err(blob_error)
}

/// What an upload is for; checked before the body is read, so a refused upload stores nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upload {
    HandheldPhoto,
    Document,
    Signature,
}

pub async fn check_upload_allowed(
    db: &Db,
    user_id: &str,
    application_id: &str,
    upload: Upload,
) -> Result<(), ApiError> {
    use crate::domain::application_state::ApplicationState as S;
    let app = applicant::application_of(db, user_id, application_id).await?.ok_or(ApiError::NotFound("application"))?;
    match upload {
        Upload::HandheldPhoto => {
            if app.state != S::ParentsEntered {
                return Err(wrong_state(&app, "a hand-held photo"));
            }
            if !identity::passed(db, &app.id, "mother").await? {
                return Err(ApiError::Conflict {
                    code: "mother_not_verified",
                    message: "the mother must pass face verification first".into(),
                });
            }
        }
        Upload::Document => {
            if !matches!(app.state, S::IdentityVerified | S::DocumentsUploaded | S::Returned) {
                return Err(wrong_state(&app, "uploading documents"));
            }
        }
        Upload::Signature => {
            transition(app.state, Command::Sign).map_err(|_| wrong_state(&app, "signing"))?;
        }
    }
    Ok(())
}

/// The father's hand-held ID photo, the alternative to his face verification once the mother
/// passed hers.
pub async fn handheld_photo(db: &Db, user_id: &str, application_id: &str, blob: &StoredBlob) -> Result<(), ApiError> {
    let app = applicant::application_of(db, user_id, application_id).await?.ok_or(ApiError::NotFound("application"))?;
    if app.state != crate::domain::application_state::ApplicationState::ParentsEntered {
        return Err(wrong_state(&app, "a hand-held photo"));
    }
    if !identity::passed(db, &app.id, "mother").await? {
        return Err(ApiError::Conflict {
            code: "mother_not_verified",
            message: "the mother must pass face verification first".into(),
        });
    }
    let txn = crate::persistence::begin(db).await?;
    identity::record_handheld_photo(&txn, &app.id, &blob.sha256).await?;
    complete_identity_if_done(&txn, &app).await?;
    crate::persistence::commit(txn).await?;
    Ok(())
}

/// Stores one of the four ID images; the fourth completes the documents step. Re-uploads
/// replace the current image until the form is confirmed, and after a return.
pub async fn put_document(
    db: &Db,
    user_id: &str,
    application_id: &str,
    kind: &str,
    blob: &StoredBlob,
) -> Result<(), ApiError> {
    use crate::domain::application_state::ApplicationState as S;
    if !DOCUMENT_KINDS.contains(&kind) {
        return Err(ApiError::NotFound("document kind"));
    }
    let app = applicant::application_of(db, user_id, application_id).await?.ok_or(ApiError::NotFound("application"))?;
    if !matches!(app.state, S::IdentityVerified | S::DocumentsUploaded | S::Returned) {
        return Err(wrong_state(&app, "uploading documents"));
    }
    let txn = crate::persistence::begin(db).await?;
    identity::put_document(
        &txn,
        &app.id,
        kind,
        &blob.sha256,
        i64::try_from(blob.size).unwrap_or(i64::MAX),
        blob.image_type.mime(),
    )
    .await?;
    applicant::add_event(&txn, &app.id, "document_uploaded", None, None, Some(serde_json::json!({"kind": kind})))
        .await?;
    if app.state == S::IdentityVerified {
        let current = identity::current_documents(&txn, &app.id).await?;
        if DOCUMENT_KINDS.iter().all(|k| current.iter().any(|d| d.kind == *k)) {
            let next = transition(app.state, Command::CompleteDocuments)
                .map_err(|_| wrong_state(&app, "completing documents"))?;
            applicant::move_state(&txn, &Actor::applicant(&app.user_id), &app.id, app.state, next.to, None).await?;
        }
    }
    crate::persistence::commit(txn).await?;
    Ok(())
}

// ---- registration form, confirmation, signature, address --------------------------------

use crate::domain::names::NewbornName;
use crate::domain::registration_form::{age_on, format_birth_time, FormParent, RegistrationForm};
use crate::persistence::form;

/// The form as it stands (or as frozen, once confirmed), with full ID numbers; callers that
/// show it to the applicant mask it.
pub async fn registration_form(
    db: &Db,
    cipher: &PersonalDataCipher,
    app: &Application,
) -> Result<RegistrationForm, ApiError> {
    if let Some((snapshot, _)) = form::frozen(db, &app.id).await? {
        return serde_json::from_str(&snapshot)
            .map_err(|e| ApiError::internal(anyhow::anyhow!("frozen form of {}: {e}", app.id)));
    }
    let delivery = applicant::delivery(db, &app.delivery_id).await?.ok_or(ApiError::NotFound("delivery record"))?;
    let institution =
        institutions::get(db, &delivery.record.institution_code).await?.ok_or(ApiError::NotFound("institution"))?;
    let parents = applicant::parents(db, &app.id).await?;
    let birth_date = crate::domain::working_days::to_china(delivery.record.birth_at).date_naive();
    let form_parent = |role: &str| -> Result<FormParent, ApiError> {
        let p = parents
            .iter()
            .find(|p| p.role == role)
            .ok_or_else(|| wrong_state(app, "the registration form before the parents are entered"))?;
        let id_number = cipher
            .open(Field::IdNumber, &p.id_number.sealed)
            .map_err(|e| ApiError::internal(anyhow::anyhow!("parent id of {}: {e}", app.id)))?;
        let age = ResidentId::parse(&id_number).ok().and_then(|id| age_on(id.birth_date(), birth_date));
        Ok(FormParent {
            name: p.name.clone(),
            age,
            nationality: p.nationality.clone(),
            ethnicity: p.ethnicity.clone(),
            id_type: p.id_type.clone(),
            id_number,
        })
    };
    Ok(RegistrationForm {
        newborn_name: app.newborn_name.clone(),
        baby_sex: delivery.record.baby_sex.clone(),
        birth_at: format_birth_time(delivery.record.birth_at),
        birth_place: delivery.record.birth_place.clone(),
        gestational_weeks: delivery.record.gestational_weeks,
        length_cm: delivery.record.length_cm,
        weight_g: delivery.record.weight_g,
        health_status: delivery.record.health_status.clone(),
        mother: form_parent("mother")?,
        father: form_parent("father")?,
        midwife_name: delivery.record.midwife_name.clone(),
        midwifery_institution: institution.name.clone(),
        issuing_institution: institution.name,
    })
}

#[derive(Debug, Clone, serde::Deserialize, Serialize, utoipa::ToSchema)]
pub struct ModificationItem {
    pub field: String,
    pub requested: String,
    pub reason: String,
}

pub async fn request_modification(
    db: &Db,
    user_id: &str,
    application_id: &str,
    items: &[ModificationItem],
) -> Result<String, ApiError> {
    let mut fields = Vec::new();
    if items.is_empty() {
        fields.push(FieldError { field: "items".into(), code: "required".into() });
    }
    for (i, item) in items.iter().enumerate() {
        if !crate::domain::delivery::MODIFIABLE_FIELDS.contains(&item.field.as_str()) {
            fields.push(FieldError { field: format!("items[{i}].field"), code: "not_modifiable".into() });
        }
        if item.requested.trim().is_empty() || item.requested.chars().count() > 200 {
            fields.push(FieldError { field: format!("items[{i}].requested"), code: "required".into() });
        }
        if item.reason.trim().is_empty() || item.reason.chars().count() > 500 {
            fields.push(FieldError { field: format!("items[{i}].reason"), code: "required".into() });
        }
    }
    if !fields.is_empty() {
        return Err(ApiError::Validation { fields });
    }
    let app = applicant::application_of(db, user_id, application_id).await?.ok_or(ApiError::NotFound("application"))?;
    let next =
        transition(app.state, Command::RequestModification).map_err(|_| wrong_state(&app, "a modification request"))?;
    let txn = crate::persistence::begin(db).await?;
    let id = form::add_modification_request(&txn, &app.id, &serde_json::to_value(items).unwrap_or_default()).await?;
    advance(
        &txn,
        &Actor::applicant(&app.user_id),
        &app,
        next.to,
        Some(serde_json::json!({"modification_request": id})),
    )
    .await?;
    crate::persistence::commit(txn).await?;
    Ok(id)
}

/// Confirms the form with the newborn's name and freezes it. A refused name leaves the
/// application where it was so another can be tried.
pub async fn confirm(
    db: &Db,
    cipher: &PersonalDataCipher,
    user_id: &str,
    application_id: &str,
    newborn_name: &str,
) -> Result<String, ApiError> {
    let app = applicant::application_of(db, user_id, application_id).await?.ok_or(ApiError::NotFound("application"))?;
    let next = transition(app.state, Command::Confirm).map_err(|_| wrong_state(&app, "confirmation"))?;
    let mut form = registration_form(db, cipher, &app).await?;
    let name = NewbornName::parse(newborn_name, &form.father.name, &form.mother.name).map_err(|e| {
        ApiError::Unprocessable {
            code: e.code(),
            message: match e {
                crate::domain::names::NameError::ThirdSurname => Reason::ThirdSurname.message().into(),
                crate::domain::names::NameError::InvalidName => Reason::InvalidName.message().into(),
            },
        }
    })?;
    form.newborn_name = Some(name.as_str().to_string());
    let digest = form.digest();
    let txn = crate::persistence::begin(db).await?;
    if !form::freeze(&txn, &app.id, name.as_str(), &form.canonical_json(), &digest).await?
        || !applicant::move_state(
            &txn,
            &Actor::applicant(&app.user_id),
            &app.id,
            app.state,
            next.to,
            Some(serde_json::json!({"form_digest": digest})),
        )
        .await?
    {
        return Err(ApiError::Conflict { code: "wrong_state", message: "the form is already confirmed".into() });
    }
    crate::persistence::commit(txn).await?;
    Ok(digest)
}

/// The mother's e-signature (a PNG), bound to the frozen form's digest.
pub async fn sign(
    db: &Db,
    user_id: &str,
    application_id: &str,
    image: &StoredBlob,
) -> Result<(chrono::DateTime<chrono::Utc>, String), ApiError> {
    let app = applicant::application_of(db, user_id, application_id).await?.ok_or(ApiError::NotFound("application"))?;
    let next = transition(app.state, Command::Sign).map_err(|_| wrong_state(&app, "signing"))?;
    let digest = app.form_digest.clone().ok_or_else(|| wrong_state(&app, "signing"))?;
    let txn = crate::persistence::begin(db).await?;
    let at = form::add_signature(&txn, &app.id, &digest, &image.sha256).await?;
    advance(&txn, &Actor::applicant(&app.user_id), &app, next.to, Some(serde_json::json!({"form_digest": digest})))
        .await?;
    crate::persistence::commit(txn).await?;
    Ok((at, digest))
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct AddressInput {
    pub recipient: String,
    pub phone: String,
    /// Six-digit GB/T 2260 region code of the destination.
    pub region_code: String,
    pub address: String,
}

/// Where to post the certificate; answers the courier fee. Changeable until payment.
pub async fn set_address(
    db: &Db,
    cipher: &PersonalDataCipher,
    fees: &crate::domain::courier_fee::FeeTable,
    user_id: &str,
    application_id: &str,
    input: &AddressInput,
) -> Result<i32, ApiError> {
    use crate::domain::application_state::ApplicationState as S;
    let mut fields = Vec::new();
    let phone = input.phone.trim();
    if input.recipient.trim().is_empty() || input.recipient.chars().count() > 50 {
        fields.push(FieldError { field: "recipient".into(), code: "required".into() });
    }
    if !(phone.len() == 11 && phone.starts_with('1') && phone.chars().all(|c| c.is_ascii_digit())) {
        fields.push(FieldError { field: "phone".into(), code: "format".into() });
    }
    if !crate::domain::courier_fee::is_region_code(input.region_code.trim()) {
        fields.push(FieldError { field: "region_code".into(), code: "format".into() });
    }
    if input.address.trim().chars().count() < 5 || input.address.chars().count() > 200 {
        fields.push(FieldError { field: "address".into(), code: "required".into() });
    }
    if !fields.is_empty() {
        return Err(ApiError::Validation { fields });
    }
    let app = applicant::application_of(db, user_id, application_id).await?.ok_or(ApiError::NotFound("application"))?;
    if !matches!(app.state, S::Signed | S::AwaitingPayment) {
        return Err(wrong_state(&app, "giving the address"));
    }
    let fee = fees.fee_for(input.region_code.trim());
    let stored = store_number(cipher, Field::Phone, phone);
    form::set_address(
        db,
        &app.id,
        input.recipient.trim(),
        &stored,
        input.region_code.trim(),
        input.address.trim(),
        fee,
    )
    .await?;
    applicant::add_event(db, &app.id, "address_given", None, None, Some(serde_json::json!({"courier_fee_fen": fee})))
        .await?;
    Ok(fee)
}

/// Consent from `wx.requestSubscribeMessage` for our notification templates; ids that are not
/// ours are refused rather than silently kept.
pub async fn record_subscriptions(
    db: &Db,
    templates: &crate::config::TemplateIds,
    user_id: &str,
    application_id: &str,
    accepted: &[String],
) -> Result<Vec<String>, ApiError> {
    use crate::domain::notification::NotificationEvent as E;
    applicant::application_of(db, user_id, application_id).await?.ok_or(ApiError::NotFound("application"))?;
    let ours: Vec<&str> =
        [E::Submitted, E::Returned, E::ModificationDecided, E::Issued, E::Shipped, E::Delivered, E::Reissuing]
            .into_iter()
            .map(|e| templates.for_event(e))
            .collect();
    let fields: Vec<FieldError> = accepted
        .iter()
        .enumerate()
        .filter(|(_, t)| !ours.contains(&t.as_str()))
        .map(|(i, _)| FieldError { field: format!("accepted_template_ids[{i}]"), code: "unknown_template".into() })
        .collect();
    if !fields.is_empty() {
        return Err(ApiError::Validation { fields });
    }
    for t in accepted {
        users::record_consent(db, user_id, t, "accept").await?;
    }
    applicant::add_event(
        db,
        application_id,
        "subscriptions_recorded",
        None,
        None,
        Some(serde_json::json!({"templates": accepted})),
    )
    .await?;
    Ok(accepted.to_vec())
}

// ---- payment ----------------------------------------------------------------------------

use crate::clients::pay::{JsapiOrder, PayClient, PayClientError};
use crate::wechat::pay::{decrypt_resource, PayError, PlatformKeys};

pub struct PaymentView {
    pub out_trade_no: String,
    pub amount_fen: i32,
    pub pay_params: serde_json::Value,
}

/// Places the courier-fee order and answers what `wx.requestPayment` needs. Asking again while
/// the order is open answers the same order.
pub async fn create_payment(
    db: &Db,
    pay: &PayClient,
    description: &str,
    notify_url: &str,
    user_id: &str,
    application_id: &str,
) -> Result<PaymentView, ApiError> {
    use crate::domain::application_state::ApplicationState as S;
    // Four independent reads at once (separate pool connections): the order is on the
    // family's critical path, in front of a platform round trip.
    let (app, fee, openid, existing) = tokio::try_join!(
        applicant::application_of(db, user_id, application_id),
        crate::persistence::form::courier_fee(db, application_id),
        users::external_id(db, user_id, users::MINI_PROGRAM),
        crate::persistence::payments::open_order(db, application_id),
    )?;
    let app = app.ok_or(ApiError::NotFound("application"))?;
    let openid = openid.ok_or(ApiError::NotFound("mini-program identity"))?;
    let (out_trade_no, amount, prepay_id) = match (app.state, existing) {
        (S::AwaitingPayment, Some(order)) => {
            (order.out_trade_no, order.amount_fen, order.prepay_id.unwrap_or_default())
        }
        (S::Signed, _) => {
            let amount = fee.ok_or_else(|| ApiError::Conflict {
                code: "address_missing",
                message: "give the delivery address first".into(),
            })?;
            let next = transition(app.state, Command::CreateOrder).map_err(|_| wrong_state(&app, "payment"))?;
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
                .map_err(|e| match e {
                    PayClientError::Refused { code, message } => {
                        ApiError::Upstream { service: "WeChat Pay", source: anyhow::anyhow!("{code}: {message}") }
                    }
                    PayClientError::Transport(t) => {
                        ApiError::Upstream { service: "WeChat Pay", source: anyhow::anyhow!(t) }
                    }
                })?;
            let txn = crate::persistence::begin(db).await?;
            crate::persistence::payments::create(&txn, &app.id, &out_trade_no, amount, &prepay_id).await?;
            advance(
                &txn,
                &Actor::applicant(&app.user_id),
                &app,
                next.to,
                Some(serde_json::json!({"out_trade_no": out_trade_no})),
            )
            .await?;
            crate::persistence::commit(txn).await?;
            (out_trade_no, amount, prepay_id)
        }
        _ => return Err(wrong_state(&app, "payment")),
    };
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let pay_params = pay.signer.pay_params(&pay.app_id, &prepay_id, chrono::Utc::now().timestamp(), &nonce);
    Ok(PaymentView { out_trade_no, amount_fen: amount, pay_params })
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
    Api(#[from] ApiError),
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
pub async fn settle_payment(
    db: &Db,
    keys: &PlatformKeys,
    api_v3_key: &[u8; 32],
    expected_app_id: &str,
    expected_mch_id: &str,
    calendar: &crate::domain::Calendar,
    headers: &NotifyHeaders<'_>,
    body: &str,
) -> Result<(), NotifyError> {
    use crate::domain::application_state::ApplicationState as S;
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
    let notice: serde_json::Value = serde_json::from_str(body).map_err(|_| reject("body is not JSON"))?;
    if notice["event_type"] != "TRANSACTION.SUCCESS" {
        // Other events (refunds, closures) are acknowledged and not acted on here.
        return Ok(());
    }
    let r = &notice["resource"];
    let plain = decrypt_resource(
        api_v3_key,
        r["nonce"].as_str().unwrap_or_default(),
        r["associated_data"].as_str().unwrap_or_default(),
        r["ciphertext"].as_str().unwrap_or_default(),
    )
    .map_err(|_| reject("resource does not decrypt"))?;
    let tx: serde_json::Value = serde_json::from_str(&plain).map_err(|_| reject("resource is not JSON"))?;
    if tx["appid"] != expected_app_id || tx["mchid"] != expected_mch_id {
        return Err(reject("appid or mchid is not ours"));
    }
    if tx["trade_state"] != "SUCCESS" {
        return Ok(());
    }
    let out_trade_no = tx["out_trade_no"].as_str().unwrap_or_default();
    let order = crate::persistence::payments::by_out_trade_no(db, out_trade_no)
        .await?
        .ok_or_else(|| reject("unknown out_trade_no"))?;
    if tx["amount"]["total"].as_i64() != Some(i64::from(order.amount_fen)) {
        return Err(reject("amount differs from the order"));
    }
    let app =
        applicant::application(db, &order.application_id).await?.ok_or_else(|| reject("order without application"))?;
    // Read before the transaction: a read on a second pooled connection while this one holds the
    // order's row lock would, under a burst of notifications, leave every pooled connection
    // waiting for another one. Only a payment that can still submit needs the deadline.
    let due_at = match app.state {
        S::AwaitingPayment => Some(review_deadline(db, calendar, &app.institution_code).await?),
        _ => None,
    };
    let txn = crate::persistence::begin(db).await?;
    let first =
        crate::persistence::payments::mark_paid(&txn, out_trade_no, tx["transaction_id"].as_str().unwrap_or_default())
            .await?;
    if let (true, Some(due_at)) = (first, due_at) {
        let next = transition(app.state, Command::PaymentSucceeded)
            .map_err(|_| NotifyError::Api(wrong_state(&app, "payment")))?;
        applicant::start_review_clock(&txn, &app.id, due_at).await?;
        let reference = masking::short_reference(&app.id);
        crate::persistence::outbox::enqueue(
            &txn,
            &app.user_id,
            Some(&app.id),
            &crate::domain::notification::Notification::Submitted { reference, review_due_at: due_at },
            &format!("submitted:{}:{out_trade_no}", app.id),
        )
        .await?;
        // Last before commit: the audited state change holds the audit chain's head.
        applicant::move_state(
            &txn,
            &Actor { kind: "payment", id: out_trade_no.to_string() },
            &app.id,
            app.state,
            next.to,
            Some(serde_json::json!({"out_trade_no": out_trade_no})),
        )
        .await?;
    }
    crate::persistence::commit(txn).await?;
    Ok(())
}
