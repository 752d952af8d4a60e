//! GB 11643-1999 citizen identity number: 6-digit region code, 8-digit birth date,
//! 3-digit sequence (odd = male, even = female) and an ISO 7064 MOD 11-2 check character.

use std::fmt;

use chrono::NaiveDate;

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResidentIdError {
    #[error("an ID number has 18 characters")]
    Length,
    #[error("the first 17 characters must be digits and the last a digit or X")]
    Characters,
    #[error("the region code is not a valid province")]
    Region,
    #[error("the birth date is not a real date")]
    BirthDate,
    #[error("the check character does not match")]
    Checksum,
}

impl ResidentIdError {
    /// Stable code for API validation errors.
    pub fn code(self) -> &'static str {
        match self {
            ResidentIdError::Length => "length",
            ResidentIdError::Characters => "format",
            ResidentIdError::Region => "region",
            ResidentIdError::BirthDate => "birth_date",
            ResidentIdError::Checksum => "checksum",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

/// What kind of holder the number's region code says it belongs to. Hong Kong, Macao and
/// Taiwan residence permits and the 2023 foreign permanent-residence ID share the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    MainlandResident,
    HongKongResident,
    MacaoResident,
    TaiwanResident,
    ForeignPermanentResident,
}

/// A syntactically and arithmetically valid 18-character number. Only [`ResidentId::parse`]
/// builds one.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResidentId(String);

/// Mainland province-level codes of GB/T 2260 (first two digits).
const MAINLAND_PROVINCES: [u32; 31] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63,
    64, 65,
];

pub fn check_char(first17: &[u8]) -> char {
    let sum: u32 = first17.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    CHECK_CHARS[(sum % 11) as usize]
}

impl ResidentId {
    /// Accepts a lower-case `x` as people type it and stores the canonical upper-case form.
    pub fn parse(input: &str) -> Result<ResidentId, ResidentIdError> {
        let s = input.trim().to_ascii_uppercase();
        if s.chars().count() != 18 {
            return Err(ResidentIdError::Length);
        }
        let bytes = s.as_bytes();
        if !bytes[..17].iter().all(u8::is_ascii_digit) || !(bytes[17].is_ascii_digit() || bytes[17] == b'X') {
            return Err(ResidentIdError::Characters);
        }
        let province = u32::from(bytes[0] - b'0') * 10 + u32::from(bytes[1] - b'0');
        let is_permit = matches!(&s[..6], "810000" | "820000" | "830000");
        let is_foreign = bytes[0] == b'9';
        if !(MAINLAND_PROVINCES.contains(&province) || is_permit || is_foreign) {
            return Err(ResidentIdError::Region);
        }
        NaiveDate::parse_from_str(&s[6..14], "%Y%m%d").map_err(|_| ResidentIdError::BirthDate)?;
        if check_char(&bytes[..17]) != char::from(bytes[17]) {
            return Err(ResidentIdError::Checksum);
        }
        Ok(ResidentId(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn region_code(&self) -> &str {
        &self.0[..6]
    }

    pub fn province_code(&self) -> &str {
        &self.0[..2]
    }

    pub fn birth_date(&self) -> NaiveDate {
        // Checked in parse.
        NaiveDate::parse_from_str(&self.0[6..14], "%Y%m%d").unwrap_or_default()
    }

    pub fn sex(&self) -> Sex {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    pub fn holder(&self) -> Holder {
        match &self.0[..6] {
            "810000" => Holder::HongKongResident,
            "820000" => Holder::MacaoResident,
            "830000" => Holder::TaiwanResident,
            _ if self.0.starts_with('9') => Holder::ForeignPermanentResident,
            _ => Holder::MainlandResident,
        }
    }

    pub fn masked(&self) -> String {
        super::masking::mask_id_number(&self.0)
    }
}

/// Never prints the whole number, so a stray `{:?}` in a log cannot leak it.
impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn official_example_is_valid() {
        let id = ResidentId::parse("11010519491231002X").expect("valid");
        assert_eq!(id.birth_date(), NaiveDate::from_ymd_opt(1949, 12, 31).expect("date"));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.region_code(), "110105");
        assert_eq!(id.holder(), Holder::MainlandResident);
    }

    #[test]
    fn lower_case_x_is_accepted_and_normalised() {
        assert_eq!(ResidentId::parse("11010519491231002x").expect("valid").as_str(), "11010519491231002X");
    }

    #[test]
    fn rejections_name_the_problem() {
        assert_eq!(ResidentId::parse("1101051949123100"), Err(ResidentIdError::Length));
        assert_eq!(ResidentId::parse("11010519491231002Y"), Err(ResidentIdError::Characters));
        assert_eq!(ResidentId::parse("11010519491231002A"), Err(ResidentIdError::Characters));
        assert_eq!(ResidentId::parse("110105194912310021"), Err(ResidentIdError::Checksum));
        // 1949-02-30 does not exist; fix the check digit so only the date is wrong.
        let mut bad_date = *b"11010519490230002?";
        bad_date[17] = check_char(&bad_date[..17]) as u8;
        assert_eq!(ResidentId::parse(std::str::from_utf8(&bad_date).expect("ascii")), Err(ResidentIdError::BirthDate));
        let mut bad_region = *b"00010519491231002?";
        bad_region[17] = check_char(&bad_region[..17]) as u8;
        assert_eq!(ResidentId::parse(std::str::from_utf8(&bad_region).expect("ascii")), Err(ResidentIdError::Region));
    }

    #[test]
    fn permits_and_foreign_ids_are_recognised() {
        let mut hk = *b"81000019900101002?";
        hk[17] = check_char(&hk[..17]) as u8;
        assert_eq!(
            ResidentId::parse(std::str::from_utf8(&hk).expect("ascii")).expect("valid").holder(),
            Holder::HongKongResident
        );
        let mut foreign = *b"93315619900101002?";
        foreign[17] = check_char(&foreign[..17]) as u8;
        assert_eq!(
            ResidentId::parse(std::str::from_utf8(&foreign).expect("ascii")).expect("valid").holder(),
            Holder::ForeignPermanentResident
        );
    }

    #[test]
    fn debug_output_is_masked() {
        let id = ResidentId::parse("11010519491231002X").expect("valid");
        let shown = format!("{id:?}");
        assert!(!shown.contains("19491231"), "{shown}");
    }

    fn valid_body() -> impl Strategy<Value = String> {
        (prop::sample::select(MAINLAND_PROVINCES.to_vec()), 0u32..10000, 1900i32..2026, 1u32..13, 1u32..29, 0u32..1000)
            .prop_map(|(p, rest, y, m, d, seq)| format!("{p:02}{rest:04}{y:04}{m:02}{d:02}{seq:03}"))
    }

    proptest! {
        #[test]
        fn any_body_with_its_check_char_parses(body in valid_body()) {
            let check = check_char(body.as_bytes());
            let id = format!("{body}{check}");
            let parsed = ResidentId::parse(&id).expect("valid");
            prop_assert_eq!(parsed.as_str(), id.as_str());
        }

        #[test]
        fn any_single_digit_change_is_caught(body in valid_body(), pos in 0usize..17, delta in 1u8..10) {
            let check = check_char(body.as_bytes());
            let mut bytes = format!("{body}{check}").into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let altered = String::from_utf8(bytes).expect("ascii");
            // MOD 11-2 detects every single-digit substitution.
            prop_assert!(ResidentId::parse(&altered).is_err());
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,24}") {
            let _ = ResidentId::parse(&s);
        }
    }
}
