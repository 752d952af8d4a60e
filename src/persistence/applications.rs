//! Applications: their state (moved only through `move_state`, called by
//! `services::lifecycle::apply`), timeline, review clock, frozen form, return, address, and the
//! officer's queue and counts over them.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};

use super::counters::Total;
use super::deliveries::Delivery;
use super::entities::{application, application_event};
use super::{is_unique_violation, new_id, placeholders, PersistenceError, StoredNumber};
use crate::domain::application_state::ApplicationState;
use crate::domain::application_state::ApplicationState as S;

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
    super::search::add_name(db, &id, super::search::RECORD, &delivery.record.mother_name)
        .await
        .map_err(CreateError::Other)?;
    let institution = &delivery.record.institution_code;
    super::counters::add(db, institution, &[(Total::State(ApplicationState::Draft), 1)])
        .await
        .map_err(CreateError::Other)?;
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

/// Moves the application to `to` only if nobody moved it since `app` was read (same state,
/// same version) → the application as it now is (one statement: the row comes back with the
/// update); None when a concurrent request won. The move is audited and put on the timeline in
/// the same transaction. Called only by `services::lifecycle::apply`.
pub async fn move_state(
    txn: &sea_orm::DatabaseTransaction,
    actor: &super::audit::Actor,
    app: &Application,
    to: ApplicationState,
    detail: Option<serde_json::Value>,
) -> Result<Option<Application>, PersistenceError> {
    let from = app.state;
    let moved = application::Entity::update_many()
        .col_expr(application::Column::State, Expr::value(to.as_str()))
        .col_expr(application::Column::Version, Expr::col(application::Column::Version).add(1))
        .col_expr(application::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(application::Column::Id.eq(&app.id))
        .filter(application::Column::State.eq(from.as_str()))
        .filter(application::Column::Version.eq(app.version))
        .exec_with_returning(txn)
        .await?
        .into_iter()
        .next();
    let Some(moved) = moved else {
        return Ok(None);
    };
    let audit_detail = serde_json::json!({"from": from.as_str(), "to": to.as_str(), "detail": detail});
    add_event(txn, &app.id, "state_changed", Some(from), Some(to), detail).await?;
    let mut totals = vec![(Total::State(from), -1), (Total::State(to), 1)];
    // A review decision, against the deadline in force when it is taken.
    if let (true, Some(due)) = (ApplicationState::is_review_decision(from, to), app.review_due_at) {
        totals.push((Total::decision(Utc::now(), due), 1));
    }
    super::counters::add(txn, &app.institution_code, &totals).await?;
    super::audit::append(txn, actor, "state_changed", "application", &app.id, audit_detail).await?;
    application_from(moved).map(Some)
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

/// The live application of a delivery record, if any.
pub async fn live_application_of_delivery(
    db: &impl ConnectionTrait,
    delivery_id: &str,
) -> Result<Option<Application>, PersistenceError> {
    application::Entity::find()
        .filter(application::Column::DeliveryId.eq(delivery_id))
        .filter(application::Column::State.is_not_in([S::Withdrawn.as_str(), S::Ineligible.as_str()]))
        .one(db)
        .await?
        .map(application_from)
        .transpose()
}

pub struct QueueFilter<'a> {
    pub institution: &'a str,
    pub states: &'a [&'static str],
    /// Only overdue (true) or only on time (false).
    pub overdue: Option<bool>,
    pub now: DateTime<Utc>,
    pub offset: u64,
    pub limit: u64,
}

/// Earliest deadline first; applications without a deadline (not yet submitted) last, oldest
/// first. Served by `ix_applications_queue_order (institution_code, state, review_due_at,
/// created_at)`, walked in order.
pub async fn queue(
    db: &impl ConnectionTrait,
    f: &QueueFilter<'_>,
) -> Result<(Vec<Application>, u64), PersistenceError> {
    let mut q = application::Entity::find()
        .filter(application::Column::InstitutionCode.eq(f.institution))
        .filter(application::Column::State.is_in(f.states.iter().copied()));
    match f.overdue {
        Some(true) => q = q.filter(application::Column::ReviewDueAt.lt(f.now)),
        Some(false) => q = q.filter(application::Column::ReviewDueAt.gte(f.now)),
        None => {}
    }
    let page = q
        .clone()
        .order_by_asc(application::Column::ReviewDueAt)
        .order_by_asc(application::Column::CreatedAt)
        .offset(f.offset)
        .limit(f.limit);
    // The count and the page at once: the queue is what officers load all day.
    let (total, page) = tokio::try_join!(q.count(db), page.all(db))?;
    let page = page.into_iter().map(application_from).collect::<Result<Vec<_>, _>>()?;
    Ok((page, total))
}

