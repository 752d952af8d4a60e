//! The application itself: binding the mother's health card, choosing her delivery record,
//! creating the application, entering both parents (the eligibility rules), withdrawal, and the
//! family's consent to notification templates.

use serde::Serialize;

use super::own_application;
use crate::clients::health_card::{HealthCardError, HealthCardPlatform};
use crate::crypto::{Field, PersonalDataCipher};
use crate::domain::application::Command;
use crate::domain::eligibility::{
    self, DeclaredParent, Facts as EligibilityFacts, IdDocument, IdType, Reason, MAX_FACE_FAILURES,
};
use crate::domain::resident_id::ResidentId;
use crate::persistence::applications::{self, Application, CreateError};
use crate::persistence::audit::Actor;
use crate::persistence::parents::{self, ParentRecord};
use crate::persistence::{certificates, deliveries, documents, health_cards, identity, institutions, users, Db};
use crate::services::lifecycle::{self, Facts};
use crate::services::{open_number, store_number, FieldError, ServiceError};

/// Binds the mother's electronic health card from a one-time health code.
#[tracing::instrument(skip_all)]
pub async fn bind_health_card(
    db: &Db,
    cipher: &PersonalDataCipher,
    platform: &dyn HealthCardPlatform,
    user_id: &str,
    health_code: &str,
) -> Result<(health_cards::HealthCard, bool), ServiceError> {
    let card = platform.card_by_health_code(health_code).await.map_err(|e| match e {
        HealthCardError::UnknownCode => ServiceError::Unprocessable {
            code: "invalid_health_code",
            message: "the health code is unknown, used or expired; open the health card again".into(),
        },
        e @ HealthCardError::Upstream(_) => {
            ServiceError::Upstream { service: "health-card platform", source: e.into() }
        }
    })?;
    let id = ResidentId::parse(&card.id_number).map_err(|_| ServiceError::Unprocessable {
        code: "health_card_not_resident_id",
        message: "the health card does not carry a mainland resident ID; apply on site".into(),
    })?;
    let id_number = store_number(cipher, Field::IdNumber, id.as_str());
    let phone = card.phone.as_deref().filter(|p| !p.is_empty()).map(|p| store_number(cipher, Field::Phone, p));
    Ok(health_cards::bind_health_card(db, user_id, &card.name, &id_number, phone.as_ref()).await?)
}

