//! The first-issuance and online-issuance registers: written with each certificate, read page
//! by page (keyset pagination).

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::entities::{first_issuance_register, online_issuance_register};
use super::{new_id, PersistenceError};

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

/// The first-issuance register's entry of one number.
pub async fn first_issuance_of(
    db: &impl ConnectionTrait,
    number: &str,
) -> Result<Option<FirstIssuanceEntry>, PersistenceError> {
    Ok(first_issuance_register::Entity::find()
        .filter(first_issuance_register::Column::CertificateNumber.eq(number))
        .one(db)
        .await?
        .map(FirstIssuanceEntry::from))
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
