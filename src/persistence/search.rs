//! The officer's search: the institution's applications a term points at. Every lookup is an
//! equality on an indexed column (a blind index for ID numbers, never a scan of decrypted rows),
//! always within one institution.

use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

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
    // `column IN (SELECT out FROM table WHERE ...)`, one per place a key can be found.
    use sea_orm::sea_query::{Expr, SelectStatement, UnionType};
    // Each key names application ids; one IN over their UNION lets the database look each key up
    // by its index and fetch the few cases by primary key (an OR of IN-subqueries scans the
    // applications table instead).
    fn ids_of<T: EntityTrait>(table: T, out: T::Column, key: impl ColumnTrait, value: &str) -> SelectStatement {
        Query::select().column(out).from(table).and_where(key.eq(value)).to_owned()
    }
    fn ids_by_record(key: delivery_record::Column, value: &str, institution: &str) -> SelectStatement {
        Query::select()
            .column((application::Entity, application::Column::Id))
            .from(application::Entity)
            .inner_join(
                delivery_record::Entity,
                Expr::col((delivery_record::Entity, delivery_record::Column::Id))
                    .equals((application::Entity, application::Column::DeliveryId)),
            )
            .and_where(Expr::col((delivery_record::Entity, key)).eq(value))
            .and_where(Expr::col((delivery_record::Entity, delivery_record::Column::InstitutionCode)).eq(institution))
            .to_owned()
    }
    let mut parts: Vec<SelectStatement> = Vec::new();
    if let Some(id) = keys.case_reference {
        parts.push(ids_of(application::Entity, application::Column::Id, application::Column::Id, id));
    }
    if let Some(name) = keys.name {
        parts.push(ids_of(parent::Entity, parent::Column::ApplicationId, parent::Column::Name, name));
        parts.push(ids_by_record(delivery_record::Column::MotherName, name, institution));
    }
    if let Some(bidx) = keys.id_number_bidx {
        parts.push(ids_of(parent::Entity, parent::Column::ApplicationId, parent::Column::IdNumberBidx, bidx));
        parts.push(ids_by_record(delivery_record::Column::MotherIdNumberBidx, bidx, institution));
    }
    if let Some(number) = keys.number {
        parts.push(ids_of(
            certificate::Entity,
            certificate::Column::ApplicationId,
            certificate::Column::Number,
            number,
        ));
        parts.push(ids_of(shipment::Entity, shipment::Column::ApplicationId, shipment::Column::TrackingNumber, number));
    }
    let mut parts = parts.into_iter();
    let Some(mut ids) = parts.next() else { return Ok(Vec::new()) };
    for part in parts {
        ids.union(UnionType::Distinct, part);
    }
    application::Entity::find()
        .filter(application::Column::InstitutionCode.eq(institution))
        .filter(application::Column::Id.in_subquery(ids))
        .order_by_desc(application::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(application_from)
        .collect()
}
