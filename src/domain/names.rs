//! The newborn's name: Chinese characters only, and the surname taken from the father or the
//! mother (Civil Code Art. 1015), compound surnames included. Online, no other surname ("third
//! surname") is accepted; the family applies on site for the exceptions the law allows.

use std::fmt;

/// Compound surnames in use today (百家姓 and common modern ones). Longest first is not needed:
/// all are two characters.
const COMPOUND_SURNAMES: &[&str] = &[
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "司空", "夏侯",
    "令狐", "澹台", "公冶", "宗政", "濮阳", "淳于", "单于", "太叔", "申屠", "轩辕", "钟离", "闾丘", "端木", "南宫",
    "西门", "呼延", "赫连", "万俟", "百里", "东郭", "南门", "羊舌", "微生", "梁丘", "左丘", "东门", "第五", "公羊",
    "拓跋", "独孤", "范姜",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Letters, digits, spaces, symbols, or a length outside 2–6 characters.
    #[error("the name must be 2 to 6 Chinese characters, with no letters, digits or symbols")]
    InvalidName,
    /// The surname is neither the father's nor the mother's.
    #[error("the surname must be the father's or the mother's")]
    ThirdSurname,
}

impl NameError {
    pub fn code(self) -> &'static str {
        match self {
            NameError::InvalidName => "invalid_name",
            NameError::ThirdSurname => "third_surname",
        }
    }
}

/// True for a character of the CJK Unified Ideographs blocks (basic and extensions A–G).
pub fn is_han(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B820..=0x2CEAF | 0x2CEB0..=0x2EBEF | 0x30000..=0x3134F)
}

/// The surname of a full name as written on an ID card: a known compound surname when the
/// name is long enough to hold one and a given name, else the first character.
pub fn surname_of(full_name: &str) -> String {
    let chars: Vec<char> = full_name.trim().chars().collect();
    if chars.len() >= 3 {
        let first_two: String = chars[..2].iter().collect();
        if COMPOUND_SURNAMES.contains(&first_two.as_str()) {
            return first_two;
        }
    }
    chars.first().map(|c| c.to_string()).unwrap_or_default()
}

/// An accepted newborn name. Only [`NewbornName::parse`] builds one.
#[derive(Clone, PartialEq, Eq)]
pub struct NewbornName(String);

impl NewbornName {
    pub fn parse(name: &str, father_name: &str, mother_name: &str) -> Result<NewbornName, NameError> {
        let name = name.trim();
        let count = name.chars().count();
        if !(2..=6).contains(&count) || !name.chars().all(is_han) {
            return Err(NameError::InvalidName);
        }
        for parent in [father_name, mother_name] {
            let surname = surname_of(parent);
            if !surname.is_empty() && name.starts_with(&surname) && name.chars().count() > surname.chars().count() {
                return Ok(NewbornName(name.to_string()));
            }
        }
        Err(NameError::ThirdSurname)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewbornName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NewbornName({})", super::masking::mask_name(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surnames_including_compound_ones() {
        assert_eq!(surname_of("张伟"), "张");
        assert_eq!(surname_of("欧阳娜娜"), "欧阳");
        assert_eq!(surname_of("司马光"), "司马");
        // Two characters cannot be a compound surname plus a given name.
        assert_eq!(surname_of("欧阳"), "欧");
    }

    #[test]
    fn father_or_mother_surname_is_accepted() {
        for (baby, father, mother) in [
            ("张小明", "张伟", "李梅"),
            ("李小明", "张伟", "李梅"),
            ("欧阳晨曦", "欧阳修文", "王芳"),
            ("诸葛亮亮", "王强", "诸葛丽华"),
            ("张李一诺", "张伟", "李梅"), // both surnames, father's first
            ("王𠀋", "王强", "李梅"),     // an Extension B character
        ] {
            assert!(NewbornName::parse(baby, father, mother).is_ok(), "{baby}");
        }
    }

    #[test]
    fn a_third_surname_is_refused() {
        for (baby, father, mother) in
            [("赵小明", "张伟", "李梅"), ("欧小明", "欧阳修文", "李梅"), ("阳光", "欧阳修文", "李梅")]
        {
            assert_eq!(NewbornName::parse(baby, father, mother), Err(NameError::ThirdSurname), "{baby}");
        }
    }

    #[test]
    fn only_chinese_characters_of_sensible_length() {
        for bad in ["张A", "张3", "张 明", "张·明", "Zhang", "张", "张小明小明小明", "张明!", "张明😀", ""]
        {
            assert_eq!(NewbornName::parse(bad, "张伟", "李梅"), Err(NameError::InvalidName), "{bad}");
        }
        // The surname alone is not a name.
        assert!(NewbornName::parse("欧阳", "欧阳修文", "李梅").is_err());
    }

    #[test]
    fn debug_is_masked() {
        let n = NewbornName::parse("张小明", "张伟", "李梅").expect("valid");
        assert_eq!(format!("{n:?}"), "NewbornName(张**)");
    }
}
