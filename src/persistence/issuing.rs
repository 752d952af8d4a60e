//! What the issuing side stores: hospital corrections, the officer's queue, modification
//! decisions, blank stock, certificates, both registers, shipments and courier events.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};

use super::applicant::{application_from, delivery_from, placeholders, Application, Delivery, DeliveryRecord};
use super::entities::{
    application, certificate, certificate_stock, courier_event, delivery_record, first_issuance_register,
    modification_request, online_issuance_register, shipment,
};
use super::{is_unique_violation, new_id, PersistenceError};
use crate::domain::application_state::ApplicationState as S;

// ---- delivery records ----------------------------------------------------------------------

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
    Ok(())
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

/// States in which the form is frozen: the hospital's record can no longer change under it.
pub const FORM_FROZEN: [S; 8] =
    [S::Confirmed, S::Signed, S::AwaitingPayment, S::Submitted, S::Returned, S::Issued, S::Shipped, S::LostInTransit];

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

// ---- the officer's queue -------------------------------------------------------------------

pub struct QueueFilter<'a> {
    pub institution: &'a str,
    pub states: Vec<&'static str>,
    /// Only overdue (true) or only on time (false).
    pub overdue: Option<bool>,
    pub now: DateTime<Utc>,
    pub offset: u64,
    pub limit: u64,
}

