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
use super::escalation::{EscalationBook, EscalationState, Hold, PagePlan, Reminder};
use super::severity::Severity;
use super::sla::{Pause, SlaBook, SlaState, SlaTarget};
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

    /// Every status where work is still to be done ([`Status::is_open`]).
    pub const OPEN: [Status; 5] =
        [Status::New, Status::Reopened, Status::Acknowledged, Status::InProgress, Status::OnSite];

    /// Work is still to be done: the fault is not resolved.
    pub fn is_open(self) -> bool {
        Status::OPEN.contains(&self)
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
    /// 挂起: stop the SLA clocks (waiting for the requester, a vendor or a part).
    PauseSla {
        reason: String,
    },
    /// Start the SLA clocks again.
    ResumeSla,
    /// Timer: a share of an SLA target's time has passed.
    SlaWarn(SlaTarget),
    /// Timer: an SLA target's deadline has passed.
    SlaBreach(SlaTarget),
    /// Timer: no progress update within the interval.
    ProgressOverdue,
    /// Timer: the current tier's acknowledgement timeout ran out; page the next tier.
    EscalationDue,
    /// Timer: page the current tier again.
    RepeatPage,
    /// Timer: working time began; start the paging that waited for it.
    StartPaging,
    /// 拒绝: the paged person cannot take it (asleep on another fault, on leave); the next tier is paged.
    Decline {
        reason: String,
    },
    /// 转派: hand the incident to another person, who is paged.
    Reassign {
        to: PersonId,
        reason: String,
    },
    /// 升级: ask the next tier for help now.
    Escalate {
        reason: String,
    },
    /// Hold paging (a drill paused): pending pages are cancelled, no tier is paged until resumed.
    HoldPaging {
        reason: String,
    },
    /// Page again from the tier that was held.
    ResumePaging,
    /// Call a group together (an emergency plan's 应急小组): everyone its targets name now.
    CallGroup {
        name: String,
        targets: Vec<crate::domain::escalation::Target>,
    },
}

impl Action {
    /// The action's arguments, for the audit log.
    pub fn detail(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Action::Resolve { note } | Action::Close { note } => json!({ "note": note }),
            Action::Reopen { reason }
            | Action::Cancel { reason }
            | Action::PauseSla { reason }
            | Action::Decline { reason }
            | Action::Escalate { reason }
            | Action::HoldPaging { reason } => {
                json!({ "reason": reason })
            }
            Action::MergeInto { target } => json!({ "target": target }),
            Action::CallGroup { name, targets } => {
                json!({ "group": name, "targets": targets.iter().map(|t| t.to_string()).collect::<Vec<_>>() })
            }
            Action::Comment { text } => json!({ "text": text }),
            Action::SetSeverity { to, reason } => json!({ "to": to, "reason": reason }),
            Action::Reassign { to, reason } => json!({ "to": to, "reason": reason }),
            Action::SlaWarn(t) | Action::SlaBreach(t) => json!({ "target": t }),
            _ => json!({}),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Action::Acknowledge => "acknowledge",
            Action::StartProgress => "start_progress",
            Action::ArriveOnSite => "arrive_on_site",
            Action::Resolve { .. } => "resolve",
            Action::Close { .. } => "close",
            Action::Reopen { .. } => "reopen",
            Action::Cancel { .. } => "cancel",
            Action::HoldPaging { .. } => "hold_paging",
            Action::ResumePaging => "resume_paging",
            Action::CallGroup { .. } => "call_group",
            Action::MergeInto { .. } => "merge",
            Action::Comment { .. } => "comment",
            Action::SetSeverity { .. } => "set_severity",
            Action::Repeat => "repeat",
            Action::SourceRecovered => "source_recovered",
            Action::AckOverdue => "ack_overdue",
            Action::AutoClose => "auto_close",
            Action::PauseSla { .. } => "pause_sla",
            Action::ResumeSla => "resume_sla",
            Action::SlaWarn(_) => "sla_warn",
            Action::SlaBreach(_) => "sla_breach",
            Action::ProgressOverdue => "progress_overdue",
            Action::EscalationDue => "escalation_due",
            Action::RepeatPage => "repeat_page",
            Action::StartPaging => "start_paging",
            Action::Decline { .. } => "decline",
            Action::Reassign { .. } => "reassign",
            Action::Escalate { .. } => "escalate",
        }
    }
}

