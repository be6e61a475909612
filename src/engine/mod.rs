//! The async core: intake (group commit), durable timers, the outbox dispatcher. Each loop keeps its
//! state in the database, so any instance can stop at any moment and another carries on.

pub mod answers;
pub mod classify;
pub mod clock;
pub mod drills;
pub mod emergency;
pub mod handover;
pub mod incidents;
pub mod intake;
pub mod outbox;
pub mod paging;
pub mod sinks;
pub mod sms;
pub mod swaps;
pub mod timers;
mod writeset;

pub use classify::{Report, report_from_alert};
pub use clock::{Clock, ManualClock, SystemClock};
pub use incidents::{ActError, Disposition, IncidentService, IngestOutcome, Wakeups};
pub use intake::{IntakeError, IntakeQueue};
