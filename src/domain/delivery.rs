//! The hospital's delivery record, checked before it is stored: every field problem is reported
//! together, each with a stable code, so the hospital's system can show them all at once.

use chrono::{DateTime, Duration, Utc};

use super::eligibility::{IdDocument, IdType};

/// As the hospital's system sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryInput {
    pub mother_name: String,
    pub mother_id_type: String,
    pub mother_id_number: String,
    pub baby_sex: String,
    pub birth_at: DateTime<Utc>,
    pub birth_place: String,
    pub gestational_weeks: i32,
    pub weight_g: i32,
    pub length_cm: i32,
    pub health_status: String,
    pub midwife_name: String,
}

/// A record that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedDelivery {
    pub mother_name: String,
    pub mother_id: IdDocument,
    pub baby_sex: &'static str,
    pub birth_at: DateTime<Utc>,
    pub birth_place: String,
    pub gestational_weeks: i32,
    pub weight_g: i32,
    pub length_cm: i32,
    pub health_status: &'static str,
    pub midwife_name: String,
    /// Entered more than 24 h after the birth (the notice asks for entry within 24 h).
    pub late: bool,
}

/// Plausible ranges: live births recorded by a midwifery institution. Anything outside is a
/// typing error far more often than a real birth, and a wrong record costs the family a trip.
pub const GESTATIONAL_WEEKS: std::ops::RangeInclusive<i32> = 20..=45;
pub const WEIGHT_G: std::ops::RangeInclusive<i32> = 300..=7000;
pub const LENGTH_CM: std::ops::RangeInclusive<i32> = 20..=70;
/// Clock drift allowed between the hospital's system and ours.
const FUTURE_TOLERANCE_MINUTES: i64 = 5;

fn text(field: &'static str, value: &str, max_chars: usize, errors: &mut Vec<(&'static str, &'static str)>) -> String {
    let v = value.trim();
    if v.is_empty() {
        errors.push((field, "required"));
    } else if v.chars().count() > max_chars {
        errors.push((field, "too_long"));
    } else if v.chars().any(char::is_control) {
        errors.push((field, "invalid_characters"));
    }
    v.to_string()
}

/// Checks a record; `Err` lists `(field, code)` for every problem found.
pub fn check(input: &DeliveryInput, now: DateTime<Utc>) -> Result<CheckedDelivery, Vec<(&'static str, &'static str)>> {
    let mut errors = Vec::new();
    let mother_name = text("mother_name", &input.mother_name, 50, &mut errors);
    let birth_place = text("birth_place", &input.birth_place, 100, &mut errors);
    let midwife_name = text("midwife_name", &input.midwife_name, 50, &mut errors);
    let mother_id = match IdType::parse(&input.mother_id_type) {
        None => {
            errors.push(("mother_id_type", "unknown"));
            None
        }
        Some(t) => match IdDocument::parse(t, &input.mother_id_number) {
            Ok(d) => Some(d),
            Err(e) => {
                errors.push(("mother_id_number", e.code()));
                None
            }
        },
    };
    let baby_sex = match input.baby_sex.as_str() {
        "male" => "male",
        "female" => "female",
        "unknown" => "unknown",
        _ => {
            errors.push(("baby_sex", "unknown"));
            ""
        }
    };
    let health_status = match input.health_status.as_str() {
        "good" => "good",
        "fair" => "fair",
        "poor" => "poor",
        _ => {
            errors.push(("health_status", "unknown"));
            ""
        }
    };
    if input.birth_at > now + Duration::minutes(FUTURE_TOLERANCE_MINUTES) {
        errors.push(("birth_at", "in_future"));
    }
    for (field, value, range) in [
        ("gestational_weeks", input.gestational_weeks, GESTATIONAL_WEEKS),
        ("weight_g", input.weight_g, WEIGHT_G),
        ("length_cm", input.length_cm, LENGTH_CM),
    ] {
        if !range.contains(&value) {
            errors.push((field, "out_of_range"));
        }
    }
    match mother_id {
        Some(mother_id) if errors.is_empty() => Ok(CheckedDelivery {
            mother_name,
            mother_id,
            baby_sex,
            birth_at: input.birth_at,
            birth_place,
            gestational_weeks: input.gestational_weeks,
            weight_g: input.weight_g,
            length_cm: input.length_cm,
            health_status,
            midwife_name,
            late: now - input.birth_at > Duration::hours(24),
        }),
        _ => Err(errors),
    }
}

/// The fields of the hospital's record a family may ask to have corrected.
pub const MODIFIABLE_FIELDS: [&str; 9] = [
    "mother_name",
    "baby_sex",
    "birth_at",
    "birth_place",
    "gestational_weeks",
    "weight_g",
    "length_cm",
    "health_status",
    "midwife_name",
];