/// Earliest deadline first; applications without a deadline (not yet submitted) last, oldest
/// first. Served by `ix_applications_queue (institution_code, state, review_due_at)`.
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
    let total = q.clone().count(db).await?;
    let page = q
        .order_by_asc(application::Column::ReviewDueAt)
        .order_by_asc(application::Column::CreatedAt)
        .offset(f.offset)
        .limit(f.limit)
        .all(db)
        .await?
        .into_iter()
        .map(application_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((page, total))
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

/// Documents of these kinds stored at or after `since` (re-uploaded after a return).
pub async fn documents_uploaded_since(
    db: &impl ConnectionTrait,
    application_id: &str,
    since: DateTime<Utc>,
) -> Result<Vec<String>, PersistenceError> {
    use super::entities::document;
    Ok(document::Entity::find()
        .filter(document::Column::ApplicationId.eq(application_id))
        .filter(document::Column::SupersededAt.is_null())
        .filter(document::Column::CreatedAt.gte(since))
        .all(db)
        .await?
        .into_iter()
        .map(|d| d.kind)
        .collect())
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

// ---- modification requests -----------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct ModificationRequest {
    pub id: String,
    pub application_id: String,
    pub items: serde_json::Value,
    pub state: String,
    pub decision_note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

fn modification_from(m: modification_request::Model) -> ModificationRequest {
    ModificationRequest {
        id: m.id,
        application_id: m.application_id,
        items: serde_json::from_str(&m.items).unwrap_or_default(),
        state: m.state,
        decision_note: m.decision_note,
        created_at: m.created_at,
        decided_at: m.decided_at,
    }
}

pub async fn modification_requests(
    db: &impl ConnectionTrait,
    institution: &str,
    state: Option<&str>,
) -> Result<Vec<ModificationRequest>, PersistenceError> {
    use sea_orm::sea_query::Query;
    let mut q = modification_request::Entity::find().filter(
        modification_request::Column::ApplicationId.in_subquery(
            Query::select()
                .column(application::Column::Id)
                .from(application::Entity)
                .and_where(application::Column::InstitutionCode.eq(institution))
                .to_owned(),
        ),
    );
    if let Some(state) = state {
        q = q.filter(modification_request::Column::State.eq(state));
    }
    Ok(q.order_by_asc(modification_request::Column::CreatedAt)
        .limit(500)
        .all(db)
        .await?
        .into_iter()
        .map(modification_from)
        .collect())
}

pub async fn modification_request(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<ModificationRequest>, PersistenceError> {
    Ok(modification_request::Entity::find_by_id(id.to_string()).one(db).await?.map(modification_from))
}

/// Records the decision once; false when it was already decided.
pub async fn decide_modification(
    db: &impl ConnectionTrait,
    id: &str,
    approved: bool,
    note: &str,
    officer_id: &str,
) -> Result<bool, PersistenceError> {
    let r = modification_request::Entity::update_many()
        .col_expr(modification_request::Column::State, Expr::value(if approved { "approved" } else { "rejected" }))
        .col_expr(modification_request::Column::DecisionNote, Expr::value(note))
        .col_expr(modification_request::Column::DecidedBy, Expr::value(officer_id))
        .col_expr(modification_request::Column::DecidedAt, Expr::value(Utc::now()))
        .filter(modification_request::Column::Id.eq(id))
        .filter(modification_request::Column::State.eq("pending"))
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

// ---- blank stock ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockEntry {
    pub number: String,
    pub institution_code: String,
    pub state: String,
    pub waste_reason: Option<String>,
}

/// Receives a range; all or nothing (a number already received fails the whole range).
pub async fn receive_stock(
    db: &impl ConnectionTrait,
    institution: &str,
    numbers: &[String],
    received_by: &str,
) -> Result<(), PersistenceError> {
    let now = Utc::now();
    for chunk in numbers.chunks(500) {
        let rows = chunk.iter().map(|n| certificate_stock::ActiveModel {
            number: Set(n.clone()),
            institution_code: Set(institution.to_string()),
            state: Set("blank".into()),
            received_by: Set(received_by.to_string()),
            received_at: Set(now),
            consumed_at: Set(None),
            waste_reason: Set(None),
        });
        match certificate_stock::Entity::insert_many(rows).exec_without_returning(db).await {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(PersistenceError::Conflict("certificate number")),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

pub async fn stock_entry(db: &impl ConnectionTrait, number: &str) -> Result<Option<StockEntry>, PersistenceError> {
    Ok(certificate_stock::Entity::find_by_id(number.to_string()).one(db).await?.map(|s| StockEntry {
        number: s.number,
        institution_code: s.institution_code,
        state: s.state,
        waste_reason: s.waste_reason,
    }))
}

pub async fn next_blank(db: &impl ConnectionTrait, institution: &str) -> Result<Option<String>, PersistenceError> {
    Ok(certificate_stock::Entity::find()
        .filter(certificate_stock::Column::InstitutionCode.eq(institution))
        .filter(certificate_stock::Column::State.eq("blank"))
        .order_by_asc(certificate_stock::Column::Number)
        .one(db)
        .await?
        .map(|s| s.number))
}

pub async fn blank_count(db: &impl ConnectionTrait, institution: &str) -> Result<u64, PersistenceError> {
    Ok(certificate_stock::Entity::find()
        .filter(certificate_stock::Column::InstitutionCode.eq(institution))
        .filter(certificate_stock::Column::State.eq("blank"))
        .count(db)
        .await?)
}

/// Consumes a blank number of this institution once: `issued` or `waste`. False when the
/// number is not a blank of this institution (someone else took it meanwhile).
pub async fn consume_blank(
    db: &impl ConnectionTrait,
    institution: &str,
    number: &str,
    as_state: &str,
    waste_reason: Option<&str>,
) -> Result<bool, PersistenceError> {
    let r = certificate_stock::Entity::update_many()
        .col_expr(certificate_stock::Column::State, Expr::value(as_state))
        .col_expr(certificate_stock::Column::ConsumedAt, Expr::value(Utc::now()))
        .col_expr(certificate_stock::Column::WasteReason, Expr::value(waste_reason.map(str::to_string)))
        .filter(certificate_stock::Column::Number.eq(number))
        .filter(certificate_stock::Column::InstitutionCode.eq(institution))
        .filter(certificate_stock::Column::State.eq("blank"))
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

// ---- certificates --------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub id: String,
    pub number: String,
    pub application_id: String,
    pub institution_code: String,
    pub state: String,
    pub replaces_certificate_id: Option<String>,
    pub loss_certificate_no: Option<String>,
    pub void_reason: Option<String>,
    pub issued_by: String,
    pub issued_at: DateTime<Utc>,
    pub recovered_at: Option<DateTime<Utc>>,
}

fn certificate_from(c: certificate::Model) -> Certificate {
    Certificate {
        id: c.id,
        number: c.number,
        application_id: c.application_id,
        institution_code: c.institution_code,
        state: c.state,
        replaces_certificate_id: c.replaces_certificate_id,
        loss_certificate_no: c.loss_certificate_no,
        void_reason: c.void_reason,
        issued_by: c.issued_by,
        issued_at: c.issued_at,
        recovered_at: c.recovered_at,
    }
}

pub async fn insert_certificate(
    db: &impl ConnectionTrait,
    number: &str,
    app: &Application,
    replaces: Option<&str>,
    issued_by: &str,
    issued_at: DateTime<Utc>,
) -> Result<String, PersistenceError> {
    let id = new_id();
    let r = certificate::Entity::insert(certificate::ActiveModel {
        id: Set(id.clone()),
        number: Set(number.to_string()),
        application_id: Set(app.id.clone()),
        institution_code: Set(app.institution_code.clone()),
        state: Set("issued".into()),
        replaces_certificate_id: Set(replaces.map(str::to_string)),
        loss_certificate_no: Set(None),
        void_reason: Set(None),
        issued_by: Set(issued_by.to_string()),
        issued_at: Set(issued_at),
        recovered_at: Set(None),
    })
    .exec_without_returning(db)
    .await;
    match r {
        Ok(_) => Ok(id),
        Err(e) if is_unique_violation(&e) => Err(PersistenceError::Conflict("certificate number")),
        Err(e) => Err(e.into()),
    }
}

pub async fn certificate_by_number(
    db: &impl ConnectionTrait,
    number: &str,
) -> Result<Option<Certificate>, PersistenceError> {
    Ok(certificate::Entity::find().filter(certificate::Column::Number.eq(number)).one(db).await?.map(certificate_from))
}

pub async fn certificates_of(
    db: &impl ConnectionTrait,
    application_id: &str,
) -> Result<Vec<Certificate>, PersistenceError> {
    Ok(certificate::Entity::find()
        .filter(certificate::Column::ApplicationId.eq(application_id))
        .order_by_asc(certificate::Column::IssuedAt)
        .all(db)
        .await?
        .into_iter()
        .map(certificate_from)
        .collect())
}

/// The newest certificate of the application that is still in force (issued or delivered).
pub async fn current_certificate(
    db: &impl ConnectionTrait,
    application_id: &str,
) -> Result<Option<Certificate>, PersistenceError> {
    Ok(certificate::Entity::find()
        .filter(certificate::Column::ApplicationId.eq(application_id))
        .filter(certificate::Column::State.is_in(["issued", "delivered"]))
        .order_by_desc(certificate::Column::IssuedAt)
        .one(db)
        .await?
        .map(certificate_from))
}

/// Moves a certificate between states once; false when it was not in `from`.
pub async fn move_certificate(
    db: &impl ConnectionTrait,
    id: &str,
    from: &[&str],
    to: &str,
    loss_certificate_no: Option<&str>,
    void_reason: Option<&str>,
) -> Result<bool, PersistenceError> {
    let mut q = certificate::Entity::update_many().col_expr(certificate::Column::State, Expr::value(to));
    if let Some(l) = loss_certificate_no {
        q = q.col_expr(certificate::Column::LossCertificateNo, Expr::value(l));
    }
    if let Some(v) = void_reason {
        q = q.col_expr(certificate::Column::VoidReason, Expr::value(v));
    }
    if to == "recovered" {
        q = q.col_expr(certificate::Column::RecoveredAt, Expr::value(Utc::now()));
    }
    let r = q
        .filter(certificate::Column::Id.eq(id))
        .filter(certificate::Column::State.is_in(from.iter().copied()))
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

// ---- registers -----------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FirstIssuanceEntry {
    pub certificate_number: String,
    pub application_id: String,
    pub institution_code: String,
    pub newborn_name: String,
    pub baby_sex: String,
    pub birth_at: DateTime<Utc>,
    pub mother_name: String,
    pub father_name: String,
    pub issued_by: String,
    pub issued_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OnlineIssuanceEntry {
    pub certificate_number: String,
    pub application_id: String,
    pub institution_code: String,
    pub claimant_relation: String,
    pub out_trade_no: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
    pub issued_by: String,
}

pub async fn write_registers(
    db: &impl ConnectionTrait,
    first: &FirstIssuanceEntry,
    online: &OnlineIssuanceEntry,
) -> Result<(), PersistenceError> {
    first_issuance_register::Entity::insert(first_issuance_register::ActiveModel {
        id: Set(new_id()),
        certificate_number: Set(first.certificate_number.clone()),
        application_id: Set(first.application_id.clone()),
        institution_code: Set(first.institution_code.clone()),
        newborn_name: Set(first.newborn_name.clone()),
        baby_sex: Set(first.baby_sex.clone()),
        birth_at: Set(first.birth_at),
        mother_name: Set(first.mother_name.clone()),
        father_name: Set(first.father_name.clone()),
        issued_by: Set(first.issued_by.clone()),
        issued_at: Set(first.issued_at),
    })
    .exec_without_returning(db)
    .await?;
    online_issuance_register::Entity::insert(online_issuance_register::ActiveModel {
        id: Set(new_id()),
        certificate_number: Set(online.certificate_number.clone()),
        application_id: Set(online.application_id.clone()),
        institution_code: Set(online.institution_code.clone()),
        claimant_relation: Set(online.claimant_relation.clone()),
        out_trade_no: Set(online.out_trade_no.clone()),
        submitted_at: Set(online.submitted_at),
        issued_at: Set(online.issued_at),
        issued_by: Set(online.issued_by.clone()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Where the previous page of a register ended: keyset pagination keeps every page an index
/// range scan, however deep the export goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterCursor {
    pub issued_at: Option<DateTime<Utc>>,
    pub id: String,
}

/// One page of a register after `after`, oldest first; both registers page the same way.
#[allow(clippy::too_many_arguments)]
async fn keyset_page<E: EntityTrait, T: From<E::Model>>(
    db: &impl ConnectionTrait,
    [institution_col, at_col, id_col]: [E::Column; 3],
    key: impl Fn(&E::Model) -> (DateTime<Utc>, String),
    institution: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    after: &RegisterCursor,
    limit: u64,
) -> Result<(Vec<T>, RegisterCursor), PersistenceError> {
    let mut q = E::find().filter(institution_col.eq(institution)).filter(at_col.gte(from)).filter(at_col.lt(to));
    if let Some(at) = after.issued_at {
        q = q.filter(at_col.gt(at).or(at_col.eq(at).and(id_col.gt(after.id.clone()))));
    }
    let rows = q.order_by_asc(at_col).order_by_asc(id_col).limit(limit).all(db).await?;
    let cursor = rows
        .last()
        .map(|r| {
            let (issued_at, id) = key(r);
            RegisterCursor { issued_at: Some(issued_at), id }
        })
        .unwrap_or_else(|| after.clone());
    Ok((rows.into_iter().map(T::from).collect(), cursor))
}

/// A register that can be read page by page for a date range of one institution.
pub trait Register: Sized + serde::Serialize + 'static {
    fn page(
        db: &super::Db,
        institution: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: &RegisterCursor,
        limit: u64,
    ) -> impl std::future::Future<Output = Result<(Vec<Self>, RegisterCursor), PersistenceError>>;
}

impl From<first_issuance_register::Model> for FirstIssuanceEntry {
    fn from(r: first_issuance_register::Model) -> Self {
        FirstIssuanceEntry {
            certificate_number: r.certificate_number,
            application_id: r.application_id,
            institution_code: r.institution_code,
            newborn_name: r.newborn_name,
            baby_sex: r.baby_sex,
            birth_at: r.birth_at,
            mother_name: r.mother_name,
            father_name: r.father_name,
            issued_by: r.issued_by,
            issued_at: r.issued_at,
        }
    }
}

impl From<online_issuance_register::Model> for OnlineIssuanceEntry {
    fn from(r: online_issuance_register::Model) -> Self {
        OnlineIssuanceEntry {
            certificate_number: r.certificate_number,
            application_id: r.application_id,
            institution_code: r.institution_code,
            claimant_relation: r.claimant_relation,
            out_trade_no: r.out_trade_no,
            submitted_at: r.submitted_at,
            issued_at: r.issued_at,
            issued_by: r.issued_by,
        }
    }
}

impl Register for FirstIssuanceEntry {
    async fn page(
        db: &super::Db,
        institution: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: &RegisterCursor,
        limit: u64,
    ) -> Result<(Vec<Self>, RegisterCursor), PersistenceError> {
        use first_issuance_register::{Column as C, Entity};
        let cols = [C::InstitutionCode, C::IssuedAt, C::Id];
        keyset_page::<Entity, _>(db, cols, |r| (r.issued_at, r.id.clone()), institution, from, to, after, limit).await
    }
}

impl Register for OnlineIssuanceEntry {
    async fn page(
        db: &super::Db,
        institution: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: &RegisterCursor,
        limit: u64,
    ) -> Result<(Vec<Self>, RegisterCursor), PersistenceError> {
        use online_issuance_register::{Column as C, Entity};
        let cols = [C::InstitutionCode, C::IssuedAt, C::Id];
        keyset_page::<Entity, _>(db, cols, |r| (r.issued_at, r.id.clone()), institution, from, to, after, limit).await
    }
}

// ---- shipments and courier events ----------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    pub id: String,
    pub application_id: String,
    pub certificate_id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub status: String,
    pub signed_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

fn shipment_from(s: shipment::Model) -> Shipment {
    Shipment {
        id: s.id,
        application_id: s.application_id,
        certificate_id: s.certificate_id,
        carrier: s.carrier,
        tracking_number: s.tracking_number,
        status: s.status,
        signed_by: s.signed_by,
        created_at: s.created_at,
        delivered_at: s.delivered_at,
    }
}

pub async fn insert_shipment(
    db: &impl ConnectionTrait,
    application_id: &str,
    certificate_id: &str,
    carrier: &str,
    tracking_number: &str,
) -> Result<(), PersistenceError> {
    shipment::Entity::insert(shipment::ActiveModel {
        id: Set(new_id()),
        application_id: Set(application_id.to_string()),
        certificate_id: Set(certificate_id.to_string()),
        carrier: Set(carrier.to_string()),
        tracking_number: Set(tracking_number.to_string()),
        status: Set("booked".into()),
        signed_by: Set(None),
        created_at: Set(Utc::now()),
        delivered_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

pub async fn shipment_by_tracking(
    db: &impl ConnectionTrait,
    tracking_number: &str,
) -> Result<Option<Shipment>, PersistenceError> {
    Ok(shipment::Entity::find()
        .filter(shipment::Column::TrackingNumber.eq(tracking_number))
        .one(db)
        .await?
        .map(shipment_from))
}

pub async fn latest_shipment(
    db: &impl ConnectionTrait,
    application_id: &str,
) -> Result<Option<Shipment>, PersistenceError> {
    Ok(shipment::Entity::find()
        .filter(shipment::Column::ApplicationId.eq(application_id))
        .order_by_desc(shipment::Column::CreatedAt)
        .one(db)
        .await?
        .map(shipment_from))
}

pub async fn set_shipment_status(
    db: &impl ConnectionTrait,
    id: &str,
    status: &str,
    signed_by: Option<&str>,
) -> Result<(), PersistenceError> {
    let mut q = shipment::Entity::update_many().col_expr(shipment::Column::Status, Expr::value(status));
    if status == "delivered" {
        q = q
            .col_expr(shipment::Column::SignedBy, Expr::value(signed_by.map(str::to_string)))
            .col_expr(shipment::Column::DeliveredAt, Expr::value(Utc::now()));
    }
    q.filter(shipment::Column::Id.eq(id)).exec(db).await?;
    Ok(())
}

/// Records a courier event once; false when the same event was already received.
pub async fn record_courier_event(
    db: &impl ConnectionTrait,
    tracking_number: &str,
    event: &str,
    event_at: i64,
    body: &str,
) -> Result<bool, PersistenceError> {
    let r = courier_event::Entity::insert(courier_event::ActiveModel {
        id: Set(new_id()),
        tracking_number: Set(tracking_number.to_string()),
        event: Set(event.to_string()),
        event_at: Set(event_at),
        body: Set(body.to_string()),
        received_at: Set(Utc::now()),
    })
    .exec_without_returning(db)
    .await;
    match r {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

// ---- stats ---------------------------------------------------------------------------------

#[derive(Debug, FromQueryResult)]
struct StateCount {
    state: String,
    n: i64,
}

pub async fn counts_per_state(
    db: &impl ConnectionTrait,
    institution: &str,
) -> Result<Vec<(String, i64)>, PersistenceError> {
    let rows = application::Entity::find()
        .select_only()
        .column(application::Column::State)
        .column_as(Expr::col(application::Column::Id).count(), "n")
        .filter(application::Column::InstitutionCode.eq(institution))
        .group_by(application::Column::State)
        .into_model::<StateCount>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.state, r.n)).collect())
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineCounts {
    /// Decided (returned or issued) by the deadline.
    pub met: i64,
    /// Decided after the deadline.
    pub missed: i64,
    /// Still waiting and already past the deadline.
    pub overdue_open: i64,
}

#[derive(Debug, FromQueryResult)]
struct DeadlineRow {
    met: Option<i64>,
    missed: Option<i64>,
}

/// Each review decision (a move out of `submitted`) against the deadline in force: the
/// decision's time is the event's, the deadline the application's latest. One SQL statement;
/// the counting happens in the database.
pub async fn deadline_counts(
    db: &impl ConnectionTrait,
    institution: &str,
    now: DateTime<Utc>,
) -> Result<DeadlineCounts, PersistenceError> {
    let p = placeholders(db, 1);
    let sql = format!(
        "SELECT SUM(CASE WHEN e.at <= a.review_due_at THEN 1 ELSE 0 END) AS met, \
                SUM(CASE WHEN e.at > a.review_due_at THEN 1 ELSE 0 END) AS missed \
         FROM application_events e JOIN applications a ON a.id = e.application_id \
         WHERE a.institution_code = {} AND e.from_state = 'submitted' AND e.to_state IN ('returned', 'issued') \
           AND a.review_due_at IS NOT NULL",
        p[0]
    );
    let row = DeadlineRow::find_by_statement(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [institution.into()],
    ))
    .one(db)
    .await?;
    let overdue_open = application::Entity::find()
        .filter(application::Column::InstitutionCode.eq(institution))
        .filter(application::Column::State.eq(S::Submitted.as_str()))
        .filter(application::Column::ReviewDueAt.lt(now))
        .count(db)
        .await?;
    Ok(DeadlineCounts {
        met: row.as_ref().and_then(|r| r.met).unwrap_or(0),
        missed: row.as_ref().and_then(|r| r.missed).unwrap_or(0),
        overdue_open: i64::try_from(overdue_open).unwrap_or(i64::MAX),
    })
}

// ---- what the officer reads of an application ----------------------------------------------

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
    let Some(a) = application::Entity::find_by_id(application_id.to_string()).one(db).await? else {
        return Ok(None);
    };
    Ok(
        match (
            a.recipient_name,
            a.recipient_phone_enc,
            a.recipient_phone_key_id,
            a.delivery_region_code,
            a.delivery_address,
        ) {
            (Some(recipient), Some(ciphertext), Some(key_id), Some(region_code), Some(address)) => {
                Some(DeliveryAddress {
                    recipient,
                    phone: crate::crypto::Sealed { key_id, ciphertext },
                    region_code,
                    address,
                })
            }
            _ => None,
        },
    )
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

/// The mother's e-signature: the image's SHA-256 and the digest it was bound to.
pub async fn signature_of(
    db: &impl ConnectionTrait,
    application_id: &str,
) -> Result<Option<(String, String, DateTime<Utc>)>, PersistenceError> {
    use super::entities::signature;
    Ok(signature::Entity::find()
        .filter(signature::Column::ApplicationId.eq(application_id))
        .one(db)
        .await?
        .map(|s| (s.image_sha256, s.form_digest, s.signed_at)))
}