#[tracing::instrument(skip_all)]
pub async fn create_application(
    db: &Db,
    user_id: &str,
    delivery_id: &str,
    health_card_id: &str,
    claimant_relation: &str,
) -> Result<Application, ServiceError> {
    if !matches!(claimant_relation, "mother" | "father") {
        return Err(ServiceError::Validation {
            fields: vec![FieldError { field: "claimant_relation".into(), code: "one_of_mother_father".into() }],
        });
    }
    let card =
        health_cards::health_card(db, user_id, health_card_id).await?.ok_or(ServiceError::NotFound("health card"))?;
    let delivery = deliveries::delivery(db, delivery_id).await?.ok_or(ServiceError::NotFound("delivery record"))?;
    // A delivery record is reachable only through the mother's card.
    if delivery.record.mother_id_number.bidx != card.id_number.bidx {
        return Err(ServiceError::NotFound("delivery record"));
    }
    if certificates::certificate_exists_for_delivery(db, &delivery.id).await? {
        return Err(ServiceError::Unprocessable {
            code: "not_first_issuance",
            message: Reason::NotFirstIssuance.message().into(),
        });
    }
    match applications::create_application(db, user_id, &delivery, &card.id, claimant_relation).await {
        Ok(app) => Ok(app),
        Err(CreateError::LiveApplicationExists) => Err(ServiceError::Conflict {
            code: "application_exists",
            message: Reason::ApplicationExists.message().into(),
        }),
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

/// What the eligibility rules look at for these declared parents of this application: the
/// delivery record as it is now, its institution, other applications and certificates for the
/// birth, and each parent's face failures for it.
pub(super) async fn eligibility_facts(
    db: &Db,
    cipher: &PersonalDataCipher,
    app: &Application,
    mother: Option<DeclaredParent>,
    father: Option<DeclaredParent>,
) -> Result<EligibilityFacts, ServiceError> {
    // Face failures count per person and birth, over every application for it.
    let delivery_id = app.delivery_id.as_str();
    let failures_of = |p: &Option<DeclaredParent>| {
        let bidx = p.as_ref().map(|d| cipher.blind_index(Field::IdNumber, &d.document.number));
        async move {
            match bidx {
                Some(b) => identity::failed_faces(db, delivery_id, &b).await,
                None => Ok(0),
            }
        }
    };
    // Independent reads at once, all keyed by the application's own ids (its institution is the
    // delivery record's): this is the slowest step of the journey.
    let (delivery, institution, certificate_exists, other_live_application, mother_failures, father_failures) = tokio::try_join!(
        deliveries::delivery(db, delivery_id),
        institutions::get(db, &app.institution_code),
        certificates::certificate_exists_for_delivery(db, delivery_id),
        applications::other_live_application(db, delivery_id, &app.id),
        failures_of(&mother),
        failures_of(&father),
    )?;
    let delivery = delivery.ok_or(ServiceError::NotFound("delivery record"))?;
    let recorded_mother_id = open_number(
        cipher,
        Field::IdNumber,
        &delivery.record.mother_id_number.sealed,
        &format!("delivery record {}", delivery.id),
    )?;
    Ok(EligibilityFacts {
        certificate_exists,
        other_live_application,
        institution_eligible_online: institution.as_ref().is_some_and(|i| i.births_eligible_online()),
        mother,
        father,
        recorded_mother_name: delivery.record.mother_name.clone(),
        recorded_mother_id,
        face_attempts_exhausted: mother_failures.max(father_failures) >= MAX_FACE_FAILURES,
    })
}

/// Saves both parents and applies the eligibility rules. Invalid input changes nothing (422);
/// a failed rule moves the application to `ineligible` with every reason recorded.
#[tracing::instrument(skip_all, fields(application_id = %application_id))]
pub async fn enter_parents(
    db: &Db,
    cipher: &PersonalDataCipher,
    user_id: &str,
    application_id: &str,
    input: &ParentsInput,
) -> Result<(EligibilityView, Application), ServiceError> {
    let app = own_application(db, user_id, application_id).await?;
    let mut fields = Vec::new();
    let mother = input.mother.as_ref().map(|p| (p, validate_parent("mother", p, &mut fields)));
    let father = input.father.as_ref().map(|p| (p, validate_parent("father", p, &mut fields)));
    if !fields.is_empty() {
        return Err(ServiceError::validation(fields));
    }
    // Check the transition before looking further, so out-of-order calls get 409.
    lifecycle::check(&app, Command::EnterParents { eligible: true }, "entering parents")?;

    let declared = |p: &Option<(&ParentInput, Option<IdDocument>)>| {
        p.as_ref().and_then(|(input, doc)| {
            doc.clone().map(|document| DeclaredParent { name: input.name.trim().to_string(), document })
        })
    };
    let facts = eligibility_facts(db, cipher, &app, declared(&mother), declared(&father)).await?;
    let reasons = eligibility::check(&facts);
    let eligible = reasons.is_empty();
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
    let codes: Vec<&'static str> = reasons.iter().map(|r| r.code()).collect();
    let txn = crate::persistence::begin(db).await?;
    let changed = parents::save_parents(&txn, &app.id, &records).await?;
    // A parent entered anew is a new person: their ID photos go with their old identity result.
    let retired: Vec<String> =
        changed.iter().flat_map(|role| [format!("{role}_id_front"), format!("{role}_id_back")]).collect();
    documents::supersede(&txn, &app.id, &retired).await?;
    let actor = Actor::applicant(&app.user_id);
    let applied = lifecycle::apply(
        &txn,
        &actor,
        &app,
        Command::EnterParents { eligible },
        Facts {
            detail: Some(serde_json::json!({ "eligible": eligible, "reasons": codes, "changed": changed })),
            eligibility_reasons: codes.clone(),
            ..Facts::default()
        },
    )
    .await?;
    // Parents who were verified and are unchanged keep their result: the steps they had done
    // are done again at once.
    let app = if eligible { super::catch_up(&txn, applied.app).await? } else { applied.app };
    crate::persistence::commit(txn).await?;
    let view = EligibilityView {
        eligible,
        reasons: reasons.iter().map(|r| ReasonView { code: r.code(), message: r.message() }).collect(),
    };
    Ok((view, app))
}

#[tracing::instrument(skip_all, fields(application_id = %application_id))]
/// Withdrawal before payment; an open order is closed at the platform so it cannot be paid
/// (or, if the platform cannot be reached, the close is owed and made by the payment-calls worker).
pub async fn withdraw(
    db: &Db,
    pay: &crate::clients::pay::PayClient,
    user_id: &str,
    application_id: &str,
) -> Result<Application, ServiceError> {
    let app = own_application(db, user_id, application_id).await?;
    let t = lifecycle::check(&app, Command::Withdraw, "withdrawal")?;
    let order_at_platform = if t.effects.contains(&crate::domain::application::Effect::CloseOrder) {
        Some(super::payment::close_open_order(db, pay, &app.id).await?)
    } else {
        None
    };
    let txn = crate::persistence::begin(db).await?;
    let facts = Facts { order_at_platform, ..Facts::default() };
    let applied = lifecycle::apply(&txn, &Actor::applicant(user_id), &app, Command::Withdraw, facts).await?;
    crate::persistence::commit(txn).await?;
    Ok(applied.app)
}

/// Consent from `wx.requestSubscribeMessage` for our notification templates; ids that are not
/// ours are refused rather than silently kept.
#[tracing::instrument(skip_all, fields(application_id = %application_id))]
pub async fn record_subscriptions(
    db: &Db,
    templates: &crate::config::TemplateIds,
    user_id: &str,
    application_id: &str,
    accepted: &[String],
) -> Result<Vec<String>, ServiceError> {
    use crate::domain::notification::NotificationEvent as E;
    own_application(db, user_id, application_id).await?;
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
        return Err(ServiceError::Validation { fields });
    }
    for t in accepted {
        users::record_consent(db, user_id, t, "accept").await?;
    }
    applications::add_event(
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
