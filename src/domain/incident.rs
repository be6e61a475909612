//! 故障单: an incident, its lifecycle as a state machine, and the effects each step asks for.
//!
//! Everything here is pure: `apply` takes the incident, an action and the context it happens in,
//! and returns the effects (timeline entries, timers to arm or cancel, the dedup key to release)
//! that the engine then persists in one transaction.

use std::collections::BTreeMap;
use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::dedup::DedupKey;
use super::severity::Severity;
use super::ticket::TicketNo;
use super::timeline::{Actor, Channel, EventKind};

/// The store's identity of an incident; people use the [`TicketNo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IncidentId(pub i64);

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A person's id in the catalogue (`[[people]] id`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersonId(pub String);

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an incident stands. Labels for people (待确认, 已确认, …) live in the message catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Opened, nobody has acknowledged it yet.
    New,
    /// Opened again after it was resolved or closed; needs acknowledging again.
    Reopened,
    Acknowledged,
    InProgress,
    /// 到场: an engineer is on site.
    OnSite,
    Resolved,
    Closed,
    /// Folded into another incident; terminal.
    Merged,
    /// Withdrawn (a false alarm or a duplicate report); terminal.
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 9] = [
        Status::New,
        Status::Reopened,
        Status::Acknowledged,
        Status::InProgress,
        Status::OnSite,
        Status::Resolved,
        Status::Closed,
        Status::Merged,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Reopened => "reopened",
            Status::Acknowledged => "acknowledged",
            Status::InProgress => "in_progress",
            Status::OnSite => "on_site",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
            Status::Merged => "merged",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Work is still to be done: the fault is not resolved.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Status::New | Status::Reopened | Status::Acknowledged | Status::InProgress | Status::OnSite
        )
    }

    /// Nobody has taken it yet.
    pub fn awaits_ack(self) -> bool {
        matches!(self, Status::New | Status::Reopened)
    }

    /// New reports of the same fault still join this incident (a resolved one is reopened by them).
    pub fn holds_dedup_key(self) -> bool {
        self.is_open() || self == Status::Resolved
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Merged | Status::Cancelled)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happens to an incident, by a person, a sender or a timer.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// 确认: someone takes the incident.
    Acknowledge,
    /// 处理中.
    StartProgress,
    /// 到场: an engineer arrived on site.
    ArriveOnSite,
    /// 恢复: the fault is fixed.
    Resolve {
        note: Option<String>,
    },
    /// 关闭: the loop is closed with the reporter (闭环).
    Close {
        note: Option<String>,
    },
    Reopen {
        reason: String,
    },
    Cancel {
        reason: String,
    },
    MergeInto {
        target: TicketNo,
    },
    Comment {
        text: String,
    },
    /// 定级: change the level, with a reason.
    SetSeverity {
        to: Severity,
        reason: String,
    },
    /// Another report or alert of the same fault arrived.
    Repeat,
    /// The monitoring sender reports that the fault has recovered.
    SourceRecovered,
    /// Timer: nobody acknowledged within the reminder interval.
    AckOverdue,
    /// Timer: a resolved incident closes by itself after the confirmation window.
    AutoClose,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Acknowledge => "acknowledge",
            Action::StartProgress => "start_progress",
            Action::ArriveOnSite => "arrive_on_site",
            Action::Resolve { .. } => "resolve",
            Action::Close { .. } => "close",
            Action::Reopen { .. } => "reopen",
            Action::Cancel { .. } => "cancel",
            Action::MergeInto { .. } => "merge",
            Action::Comment { .. } => "comment",
            Action::SetSeverity { .. } => "set_severity",
            Action::Repeat => "repeat",
            Action::SourceRecovered => "source_recovered",
            Action::AckOverdue => "ack_overdue",
            Action::AutoClose => "auto_close",
        }
    }
}

/// Durable timers an incident can have; at most one of each kind per incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    AckReminder,
    AutoClose,
}

impl TimerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::AckReminder => "ack_reminder",
            TimerKind::AutoClose => "auto_close",
        }
    }

    pub fn parse(s: &str) -> Option<TimerKind> {
        [TimerKind::AckReminder, TimerKind::AutoClose].into_iter().find(|k| k.as_str() == s)
    }

    /// The action the engine applies when the timer fires.
    pub fn action(self) -> Action {
        match self {
            TimerKind::AckReminder => Action::AckOverdue,
            TimerKind::AutoClose => Action::AutoClose,
        }
    }
}

/// What the engine must persist after an action, in the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Record(EventKind),
    ArmTimer {
        kind: TimerKind,
        due: Timestamp,
    },
    CancelTimer(TimerKind),
    /// The incident no longer collects reports of its fault.
    ReleaseDedup,
    /// The incident collects its fault's reports again (after a reopen from closed), unless a
    /// newer incident holds the key by now.
    ClaimDedup,
}

/// Lifecycle timings from configuration (`[incidents]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LifecyclePolicy {
    pub ack_reminder_after: Option<SignedDuration>,
    pub auto_close_after: Option<SignedDuration>,
}

