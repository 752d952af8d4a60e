//! Working days in Asia/Shanghai: Monday–Friday, minus the State Council's days off, plus the
//! weekend days declared working days (调休). Office hours and the review deadline build on it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use serde::Deserialize;

/// UTC+8, checked when the crate compiles: an out-of-range offset would fail the build, not a
/// request.
const CHINA_OFFSET: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+8 is within the ±24 h a fixed offset allows"),
};

/// China has one time zone and no daylight saving, so a fixed offset is exact.
pub fn china_offset() -> FixedOffset {
    CHINA_OFFSET
}

pub fn to_china(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.with_timezone(&china_offset())
}

/// Not yet past `due`, and `due` falls on the day it is now in China: the day's work.
pub fn falls_due_today(due: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    due >= now && to_china(due).date_naive() == to_china(now).date_naive()
}

/// The first moment of a China day, in UTC (a fixed offset: every day has exactly one).
pub fn china_midnight(day: NaiveDate) -> DateTime<Utc> {
    (day.and_time(NaiveTime::MIN) - Duration::hours(8)).and_utc()
}

/// The days a query may name: anything outside is a mistake (or a probe), not a register.
pub const EARLIEST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};
pub const LATEST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(2100, 12, 31) {
    Some(d) => d,
    None => NaiveDate::MAX,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DayRangeError {
    #[error("dates must lie between 1900-01-01 and 2100-12-31")]
    OutOfRange,
    #[error("from must not come after to")]
    Reversed,
}

/// Days `from`..=`to` in China (defaults: the 30 days up to today) as the UTC half-open range
/// [from 00:00, to + 1 day 00:00) China time. Both days must lie within
/// `EARLIEST_DAY..=LATEST_DAY`, and `from` must not come after `to`.
pub fn china_day_range(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), DayRangeError> {
    let known = |d: &NaiveDate| (EARLIEST_DAY..=LATEST_DAY).contains(d);
    if !from.iter().chain(to.iter()).all(known) {
        return Err(DayRangeError::OutOfRange);
    }
    let to = to.unwrap_or_else(|| to_china(now).date_naive());
    let from = from.unwrap_or(to - Duration::days(30));
    if from > to {
        return Err(DayRangeError::Reversed);
    }
    // Inside the bounds every day has a successor.
    match to.succ_opt() {
        Some(next) => Ok((china_midnight(from), china_midnight(next))),
        None => Err(DayRangeError::OutOfRange),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("holiday data for {year}: {reason}")]
    Invalid { year: i32, reason: String },
    #[error("holiday data: {0}")]
    Parse(String),
}

#[derive(Debug, Clone, Deserialize)]
pub struct HolidayYear {
    pub year: i32,
    #[serde(default)]
    pub source: Option<String>,
    pub days_off: Vec<(NaiveDate, NaiveDate)>,
    #[serde(default)]
    pub working_weekend_days: Vec<NaiveDate>,
}

#[derive(Debug, Deserialize)]
struct HolidayFile {
    #[serde(default)]
    year: Vec<HolidayYear>,
}

#[derive(Debug, Default, Clone)]
struct YearData {
    days_off: BTreeSet<NaiveDate>,
    working_weekend_days: BTreeSet<NaiveDate>,
}

#[derive(Debug, Default, Clone)]
pub struct Calendar {
    years: BTreeMap<i32, YearData>,
}

/// Whether a day is a working day, and whether the calendar actually knew that year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayInfo {
    pub working: bool,
    pub year_covered: bool,
}

/// A deadline and the years it was computed through without holiday data (empty when exact).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    pub due_at: DateTime<Utc>,
    pub uncovered_years: Vec<i32>,
}

impl Calendar {
    pub fn from_toml(text: &str) -> Result<Calendar, CalendarError> {
        let file: HolidayFile = toml::from_str(text).map_err(|e| CalendarError::Parse(e.to_string()))?;
        Calendar::from_years(file.year)
    }

    pub fn from_years(years: Vec<HolidayYear>) -> Result<Calendar, CalendarError> {
        let mut calendar = Calendar::default();
        for y in years {
            let mut data = YearData::default();
            for (first, last) in y.days_off {
                if first > last || first.year() != y.year || last.year() != y.year {
                    return Err(CalendarError::Invalid { year: y.year, reason: format!("bad range {first}..{last}") });
                }
                data.days_off.extend(first.iter_days().take_while(|d| *d <= last));
            }
            for d in y.working_weekend_days {
                if d.year() != y.year || !is_weekend(d) {
                    return Err(CalendarError::Invalid {
                        year: y.year,
                        reason: format!("{d} is not a weekend day of that year"),
                    });
                }
                data.working_weekend_days.insert(d);
            }
            calendar.years.insert(y.year, data);
        }
        Ok(calendar)
    }

