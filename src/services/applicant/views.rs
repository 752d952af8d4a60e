//! What the family sees: masked health cards, their delivery records, and each application
//! with its state described, the journey's steps, the timeline, the certificate and the parcel.
//! Nothing here shows a full ID or phone number.

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use super::own_application;
use crate::domain::application_state::ApplicationState as S;
use crate::domain::working_days::to_china;
use crate::persistence::applications::{self, Application};
use crate::persistence::{certificates, deliveries, health_cards, institutions, payments, shipments, Db};
use crate::services::ServiceError;

#[derive(Serialize, utoipa::ToSchema)]
pub struct HealthCardView {
    pub id: String,
    pub name_masked: String,
    pub id_number_masked: String,
}

pub fn card_view(c: &health_cards::HealthCard) -> HealthCardView {
    HealthCardView {
        id: c.id.clone(),
        name_masked: crate::domain::masking::mask_name(&c.name),
        id_number_masked: c.id_number.masked.clone(),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct InstitutionRef {
    pub code: String,
    pub name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub id: String,
    pub institution: InstitutionRef,
    pub birth_at: DateTime<FixedOffset>,
    pub baby_sex: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Step {
    pub step: &'static str,
    pub done: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TimelineView {
    pub kind: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub at: DateTime<FixedOffset>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReturnReasonView {
    /// One of the usual reasons' codes, or `other`.
    pub code: String,
    /// What the family reads.
    pub message: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ShipmentView {
    pub carrier: String,
    pub tracking_number: String,
    /// `booked`, `picked_up`, `in_transit`, `delivered`, `lost`, `damaged` or `destroyed`.
    pub status: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApplicationView {
    pub id: String,
    pub state: String,
    /// What the family reads, with what to do next.
    pub state_description: &'static str,
    pub claimant_relation: String,
    pub institution_code: String,
    pub steps: Vec<Step>,
    pub timeline: Vec<TimelineView>,
    pub review_due_at: Option<DateTime<FixedOffset>>,
    pub eligibility_reasons: Vec<String>,
    /// Why the officer returned it, when it is `returned`.
    pub return_reasons: Vec<ReturnReasonView>,
    pub certificate_number: Option<String>,
    pub shipment: Option<ShipmentView>,
    /// The courier fee: paid, closed unpaid, or on its way back (`refund_pending`, `refunded`).
    pub payment: Option<super::payment::PaymentSummary>,
}

#[tracing::instrument(skip_all)]
pub async fn view(db: &Db, app: Application) -> Result<ApplicationView, ServiceError> {
    // Independent reads at once: every answer about an application carries this view.
    let (events, mut certificates, shipment, orders) = tokio::try_join!(
        applications::timeline(db, &app.id),
        certificates::certificates_of(db, &app.id),
        shipments::latest_shipment(db, &app.id),
        payments::of_application(db, &app.id),
    )?;
    let timeline = events
        .into_iter()
        .map(|e| TimelineView { kind: e.kind, from_state: e.from_state, to_state: e.to_state, at: to_china(e.at) })
        .collect();
    let rank = app.state.progress();
    let certificate = certificates.pop();
    let shipment = shipment.map(|s| ShipmentView {
        carrier: s.carrier,
        tracking_number: s.tracking_number,
        status: s.status.as_str(),
    });
    let text = |v: &serde_json::Value, key: &str| v[key].as_str().unwrap_or_default().to_string();
    let return_reasons = app
        .return_reasons
        .iter()
        .map(|r| ReturnReasonView { code: text(r, "code"), message: text(r, "message") })
        .collect();
    Ok(ApplicationView {
        steps: S::JOURNEY_STEPS.iter().map(|(step, done_at)| Step { step, done: rank >= done_at.progress() }).collect(),
        state_description: app.state.describe(),
        state: app.state.as_str().to_string(),
        review_due_at: app.review_due_at.map(to_china),
        claimant_relation: app.claimant_relation,
        institution_code: app.institution_code,
        eligibility_reasons: app.eligibility_reasons,
        return_reasons,
        certificate_number: certificate.map(|c| c.number),
        shipment,
        payment: super::payment::summary(orders),
        timeline,
        id: app.id,
    })
}

#[tracing::instrument(skip_all)]
pub async fn health_cards(db: &Db, user_id: &str) -> Result<Vec<HealthCardView>, ServiceError> {
    Ok(health_cards::health_cards(db, user_id).await?.iter().map(card_view).collect())
}

/// The delivery records of the mother whose card this user bound; another user's card is
/// "not found".
#[tracing::instrument(skip_all)]
pub async fn deliveries(db: &Db, user_id: &str, health_card_id: &str) -> Result<Vec<DeliveryView>, ServiceError> {
    let card =
        health_cards::health_card(db, user_id, health_card_id).await?.ok_or(ServiceError::NotFound("health card"))?;
    let all = institutions::list(db).await?;
    Ok(deliveries::deliveries_of_mother(db, &card.id_number.bidx)
        .await?
        .into_iter()
        .map(|d| DeliveryView {
            institution: InstitutionRef {
                name: all
                    .iter()
                    .find(|i| i.code == d.record.institution_code)
                    .map(|i| i.name.clone())
                    .unwrap_or_default(),
                code: d.record.institution_code,
            },
            id: d.id,
            birth_at: to_china(d.record.birth_at),
            baby_sex: d.record.baby_sex,
        })
        .collect())
}

#[tracing::instrument(skip_all)]
pub async fn applications(db: &Db, user_id: &str) -> Result<Vec<ApplicationView>, ServiceError> {
    let mut views = Vec::new();
    for app in applications::applications_of(db, user_id).await? {
        views.push(view(db, app).await?);
    }
    Ok(views)
}

#[tracing::instrument(skip_all, fields(application_id = %id))]
pub async fn application(db: &Db, user_id: &str, id: &str) -> Result<ApplicationView, ServiceError> {
    view(db, own_application(db, user_id, id).await?).await
}
