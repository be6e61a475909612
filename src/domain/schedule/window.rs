//! When a layer applies: weekdays and a daily time-of-day window (e.g. nights 17:30–08:30, or
//! Monday to Friday 08:30–17:30).

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;

use super::edges::Edges;
use super::error::ScheduleError;

/// A set of weekdays.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Weekdays(u8);

const KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Weekdays {
    /// Every day of the week.
    pub const ALL: Weekdays = Weekdays(0b111_1111);
    /// Monday to Friday (工作日; statutory holidays are not known here: a holiday roster covers them).
    pub const MON_FRI: Weekdays = Weekdays(0b001_1111);
    /// Saturday and Sunday.
    pub const WEEKEND: Weekdays = Weekdays(0b110_0000);
    /// No day.
    pub const NONE: Weekdays = Weekdays(0);

    fn bit(day: Weekday) -> u8 {
        1 << day.to_monday_zero_offset()
    }

    /// This set with `day` added.
    pub fn with(self, day: Weekday) -> Weekdays {
        Weekdays(self.0 | Weekdays::bit(day))
    }

    /// The union of two sets.
    pub fn union(self, other: Weekdays) -> Weekdays {
        Weekdays(self.0 | other.0)
    }

    pub fn contains(self, day: Weekday) -> bool {
        self.0 & Weekdays::bit(day) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Reads one list item: a day (`mon`, `monday`, `周一`, `星期一`, `礼拜一`), a range (`mon-fri`,
    /// `周一至周五`), `weekdays`/`工作日` (Mon–Fri) or `weekend`/`周末`.
    pub fn parse_item(text: &str) -> Result<Weekdays, ScheduleError> {
        let bad = || ScheduleError::BadWeekday { text: text.to_owned() };
        let t = text.trim().to_lowercase();
        match t.as_str() {
            "weekdays" | "工作日" => return Ok(Weekdays::MON_FRI),
            "weekend" | "weekends" | "周末" => return Ok(Weekdays::WEEKEND),
            "all" | "daily" | "每天" | "每日" => return Ok(Weekdays::ALL),
            _ => {}
        }
        if let Some((a, b)) = t.split_once(['-', '–', '~', '～', '至']) {
            let (a, b) = (day_of(a.trim()).ok_or_else(bad)?, day_of(b.trim()).ok_or_else(bad)?);
            let mut set = Weekdays::NONE;
            let mut d = a;
            loop {
                set = set.with(d);
                if d == b {
                    return Ok(set);
                }
                d = d.next();
            }
        }
        day_of(&t).map(|d| Weekdays::NONE.with(d)).ok_or_else(bad)
    }
}

fn day_of(text: &str) -> Option<Weekday> {
    let t = text.trim();
    let t = ["星期", "礼拜", "周"].iter().find_map(|p| t.strip_prefix(p)).unwrap_or(t);
    let offset = match t {
        "mon" | "monday" | "一" | "1" => 0,
        "tue" | "tuesday" | "二" | "2" => 1,
        "wed" | "wednesday" | "三" | "3" => 2,
        "thu" | "thursday" | "四" | "4" => 3,
        "fri" | "friday" | "五" | "5" => 4,
        "sat" | "saturday" | "六" | "6" => 5,
        "sun" | "sunday" | "日" | "天" | "7" => 6,
        _ => return None,
    };
    Weekday::from_monday_zero_offset(offset).ok()
}

impl fmt::Debug for Weekdays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string())
    }
}

impl fmt::Display for Weekdays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days: Vec<&str> = (0..7).filter(|i| self.0 & (1 << i) != 0).map(|i| KEYS[i]).collect();
        f.write_str(&days.join(","))
    }
}

/// A stretch of wall-clock time that starts every day at `start` and ends at `end` — on the next day
/// when `end <= start`, so `17:30-08:30` is a night and `08:30-08:30` is 24 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeWindow {
    start: Time,
    end: Time,
}

impl TimeWindow {
    /// Midnight to midnight.
    pub const ALL_DAY: TimeWindow = TimeWindow { start: Time::midnight(), end: Time::midnight() };

    /// Every pair of times is a window: `end <= start` wraps past midnight.
    pub fn new(start: Time, end: Time) -> TimeWindow {
        TimeWindow { start, end }
    }

    pub fn start(self) -> Time {
        self.start
    }

    pub fn end(self) -> Time {
        self.end
    }

    /// True when the window ends on the day after it starts.
    pub fn wraps(self) -> bool {
        self.end <= self.start
    }

    /// True for a 24-hour window.
    pub fn is_whole_day(self) -> bool {
        self.end == self.start
    }

    /// The instants of the window that starts on `date`, in `tz` (None only at the ends of time).
    pub(super) fn on(self, date: Date, tz: &TimeZone) -> Option<(Timestamp, Timestamp)> {
        let end_date = if self.wraps() { date.tomorrow().ok()? } else { date };
        let start = tz.to_timestamp(date.to_datetime(self.start)).ok()?;
        let end = tz.to_timestamp(end_date.to_datetime(self.end)).ok()?;
        (start < end).then_some((start, end))
    }
}

impl FromStr for TimeWindow {
    type Err = ScheduleError;

