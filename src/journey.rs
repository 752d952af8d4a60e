//! The parent's side of the application (issue 4): binding the health card, choosing the
//! delivery record, entering parents with the eligibility rules, withdrawing, and the view of
//! where things stand. Routes call these; these call the domain rules and persistence and keep
//! each state change and its timeline entry in one transaction.

use sea_orm::TransactionTrait;
use serde::Serialize;

use crate::clients::health_card::{HealthCardError, HealthCardPlatform};
use crate::crypto::{Field, PersonalDataCipher};
use crate::domain::application::{transition, Command};
use crate::domain::eligibility::{self, DeclaredParent, Facts, IdDocument, IdType, Reason};
use crate::domain::masking;
use crate::domain::resident_id::ResidentId;
use crate::error::{ApiError, FieldError};
use crate::persistence::applicant::{self, Application, CreateError, ParentRecord, StoredNumber};
use crate::persistence::{institutions, Db, PersistenceError};

pub fn store_number(cipher: &PersonalDataCipher, field: Field, value: &str) -> StoredNumber {
    let masked = match field {
        Field::IdNumber => masking::mask_id_number(value),
        Field::Phone => masking::mask_phone(value),
    };
    StoredNumber { sealed: cipher.seal(field, value), bidx: cipher.blind_index(field, value), masked }
}

fn wrong_state(app: &Application, action: &str) -> ApiError {
    ApiError::Conflict {
        code: "wrong_state",
        message: format!("{action} is not possible while the application is {}: {}", app.state, app.state.describe()),
    }
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
    if delivery.mother_id_number.bidx != card.id_number.bidx {
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
        .open(Field::IdNumber, &delivery.mother_id_number.sealed)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("delivery record {}: {e}", delivery.id)))?;
    let institution = institutions::get(db, &delivery.institution_code).await?;
    let declared = |p: &Option<(&ParentInput, Option<IdDocument>)>| {
        p.as_ref().and_then(|(input, doc)| {
            doc.clone().map(|document| DeclaredParent { name: input.name.trim().to_string(), document })
        })
    };
    let facts = Facts {
        certificate_exists: applicant::certificate_exists_for_delivery(db, &delivery.id).await?,
        other_live_application: applicant::other_live_application(db, &delivery.id, &app.id).await?,
        institution_eligible_online: institution.as_ref().is_some_and(|i| i.births_eligible_online()),
        mother: declared(&mother),
        father: declared(&father),
        recorded_mother_name: delivery.mother_name.clone(),
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
    let txn = db.begin().await.map_err(PersistenceError::from)?;
    applicant::save_parents(&txn, &app.id, &records).await?;
    applicant::set_eligibility_reasons(&txn, &app.id, &codes).await?;
    let detail = serde_json::json!({ "eligible": eligible, "reasons": codes });
    if next.to == app.state {
        applicant::add_event(&txn, &app.id, "parents_updated", Some(app.state), Some(next.to), Some(detail)).await?;
    } else if !applicant::move_state(&txn, &app.id, app.state, next.to, Some(detail)).await? {
        return Err(ApiError::Conflict {
            code: "wrong_state",
            message: "the application changed meanwhile; reload it".into(),
        });
    }
    txn.commit().await.map_err(PersistenceError::from)?;
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
    if !applicant::move_state(db, &app.id, app.state, next.to, None).await? {
        return Err(ApiError::Conflict {
            code: "wrong_state",
            message: "the application changed meanwhile; reload it".into(),
        });
    }
    applicant::application(db, &app.id).await?.ok_or(ApiError::NotFound("application"))
}
