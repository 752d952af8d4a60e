//! Parcels booked with the courier, and the courier's events (each recorded once).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::corrupt;
use super::entities::{courier_event, shipment};
use super::{is_unique_violation, new_id, PersistenceError};
use crate::domain::shipment::{CourierEventKind, ShipmentStatus};
use crate::domain::LifeCycle;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    pub id: String,
    pub application_id: String,
    pub certificate_id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub status: ShipmentStatus,
    pub signed_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

fn shipment_from(s: shipment::Model) -> Result<Shipment, PersistenceError> {
    Ok(Shipment {
        status: ShipmentStatus::parse(&s.status).ok_or_else(|| corrupt("shipment", &s.tracking_number, &s.status))?,
        id: s.id,
        application_id: s.application_id,
        certificate_id: s.certificate_id,
        carrier: s.carrier,
        tracking_number: s.tracking_number,
        signed_by: s.signed_by,
        created_at: s.created_at,
        delivered_at: s.delivered_at,
    })
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
        status: Set(ShipmentStatus::Booked.as_str().into()),
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
    shipment::Entity::find()
        .filter(shipment::Column::TrackingNumber.eq(tracking_number))
        .one(db)
        .await?
        .map(shipment_from)
        .transpose()
}

pub async fn latest_shipment(
    db: &impl ConnectionTrait,
    application_id: &str,
) -> Result<Option<Shipment>, PersistenceError> {
    shipment::Entity::find()
        .filter(shipment::Column::ApplicationId.eq(application_id))
        .order_by_desc(shipment::Column::CreatedAt)
        .one(db)
        .await?
        .map(shipment_from)
        .transpose()
}

/// Moves a parcel to `to` once, from any state its life cycle allows; false otherwise (it was
/// delivered or lost already).
pub async fn move_shipment(
    db: &impl ConnectionTrait,
    id: &str,
    to: ShipmentStatus,
    signed_by: Option<&str>,
) -> Result<bool, PersistenceError> {
    let mut q = shipment::Entity::update_many().col_expr(shipment::Column::Status, Expr::value(to.as_str()));
    if to == ShipmentStatus::Delivered {
        q = q
            .col_expr(shipment::Column::SignedBy, Expr::value(signed_by.map(str::to_string)))
            .col_expr(shipment::Column::DeliveredAt, Expr::value(Utc::now()));
    }
    let r = q
        .filter(shipment::Column::Id.eq(id))
        .filter(shipment::Column::Status.is_in(to.sources().iter().map(|s| s.as_str())))
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Records a courier event once; false when the same event was already received.
pub async fn record_courier_event(
    db: &impl ConnectionTrait,
    tracking_number: &str,
    event: CourierEventKind,
    event_at: i64,
    body: &str,
) -> Result<bool, PersistenceError> {
    let r = courier_event::Entity::insert(courier_event::ActiveModel {
        id: Set(new_id()),
        tracking_number: Set(tracking_number.to_string()),
        event: Set(event.as_str().to_string()),
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
