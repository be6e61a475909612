//! 工作时间: working hours per weekday, as intervals of civil (wall-clock) time.

use std::fmt;

use jiff::SignedDuration;
use jiff::civil::{Date, DateTime, Time, Weekday};
use serde::Deserialize;

use super::error::CalendarError;

const DAY_SECONDS: i32 = 86_400;

/// Weekday keys in Monday-first order, as used in the configuration.
const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One stretch of working time within a day: `[start, end)` in wall-clock time, whole seconds.
///
/// Written `"08:30-12:00"`; `"24:00"` is accepted as an end (until midnight). Also accepted: a full-width
/// colon `：` and the separators `–`, `~`, `～`, with spaces around the separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkingInterval {
    /// Seconds since midnight, `0 <= start < end <= 86400`.
    start: i32,
    end: i32,
}

impl WorkingInterval {
    /// The interval `[start, end)`. Both must be whole seconds and `start < end`; an interval that runs
    /// until midnight is written with [`WorkingInterval::parse`] and `"24:00"`.
    pub fn new(start: Time, end: Time) -> Result<WorkingInterval, CalendarError> {
        let text = format!("{start}-{end}");
        let bad = |reason: &str| CalendarError::BadInterval { text: text.clone(), reason: reason.to_owned() };
        if start.subsec_nanosecond() != 0 || end.subsec_nanosecond() != 0 {
            return Err(bad("times must be whole seconds"));
        }
        WorkingInterval::from_seconds(seconds_of(start), seconds_of(end)).map_err(|reason| bad(&reason))
    }

    /// Reads `"HH:MM-HH:MM"` (hours may have one digit; seconds `HH:MM:SS` are allowed).
    pub fn parse(text: &str) -> Result<WorkingInterval, CalendarError> {
        WorkingInterval::parse_reason(text)
            .map_err(|reason| CalendarError::BadInterval { text: text.to_owned(), reason })
    }

    fn parse_reason(text: &str) -> Result<WorkingInterval, String> {
        let Some((start, end)) = text.split_once(['-', '–', '~', '～']) else {
            return Err("expected two times joined by '-', like \"08:30-12:00\"".to_owned());
        };
        let start = parse_clock(start.trim())
            .ok_or_else(|| format!("start {:?} is not a time like 08:30", start.trim()))?;
        let end = parse_clock(end.trim())
            .ok_or_else(|| format!("end {:?} is not a time like 12:00", end.trim()))?;
        if start == DAY_SECONDS {
            return Err("a working interval cannot start at 24:00".to_owned());
        }
        WorkingInterval::from_seconds(start, end)
    }

    fn from_seconds(start: i32, end: i32) -> Result<WorkingInterval, String> {
        if start >= end {
            return Err(format!(
                "start {} is not before end {} (intervals cannot run past midnight; end with 24:00 and start the next day at 00:00)",
                clock(start),
                clock(end)
            ));
        }
        Ok(WorkingInterval { start, end })
    }

    /// The wall-clock time the interval starts.
    pub fn start(self) -> Time {
        time_of(self.start)
    }

    /// The wall-clock time the interval ends (exclusive), or `None` when it runs until midnight (24:00).
    pub fn end(self) -> Option<Time> {
        (self.end < DAY_SECONDS).then(|| time_of(self.end))
    }

    /// The interval's length.
    pub fn duration(self) -> SignedDuration {
        SignedDuration::from_secs(i64::from(self.end - self.start))
    }

    /// The civil start and end on `date` (the end of a `24:00` interval is the next day's midnight);
    /// `None` at the edge of the supported range.
    pub(super) fn on(self, date: Date) -> Option<(DateTime, DateTime)> {
        let start = date.to_datetime(time_of(self.start));
        let end = if self.end == DAY_SECONDS {
            date.tomorrow().ok()?.to_datetime(Time::midnight())
        } else {
            date.to_datetime(time_of(self.end))
        };
        Some((start, end))
    }
}

impl fmt::Display for WorkingInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", clock(self.start), clock(self.end))
    }
}

impl TryFrom<String> for WorkingInterval {
    type Error = CalendarError;

    fn try_from(text: String) -> Result<WorkingInterval, CalendarError> {
        WorkingInterval::parse(&text)
    }
}