    pub fn covers(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    pub fn day(&self, date: NaiveDate) -> DayInfo {
        match self.years.get(&date.year()) {
            Some(data) => {
                let working = if data.working_weekend_days.contains(&date) {
                    true
                } else {
                    !is_weekend(date) && !data.days_off.contains(&date)
                };
                DayInfo { working, year_covered: true }
            }
            None => DayInfo { working: !is_weekend(date), year_covered: false },
        }
    }

    /// Review deadline: close of business on the second working day after the day of
    /// submission (local time). A submission on Monday is due Wednesday; one made on a
    /// Saturday is due Tuesday; days off in between do not count.
    pub fn review_due_at(&self, submitted_at: DateTime<Utc>, close_of_business: NaiveTime) -> Deadline {
        let mut day = to_china(submitted_at).date_naive();
        let mut uncovered = BTreeSet::new();
        let mut counted = 0;
        while counted < 2 {
            day = day.succ_opt().unwrap_or(day);
            let info = self.day(day);
            if !info.year_covered {
                uncovered.insert(day.year());
            }
            if info.working {
                counted += 1;
            }
        }
        let local = day.and_time(close_of_business);
        let due_at = china_offset()
            .from_local_datetime(&local)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&(local - Duration::hours(8))));
        Deadline { due_at, uncovered_years: uncovered.into_iter().collect() }
    }
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Opening hours on working days, e.g. `08:30-12:00` and `14:30-17:30`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeHours {
    ranges: Vec<(NaiveTime, NaiveTime)>,
}

impl OfficeHours {
    pub fn parse<S: AsRef<str>>(ranges: &[S]) -> Result<OfficeHours, String> {
        let mut parsed = Vec::new();
        for r in ranges {
            let r = r.as_ref();
            let (a, b) = r.split_once('-').ok_or_else(|| format!("{r:?} is not HH:MM-HH:MM"))?;
            let start = NaiveTime::parse_from_str(a.trim(), "%H:%M").map_err(|_| format!("{r:?}: bad start time"))?;
            let end = NaiveTime::parse_from_str(b.trim(), "%H:%M").map_err(|_| format!("{r:?}: bad end time"))?;
            if start >= end {
                return Err(format!("{r:?}: start must be before end"));
            }
            parsed.push((start, end));
        }
        parsed.sort();
        Ok(OfficeHours { ranges: parsed })
    }

    pub fn ranges(&self) -> &[(NaiveTime, NaiveTime)] {
        &self.ranges
    }

    /// The end of the last opening period of the day; the review deadline falls then.
    pub fn close_of_business(&self) -> NaiveTime {
        self.ranges.last().map(|r| r.1).unwrap_or_else(|| NaiveTime::from_hms_opt(17, 30, 0).unwrap_or_default())
    }

    pub fn is_open(&self, calendar: &Calendar, now: DateTime<Utc>) -> bool {
        let local = to_china(now);
        if !calendar.day(local.date_naive()).working {
            return false;
        }
        let t = local.time();
        self.ranges.iter().any(|(start, end)| *start <= t && t < *end)
    }

