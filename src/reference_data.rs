//! Loads the reference files under `config/`: the institutions, the holiday calendar and the
//! GB/T 2260 region table.

use std::path::Path;

use serde::Deserialize;

use crate::domain::region::RegionTable;
use crate::domain::{Calendar, Institution, OfficeHours};

#[derive(Debug, thiserror::Error)]
pub enum ReferenceDataError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
}

#[derive(Deserialize)]
struct InstitutionFile {
    institution: Vec<InstitutionEntry>,
}

#[derive(Deserialize)]
struct InstitutionEntry {
    code: String,
    name: String,
    name_en: String,
    office: String,
    phone: String,
    province_code: String,
    region_code: String,
    midwifery_qualified: bool,
    issuer: bool,
    office_hours: Vec<String>,
}

fn read(path: &Path) -> Result<String, ReferenceDataError> {
    std::fs::read_to_string(path)
        .map_err(|source| ReferenceDataError::Read { path: path.display().to_string(), source })
}

pub fn load_institutions(path: &Path) -> Result<Vec<Institution>, ReferenceDataError> {
    let invalid = |reason: String| ReferenceDataError::Invalid { path: path.display().to_string(), reason };
    let file: InstitutionFile = toml::from_str(&read(path)?).map_err(|e| invalid(e.to_string()))?;
    file.institution
        .into_iter()
        .map(|e| {
            let office_hours = OfficeHours::parse(&e.office_hours).map_err(|r| invalid(format!("{}: {r}", e.code)))?;
            Ok(Institution {
                code: e.code,
                name: e.name,
                name_en: e.name_en,
                office: e.office,
                phone: e.phone,
                province_code: e.province_code,
                region_code: e.region_code,
                midwifery_qualified: e.midwifery_qualified,
                issuer: e.issuer,
                office_hours,
            })
        })
        .collect()
}

pub fn load_calendar(path: &Path) -> Result<Calendar, ReferenceDataError> {
    Calendar::from_toml(&read(path)?)
        .map_err(|e| ReferenceDataError::Invalid { path: path.display().to_string(), reason: e.to_string() })
}

pub fn load_regions(path: &Path) -> Result<RegionTable, ReferenceDataError> {
    let table = RegionTable::parse(&read(path)?)
        .map_err(|e| ReferenceDataError::Invalid { path: path.display().to_string(), reason: e.to_string() })?;
    if table.is_empty() {
        return Err(ReferenceDataError::Invalid { path: path.display().to_string(), reason: "no regions".into() });
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pingyin_has_three_issuing_institutions() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/institutions.toml");
        let all = load_institutions(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(all.len(), 3);
        assert!(all.iter().all(|i| i.issuer && i.births_eligible_online()));
        let phones: Vec<&str> = all.iter().map(|i| i.phone.as_str()).collect();
        assert_eq!(phones, ["0531-87888565", "0531-87880938", "0531-87896922"]);
    }
}
