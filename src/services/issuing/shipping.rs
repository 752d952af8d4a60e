//! Shipping: the courier booking for an issued certificate, and the courier's signed events
//! (each applied once) that move the parcel, the certificate and the application.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::application_in;
use super::certificates::{mark_lost, valid_loss_no};
use crate::clients::courier::{Booking, Courier, Recipient};
use crate::crypto::{Field, PersonalDataCipher};
use crate::domain::application::Command;
use crate::domain::certificate::CertificateState;
use crate::domain::region::RegionTable;
use crate::domain::shipment::CourierEventKind;
use crate::persistence::applications;
use crate::persistence::audit::{self, Actor};
use crate::persistence::{certificates, shipments, Db};
use crate::services::lifecycle::{self, Facts, Parcel};
use crate::services::{open_number, ServiceError};

/// What posting a certificate needs: the courier, the sender on the label, the place names.
#[derive(Clone, Copy)]
pub struct Post<'a> {
    pub courier: &'a dyn Courier,
    pub sender: &'a str,
    pub regions: &'a RegionTable,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShipmentView {
    pub carrier: String,
    pub tracking_number: String,
    pub certificate_number: String,
}

/// Books the courier for the issued certificate and tells the family the tracking number. The
/// booking is keyed by the certificate, so a retry after a failure does not book twice.
#[tracing::instrument(skip_all, fields(application_id = %id))]
pub async fn ship(
    db: &Db,
    cipher: &PersonalDataCipher,
    post: Post<'_>,
    officer: &Actor,
    institution: &str,
    id: &str,
) -> Result<ShipmentView, ServiceError> {
    let app = application_in(db, institution, id).await?;
    lifecycle::check(&app, Command::Ship, "shipment")?;
    let certificate = certificates::current_certificate(db, &app.id)
        .await?
        .ok_or_else(|| ServiceError::wrong_state(app.state, "shipment"))?;
    let address = applications::delivery_address(db, &app.id).await?.ok_or_else(|| ServiceError::Conflict {
        code: "no_address",
        message: "the application has no delivery address".into(),
    })?;
    // The label names the place as GB/T 2260 does, before the street address the family gave.
    let place = post.regions.county(&address.region_code).map(|r| r.label()).unwrap_or_default();
    let booked = post
        .courier
        .book(&Booking {
            order_ref: certificate.id.clone(),
            sender: post.sender.to_string(),
            recipient: Recipient {
                name: address.recipient.clone(),
                phone: open_number(cipher, Field::Phone, &address.phone, "recipient phone")?,
                region_code: address.region_code.clone(),
                address: format!("{place}{}", address.address),
            },
            item: "出生医学证明".into(),
        })
        .await
        .map_err(|e| ServiceError::Upstream { service: "courier", source: e.into() })?;
    let txn = crate::persistence::begin(db).await?;
    shipments::insert_shipment(&txn, &app.id, &certificate.id, &booked.carrier, &booked.tracking_number).await?;
    lifecycle::apply(
        &txn,
        officer,
        &app,
        Command::Ship,
        Facts {
            detail: Some(json!({"carrier": booked.carrier, "tracking_number": booked.tracking_number})),
            parcel: Some(Parcel { carrier: booked.carrier.clone(), tracking_number: booked.tracking_number.clone() }),
            ..Facts::default()
        },
    )
    .await?;
    crate::persistence::commit(txn).await?;
    Ok(ShipmentView {
        carrier: booked.carrier,
        tracking_number: booked.tracking_number,
        certificate_number: certificate.number,
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CourierEvent {
    pub tracking_number: String,
    pub event: String,
    /// Unix seconds.
    pub at: i64,
    pub signed_by: Option<String>,
    pub loss_certificate_no: Option<String>,
}

/// Applies a verified courier event once → whether it was new.
#[tracing::instrument(skip_all)]
pub async fn courier_event(db: &Db, event: &CourierEvent, raw: &str) -> Result<bool, ServiceError> {
    let kind = CourierEventKind::parse(&event.event)
        .ok_or_else(|| ServiceError::bad_request("unknown_event", format!("no courier event {:?}", event.event)))?;
    let shipment =
        shipments::shipment_by_tracking(db, &event.tracking_number).await?.ok_or(ServiceError::NotFound("shipment"))?;
    let loss = match kind {
        k if k.is_loss() => Some(valid_loss_no(event.loss_certificate_no.as_deref().unwrap_or_default())?),
        _ => None,
    };
    let actor = Actor { kind: "courier", id: event.tracking_number.clone() };
    let txn = crate::persistence::begin(db).await?;
    if !shipments::record_courier_event(&txn, &event.tracking_number, kind, event.at, raw).await? {
        return Ok(false);
    }
    let app = applications::application(&txn, &shipment.application_id)
        .await?
        .ok_or(ServiceError::NotFound("application"))?;
    let to = kind.shipment_status();
    // A parcel whose certificate is no longer the case's certificate in force (lost and
    // reissued, or voided) is superseded: its events are kept on it and move nothing else.
    let current = certificates::current_certificate(&txn, &app.id).await?;
    if current.as_ref().map(|c| c.id.as_str()) != Some(shipment.certificate_id.as_str()) {
        shipments::move_shipment(&txn, &shipment.id, to, event.signed_by.as_deref()).await?;
        audit::append(
            &txn,
            &actor,
            "courier_event_superseded_shipment",
            "application",
            &app.id,
            json!({"event": kind.as_str(), "tracking_number": shipment.tracking_number}),
        )
        .await?;
        crate::persistence::commit(txn).await?;
        return Ok(true);
    }
    match kind {
        CourierEventKind::Delivered => {
            lifecycle::check(&app, Command::Deliver, "delivery")?;
            shipments::move_shipment(&txn, &shipment.id, to, event.signed_by.as_deref()).await?;
            certificates::move_certificate(&txn, &shipment.certificate_id, CertificateState::Delivered, None, None)
                .await?;
            lifecycle::apply(
                &txn,
                &actor,
                &app,
                Command::Deliver,
                Facts { detail: Some(json!({"signed_by": event.signed_by})), ..Facts::default() },
            )
            .await?;
        }
        CourierEventKind::Lost | CourierEventKind::Damaged | CourierEventKind::Destroyed => {
            let certificates = certificates::certificates_of(&txn, &app.id).await?;
            let certificate = certificates
                .iter()
                .find(|c| c.id == shipment.certificate_id)
                .ok_or(ServiceError::NotFound("certificate"))?;
            shipments::move_shipment(&txn, &shipment.id, to, None).await?;
            mark_lost(&txn, &actor, &app, certificate, loss.unwrap_or_default()).await?;
        }
        CourierEventKind::PickedUp | CourierEventKind::InTransit => {
            // Progress only: the application stays `shipped`; a parcel already delivered or lost
            // does not move back (the life cycle refuses it).
            shipments::move_shipment(&txn, &shipment.id, to, None).await?;
            audit::append(&txn, &actor, "courier_progress", "application", &app.id, json!({"event": kind.as_str()}))
                .await?;
        }
    }
    crate::persistence::commit(txn).await?;
    Ok(true)
}