/// Who did it, through which channel, when.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    pub at: Timestamp,
    pub actor: Actor,
    pub channel: Channel,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("cannot {action} an incident that is {from}")]
    NotAllowed { from: Status, action: &'static str },
    #[error("the incident already has severity {0}")]
    SameSeverity(Severity),
    #[error("an incident cannot be merged into itself")]
    MergeIntoSelf,
    #[error("{0} must not be empty")]
    Empty(&'static str),
}

/// What a new incident starts from (after classification).
#[derive(Debug, Clone, PartialEq)]
pub struct NewIncident {
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub system: Option<String>,
    pub unit: Option<String>,
    pub source: String,
    pub dedup_key: DedupKey,
    pub labels: BTreeMap<String, String>,
    pub link: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    pub id: IncidentId,
    pub ticket: TicketNo,
    pub title: String,
    pub description: String,
    pub status: Status,
    pub severity: Severity,
    pub system: Option<String>,
    pub unit: Option<String>,
    pub source: String,
    pub dedup_key: DedupKey,
    pub assignee: Option<PersonId>,
    /// How many reports or alerts of this fault arrived (the first one included).
    pub occurrences: u32,
    /// How many timeline entries have been recorded; the next one is number `event_count + 1`.
    /// Kept by the engine as it persists `Effect::Record`s.
    pub event_count: u32,
    pub labels: BTreeMap<String, String>,
    pub link: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub acknowledged_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
}

impl Incident {
    /// Open a new incident; returns it with the effects of opening (the first timeline entry, the
    /// acknowledgement reminder).
    pub fn open(
        id: IncidentId,
        ticket: TicketNo,
        new: NewIncident,
        at: Timestamp,
        policy: &LifecyclePolicy,
    ) -> (Incident, Vec<Effect>) {
        let incident = Incident {
            id,
            ticket,
            title: new.title,
            description: new.description,
            status: Status::New,
            severity: new.severity,
            system: new.system,
            unit: new.unit,
            source: new.source,
            dedup_key: new.dedup_key,
            assignee: None,
            occurrences: 1,
            event_count: 0,
            labels: new.labels,
            link: new.link,
            created_at: at,
            updated_at: at,
            acknowledged_at: None,
            resolved_at: None,
            closed_at: None,
        };
        let mut effects = vec![Effect::Record(EventKind::Opened {
            severity: incident.severity,
            title: incident.title.clone(),
        })];
        if let Some(after) = policy.ack_reminder_after {
            effects.push(Effect::ArmTimer { kind: TimerKind::AckReminder, due: at + after });
        }
        (incident, effects)
    }

    /// Apply an action. On success the incident is updated and the effects to persist are
    /// returned; on error nothing changed.
    pub fn apply(
        &mut self,
        action: Action,
        ctx: &Context,
        policy: &LifecyclePolicy,
    ) -> Result<Vec<Effect>, TransitionError> {
        use Status::*;
        let from = self.status;
        let not_allowed = || TransitionError::NotAllowed { from, action: action.name() };
        let mut effects = Vec::new();
        match &action {
            Action::Acknowledge => {
                if !from.awaits_ack() {
                    return Err(not_allowed());
                }
                self.take(ctx, Acknowledged, &mut effects);
                effects.push(Effect::Record(EventKind::Acknowledged));
            }
            Action::StartProgress => {
                if !matches!(from, New | Reopened | Acknowledged | OnSite) {
                    return Err(not_allowed());
                }
                self.take(ctx, InProgress, &mut effects);
                effects.push(Effect::Record(EventKind::InProgress));
            }
            Action::ArriveOnSite => {
                if !matches!(from, New | Reopened | Acknowledged | InProgress) {
                    return Err(not_allowed());
                }
                self.take(ctx, OnSite, &mut effects);
                effects.push(Effect::Record(EventKind::ArrivedOnSite));
            }
            Action::Resolve { note } => {
                if !from.is_open() {
                    return Err(not_allowed());
                }
                self.resolve(ctx, policy, &mut effects);
                effects.push(Effect::Record(EventKind::Resolved { note: note.clone(), by_source: false }));
            }
            Action::SourceRecovered => {
                if !from.is_open() {
                    return Err(not_allowed());
                }
                self.resolve(ctx, policy, &mut effects);
                effects.push(Effect::Record(EventKind::Resolved { note: None, by_source: true }));
            }
            Action::Close { note } => {
                if from != Resolved {
                    return Err(not_allowed());
                }
                self.close(ctx, &mut effects);
                effects.push(Effect::Record(EventKind::Closed { note: note.clone(), automatic: false }));
            }
            Action::AutoClose => {
                if from != Resolved {
                    return Err(not_allowed());
                }
                self.close(ctx, &mut effects);
                effects.push(Effect::Record(EventKind::Closed { note: None, automatic: true }));
            }
            Action::Reopen { reason } => {
                if !matches!(from, Resolved | Closed) {
                    return Err(not_allowed());
                }
                require_text("reason", reason)?;
                self.reopen(ctx, policy, &mut effects);
                effects.push(Effect::Record(EventKind::Reopened { reason: reason.clone() }));
            }
            Action::Repeat => {
                if !from.holds_dedup_key() {
                    return Err(not_allowed());
                }
                self.occurrences = self.occurrences.saturating_add(1);
                if from == Resolved {
                    // The fault came back before the loop was closed: same ticket, work again.
                    self.reopen(ctx, policy, &mut effects);
                    effects.push(Effect::Record(EventKind::Reopened { reason: String::new() }));
                }
                effects.push(Effect::Record(EventKind::Repeated { occurrences: self.occurrences }));
            }
            Action::Cancel { reason } => {
                if !from.is_open() {
                    return Err(not_allowed());
                }
                require_text("reason", reason)?;
                self.end(ctx, Cancelled, &mut effects);
                effects.push(Effect::Record(EventKind::Cancelled { reason: reason.clone() }));
            }
            Action::MergeInto { target } => {
                if !(from.is_open() || from == Resolved) {
                    return Err(not_allowed());
                }
                if *target == self.ticket {
                    return Err(TransitionError::MergeIntoSelf);
                }
                self.end(ctx, Merged, &mut effects);
                effects.push(Effect::Record(EventKind::Merged { into: *target }));
            }
            Action::Comment { text } => {
                if from.is_terminal() {
                    return Err(not_allowed());
                }
                require_text("text", text)?;
                effects.push(Effect::Record(EventKind::Commented { text: text.clone() }));
            }
            Action::SetSeverity { to, reason } => {
                if from.is_terminal() || from == Closed {
                    return Err(not_allowed());
                }
                if *to == self.severity {
                    return Err(TransitionError::SameSeverity(*to));
                }
                require_text("reason", reason)?;
                let previous = self.severity;
                self.severity = *to;
                effects.push(Effect::Record(EventKind::SeverityChanged {
                    from: previous,
                    to: *to,
                    reason: reason.clone(),
                }));
            }
            Action::AckOverdue => {
                if !from.awaits_ack() {
                    return Err(not_allowed());
                }
                effects.push(Effect::Record(EventKind::AckOverdue));
            }
        }
        self.updated_at = ctx.at;
        Ok(effects)
    }

    /// A person takes the incident: it is acknowledged (if not yet) and assigned to them (if nobody).
    fn take(&mut self, ctx: &Context, to: Status, effects: &mut Vec<Effect>) {
        if self.status.awaits_ack() {
            self.acknowledged_at = Some(ctx.at);
            effects.push(Effect::CancelTimer(TimerKind::AckReminder));
        }
        if self.assignee.is_none()
            && let Actor::Person(p) = &ctx.actor
        {
            self.assignee = Some(p.clone());
        }
        self.status = to;
    }

    fn resolve(&mut self, ctx: &Context, policy: &LifecyclePolicy, effects: &mut Vec<Effect>) {
        if self.status.awaits_ack() {
            effects.push(Effect::CancelTimer(TimerKind::AckReminder));
        }
        self.status = Status::Resolved;
        self.resolved_at = Some(ctx.at);
        if let Some(after) = policy.auto_close_after {
            effects.push(Effect::ArmTimer { kind: TimerKind::AutoClose, due: ctx.at + after });
        }
    }

    fn close(&mut self, ctx: &Context, effects: &mut Vec<Effect>) {
        self.status = Status::Closed;
        self.closed_at = Some(ctx.at);
        effects.push(Effect::CancelTimer(TimerKind::AutoClose));
        effects.push(Effect::ReleaseDedup);
    }

    fn reopen(&mut self, ctx: &Context, policy: &LifecyclePolicy, effects: &mut Vec<Effect>) {
        let was_closed = self.status == Status::Closed;
        self.status = Status::Reopened;
        self.resolved_at = None;
        self.closed_at = None;
        self.acknowledged_at = None;
        effects.push(Effect::CancelTimer(TimerKind::AutoClose));
        if was_closed {
            // Closing released the key; the reopened incident collects its fault's reports again.
            effects.push(Effect::ClaimDedup);
        }
        if let Some(after) = policy.ack_reminder_after {
            effects.push(Effect::ArmTimer { kind: TimerKind::AckReminder, due: ctx.at + after });
        }
    }

    fn end(&mut self, ctx: &Context, to: Status, effects: &mut Vec<Effect>) {
        if self.status.awaits_ack() {
            effects.push(Effect::CancelTimer(TimerKind::AckReminder));
        }
        if self.status == Status::Resolved {
            effects.push(Effect::CancelTimer(TimerKind::AutoClose));
        }
        self.status = to;
        self.closed_at = Some(ctx.at);
        effects.push(Effect::ReleaseDedup);
    }
}

fn require_text(what: &'static str, text: &str) -> Result<(), TransitionError> {
    if text.trim().is_empty() { Err(TransitionError::Empty(what)) } else { Ok(()) }
}
