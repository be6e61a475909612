//! [`ScheduleError`]: what can be wrong with one part of a schedule as written.

use jiff::civil::DateTime;

/// A part of a schedule (rotation, window, weekday, override, roster shift) that cannot be built.
///
/// Messages name the offending text or value, so the configuration layer only prefixes its key path
/// (`schedules[0].layers[1].rotation: …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// A layer without members would never have anyone on call.
    #[error("a layer needs at least one member")]
    NoMembers,
    /// A member id, person or shift name that is empty.
    #[error("{what} must not be empty")]
    Empty {
        /// What is empty: "a member", "the person", …
        what: &'static str,
    },
    /// A rotation length that cannot be read.
    #[error("rotation {text:?}: {reason}")]
    BadRotation {
        /// The text as written.
        text: String,
        /// What is wrong.
        reason: String,
    },
    /// A time-of-day window that cannot be read.
    #[error("hours {text:?}: {reason}")]
    BadWindow {
        /// The text as written.
        text: String,
        /// What is wrong.
        reason: String,
    },
    /// A weekday name that is not one.
    #[error(
        "{text:?} is not a weekday; write mon, tue, wed, thu, fri, sat, sun (or 周一…周日), or a range like \
         \"mon-fri\""
    )]
    BadWeekday {
        /// The text as written.
        text: String,
    },
    /// A restriction to no weekday at all.
    #[error("weekdays must name at least one day")]
    NoWeekdays,
    /// An override (换班) whose end is not after its start.
    #[error("an override must end after it starts")]
    OverrideEndsBeforeStart,
    /// An override whose cover is the person replaced.
    #[error("'{person}' cannot cover for themselves")]
    CoversSelf {
        /// The person id.
        person: String,
    },
    /// A roster shift whose end is not after its start.
    #[error("the shift ends at {end}, not after its start {start}")]
    ShiftEndsBeforeStart {
        /// The civil start.
        start: DateTime,
        /// The civil end.
        end: DateTime,
    },
    /// A roster shift longer than [`crate::domain::schedule::MAX_SHIFT_DAYS`] days: almost surely a
    /// typo in a date or a time.
    #[error("the shift from {start} to {end} is longer than {max} days", max = super::MAX_SHIFT_DAYS)]
    ShiftTooLong {
        /// The civil start.
        start: DateTime,
        /// The civil end.
        end: DateTime,
    },
}
