//! Calendar periods: months, quarters, years and custom ranges, all in UTC.
//!
//! A [`Period`] is a half-open range of instants `[from, to)`: a case notified at the first
//! millisecond of April belongs to April, one notified at the last millisecond of March
//! (`23:59:59.999`) to March. Calendar periods are UTC calendar periods, so a month starts at
//! `00:00 UTC` on its first day (01:00 or 02:00 Amsterdam time).
//!
//! [`Month`] is a calendar month (year and month), written and serialised as `"2026-03"`.

use lists::Millis;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

const MS_PER_DAY: i64 = 86_400_000;

/// The smallest year the constructors accept.
pub const MIN_YEAR: i32 = 1;
/// The largest year the constructors accept.
pub const MAX_YEAR: i32 = 9999;

/// Why a period or month could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// A month number outside 1 to 12.
    #[error("a month is 1 to 12, not {0}")]
    Month(u8),
    /// A quarter number outside 1 to 4.
    #[error("a quarter is 1 to 4, not {0}")]
    Quarter(u8),
    /// A year outside [`MIN_YEAR`] to [`MAX_YEAR`].
    #[error("a year is {MIN_YEAR} to {MAX_YEAR}, not {0}")]
    Year(i32),
    /// A custom range that does not end after it starts.
    #[error("a period must end after it starts (from {from} ms, to {to} ms)")]
    Empty {
        /// The start asked for (epoch milliseconds).
        from: i64,
        /// The end asked for (epoch milliseconds).
        to: i64,
    },
    /// Text that is not a month in the form `YYYY-MM`.
    #[error("not a month of the form YYYY-MM: {0:?}")]
    Parse(String),
    /// Text that is not a period.
    #[error("not a period: {0:?} (use 2026, 2026-Q1, 2026-03 or 2026-03-05..2026-04-11)")]
    ParsePeriod(String),
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date `(year, month, day)` of a day number since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn day_start(year: i64, month: u32, day: u32) -> Millis {
    Millis(
        days_from_civil(year, month, day)
            .checked_mul(MS_PER_DAY)
            .unwrap_or(if year < 1970 { i64::MIN } else { i64::MAX }),
    )
}

fn check_year(year: i32) -> Result<(), PeriodError> {
    if (MIN_YEAR..=MAX_YEAR).contains(&year) {
        Ok(())
    } else {
        Err(PeriodError::Year(year))
    }
}

/// A calendar month in UTC: a year and a month number 1 to 12.
///
/// Ordered by time; written (and serialised) as `"2026-03"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u8,
}

impl Month {
    /// The month `month` (1 to 12) of `year` ([`MIN_YEAR`] to [`MAX_YEAR`]).
    pub fn new(year: i32, month: u8) -> Result<Month, PeriodError> {
        check_year(year)?;
        if !(1..=12).contains(&month) {
            return Err(PeriodError::Month(month));
        }
        Ok(Month { year, month })
    }