/// The officer's return: reasons and the documents to redo, kept on the application.
pub async fn set_return(
    db: &impl ConnectionTrait,
    application_id: &str,
    reasons: &serde_json::Value,
    redo_documents: &[String],
) -> Result<(), PersistenceError> {
    application::Entity::update_many()
        .col_expr(application::Column::ReturnReasons, Expr::value(reasons.to_string()))
        .col_expr(
            application::Column::RedoDocuments,
            Expr::value(serde_json::to_string(redo_documents).unwrap_or_default()),
        )
        .filter(application::Column::Id.eq(application_id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn redo_documents(db: &impl ConnectionTrait, application_id: &str) -> Result<Vec<String>, PersistenceError> {
    Ok(application::Entity::find_by_id(application_id.to_string())
        .one(db)
        .await?
        .and_then(|a| a.redo_documents)
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default())
}

/// When the application last entered `state`.
pub async fn last_entered(
    db: &impl ConnectionTrait,
    application_id: &str,
    state: S,
) -> Result<Option<DateTime<Utc>>, PersistenceError> {
    use super::entities::application_event;
    Ok(application_event::Entity::find()
        .filter(application_event::Column::ApplicationId.eq(application_id))
        .filter(application_event::Column::ToState.eq(state.as_str()))
        .order_by_desc(application_event::Column::Seq)
        .one(db)
        .await?
        .map(|e| e.at))
}

/// The deadline watcher: flags submitted applications past their deadline; returns how many
/// were newly flagged.
pub async fn flag_overdue(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, PersistenceError> {
    Ok(application::Entity::update_many()
        .col_expr(application::Column::Overdue, Expr::value(true))
        .filter(application::Column::State.eq(S::Submitted.as_str()))
        .filter(application::Column::ReviewDueAt.lt(now))
        .filter(application::Column::Overdue.eq(false))
        .exec(db)
        .await?
        .rows_affected)
}

pub async fn count_overdue(db: &impl ConnectionTrait) -> Result<u64, PersistenceError> {
    Ok(application::Entity::find()
        .filter(application::Column::State.eq(S::Submitted.as_str()))
        .filter(application::Column::Overdue.eq(true))
        .count(db)
        .await?)
}

/// The institution's submitted applications already past their deadline (an indexed count of
/// the few cases waiting).
pub async fn overdue_open(
    db: &impl ConnectionTrait,
    institution: &str,
    now: DateTime<Utc>,
) -> Result<i64, PersistenceError> {
    let n = application::Entity::find()
        .filter(application::Column::InstitutionCode.eq(institution))
        .filter(application::Column::State.eq(S::Submitted.as_str()))
        .filter(application::Column::ReviewDueAt.lt(now))
        .count(db)
        .await?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The institution's cases waiting for review that fall due in [now, day_end) (the day's work)
/// and that are already past due → (due today, overdue).
pub async fn due_counts(
    db: &impl ConnectionTrait,
    institution: &str,
    now: DateTime<Utc>,
    day_end: DateTime<Utc>,
) -> Result<(u64, u64), PersistenceError> {
    let waiting = || {
        application::Entity::find()
            .filter(application::Column::InstitutionCode.eq(institution))
            .filter(application::Column::State.eq(S::Submitted.as_str()))
    };
    let due_today = waiting()
        .filter(application::Column::ReviewDueAt.gte(now))
        .filter(application::Column::ReviewDueAt.lt(day_end))
        .count(db)
        .await?;
    let overdue = waiting().filter(application::Column::ReviewDueAt.lt(now)).count(db).await?;
    Ok((due_today, overdue))
}

#[derive(Debug, FromQueryResult)]
struct DayCount {
    day: String,
    n: i64,
}

/// How many of the institution's applications were started on each China day since `since`
/// (days without any are absent), counted in the database.
pub async fn started_per_day(
    db: &impl ConnectionTrait,
    institution: &str,
    since: DateTime<Utc>,
) -> Result<Vec<(chrono::NaiveDate, i64)>, PersistenceError> {
    let p: [String; 2] = placeholders(db);
    let day = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => {
            "to_char(created_at AT TIME ZONE 'UTC' + interval '8 hours', 'YYYY-MM-DD')"
        }
        _ => "date(created_at, '+8 hours')",
    };
    let sql = format!(
        "SELECT {day} AS day, COUNT(*) AS n FROM applications \
         WHERE institution_code = {} AND created_at >= {} GROUP BY 1",
        p[0], p[1]
    );
    let rows = DayCount::find_by_statement(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [institution.into(), since.into()],
    ))
    .all(db)
    .await?;
    rows.into_iter()
        .map(|r| {
            let day = chrono::NaiveDate::parse_from_str(&r.day, "%Y-%m-%d")
                .map_err(|e| PersistenceError::Corrupt(format!("day {:?}: {e}", r.day)))?;
            Ok((day, r.n))
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct DeliveryAddress {
    pub recipient: String,
    pub phone: crate::crypto::Sealed,
    pub region_code: String,
    pub address: String,
}

pub async fn delivery_address(
    db: &impl ConnectionTrait,
    application_id: &str,
) -> Result<Option<DeliveryAddress>, PersistenceError> {
    Ok(application::Entity::find_by_id(application_id.to_string()).one(db).await?.as_ref().and_then(address_of))
}

fn address_of(a: &application::Model) -> Option<DeliveryAddress> {
    match (
        &a.recipient_name,
        &a.recipient_phone_enc,
        &a.recipient_phone_key_id,
        &a.delivery_region_code,
        &a.delivery_address,
    ) {
        (Some(recipient), Some(ciphertext), Some(key_id), Some(region_code), Some(address)) => Some(DeliveryAddress {
            recipient: recipient.clone(),
            phone: crate::crypto::Sealed { key_id: key_id.clone(), ciphertext: ciphertext.clone() },
            region_code: region_code.clone(),
            address: address.clone(),
        }),
        _ => None,
    }
}

/// An application with the rest of its row that the case page shows: the delivery address and
/// the frozen form (sealed) with its digest. One read where there were three.
pub struct CaseRow {
    pub application: Application,
    pub address: Option<DeliveryAddress>,
    pub frozen_form: Option<(String, String)>,
}

pub async fn case_row(db: &impl ConnectionTrait, id: &str) -> Result<Option<CaseRow>, PersistenceError> {
    let Some(model) = application::Entity::find_by_id(id.to_string()).one(db).await? else {
        return Ok(None);
    };
    let address = address_of(&model);
    let frozen_form = model.form_snapshot.clone().zip(model.form_digest.clone());
    Ok(Some(CaseRow { application: application_from(model)?, address, frozen_form }))
}

/// When the application was (last) submitted, and the order that paid for it.
pub async fn submission(
    db: &impl ConnectionTrait,
    application_id: &str,
) -> Result<(Option<DateTime<Utc>>, Option<String>), PersistenceError> {
    use super::entities::payment;
    let submitted_at =
        application::Entity::find_by_id(application_id.to_string()).one(db).await?.and_then(|a| a.submitted_at);
    let paid = payment::Entity::find()
        .filter(payment::Column::ApplicationId.eq(application_id))
        .filter(payment::Column::State.eq("paid"))
        .one(db)
        .await?
        .map(|p| p.out_trade_no);
    Ok((submitted_at, paid))
}

/// Freezes the form: written once, never updated (the filter refuses a second freeze).
pub async fn freeze_form(
    db: &impl ConnectionTrait,
    application_id: &str,
    newborn_name: &str,
    snapshot: &str,
    digest: &str,
) -> Result<bool, PersistenceError> {
    let r = application::Entity::update_many()
        .col_expr(application::Column::NewbornName, Expr::value(newborn_name))
        .col_expr(application::Column::FormSnapshot, Expr::value(snapshot))
        .col_expr(application::Column::FormDigest, Expr::value(digest))
        .col_expr(application::Column::ConfirmedAt, Expr::value(Utc::now()))
        .filter(application::Column::Id.eq(application_id))
        .filter(application::Column::FormDigest.is_null())
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn frozen_form(
    db: &impl ConnectionTrait,
    application_id: &str,
) -> Result<Option<(String, String)>, PersistenceError> {
    Ok(application::Entity::find_by_id(application_id.to_string())
        .one(db)
        .await?
        .and_then(|a| a.form_snapshot.zip(a.form_digest)))
}

pub async fn set_address(
    db: &impl ConnectionTrait,
    application_id: &str,
    recipient: &str,
    phone: &StoredNumber,
    region_code: &str,
    address: &str,
    fee_fen: i32,
) -> Result<(), PersistenceError> {
    application::Entity::update_many()
        .col_expr(application::Column::RecipientName, Expr::value(recipient))
        .col_expr(application::Column::RecipientPhoneEnc, Expr::value(phone.sealed.ciphertext.clone()))
        .col_expr(application::Column::RecipientPhoneKeyId, Expr::value(phone.sealed.key_id.clone()))
        .col_expr(application::Column::RecipientPhoneBidx, Expr::value(phone.bidx.clone()))
        .col_expr(application::Column::RecipientPhoneMasked, Expr::value(phone.masked.clone()))
        .col_expr(application::Column::DeliveryRegionCode, Expr::value(region_code))
        .col_expr(application::Column::DeliveryAddress, Expr::value(address))
        .col_expr(application::Column::CourierFeeFen, Expr::value(fee_fen))
        .filter(application::Column::Id.eq(application_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The courier fee set with the address, if given.
pub async fn courier_fee(db: &impl ConnectionTrait, application_id: &str) -> Result<Option<i32>, PersistenceError> {
    Ok(application::Entity::find_by_id(application_id.to_string()).one(db).await?.and_then(|a| a.courier_fee_fen))
}