/// Durable timers an incident can have; at most one of each kind per incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    AckReminder,
    AutoClose,
    RespondWarn,
    RespondDue,
    ResolveWarn,
    ResolveDue,
    ProgressDue,
    /// The current escalation tier's acknowledgement timeout.
    Escalate,
    /// The next repeat page of the current tier.
    RepeatPage,
    /// Paging deferred to working time starts.
    StartPaging,
}

impl TimerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::AckReminder => "ack_reminder",
            TimerKind::AutoClose => "auto_close",
            TimerKind::RespondWarn => "respond_warn",
            TimerKind::RespondDue => "respond_due",
            TimerKind::ResolveWarn => "resolve_warn",
            TimerKind::ResolveDue => "resolve_due",
            TimerKind::ProgressDue => "progress_due",
            TimerKind::Escalate => "escalate",
            TimerKind::RepeatPage => "repeat_page",
            TimerKind::StartPaging => "start_paging",
        }
    }

    pub const ALL: [TimerKind; 10] = [
        TimerKind::AckReminder,
        TimerKind::AutoClose,
        TimerKind::RespondWarn,
        TimerKind::RespondDue,
        TimerKind::ResolveWarn,
        TimerKind::ResolveDue,
        TimerKind::ProgressDue,
        TimerKind::Escalate,
        TimerKind::RepeatPage,
        TimerKind::StartPaging,
    ];

    pub fn parse(s: &str) -> Option<TimerKind> {
        TimerKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    fn warn_for(target: SlaTarget) -> TimerKind {
        match target {
            SlaTarget::Respond => TimerKind::RespondWarn,
            SlaTarget::Resolve => TimerKind::ResolveWarn,
        }
    }

    fn due_for(target: SlaTarget) -> TimerKind {
        match target {
            SlaTarget::Respond => TimerKind::RespondDue,
            SlaTarget::Resolve => TimerKind::ResolveDue,
        }
    }

    /// The action the engine applies when the timer fires.
    pub fn action(self) -> Action {
        match self {
            TimerKind::AckReminder => Action::AckOverdue,
            TimerKind::AutoClose => Action::AutoClose,
            TimerKind::RespondWarn => Action::SlaWarn(SlaTarget::Respond),
            TimerKind::RespondDue => Action::SlaBreach(SlaTarget::Respond),
            TimerKind::ResolveWarn => Action::SlaWarn(SlaTarget::Resolve),
            TimerKind::ResolveDue => Action::SlaBreach(SlaTarget::Resolve),
            TimerKind::ProgressDue => Action::ProgressOverdue,
            TimerKind::Escalate => Action::EscalationDue,
            TimerKind::RepeatPage => Action::RepeatPage,
            TimerKind::StartPaging => Action::StartPaging,
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
    /// Create a page (呼叫) as a row, delivered at its due time unless stopped first.
    Page(PagePlan),
    /// Cancel the pages not yet sent — of one person, or of everyone.
    StopPages {
        person: Option<PersonId>,
    },
}

/// Lifecycle timings and SLA policies from configuration (`[incidents]`, `[sla]`).
#[derive(Debug, Clone, Default)]
pub struct LifecyclePolicy {
    pub ack_reminder_after: Option<SignedDuration>,
    pub auto_close_after: Option<SignedDuration>,
    pub sla: Option<std::sync::Arc<SlaBook>>,
    pub escalation: Option<std::sync::Arc<EscalationBook>>,
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
    #[error("the incident has no SLA clock")]
    NoSla,
    #[error("the incident is assigned to {0} already")]
    SameAssignee(PersonId),
    #[error("there is no higher escalation tier to call")]
    NoHigherTier,
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
    /// The SLA policy that applies (chosen by the engine from configuration), if any.
    pub sla_policy: Option<String>,
    /// Why the level was chosen (定级依据).
    pub reasons: Vec<String>,
    /// The escalation policy that pages for it (chosen by the engine), if any.
    pub escalation_policy: Option<String>,
    /// Open without paging (a silence, an alert storm).
    pub hold: Option<Hold>,
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
    /// The SLA clock, when a policy applies.
    pub sla: Option<SlaState>,
    /// Who is paged and how far it escalated, when a policy applies.
    pub escalation: Option<EscalationState>,
}

impl Incident {
    /// A drill incident (演练): labelled `drill = "true"` by whoever opened it. Marked 【演练】
    /// wherever it is shown.
    pub fn is_drill(&self) -> bool {
        self.labels.get("drill").is_some_and(|v| v == "true")
    }

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
            sla: None,
            escalation: None,
        };
        let mut incident = incident;
        let mut effects = vec![Effect::Record(EventKind::Opened {
            severity: incident.severity,
            title: incident.title.clone(),
            reasons: new.reasons.clone(),
        })];
        if let Some(after) = policy.ack_reminder_after {
            effects.push(Effect::ArmTimer { kind: TimerKind::AckReminder, due: at + after });
        }
        if let (Some(book), Some(id)) = (policy.sla.as_deref(), new.sla_policy.as_deref()) {
            // A policy missing from the book (configuration changed) leaves the incident without a
            // clock rather than failing the report.
            if book.policy(id).is_ok() {
                incident.sla = Some(SlaState::new(id, at));
                incident.plan_sla(book, &[SlaTarget::Respond, SlaTarget::Resolve], at, &mut effects);
            }
        }
        incident.start_escalation(new.escalation_policy.as_deref(), new.hold, at, policy, &mut effects);
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
                self.take(ctx, Acknowledged, policy, &mut effects);
                effects.push(Effect::Record(EventKind::Acknowledged));
            }
            Action::StartProgress => {
                if !matches!(from, New | Reopened | Acknowledged | OnSite) {
                    return Err(not_allowed());
                }
                self.take(ctx, InProgress, policy, &mut effects);
                effects.push(Effect::Record(EventKind::InProgress));
            }
            Action::ArriveOnSite => {
                if !matches!(from, New | Reopened | Acknowledged | InProgress) {
                    return Err(not_allowed());
                }
                self.take(ctx, OnSite, policy, &mut effects);
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
                if matches!(ctx.actor, Actor::Person(_)) {
                    // A person's update counts as the progress report (进展汇报).
                    self.sla_progress(ctx, policy, &mut effects);
                }
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
                // The new level's targets count from the same start.
                if let (Some(book), Some(state)) = (policy.sla.as_deref(), &self.sla)
                    && !state.paused()
                {
                    let mut open_targets = Vec::new();
                    if state.responded_at.is_none() && from.is_open() {
                        open_targets.push(SlaTarget::Respond);
                    }
                    if from.is_open() {
                        open_targets.push(SlaTarget::Resolve);
                    }
                    self.plan_sla(book, &open_targets, ctx.at, &mut effects);
                    // The new level may report progress at another interval, or not at all.
                    self.sla_progress(ctx, policy, &mut effects);
                }
                if from.is_open() {
                    self.page_at_once(ctx.at, policy, &mut effects);
                    self.page_if_no_longer_waiting(ctx.at, policy, &mut effects);
                }
            }
            Action::AckOverdue => {
                if !from.awaits_ack() {
                    return Err(not_allowed());
                }
                effects.push(Effect::Record(EventKind::AckOverdue));
            }
            Action::PauseSla { reason } => {
                require_text("reason", reason)?;
                let Some(state) = self.sla.as_mut() else { return Err(TransitionError::NoSla) };
                if !from.is_open() || state.paused() {
                    return Err(not_allowed());
                }
                state.pauses.push(Pause { from: ctx.at, until: None, reason: reason.clone() });
                for kind in SLA_TIMERS {
                    effects.push(Effect::CancelTimer(kind));
                }
                effects.push(Effect::Record(EventKind::SlaPaused { reason: reason.clone() }));
            }
            Action::ResumeSla => {
                if !from.is_open() {
                    return Err(not_allowed());
                }
                let Some(state) = self.sla.as_mut() else { return Err(TransitionError::NoSla) };
                let Some(open_pause) = state.pauses.last_mut().filter(|p| p.until.is_none()) else {
                    return Err(not_allowed());
                };
                open_pause.until = Some(ctx.at);
                let responded = state.responded_at.is_some();
                effects.push(Effect::Record(EventKind::SlaResumed));
                if let Some(book) = policy.sla.as_deref()
                    && from.is_open()
                {
                    let targets: &[SlaTarget] = if responded {
                        &[SlaTarget::Resolve]
                    } else {
                        &[SlaTarget::Respond, SlaTarget::Resolve]
                    };
                    self.plan_sla(book, targets, ctx.at, &mut effects);
                    if responded {
                        self.sla_progress(ctx, policy, &mut effects);
                    }
                }
            }
            Action::SlaWarn(target) | Action::SlaBreach(target) => {
                let Some(state) = self.sla.as_mut() else { return Err(TransitionError::NoSla) };
                let pending = match target {
                    SlaTarget::Respond => state.responded_at.is_none() && from.is_open(),
                    SlaTarget::Resolve => from.is_open(),
                };
                let already_breached = match target {
                    SlaTarget::Respond => state.respond_breached,
                    SlaTarget::Resolve => state.resolve_breached,
                };
                // A breach is recorded once, even if a re-plan arms its timer again.
                if !pending || state.paused() || already_breached {
                    return Err(not_allowed());
                }
                let due = match target {
                    SlaTarget::Respond => state.respond_due,
                    SlaTarget::Resolve => state.resolve_due,
                }
                .unwrap_or(ctx.at);
                if matches!(action, Action::SlaBreach(_)) {
                    match target {
                        SlaTarget::Respond => state.respond_breached = true,
                        SlaTarget::Resolve => state.resolve_breached = true,
                    }
                    effects.push(Effect::Record(EventKind::SlaBreached { target: *target, due }));
                } else {
                    effects.push(Effect::Record(EventKind::SlaWarning { target: *target, due }));
                }
                // The one working on it hears of the resolve deadline in person (an unacknowledged
                // incident's respond deadline is the escalation's business).
                if *target == SlaTarget::Resolve {
                    let about = match action {
                        Action::SlaBreach(_) => Reminder::ResolveBreached,
                        _ => Reminder::ResolveWarning,
                    };
                    self.remind_assignee(about, ctx.at, policy, &mut effects);
                }
            }
            Action::ProgressOverdue => {
                let Some(state) = self.sla.as_ref() else { return Err(TransitionError::NoSla) };
                if !from.is_open() || state.responded_at.is_none() || state.paused() {
                    return Err(not_allowed());
                }
                effects.push(Effect::Record(EventKind::ProgressOverdue));
                self.remind_assignee(Reminder::ProgressOverdue, ctx.at, policy, &mut effects);
                // Remind again after another interval until someone reports progress.
                self.sla_progress(ctx, policy, &mut effects);
            }
            Action::EscalationDue | Action::RepeatPage | Action::StartPaging => {
                if !from.awaits_ack() || !self.escalation_timer(&action, ctx.at, policy, &mut effects) {
                    return Err(not_allowed());
                }
            }
            Action::Decline { reason } => {
                require_text("reason", reason)?;
                if !from.awaits_ack() || !self.escalation_is_active() {
                    return Err(not_allowed());
                }
                effects.push(Effect::Record(EventKind::Declined { reason: reason.clone() }));
                if let Actor::Person(p) = &ctx.actor {
                    effects.push(Effect::StopPages { person: Some(p.clone()) });
                }
                self.escalate_next(ctx.at, policy, &mut effects);
            }
            Action::Reassign { to, reason } => {
                if !from.is_open() {
                    return Err(not_allowed());
                }
                if self.assignee.as_ref() == Some(to) {
                    return Err(TransitionError::SameAssignee(to.clone()));
                }
                let previous = self.assignee.replace(to.clone());
                effects.push(Effect::Record(EventKind::Reassigned {
                    from: previous,
                    to: to.clone(),
                    reason: reason.clone(),
                }));
                if let Actor::Person(p) = &ctx.actor
                    && p != to
                {
                    effects.push(Effect::StopPages { person: Some(p.clone()) });
                }
                self.page_reassigned(to, ctx.at, policy, &mut effects);
            }
            Action::Escalate { reason } => {
                require_text("reason", reason)?;
                if !from.is_open() {
                    return Err(not_allowed());
                }
                if !self.escalate_by_hand(reason, ctx.at, policy, &mut effects) {
                    return Err(TransitionError::NoHigherTier);
                }
            }
            Action::HoldPaging { reason } => {
                require_text("reason", reason)?;
                if !from.is_open() || !self.hold_paging(reason, &mut effects) {
                    return Err(not_allowed());
                }
            }
            Action::ResumePaging => {
                if !from.is_open() || !self.resume_paging(ctx.at, policy, &mut effects) {
                    return Err(not_allowed());
                }
            }
            Action::CallGroup { name, targets } => {
                if !from.is_open() {
                    return Err(not_allowed());
                }
                self.call_group(name, targets, ctx.at, policy, &mut effects);
            }
        }
        self.updated_at = ctx.at;
        Ok(effects)
    }

    /// A person takes the incident: it is acknowledged (if not yet) and assigned to them (if nobody).
    fn take(&mut self, ctx: &Context, to: Status, policy: &LifecyclePolicy, effects: &mut Vec<Effect>) {
        if self.status.awaits_ack() {
            self.acknowledged_at = Some(ctx.at);
            effects.push(Effect::CancelTimer(TimerKind::AckReminder));
            self.stop_escalation(EscalationEnd::Acknowledged, effects);
        }
        self.sla_responded(ctx.at, effects);
        self.sla_progress(ctx, policy, effects);
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
        self.stop_escalation(EscalationEnd::Stopped, effects);
        self.end_pause(ctx.at);
        // A fix is also the response, if nobody acknowledged first.
        self.sla_responded(ctx.at, effects);
        if self.sla.is_some() {
            for kind in [TimerKind::ResolveWarn, TimerKind::ResolveDue, TimerKind::ProgressDue] {
                effects.push(Effect::CancelTimer(kind));
            }
        }
        self.status = Status::Resolved;
        self.resolved_at = Some(ctx.at);
        if let Some(after) = policy.auto_close_after {
            effects.push(Effect::ArmTimer { kind: TimerKind::AutoClose, due: ctx.at + after });
        }
    }

    fn close(&mut self, ctx: &Context, effects: &mut Vec<Effect>) {
        self.cancel_sla_timers(effects);
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
        // The fault is back: both clocks start again now.
        if let Some(state) = self.sla.as_mut() {
            state.respond_from = ctx.at;
            state.resolve_from = ctx.at;
            state.responded_at = None;
            // A new cycle can breach again; the earlier breaches stay on the timeline.
            state.respond_breached = false;
            state.resolve_breached = false;
            if let Some(pause) = state.pauses.last_mut().filter(|p| p.until.is_none()) {
                pause.until = Some(ctx.at);
            }
            if let Some(book) = policy.sla.as_deref() {
                self.plan_sla(book, &[SlaTarget::Respond, SlaTarget::Resolve], ctx.at, effects);
            }
        }
        if was_closed {
            // Closing released the key; the reopened incident collects its fault's reports again.
            effects.push(Effect::ClaimDedup);
        }
        if let Some(after) = policy.ack_reminder_after {
            effects.push(Effect::ArmTimer { kind: TimerKind::AckReminder, due: ctx.at + after });
        }
        self.restart_escalation(ctx.at, policy, effects);
    }

    fn end(&mut self, ctx: &Context, to: Status, effects: &mut Vec<Effect>) {
        self.cancel_sla_timers(effects);
        self.end_pause(ctx.at);
        if self.status.awaits_ack() {
            effects.push(Effect::CancelTimer(TimerKind::AckReminder));
        }
        self.stop_escalation(EscalationEnd::Stopped, effects);
        if self.status == Status::Resolved {
            effects.push(Effect::CancelTimer(TimerKind::AutoClose));
        }
        self.status = to;
        self.closed_at = Some(ctx.at);
        effects.push(Effect::ReleaseDedup);
    }
}