    pub fn display(&self) -> Vec<String> {
        self.ranges.iter().map(|(a, b)| format!("{}-{}", a.format("%H:%M"), b.format("%H:%M"))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calendar() -> Calendar {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/holidays.toml"))
            .expect("holidays file");
        Calendar::from_toml(&text).expect("valid")
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn local(s: &str) -> DateTime<Utc> {
        china_offset()
            .from_local_datetime(&chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time"))
            .single()
            .expect("unambiguous")
            .with_timezone(&Utc)
    }

    fn five_thirty() -> NaiveTime {
        NaiveTime::from_hms_opt(17, 30, 0).expect("time")
    }

    #[test]
    fn ordinary_weekdays_and_weekends() {
        let c = calendar();
        assert!(c.day(d("2026-11-26")).working); // Thursday
        assert!(!c.day(d("2026-11-28")).working); // Saturday
    }

    #[test]
    fn holidays_are_days_off_and_make_up_days_are_working() {
        let c = calendar();
        for off in ["2026-01-01", "2026-02-16", "2026-02-23", "2026-10-01", "2026-10-07", "2026-06-19"] {
            assert!(!c.day(d(off)).working, "{off}");
        }
        for on in ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"] {
            assert!(c.day(d(on)).working, "{on}");
        }
    }

    #[test]
    fn a_day_range_runs_from_china_midnight_to_the_midnight_after_the_last_day() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        let now = DateTime::parse_from_rfc3339("2026-11-26T01:00:00+08:00").map(|t| t.to_utc()).unwrap_or_default();
        let (from, to) = china_day_range(d("2026-11-01"), d("2026-11-02"), now).expect("range");
        assert_eq!(from.to_rfc3339(), "2026-10-31T16:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2026-11-02T16:00:00+00:00");
        // Defaults: today in China (already the 26th at 01:00) and 30 days before.
        let (from, to) = china_day_range(None, None, now).expect("range");
        assert_eq!(
            (from.to_rfc3339(), to.to_rfc3339()),
            ("2026-10-26T16:00:00+00:00".into(), "2026-11-26T16:00:00+00:00".into())
        );
        assert_eq!(china_day_range(d("2026-11-03"), d("2026-11-02"), now), Err(DayRangeError::Reversed));
        let far = NaiveDate::from_ymd_opt(-262_143, 1, 1);
        assert_eq!(china_day_range(None, far, now), Err(DayRangeError::OutOfRange));
        assert_eq!(china_day_range(NaiveDate::from_ymd_opt(2101, 1, 1), None, now), Err(DayRangeError::OutOfRange));
        assert!(
            china_day_range(NaiveDate::from_ymd_opt(1900, 1, 1), NaiveDate::from_ymd_opt(2100, 12, 31), now).is_ok()
        );
    }

    #[test]
    fn deadline_is_close_of_business_on_the_second_working_day_after() {
        let c = calendar();
        // Monday 2026-11-23 10:00 → Wednesday 17:30.
        let due = c.review_due_at(local("2026-11-23 10:00"), five_thirty());
        assert_eq!(due.due_at, local("2026-11-25 17:30"));
        assert!(due.uncovered_years.is_empty());
        // Friday evening → Tuesday.
        assert_eq!(c.review_due_at(local("2026-11-27 23:50"), five_thirty()).due_at, local("2026-12-01 17:30"));
        // Saturday → Tuesday.
        assert_eq!(c.review_due_at(local("2026-11-28 09:00"), five_thirty()).due_at, local("2026-12-01 17:30"));
    }

    #[test]
    fn deadline_skips_national_day_and_counts_the_make_up_saturday() {
        let c = calendar();
        // Tuesday 2026-09-29: Wed 30th is day one, Oct 1–7 are off, Thu Oct 8 is day two.
        assert_eq!(c.review_due_at(local("2026-09-29 11:00"), five_thirty()).due_at, local("2026-10-08 17:30"));
        // Submitted on Thursday Oct 8: Fri 9th, then the make-up Saturday the 10th.
        assert_eq!(c.review_due_at(local("2026-10-08 15:00"), five_thirty()).due_at, local("2026-10-10 17:30"));
        // During the Spring Festival: Feb 16 → Feb 24 (first working day), Feb 25.
        assert_eq!(c.review_due_at(local("2026-02-16 12:00"), five_thirty()).due_at, local("2026-02-25 17:30"));
    }

    #[test]
    fn deadline_in_a_year_without_data_is_flagged() {
        let c = calendar();
        let due = c.review_due_at(local("2026-12-31 10:00"), five_thirty());
        assert_eq!(due.uncovered_years, vec![2027]);
        // Mon–Fri fallback: Fri 2027-01-01, Mon 2027-01-04.
        assert_eq!(due.due_at, local("2027-01-04 17:30"));
        assert!(!c.covers(2027));
    }

    #[test]
    fn utc_midnight_is_already_the_next_day_in_china() {
        let c = calendar();
        // 2026-11-22 17:00 UTC = Monday 01:00 in Shanghai → Wednesday.
        let t = Utc.with_ymd_and_hms(2026, 11, 22, 17, 0, 0).single().expect("time");
        assert_eq!(c.review_due_at(t, five_thirty()).due_at, local("2026-11-25 17:30"));
    }

    #[test]
    fn bad_data_is_refused() {
        let bad = "[[year]]\nyear = 2026\ndays_off = [[\"2026-01-03\", \"2026-01-01\"]]\n";
        assert!(Calendar::from_toml(bad).is_err());
        let weekday_makeup = "[[year]]\nyear = 2026\ndays_off = []\nworking_weekend_days = [\"2026-01-05\"]\n";
        assert!(Calendar::from_toml(weekday_makeup).is_err());
    }

    #[test]
    fn office_hours_follow_the_calendar() {
        let c = calendar();
        let hours = OfficeHours::parse(&["08:30-12:00", "14:30-17:30"]).expect("valid");
        assert!(hours.is_open(&c, local("2026-11-26 09:00")));
        assert!(!hours.is_open(&c, local("2026-11-26 12:30")));
        assert!(hours.is_open(&c, local("2026-11-26 17:29")));
        assert!(!hours.is_open(&c, local("2026-11-26 17:30")));
        assert!(!hours.is_open(&c, local("2026-11-28 09:00"))); // Saturday
        assert!(!hours.is_open(&c, local("2026-10-05 09:00"))); // National Day
        assert!(hours.is_open(&c, local("2026-10-10 09:00"))); // make-up Saturday
        assert_eq!(hours.close_of_business(), five_thirty());
        assert!(OfficeHours::parse(&["12:00-08:30"]).is_err());
    }
}
