//! Issuing and midwifery institutions.

use super::working_days::OfficeHours;

/// Shandong's province code (GB/T 2260): the online path is for births in Shandong only.
pub const SHANDONG_PROVINCE_CODE: &str = "37";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Institution {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub office: String,
    pub phone: String,
    pub province_code: String,
    pub region_code: String,
    pub midwifery_qualified: bool,
    pub issuer: bool,
    pub office_hours: OfficeHours,
}

impl Institution {
    /// Eligibility rule 2: a birth in a midwifery-qualified institution in Shandong.
    pub fn births_eligible_online(&self) -> bool {
        self.midwifery_qualified && self.province_code == SHANDONG_PROVINCE_CODE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn institution(province: &str, qualified: bool) -> Institution {
        Institution {
            code: "X".into(),
            name: "x".into(),
            name_en: "x".into(),
            office: "x".into(),
            phone: "x".into(),
            province_code: province.into(),
            region_code: format!("{province}0124"),
            midwifery_qualified: qualified,
            issuer: true,
            office_hours: OfficeHours::parse(&["08:30-12:00"]).unwrap_or_else(|e| panic!("{e}")),
        }
    }

    #[test]
    fn only_qualified_shandong_institutions_count() {
        assert!(institution("37", true).births_eligible_online());
        assert!(!institution("37", false).births_eligible_online());
        assert!(!institution("11", true).births_eligible_online());
    }
}