    /// `"08:30-17:30"`, `"17:30-08:30"` (wraps midnight), `"00:00-24:00"`. Also accepted: one-digit
    /// hours, seconds, a full-width colon `：`, the separators `–`, `~`, `～`, `至` and spaces around them.
    fn from_str(text: &str) -> Result<TimeWindow, ScheduleError> {
        let bad =
            |reason: &str| ScheduleError::BadWindow { text: text.to_owned(), reason: reason.to_owned() };
        let Some((a, b)) = text.split_once(['-', '–', '~', '～', '至']) else {
            return Err(bad("expected two times joined by '-', like \"08:30-17:30\""));
        };
        let start = match parse_clock(a) {
            Some(Clock::Time(t)) => t,
            Some(Clock::Midnight24) => return Err(bad("a window cannot start at 24:00")),
            None => return Err(bad("the start is not a time like 08:30")),
        };
        let end = match parse_clock(b) {
            Some(Clock::Time(t)) => t,
            Some(Clock::Midnight24) => Time::midnight(),
            None => return Err(bad("the end is not a time like 17:30")),
        };
        Ok(TimeWindow { start, end })
    }
}

impl fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = if self.end == Time::midnight() && self.start != Time::midnight() {
            "24:00".to_owned()
        } else {
            self.end.strftime("%H:%M").to_string()
        };
        write!(f, "{}-{end}", self.start.strftime("%H:%M"))
    }
}

/// A wall-clock time as written: `24:00` is kept apart because it means "the end of the day".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clock {
    Time(Time),
    Midnight24,
}

/// Reads `8:30`, `08:30`, `08:30:00`, `08：30`, `8点30`, `8点半`, `8点`, `8时30分` and `24:00`.
pub(crate) fn parse_clock(text: &str) -> Option<Clock> {
    let t = text.trim().replace('：', ":");
    let t = t.trim_end_matches('分');
    let (h, rest) = match t.split_once([':', '点', '时']) {
        Some((h, rest)) => (h, rest),
        None => (t, ""),
    };
    let (m, s) = match rest {
        "" => ("0", "0"),
        "半" => ("30", "0"),
        r => r.split_once(':').unwrap_or((r, "0")),
    };
    let num = |x: &str, max: i8| -> Option<i8> {
        let x = x.trim();
        if x.is_empty() || x.len() > 2 || !x.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        x.parse::<i8>().ok().filter(|v| *v <= max)
    };
    let (h, m, s) = (num(h, 24)?, num(m, 59)?, num(s, 59)?);
    if h == 24 {
        return (m == 0 && s == 0).then_some(Clock::Midnight24);
    }
    Time::new(h, m, s, 0).ok().map(Clock::Time)
}

/// A layer applies only on `days`, during `window`; a window belongs to the weekday it starts on, so
/// with `mon-fri` and `17:30-08:30` Friday night runs into Saturday morning and Sunday night is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Restriction {
    days: Weekdays,
    window: TimeWindow,
}

/// How far around an instant to look for window edges: with at least one day of the week outside
/// the restriction, some edge lies within any eight days.
const SEARCH_DAYS: i64 = 8;

impl Restriction {
    pub fn new(days: Weekdays, window: TimeWindow) -> Result<Restriction, ScheduleError> {
        if days.is_empty() {
            return Err(ScheduleError::NoWeekdays);
        }
        Ok(Restriction { days, window })
    }

    pub fn days(&self) -> Weekdays {
        self.days
    }

    pub fn window(&self) -> TimeWindow {
        self.window
    }

    /// True when the restriction restricts nothing (every day, 24 hours).
    pub fn is_always(&self) -> bool {
        self.days == Weekdays::ALL && self.window.is_whole_day()
    }

    fn instance(&self, date: Date, offset: i64, tz: &TimeZone) -> Option<(Timestamp, Timestamp)> {
        let day = date.checked_add(jiff::Span::new().try_days(offset).ok()?).ok()?;
        if !self.days.contains(day.weekday()) {
            return None;
        }
        self.window.on(day, tz)
    }

    /// Whether `t` lies inside one of the windows.
    pub(super) fn contains(&self, t: Timestamp, tz: &TimeZone) -> bool {
        let date = tz.to_datetime(t).date();
        (-1..=1).any(|o| self.instance(date, o, tz).is_some_and(|(s, e)| s <= t && t < e))
    }

    /// The last window edge at or before `t` and the first after it. An end that is also the start of
    /// the next window is no edge (with `mon-fri` and `00:00-24:00` the week is one stretch).
    pub(super) fn edges(&self, t: Timestamp, tz: &TimeZone) -> Edges {
        if self.is_always() {
            return Edges::NONE;
        }
        let date = tz.to_datetime(t).date();
        let spans: Vec<(Timestamp, Timestamp)> =
            (-SEARCH_DAYS..=SEARCH_DAYS).filter_map(|o| self.instance(date, o, tz)).collect();
        let starts = spans.iter().map(|s| s.0);
        let ends = spans.iter().map(|s| s.1);
        let mut edges = Edges::NONE;
        for edge in starts.clone().filter(|s| !ends.clone().any(|e| e == *s)) {
            edges = edges.with(edge, t);
        }
        for edge in ends.filter(|e| !starts.clone().any(|s| s == *e)) {
            edges = edges.with(edge, t);
        }
        edges
    }
}
