//! Rotations (轮值): a layer hands duty from one member to the next every N days or N hours.
//!
//! The period containing an instant is computed arithmetically from the layer's start — an estimate
//! from elapsed time, then at most a step or two to land between the exact boundaries — so asking
//! about 2036 costs the same as asking about tomorrow.

use std::fmt;
use std::num::NonZeroU16;
use std::str::FromStr;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::edges::Edges;
use super::error::ScheduleError;
use super::window::Restriction;

/// Longest rotation accepted, in days (a year; longer is almost surely a typo).
const MAX_DAYS: u16 = 366;

/// How often a layer hands over.
///
/// Whole days count in wall-clock time: a daily rotation hands over at the same time of day every day,
/// also across a daylight-saving change (then that day is 23 or 25 hours). Hours count elapsed time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rotation {
    Days(NonZeroU16),
    Hours(NonZeroU16),
}

impl Rotation {
    pub const DAILY: Rotation = Rotation::Days(NonZeroU16::MIN);
    pub const WEEKLY: Rotation = Rotation::Days(NonZeroU16::new(7).expect("7 is not zero"));
}

impl FromStr for Rotation {
    type Err = ScheduleError;

    /// `daily`/`每天`, `weekly`/`每周`, `3d`, `3 days`, `3天`, `2w`, `2周`, `12h`, `12 hours`, `12小时`.
    fn from_str(text: &str) -> Result<Rotation, ScheduleError> {
        let bad =
            |reason: &str| ScheduleError::BadRotation { text: text.to_owned(), reason: reason.to_owned() };
        let t = text.trim().to_lowercase();
        match t.as_str() {
            "daily" | "day" | "每天" | "每日" | "1天" => return Ok(Rotation::DAILY),
            "weekly" | "week" | "每周" | "1周" => return Ok(Rotation::WEEKLY),
            _ => {}
        }
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        let (number, unit) = t.split_at(digits);
        let n: u32 = number
            .parse()
            .map_err(|_| bad("write daily, weekly, or a number with a unit: \"3d\", \"2w\", \"12h\""))?;
        let (per_unit, is_hours) = match unit.trim() {
            "d" | "day" | "days" | "天" | "日" => (1, false),
            "w" | "week" | "weeks" | "周" | "星期" => (7, false),
            "h" | "hour" | "hours" | "小时" | "时" => (1, true),
            _ => return Err(bad("the unit must be d (days), w (weeks) or h (hours)")),
        };
        let max = if is_hours { u32::from(MAX_DAYS) * 24 } else { u32::from(MAX_DAYS) };
        let total = n.saturating_mul(per_unit);
        let Some(n) = u16::try_from(total).ok().filter(|v| u32::from(*v) <= max).and_then(NonZeroU16::new)
        else {
            return Err(bad("the length must be at least 1 and at most a year"));
        };
        Ok(if is_hours { Rotation::Hours(n) } else { Rotation::Days(n) })
    }
}

impl fmt::Display for Rotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Rotation::DAILY => f.write_str("daily"),
            Rotation::WEEKLY => f.write_str("weekly"),
            Rotation::Days(n) => write!(f, "{n}d"),
            Rotation::Hours(n) => write!(f, "{n}h"),
        }
    }
}

/// One rotation of people (an on-call layer), e.g. 白班轮值 or 夜间及周末.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    name: String,
    members: Vec<String>,
    rotation: Rotation,
    start: DateTime,
    restriction: Option<Restriction>,
}

/// The `index`-th period of a rotation: `[start, end)`; `end` is None at the end of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Period {
    pub index: i64,
    pub start: Timestamp,
    pub end: Option<Timestamp>,
}

