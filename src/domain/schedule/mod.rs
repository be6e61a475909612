//! 值班表: on-call schedules — rotations (轮值), overrides (换班) and holiday duty rosters (节假日值班表) —
//! and who is on call at any instant.
//!
//! Pure domain code: no I/O, no clock. The roster importer takes bytes, the iCalendar renderer returns
//! a string; the configuration layer reads files and resolves names.
//!
//! # Public API
//!
//! ```text
//! Schedule::new(id, name, TimeZone, Vec<Layer>, Vec<Override>, Vec<RosterShift>) -> Schedule
//! Schedule::{id(), name(), time_zone(), layers(), overrides(), roster()}
//! Schedule::with_overrides(&self, &[Override]) -> Schedule            (runtime swaps from the database)
//! Schedule::on_call_at(&self, Timestamp) -> Vec<OnCall>
//! Schedule::people_at(&self, Timestamp) -> Vec<String>               (ids only; no span search)
//! Schedule::shifts(&self, from: Timestamp, until: Timestamp) -> Vec<Shift>
//! Schedule::next_handoff_after(&self, Timestamp) -> Option<Timestamp>
//! OnCall { person, why: Why, start: Option<Timestamp>, end: Option<Timestamp> }
//! Shift { person, why: Why, start: Timestamp, end: Timestamp }
//! enum Why { Layer { index, name }, Roster { index, date, shift }, Override { index, replaces, reason } }
//!
//! Layer::new(name, members: Vec<String>, Rotation, start: DateTime, Option<Restriction>) -> Result<Layer, _>
//! Rotation::{Days(NonZeroU16), Hours(NonZeroU16)}, Rotation::{DAILY, WEEKLY}, "weekly".parse::<Rotation>()
//! Restriction::new(Weekdays, TimeWindow) -> Result<Restriction, _>
//! Weekdays::{ALL, MON_FRI, WEEKEND, NONE, with(), union(), contains(), parse_item(&str)}
//! TimeWindow::{new(Time, Time), ALL_DAY}, "17:30-08:30".parse::<TimeWindow>()
//! Override::new(person, from, until) -> Result<Override, _>, .replacing(p)?, .requested_by(p), .approved_by(p), .because(r)
//! RosterShift::new(date, shift, start: DateTime, end: DateTime, person, phone) -> Result<RosterShift, _>
//! ShiftTimes::{defaults(), empty(), set(name, TimeWindow), get(name)}
//! import::{parse_roster(bytes, RosterFormat, &ImportOptions, resolve) -> Result<Vec<RosterShift>, Vec<RosterError>>}
//! ical::render_ical(&Schedule, &[Shift], person_names, only_person, now) -> String
//! ScheduleError (thiserror)
//! ```
//!
//! # Rules
//!
//! - **Intervals are half-open** `[start, end)`: at a handoff instant the new person is on call.
//! - **Layers**: the first member is on call from the layer's `start`, the next one a rotation later,
//!   and so on in a cycle; before `start` the layer has nobody. A restriction limits a layer to
//!   weekdays and a daily window; outside it the layer has nobody. Where several layers have someone,
//!   the **last** layer wins (a base layer for nights and weekends, a weekday-daytime layer on top).
//! - **The holiday roster beats the layers**: at any instant covered by a roster shift, the people of
//!   all roster shifts covering it are on call and the layers are not asked.
//! - **Overrides beat both**, applied in order of start (then as listed): one with `replaces` takes that
//!   person's place while they are on call; one without replaces everyone on call (or stands alone).
//! - **Deterministic**: the answer depends only on the schedule and the instant; lists come in a fixed
//!   order (roster order, then the override order above), each person at most once.
//! - **Cost**: the rotation period is computed arithmetically (O(1) per layer); roster shifts and
//!   overrides are found by binary search. [`Schedule::shifts`] and the span of an [`OnCall`] walk from
//!   edge to edge (handoffs, window edges, roster and override starts and ends), so their cost grows
//!   with the number of edges crossed, not with the time since a layer started. Walks that look for the
//!   end of a span or for the next handoff stop after [`LOOKAHEAD_EDGES`] edges.
//! - Wall-clock times become instants with jiff's compatible disambiguation (a time skipped by a DST
//!   change moves forward, a repeated one takes its first occurrence); Asia/Shanghai has no DST.

mod edges;
mod error;
pub mod ical;
pub mod import;
mod index;
mod live;
mod overrides;
mod resolve;
mod roster;
mod rotation;
mod window;

#[cfg(test)]
mod tests;

use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

