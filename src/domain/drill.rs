//! 应急演练: a drill follows a written plan — a scenario, a simulated incident, who takes part (in
//! the order they are paged), objectives with target times — and runs through the real incident
//! and paging machinery, marked 【演练】. This module holds the plan, a run's state, and how a run
//! is measured against its objectives. Pure: the engine stores runs and opens the incident.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::escalation::{EscalationPolicy, Tier};
use super::{PersonId, Severity};

/// The label that marks a drill's incident, with its run's id as the value.
pub const RUN_LABEL: &str = "drill_run";
/// The label that names a drill incident's plan.
pub const PLAN_LABEL: &str = "drill_plan";
/// The label that marks any drill incident (see [`super::Incident::is_drill`]).
pub const DRILL_LABEL: &str = "drill";

/// The incident a drill simulates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulatedIncident {
    pub title: String,
    pub text: String,
    pub severity: Severity,
    pub system: Option<String>,
    pub unit: Option<String>,
}

/// What a drill measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveKind {
    /// 响应: someone acknowledged.
    Acknowledge,
    /// 到场: someone arrived on site.
    OnSite,
    /// 恢复: the simulated fault was resolved.
    Restore,
}

impl ObjectiveKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectiveKind::Acknowledge => "acknowledge",
            ObjectiveKind::OnSite => "on_site",
            ObjectiveKind::Restore => "restore",
        }
    }
}

/// "Acknowledged within 5 minutes".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Objective {
    pub kind: ObjectiveKind,
    pub within: SignedDuration,
}

/// A written drill plan (演练方案).
#[derive(Debug, Clone, PartialEq)]
pub struct DrillPlan {
    pub id: String,
    pub name: String,
    /// 机房断电, 数据库宕机, 勒索病毒 …
    pub scenario: String,
    /// The drill lead (演练负责人), who evaluates it.
    pub lead: Option<PersonId>,
    pub incident: SimulatedIncident,
    /// Who takes part, in the order they are paged: each tier's targets and how long it has to
    /// acknowledge before the next is paged. Nobody else is ever paged for the drill.
    pub tiers: Vec<Tier>,
    /// The group channels (by name) that get the announcement, the cards and the report.
    pub channels: Vec<String>,
    pub objectives: Vec<Objective>,
    /// A cron expression in the server's time zone, for drills that start by themselves.
    pub schedule: Option<String>,
    /// How long before a scheduled start the channels are told (0: at the start).
    pub announce_before: SignedDuration,
}

impl DrillPlan {
    /// The escalation policy of the drill's incident: the plan's tiers and nobody else.
    pub fn policy_id(&self) -> String {
        format!("drill:{}", self.id)
    }

    pub fn policy(&self) -> EscalationPolicy {
        EscalationPolicy {
            id: self.policy_id(),
            name: format!("演练：{}", self.name),
            tiers: self.tiers.clone(),
            repeat_every: None,
            loops: 0,
            at_once: Vec::new(),
            wait_for_working_hours: Vec::new(),
        }
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Announced; the incident opens at the start time.
    Announced,
    Running,
    Paused,
    /// Stopped by hand before the fault was restored.
    Stopped,
    /// The simulated fault was restored (or the run ended after it was).
    Finished,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Announced => "announced",
            RunStatus::Running => "running",
            RunStatus::Paused => "paused",
            RunStatus::Stopped => "stopped",
            RunStatus::Finished => "finished",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        [RunStatus::Announced, RunStatus::Running, RunStatus::Paused, RunStatus::Stopped, RunStatus::Finished]
            .into_iter()
            .find(|x| x.as_str() == s)
    }

    pub fn is_live(self) -> bool {
        matches!(self, RunStatus::Announced | RunStatus::Running | RunStatus::Paused)
    }
}

/// One run of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillRun {
    pub id: i64,
    pub plan: String,
    pub status: RunStatus,
    pub incident: Option<super::IncidentId>,
    pub started_by: String,
    pub announced_at: Timestamp,
    pub starts_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub evaluation: Option<Evaluation>,
}

