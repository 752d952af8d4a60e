//! The issuing institutions, loaded from `config/institutions.toml` at start-up.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, QueryOrder};

use super::entities::institution;
use super::PersistenceError;
use crate::domain::{Institution, OfficeHours};

/// Brings the table in line with `config/institutions.toml` (insert or update by code).
pub async fn upsert_all(db: &impl ConnectionTrait, institutions: &[Institution]) -> Result<(), PersistenceError> {
    let now = Utc::now();
    for i in institutions {
        let model = institution::ActiveModel {
            code: Set(i.code.clone()),
            name: Set(i.name.clone()),
            name_en: Set(i.name_en.clone()),
            office: Set(i.office.clone()),
            phone: Set(i.phone.clone()),
            province_code: Set(i.province_code.clone()),
            region_code: Set(i.region_code.clone()),
            midwifery_qualified: Set(i.midwifery_qualified),
            issuer: Set(i.issuer),
            office_hours: Set(serde_json::to_string(&i.office_hours.display()).unwrap_or_else(|_| "[]".into())),
            updated_at: Set(now),
        };
        institution::Entity::insert(model)
            .on_conflict(
                OnConflict::column(institution::Column::Code)
                    .update_columns([
                        institution::Column::Name,
                        institution::Column::NameEn,
                        institution::Column::Office,
                        institution::Column::Phone,
                        institution::Column::ProvinceCode,
                        institution::Column::RegionCode,
                        institution::Column::MidwiferyQualified,
                        institution::Column::Issuer,
                        institution::Column::OfficeHours,
                        institution::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(db)
            .await?;
    }
    Ok(())
}

pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<Institution>, PersistenceError> {
    institution::Entity::find()
        .order_by_asc(institution::Column::Code)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

pub async fn get(db: &impl ConnectionTrait, code: &str) -> Result<Option<Institution>, PersistenceError> {
    institution::Entity::find_by_id(code.to_string()).one(db).await?.map(to_domain).transpose()
}

fn to_domain(m: institution::Model) -> Result<Institution, PersistenceError> {
    let hours: Vec<String> = serde_json::from_str(&m.office_hours)
        .map_err(|e| PersistenceError::Corrupt(format!("institution {} office hours: {e}", m.code)))?;
    let office_hours = OfficeHours::parse(&hours).map_err(PersistenceError::Corrupt)?;
    Ok(Institution {
        code: m.code,
        name: m.name,
        name_en: m.name_en,
        office: m.office,
        phone: m.phone,
        province_code: m.province_code,
        region_code: m.region_code,
        midwifery_qualified: m.midwifery_qualified,
        issuer: m.issuer,
        office_hours,
    })
}
