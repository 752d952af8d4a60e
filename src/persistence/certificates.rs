//! Blank certificate stock and the certificates issued from it.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, Statement,
};

use super::applications::Application;
use super::corrupt;
use super::entities::{certificate, certificate_stock};
use super::{is_unique_violation, new_id, placeholders, PersistenceError};
use crate::domain::certificate::{CertificateState, StockState};
use crate::domain::LifeCycle;

#[derive(FromQueryResult)]
struct Count {
    n: i64,
}

/// Whether a certificate was ever issued for this delivery (then online first issuance is over).
pub async fn certificate_exists_for_delivery(
    db: &impl ConnectionTrait,
    delivery_id: &str,
) -> Result<bool, PersistenceError> {
    let p: [String; 1] = placeholders(db);
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockEntry {
    pub number: String,
    pub institution_code: String,
    pub state: StockState,
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
            state: Set(StockState::Blank.as_str().into()),
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
    let Some(s) = certificate_stock::Entity::find_by_id(number.to_string()).one(db).await? else {
        return Ok(None);
    };
    Ok(Some(StockEntry {
        state: StockState::parse(&s.state).ok_or_else(|| corrupt("stock number", &s.number, &s.state))?,
        number: s.number,
        institution_code: s.institution_code,
        waste_reason: s.waste_reason,
    }))
}

pub async fn next_blank(db: &impl ConnectionTrait, institution: &str) -> Result<Option<String>, PersistenceError> {
    Ok(certificate_stock::Entity::find()
        .filter(certificate_stock::Column::InstitutionCode.eq(institution))
        .filter(certificate_stock::Column::State.eq(StockState::Blank.as_str()))
        .order_by_asc(certificate_stock::Column::Number)
        .one(db)
        .await?
        .map(|s| s.number))
}

pub async fn blank_count(db: &impl ConnectionTrait, institution: &str) -> Result<u64, PersistenceError> {
    Ok(certificate_stock::Entity::find()
        .filter(certificate_stock::Column::InstitutionCode.eq(institution))
        .filter(certificate_stock::Column::State.eq(StockState::Blank.as_str()))
        .count(db)
        .await?)
}

/// Consumes a blank number of this institution once: `issued` or `waste`. False when the
/// number is not a blank of this institution (someone else took it meanwhile).
pub async fn consume_blank(
    db: &impl ConnectionTrait,
    institution: &str,
    number: &str,
    to: StockState,
    waste_reason: Option<&str>,
) -> Result<bool, PersistenceError> {
    if !StockState::Blank.can_move_to(to) {
        return Ok(false);
    }
    let r = certificate_stock::Entity::update_many()
        .col_expr(certificate_stock::Column::State, Expr::value(to.as_str()))
        .col_expr(certificate_stock::Column::ConsumedAt, Expr::value(Utc::now()))
        .col_expr(certificate_stock::Column::WasteReason, Expr::value(waste_reason.map(str::to_string)))
        .filter(certificate_stock::Column::Number.eq(number))
        .filter(certificate_stock::Column::InstitutionCode.eq(institution))
        .filter(certificate_stock::Column::State.eq(StockState::Blank.as_str()))
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

#[derive(sea_orm::FromQueryResult)]
struct Taken {
    number: String,
}

/// Consumes the institution's lowest blank number for an issuance → it, or None when none is
/// left. Two approvals at once take two numbers: on PostgreSQL the row is taken with `FOR
/// UPDATE SKIP LOCKED`, so a concurrent transaction passes to the next blank instead of
/// colliding on the same one; SQLite's writer holds the database already.
pub async fn take_next_blank(db: &impl ConnectionTrait, institution: &str) -> Result<Option<String>, PersistenceError> {
    use sea_orm::{DbBackend, FromQueryResult, Statement};
    let backend = db.get_database_backend();
    let lock = if backend == DbBackend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
    let [p1, p2] = super::placeholders(db);
    let sql = format!(
        "UPDATE certificate_stock SET state = 'issued', consumed_at = {p1} \
         WHERE number = (SELECT number FROM certificate_stock \
                         WHERE institution_code = {p2} AND state = 'blank' \
                         ORDER BY number LIMIT 1 {lock}) \
         RETURNING number"
    );
    let taken =
        Taken::find_by_statement(Statement::from_sql_and_values(backend, sql, [Utc::now().into(), institution.into()]))
            .one(db)
            .await?;
    Ok(taken.map(|t| t.number))
}

/// A printed number voided for the issuer's error becomes waste (废证) in the stock, with why;
/// false when the number was not an issued one.
pub async fn waste_issued(db: &impl ConnectionTrait, number: &str, reason: &str) -> Result<bool, PersistenceError> {
    let r = certificate_stock::Entity::update_many()
        .col_expr(certificate_stock::Column::State, Expr::value(StockState::Waste.as_str()))
        .col_expr(certificate_stock::Column::WasteReason, Expr::value(reason))
        .filter(certificate_stock::Column::Number.eq(number))
        .filter(certificate_stock::Column::State.eq(StockState::Issued.as_str()))
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub id: String,
    pub number: String,
    pub application_id: String,
    pub institution_code: String,
    pub state: CertificateState,
    pub replaces_certificate_id: Option<String>,
    pub loss_certificate_no: Option<String>,
    pub void_reason: Option<String>,
    pub issued_by: String,
    pub issued_at: DateTime<Utc>,
    pub recovered_at: Option<DateTime<Utc>>,
    pub sealed_by: Option<String>,
    pub sealed_at: Option<DateTime<Utc>>,
}

fn certificate_from(c: certificate::Model) -> Result<Certificate, PersistenceError> {
    Ok(Certificate {
        state: CertificateState::parse(&c.state).ok_or_else(|| corrupt("certificate", &c.number, &c.state))?,
        id: c.id,
        number: c.number,
        application_id: c.application_id,
        institution_code: c.institution_code,
        replaces_certificate_id: c.replaces_certificate_id,
        loss_certificate_no: c.loss_certificate_no,
        void_reason: c.void_reason,
        issued_by: c.issued_by,
        issued_at: c.issued_at,
        recovered_at: c.recovered_at,
        sealed_by: c.sealed_by,
        sealed_at: c.sealed_at,
    })
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
        state: Set(CertificateState::Issued.as_str().into()),
        replaces_certificate_id: Set(replaces.map(str::to_string)),
        loss_certificate_no: Set(None),
        void_reason: Set(None),
        issued_by: Set(issued_by.to_string()),
        issued_at: Set(issued_at),
        recovered_at: Set(None),
        sealed_by: Set(None),
        sealed_at: Set(None),
    })
    .exec_without_returning(db)
    .await;
    match r {
        Ok(_) => Ok(id),
        Err(e) if is_unique_violation(&e) => Err(PersistenceError::Conflict("certificate number")),
        Err(e) => Err(e.into()),
    }
}

