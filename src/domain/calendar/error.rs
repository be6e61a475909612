//! [`CalendarError`]: everything that can be wrong with holiday data, working hours or a calendar query.

use jiff::SignedDuration;
use jiff::civil::Date;

/// An error from parsing holiday data or working hours, building a calendar, or computing with one.
///
/// Messages name the offending value (the date, the weekday key and index, the interval text), so the
/// configuration layer only has to prefix its own key path (`calendars.court: …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CalendarError {
    /// The holiday file is not valid TOML or does not have the expected keys.
    #[error("holiday data is not valid: {0}")]
    HolidaySyntax(String),
    /// A value in `off` or `workdays` is not a `YYYY-MM-DD` date.
    #[error("{field}: {value:?} is not a date in the form YYYY-MM-DD")]
    BadDate {
        /// `off` or `workdays`.
        field: &'static str,
        /// The text as written.
        value: String,
    },
    /// The `year` key is outside the supported range.
    #[error("year = {year} is outside the supported range 1..=9999")]
    BadYear {
        /// The year as written.
        year: i16,
    },
    /// A date in a year's file belongs to another year (December of the year before is allowed, for a
    /// New Year block that starts in December).
    #[error(
        "{field}: {date} does not belong to year {year} (a year's file lists that year's dates, plus December \
         dates of the year before when the New Year block starts in December)"
    )]
    DateOutsideYear {
        /// `off` or `workdays`.
        field: &'static str,
        /// The offending date.
        date: Date,
        /// The year the file states.
        year: i16,
    },
    /// A make-up workday (调休上班日) that is not a Saturday or Sunday.
    #[error(
        "workdays: {date} is a {weekday}, but a make-up workday (调休上班日) must be a Saturday or Sunday"
    )]
    WorkdayNotWeekend {
        /// The offending date.
        date: Date,
        /// Its weekday, in English.
        weekday: &'static str,
    },
    /// A date listed both as a holiday and as a make-up workday.
    #[error("{date} is listed both in off and in workdays")]
    OffAndWorkday {
        /// The offending date.
        date: Date,
    },
    /// A date listed twice in the same list.
    #[error("{field}: {date} is listed twice")]
    DuplicateDate {
        /// `off` or `workdays`.
        field: &'static str,
        /// The offending date.
        date: Date,
    },
    /// Two tables for the same year.
    #[error("holiday data for year {year} is given twice")]
    DuplicateYear {
        /// The repeated year.
        year: i16,
    },
    /// The same date appears in the files of two years (possible only for December dates).
    #[error("{date} is listed in the holiday data of both {first_year} and {second_year}")]
    DateInTwoYears {
        /// The offending date.
        date: Date,
        /// The first file's year.
        first_year: i16,
        /// The second file's year.
        second_year: i16,
    },
    /// A working-hours interval that cannot be read or makes no sense on its own.
    #[error("interval {text:?}: {reason}")]
    BadInterval {
        /// The text as written.
        text: String,
        /// What is wrong.
        reason: String,
    },
    /// A working-hours interval of one weekday that cannot be read or makes no sense on its own.
    #[error("hours.{day}[{index}] = {text:?}: {reason}")]
    BadDayInterval {
        /// The weekday key: `mon` … `sun`.
        day: &'static str,
        /// Zero-based position in that weekday's list.
        index: usize,
        /// The text as written.
        text: String,
        /// What is wrong.
        reason: String,
    },
    /// Two intervals of one weekday out of order or overlapping.
    #[error(
        "hours.{day}[{index}] = {text:?} starts before hours.{day}[{previous_index}] = {previous_text:?} ends; \
         list a day's intervals in time order without overlaps"
    )]
    IntervalOrder {
        /// The weekday key: `mon` … `sun`.
        day: &'static str,
        /// Zero-based position of the later-listed interval.
        index: usize,
        /// The later-listed interval.
        text: String,
        /// Zero-based position of the interval before it.
        previous_index: usize,
        /// The interval before it.
        previous_text: String,
    },
    /// A working calendar whose hours are empty on every weekday would never count any time.
    #[error("a working calendar needs working hours on at least one weekday (all of mon..sun are empty)")]
    NoWorkingHours,
    /// `hours` given for `kind = "always"`.
    #[error("hours cannot be set when kind = \"always\" (a 7×24 calendar counts every instant)")]
    HoursForAlways,
    /// `timezone` names no known time zone.
    #[error("timezone = {name:?} is not a known time zone: {reason}")]
    UnknownTimeZone {
        /// The name as written.
        name: String,
        /// The time-zone database's answer.
        reason: String,
    },
    /// A negative amount of working time was asked for.
    #[error("working time to add must not be negative, got {duration}")]
    NegativeDuration {
        /// The duration asked for.
        duration: SignedDuration,
    },
    /// The answer lies beyond the supported range of dates (year 9999).
    #[error("the result lies beyond the supported range of dates")]
    OutOfRange,
}
