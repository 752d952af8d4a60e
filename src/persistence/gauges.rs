//! What operations watches besides HTTP: the queues' backlogs, the overdue reviews, the blank
//! stock, the provincial reporting. Read by `workers::gauges` for `/metrics`.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::{application, certificate_stock, notification, province_report};
use super::PersistenceError;
use crate::domain::application_state::ApplicationState as S;

#[derive(Debug, Clone, Default)]
pub struct BusinessGauges {
    pub outbox_pending: u64,
    pub outbox_oldest_pending_at: Option<DateTime<Utc>>,
    pub province_pending: u64,
    pub province_rejected: u64,
    pub province_last_reported_at: Option<DateTime<Utc>>,
    pub reviews_overdue: u64,
    /// Blank numbers left, per institution that ever received stock.
    pub blank_stock: Vec<(String, i64)>,
}

#[derive(FromQueryResult)]
struct StockLeft {
    institution_code: String,
    n: i64,
}

pub async fn read(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<BusinessGauges, PersistenceError> {
    let pending = notification::Entity::find().filter(notification::Column::State.eq("pending"));
    let outbox_pending = pending.clone().count(db).await?;
    let outbox_oldest_pending_at =
        pending.order_by_asc(notification::Column::Seq).one(db).await?.map(|row| row.created_at);
    let province =
        |state: &'static str| province_report::Entity::find().filter(province_report::Column::State.eq(state));
    let reviews_overdue = application::Entity::find()
        .filter(application::Column::State.eq(S::Submitted.as_str()))
        .filter(application::Column::ReviewDueAt.lt(now))
        .count(db)
        .await?;
    // Institutions with no blank left still show, as 0: that is the alarm.
    let blank_stock = certificate_stock::Entity::find()
        .select_only()
        .column(certificate_stock::Column::InstitutionCode)
        .column_as(sea_orm::sea_query::Expr::cust("SUM(CASE WHEN state = 'blank' THEN 1 ELSE 0 END)"), "n")
        .group_by(certificate_stock::Column::InstitutionCode)
        .into_model::<StockLeft>()
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.institution_code, s.n))
        .collect();
    Ok(BusinessGauges {
        outbox_pending,
        outbox_oldest_pending_at,
        province_pending: province("pending").count(db).await?,
        province_rejected: province("rejected").count(db).await?,
        province_last_reported_at: super::province::last_reported_at(db).await?,
        reviews_overdue,
        blank_stock,
    })
}
