//! 工作日历: working calendars — 7×24, or working hours (5×8) on the Chinese holiday calendar with its
//! statutory holidays (法定节假日) and make-up workdays (调休上班日).
//!
//! Pure domain code: no I/O, no clock. Holiday data arrives as text (`config/holidays/<year>.toml`, also
//! compiled in through [`HolidayTable::embedded`]).
//!
//! # Public API
//!
//! ```text
//! HolidayTable::parse_year(text: &str) -> Result<YearTable, CalendarError>
//! HolidayTable::from_years(Vec<YearTable>) -> Result<HolidayTable, CalendarError>
//! HolidayTable::embedded() -> HolidayTable            HolidayTable::empty() -> HolidayTable
//! HolidayTable::{years() -> impl Iterator<Item = i16>, covers(i16) -> bool, year(i16) -> Option<&YearTable>,
//!                day_kind(Date) -> DayKind, is_working_day(Date) -> bool, missing_years(Date, Date) -> Vec<i16>}
//! YearTable::{year() -> i16, off() -> impl Iterator<Item = Date>, workdays() -> impl Iterator<Item = Date>}
//! DayKind::{Weekday, Weekend, Holiday, MakeUpWorkday}, DayKind::is_working_day(self) -> bool
//!
//! WorkingInterval::{new(Time, Time), parse(&str)} -> Result<WorkingInterval, CalendarError>
//! WorkingInterval::{start() -> Time, end() -> Option<Time> (None = 24:00), duration() -> SignedDuration}
//! WorkingHours::new([Vec<WorkingInterval>; 7]) -> Result<WorkingHours, CalendarError>   (Monday first)
//! WorkingHours::{court_default(), on(Weekday) -> &[WorkingInterval], is_empty() -> bool}
//! HoursSpec { mon, tue, wed, thu, fri, sat, sun: Vec<String> }, HoursSpec::build() -> Result<WorkingHours, _>
//! CalendarSpec { kind: CalendarKind, timezone: Option<String>, hours: Option<HoursSpec> }
//! CalendarSpec::build(&self, Arc<HolidayTable>, default_tz: &TimeZone) -> Result<Calendar, CalendarError>
//!
//! enum Calendar { Always, Working(WorkingCalendar) }
//! WorkingCalendar::new(WorkingHours, Arc<HolidayTable>, TimeZone) -> Result<WorkingCalendar, CalendarError>
//! WorkingCalendar::{hours(), holidays(), time_zone(), hours_on(Date) -> &[WorkingInterval]}
//! Calendar::add(&self, Timestamp, SignedDuration) -> Result<Timestamp, CalendarError>
//! Calendar::working_time_between(&self, Timestamp, Timestamp) -> SignedDuration
//! Calendar::next_working_instant(&self, Timestamp) -> Timestamp
//! Calendar::is_working_instant(&self, Timestamp) -> bool
//! Calendar::add_working_days(&self, Timestamp, u32) -> Result<Timestamp, CalendarError>
//! CalendarError (thiserror)
//! ```
//!
//! # Rules
//!
//! - **Working time** is a union of half-open segments `[start, end)`: 08:30 is working time, 12:00 and
//!   18:00 are not. A date in a holiday block has no hours; a make-up workday (调休上班日) has **Friday's
//!   hours** (the notice does not say which weekday it replaces; see [`WorkingCalendar`]); every other
//!   date has the hours of its weekday.
//! - **`add(t, d)`** is the earliest instant `u >= t` with `working_time_between(t, u) == d`. So working
//!   time starting outside working hours counts from the next working instant (17:50 + 30 min with hours
//!   ending 18:00 → 08:50 on the next working day); a duration used up exactly at the end of a segment
//!   gives that end (17:30 + 30 min → 18:00 the same day, not 08:30 the next); and `add(t, 0) == t`
//!   (not `next_working_instant(t)`, which is where the clock *starts* running). With this definition
//!   the laws hold for every `t`, working instant or not: `add(add(t, a), b) == add(t, a + b)`,
//!   `working_time_between(t, add(t, d)) == d`, and `add` is monotone in `d`. A negative `d` is
//!   [`CalendarError::NegativeDuration`] (also for 7×24).
//! - **`add_working_days(t, n)`** (deadlines stated in working days, e.g. 四级 within 5 working days):
//!   let `s = next_working_instant(t)`, with civil date `D` and wall-clock time `T`; take the `n`-th date
//!   after `D` that has working hours; the deadline is that date at `T`, clamped into its working time
//!   (in a break or after the end of the day it moves back to the end of the interval before; before the
//!   first interval it moves forward to its start — possible only when days have different hours). With
//!   equal hours every day it is simply "the same wall-clock time n working days later"; a fault reported
//!   at night or on a holiday counts from the next working morning. `n = 0` gives `s`. 7×24: `t + n × 24 h`.
//! - **Years without holiday data** follow the plain rule (Mon–Fri work, Sat–Sun rest): computations never
//!   fail for that reason. Call [`HolidayTable::missing_years`] at start-up and warn, as the results for
//!   such years may be wrong. It checks only each date's own year, although a December date can also be
//!   moved by the next year's notice.
//! - **Termination and cost**: the walk goes day by day, O(1) per day (a table lookup and the day's few
//!   intervals), skipping days without hours at once; a working calendar must have hours on at least one
//!   weekday. An answer beyond year 9999 is [`CalendarError::OutOfRange`]; `next_working_instant` then
//!   returns [`Timestamp::MAX`].
//! - Wall-clock intervals become instants in the calendar's time zone with jiff's compatible
//!   disambiguation (no DST in Asia/Shanghai; elsewhere segments are kept disjoint and ordered).

