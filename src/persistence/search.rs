//! The officer's search: the institution's applications a term points at. Every lookup is an
//! equality on an indexed column (a blind index for ID numbers, never a scan of decrypted rows),
//! always within one institution.

use sea_orm::sea_query::{Alias, Asterisk, Expr, Order, Query, SelectStatement, SimpleExpr, UnionType};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Select};

use super::applications::{application_from, Application};
use super::entities::{application, certificate, delivery_record, parent, search_name, shipment};
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
/// institution). Names are looked up in `search_names`, whose index is ordered as the search asks
/// (institution, name, newest first): the newest matches are the first entries of one index
/// range, however many share the name. A case can be there up to three times under one name
/// (mother, father, the hospital's record), so `SOURCES` times the limit are taken before the
/// union makes them distinct. The other keys are rare by nature (a blind index, a number) and
/// are looked up through their own indexes. Whole rows are read only for the `limit` kept.
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
        let newest_named = Query::select()
            .expr_as(Expr::col(search_name::Column::ApplicationId), application::Column::Id)
            .column(search_name::Column::CreatedAt)
            .from(search_name::Entity)
            .and_where(search_name::Column::InstitutionCode.eq(institution))
            .and_where(search_name::Column::Name.eq(name))
            .order_by(search_name::Column::CreatedAt, Order::Desc)
            .limit(limit.saturating_mul(SOURCES.len() as u64))
            .to_owned();
        // A subquery, because neither database takes a LIMIT inside one arm of a UNION; distinct,
        // because it may be the only arm.
        parts.push(
            Query::select().distinct().column(Asterisk).from_subquery(newest_named, Alias::new("named")).to_owned(),
        );
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

/// Where a name the search finds a case by comes from: the parents' form, by role, or the
/// hospital's delivery record (the mother as recorded).
const SOURCES: [&str; 3] = [PARENTS[0], PARENTS[1], RECORD];
/// The parents' form, by role.
pub(super) const PARENTS: [&str; 2] = ["mother", "father"];
/// The delivery record's mother.
pub(super) const RECORD: &str = "record";

/// The case is found by `name` from `source` from now on (in the caller's transaction, beside
/// the write of the name itself). Its institution and date are copied from the application.
pub(super) async fn add_name(
    db: &impl ConnectionTrait,
    application_id: &str,
    source: &str,
    name: &str,
) -> Result<(), PersistenceError> {
    use search_name::Column as S;
    let from_application = Query::select()
        .column(application::Column::Id)
        .expr(Expr::val(source))
        .column(application::Column::InstitutionCode)
        .expr(Expr::val(name))
        .column(application::Column::CreatedAt)
        .from(application::Entity)
        .and_where(application::Column::Id.eq(application_id))
        .to_owned();
    let insert = Query::insert()
        .into_table(search_name::Entity)
        .columns([S::ApplicationId, S::Source, S::InstitutionCode, S::Name, S::CreatedAt])
        .select_from(from_application)
        .map_err(|e| sea_orm::DbErr::Custom(format!("search name: {e}")))?
        .to_owned();
    db.execute(db.get_database_backend().build(&insert)).await?;
    Ok(())
}

/// The case is no longer found by the names from `sources` (a parent replaced or erased).
pub(super) async fn remove_names(
    db: &impl ConnectionTrait,
    application_id: &str,
    sources: &[&str],
) -> Result<(), PersistenceError> {
    search_name::Entity::delete_many()
        .filter(search_name::Column::ApplicationId.eq(application_id))
        .filter(search_name::Column::Source.is_in(sources.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// The hospital corrected the mother's name on a delivery record: every case made from it is
/// found by the new name.
pub(super) async fn rename_record(
    db: &impl ConnectionTrait,
    delivery_id: &str,
    name: &str,
) -> Result<(), PersistenceError> {
    let of_delivery = Query::select()
        .column(application::Column::Id)
        .from(application::Entity)
        .and_where(application::Column::DeliveryId.eq(delivery_id))
        .to_owned();
    search_name::Entity::update_many()
        .col_expr(search_name::Column::Name, Expr::value(name))
        .filter(search_name::Column::Source.eq(RECORD))
        .filter(search_name::Column::ApplicationId.in_subquery(of_delivery))
        .exec(db)
        .await?;
    Ok(())
}
