//! The holiday duty roster (节假日值班表): named people on named shifts of named dates, agreed with
//! the client. Where the roster has someone on call, it replaces the rotations.

use jiff::civil::{Date, DateTime};

use super::error::ScheduleError;
use super::window::TimeWindow;
use super::{MAX_SHIFT_DAYS, fold};

/// One row of a roster: `person` is on duty from `start` to `end` (civil, the schedule's time zone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterShift {
    date: Date,
    shift: String,
    start: DateTime,
    end: DateTime,
    person: String,
    phone: Option<String>,
}

impl RosterShift {
    /// `date` and `shift` are as written in the roster (the shift's date, its name such as 白班);
    /// `phone` is the number written next to the name, kept for display.
    pub fn new(
        date: Date,
        shift: impl Into<String>,
        start: DateTime,
        end: DateTime,
        person: impl Into<String>,
        phone: Option<String>,
    ) -> Result<RosterShift, ScheduleError> {
        let person = person.into();
        if person.trim().is_empty() {
            return Err(ScheduleError::Empty { what: "the person" });
        }
        if end <= start {
            return Err(ScheduleError::ShiftEndsBeforeStart { start, end });
        }
        if end.duration_since(start) > jiff::SignedDuration::from_hours(24 * MAX_SHIFT_DAYS) {
            return Err(ScheduleError::ShiftTooLong { start, end });
        }
        let phone = phone.filter(|p| !p.trim().is_empty());
        Ok(RosterShift { date, shift: shift.into(), start, end, person, phone })
    }

    pub fn date(&self) -> Date {
        self.date
    }

    pub fn shift(&self) -> &str {
        &self.shift
    }

    pub fn start(&self) -> DateTime {
        self.start
    }

    pub fn end(&self) -> DateTime {
        self.end
    }

    pub fn person(&self) -> &str {
        &self.person
    }

    pub fn phone(&self) -> Option<&str> {
        self.phone.as_deref()
    }
}

/// Shift names and their times, so a roster may say just 白班 or 夜班.
///
/// Defaults (a common court duty pattern; set your own with [`ShiftTimes::set`] or the configuration):
///
/// | names | times |
/// | --- | --- |
/// | 白班, 日班, 白天, day | 08:30–17:30 |
/// | 夜班, 晚班, 夜间, night | 17:30–次日 08:30 |
/// | 全天, 全日, 24小时, all-day | 00:00–24:00 |
/// | 上午, am | 08:30–12:00 |
/// | 下午, pm | 13:30–17:30 |
///
/// Names match ignoring case, spaces and full-/half-width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftTimes {
    /// (folded name, window)
    entries: Vec<(String, TimeWindow)>,
}

impl Default for ShiftTimes {
    fn default() -> ShiftTimes {
        ShiftTimes::defaults()
    }
}

impl ShiftTimes {
    /// The table above.
    pub fn defaults() -> ShiftTimes {
        let w = |s: &str| s.parse::<TimeWindow>().expect("the built-in shift times are valid");
        let mut table = ShiftTimes::empty();
        for (names, window) in [
            (&["白班", "日班", "白天", "day"][..], "08:30-17:30"),
            (&["夜班", "晚班", "夜间", "night"][..], "17:30-08:30"),
            (&["全天", "全日", "24小时", "all-day", "allday"][..], "00:00-24:00"),
            (&["上午", "am"][..], "08:30-12:00"),
            (&["下午", "pm"][..], "13:30-17:30"),
        ] {
            for name in names {
                table.set(name, w(window));
            }
        }
        table
    }

    /// A table without names: every roster row must then give its own start and end.
    pub fn empty() -> ShiftTimes {
        ShiftTimes { entries: Vec::new() }
    }

    /// Adds or replaces a name.
    pub fn set(&mut self, name: &str, window: TimeWindow) {
        let key = fold(name);
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = window,
            None => self.entries.push((key, window)),
        }
    }

    pub fn get(&self, name: &str) -> Option<TimeWindow> {
        let key = fold(name);
        self.entries.iter().find(|(k, _)| *k == key).map(|(_, w)| *w)
    }

    /// The known names (folded), in the order they were added.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }
}