/// Every timer that belongs to the SLA clocks.
const SLA_TIMERS: [TimerKind; 5] = [
    TimerKind::RespondWarn,
    TimerKind::RespondDue,
    TimerKind::ResolveWarn,
    TimerKind::ResolveDue,
    TimerKind::ProgressDue,
];

impl Incident {
    /// Compute the deadlines of `targets` and arm their warning and breach timers.
    fn plan_sla(&mut self, book: &SlaBook, targets: &[SlaTarget], now: Timestamp, effects: &mut Vec<Effect>) {
        let severity = self.severity;
        let Some(state) = self.sla.as_mut() else { return };
        for &target in targets {
            let Ok(deadline) = book.deadline(state, severity, target) else {
                // No deadline can be computed (the policy lost this level): no stale timers either.
                effects.push(Effect::CancelTimer(TimerKind::warn_for(target)));
                effects.push(Effect::CancelTimer(TimerKind::due_for(target)));
                continue;
            };
            match target {
                SlaTarget::Respond => state.respond_due = Some(deadline.due),
                SlaTarget::Resolve => state.resolve_due = Some(deadline.due),
            }
            match deadline.warn_at.filter(|w| *w > now && *w < deadline.due) {
                Some(warn) => effects.push(Effect::ArmTimer { kind: TimerKind::warn_for(target), due: warn }),
                None => effects.push(Effect::CancelTimer(TimerKind::warn_for(target))),
            }
            effects.push(Effect::ArmTimer { kind: TimerKind::due_for(target), due: deadline.due });
        }
    }

