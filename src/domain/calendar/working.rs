//! 5×8 working calendar: working hours on the holiday table, in one time zone.

use std::sync::Arc;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::error::CalendarError;
use super::holidays::{DayKind, HolidayTable};
use super::hours::{WorkingHours, WorkingInterval};

/// Working hours (e.g. Mon–Fri 08:30–12:00, 14:30–18:00) on the Chinese holiday table, in a time zone.
///
/// The hours of a date ([`WorkingCalendar::hours_on`]):
/// - a date in a holiday block (法定节假日): none, whatever its weekday;
/// - a make-up workday (调休上班日, a Saturday or Sunday declared a working day): **Friday's hours**.
///   The notice does not say which weekday a make-up day replaces, so a fixed rule is needed; Friday is
///   the normal weekday nearest to the weekend the make-up day falls on, and for the usual calendars
///   (the same hours Mon–Fri) the choice makes no difference;
/// - any other date: the hours configured for its weekday (so a calendar may give Saturdays hours).
#[derive(Debug, Clone)]
pub struct WorkingCalendar {
    hours: WorkingHours,
    holidays: Arc<HolidayTable>,
    time_zone: TimeZone,
}

impl WorkingCalendar {
    /// A working calendar. Fails with [`CalendarError::NoWorkingHours`] if no weekday has hours (such a
    /// calendar could never count time).
    pub fn new(
        hours: WorkingHours,
        holidays: Arc<HolidayTable>,
        time_zone: TimeZone,
    ) -> Result<WorkingCalendar, CalendarError> {
        if hours.is_empty() {
            return Err(CalendarError::NoWorkingHours);
        }
        Ok(WorkingCalendar { hours, holidays, time_zone })
    }

    /// The weekly hours.
    pub fn hours(&self) -> &WorkingHours {
        &self.hours
    }

    /// The holiday table.
    pub fn holidays(&self) -> &HolidayTable {
        &self.holidays
    }

    /// The time zone the hours are read in.
    pub fn time_zone(&self) -> &TimeZone {
        &self.time_zone
    }

    /// The working intervals of `date` (see the type's documentation for the rule).
    pub fn hours_on(&self, date: Date) -> &[WorkingInterval] {
        match self.holidays.day_kind(date) {
            DayKind::Holiday => &[],
            DayKind::MakeUpWorkday => self.hours.on(Weekday::Friday),
            DayKind::Weekday | DayKind::Weekend => self.hours.on(date.weekday()),
        }
    }

    /// The working segments `[s, e)` at or after `from`, in order, disjoint, each clipped to start at
    /// `from` or later. Ends only at the end of the supported range.
    fn segments_from(&self, from: Timestamp) -> Segments<'_> {
        let date = self.time_zone.to_datetime(from).date();
        // Start a day early: cheap, and safe against time-zone transitions around midnight.
        let date = date.yesterday().unwrap_or(date);
        Segments { calendar: self, date: Some(date), day: self.hours_on(date), index: 0, cursor: from }
    }

    /// The instants of `interval` on `date`, or `None` at the edge of the supported range.
    fn instants(&self, date: Date, interval: WorkingInterval) -> Option<(Timestamp, Timestamp)> {
        let (start, end) = interval.on(date)?;
        let start = self.time_zone.to_timestamp(start).ok()?;
        let end = self.time_zone.to_timestamp(end).ok()?;
        Some((start, end))
    }

    pub(super) fn add(&self, start: Timestamp, duration: SignedDuration) -> Result<Timestamp, CalendarError> {
        if duration.is_negative() {
            return Err(CalendarError::NegativeDuration { duration });
        }
        if duration.is_zero() {
            return Ok(start);
        }
        let mut remaining = duration;
        for (s, e) in self.segments_from(start) {
            let available = e.duration_since(s);
            if available >= remaining {
                return s.checked_add(remaining).map_err(|_| CalendarError::OutOfRange);
            }
            remaining -= available;
        }
        Err(CalendarError::OutOfRange)
    }

    pub(super) fn working_time_between(&self, a: Timestamp, b: Timestamp) -> SignedDuration {
        let mut total = SignedDuration::ZERO;
        if b <= a {
            return total;
        }
        for (s, e) in self.segments_from(a) {
            if s >= b {
                break;
            }
            total += e.min(b).duration_since(s);
            if e >= b {
                break;
            }
        }
        total
    }

    pub(super) fn next_working_instant(&self, t: Timestamp) -> Timestamp {
        self.segments_from(t).next().map_or(Timestamp::MAX, |(s, _)| s)
    }

    pub(super) fn is_working_instant(&self, t: Timestamp) -> bool {
        self.segments_from(t).next().is_some_and(|(s, _)| s == t)
    }

    pub(super) fn add_working_days(&self, start: Timestamp, days: u32) -> Result<Timestamp, CalendarError> {
        let (begin, _) = self.segments_from(start).next().ok_or(CalendarError::OutOfRange)?;
        let local = self.time_zone.to_datetime(begin);
        let mut date = local.date();
        let mut left = days;
        while left > 0 {
            date = date.tomorrow().map_err(|_| CalendarError::OutOfRange)?;
            if !self.hours_on(date).is_empty() {
                left -= 1;
            }
        }
        let wanted = self
            .time_zone
            .to_timestamp(date.to_datetime(local.time()))
            .map_err(|_| CalendarError::OutOfRange)?;
        // Clamp `wanted` into the day's working time: inside an interval it stays, in a break or after
        // the day's end it moves back to the end of the interval before, before the first interval it
        // moves forward to that interval's start.
        let mut previous_end = None;
        for &interval in self.hours_on(date) {
            let Some((s, e)) = self.instants(date, interval) else { continue };
            if wanted < s {
                return Ok(previous_end.unwrap_or(s));
            }
            if wanted < e {
                return Ok(wanted);
            }
            previous_end = Some(e);
        }
        previous_end.ok_or(CalendarError::OutOfRange)
    }
}

/// Iterator over working segments; see [`WorkingCalendar::segments_from`].
struct Segments<'a> {
    calendar: &'a WorkingCalendar,
    /// The day being walked; `None` past the end of the supported range.
    date: Option<Date>,
    /// That day's intervals.
    day: &'a [WorkingInterval],
    /// The next interval of `day` to look at.
    index: usize,
    /// Every segment yielded starts at or after this instant (keeps segments disjoint and ordered).
    cursor: Timestamp,
}

impl Iterator for Segments<'_> {
    type Item = (Timestamp, Timestamp);

    fn next(&mut self) -> Option<(Timestamp, Timestamp)> {
        loop {
            let date = self.date?;
            if let Some(&interval) = self.day.get(self.index) {
                self.index += 1;
                let Some((s, e)) = self.calendar.instants(date, interval) else { continue };
                let s = s.max(self.cursor);
                if e <= s {
                    continue;
                }
                self.cursor = e;
                return Some((s, e));
            }
            // Next day: O(1) per day, whether it has hours or not.
            self.date = date.tomorrow().ok();
            self.index = 0;
            self.day = self.date.map_or(&[], |d| self.calendar.hours_on(d));
        }
    }
}
