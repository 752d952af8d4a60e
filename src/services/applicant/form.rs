//! The registration form (as it stands, or frozen once confirmed), the family's request to
//! correct the hospital's record, confirmation with the newborn's name, the mother's
//! e-signature, and the delivery address with its courier fee.

use serde::Serialize;

use super::applications::eligibility_facts;
use super::own_application;
use crate::blobs::StoredBlob;
use crate::crypto::{Field, PersonalDataCipher};
use crate::domain::application::Command;
use crate::domain::eligibility::{self, DeclaredParent, IdDocument, IdType, Reason};
use crate::domain::names::{NameError, NewbornName};
use crate::domain::region::{Region, RegionTable};
use crate::domain::registration_form::{age_on, format_birth_time, FormParent, RegistrationForm};
use crate::domain::ResidentId;
use crate::persistence::applications::{self, Application};
use crate::persistence::audit::Actor;
use crate::persistence::{deliveries, institutions, modifications, parents, signatures, Db};
use crate::services::lifecycle::{self, Facts, FrozenForm};
use crate::services::{open_number, store_number, FieldError, ServiceError};

/// The user's own application and its form (callers that show it to the family mask it).
#[tracing::instrument(skip_all, fields(application_id = %application_id))]
pub async fn registration_form_of(
    db: &Db,
    cipher: &PersonalDataCipher,
    user_id: &str,
    application_id: &str,
) -> Result<(Application, RegistrationForm), ServiceError> {
    let app = own_application(db, user_id, application_id).await?;
    let form = registration_form(db, cipher, &app).await?;
    Ok((app, form))
}

/// The form as it stands (or as frozen, once confirmed), with full ID numbers; callers that
/// show it to the applicant mask it.
#[tracing::instrument(skip_all)]
pub async fn registration_form(
    db: &Db,
    cipher: &PersonalDataCipher,
    app: &Application,
) -> Result<RegistrationForm, ServiceError> {
    if let Some((form, _)) = crate::services::frozen_form(db, cipher, &app.id).await? {
        return Ok(form);
    }
    live_form(db, cipher, app).await
}