/// 演练评估: the drill lead's judgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    pub by: PersonId,
    pub at: Timestamp,
    pub text: String,
}

/// An objective measured on a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectiveResult {
    pub kind: ObjectiveKind,
    pub within: SignedDuration,
    /// How long it took, from the incident's opening; `None` when it never happened.
    pub took: Option<SignedDuration>,
    pub met: bool,
}

/// When the moments a drill measures happened.
#[derive(Debug, Clone, Copy, Default)]
pub struct Moments {
    pub opened: Option<Timestamp>,
    pub acknowledged: Option<Timestamp>,
    pub on_site: Option<Timestamp>,
    pub restored: Option<Timestamp>,
}

/// Each objective met or missed. One not reached yet counts as missed: the report is written when
/// the drill ends.
pub fn evaluate(objectives: &[Objective], moments: &Moments) -> Vec<ObjectiveResult> {
    objectives
        .iter()
        .map(|o| {
            let at = match o.kind {
                ObjectiveKind::Acknowledge => moments.acknowledged,
                ObjectiveKind::OnSite => moments.on_site,
                ObjectiveKind::Restore => moments.restored,
            };
            let took = match (moments.opened, at) {
                (Some(opened), Some(at)) => Some(at.duration_since(opened)),
                _ => None,
            };
            ObjectiveResult { kind: o.kind, within: o.within, took, met: took.is_some_and(|t| t <= o.within) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn objectives_are_met_missed_or_never_reached() {
        let objectives = [
            Objective { kind: ObjectiveKind::Acknowledge, within: SignedDuration::from_mins(5) },
            Objective { kind: ObjectiveKind::OnSite, within: SignedDuration::from_mins(30) },
            Objective { kind: ObjectiveKind::Restore, within: SignedDuration::from_mins(60) },
        ];
        let moments = Moments {
            opened: Some(t("2026-11-27T02:00:00Z")),
            acknowledged: Some(t("2026-11-27T02:05:00Z")),
            on_site: Some(t("2026-11-27T02:40:00Z")),
            restored: None,
        };
        let r = evaluate(&objectives, &moments);
        assert!(r[0].met, "exactly on time counts as met");
        assert_eq!(r[1].took, Some(SignedDuration::from_mins(40)));
        assert!(!r[1].met);
        assert_eq!(r[2].took, None);
        assert!(!r[2].met);
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            RunStatus::Announced,
            RunStatus::Running,
            RunStatus::Paused,
            RunStatus::Stopped,
            RunStatus::Finished,
        ] {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
        }
        assert!(RunStatus::Paused.is_live() && !RunStatus::Stopped.is_live());
    }
}

/// The drill plans in force: the configured ones with those edited through the API over them.
/// Shared by the configuration, the engine and the escalation book (for `drill:<plan>` policies).
#[derive(Debug, Default)]
pub struct LiveDrills {
    plans: std::sync::RwLock<std::collections::BTreeMap<String, std::sync::Arc<DrillPlan>>>,
}

impl LiveDrills {
    pub fn new(plans: impl IntoIterator<Item = DrillPlan>) -> LiveDrills {
        let live = LiveDrills::default();
        for plan in plans {
            live.set(plan);
        }
        live
    }

    pub fn get(&self, id: &str) -> Option<std::sync::Arc<DrillPlan>> {
        self.plans.read().expect("drills lock").get(id).cloned()
    }

    /// Every plan, by id.
    pub fn all(&self) -> Vec<std::sync::Arc<DrillPlan>> {
        self.plans.read().expect("drills lock").values().cloned().collect()
    }

    pub fn set(&self, plan: DrillPlan) {
        self.plans.write().expect("drills lock").insert(plan.id.clone(), std::sync::Arc::new(plan));
    }
}

impl super::escalation::PolicySource for LiveDrills {
    fn policy(&self, id: &str) -> Option<std::sync::Arc<EscalationPolicy>> {
        let plan = self.get(id.strip_prefix("drill:")?)?;
        Some(std::sync::Arc::new(plan.policy()))
    }
}
