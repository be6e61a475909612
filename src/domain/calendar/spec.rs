//! The configuration shape of a calendar (`[calendars.<name>]`) and how it becomes a [`Calendar`].

use std::sync::Arc;

use jiff::tz::TimeZone;
use serde::Deserialize;

use super::Calendar;
use super::error::CalendarError;
use super::holidays::HolidayTable;
use super::hours::{HoursSpec, WorkingHours};
use super::working::WorkingCalendar;

/// `kind = "working"` (5×8 on the holiday table) or `kind = "always"` (7×24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CalendarKind {
    /// Working hours on working days (工作日历, 5×8).
    Working,
    /// Every instant counts (7×24).
    Always,
}

/// One named calendar as written in the configuration:
///
/// ```toml
/// [calendars.court]
/// kind = "working"                 # or "always" for 7×24
/// timezone = "Asia/Shanghai"       # optional; the configuration's default time zone otherwise
/// hours = { mon = ["08:30-12:00", "14:30-18:00"], tue = […], wed = […], thu = […], fri = […], sat = [], sun = [] }
/// ```
///
/// For `kind = "working"` without `hours`, the hours are [`WorkingHours::court_default`].
/// For `kind = "always"`, `hours` is an error and `timezone`, if given, must be a known zone but is unused.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    /// Working hours or 7×24.
    pub kind: CalendarKind,
    /// An IANA time-zone name.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Working hours per weekday.
    #[serde(default)]
    pub hours: Option<HoursSpec>,
}

impl CalendarSpec {
    /// Validates the spec and builds the calendar on `holidays`, in `timezone` or else `default_tz`.
    pub fn build(
        &self,
        holidays: Arc<HolidayTable>,
        default_tz: &TimeZone,
    ) -> Result<Calendar, CalendarError> {
        let time_zone = match &self.timezone {
            Some(name) => TimeZone::get(name)
                .map_err(|e| CalendarError::UnknownTimeZone { name: name.clone(), reason: e.to_string() })?,
            None => default_tz.clone(),
        };
        match self.kind {
            CalendarKind::Always if self.hours.is_some() => Err(CalendarError::HoursForAlways),
            CalendarKind::Always => Ok(Calendar::Always),
            CalendarKind::Working => {
                let hours = match &self.hours {
                    Some(spec) => spec.build()?,
                    None => WorkingHours::court_default(),
                };
                Ok(Calendar::Working(WorkingCalendar::new(hours, holidays, time_zone)?))
            }
        }
    }
}