/// Records the stamping of the seal, once: false when the certificate was sealed already.
pub async fn seal(
    db: &impl ConnectionTrait,
    number: &str,
    officer_id: &str,
    at: DateTime<Utc>,
) -> Result<bool, PersistenceError> {
    let r = certificate::Entity::update_many()
        .col_expr(certificate::Column::SealedBy, sea_orm::sea_query::Expr::value(officer_id))
        .col_expr(certificate::Column::SealedAt, sea_orm::sea_query::Expr::value(at))
        .filter(certificate::Column::Number.eq(number))
        .filter(certificate::Column::SealedAt.is_null())
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn certificate_by_number(
    db: &impl ConnectionTrait,
    number: &str,
) -> Result<Option<Certificate>, PersistenceError> {
    certificate::Entity::find()
        .filter(certificate::Column::Number.eq(number))
        .one(db)
        .await?
        .map(certificate_from)
        .transpose()
}

/// The number a reissue replaced (the certificate its `replaces_certificate_id` names).
pub async fn number_of(db: &impl ConnectionTrait, certificate_id: &str) -> Result<Option<String>, PersistenceError> {
    Ok(certificate::Entity::find_by_id(certificate_id.to_string()).one(db).await?.map(|c| c.number))
}

pub async fn certificates_of(
    db: &impl ConnectionTrait,
    application_id: &str,
) -> Result<Vec<Certificate>, PersistenceError> {
    certificate::Entity::find()
        .filter(certificate::Column::ApplicationId.eq(application_id))
        .order_by_asc(certificate::Column::IssuedAt)
        .all(db)
        .await?
        .into_iter()
        .map(certificate_from)
        .collect()
}

/// The newest certificate of the application that is still in force (issued or delivered).
pub async fn current_certificate(
    db: &impl ConnectionTrait,
    application_id: &str,
) -> Result<Option<Certificate>, PersistenceError> {
    let in_force = CertificateState::ALL.iter().filter(|s| s.in_force()).map(|s| s.as_str());
    certificate::Entity::find()
        .filter(certificate::Column::ApplicationId.eq(application_id))
        .filter(certificate::Column::State.is_in(in_force))
        .order_by_desc(certificate::Column::IssuedAt)
        .one(db)
        .await?
        .map(certificate_from)
        .transpose()
}

/// Moves a certificate to `to` once, from any state the life cycle allows; false when it was
/// in none of them (already moved, or never allowed).
pub async fn move_certificate(
    db: &impl ConnectionTrait,
    id: &str,
    to: CertificateState,
    loss_certificate_no: Option<&str>,
    void_reason: Option<&str>,
) -> Result<bool, PersistenceError> {
    let mut q = certificate::Entity::update_many().col_expr(certificate::Column::State, Expr::value(to.as_str()));
    if let Some(l) = loss_certificate_no {
        q = q.col_expr(certificate::Column::LossCertificateNo, Expr::value(l));
    }
    if let Some(v) = void_reason {
        q = q.col_expr(certificate::Column::VoidReason, Expr::value(v));
    }
    if to == CertificateState::Recovered {
        q = q.col_expr(certificate::Column::RecoveredAt, Expr::value(Utc::now()));
    }
    let r = q
        .filter(certificate::Column::Id.eq(id))
        .filter(certificate::Column::State.is_in(to.sources().iter().map(|s| s.as_str())))
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Cases whose first certificate was issued in `[from, to)`: (institution, application id), by
/// time of issue.
pub async fn first_issued_between(
    db: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(String, String)>, PersistenceError> {
    let rows = certificate::Entity::find()
        .filter(certificate::Column::ReplacesCertificateId.is_null())
        .filter(certificate::Column::IssuedAt.gte(from))
        .filter(certificate::Column::IssuedAt.lt(to))
        .order_by_asc(certificate::Column::IssuedAt)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|c| (c.institution_code, c.application_id)).collect())
}
