//! 服务级别 (SLA): per level a respond deadline, a progress-update interval and a resolve deadline,
//! each counted on its own working calendar; pauses (挂起) are excluded; warnings before and
//! breaches at the deadlines.
//!
//! Pure: deadlines are computed from the incident's SLA state, the policy and the calendars.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::calendar::{Calendar, CalendarError};
use super::severity::Severity;

/// How long a target allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Within {
    /// Working time on the target's calendar (on a 7×24 calendar, plain time).
    Duration(SignedDuration),
    /// Whole working days (contract C: 四级 within 5 working days).
    WorkingDays(u32),
}

impl fmt::Display for Within {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Within::Duration(d) => write!(f, "{d:#}"),
            Within::WorkingDays(n) => write!(f, "{n} working days"),
        }
    }
}

/// One deadline of a level: how long, on which calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub within: Within,
    pub calendar: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelTargets {
    pub respond: Target,
    /// 进展汇报: after acknowledgement, a progress update is due this often.
    pub progress: Option<Target>,
    pub resolve: Target,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicy {
    pub id: String,
    pub title: String,
    pub levels: BTreeMap<Severity, LevelTargets>,
}

/// Every policy and calendar of a deployment, and when to warn.
#[derive(Debug, Clone)]
pub struct SlaBook {
    pub policies: BTreeMap<String, SlaPolicy>,
    pub calendars: BTreeMap<String, Arc<Calendar>>,
    /// Warn when this share of a target's time has passed (e.g. 0.8); `None` = no warnings.
    pub warn_at: Option<f64>,
    pub default_policy: Option<String>,
}

/// Which deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaTarget {
    /// 响应: acknowledged (or worked on, or on site).
    Respond,
    /// 修复/恢复: resolved.
    Resolve,
}

impl SlaTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            SlaTarget::Respond => "respond",
            SlaTarget::Resolve => "resolve",
        }
    }
}

/// A pause (挂起): waiting for the requester, a vendor or a part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub from: Timestamp,
    pub until: Option<Timestamp>,
    pub reason: String,
}

/// The SLA clock of one incident, stored with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaState {
    pub policy: String,
    /// The respond clock starts at opening (and again at a reopen); the resolve clock at opening.
    pub respond_from: Timestamp,
    pub resolve_from: Timestamp,
    pub pauses: Vec<Pause>,
    pub respond_due: Option<Timestamp>,
    pub resolve_due: Option<Timestamp>,
    pub responded_at: Option<Timestamp>,
    pub respond_breached: bool,
    pub resolve_breached: bool,
}

/// A deadline computed for a target: when to warn and when it is breached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub warn_at: Option<Timestamp>,
    pub due: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlaError {
    #[error("no SLA policy '{0}'")]
    UnknownPolicy(String),
    #[error("no calendar '{0}'")]
    UnknownCalendar(String),
    #[error("SLA policy '{policy}' has no targets for level {level}")]
    NoLevel { policy: String, level: Severity },
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

impl SlaBook {
    pub fn policy(&self, id: &str) -> Result<&SlaPolicy, SlaError> {
        self.policies.get(id).ok_or_else(|| SlaError::UnknownPolicy(id.to_string()))
    }

    fn calendar(&self, name: &str) -> Result<&Calendar, SlaError> {
        self.calendars
            .get(name)
            .map(|c| c.as_ref())
            .ok_or_else(|| SlaError::UnknownCalendar(name.to_string()))
    }

    pub fn targets(&self, policy: &str, level: Severity) -> Result<&LevelTargets, SlaError> {
        self.policy(policy)?
            .levels
            .get(&level)
            .ok_or_else(|| SlaError::NoLevel { policy: policy.to_string(), level })
    }

    /// When a target falls due for a clock started at `from`, with the working time of finished
    /// pauses added back.
    pub fn deadline(
        &self,
        state: &SlaState,
        level: Severity,
        target: SlaTarget,
    ) -> Result<Deadline, SlaError> {
        let targets = self.targets(&state.policy, level)?;
        let (t, from) = match target {
            SlaTarget::Respond => (&targets.respond, state.respond_from),
            SlaTarget::Resolve => (&targets.resolve, state.resolve_from),
        };
        self.deadline_of(t, from, &state.pauses)
    }

    /// The next progress update due after `last` (acknowledgement or the previous update).
    pub fn progress_due(
        &self,
        state: &SlaState,
        level: Severity,
        last: Timestamp,
    ) -> Result<Option<Timestamp>, SlaError> {
        match &self.targets(&state.policy, level)?.progress {
            Some(t) => Ok(Some(self.deadline_of(t, last, &[])?.due)),
            None => Ok(None),
        }
    }

    fn deadline_of(&self, target: &Target, from: Timestamp, pauses: &[Pause]) -> Result<Deadline, SlaError> {
        let cal = self.calendar(&target.calendar)?;
        let unpaused_due = match target.within {
            Within::Duration(d) => cal.add(from, d)?,
            Within::WorkingDays(n) => cal.add_working_days(from, n)?,
        };
        // Each finished pause that began while the clock was still running moves the deadline by
        // its working time; a pause begun after the deadline had passed changes nothing.
        let mut due = unpaused_due;
        let mut paused = SignedDuration::ZERO;
        let mut finished: Vec<&Pause> =
            pauses.iter().filter(|p| p.from >= from && p.until.is_some()).collect();
        finished.sort_by_key(|p| p.from);
        for p in finished {
            if p.from >= due {
                break;
            }
            let length = cal.working_time_between(p.from, p.until.expect("finished pauses have an end"));
            paused += length;
            due = cal.add(due, length)?;
        }
        let allowed = cal.working_time_between(cal.next_working_instant(from), unpaused_due);
        let warn_at = match self.warn_at {
            Some(share) if share > 0.0 && share < 1.0 => {
                let before = SignedDuration::from_secs_f64(allowed.as_secs_f64() * share);
                Some(cal.add(from, before + paused)?)
            }
            _ => None,
        };
        Ok(Deadline { warn_at, due })
    }
}

impl SlaState {
    pub fn new(policy: &str, at: Timestamp) -> SlaState {
        SlaState {
            policy: policy.to_string(),
            respond_from: at,
            resolve_from: at,
            pauses: Vec::new(),
            respond_due: None,
            resolve_due: None,
            responded_at: None,
            respond_breached: false,
            resolve_breached: false,
        }
    }

    pub fn paused(&self) -> bool {
        self.pauses.last().is_some_and(|p| p.until.is_none())
    }
}
