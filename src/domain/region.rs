//! Destinations by GB/T 2260 code: a county-level code (the last two digits not `00`) names a
//! county or district, within its prefecture (the code's first four digits + `00`, absent for a
//! municipality's districts) and its province (first two digits + `0000`). A code the table does
//! not list is not a place the courier can deliver to.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Region {
    pub code: String,
    pub province: String,
    /// Absent for the districts of a municipality directly under the central government.
    pub prefecture: Option<String>,
    pub county: String,
}

impl Region {
    /// The place as a label prints it: 山东省济南市平阴县.
    pub fn label(&self) -> String {
        format!("{}{}{}", self.province, self.prefecture.as_deref().unwrap_or_default(), self.county)
    }
}

#[derive(Debug, Clone, Default)]
pub struct RegionTable {
    names: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct RegionTableError {
    pub line: usize,
    pub reason: &'static str,
}

impl RegionTable {
    /// `code<TAB>name` lines; `#` starts a comment line.
    pub fn parse(text: &str) -> Result<RegionTable, RegionTableError> {
        let mut names = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason| RegionTableError { line: i + 1, reason };
            let (code, name) = line.split_once('\t').ok_or(bad("code and name are separated by a tab"))?;
            if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("a code is six digits"));
            }
            if name.trim().is_empty() {
                return Err(bad("a code needs a name"));
            }
            names.insert(code.to_string(), name.trim().to_string());
        }
        Ok(RegionTable { names })
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The county-level place this code names, with its prefecture and province.
    pub fn county(&self, code: &str) -> Option<Region> {
        if code.len() != 6 || !code.is_ascii() || code.ends_with("00") {
            return None;
        }
        let county = self.names.get(code)?;
        let province = self.names.get(&format!("{}0000", &code[..2]))?;
        let prefecture = self.names.get(&format!("{}00", &code[..4])).cloned();
        Some(Region { code: code.to_string(), province: province.clone(), prefecture, county: county.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RegionTable {
        RegionTable::parse(
            &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/gb2260.tsv")).expect("file"),
        )
        .expect("table")
    }

    #[test]
    fn county_codes_name_their_place() {
        let t = table();
        assert!(t.len() > 3000);
        let pingyin = t.county("370124").expect("Pingyin");
        assert_eq!(pingyin.label(), "山东省济南市平阴县");
        let urumqi = t.county("650102").expect("Tianshan district");
        assert_eq!((urumqi.province.as_str(), urumqi.prefecture.as_deref()), ("新疆维吾尔自治区", Some("乌鲁木齐市")));
        // A municipality's district has no prefecture in between.
        assert_eq!(t.county("110101").map(|r| r.label()), Some("北京市东城区".to_string()));
    }

    #[test]
    fn only_listed_county_level_codes_are_places() {
        let t = table();
        for code in ["370100", "370000", "999999", "37012", "3701245", "37012a", "", "３７０１２４"] {
            assert_eq!(t.county(code), None, "{code:?}");
        }
    }

    #[test]
    fn a_malformed_table_is_refused_with_its_line() {
        assert_eq!(
            RegionTable::parse("370124 平阴县").map(|t| t.len()),
            Err(RegionTableError { line: 1, reason: "code and name are separated by a tab" })
        );
        assert_eq!(
            RegionTable::parse("# c\n3701\tx").map(|t| t.len()),
            Err(RegionTableError { line: 2, reason: "a code is six digits" })
        );
    }
}
