//! 升级策略: escalation policies, and the escalation each unacknowledged incident runs through.
//!
//! A policy is an ordered list of tiers (驻场 → 二线 → 厂商/专家 → 项目经理和甲方领导), each a set of
//! targets — a person, a schedule's current on-call, a team, everyone with a role — and an
//! acknowledgement timeout. Tier 1 is paged at once; if nobody acknowledges within its timeout the
//! next tier is paged, and so on; within a tier the page repeats every `repeat_every`. Some levels
//! also page extra targets at once (一级 → the leaders, 立即通知主管部门领导), and some levels reported
//! outside working hours wait for working time when their SLA calendar is 5×8.
//!
//! Pure: who is on call comes from a [`Directory`] (schedules, teams, roles and each person's
//! notification rules, built from configuration); the incident records the escalation's state and
//! the engine persists the [`PagePlan`]s it asks for as page rows.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::incident::PersonId;
use super::severity::Severity;
use crate::config::catalogue::Role;

/// Whom a tier pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Person(PersonId),
    /// Whoever is on call on this schedule when the tier is paged.
    Schedule(String),
    Team(String),
    Role(Role),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Person(p) => write!(f, "person:{}", p.0),
            Target::Schedule(s) => write!(f, "schedule:{s}"),
            Target::Team(t) => write!(f, "team:{t}"),
            Target::Role(r) => write!(f, "role:{r:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub targets: Vec<Target>,
    /// Page the next tier when nobody acknowledged within this long.
    pub ack_timeout: SignedDuration,
}

/// Levels that page extra targets at once, besides tier 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtOnce {
    pub severities: Vec<Severity>,
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationPolicy {
    pub id: String,
    pub name: String,
    /// Never empty (configuration checks it).
    pub tiers: Vec<Tier>,
    /// Page the current tier again this often until someone acknowledges; `None` = once per tier.
    pub repeat_every: Option<SignedDuration>,
    /// After the last tier timed out, start again from tier 1 this many times.
    pub loops: u32,
    pub at_once: Vec<AtOnce>,
    /// Levels whose paging waits for working time when reported outside it, if the incident's SLA
    /// respond clock runs on a working calendar (a 四级 at 2 a.m. can wait for the morning).
    pub wait_for_working_hours: Vec<Severity>,
}

/// 通知规则: how one person is reached — a channel, and how long after the page it is used.
/// "IM at once, SMS after 2 minutes without acknowledgement, email after 5".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyRule {
    /// A configured paging channel's name.
    pub channel: String,
    pub after: SignedDuration,
    /// The levels this rule is for (e.g. SMS at night only for 一级 and 二级); empty = every level.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<Severity>,
}

impl NotifyRule {
    pub fn applies_to(&self, severity: Severity) -> bool {
        self.levels.is_empty() || self.levels.contains(&severity)
    }
}

/// Everything escalation needs to know about people, answered at an instant.
pub trait Directory: Send + Sync + fmt::Debug {
    /// Who is on call on a schedule at `at` (empty if nobody or no such schedule).
    fn on_call(&self, schedule: &str, at: Timestamp) -> Vec<PersonId>;
    fn team_members(&self, team: &str) -> Vec<PersonId>;
    fn with_role(&self, role: Role) -> Vec<PersonId>;
    /// The person's notification rules (their own, or the default ones).
    fn notify_rules(&self, person: &PersonId) -> Vec<NotifyRule>;
}

/// Policies that change at runtime (a drill plan edited through the API pages by its new tiers).
pub trait PolicySource: Send + Sync + std::fmt::Debug {
    fn policy(&self, id: &str) -> Option<Arc<EscalationPolicy>>;
}

/// All policies of a deployment and the directory that resolves their targets.
#[derive(Debug, Clone)]
pub struct EscalationBook {
    pub policies: BTreeMap<String, Arc<EscalationPolicy>>,
    pub directory: Arc<dyn Directory>,
    /// Consulted for ids the configured policies do not have.
    pub more: Option<Arc<dyn PolicySource>>,
}

impl EscalationBook {
    pub fn policy(&self, id: &str) -> Option<Arc<EscalationPolicy>> {
        self.policies.get(id).cloned().or_else(|| self.more.as_ref()?.policy(id))
    }

    /// The people that targets name at `at`, each once, in order.
    pub fn resolve(&self, targets: &[Target], at: Timestamp) -> Vec<PersonId> {
        let mut people: Vec<PersonId> = Vec::new();
        for target in targets {
            let found = match target {
                Target::Person(p) => vec![p.clone()],
                Target::Schedule(s) => self.directory.on_call(s, at),
                Target::Team(t) => self.directory.team_members(t),
                Target::Role(r) => self.directory.with_role(*r),
            };
            for p in found {
                if !people.contains(&p) {
                    people.push(p);
                }
            }
        }
        people
    }

    /// The pages that reach `people` about an incident of `severity` for one reason, following
    /// each person's notification rules for that level.
    pub fn plan(
        &self,
        people: &[PersonId],
        severity: Severity,
        reason: PageReason,
        at: Timestamp,
    ) -> Vec<PagePlan> {
        let mut plans = Vec::new();
        for person in people {
            let rules = self.directory.notify_rules(person);
            for (step, rule) in rules.into_iter().enumerate().filter(|(_, r)| r.applies_to(severity)) {
                plans.push(PagePlan {
                    person: person.clone(),
                    channel: rule.channel,
                    due: at + rule.after.max(SignedDuration::ZERO),
                    reason: reason.clone(),
                    step: step as u32,
                });
            }
        }
        plans
    }
}

