//! Serial number pre-printed on blank birth medical certificates: one capital letter and nine
//! digits, e.g. `R370000123`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CertificateNumberError {
    #[error("a certificate number is one capital letter followed by nine digits")]
    Format,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CertificateNumber(String);

impl CertificateNumber {
    pub fn parse(input: &str) -> Result<CertificateNumber, CertificateNumberError> {
        let s = input.trim();
        let bytes = s.as_bytes();
        if bytes.len() == 10 && bytes[0].is_ascii_uppercase() && bytes[1..].iter().all(u8::is_ascii_digit) {
            Ok(CertificateNumber(s.to_string()))
        } else {
            Err(CertificateNumberError::Format)
        }
    }

    pub fn letter(&self) -> char {
        char::from(self.0.as_bytes()[0])
    }

    pub fn serial(&self) -> u32 {
        self.0[1..].parse().unwrap_or_default()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Every number from `first` to `last` inclusive, for receiving a range of blank stock.
    /// Both ends must share the letter and `first <= last`.
    pub fn range(
        first: &CertificateNumber,
        last: &CertificateNumber,
    ) -> Option<impl Iterator<Item = CertificateNumber>> {
        if first.letter() != last.letter() || first.serial() > last.serial() {
            return None;
        }
        let letter = first.letter();
        Some((first.serial()..=last.serial()).map(move |n| CertificateNumber(format!("{letter}{n:09}"))))
    }
}

impl fmt::Display for CertificateNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn accepts_the_printed_format() {
        let n = CertificateNumber::parse("R370000123").expect("valid");
        assert_eq!(n.letter(), 'R');
        assert_eq!(n.serial(), 370_000_123);
    }

    #[test]
    fn rejects_everything_else() {
        for bad in
            ["r370000123", "R37000012", "R3700001234", "RR70000123", "R37000012X", "", "R 70000123", "Ｒ370000123"]
        {
            assert!(CertificateNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges_are_inclusive_and_same_letter() {
        let a = CertificateNumber::parse("R000000098").expect("valid");
        let b = CertificateNumber::parse("R000000101").expect("valid");
        let all: Vec<String> = CertificateNumber::range(&a, &b).expect("range").map(|n| n.to_string()).collect();
        assert_eq!(all, ["R000000098", "R000000099", "R000000100", "R000000101"]);
        assert!(CertificateNumber::range(&b, &a).is_none());
        let other = CertificateNumber::parse("S000000101").expect("valid");
        assert!(CertificateNumber::range(&a, &other).is_none());
    }

    proptest! {
        #[test]
        fn round_trips(letter in "[A-Z]", serial in 0u32..1_000_000_000) {
            let s = format!("{letter}{serial:09}");
            let n = CertificateNumber::parse(&s).expect("valid");
            prop_assert_eq!(n.serial(), serial);
            prop_assert_eq!(n.to_string(), s);
        }
    }
}
