//! 节假日表: the State Council's holiday blocks (放假) and make-up workdays (调休上班日), one table per year.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, Weekday};
use serde::Deserialize;

use super::error::CalendarError;

/// The shipped holiday files, compiled into the binary so it works without files on disk.
const EMBEDDED: [(&str, &str); 2] = [
    ("config/holidays/2025.toml", include_str!("../../../config/holidays/2025.toml")),
    ("config/holidays/2026.toml", include_str!("../../../config/holidays/2026.toml")),
];

/// What kind of day a date is on the Chinese calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DayKind {
    /// Monday to Friday, not in a holiday block: a working day.
    Weekday,
    /// Saturday or Sunday, not declared a working day: a rest day.
    Weekend,
    /// A date inside a State Council holiday block (法定节假日 / 放假调休): a rest day, whatever its weekday.
    Holiday,
    /// A Saturday or Sunday declared a working day (调休上班日).
    MakeUpWorkday,
}

impl DayKind {
    /// Whether people work on such a day (Mon–Fri outside holidays, or a make-up workday).
    pub fn is_working_day(self) -> bool {
        matches!(self, DayKind::Weekday | DayKind::MakeUpWorkday)
    }
}

/// A date's mark in the holiday data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Off,
    Workday,
}

/// One year's holiday arrangement, as published in the State Council notice for that year.
///
/// Besides the year's own dates it may hold December dates of the year before: the notice for year N
/// governs a New Year block that starts in December of N−1 (as the 2019 notice did for 2018-12-29..31).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearTable {
    year: i16,
    off: BTreeSet<Date>,
    workdays: BTreeSet<Date>,
}

impl YearTable {
    /// The year the notice is for.
    pub fn year(&self) -> i16 {
        self.year
    }

    /// Dates inside holiday blocks, in order.
    pub fn off(&self) -> impl Iterator<Item = Date> + '_ {
        self.off.iter().copied()
    }

    /// Make-up workdays (调休上班日), in order.
    pub fn workdays(&self) -> impl Iterator<Item = Date> + '_ {
        self.workdays.iter().copied()
    }
}

/// The file shape of `config/holidays/<year>.toml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYear {
    year: i16,
    off: Vec<String>,
    workdays: Vec<String>,
}

/// 节假日表: statutory holidays and make-up workdays for the years that have data.
///
/// A date in a year without data follows the plain rule (Mon–Fri work, Sat–Sun rest); use
/// [`HolidayTable::missing_years`] to warn about such years.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HolidayTable {
    years: BTreeMap<i16, YearTable>,
    /// Every listed date of every year, with the year whose file lists it.
    marks: BTreeMap<Date, (Mark, i16)>,
}

impl HolidayTable {
    /// A table with no data at all: every date follows the plain Mon–Fri rule.
    pub fn empty() -> HolidayTable {
        HolidayTable::default()
    }

    /// Parses one year's file (`config/holidays/<year>.toml`).
    ///
    /// Checks that every date is `YYYY-MM-DD` and belongs to the stated year (or to December of the year
    /// before), that make-up workdays are Saturdays or Sundays, that no date is listed twice and that
    /// `off` and `workdays` are disjoint. Errors name the offending value.
    pub fn parse_year(text: &str) -> Result<YearTable, CalendarError> {
        let raw: RawYear = toml::from_str(text).map_err(|e| CalendarError::HolidaySyntax(e.to_string()))?;
        let year = raw.year;
        if !(1..=9999).contains(&year) {
            return Err(CalendarError::BadYear { year });
        }
        let off = parse_dates("off", &raw.off, year)?;
        let workdays = parse_dates("workdays", &raw.workdays, year)?;
        for &date in &workdays {
            let weekday = date.weekday();
            if !is_weekend(weekday) {
                return Err(CalendarError::WorkdayNotWeekend { date, weekday: weekday_name(weekday) });
            }
        }
        if let Some(&date) = off.intersection(&workdays).next() {
            return Err(CalendarError::OffAndWorkday { date });
        }
        Ok(YearTable { year, off, workdays })
    }

