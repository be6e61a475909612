//! Pure domain types and rules: no I/O, no SQL, no clocks of their own.

pub mod action_link;
pub mod audit;
pub mod calendar;
pub mod classify;
pub mod cron;
pub mod dedup;
pub mod drill;
pub mod emergency;
pub mod escalation;
pub mod incident;
pub mod retry;
pub mod schedule;
pub mod severity;
pub mod silence;
pub mod sla;
pub mod ticket;
pub mod timeline;

#[cfg(test)]
mod escalation_tests;
#[cfg(test)]
mod incident_tests;
#[cfg(test)]
mod sla_tests;

pub use dedup::DedupKey;
pub use incident::{
    Action, Context, Effect, Incident, IncidentId, LifecyclePolicy, NewIncident, PersonId, Status, TimerKind,
    TransitionError,
};
pub use retry::{AfterFailure, RetryPolicy};
pub use severity::Severity;
pub use ticket::TicketNo;
pub use timeline::{Actor, Channel, EventKind, TimelineEntry};