    /// A pause ends when the incident is fixed or finished.
    fn end_pause(&mut self, at: Timestamp) {
        if let Some(pause) = self.sla.as_mut().and_then(|s| s.pauses.last_mut()).filter(|p| p.until.is_none())
        {
            pause.until = Some(at);
        }
    }

    /// The first acknowledgement, work, arrival or fix is the response.
    fn sla_responded(&mut self, at: Timestamp, effects: &mut Vec<Effect>) {
        if let Some(state) = self.sla.as_mut()
            && state.responded_at.is_none()
        {
            state.responded_at = Some(at);
            effects.push(Effect::CancelTimer(TimerKind::RespondWarn));
            effects.push(Effect::CancelTimer(TimerKind::RespondDue));
        }
    }

    /// (Re)arm the progress-report reminder, counting from now.
    fn sla_progress(&mut self, ctx: &Context, policy: &LifecyclePolicy, effects: &mut Vec<Effect>) {
        let (Some(book), Some(state)) = (policy.sla.as_deref(), self.sla.as_ref()) else { return };
        if !self.status.is_open() || state.paused() || state.responded_at.is_none() {
            return;
        }
        match book.progress_due(state, self.severity, ctx.at) {
            Ok(Some(due)) => effects.push(Effect::ArmTimer { kind: TimerKind::ProgressDue, due }),
            // This level asks for no progress reports (or the policy changed).
            _ => effects.push(Effect::CancelTimer(TimerKind::ProgressDue)),
        }
    }

    fn cancel_sla_timers(&self, effects: &mut Vec<Effect>) {
        if self.sla.is_some() {
            for kind in SLA_TIMERS {
                effects.push(Effect::CancelTimer(kind));
            }
        }
    }
}

#[path = "incident_paging.rs"]
mod paging;
use paging::EscalationEnd;

fn require_text(what: &'static str, text: &str) -> Result<(), TransitionError> {
    if text.trim().is_empty() { Err(TransitionError::Empty(what)) } else { Ok(()) }
}