mod error;
mod holidays;
mod hours;
mod spec;
mod working;

#[cfg(test)]
mod tests;

use jiff::{SignedDuration, Timestamp};

pub use error::CalendarError;
pub use holidays::{DayKind, HolidayTable, YearTable};
pub use hours::{HoursSpec, WorkingHours, WorkingInterval};
pub use spec::{CalendarKind, CalendarSpec};
pub use working::WorkingCalendar;

/// A calendar that SLA clocks count in: every instant (7×24) or working hours (5×8).
#[derive(Debug, Clone)]
pub enum Calendar {
    /// 7×24: every instant is working time; arithmetic is plain.
    Always,
    /// Working hours on the holiday table, in a time zone.
    Working(WorkingCalendar),
}

impl Calendar {
    /// The instant at which `duration` of working time has elapsed from `start`: the earliest `u >= start`
    /// with `working_time_between(start, u) == duration` (see the module's rules).
    pub fn add(&self, start: Timestamp, duration: SignedDuration) -> Result<Timestamp, CalendarError> {
        match self {
            Calendar::Always if duration.is_negative() => Err(CalendarError::NegativeDuration { duration }),
            Calendar::Always => start.checked_add(duration).map_err(|_| CalendarError::OutOfRange),
            Calendar::Working(calendar) => calendar.add(start, duration),
        }
    }

    /// Working time in `[a, b)`; zero if `b <= a`.
    pub fn working_time_between(&self, a: Timestamp, b: Timestamp) -> SignedDuration {
        match self {
            Calendar::Always if b <= a => SignedDuration::ZERO,
            Calendar::Always => b.duration_since(a),
            Calendar::Working(calendar) => calendar.working_time_between(a, b),
        }
    }

    /// `t` if it is working time, else the start of the next working segment ([`Timestamp::MAX`] if there
    /// is none before the end of the supported range).
    pub fn next_working_instant(&self, t: Timestamp) -> Timestamp {
        match self {
            Calendar::Always => t,
            Calendar::Working(calendar) => calendar.next_working_instant(t),
        }
    }

    /// Whether `t` is working time (segments are half-open: the end of the working day is not).
    pub fn is_working_instant(&self, t: Timestamp) -> bool {
        match self {
            Calendar::Always => true,
            Calendar::Working(calendar) => calendar.is_working_instant(t),
        }
    }

    /// A deadline stated in working days: the same wall-clock time `days` working days later, counted
    /// from the next working instant and clamped into that day's working hours (see the module's rules).
    /// 7×24: `start + days × 24 h`.
    pub fn add_working_days(&self, start: Timestamp, days: u32) -> Result<Timestamp, CalendarError> {
        match self {
            Calendar::Always => {
                let duration = SignedDuration::from_hours(24 * i64::from(days));
                start.checked_add(duration).map_err(|_| CalendarError::OutOfRange)
            }
            Calendar::Working(calendar) => calendar.add_working_days(start, days),
        }
    }
}