/// Why a page was sent: which tier and round, or another cause.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PageReason {
    /// Tier `tier` (0-based) of loop `cycle`, `round` = 0 for the first page, then repeats;
    /// `run` counts the escalations of the incident (a reopened incident escalates anew).
    Tier { run: u32, tier: u32, cycle: u32, round: u32 },
    /// The level pages these people at once (一级 → leaders).
    AtOnce { severity: Severity },
    /// Someone handed the incident to this person (转派).
    Reassigned { at: Timestamp },
    /// A person escalated by hand (升级) to this tier.
    Manual { tier: u32, at: Timestamp },
    /// The assignee is reminded of a deadline (进展提醒, 修复时限).
    Reminder { about: Reminder, at: Timestamp },
    /// A group is called together (the 应急小组 of an emergency plan).
    Group { name: String, at: Timestamp },
}

/// What a reminder page is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reminder {
    ProgressOverdue,
    ResolveWarning,
    ResolveBreached,
}

impl Reminder {
    pub fn as_str(self) -> &'static str {
        match self {
            Reminder::ProgressOverdue => "progress_overdue",
            Reminder::ResolveWarning => "resolve_warning",
            Reminder::ResolveBreached => "resolve_breached",
        }
    }
}

impl PageReason {
    /// A stable name for this page within its incident (idempotency of page rows).
    pub fn key(&self) -> String {
        match self {
            PageReason::Tier { run, tier, cycle, round } => format!("t{run}.{tier}.{cycle}.{round}"),
            PageReason::AtOnce { severity } => format!("now{}", severity.level()),
            PageReason::Reassigned { at } => format!("r{}", at.as_millisecond()),
            PageReason::Manual { tier, at } => format!("m{tier}.{}", at.as_millisecond()),
            PageReason::Reminder { about, at } => format!("rem.{}.{}", about.as_str(), at.as_millisecond()),
            PageReason::Group { name, at } => format!("g.{name}.{}", at.as_millisecond()),
        }
    }
}

/// One page the engine must create: a person, a channel, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagePlan {
    pub person: PersonId,
    pub channel: String,
    pub due: Timestamp,
    pub reason: PageReason,
    /// The index of the notification rule this page follows.
    pub step: u32,
}

impl PagePlan {
    /// Unique per incident: a timer fired twice or a retried transaction can never page twice.
    pub fn key(&self) -> String {
        format!("{}:{}:{}", self.reason.key(), self.person.0, self.step)
    }
}

/// Where an incident's escalation stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EscalationStatus {
    /// Waiting for working time before the first page.
    Waiting { until: Timestamp },
    /// Paging: the current tier waits for an acknowledgement.
    Active,
    /// Someone took the incident; nothing more is paged.
    Acknowledged,
    /// Every tier (and loop) timed out without an acknowledgement.
    Exhausted,
    /// The incident ended (resolved, cancelled, merged) before anyone acknowledged.
    Stopped,
    /// Not paged: a silence (静默) matched, or the incident is part of an alert storm that one
    /// summary page covers.
    Held { hold: Hold },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Hold {
    Silence {
        id: i64,
    },
    Storm {
        lead: String,
    },
    /// Held by hand (a drill paused), with why.
    Paused {
        reason: String,
    },
}

/// The escalation of one incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationState {
    pub policy: String,
    pub status: EscalationStatus,
    /// 1 for the first escalation, 2 after the first reopening, …
    pub run: u32,
    /// The tier paged last (0-based).
    pub tier: u32,
    /// How many times the policy started over from tier 1.
    pub cycle: u32,
    /// Repeat pages of the current tier so far.
    pub round: u32,
    pub tier_paged_at: Option<Timestamp>,
    /// The levels whose at-once targets were paged already.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub at_once_paged: Vec<Severity>,
    /// This incident leads an alert storm of this many incidents; its pages say so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storm: Option<u32>,
}

impl EscalationState {
    pub fn new(policy: &str, status: EscalationStatus) -> EscalationState {
        EscalationState {
            policy: policy.to_string(),
            status,
            run: 1,
            tier: 0,
            cycle: 0,
            round: 0,
            tier_paged_at: None,
            at_once_paged: Vec::new(),
            storm: None,
        }
    }
}

/// The next step when a tier's timeout runs out: another tier, a new loop, or the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Tier { tier: u32, cycle: u32 },
    Exhausted,
}

/// The step after `(tier, cycle)` in a policy.
pub fn next_step(policy: &EscalationPolicy, tier: u32, cycle: u32) -> Next {
    if (tier as usize) + 1 < policy.tiers.len() {
        Next::Tier { tier: tier + 1, cycle }
    } else if cycle < policy.loops {
        Next::Tier { tier: 0, cycle: cycle + 1 }
    } else {
        Next::Exhausted
    }
}

/// When the current tier repeats its page next, if before its timeout.
pub fn next_repeat(
    policy: &EscalationPolicy,
    tier: u32,
    paged_at: Timestamp,
    round: u32,
) -> Option<Timestamp> {
    let every = policy.repeat_every.filter(|d| d.is_positive())?;
    let timeout = policy.tiers.get(tier as usize)?.ack_timeout;
    let offset = every.checked_mul(i32::try_from(round + 1).ok()?)?;
    (offset < timeout).then(|| paged_at + offset)
}