impl Layer {
    /// `start` is the first handoff, in the schedule's time zone: the first member is on call from
    /// then, the second one rotation later, and so on; before `start` the layer has nobody. The
    /// handoff time of day follows from `start`. A restriction that covers every hour of every day is
    /// dropped.
    pub fn new(
        name: impl Into<String>,
        members: Vec<String>,
        rotation: Rotation,
        start: DateTime,
        restriction: Option<Restriction>,
    ) -> Result<Layer, ScheduleError> {
        if members.is_empty() {
            return Err(ScheduleError::NoMembers);
        }
        if members.iter().any(|m| m.trim().is_empty()) {
            return Err(ScheduleError::Empty { what: "a member" });
        }
        let restriction = restriction.filter(|r| !r.is_always());
        Ok(Layer { name: name.into(), members, rotation, start, restriction })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn members(&self) -> &[String] {
        &self.members
    }

    pub fn rotation(&self) -> Rotation {
        self.rotation
    }

    pub fn start(&self) -> DateTime {
        self.start
    }

    pub fn restriction(&self) -> Option<&Restriction> {
        self.restriction.as_ref()
    }

    /// The instant the `k`-th period starts (k may be negative); None beyond the range of time.
    fn boundary(&self, k: i64, tz: &TimeZone) -> Option<Timestamp> {
        match self.rotation {
            Rotation::Days(n) => {
                let secs = k.checked_mul(i64::from(n.get()))?.checked_mul(86_400)?;
                let civil = self.start.checked_add(SignedDuration::from_secs(secs)).ok()?;
                tz.to_timestamp(civil).ok()
            }
            Rotation::Hours(n) => {
                let secs = k.checked_mul(i64::from(n.get()))?.checked_mul(3_600)?;
                let first = tz.to_timestamp(self.start).ok()?;
                first.checked_add(SignedDuration::from_secs(secs)).ok()
            }
        }
    }

    /// The period containing `t`; periods before the start have negative indices.
    pub(super) fn period_at(&self, t: Timestamp, tz: &TimeZone) -> Option<Period> {
        let mut k = match self.rotation {
            Rotation::Days(n) => {
                let elapsed = tz.to_datetime(t).duration_since(self.start).as_secs();
                elapsed.div_euclid(i64::from(n.get()) * 86_400)
            }
            Rotation::Hours(n) => {
                let first = tz.to_timestamp(self.start).ok()?;
                let elapsed = t.duration_since(first).as_nanos();
                let k = elapsed.div_euclid(i128::from(n.get()) * 3_600 * 1_000_000_000);
                i64::try_from(k).ok()?
            }
        };
        // The estimate is exact unless a UTC-offset change sits near `t`; then it is one off.
        for _ in 0..4 {
            let start = self.boundary(k, tz)?;
            if t < start {
                k = k.checked_sub(1)?;
                continue;
            }
            let end = k.checked_add(1).and_then(|k1| self.boundary(k1, tz));
            match end {
                Some(end) if t >= end => k += 1,
                _ => return Some(Period { index: k, start, end }),
            }
        }
        None
    }

    /// Who this layer has on call at `t`, if anyone.
    pub(super) fn who_at(&self, t: Timestamp, tz: &TimeZone) -> Option<&str> {
        if let Some(r) = &self.restriction
            && !r.contains(t, tz)
        {
            return None;
        }
        let index = if self.members.len() == 1 {
            // One member: no handoffs, only the start.
            if t < tz.to_timestamp(self.start).ok()? { -1 } else { 0 }
        } else {
            self.period_at(t, tz)?.index
        };
        let len = i64::try_from(self.members.len()).ok()?;
        let i = usize::try_from(index.checked_rem_euclid(len)?).ok()?;
        (index >= 0).then(|| self.members[i].as_str())
    }

    /// Where this layer's answer may change around `t`.
    pub(super) fn edges(&self, t: Timestamp, tz: &TimeZone) -> Edges {
        let mut edges = Edges::NONE;
        match tz.to_timestamp(self.start) {
            Ok(first) if self.members.len() == 1 || t < first => edges = edges.with(first, t),
            Ok(_) => {
                if let Some(p) = self.period_at(t, tz) {
                    edges = edges.with(p.start, t);
                    if let Some(end) = p.end {
                        edges = edges.with(end, t);
                    }
                }
            }
            Err(_) => {}
        }
        match &self.restriction {
            Some(r) => edges.merge(r.edges(t, tz)),
            None => edges,
        }
    }
}
