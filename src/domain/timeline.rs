//! The timeline of an incident: who did what, when, through which channel.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::escalation::{Hold, PageReason};
use super::incident::PersonId;
use super::severity::Severity;
use super::sla::SlaTarget;
use super::ticket::TicketNo;

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// A person from the catalogue.
    Person(PersonId),
    /// A monitoring sender (`alertmanager`, `zabbix`, …).
    Source(String),
    /// zhiban itself (timers, automation).
    System,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Person(_) => "person",
            Actor::Source(_) => "source",
            Actor::System => "system",
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Actor::Person(p) => Some(&p.0),
            Actor::Source(s) => Some(s),
            Actor::System => None,
        }
    }

    pub fn from_parts(kind: &str, id: Option<String>) -> Option<Actor> {
        match (kind, id) {
            ("person", Some(id)) => Some(Actor::Person(PersonId(id))),
            ("source", Some(id)) => Some(Actor::Source(id)),
            ("system", _) => Some(Actor::System),
            _ => None,
        }
    }
}

/// Through which channel an event came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Webhook,
    Api,
    Web,
    Timer,
    Cli,
    /// A signed action link from a page (SMS, email).
    Link,
    /// A reply to a page by SMS.
    Sms,
    /// A message or button press in an IM chat (Telegram, WeCom, DingTalk, Feishu).
    Im,
    /// A mail to one of zhiban's mailboxes.
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Webhook => "webhook",
            Channel::Api => "api",
            Channel::Web => "web",
            Channel::Timer => "timer",
            Channel::Cli => "cli",
            Channel::Link => "link",
            Channel::Sms => "sms",
            Channel::Im => "im",
            Channel::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        [
            Channel::Webhook,
            Channel::Api,
            Channel::Web,
            Channel::Timer,
            Channel::Cli,
            Channel::Link,
            Channel::Sms,
            Channel::Im,
            Channel::Email,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// What happened. Stored as JSON with a `kind` tag; the texts people read come from templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    Opened {
        severity: Severity,
        title: String,
        /// Why this level (定级依据), as shown to the engineer.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reasons: Vec<String>,
    },
    Repeated {
        occurrences: u32,
    },
    Acknowledged,
    InProgress,
    ArrivedOnSite,
    Resolved {
        note: Option<String>,
        by_source: bool,
    },
    Closed {
        note: Option<String>,
        automatic: bool,
    },
    /// An empty reason means the fault itself came back.
    Reopened {
        reason: String,
    },
    Cancelled {
        reason: String,
    },
    Merged {
        into: TicketNo,
    },
    Commented {
        text: String,
    },
    SeverityChanged {
        from: Severity,
        to: Severity,
        reason: String,
    },
    AckOverdue,
    SlaPaused {
        reason: String,
    },
    SlaResumed,
    SlaWarning {
        target: SlaTarget,
        due: Timestamp,
    },
    SlaBreached {
        target: SlaTarget,
        due: Timestamp,
    },
    ProgressOverdue,
    /// People were paged (呼叫): a tier of the escalation, its repeat, or another reason.
    Paged {
        reason: PageReason,
        people: Vec<PersonId>,
    },
    /// A tier had nobody to page (an empty schedule): the next one is tried at once.
    NobodyToPage {
        tier: u32,
    },
    /// Every tier timed out without an acknowledgement.
    EscalationExhausted,
    /// Paging waits for working time (a mild fault reported at night, on a 5×8 contract).
    PagingDeferred {
        until: Timestamp,
    },
    /// Not paged: a silence matched or an alert storm is summarised elsewhere.
    PagingHeld {
        hold: Hold,
    },
    /// Paging held by hand starts again.
    PagingResumed,
    /// 拒绝: the paged person cannot take it; the next tier is paged.
    Declined {
        reason: String,
    },
    /// 转派: handed to another person.
    Reassigned {
        from: Option<PersonId>,
        to: PersonId,
        reason: String,
    },
    /// 升级: a person asked for the next tier's help.
    EscalatedByHand {
        tier: u32,
        reason: String,
    },
}

impl EventKind {
    /// The tag, as stored and as used in notification filters.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Opened { .. } => "opened",
            EventKind::Repeated { .. } => "repeated",
            EventKind::Acknowledged => "acknowledged",
            EventKind::InProgress => "in_progress",
            EventKind::ArrivedOnSite => "arrived_on_site",
            EventKind::Resolved { .. } => "resolved",
            EventKind::Closed { .. } => "closed",
            EventKind::Reopened { .. } => "reopened",
            EventKind::Cancelled { .. } => "cancelled",
            EventKind::Merged { .. } => "merged",
            EventKind::Commented { .. } => "commented",
            EventKind::SeverityChanged { .. } => "severity_changed",
            EventKind::AckOverdue => "ack_overdue",
            EventKind::SlaPaused { .. } => "sla_paused",
            EventKind::SlaResumed => "sla_resumed",
            EventKind::SlaWarning { .. } => "sla_warning",
            EventKind::SlaBreached { .. } => "sla_breached",
            EventKind::ProgressOverdue => "progress_overdue",
            EventKind::Paged { .. } => "paged",
            EventKind::NobodyToPage { .. } => "nobody_to_page",
            EventKind::EscalationExhausted => "escalation_exhausted",
            EventKind::PagingDeferred { .. } => "paging_deferred",
            EventKind::PagingHeld { .. } => "paging_held",
            EventKind::PagingResumed => "paging_resumed",
            EventKind::Declined { .. } => "declined",
            EventKind::Reassigned { .. } => "reassigned",
            EventKind::EscalatedByHand { .. } => "escalated_by_hand",
        }
    }

    pub const NAMES: [&'static str; 27] = [
        "opened",
        "repeated",
        "acknowledged",
        "in_progress",
        "arrived_on_site",
        "resolved",
        "closed",
        "reopened",
        "cancelled",
        "merged",
        "commented",
        "severity_changed",
        "ack_overdue",
        "sla_paused",
        "sla_resumed",
        "sla_warning",
        "sla_breached",
        "progress_overdue",
        "paged",
        "nobody_to_page",
        "escalation_exhausted",
        "paging_deferred",
        "paging_held",
        "paging_resumed",
        "declined",
        "reassigned",
        "escalated_by_hand",
    ];
}

/// One line of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    pub at: Timestamp,
    pub actor: Actor,
    pub channel: Channel,
    #[serde(flatten)]
    pub event: EventKind,
}