/// The form from the records as they are now (before confirmation freezes it).
async fn live_form(db: &Db, cipher: &PersonalDataCipher, app: &Application) -> Result<RegistrationForm, ServiceError> {
    // Three independent reads at once; the application's institution is its delivery record's.
    let (delivery, institution, parents) = tokio::try_join!(
        deliveries::delivery(db, &app.delivery_id),
        institutions::get(db, &app.institution_code),
        parents::parents(db, &app.id),
    )?;
    let delivery = delivery.ok_or(ServiceError::NotFound("delivery record"))?;
    let institution = institution.ok_or(ServiceError::NotFound("institution"))?;
    let birth_date = crate::domain::working_days::to_china(delivery.record.birth_at).date_naive();
    let form_parent = |role: &str| -> Result<FormParent, ServiceError> {
        let p = parents.iter().find(|p| p.role == role).ok_or_else(|| {
            ServiceError::wrong_state(app.state, "the registration form before the parents are entered")
        })?;
        let id_number = open_number(cipher, Field::IdNumber, &p.id_number.sealed, &format!("parent id of {}", app.id))?;
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

#[tracing::instrument(skip_all, fields(application_id = %application_id))]
pub async fn request_modification(
    db: &Db,
    calendar: &crate::domain::Calendar,
    user_id: &str,
    application_id: &str,
    items: &[ModificationItem],
) -> Result<String, ServiceError> {
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
        return Err(ServiceError::Validation { fields });
    }
    let app = own_application(db, user_id, application_id).await?;
    lifecycle::check(&app, Command::RequestModification, "a modification request")?;
    let items = serde_json::to_value(items).map_err(ServiceError::internal)?;
    // Answered within 2 working days, like a review.
    let due_at = lifecycle::review_deadline(db, calendar, &app.institution_code).await?;
    let txn = crate::persistence::begin(db).await?;
    let id = modifications::add_modification_request(&txn, &app.id, &items, due_at).await?;
    lifecycle::apply(
        &txn,
        &Actor::applicant(&app.user_id),
        &app,
        Command::RequestModification,
        Facts { detail: Some(serde_json::json!({"modification_request": id})), ..Facts::default() },
    )
    .await?;
    crate::persistence::commit(txn).await?;
    Ok(id)
}

/// Confirms the form with the newborn's name and freezes it. A refused name leaves the
/// application where it was so another can be tried.
#[tracing::instrument(skip_all, fields(application_id = %application_id))]
pub async fn confirm(
    db: &Db,
    cipher: &PersonalDataCipher,
    user_id: &str,
    application_id: &str,
    newborn_name: &str,
) -> Result<String, ServiceError> {
    let app = own_application(db, user_id, application_id).await?;
    lifecycle::check(&app, Command::Confirm, "confirmation")?;
    // Not frozen yet: only confirmation freezes it.
    let mut form = live_form(db, cipher, &app).await?;
    let name = NewbornName::parse(newborn_name, &form.father.name, &form.mother.name).map_err(|e| {
        ServiceError::Unprocessable {
            code: e.code(),
            message: match e {
                NameError::ThirdSurname => Reason::ThirdSurname.message().into(),
                NameError::InvalidName => Reason::InvalidName.message().into(),
            },
        }
    })?;
    // The hospital's record may have been corrected since the parents were entered (an approved
    // modification): the rules are checked again before the form is frozen.
    // The form already holds both parents with their numbers opened.
    let declared = |p: &FormParent| {
        let document = IdType::parse(&p.id_type).and_then(|t| IdDocument::parse(t, &p.id_number).ok())?;
        Some(DeclaredParent { name: p.name.clone(), document })
    };
    let facts = eligibility_facts(db, cipher, &app, declared(&form.mother), declared(&form.father)).await?;
    let reasons = eligibility::check(&facts);
    if !reasons.is_empty() {
        return Err(ServiceError::Ineligible { reasons: reasons.iter().map(|r| (r.code(), r.message())).collect() });
    }
    form.newborn_name = Some(name.as_str().to_string());
    let digest = form.digest();
    let txn = crate::persistence::begin(db).await?;
    lifecycle::apply(
        &txn,
        &Actor::applicant(&app.user_id),
        &app,
        Command::Confirm,
        Facts {
            detail: Some(serde_json::json!({"form_digest": digest})),
            frozen_form: Some(FrozenForm {
                newborn_name: name.as_str().to_string(),
                sealed_json: cipher.seal_form(&form.canonical_json()),
                digest: digest.clone(),
            }),
            ..Facts::default()
        },
    )
    .await?;
    crate::persistence::commit(txn).await?;
    Ok(digest)
}

/// The mother's e-signature (a PNG), bound to the frozen form's digest.
#[tracing::instrument(skip_all, fields(application_id = %application_id))]
pub async fn sign(
    db: &Db,
    user_id: &str,
    application_id: &str,
    image: &StoredBlob,
) -> Result<(chrono::DateTime<chrono::Utc>, String), ServiceError> {
    // Printed over white on the form and the stub: a PNG, whatever the other uploads may be.
    if image.image_type != crate::blobs::ImageType::Png {
        return Err(ServiceError::UnsupportedMediaType("the signature must be a PNG".into()));
    }
    let app = own_application(db, user_id, application_id).await?;
    lifecycle::check(&app, Command::Sign, "signing")?;
    let digest = app.form_digest.clone().ok_or_else(|| ServiceError::wrong_state(app.state, "signing"))?;
    let txn = crate::persistence::begin(db).await?;
    let at = signatures::add_signature(&txn, &app.id, &digest, &image.sha256).await?;
    lifecycle::apply(
        &txn,
        &Actor::applicant(&app.user_id),
        &app,
        Command::Sign,
        Facts { detail: Some(serde_json::json!({"form_digest": digest})), ..Facts::default() },
    )
    .await?;
    crate::persistence::commit(txn).await?;
    Ok((at, digest))
}

/// Where parcels may go and what each destination costs.
#[derive(Debug, Clone, Copy)]
pub struct Destinations<'a> {
    pub fees: &'a crate::domain::courier_fee::FeeTable,
    pub regions: &'a RegionTable,
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct AddressInput {
    pub recipient: String,
    pub phone: String,
    /// Six-digit GB/T 2260 region code of the destination.
    pub region_code: String,
    pub address: String,
}

/// Where to post the certificate; answers the courier fee. Changeable until payment; a change
/// while an order is open closes that order (the fee may differ) and the application goes back
/// to `signed` for a new order.
#[tracing::instrument(skip_all, fields(application_id = %application_id))]
pub async fn set_address(
    db: &Db,
    cipher: &PersonalDataCipher,
    destinations: Destinations<'_>,
    pay: &crate::clients::pay::PayClient,
    user_id: &str,
    application_id: &str,
    input: &AddressInput,
) -> Result<(i32, Region), ServiceError> {
    use crate::domain::application_state::ApplicationState as S;
    let mut fields = Vec::new();
    let phone = input.phone.trim();
    if input.recipient.trim().is_empty() || input.recipient.chars().count() > 50 {
        fields.push(FieldError { field: "recipient".into(), code: "required".into() });
    }
    if !(phone.len() == 11 && phone.starts_with('1') && phone.chars().all(|c| c.is_ascii_digit())) {
        fields.push(FieldError { field: "phone".into(), code: "format".into() });
    }
    if input.address.trim().chars().count() < 5 || input.address.chars().count() > 200 {
        fields.push(FieldError { field: "address".into(), code: "required".into() });
    }
    if !fields.is_empty() {
        return Err(ServiceError::Validation { fields });
    }
    let region = destinations.regions.county(input.region_code.trim()).ok_or_else(|| {
        ServiceError::bad_request("unknown_region", "region_code is not a county-level code of GB/T 2260")
    })?;
    let app = own_application(db, user_id, application_id).await?;
    if !matches!(app.state, S::Signed | S::AwaitingPayment) {
        return Err(ServiceError::wrong_state(app.state, "giving the address"));
    }
    let fee = destinations.fees.fee_for(&region.code);
    let stored = store_number(cipher, Field::Phone, phone);
    // The fee follows the address: an order placed for the old one is closed first, and the
    // next payment places a new one.
    let order_at_platform = if app.state == S::AwaitingPayment {
        Some(super::payment::close_open_order(db, pay, &app.id).await?)
    } else {
        None
    };
    let txn = crate::persistence::begin(db).await?;
    applications::set_address(
        &txn,
        &app.id,
        input.recipient.trim(),
        &stored,
        input.region_code.trim(),
        input.address.trim(),
        fee,
    )
    .await?;
    let detail = serde_json::json!({"courier_fee_fen": fee});
    if app.state == S::AwaitingPayment {
        let facts = Facts { detail: Some(detail), order_at_platform, ..Facts::default() };
        lifecycle::apply(&txn, &Actor::applicant(&app.user_id), &app, Command::ChangeAddress, facts).await?;
    } else {
        applications::add_event(&txn, &app.id, "address_given", None, None, Some(detail)).await?;
    }
    crate::persistence::commit(txn).await?;
    Ok((fee, region))
}
