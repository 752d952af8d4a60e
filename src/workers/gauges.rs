//! The business gauges of `/metrics`, refreshed every `workers.gauges_secs` from the database:
//! what an operator alerts on beside the HTTP counters (a notification queue that grows or
//! ages, provincial reports that wait or were refused, reviews past their deadline, an
//! institution running out of blank certificates).

use prometheus::{IntGauge, IntGaugeVec, Opts, Registry};

use crate::persistence::{gauges, Db, PersistenceError};

pub struct BusinessGauges {
    outbox_pending: IntGauge,
    outbox_oldest_pending_age: IntGauge,
    province_pending: IntGauge,
    province_rejected: IntGauge,
    province_last_reported: IntGauge,
    reviews_overdue: IntGauge,
    blank_stock: IntGaugeVec,
}

impl BusinessGauges {
    /// The gauges, registered in `registry` (the one `/metrics` renders).
    pub fn register(registry: &Registry) -> Result<BusinessGauges, prometheus::Error> {
        let gauge = |name: &str, help: &str| -> Result<IntGauge, prometheus::Error> {
            let g = IntGauge::with_opts(Opts::new(name, help).namespace("birthcert"))?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let blank_stock = IntGaugeVec::new(
            Opts::new("blank_stock", "blank certificate numbers left, per institution").namespace("birthcert"),
            &["institution"],
        )?;
        registry.register(Box::new(blank_stock.clone()))?;
        Ok(BusinessGauges {
            outbox_pending: gauge("outbox_pending", "notifications waiting to be sent")?,
            outbox_oldest_pending_age: gauge(
                "outbox_oldest_pending_age_seconds",
                "age of the oldest notification waiting to be sent (0 when none waits)",
            )?,
            province_pending: gauge("province_reports_pending", "reports waiting for the provincial system")?,
            province_rejected: gauge("province_reports_rejected", "reports the provincial system refused")?,
            province_last_reported: gauge(
                "province_last_report_timestamp_seconds",
                "when the provincial system last acknowledged a report (Unix time; 0 = never)",
            )?,
            reviews_overdue: gauge("reviews_overdue", "submitted applications past their review deadline")?,
            blank_stock,
        })
    }

    /// Reads the figures now and sets the gauges.
    pub async fn refresh(&self, db: &Db) -> Result<(), PersistenceError> {
        let now = chrono::Utc::now();
        let g = gauges::read(db, now).await?;
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.outbox_pending.set(count(g.outbox_pending));
        self.outbox_oldest_pending_age
            .set(g.outbox_oldest_pending_at.map(|at| (now - at).num_seconds().max(0)).unwrap_or(0));
        self.province_pending.set(count(g.province_pending));
        self.province_rejected.set(count(g.province_rejected));
        self.province_last_reported.set(g.province_last_reported_at.map(|at| at.timestamp()).unwrap_or(0));
        self.reviews_overdue.set(count(g.reviews_overdue));
        for (institution, left) in g.blank_stock {
            self.blank_stock.with_label_values(&[institution.as_str()]).set(left);
        }
        Ok(())
    }
}
