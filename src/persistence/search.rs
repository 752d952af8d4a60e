//! The officer's search: the institution's applications a term points at. Every lookup is an
//! equality on an indexed column (a blind index for ID numbers, never a scan of decrypted rows),
//! always within one institution.

use sea_orm::sea_query::{Alias, Expr, Order, Query, SelectStatement, SimpleExpr, UnionType};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Select};

use super::applications::{application_from, Application};
use super::entities::{application, certificate, delivery_record, parent, shipment};
use super::PersistenceError;

/// What to look for; each present key is matched, the union is answered.
#[derive(Debug, Default)]
pub struct SearchKeys<'a> {
    pub case_reference: Option<&'a str>,
    pub name: Option<&'a str>,
    /// Blind index of an ID number.
    pub id_number_bidx: Option<&'a str>,
    /// A certificate or tracking number.
    pub number: Option<&'a str>,
}

/// The matches, newest first, at most `limit`.
pub async fn search(
    db: &impl ConnectionTrait,
    institution: &str,
    keys: &SearchKeys<'_>,
    limit: u64,
) -> Result<Vec<Application>, PersistenceError> {
    let Some(query) = query(institution, keys, limit) else { return Ok(Vec::new()) };
    query.all(db).await?.into_iter().map(application_from).collect()
}

/// The search's statement (None when no key is given); `examples/province_scale` prints its plan.
///
/// A common name matches thousands of cases (province scale: 5,000 for one name in one
/// institution). The name indexes (`ix_parents_name_application (name, application_id)`,
/// `ix_delivery_records_mother_name_id (mother_name, id)`) say which applications match without
/// reading the rows they point at; each match is then looked up once for its institution and
/// date, the matches are ranked on `(id, created_at)` alone, and whole rows are read only for the
/// `limit` kept.
pub fn query(institution: &str, keys: &SearchKeys<'_>, limit: u64) -> Option<Select<application::Entity>> {
    let app = |c: application::Column| Expr::col((application::Entity, c));
    // The institution's applications meeting `condition`, as (id, created_at).
    let matches = |condition: SimpleExpr| -> SelectStatement {
        Query::select()
            .column((application::Entity, application::Column::Id))
            .column((application::Entity, application::Column::CreatedAt))
            .from(application::Entity)
            .and_where(app(application::Column::InstitutionCode).eq(institution))
            .and_where(condition)
            .to_owned()
    };
    // `table.out` where `table.key = value`.
    fn named_in<T: EntityTrait>(table: T, out: T::Column, key: T::Column, value: &str) -> SelectStatement {
        Query::select().column(out).from(table).and_where(key.eq(value)).to_owned()
    }
    // The applications a row of `table` names by `application_id` where `key = value`.
    let linked = |names: SelectStatement| matches(app(application::Column::Id).in_subquery(names));
    // The applications whose delivery record has `key = value`.
    let by_record = |key: delivery_record::Column, value: &str| {
        matches(app(application::Column::DeliveryId).in_subquery(named_in(
            delivery_record::Entity,
            delivery_record::Column::Id,
            key,
            value,
        )))
    };
    let mut parts: Vec<SelectStatement> = Vec::new();
    if let Some(id) = keys.case_reference {
        parts.push(matches(app(application::Column::Id).eq(id)));
    }
    if let Some(name) = keys.name {
        parts.push(linked(named_in(parent::Entity, parent::Column::ApplicationId, parent::Column::Name, name)));
        parts.push(by_record(delivery_record::Column::MotherName, name));
    }
    if let Some(bidx) = keys.id_number_bidx {
        parts.push(linked(named_in(parent::Entity, parent::Column::ApplicationId, parent::Column::IdNumberBidx, bidx)));
        parts.push(by_record(delivery_record::Column::MotherIdNumberBidx, bidx));
    }
    if let Some(number) = keys.number {
        parts.push(linked(named_in(
            certificate::Entity,
            certificate::Column::ApplicationId,
            certificate::Column::Number,
            number,
        )));
        parts.push(linked(named_in(
            shipment::Entity,
            shipment::Column::ApplicationId,
            shipment::Column::TrackingNumber,
            number,
        )));
    }
    let mut parts = parts.into_iter();
    let mut union = parts.next()?;
    for part in parts {
        union.union(UnionType::Distinct, part);
    }
    let ranked = Alias::new("ranked");
    let newest = Query::select()
        .column((ranked.clone(), application::Column::Id))
        .from_subquery(union, ranked.clone())
        .order_by((ranked, application::Column::CreatedAt), Order::Desc)
        .limit(limit)
        .to_owned();
    Some(
        application::Entity::find()
            .filter(application::Column::Id.in_subquery(newest))
            .order_by_desc(application::Column::CreatedAt),
    )
}
