//! What the parent's journey stores: health cards, delivery records, applications, parents and
//! the application's timeline.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    Statement,
};

use super::entities::{application, application_event, delivery_record, health_card, parent};
use super::{is_unique_violation, new_id, PersistenceError};
use crate::crypto::Sealed;
use crate::domain::application_state::ApplicationState;

/// A personal number as stored: ciphertext, blind index, masked form.
#[derive(Debug, Clone)]
pub struct StoredNumber {
    pub sealed: Sealed,
    pub bidx: String,
    pub masked: String,
}

#[derive(Debug, Clone)]
pub struct HealthCard {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub id_number: StoredNumber,
}

fn card_from(m: health_card::Model) -> HealthCard {
    HealthCard {
        id: m.id,
        user_id: m.user_id,
        name: m.name,
        id_number: StoredNumber {
            sealed: Sealed { key_id: m.id_number_key_id, ciphertext: m.id_number_enc },
            bidx: m.id_number_bidx,
            masked: m.id_number_masked,
        },
    }
}

/// Binds a card to the user; binding the same person's card again returns the existing one.
pub async fn bind_health_card(
    db: &impl ConnectionTrait,
    user_id: &str,
    name: &str,
    id_number: &StoredNumber,
    phone: Option<&StoredNumber>,
) -> Result<(HealthCard, bool), PersistenceError> {
    let id = new_id();
    let inserted = health_card::Entity::insert(health_card::ActiveModel {
        id: Set(id.clone()),
        user_id: Set(user_id.to_string()),
        name: Set(name.to_string()),
        id_number_enc: Set(id_number.sealed.ciphertext.clone()),
        id_number_key_id: Set(id_number.sealed.key_id.clone()),
        id_number_bidx: Set(id_number.bidx.clone()),
        id_number_masked: Set(id_number.masked.clone()),
        phone_enc: Set(phone.map(|p| p.sealed.ciphertext.clone())),
        phone_key_id: Set(phone.map(|p| p.sealed.key_id.clone())),
        phone_bidx: Set(phone.map(|p| p.bidx.clone())),
        phone_masked: Set(phone.map(|p| p.masked.clone())),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(db)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            let existing = health_card::Entity::find()
                .filter(health_card::Column::UserId.eq(user_id))
                .filter(health_card::Column::IdNumberBidx.eq(&id_number.bidx))
                .one(db)
                .await?
                .ok_or(PersistenceError::NotFound("health card"))?;
            return Ok((card_from(existing), false));
        }
        Err(e) => return Err(e.into()),
    }
    let card = health_card::Entity::find_by_id(id).one(db).await?.ok_or(PersistenceError::NotFound("health card"))?;
    Ok((card_from(card), true))
}

