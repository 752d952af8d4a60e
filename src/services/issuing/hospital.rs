//! What the hospital's system does: enter a delivery record (every field checked at once,
//! `late` after 24 hours) and correct it while no application has frozen the form.

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use serde_json::json;

use super::validation;
use crate::crypto::{Field, PersonalDataCipher};
use crate::domain::delivery::{self, DeliveryInput};
use crate::domain::working_days::to_china;
use crate::persistence::applications;
use crate::persistence::audit::{self, Actor};
use crate::persistence::deliveries::{self, DeliveryRecord};
use crate::persistence::{province, Db};
use crate::services::{store_number, ServiceError};

pub(super) fn record_of(
    cipher: &PersonalDataCipher,
    institution: &str,
    checked: &delivery::CheckedDelivery,
) -> DeliveryRecord {
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
#[tracing::instrument(skip_all)]
pub async fn create_delivery(
    db: &Db,
    cipher: &PersonalDataCipher,
    institution: &str,
    input: &DeliveryInput,
) -> Result<(String, bool), ServiceError> {
    let checked = delivery::check(input, Utc::now()).map_err(validation)?;
    let record = record_of(cipher, institution, &checked);
    let txn = crate::persistence::begin(db).await?;
    let id = deliveries::insert_delivery(&txn, &record).await?;
    province::enqueue_delivery(&txn, &id, institution).await?;
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
#[tracing::instrument(skip_all, fields(application_id = %id))]
pub async fn correct_delivery(
    db: &Db,
    cipher: &PersonalDataCipher,
    institution: &str,
    id: &str,
    input: &DeliveryInput,
) -> Result<(), ServiceError> {
    let existing = deliveries::delivery(db, id)
        .await?
        .filter(|d| d.record.institution_code == institution)
        .ok_or(ServiceError::NotFound("delivery record"))?;
    if let Some(app) = applications::live_application_of_delivery(db, id).await? {
        if app.state.form_frozen() {
            return Err(ServiceError::Conflict {
                code: "form_frozen",
                message: "an application has confirmed this record; it can change only through an approved modification request".into(),
            });
        }
    }
    let checked = delivery::check(input, Utc::now()).map_err(validation)?;
    let mut record = record_of(cipher, institution, &checked);
    record.late = existing.record.late;
    let txn = crate::persistence::begin(db).await?;
    deliveries::update_delivery(&txn, id, &record).await?;
    province::enqueue_delivery(&txn, id, institution).await?;
    audit::append(&txn, &Actor::hospital(institution), "delivery_corrected", "delivery", id, json!({})).await?;
    crate::persistence::commit(txn).await?;
    Ok(())
}

/// One of the hospital's own records as it entered it (the mother's ID number opened), for the
/// console's correction form; another institution's record is "not found".
#[tracing::instrument(skip_all, fields(delivery_id = %id))]
pub async fn delivery_as_entered(
    db: &Db,
    cipher: &PersonalDataCipher,
    institution: &str,
    id: &str,
) -> Result<DeliveryInput, ServiceError> {
    let existing = deliveries::delivery(db, id)
        .await?
        .filter(|d| d.record.institution_code == institution)
        .ok_or(ServiceError::NotFound("delivery record"))?;
    let mother_id = crate::services::open_number(
        cipher,
        Field::IdNumber,
        &existing.record.mother_id_number.sealed,
        "delivery mother id",
    )?;
    Ok(input_of(&existing.record, &mother_id))
}

/// The stored record as the hospital's input, for re-checking after corrections.
pub(super) fn input_of(record: &DeliveryRecord, mother_id: &str) -> DeliveryInput {
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

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryListItem {
    pub id: String,
    pub mother_name: String,
    pub mother_id_number_masked: String,
    pub baby_sex: String,
    pub birth_at: DateTime<FixedOffset>,
    pub late: bool,
}

/// The institution's births in `[from, to)`, oldest first, at most
/// `deliveries::MAX_DELIVERIES_LISTED` (a hospital asking for more narrows the range).
#[tracing::instrument(skip_all)]
pub async fn deliveries(
    db: &Db,
    institution: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<DeliveryListItem>, ServiceError> {
    Ok(deliveries::deliveries_of_institution(db, institution, from, to)
        .await?
        .into_iter()
        .map(|d| DeliveryListItem {
            id: d.id,
            mother_name: d.record.mother_name,
            mother_id_number_masked: d.record.mother_id_number.masked,
            baby_sex: d.record.baby_sex,
            birth_at: to_china(d.record.birth_at),
            late: d.record.late,
        })
        .collect())
}
