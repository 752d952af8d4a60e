//! The officer's search: the institution's applications a term points at. Every lookup is an
//! equality on an indexed column (a blind index for ID numbers, never a scan of decrypted rows),
//! always within one institution.

use sea_orm::sea_query::{Expr, Query};
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
    let mut any = Condition::any();
    if let Some(id) = keys.case_reference {
        any = any.add(application::Column::Id.eq(id));
    }
    if let Some(name) = keys.name {
        any = any
            .add(
                application::Column::Id.in_subquery(
                    Query::select()
                        .column(parent::Column::ApplicationId)
                        .from(parent::Entity)
                        .and_where(parent::Column::Name.eq(name))
                        .to_owned(),
                ),
            )
            .add(
                application::Column::DeliveryId.in_subquery(
                    Query::select()
                        .column(delivery_record::Column::Id)
                        .from(delivery_record::Entity)
                        .and_where(delivery_record::Column::MotherName.eq(name))
                        .and_where(delivery_record::Column::InstitutionCode.eq(institution))
                        .to_owned(),
                ),
            );
    }
    if let Some(bidx) = keys.id_number_bidx {
        any = any
            .add(
                application::Column::Id.in_subquery(
                    Query::select()
                        .column(parent::Column::ApplicationId)
                        .from(parent::Entity)
                        .and_where(parent::Column::IdNumberBidx.eq(bidx))
                        .to_owned(),
                ),
            )
            .add(
                application::Column::DeliveryId.in_subquery(
                    Query::select()
                        .column(delivery_record::Column::Id)
                        .from(delivery_record::Entity)
                        .and_where(delivery_record::Column::MotherIdNumberBidx.eq(bidx))
                        .to_owned(),
                ),
            );
    }
    if let Some(number) = keys.number {
        any = any
            .add(
                application::Column::Id.in_subquery(
                    Query::select()
                        .column(certificate::Column::ApplicationId)
                        .from(certificate::Entity)
                        .and_where(certificate::Column::Number.eq(number))
                        .to_owned(),
                ),
            )
            .add(
                application::Column::Id.in_subquery(
                    Query::select()
                        .column(shipment::Column::ApplicationId)
                        .from(shipment::Entity)
                        .and_where(Expr::col(shipment::Column::TrackingNumber).eq(number))
                        .to_owned(),
                ),
            );
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