pub async fn health_cards(db: &impl ConnectionTrait, user_id: &str) -> Result<Vec<HealthCard>, PersistenceError> {
    Ok(health_card::Entity::find()
        .filter(health_card::Column::UserId.eq(user_id))
        .order_by_asc(health_card::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(card_from)
        .collect())
}

/// The card if it belongs to this user.
pub async fn health_card(
    db: &impl ConnectionTrait,
    user_id: &str,
    id: &str,
) -> Result<Option<HealthCard>, PersistenceError> {
    Ok(health_card::Entity::find_by_id(id.to_string())
        .filter(health_card::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .map(card_from))
}

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

#[derive(FromQueryResult)]
struct Count {
    n: i64,
}

pub(super) fn placeholders(db: &impl ConnectionTrait, n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| if db.get_database_backend() == DbBackend::Postgres { format!("${i}") } else { "?".into() })
        .collect()
}

/// Whether a certificate was ever issued for this delivery (then online first issuance is over).
pub async fn certificate_exists_for_delivery(
    db: &impl ConnectionTrait,
    delivery_id: &str,
) -> Result<bool, PersistenceError> {
    let p = placeholders(db, 1);
    let sql = format!(
        "SELECT COUNT(*) AS n FROM certificates c JOIN applications a ON a.id = c.application_id WHERE a.delivery_id = {}",
        p[0]
    );
    let row =
        Count::find_by_statement(Statement::from_sql_and_values(db.get_database_backend(), sql, [delivery_id.into()]))
            .one(db)
            .await?;
    Ok(row.is_some_and(|r| r.n > 0))
}

/// Live applications for this delivery other than `except`.
pub async fn other_live_application(
    db: &impl ConnectionTrait,
    delivery_id: &str,
    except: &str,
) -> Result<bool, PersistenceError> {
    let found = application::Entity::find()
        .filter(application::Column::DeliveryId.eq(delivery_id))
        .filter(application::Column::Id.ne(except))
        .filter(
            application::Column::State
                .is_not_in([ApplicationState::Withdrawn.as_str(), ApplicationState::Ineligible.as_str()]),
        )
        .one(db)
        .await?;
    Ok(found.is_some())
}

#[derive(Debug, Clone)]
pub struct Application {
    pub id: String,
    pub user_id: String,
    pub delivery_id: String,
    pub health_card_id: String,
    pub institution_code: String,
    pub claimant_relation: String,
    pub state: ApplicationState,
    pub eligibility_reasons: Vec<String>,
    pub newborn_name: Option<String>,
    pub form_digest: Option<String>,
    pub review_due_at: Option<DateTime<Utc>>,
    pub return_reasons: Vec<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

pub(super) fn application_from(m: application::Model) -> Result<Application, PersistenceError> {
    let state = ApplicationState::parse(&m.state)
        .ok_or_else(|| PersistenceError::Corrupt(format!("application {} has state {:?}", m.id, m.state)))?;
    let json_list = |s: &Option<String>| -> Vec<serde_json::Value> {
        s.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default()
    };
    Ok(Application {
        eligibility_reasons: json_list(&m.eligibility_reasons)
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        return_reasons: json_list(&m.return_reasons),
        id: m.id,
        user_id: m.user_id,
        delivery_id: m.delivery_id,
        health_card_id: m.health_card_id,
        institution_code: m.institution_code,
        claimant_relation: m.claimant_relation,
        state,
        newborn_name: m.newborn_name,
        form_digest: m.form_digest,
        review_due_at: m.review_due_at,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

#[derive(Debug)]
pub enum CreateError {
    /// Another live application holds this delivery (the unique index said so).
    LiveApplicationExists,
    Other(PersistenceError),
}

pub async fn create_application(
    db: &impl ConnectionTrait,
    user_id: &str,
    delivery: &Delivery,
    health_card_id: &str,
    claimant_relation: &str,
) -> Result<Application, CreateError> {
    let id = new_id();
    let now = Utc::now();
    let result = application::Entity::insert(application::ActiveModel {
        id: Set(id.clone()),
        user_id: Set(user_id.to_string()),
        delivery_id: Set(delivery.id.clone()),
        health_card_id: Set(health_card_id.to_string()),
        institution_code: Set(delivery.record.institution_code.clone()),
        claimant_relation: Set(claimant_relation.to_string()),
        state: Set(ApplicationState::Draft.as_str().to_string()),
        overdue: Set(false),
        version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await;
    match result {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Err(CreateError::LiveApplicationExists),
        Err(e) => return Err(CreateError::Other(e.into())),
    }
    add_event(db, &id, "created", None, Some(ApplicationState::Draft), None).await.map_err(CreateError::Other)?;
    application(db, &id)
        .await
        .map_err(CreateError::Other)?
        .ok_or(CreateError::Other(PersistenceError::NotFound("application")))
}

pub async fn application(db: &impl ConnectionTrait, id: &str) -> Result<Option<Application>, PersistenceError> {
    application::Entity::find_by_id(id.to_string()).one(db).await?.map(application_from).transpose()
}

/// The application if it belongs to this user (another user's id is "not found").
pub async fn application_of(
    db: &impl ConnectionTrait,
    user_id: &str,
    id: &str,
) -> Result<Option<Application>, PersistenceError> {
    application::Entity::find_by_id(id.to_string())
        .filter(application::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .map(application_from)
        .transpose()
}

pub async fn applications_of(db: &impl ConnectionTrait, user_id: &str) -> Result<Vec<Application>, PersistenceError> {
    application::Entity::find()
        .filter(application::Column::UserId.eq(user_id))
        .order_by_desc(application::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(application_from)
        .collect()
}

/// Moves the application from `from` to `to` only if nobody moved it meanwhile; false when the
/// state had already changed (a concurrent request won).
/// The change is audited in the same transaction.
pub async fn move_state(
    db: &sea_orm::DatabaseTransaction,
    actor: &super::audit::Actor,
    id: &str,
    from: ApplicationState,
    to: ApplicationState,
    detail: Option<serde_json::Value>,
) -> Result<bool, PersistenceError> {
    let result = application::Entity::update_many()
        .col_expr(application::Column::State, Expr::value(to.as_str()))
        .col_expr(application::Column::Version, Expr::col(application::Column::Version).add(1))
        .col_expr(application::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(application::Column::Id.eq(id))
        .filter(application::Column::State.eq(from.as_str()))
        .exec(db)
        .await?;
    if result.rows_affected != 1 {
        return Ok(false);
    }
    let audit_detail = serde_json::json!({"from": from.as_str(), "to": to.as_str(), "detail": detail});
    add_event(db, id, "state_changed", Some(from), Some(to), detail).await?;
    super::audit::append(db, actor, "state_changed", "application", id, audit_detail).await?;
    Ok(true)
}

/// Submission (first or again after a return): the review clock starts with a new deadline
/// and the overdue flag starts afresh.
pub async fn start_review_clock(
    db: &impl ConnectionTrait,
    application_id: &str,
    due: DateTime<Utc>,
) -> Result<(), PersistenceError> {
    application::Entity::update_many()
        .col_expr(application::Column::SubmittedAt, Expr::value(Utc::now()))
        .col_expr(application::Column::ReviewDueAt, Expr::value(due))
        .col_expr(application::Column::Overdue, Expr::value(false))
        .filter(application::Column::Id.eq(application_id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn set_eligibility_reasons(
    db: &impl ConnectionTrait,
    id: &str,
    reasons: &[&str],
) -> Result<(), PersistenceError> {
    application::Entity::update_many()
        .col_expr(
            application::Column::EligibilityReasons,
            Expr::value(serde_json::to_string(reasons).unwrap_or_default()),
        )
        .filter(application::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn add_event(
    db: &impl ConnectionTrait,
    application_id: &str,
    kind: &str,
    from: Option<ApplicationState>,
    to: Option<ApplicationState>,
    detail: Option<serde_json::Value>,
) -> Result<(), PersistenceError> {
    application_event::Entity::insert(application_event::ActiveModel {
        application_id: Set(application_id.to_string()),
        kind: Set(kind.to_string()),
        from_state: Set(from.map(|s| s.as_str().to_string())),
        to_state: Set(to.map(|s| s.as_str().to_string())),
        detail: Set(detail.map(|d| d.to_string())),
        at: Set(Utc::now()),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct TimelineEntry {
    pub kind: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub detail: Option<serde_json::Value>,
    pub at: DateTime<Utc>,
}

pub async fn timeline(db: &impl ConnectionTrait, application_id: &str) -> Result<Vec<TimelineEntry>, PersistenceError> {
    Ok(application_event::Entity::find()
        .filter(application_event::Column::ApplicationId.eq(application_id))
        .order_by_asc(application_event::Column::Seq)
        .all(db)
        .await?
        .into_iter()
        .map(|e| TimelineEntry {
            kind: e.kind,
            from_state: e.from_state,
            to_state: e.to_state,
            detail: e.detail.and_then(|d| serde_json::from_str(&d).ok()),
            at: e.at,
        })
        .collect())
}

#[derive(Debug, Clone)]
pub struct ParentRecord {
    pub role: String,
    pub name: String,
    pub id_type: String,
    pub id_number: StoredNumber,
    pub nationality: String,
    pub ethnicity: String,
    pub phone: Option<StoredNumber>,
    pub address: Option<String>,
}

/// Replaces the application's parents (they are editable until the form is confirmed).
pub async fn save_parents(
    db: &impl ConnectionTrait,
    application_id: &str,
    parents: &[ParentRecord],
) -> Result<(), PersistenceError> {
    parent::Entity::delete_many().filter(parent::Column::ApplicationId.eq(application_id)).exec(db).await?;
    if parents.is_empty() {
        return Ok(());
    }
    let rows = parents.iter().map(|p| parent::ActiveModel {
        id: Set(new_id()),
        application_id: Set(application_id.to_string()),
        role: Set(p.role.clone()),
        name: Set(p.name.clone()),
        id_type: Set(p.id_type.clone()),
        id_number_enc: Set(p.id_number.sealed.ciphertext.clone()),
        id_number_key_id: Set(p.id_number.sealed.key_id.clone()),
        id_number_bidx: Set(p.id_number.bidx.clone()),
        id_number_masked: Set(p.id_number.masked.clone()),
        nationality: Set(p.nationality.clone()),
        ethnicity: Set(p.ethnicity.clone()),
        phone_enc: Set(p.phone.as_ref().map(|x| x.sealed.ciphertext.clone())),
        phone_key_id: Set(p.phone.as_ref().map(|x| x.sealed.key_id.clone())),
        phone_bidx: Set(p.phone.as_ref().map(|x| x.bidx.clone())),
        phone_masked: Set(p.phone.as_ref().map(|x| x.masked.clone())),
        address: Set(p.address.clone()),
        updated_at: Set(Utc::now()),
    });
    // Both parents in one statement.
    parent::Entity::insert_many(rows).exec_without_returning(db).await?;
    Ok(())
}

pub async fn parents(db: &impl ConnectionTrait, application_id: &str) -> Result<Vec<ParentRecord>, PersistenceError> {
    Ok(parent::Entity::find()
        .filter(parent::Column::ApplicationId.eq(application_id))
        .order_by_desc(parent::Column::Role)
        .all(db)
        .await?
        .into_iter()
        .map(|m| ParentRecord {
            phone: match (m.phone_enc, m.phone_key_id, m.phone_bidx, m.phone_masked) {
                (Some(c), Some(k), Some(b), Some(ma)) => {
                    Some(StoredNumber { sealed: Sealed { key_id: k, ciphertext: c }, bidx: b, masked: ma })
                }
                _ => None,
            },
            role: m.role,
            name: m.name,
            id_type: m.id_type,
            id_number: StoredNumber {
                sealed: Sealed { key_id: m.id_number_key_id, ciphertext: m.id_number_enc },
                bidx: m.id_number_bidx,
                masked: m.id_number_masked,
            },
            nationality: m.nationality,
            ethnicity: m.ethnicity,
            address: m.address,
        })
        .collect())
}