    /// The UTC month an instant falls in. Total: any instant has a month.
    pub fn of(at: Millis) -> Month {
        let (year, month, _) = civil_from_days(at.0.div_euclid(MS_PER_DAY));
        let year = i32::try_from(year).unwrap_or(if year < 0 { i32::MIN } else { i32::MAX });
        Month {
            year,
            month: month as u8,
        }
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month number, 1 (January) to 12 (December).
    pub fn month(self) -> u8 {
        self.month
    }

    /// The quarter the month is in, 1 to 4.
    pub fn quarter(self) -> u8 {
        (self.month - 1) / 3 + 1
    }

    /// The first millisecond of the month.
    pub fn start(self) -> Millis {
        day_start(i64::from(self.year), u32::from(self.month), 1)
    }

    /// The first millisecond after the month (the next month's start).
    pub fn end(self) -> Millis {
        self.next().start()
    }

    /// The month after.
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year.saturating_add(1),
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// The month before.
    pub fn prev(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year.saturating_sub(1),
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// The month as a period, `[start, end)`.
    pub fn period(self) -> Period {
        Period {
            from: self.start(),
            to: self.end(),
        }
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = PeriodError;

    /// Reads `"2026-03"`.
    fn from_str(s: &str) -> Result<Month, PeriodError> {
        let bad = || PeriodError::Parse(s.to_string());
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u8 = m.parse().map_err(|_| bad())?;
        Month::new(year, month)
    }
}

impl Serialize for Month {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Month, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Every month from `from` to `to`, both included, in order (empty when `from > to`).
pub fn months_between(from: Month, to: Month) -> Vec<Month> {
    let mut out = Vec::new();
    let mut m = from;
    while m <= to {
        out.push(m);
        if m.next() == m {
            break;
        }
        m = m.next();
    }
    out
}

/// What kind of calendar period a [`Period`] is, read from its bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeriodKind {
    /// Exactly one calendar month.
    Month(Month),
    /// Exactly one calendar quarter: the year and the quarter 1 to 4.
    Quarter(i32, u8),
    /// Exactly one calendar year.
    Year(i32),
    /// Anything else.
    Custom,
}

/// A half-open range of instants `[from, to)`: `from` is in it, `to` is not.
///
/// Serialises as `{"from": <ms>, "to": <ms>}`. The fields are public so storage and URLs can
/// carry a period as two numbers; [`Period::custom`] is the checked way to make one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    /// The first instant in the period.
    pub from: Millis,
    /// The first instant after the period.
    pub to: Millis,
}

impl Period {
    /// The calendar month `month` (1 to 12) of `year`, UTC.
    pub fn month(year: i32, month: u8) -> Result<Period, PeriodError> {
        Ok(Month::new(year, month)?.period())
    }

    /// The calendar quarter `quarter` (1 to 4) of `year`, UTC: Q1 is January to March.
    pub fn quarter(year: i32, quarter: u8) -> Result<Period, PeriodError> {
        if !(1..=4).contains(&quarter) {
            return Err(PeriodError::Quarter(quarter));
        }
        let first = Month::new(year, (quarter - 1) * 3 + 1)?;
        Ok(Period {
            from: first.start(),
            to: first.next().next().end(),
        })
    }

    /// The calendar year `year`, UTC.
    pub fn year(year: i32) -> Result<Period, PeriodError> {
        check_year(year)?;
        Ok(Period {
            from: day_start(i64::from(year), 1, 1),
            to: day_start(i64::from(year) + 1, 1, 1),
        })
    }

    /// Any range `[from, to)` that is not empty.
    pub fn custom(from: Millis, to: Millis) -> Result<Period, PeriodError> {
        if from < to {
            Ok(Period { from, to })
        } else {
            Err(PeriodError::Empty {
                from: from.0,
                to: to.0,
            })
        }
    }

    /// Whether `at` is in the period (`from <= at < to`).
    pub fn contains(&self, at: Millis) -> bool {
        self.from <= at && at < self.to
    }

    /// The instants in both periods, if any.
    pub fn intersect(&self, other: &Period) -> Option<Period> {
        let from = self.from.max(other.from);
        let to = self.to.min(other.to);
        (from < to).then_some(Period { from, to })
    }

    /// Whether any instant of month `m` is in the period.
    pub fn overlaps_month(&self, m: Month) -> bool {
        self.intersect(&m.period()).is_some()
    }

    /// Every month with at least one instant in the period, in order.
    pub fn months(&self) -> Vec<Month> {
        if self.from >= self.to {
            return Vec::new();
        }
        months_between(Month::of(self.from), Month::of(Millis(self.to.0 - 1)))
    }

    /// Whether the period is exactly a calendar month, quarter or year.
    pub fn kind(&self) -> PeriodKind {
        let m = Month::of(self.from);
        if m.start() != self.from {
            return PeriodKind::Custom;
        }
        if m.end() == self.to {
            return PeriodKind::Month(m);
        }
        let q = m.quarter();
        if m.month() == (q - 1) * 3 + 1 && m.next().next().end() == self.to {
            return PeriodKind::Quarter(m.year(), q);
        }
        if m.month() == 1 && Period::year(m.year()).is_ok_and(|y| y.to == self.to) {
            return PeriodKind::Year(m.year());
        }
        PeriodKind::Custom
    }

    /// A short human label: `2026-03`, `2026-Q1`, `2026`; a custom range of whole days as
    /// `2026-03-05 to 2026-04-11` (the last day *included*, as people read ranges), any other
    /// range as two RFC 3339 instants, `to` excluded: `2026-03-05T10:00:00Z to 2026-03-06T10:00:00Z`.
    pub fn label(&self) -> String {
        self.short(" to ", |p| {
            format!("{} to {}", p.from.rfc3339(), p.to.rfc3339())
        })
    }

    /// The month, quarter and year forms, and a range of whole days as `{first}{sep}{last}`
    /// (the last day included); any other range through `other`.
    fn short(&self, sep: &str, other: impl Fn(&Self) -> String) -> String {
        match self.kind() {
            PeriodKind::Month(m) => m.to_string(),
            PeriodKind::Quarter(y, q) => format!("{y:04}-Q{q}"),
            PeriodKind::Year(y) => format!("{y:04}"),
            PeriodKind::Custom => {
                if self.from.0.rem_euclid(MS_PER_DAY) == 0 && self.to.0.rem_euclid(MS_PER_DAY) == 0
                {
                    let day = |d: i64| {
                        let (y, m, d) = civil_from_days(d);
                        format!("{y:04}-{m:02}-{d:02}")
                    };
                    format!(
                        "{}{sep}{}",
                        day(self.from.0.div_euclid(MS_PER_DAY)),
                        day(self.to.0.div_euclid(MS_PER_DAY) - 1)
                    )
                } else {
                    other(self)
                }
            }
        }
    }
}

impl Period {
    /// The short form [`FromStr`] reads back: `2026-03`, `2026-Q1`, `2026`, or for a range of
    /// whole days `2026-03-05..2026-04-11` (the last day included). Other ranges use epoch
    /// milliseconds: `1772668800000..1772755200000` (`to` excluded).
    pub fn slug(&self) -> String {
        self.short("..", |p| format!("{}..{}", p.from.0, p.to.0))
    }
}

impl FromStr for Period {
    type Err = PeriodError;

    /// Reads [`Period::slug`]: `2026`, `2026-Q1`, `2026-03`, `2026-03-05..2026-04-11` (days,
    /// both included) or `FROM_MS..TO_MS`.
    fn from_str(s: &str) -> Result<Period, PeriodError> {
        let s = s.trim();
        let bad = || PeriodError::ParsePeriod(s.to_string());
        if let Some((a, b)) = s.split_once("..") {
            let day = |t: &str| -> Result<i64, PeriodError> {
                let mut it = t.split('-');
                let (Some(y), Some(m), Some(d), None) =
                    (it.next(), it.next(), it.next(), it.next())
                else {
                    return Err(bad());
                };
                if y.len() != 4 || m.len() != 2 || d.len() != 2 {
                    return Err(bad());
                }
                let (y, m, d): (i64, u32, u32) = (
                    y.parse().map_err(|_| bad())?,
                    m.parse().map_err(|_| bad())?,
                    d.parse().map_err(|_| bad())?,
                );
                let days = days_from_civil(y, m, d);
                if !(1..=12).contains(&m) || civil_from_days(days) != (y, m, d) {
                    return Err(bad());
                }
                Ok(days)
            };
            if let (Ok(from), Ok(to)) = (a.parse::<i64>(), b.parse::<i64>()) {
                return Period::custom(Millis(from), Millis(to));
            }
            let (from, to) = (day(a)?, day(b)?);
            return Period::custom(Millis(from * MS_PER_DAY), Millis((to + 1) * MS_PER_DAY));
        }
        if let Some((y, q)) = s.split_once("-Q") {
            let year: i32 = y.parse().map_err(|_| bad())?;
            let q: u8 = q.parse().map_err(|_| bad())?;
            return Period::quarter(year, q);
        }
        if s.len() == 4 {
            return Period::year(s.parse().map_err(|_| bad())?);
        }
        s.parse::<Month>().map(Month::period).map_err(|_| bad())
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_read_back_their_slugs() {
        for s in [
            "2026",
            "2026-Q3",
            "2026-03",
            "2026-03-05..2026-04-11",
            "5..99",
        ] {
            let p: Period = s.parse().unwrap();
            assert_eq!(p.slug(), s);
        }
        assert_eq!(
            "2026-03-01..2026-03-31".parse::<Period>().unwrap(),
            Period::month(2026, 3).unwrap()
        );
        for bad in [
            "",
            "26",
            "2026-Q5",
            "2026-13",
            "2026-02-30..2026-03-01",
            "2026-03-05..2026-03-01",
            "x..y",
        ] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
    }

    #[test]
    fn civil_round_trips_and_agrees_with_the_time_crate() {
        for days in (-800_000..800_000).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            let date = time::Date::from_julian_day((days + 2_440_588) as i32).unwrap();
            assert_eq!(
                (
                    date.year() as i64,
                    date.month() as u32,
                    u32::from(date.day())
                ),
                (y, m, d)
            );
        }
    }

    #[test]
    fn month_boundaries() {
        let march = Period::month(2026, 3).unwrap();
        // 2026-03-01T00:00:00Z = 1772323200 s.
        assert_eq!(march.from, Millis(1_772_323_200_000));
        assert_eq!(march.to, Period::month(2026, 4).unwrap().from);
        assert!(march.contains(march.from));
        assert!(march.contains(Millis(march.to.0 - 1)));
        assert!(!march.contains(march.to));
        assert_eq!(
            Month::of(Millis(march.to.0 - 1)),
            Month::new(2026, 3).unwrap()
        );
        assert_eq!(Month::of(march.to), Month::new(2026, 4).unwrap());
        // February of a leap year has 29 days.
        let feb = Period::month(2024, 2).unwrap();
        assert_eq!(feb.to.0 - feb.from.0, 29 * MS_PER_DAY);
        // Before 1970 too.
        assert_eq!(Month::of(Millis(-1)), Month::new(1969, 12).unwrap());
    }

    #[test]
    fn quarters_years_and_labels() {
        let q1 = Period::quarter(2026, 1).unwrap();
        assert_eq!(q1.from, Period::month(2026, 1).unwrap().from);
        assert_eq!(q1.to, Period::month(2026, 4).unwrap().from);
        assert_eq!(q1.label(), "2026-Q1");
        assert_eq!(Period::quarter(2026, 4).unwrap().label(), "2026-Q4");
        assert_eq!(Period::month(2026, 3).unwrap().label(), "2026-03");
        let y = Period::year(2026).unwrap();
        assert_eq!(y.label(), "2026");
        assert_eq!(y.months().len(), 12);
        assert_eq!(q1.months().len(), 3);
        let days = Period::custom(
            Period::month(2026, 3).unwrap().from,
            Millis(Period::month(2026, 3).unwrap().from.0 + 3 * MS_PER_DAY),
        )
        .unwrap();
        assert_eq!(days.label(), "2026-03-01 to 2026-03-03");
        let odd = Period::custom(Millis(3_600_000), Millis(7_200_000)).unwrap();
        assert_eq!(odd.label(), "1970-01-01T01:00:00Z to 1970-01-01T02:00:00Z");
        assert_eq!(odd.months(), vec![Month::new(1970, 1).unwrap()]);
    }

    #[test]
    fn errors() {
        assert_eq!(Period::month(2026, 13), Err(PeriodError::Month(13)));
        assert_eq!(Period::month(2026, 0), Err(PeriodError::Month(0)));
        assert_eq!(Period::quarter(2026, 5), Err(PeriodError::Quarter(5)));
        assert_eq!(Period::year(10_000), Err(PeriodError::Year(10_000)));
        assert!(matches!(
            Period::custom(Millis(5), Millis(5)),
            Err(PeriodError::Empty { .. })
        ));
        assert!("2026-3".parse::<Month>().is_err());
        assert!("2026-13".parse::<Month>().is_err());
    }

    #[test]
    fn month_iteration_and_serde() {
        let from = Month::new(2025, 11).unwrap();
        let to = Month::new(2026, 2).unwrap();
        let all: Vec<String> = months_between(from, to)
            .iter()
            .map(|m| m.to_string())
            .collect();
        assert_eq!(all, ["2025-11", "2025-12", "2026-01", "2026-02"]);
        assert!(months_between(to, from).is_empty());
        assert_eq!(from.prev().next(), from);
        let json = serde_json::to_string(&from).unwrap();
        assert_eq!(json, "\"2025-11\"");
        assert_eq!(serde_json::from_str::<Month>(&json).unwrap(), from);
        let p = Period::month(2026, 3).unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"from":1772323200000,"to":1775001600000}"#);
        assert_eq!(serde_json::from_str::<Period>(&json).unwrap(), p);
    }
}
