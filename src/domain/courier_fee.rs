//! The courier fee by destination region: a default and per-province overrides (Xinjiang 65
//! and Tibet 54 cost more). The issuer itself charges nothing.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct RegionFee {
    /// Leading digits of the GB/T 2260 region code (e.g. "65" for all of Xinjiang).
    pub prefix: String,
    pub fee_fen: i32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FeeTable {
    pub default_fee_fen: i32,
    #[serde(default)]
    pub regions: Vec<RegionFee>,
}

impl FeeTable {
    /// The longest matching prefix wins, so a city can differ from its province.
    pub fn fee_for(&self, region_code: &str) -> i32 {
        self.regions
            .iter()
            .filter(|r| region_code.starts_with(&r.prefix))
            .max_by_key(|r| r.prefix.len())
            .map_or(self.default_fee_fen, |r| r.fee_fen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> FeeTable {
        FeeTable {
            default_fee_fen: 1800,
            regions: vec![
                RegionFee { prefix: "65".into(), fee_fen: 2600 },
                RegionFee { prefix: "54".into(), fee_fen: 2600 },
            ],
        }
    }

    #[test]
    fn default_and_remote_regions() {
        assert_eq!(table().fee_for("370124"), 1800);
        assert_eq!(table().fee_for("650102"), 2600);
        assert_eq!(table().fee_for("540102"), 2600);
    }
}
