//! Who may apply online (DESIGN §3), as reasons the mini-program can show. All failing rules
//! are reported together, so a family learns everything at once.

use super::resident_id::{Holder, ResidentId, ResidentIdError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdType {
    ResidentId,
    HkMacaoPermit,
    TaiwanPermit,
    Passport,
    ForeignPermanentResidenceId,
}

impl IdType {
    pub fn parse(s: &str) -> Option<IdType> {
        Some(match s {
            "resident_id" => IdType::ResidentId,
            "hk_macao_permit" => IdType::HkMacaoPermit,
            "taiwan_permit" => IdType::TaiwanPermit,
            "passport" => IdType::Passport,
            "foreign_permanent_residence_id" => IdType::ForeignPermanentResidenceId,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IdType::ResidentId => "resident_id",
            IdType::HkMacaoPermit => "hk_macao_permit",
            IdType::TaiwanPermit => "taiwan_permit",
            IdType::Passport => "passport",
            IdType::ForeignPermanentResidenceId => "foreign_permanent_residence_id",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdDocumentError {
    #[error(transparent)]
    ResidentId(#[from] ResidentIdError),
    #[error("the document number has the wrong format")]
    Format,
}

impl IdDocumentError {
    pub fn code(self) -> &'static str {
        match self {
            IdDocumentError::ResidentId(e) => e.code(),
            IdDocumentError::Format => "format",
        }
    }
}

/// A checked identity document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdDocument {
    pub id_type: IdType,
    /// Canonical form (upper case, trimmed).
    pub number: String,
    /// For the 18-character formats: who the number says holds it.
    pub holder: Option<Holder>,
}

impl IdDocument {
    /// Full checks for the 18-character formats (GB 11643 layout with MOD 11-2); format checks
    /// for passports and the card-style permits.
    pub fn parse(id_type: IdType, number: &str) -> Result<IdDocument, IdDocumentError> {
        let n = number.trim().to_ascii_uppercase();
        let alnum =
            |min: usize, max: usize| (min..=max).contains(&n.len()) && n.chars().all(|c| c.is_ascii_alphanumeric());
        let holder = match id_type {
            IdType::ResidentId => Some(ResidentId::parse(&n)?.holder()),
            IdType::ForeignPermanentResidenceId if n.len() == 18 => {
                let id = ResidentId::parse(&n)?;
                if id.holder() != Holder::ForeignPermanentResident {
                    return Err(IdDocumentError::Format);
                }
                Some(Holder::ForeignPermanentResident)
            }
            // The 15-character card of 2004–2023.
            IdType::ForeignPermanentResidenceId if alnum(15, 15) => None,
            // 18-character residence permits share the resident-ID layout.
            IdType::HkMacaoPermit | IdType::TaiwanPermit if n.len() == 18 => Some(ResidentId::parse(&n)?.holder()),
            // Travel permits: H/M + 8 or 10 digits; Taiwan: 8 or 10 digits.
            IdType::HkMacaoPermit
                if (n.starts_with('H') || n.starts_with('M'))
                    && matches!(n.len(), 9 | 11)
                    && n[1..].chars().all(|c| c.is_ascii_digit()) =>
            {
                None
            }
            IdType::TaiwanPermit if matches!(n.len(), 8 | 10) && n.chars().all(|c| c.is_ascii_digit()) => None,
            IdType::Passport if alnum(5, 17) => None,
            _ => return Err(IdDocumentError::Format),
        };
        Ok(IdDocument { id_type, number: n, holder })
    }

    /// Rule 4: a mainland resident ID, not a permit or foreign document.
    pub fn is_mainland_resident_id(&self) -> bool {
        self.id_type == IdType::ResidentId && self.holder == Some(Holder::MainlandResident)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    NotFirstIssuance,
    ApplicationExists,
    InstitutionNotEligible,
    SingleParent,
    ParentNotMainlandResident,
    MotherMismatch,
    ThirdSurname,
    InvalidName,
    FaceAttemptsExhausted,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::NotFirstIssuance => "not_first_issuance",
            Reason::ApplicationExists => "application_exists",
            Reason::InstitutionNotEligible => "institution_not_eligible",
            Reason::SingleParent => "single_parent",
            Reason::ParentNotMainlandResident => "parent_not_mainland_resident",
            Reason::MotherMismatch => "mother_mismatch",
            Reason::ThirdSurname => "third_surname",
            Reason::InvalidName => "invalid_name",
            Reason::FaceAttemptsExhausted => "face_attempts_exhausted",
        }
    }

    /// What the family reads: why, and what to do instead.
    pub fn message(self) -> &'static str {
        match self {
            Reason::NotFirstIssuance => {
                "该新生儿已签发过出生医学证明，网上仅办理首次签发；换发、补发请到签发机构现场办理。"
            }
            Reason::ApplicationExists => "该分娩记录已有正在办理的申请，请勿重复申请。",
            Reason::InstitutionNotEligible => {
                "网上仅办理在山东省具有助产资质的医疗机构出生的新生儿，请到签发机构现场办理。"
            }
            Reason::SingleParent => "网上办理需同时填写父亲和母亲的信息；单亲家庭请到签发机构现场办理。",
            Reason::ParentNotMainlandResident => {
                "网上办理要求父母双方均持内地居民身份证；港澳台、华侨或外籍父母请到签发机构现场办理。"
            }
            Reason::MotherMismatch => {
                "母亲姓名或身份证号与医院分娩记录不一致，请核对；如医院记录有误，请联系分娩医院或到签发机构现场办理。"
            }
            Reason::ThirdSurname => "新生儿应随父姓或母姓；其他情形请到签发机构现场办理。",
            Reason::InvalidName => "新生儿姓名只能使用汉字，不能包含字母、数字或符号。",
            Reason::FaceAttemptsExhausted => "人脸识别多次未通过，请携带父母身份证原件到签发机构现场办理。",
        }
    }
}

/// A parent as declared, with a checked document.
#[derive(Debug, Clone)]
pub struct DeclaredParent {
    pub name: String,
    pub document: IdDocument,
}

/// Everything the rules look at.
/// Failed face verifications of one person for one birth before online eligibility ends.
pub const MAX_FACE_FAILURES: u64 = 3;

#[derive(Debug, Clone)]
pub struct Facts {
    pub certificate_exists: bool,
    pub other_live_application: bool,
    pub institution_eligible_online: bool,
    pub mother: Option<DeclaredParent>,
    pub father: Option<DeclaredParent>,
    /// The hospital's maternal record.
    pub recorded_mother_name: String,
    pub recorded_mother_id: String,
    pub face_attempts_exhausted: bool,
}

pub fn check(f: &Facts) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if f.certificate_exists {
        reasons.push(Reason::NotFirstIssuance);
    }
    if f.other_live_application {
        reasons.push(Reason::ApplicationExists);
    }
    if !f.institution_eligible_online {
        reasons.push(Reason::InstitutionNotEligible);
    }
    if f.mother.is_none() || f.father.is_none() {
        reasons.push(Reason::SingleParent);
    }
    if [&f.mother, &f.father].into_iter().flatten().any(|p| !p.document.is_mainland_resident_id()) {
        reasons.push(Reason::ParentNotMainlandResident);
    }
    if let Some(m) = &f.mother {
        let same_name = m.name.trim() == f.recorded_mother_name.trim();
        let same_id = m.document.number.eq_ignore_ascii_case(f.recorded_mother_id.trim());
        if !same_name || !same_id {
            reasons.push(Reason::MotherMismatch);
        }
    }
    if f.face_attempts_exhausted {
        reasons.push(Reason::FaceAttemptsExhausted);
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::resident_id::check_char;

    fn id(body: &str) -> String {
        format!("{body}{}", check_char(body.as_bytes()))
    }

    fn resident(name: &str, body: &str) -> DeclaredParent {
        DeclaredParent { name: name.into(), document: IdDocument::parse(IdType::ResidentId, &id(body)).expect("valid") }
    }

    fn facts() -> Facts {
        Facts {
            certificate_exists: false,
            other_live_application: false,
            institution_eligible_online: true,
            mother: Some(resident("李梅", "37012419950310002")),
            father: Some(resident("张伟", "37012419930521001")),
            recorded_mother_name: "李梅".into(),
            recorded_mother_id: id("37012419950310002"),
            face_attempts_exhausted: false,
        }
    }

    #[test]
    fn a_typical_pingyin_family_is_eligible() {
        assert!(check(&facts()).is_empty());
    }

    type Change = Box<dyn Fn(&mut Facts)>;

    #[test]
    fn each_rule_alone() {
        let cases: Vec<(Change, Reason)> = vec![
            (Box::new(|f| f.certificate_exists = true), Reason::NotFirstIssuance),
            (Box::new(|f| f.other_live_application = true), Reason::ApplicationExists),
            (Box::new(|f| f.institution_eligible_online = false), Reason::InstitutionNotEligible),
            (Box::new(|f| f.father = None), Reason::SingleParent),
            (
                Box::new(|f| {
                    f.father = Some(DeclaredParent {
                        name: "陈大文".into(),
                        document: IdDocument::parse(IdType::HkMacaoPermit, "H12345678").expect("valid"),
                    })
                }),
                Reason::ParentNotMainlandResident,
            ),
            (
                // A Hong Kong residence permit number entered as a resident ID.
                Box::new(|f| f.father = Some(resident("陈大文", "81000019900101001"))),
                Reason::ParentNotMainlandResident,
            ),
            (
                Box::new(|f| {
                    f.father = Some(DeclaredParent {
                        name: "John Smith".into(),
                        document: IdDocument::parse(IdType::Passport, "E12345678").expect("valid"),
                    })
                }),
                Reason::ParentNotMainlandResident,
            ),
            (Box::new(|f| f.recorded_mother_name = "李美".into()), Reason::MotherMismatch),
            (Box::new(|f| f.recorded_mother_id = id("37012419950310004")), Reason::MotherMismatch),
            (Box::new(|f| f.face_attempts_exhausted = true), Reason::FaceAttemptsExhausted),
        ];
        for (change, reason) in cases {
            let mut f = facts();
            change(&mut f);
            assert_eq!(check(&f), vec![reason]);
        }
    }

    #[test]
    fn all_failures_are_reported_together() {
        let mut f = facts();
        f.certificate_exists = true;
        f.father = None;
        f.recorded_mother_name = "王芳".into();
        assert_eq!(check(&f), vec![Reason::NotFirstIssuance, Reason::SingleParent, Reason::MotherMismatch]);
    }

    #[test]
    fn a_lower_case_x_matches_the_record() {
        let mut f = facts();
        let upper = id("11010519491231002");
        assert!(upper.ends_with('X'));
        f.mother = Some(DeclaredParent {
            name: "李梅".into(),
            document: IdDocument::parse(IdType::ResidentId, &upper.to_lowercase()).expect("valid"),
        });
        f.recorded_mother_id = upper;
        assert!(check(&f).is_empty());
    }

    #[test]
    fn document_formats() {
        assert!(IdDocument::parse(IdType::ResidentId, "110105194912310021").is_err());
        assert_eq!(IdDocument::parse(IdType::ResidentId, "110105194912310021").unwrap_err().code(), "checksum");
        assert!(IdDocument::parse(IdType::HkMacaoPermit, "H1234567890").is_ok());
        assert!(IdDocument::parse(IdType::HkMacaoPermit, "X12345678").is_err());
        assert!(IdDocument::parse(IdType::TaiwanPermit, "12345678").is_ok());
        assert!(IdDocument::parse(IdType::TaiwanPermit, "1234567").is_err());
        assert!(IdDocument::parse(IdType::Passport, "E1234567").is_ok());
        assert!(IdDocument::parse(IdType::Passport, "E12-34567").is_err());
        assert!(IdDocument::parse(IdType::ForeignPermanentResidenceId, &id("93315619900101002")).is_ok());
        assert!(IdDocument::parse(IdType::ForeignPermanentResidenceId, &id("37012419900101002")).is_err());
        assert!(IdDocument::parse(IdType::ForeignPermanentResidenceId, "USA123456789012").is_ok());
        assert_eq!(IdType::parse("passport"), Some(IdType::Passport));
        assert_eq!(IdType::parse("driver_licence"), None);
    }
}
