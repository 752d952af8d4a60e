//! The officer's search: the institution's applications a term points at. Every lookup is an
//! equality on an indexed column (a blind index for ID numbers, never a scan of decrypted rows),
//! always within one institution.

use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

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
    fn within<T: EntityTrait>(
        column: impl ColumnTrait,
        out: T::Column,
        table: T,
        condition: Condition,
    ) -> sea_orm::sea_query::SimpleExpr {
        column.in_subquery(Query::select().column(out).from(table).cond_where(condition).to_owned())
    }
    let mut any = Condition::any();
    if let Some(id) = keys.case_reference {
        any = any.add(application::Column::Id.eq(id));
    }
    if let Some(name) = keys.name {
        let by_parent = Condition::all().add(parent::Column::Name.eq(name));
        let by_record = Condition::all()
            .add(delivery_record::Column::MotherName.eq(name))
            .add(delivery_record::Column::InstitutionCode.eq(institution));
        any = any.add(within(application::Column::Id, parent::Column::ApplicationId, parent::Entity, by_parent)).add(
            within(application::Column::DeliveryId, delivery_record::Column::Id, delivery_record::Entity, by_record),
        );
    }
    if let Some(bidx) = keys.id_number_bidx {
        let by_parent = Condition::all().add(parent::Column::IdNumberBidx.eq(bidx));
        let by_record = Condition::all().add(delivery_record::Column::MotherIdNumberBidx.eq(bidx));
        any = any.add(within(application::Column::Id, parent::Column::ApplicationId, parent::Entity, by_parent)).add(
            within(application::Column::DeliveryId, delivery_record::Column::Id, delivery_record::Entity, by_record),
        );
    }
    if let Some(number) = keys.number {
        let certificate = Condition::all().add(certificate::Column::Number.eq(number));
        let parcel = Condition::all().add(shipment::Column::TrackingNumber.eq(number));
        any = any
            .add(within(application::Column::Id, certificate::Column::ApplicationId, certificate::Entity, certificate))
            .add(within(application::Column::Id, shipment::Column::ApplicationId, shipment::Entity, parcel));
    }
    if any.is_empty() {
        return Ok(Vec::new());
    }
    application::Entity::find()
        .filter(application::Column::InstitutionCode.eq(institution))
        .filter(any)
        .order_by_desc(application::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(application_from)
        .collect()
}
