//! The dashboard's chart of applications per day: an SVG drawn on the server (no script, no
//! library), one bar per day, the day under every seventh bar.

use std::fmt::Write;

use chrono::NaiveDate;

const WIDTH: u32 = 760;
const HEIGHT: u32 = 220;
const TOP: u32 = 20;
const BOTTOM: u32 = 30;
const LEFT: u32 = 40;

/// One bar per day, scaled to the busiest day; the count above each non-empty bar.
pub fn per_day_svg(days: &[(NaiveDate, i64)]) -> String {
    let most = days.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let plot_h = i64::from(HEIGHT - TOP - BOTTOM);
    let slot = (WIDTH - LEFT) / u32::try_from(days.len().max(1)).unwrap_or(1).max(1);
    let bar = slot.saturating_sub(2).max(1);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100%\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         role=\"img\" aria-label=\"每日申请数\" font-size=\"10\" font-family=\"sans-serif\">"
    );
    let base = i64::from(HEIGHT - BOTTOM);
    let _ = write!(svg, "<line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{WIDTH}\" y2=\"{base}\" stroke=\"#888\"/>");
    let _ = write!(svg, "<text x=\"0\" y=\"{}\">{most}</text>", TOP + 4);
    for (i, (day, n)) in days.iter().enumerate() {
        let x = LEFT + u32::try_from(i).unwrap_or(0) * slot;
        // A negative count cannot come from a COUNT; clamp rather than draw upwards.
        let h = (*n).max(0) * plot_h / most;
        let _ = write!(
            svg,
            "<rect class=\"day\" data-day=\"{day}\" data-count=\"{n}\" x=\"{x}\" y=\"{}\" width=\"{bar}\" height=\"{h}\" fill=\"#1f4e79\"><title>{day}：{n} 件</title></rect>",
            base - h
        );
        if *n > 0 {
            let _ = write!(svg, "<text x=\"{x}\" y=\"{}\">{n}</text>", base - h - 2);
        }
        if i % 7 == 0 {
            let _ = write!(svg, "<text x=\"{x}\" y=\"{}\">{}</text>", base + 14, day.format("%m-%d"));
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).expect("a day")
    }

    #[test]
    fn bars_are_scaled_to_the_busiest_day_and_labelled() {
        let svg = per_day_svg(&[(day(1), 0), (day(2), 4), (day(3), 2)]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect class=\"day\"").count(), 3);
        // The busiest day is full height (170 px), the half-as-busy one half of it.
        assert!(
            svg.contains("data-day=\"2026-11-02\" data-count=\"4\" x=\"280\" y=\"20\" width=\"238\" height=\"170\""),
            "{svg}"
        );
        assert!(
            svg.contains("data-day=\"2026-11-03\" data-count=\"2\" x=\"520\" y=\"105\" width=\"238\" height=\"85\""),
            "{svg}"
        );
        assert!(svg.contains("data-day=\"2026-11-01\" data-count=\"0\" x=\"40\" y=\"190\" width=\"238\" height=\"0\""));
        assert!(svg.contains(">11-01</text>"));
    }

    #[test]
    fn no_applications_draws_empty_days_without_dividing_by_zero() {
        let svg = per_day_svg(&[(day(1), 0), (day(2), 0)]);
        assert_eq!(svg.matches("height=\"0\"").count(), 2);
        assert!(per_day_svg(&[]).ends_with("</svg>"));
    }
}
