//! Delivery records as the hospitals enter and correct them.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::entities::delivery_record;
use super::{new_id, PersistenceError, StoredNumber};
use crate::crypto::Sealed;

/// A delivery record as the hospital enters it.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub institution_code: String,
    pub mother_name: String,
    pub mother_id_type: String,
    pub mother_id_number: StoredNumber,
    pub baby_sex: String,
    pub birth_at: DateTime<Utc>,
    pub birth_place: String,
    pub gestational_weeks: i32,
    pub weight_g: i32,
    pub length_cm: i32,
    pub health_status: String,
    pub midwife_name: String,
    pub late: bool,
}

/// A stored delivery record.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub record: DeliveryRecord,
}

pub(super) fn delivery_from(m: delivery_record::Model) -> Delivery {
    Delivery {
        id: m.id,
        record: DeliveryRecord {
            institution_code: m.institution_code,
            mother_name: m.mother_name,
            mother_id_type: m.mother_id_type,
            mother_id_number: StoredNumber {
                sealed: Sealed { key_id: m.mother_id_number_key_id, ciphertext: m.mother_id_number_enc },
                bidx: m.mother_id_number_bidx,
                masked: m.mother_id_number_masked,
            },
            baby_sex: m.baby_sex,
            birth_at: m.birth_at,
            birth_place: m.birth_place,
            gestational_weeks: m.gestational_weeks,
            weight_g: m.weight_g,
            length_cm: m.length_cm,
            health_status: m.health_status,
            midwife_name: m.midwife_name,
            late: m.late,
        },
    }
}

pub async fn insert_delivery(db: &impl ConnectionTrait, d: &DeliveryRecord) -> Result<String, PersistenceError> {
    let id = new_id();
    let now = Utc::now();
    delivery_record::Entity::insert(delivery_record::ActiveModel {
        id: Set(id.clone()),
        institution_code: Set(d.institution_code.clone()),
        mother_name: Set(d.mother_name.clone()),
        mother_id_type: Set(d.mother_id_type.clone()),
        mother_id_number_enc: Set(d.mother_id_number.sealed.ciphertext.clone()),
        mother_id_number_key_id: Set(d.mother_id_number.sealed.key_id.clone()),
        mother_id_number_bidx: Set(d.mother_id_number.bidx.clone()),
        mother_id_number_masked: Set(d.mother_id_number.masked.clone()),
        baby_sex: Set(d.baby_sex.clone()),
        birth_at: Set(d.birth_at),
        birth_place: Set(d.birth_place.clone()),
        gestational_weeks: Set(d.gestational_weeks),
        weight_g: Set(d.weight_g),
        length_cm: Set(d.length_cm),
        health_status: Set(d.health_status.clone()),
        midwife_name: Set(d.midwife_name.clone()),
        late: Set(d.late),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(id)
}

/// The delivery records whose mother has this ID number (by blind index).
pub async fn deliveries_of_mother(
    db: &impl ConnectionTrait,
    mother_bidx: &str,
) -> Result<Vec<Delivery>, PersistenceError> {
    Ok(delivery_record::Entity::find()
        .filter(delivery_record::Column::MotherIdNumberBidx.eq(mother_bidx))
        .order_by_desc(delivery_record::Column::BirthAt)
        .all(db)
        .await?
        .into_iter()
        .map(delivery_from)
        .collect())
}

pub async fn delivery(db: &impl ConnectionTrait, id: &str) -> Result<Option<Delivery>, PersistenceError> {
    Ok(delivery_record::Entity::find_by_id(id.to_string()).one(db).await?.map(delivery_from))
}

pub async fn update_delivery(db: &impl ConnectionTrait, id: &str, d: &DeliveryRecord) -> Result<(), PersistenceError> {
    delivery_record::Entity::update_many()
        .col_expr(delivery_record::Column::MotherName, Expr::value(d.mother_name.clone()))
        .col_expr(delivery_record::Column::MotherIdType, Expr::value(d.mother_id_type.clone()))
        .col_expr(delivery_record::Column::MotherIdNumberEnc, Expr::value(d.mother_id_number.sealed.ciphertext.clone()))
        .col_expr(delivery_record::Column::MotherIdNumberKeyId, Expr::value(d.mother_id_number.sealed.key_id.clone()))
        .col_expr(delivery_record::Column::MotherIdNumberBidx, Expr::value(d.mother_id_number.bidx.clone()))
        .col_expr(delivery_record::Column::MotherIdNumberMasked, Expr::value(d.mother_id_number.masked.clone()))
        .col_expr(delivery_record::Column::BabySex, Expr::value(d.baby_sex.clone()))
        .col_expr(delivery_record::Column::BirthAt, Expr::value(d.birth_at))
        .col_expr(delivery_record::Column::BirthPlace, Expr::value(d.birth_place.clone()))
        .col_expr(delivery_record::Column::GestationalWeeks, Expr::value(d.gestational_weeks))
        .col_expr(delivery_record::Column::WeightG, Expr::value(d.weight_g))
        .col_expr(delivery_record::Column::LengthCm, Expr::value(d.length_cm))
        .col_expr(delivery_record::Column::HealthStatus, Expr::value(d.health_status.clone()))
        .col_expr(delivery_record::Column::MidwifeName, Expr::value(d.midwife_name.clone()))
        .col_expr(delivery_record::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(delivery_record::Column::Id.eq(id))
        .exec(db)
        .await?;
    super::search::rename_record(db, id, &d.mother_name).await
}

/// At most 5000 records, oldest birth first: a hospital asking for more narrows the range.
pub const MAX_DELIVERIES_LISTED: u64 = 5000;

pub async fn deliveries_of_institution(
    db: &impl ConnectionTrait,
    institution: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Delivery>, PersistenceError> {
    Ok(delivery_record::Entity::find()
        .filter(delivery_record::Column::InstitutionCode.eq(institution))
        .filter(delivery_record::Column::BirthAt.gte(from))
        .filter(delivery_record::Column::BirthAt.lt(to))
        .order_by_asc(delivery_record::Column::BirthAt)
        .limit(MAX_DELIVERIES_LISTED)
        .all(db)
        .await?
        .into_iter()
        .map(delivery_from)
        .collect())
}

pub async fn deliveries_by_ids(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<Delivery>, PersistenceError> {
    Ok(delivery_record::Entity::find()
        .filter(delivery_record::Column::Id.is_in(ids.iter().cloned()))
        .all(db)
        .await?
        .into_iter()
        .map(delivery_from)
        .collect())
}
