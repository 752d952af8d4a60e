//! The issuing institutions as the public sees them: where to go, whom to call, and whether the
//! office is open now (office hours on working days of the holiday calendar).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ServiceError;
use crate::domain::Calendar;
use crate::persistence::{institutions, Db};

#[derive(Serialize, utoipa::ToSchema)]
pub struct InstitutionView {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub office: String,
    pub phone: String,
    /// Working days only (Monday–Friday, State Council holidays excepted, make-up days included).
    pub office_hours: Vec<String>,
    /// Open at this moment, Asia/Shanghai time.
    pub open_now: bool,
    pub midwifery_qualified: bool,
    pub province_code: String,
}

#[tracing::instrument(skip_all)]
pub async fn list(db: &Db, calendar: &Calendar, now: DateTime<Utc>) -> Result<Vec<InstitutionView>, ServiceError> {
    Ok(institutions::list(db)
        .await?
        .into_iter()
        .map(|i| InstitutionView {
            open_now: i.office_hours.is_open(calendar, now),
            office_hours: i.office_hours.display(),
            code: i.code,
            name: i.name,
            name_en: i.name_en,
            office: i.office,
            phone: i.phone,
            midwifery_qualified: i.midwifery_qualified,
            province_code: i.province_code,
        })
        .collect())
}
