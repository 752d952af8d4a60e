//! The officer's one search box: what a typed term can be. A case reference (an application id),
//! a person's name (any term with a letter outside ASCII: parents' names are Chinese or written as
//! on a passport), or a code (letters and digits: an ID number, a certificate number, a tracking
//! number — one code is looked up as each, since "G123456789" could be a certificate or a parcel).

use std::fmt;

/// Longer than any name, ID number, certificate number or tracking number.
pub const MAX_TERM_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchTerm {
    /// An application id, as the case page's URL and the family's messages show it.
    CaseReference(String),
    /// A parent's name, trimmed, matched exactly.
    Name(String),
    /// An ID, certificate or tracking number: trimmed, upper-case, inner spaces removed.
    Code(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SearchTermError {
    #[error("type a name, an ID number, a certificate number, a tracking number or a case reference")]
    Empty,
    #[error("a search term is at most {MAX_TERM_CHARS} characters")]
    TooLong,
    #[error("a code is letters and digits only")]
    NotACode,
}

impl SearchTerm {
    pub fn parse(input: &str) -> Result<SearchTerm, SearchTermError> {
        let term = input.trim();
        if term.is_empty() {
            return Err(SearchTermError::Empty);
        }
        if term.chars().count() > MAX_TERM_CHARS {
            return Err(SearchTermError::TooLong);
        }
        if uuid::Uuid::try_parse(term).is_ok() {
            return Ok(SearchTerm::CaseReference(term.to_ascii_lowercase()));
        }
        if !term.is_ascii() {
            // Names keep their inner spaces and dots (维吾尔族 names: 买买提·艾力).
            return Ok(SearchTerm::Name(term.split_whitespace().collect::<Vec<_>>().join(" ")));
        }
        let code: String = term.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        if code.chars().all(|c| c.is_ascii_alphanumeric()) {
            Ok(SearchTerm::Code(code.to_ascii_uppercase()))
        } else {
            Err(SearchTermError::NotACode)
        }
    }

    /// What kind of term it was, for the audit log (the term itself is personal data).
    pub fn kind(&self) -> &'static str {
        match self {
            SearchTerm::CaseReference(_) => "case_reference",
            SearchTerm::Name(_) => "name",
            SearchTerm::Code(_) => "code",
        }
    }
}

impl fmt::Display for SearchTerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SearchTerm::CaseReference(t) | SearchTerm::Name(t) | SearchTerm::Code(t) => f.write_str(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_term_is_read_as_a_reference_a_name_or_a_code() {
        let id = "01a2375c-3d62-7418-b284-e3e20a7ca966";
        assert_eq!(SearchTerm::parse(&format!(" {} ", id.to_uppercase())), Ok(SearchTerm::CaseReference(id.into())));
        assert_eq!(SearchTerm::parse(" 李  梅 "), Ok(SearchTerm::Name("李 梅".into())));
        assert_eq!(SearchTerm::parse("买买提·艾力"), Ok(SearchTerm::Name("买买提·艾力".into())));
        assert_eq!(SearchTerm::parse("370124 19950310 002x"), Ok(SearchTerm::Code("37012419950310002X".into())));
        assert_eq!(SearchTerm::parse("ems-1234"), Ok(SearchTerm::Code("EMS1234".into())));
        assert_eq!(SearchTerm::parse("R370000001").map(|t| t.kind()), Ok("code"));
    }

    #[test]
    fn empty_long_and_odd_terms_are_refused() {
        assert_eq!(SearchTerm::parse("   "), Err(SearchTermError::Empty));
        assert_eq!(SearchTerm::parse(&"9".repeat(65)), Err(SearchTermError::TooLong));
        assert_eq!(SearchTerm::parse(&"李".repeat(65)), Err(SearchTermError::TooLong));
        assert_eq!(SearchTerm::parse("a' OR 1=1 --"), Err(SearchTermError::NotACode));
        assert_eq!(SearchTerm::parse("%"), Err(SearchTermError::NotACode));
    }
}