pub use error::ScheduleError;
pub use live::LiveSchedules;
pub use overrides::Override;
pub use roster::{RosterShift, ShiftTimes};
pub use rotation::{Layer, Rotation};
pub use window::{Restriction, TimeWindow, Weekdays};

use index::Intervals;

/// A roster shift may last at most this many days.
pub const MAX_SHIFT_DAYS: i64 = 7;

/// How many edges the searches for a span's end or start and for the next handoff cross at most.
pub const LOOKAHEAD_EDGES: usize = 4096;

/// Names compared the way people mean them: case, spaces and full-/half-width ignored.
fn fold(name: &str) -> String {
    crate::config::catalogue::fold_name(name)
}

/// One on-call schedule (值班表): its layers, overrides and holiday roster in one time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    id: String,
    name: String,
    time_zone: TimeZone,
    layers: Vec<Layer>,
    overrides: Vec<Override>,
    roster: Vec<RosterShift>,
    roster_index: Intervals,
    override_index: Intervals,
}

/// Why someone is on call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// Their turn in the rotation of layer `index` (0-based, in the schedule's order).
    Layer { index: usize, name: String },
    /// Row `index` of the holiday roster: `date`'s `shift` (白班, 夜班 …).
    Roster { index: usize, date: Date, shift: String },
    /// Override `index` (换班): covering for `replaces`, or for whoever was on.
    Override { index: usize, replaces: Option<String>, reason: Option<String> },
}

impl fmt::Display for Why {
    /// Chinese, for people: `轮值：白班轮值`, `值班表：2026-10-01 白班`, `换班（代 zhangwei）：家中有事`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Layer { name, .. } => write!(f, "轮值：{name}"),
            Why::Roster { date, shift, .. } => write!(f, "值班表：{date} {shift}"),
            Why::Override { replaces, reason, .. } => {
                f.write_str("换班")?;
                if let Some(r) = replaces {
                    write!(f, "（代 {r}）")?;
                }
                if let Some(r) = reason {
                    write!(f, "：{r}")?;
                }
                Ok(())
            }
        }
    }
}

/// Someone on call at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnCall {
    /// A person id.
    pub person: String,
    pub why: Why,
    /// Since when this person has been on call for this reason without a break; None if always
    /// (or further back than the search looks).
    pub start: Option<Timestamp>,
    /// Until when; None if open-ended (or further ahead than the search looks).
    pub end: Option<Timestamp>,
}

/// A stretch of the timeline: `person` on call for `why` during `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    pub person: String,
    pub why: Why,
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Schedule {
    /// A schedule from its parts, each already valid on its own. Roster shifts are placed in time in
    /// `time_zone`.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        time_zone: TimeZone,
        layers: Vec<Layer>,
        overrides: Vec<Override>,
        roster: Vec<RosterShift>,
    ) -> Schedule {
        let roster_index = Intervals::new(roster.iter().enumerate().filter_map(|(i, r)| {
            let start = time_zone.to_timestamp(r.start()).ok()?;
            let end = time_zone.to_timestamp(r.end()).ok()?;
            Some((start, end, i))
        }));
        let override_index =
            Intervals::new(overrides.iter().enumerate().map(|(i, o)| (o.from(), o.until(), i)));
        Schedule {
            id: id.into(),
            name: name.into(),
            time_zone,
            layers,
            overrides,
            roster,
            roster_index,
            override_index,
        }
    }

    /// This schedule with `extra` overrides after its own (e.g. swaps agreed in chat, from the database).
    pub fn with_overrides(&self, extra: &[Override]) -> Schedule {
        let mut overrides = self.overrides.clone();
        overrides.extend_from_slice(extra);
        Schedule::new(
            self.id.clone(),
            self.name.clone(),
            self.time_zone.clone(),
            self.layers.clone(),
            overrides,
            self.roster.clone(),
        )
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.time_zone
    }

    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    pub fn overrides(&self) -> &[Override] {
        &self.overrides
    }

    pub fn roster(&self) -> &[RosterShift] {
        &self.roster
    }
}

/// An instant as people write it for schedules and swaps: a wall-clock time in `tz`
/// ("2026-11-27T08:30"), or RFC 3339 with an offset ("2026-11-27T08:30+08:00").
pub fn parse_instant(text: &str, tz: &TimeZone) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    let civil = text.parse::<jiff::civil::DateTime>().map_err(|_| {
        format!("'{text}' is not a time like \"2026-11-27T08:30\" or \"2026-11-27T08:30+08:00\"")
    })?;
    tz.to_timestamp(civil).map_err(|e| format!("'{text}': {e}"))
}
