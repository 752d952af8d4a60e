//! The first-issuance registration form (出生医学证明首次签发登记表) as it will be printed:
//! the hospital's delivery record, both parents and the institution, plus the newborn's name
//! once confirmed. On confirmation it is frozen; its SHA-256 digest over the canonical JSON
//! (keys sorted) is what the mother's signature and the printed form refer to.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::working_days::to_china;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FormParent {
    pub name: String,
    pub age: Option<u32>,
    pub nationality: String,
    pub ethnicity: String,
    pub id_type: String,
    pub id_number: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegistrationForm {
    pub newborn_name: Option<String>,
    pub baby_sex: String,
    /// Local time to the minute, as printed.
    pub birth_at: String,
    pub birth_place: String,
    pub gestational_weeks: i32,
    pub length_cm: i32,
    pub weight_g: i32,
    pub health_status: String,
    pub mother: FormParent,
    pub father: FormParent,
    pub midwife_name: String,
    pub midwifery_institution: String,
    pub issuing_institution: String,
}

impl RegistrationForm {
    /// Hex SHA-256 of the canonical JSON.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_json().as_bytes()))
    }

    pub fn canonical_json(&self) -> String {
        // serde_json's map is ordered by key, so going through Value sorts every object.
        serde_json::to_value(self).map(|v| v.to_string()).unwrap_or_default()
    }

    /// The same form with ID numbers masked, for the applicant's screen.
    pub fn masked(&self) -> RegistrationForm {
        let mut f = self.clone();
        for p in [&mut f.mother, &mut f.father] {
            p.id_number = super::masking::mask_id_number(&p.id_number);
        }
        f
    }
}

pub fn format_birth_time(at: DateTime<Utc>) -> String {
    to_china(at).format("%Y年%m月%d日%H时%M分").to_string()
}

/// Age in whole years on `on` for someone born on `born`.
pub fn age_on(born: NaiveDate, on: NaiveDate) -> Option<u32> {
    let mut years = on.year() - born.year();
    if (on.month(), on.day()) < (born.month(), born.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn form() -> RegistrationForm {
        let parent = |name: &str| FormParent {
            name: name.into(),
            age: Some(30),
            nationality: "中国".into(),
            ethnicity: "汉族".into(),
            id_type: "resident_id".into(),
            id_number: "37012419950310002X".into(),
        };
        RegistrationForm {
            newborn_name: Some("张小明".into()),
            baby_sex: "male".into(),
            birth_at: format_birth_time(Utc.with_ymd_and_hms(2026, 11, 20, 1, 5, 0).single().expect("time")),
            birth_place: "平阴县人民医院".into(),
            gestational_weeks: 39,
            length_cm: 50,
            weight_g: 3300,
            health_status: "good".into(),
            mother: parent("李梅"),
            father: parent("张伟"),
            midwife_name: "王芳".into(),
            midwifery_institution: "平阴县人民医院".into(),
            issuing_institution: "平阴县人民医院".into(),
        }
    }

    #[test]
    fn digest_is_stable_and_changes_with_any_field() {
        let f = form();
        assert_eq!(f.digest(), f.clone().digest());
        assert_eq!(f.digest().len(), 64);
        let mut g = f.clone();
        g.weight_g = 3301;
        assert_ne!(f.digest(), g.digest());
        assert_eq!(f.birth_at, "2026年11月20日09时05分");
        assert!(f.canonical_json().find("\"baby_sex\"") < f.canonical_json().find("\"birth_at\""));
    }

    #[test]
    fn applicant_copy_is_masked() {
        let m = form().masked();
        assert_eq!(m.mother.id_number, "3701**********002X");
    }

    #[test]
    fn ages() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        assert_eq!(age_on(d("1995-03-10"), d("2026-03-09")), Some(30));
        assert_eq!(age_on(d("1995-03-10"), d("2026-03-10")), Some(31));
    }
}