impl<'de> Deserialize<'de> for WorkingInterval {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<WorkingInterval, D::Error> {
        let text = String::deserialize(deserializer)?;
        WorkingInterval::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Working hours for each weekday (Monday first): sorted, non-overlapping intervals; a day may be empty.
///
/// The hours of a date also depend on the holiday table; see [`super::WorkingCalendar::hours_on`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "HoursSpec")]
pub struct WorkingHours {
    days: [Vec<WorkingInterval>; 7],
}

impl WorkingHours {
    /// Hours for each weekday, Monday first. Each day's intervals must be in time order and must not
    /// overlap (touching is fine).
    pub fn new(days: [Vec<WorkingInterval>; 7]) -> Result<WorkingHours, CalendarError> {
        for (&key, intervals) in DAY_KEYS.iter().zip(&days) {
            for (index, pair) in intervals.windows(2).enumerate() {
                if pair[1].start < pair[0].end {
                    return Err(CalendarError::IntervalOrder {
                        day: key,
                        index: index + 1,
                        text: pair[1].to_string(),
                        previous_index: index,
                        previous_text: pair[0].to_string(),
                    });
                }
            }
        }
        Ok(WorkingHours { days })
    }

    /// The courts' usual hours: Monday to Friday 08:30–12:00 and 14:30–18:00; Saturday and Sunday none.
    pub fn court_default() -> WorkingHours {
        let day = vec![
            WorkingInterval { start: 8 * 3600 + 30 * 60, end: 12 * 3600 },
            WorkingInterval { start: 14 * 3600 + 30 * 60, end: 18 * 3600 },
        ];
        WorkingHours {
            days: [day.clone(), day.clone(), day.clone(), day.clone(), day, Vec::new(), Vec::new()],
        }
    }

    /// The intervals configured for `weekday`.
    pub fn on(&self, weekday: Weekday) -> &[WorkingInterval] {
        &self.days[weekday.to_monday_zero_offset() as usize]
    }

    /// Whether no weekday has any working time.
    pub fn is_empty(&self) -> bool {
        self.days.iter().all(Vec::is_empty)
    }
}

/// The configuration shape of working hours: `{ mon = ["08:30-12:00", "14:30-18:00"], …, sun = [] }`.
///
/// A weekday left out has no working hours; unknown keys are rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursSpec {
    /// Monday.
    #[serde(default)]
    pub mon: Vec<String>,
    /// Tuesday.
    #[serde(default)]
    pub tue: Vec<String>,
    /// Wednesday.
    #[serde(default)]
    pub wed: Vec<String>,
    /// Thursday.
    #[serde(default)]
    pub thu: Vec<String>,
    /// Friday.
    #[serde(default)]
    pub fri: Vec<String>,
    /// Saturday.
    #[serde(default)]
    pub sat: Vec<String>,
    /// Sunday.
    #[serde(default)]
    pub sun: Vec<String>,
}

impl HoursSpec {
    /// Parses and validates the intervals; errors name the weekday key, the index and the text.
    pub fn build(&self) -> Result<WorkingHours, CalendarError> {
        let lists = [&self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun];
        let mut days: [Vec<WorkingInterval>; 7] = Default::default();
        for ((&key, texts), day) in DAY_KEYS.iter().zip(lists).zip(&mut days) {
            for (index, text) in texts.iter().enumerate() {
                let interval = WorkingInterval::parse_reason(text).map_err(|reason| {
                    CalendarError::BadDayInterval { day: key, index, text: text.clone(), reason }
                })?;
                day.push(interval);
            }
        }
        WorkingHours::new(days)
    }
}

impl TryFrom<HoursSpec> for WorkingHours {
    type Error = CalendarError;

    fn try_from(spec: HoursSpec) -> Result<WorkingHours, CalendarError> {
        spec.build()
    }
}

/// `H:MM`, `HH:MM` or `HH:MM:SS` (full-width `：` allowed) as seconds since midnight; `24:00` allowed.
fn parse_clock(text: &str) -> Option<i32> {
    let parts: Vec<&str> = text.split([':', '：']).collect();
    let number = |s: &str, max_len: usize| -> Option<i32> {
        (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())?
    };
    let (hour, minute, second) = match parts.as_slice() {
        [h, m] if m.len() == 2 => (number(h, 2)?, number(m, 2)?, 0),
        [h, m, s] if m.len() == 2 && s.len() == 2 => (number(h, 2)?, number(m, 2)?, number(s, 2)?),
        _ => return None,
    };
    if minute > 59 || second > 59 {
        return None;
    }
    let total = hour * 3600 + minute * 60 + second;
    (total <= DAY_SECONDS).then_some(total)
}

fn seconds_of(t: Time) -> i32 {
    i32::from(t.hour()) * 3600 + i32::from(t.minute()) * 60 + i32::from(t.second())
}

fn time_of(seconds: i32) -> Time {
    // Callers keep 0 <= seconds < 86400, so the parts are in range.
    Time::constant((seconds / 3600) as i8, (seconds / 60 % 60) as i8, (seconds % 60) as i8, 0)
}

/// `HH:MM`, or `HH:MM:SS` when the seconds are not zero; 86400 is `24:00`.
fn clock(seconds: i32) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if s == 0 { format!("{h:02}:{m:02}") } else { format!("{h:02}:{m:02}:{s:02}") }
}