    /// Combines year tables into one. Giving a year twice, or listing one date in two years' files,
    /// is an error.
    pub fn from_years(years: Vec<YearTable>) -> Result<HolidayTable, CalendarError> {
        let mut table = HolidayTable::default();
        for year in years {
            if table.years.contains_key(&year.year) {
                return Err(CalendarError::DuplicateYear { year: year.year });
            }
            let marked = year
                .off
                .iter()
                .map(|&d| (d, Mark::Off))
                .chain(year.workdays.iter().map(|&d| (d, Mark::Workday)));
            for (date, mark) in marked {
                if let Some(&(_, first_year)) = table.marks.get(&date) {
                    let (first_year, second_year) = (first_year.min(year.year), first_year.max(year.year));
                    return Err(CalendarError::DateInTwoYears { date, first_year, second_year });
                }
                table.marks.insert(date, (mark, year.year));
            }
            table.years.insert(year.year, year);
        }
        Ok(table)
    }

    /// The shipped data (`config/holidays/*.toml`), compiled into the binary.
    pub fn embedded() -> HolidayTable {
        let years = EMBEDDED
            .iter()
            .map(|(name, text)| {
                HolidayTable::parse_year(text).unwrap_or_else(|e| panic!("embedded {name} is invalid: {e}"))
            })
            .collect();
        HolidayTable::from_years(years).unwrap_or_else(|e| panic!("embedded holiday files conflict: {e}"))
    }

    /// The years that have data, in increasing order.
    pub fn years(&self) -> impl Iterator<Item = i16> + '_ {
        self.years.keys().copied()
    }

    /// Whether `year` has data.
    pub fn covers(&self, year: i16) -> bool {
        self.years.contains_key(&year)
    }

    /// One year's table, if present.
    pub fn year(&self, year: i16) -> Option<&YearTable> {
        self.years.get(&year)
    }

    /// What kind of day `date` is. Dates without data follow the plain weekday rule.
    pub fn day_kind(&self, date: Date) -> DayKind {
        match self.marks.get(&date) {
            Some((Mark::Off, _)) => DayKind::Holiday,
            Some((Mark::Workday, _)) => DayKind::MakeUpWorkday,
            None if is_weekend(date.weekday()) => DayKind::Weekend,
            None => DayKind::Weekday,
        }
    }

    /// Whether `date` is a working day: Mon–Fri and not in a holiday block, or a make-up workday.
    pub fn is_working_day(&self, date: Date) -> bool {
        self.day_kind(date).is_working_day()
    }

    /// The years from `from` to `to` (inclusive) that have no data, for start-up warnings.
    ///
    /// Only the year of each date is checked. A December date can still be moved by the next year's
    /// notice (a New Year block starting in December); that is not reported here.
    pub fn missing_years(&self, from: Date, to: Date) -> Vec<i16> {
        (from.year()..=to.year()).filter(|&y| !self.covers(y)).collect()
    }
}

fn parse_dates(field: &'static str, values: &[String], year: i16) -> Result<BTreeSet<Date>, CalendarError> {
    let mut dates = BTreeSet::new();
    for value in values {
        let date = parse_date(value).ok_or_else(|| CalendarError::BadDate { field, value: value.clone() })?;
        let in_year = date.year() == year || (date.year() == year - 1 && date.month() == 12);
        if !in_year {
            return Err(CalendarError::DateOutsideYear { field, date, year });
        }
        if !dates.insert(date) {
            return Err(CalendarError::DuplicateDate { field, date });
        }
    }
    Ok(dates)
}

/// Strict `YYYY-MM-DD`.
fn parse_date(text: &str) -> Option<Date> {
    let b = text.as_bytes();
    let shape_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape_ok {
        return None;
    }
    let year = text[0..4].parse().ok()?;
    let month = text[5..7].parse().ok()?;
    let day = text[8..10].parse().ok()?;
    Date::new(year, month, day).ok()
}

pub(super) fn is_weekend(weekday: Weekday) -> bool {
    matches!(weekday, Weekday::Saturday | Weekday::Sunday)
}

pub(super) fn weekday_name(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Monday => "Monday",
        Weekday::Tuesday => "Tuesday",
        Weekday::Wednesday => "Wednesday",
        Weekday::Thursday => "Thursday",
        Weekday::Friday => "Friday",
        Weekday::Saturday => "Saturday",
        Weekday::Sunday => "Sunday",
    }
}