/// The record with approved corrections applied, as the hospital would have entered it; `Err`
/// names the first field whose requested value cannot be applied. The result still goes
/// through [`check`].
pub fn apply_corrections<'a>(
    record: &DeliveryInput,
    corrections: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<DeliveryInput, &'a str> {
    let mut input = record.clone();
    for (field, value) in corrections {
        let value = value.trim();
        let number = |v: &str| v.parse::<i32>().map_err(|_| field);
        match field {
            "mother_name" => input.mother_name = value.to_string(),
            "baby_sex" => input.baby_sex = value.to_string(),
            "birth_place" => input.birth_place = value.to_string(),
            "health_status" => input.health_status = value.to_string(),
            "midwife_name" => input.midwife_name = value.to_string(),
            "gestational_weeks" => input.gestational_weeks = number(value)?,
            "weight_g" => input.weight_g = number(value)?,
            "length_cm" => input.length_cm = number(value)?,
            "birth_at" => {
                input.birth_at = DateTime::parse_from_rfc3339(value).map_err(|_| field)?.with_timezone(&Utc);
            }
            other => return Err(other),
        }
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::resident_id::check_char;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-26T10:00:00+08:00").map(|d| d.to_utc()).unwrap_or_default()
    }

    fn mother_id() -> String {
        format!("37012419950310002{}", check_char(b"37012419950310002"))
    }

    fn wrong_check_digit() -> String {
        let good = check_char(b"37012419950310002");
        let bad = if good == '1' { '2' } else { '1' };
        format!("37012419950310002{bad}")
    }

    fn record() -> DeliveryInput {
        DeliveryInput {
            mother_name: "李梅".into(),
            mother_id_type: "resident_id".into(),
            mother_id_number: mother_id(),
            baby_sex: "female".into(),
            birth_at: now() - Duration::hours(3),
            birth_place: "平阴县人民医院".into(),
            gestational_weeks: 39,
            weight_g: 3250,
            length_cm: 50,
            health_status: "good".into(),
            midwife_name: "王芳".into(),
        }
    }

    #[test]
    fn a_record_entered_the_same_day_is_accepted_and_on_time() {
        let d = check(&record(), now()).expect("valid");
        assert!(!d.late);
        assert_eq!(d.mother_id.number, mother_id());
    }

    #[test]
    fn a_record_entered_after_24_hours_is_late() {
        let r = DeliveryInput { birth_at: now() - Duration::hours(25), ..record() };
        assert!(check(&r, now()).expect("valid").late);
        let r = DeliveryInput { birth_at: now() - Duration::hours(23), ..record() };
        assert!(!check(&r, now()).expect("valid").late);
    }

    #[test]
    fn every_problem_is_reported_together() {
        let r = DeliveryInput {
            mother_name: " ".into(),
            mother_id_number: wrong_check_digit(),
            baby_sex: "boy".into(),
            birth_at: now() + Duration::hours(1),
            gestational_weeks: 60,
            weight_g: 120,
            length_cm: 5,
            health_status: "excellent".into(),
            ..record()
        };
        let errors = check(&r, now()).expect_err("invalid");
        let fields: Vec<_> = errors.iter().map(|(f, _)| *f).collect();
        for f in [
            "mother_name",
            "mother_id_number",
            "baby_sex",
            "birth_at",
            "gestational_weeks",
            "weight_g",
            "length_cm",
            "health_status",
        ] {
            assert!(fields.contains(&f), "{f} missing from {errors:?}");
        }
        assert!(errors.contains(&("birth_at", "in_future")));
    }

    #[test]
    fn the_edges_of_each_range_are_accepted() {
        for (w, g, l) in [(300, 20, 20), (7000, 45, 70)] {
            let r = DeliveryInput { weight_g: w, gestational_weeks: g, length_cm: l, ..record() };
            assert!(check(&r, now()).is_ok(), "{w} {g} {l}");
        }
    }

    #[test]
    fn corrections_replace_only_the_named_fields_and_unreadable_values_are_named() {
        let fixed = apply_corrections(&record(), [("weight_g", " 3350 "), ("baby_sex", "male")]).expect("applies");
        assert_eq!((fixed.weight_g, fixed.baby_sex.as_str()), (3350, "male"));
        assert_eq!(fixed.mother_name, record().mother_name);
        assert_eq!(apply_corrections(&record(), [("weight_g", "heavy")]), Err("weight_g"));
        assert_eq!(apply_corrections(&record(), [("mother_id_number", "x")]), Err("mother_id_number"));
        // Every field a family may name can be applied.
        let samples = [
            ("mother_name", "王丽"),
            ("baby_sex", "male"),
            ("birth_at", "2026-11-26T08:15:00+08:00"),
            ("birth_place", "平阴县中医医院"),
            ("gestational_weeks", "38"),
            ("weight_g", "3000"),
            ("length_cm", "49"),
            ("health_status", "fair"),
            ("midwife_name", "赵敏"),
        ];
        for field in MODIFIABLE_FIELDS {
            let sample = samples.iter().find(|(f, _)| *f == field).expect("a sample per field");
            assert!(apply_corrections(&record(), [*sample]).is_ok(), "{field}");
        }
    }

    #[test]
    fn a_passport_mother_is_recorded_with_its_own_format() {
        let r = DeliveryInput { mother_id_type: "passport".into(), mother_id_number: "E12345678".into(), ..record() };
        assert_eq!(check(&r, now()).expect("valid").mother_id.id_type, IdType::Passport);
        let r = DeliveryInput { mother_id_type: "library_card".into(), ..record() };
        assert_eq!(check(&r, now()).expect_err("invalid"), vec![("mother_id_type", "unknown")]);
    }
}
