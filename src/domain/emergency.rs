//! 应急预案: what happens when a major incident opens — which plan matches it, who forms the
//! emergency group (应急小组), the checklist whose steps are tracked (done by whom, when), and the
//! evaluation at the end (应急流程评估单: objectives met? a follow-up problem or change?). Pure.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::escalation::Target;
use super::{Incident, PersonId, Severity};

/// A written emergency plan.
#[derive(Debug, Clone, PartialEq)]
pub struct EmergencyPlan {
    pub id: String,
    pub name: String,
    /// The levels it is for (一级 by default).
    pub levels: Vec<Severity>,
    /// Empty: every system.
    pub systems: Vec<String>,
    /// Any of these words in the title or description (勒索, 病毒 …); empty: no word needed.
    pub keywords: Vec<String>,
    /// Activate by itself when a matching incident opens; otherwise offer it in the channels.
    pub auto: bool,
    pub group: Vec<Target>,
    pub channels: Vec<String>,
    pub checklist: Vec<String>,
}

impl EmergencyPlan {
    pub fn matches(&self, incident: &Incident) -> bool {
        let level = self.levels.contains(&incident.severity);
        let system =
            self.systems.is_empty() || incident.system.as_ref().is_some_and(|s| self.systems.contains(s));
        let keyword = self.keywords.is_empty()
            || self
                .keywords
                .iter()
                .any(|k| incident.title.contains(k.as_str()) || incident.description.contains(k.as_str()));
        level && system && keyword && !incident.is_drill()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmergencyStatus {
    /// Suggested in the channels, not activated yet.
    Offered,
    Active,
    Ended,
}

impl EmergencyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EmergencyStatus::Offered => "offered",
            EmergencyStatus::Active => "active",
            EmergencyStatus::Ended => "ended",
        }
    }

    pub fn parse(s: &str) -> Option<EmergencyStatus> {
        [EmergencyStatus::Offered, EmergencyStatus::Active, EmergencyStatus::Ended]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// What follows an emergency (the evaluation form's last question).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowUp {
    /// Closed: nothing more to do.
    None,
    /// Open a problem (问题) to find the cause.
    Problem,
    /// Open a change (变更) to prevent it.
    Change,
}

/// 应急流程评估单.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyEvaluation {
    pub by: PersonId,
    pub at: Timestamp,
    pub objectives_met: bool,
    pub follow_up: FollowUp,
    pub text: String,
}

/// One activation of a plan for an incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Emergency {
    pub id: i64,
    pub plan: String,
    pub incident: super::IncidentId,
    pub status: EmergencyStatus,
    pub activated_by: Option<String>,
    pub activated_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub evaluation: Option<EmergencyEvaluation>,
    pub steps: Vec<StepDone>,
}

/// A checklist step done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepDone {
    pub step: u32,
    pub by: String,
    pub at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DedupKey, IncidentId, LifecyclePolicy, NewIncident, TicketNo};

    fn incident(severity: Severity, title: &str, system: Option<&str>) -> Incident {
        let new = NewIncident {
            title: title.into(),
            description: String::new(),
            severity,
            system: system.map(str::to_string),
            unit: None,
            source: "api".into(),
            dedup_key: DedupKey::new("api", "x"),
            labels: Default::default(),
            link: None,
            sla_policy: None,
            reasons: vec![],
            escalation_policy: None,
            hold: None,
        };
        let ticket = TicketNo::new(jiff::civil::date(2026, 11, 25), 1).unwrap();
        Incident::open(
            IncidentId(1),
            ticket,
            new,
            "2026-11-25T02:00:00Z".parse().unwrap(),
            &LifecyclePolicy::default(),
        )
        .0
    }

    fn plan() -> EmergencyPlan {
        EmergencyPlan {
            id: "ransomware".into(),
            name: "勒索病毒应急预案".into(),
            levels: vec![Severity::One],
            systems: vec![],
            keywords: vec!["勒索".into(), "病毒".into()],
            auto: true,
            group: vec![],
            channels: vec![],
            checklist: vec!["断网隔离".into()],
        }
    }

    #[test]
    fn a_plan_matches_by_level_system_and_words() {
        assert!(plan().matches(&incident(Severity::One, "多台终端感染勒索病毒", None)));
        assert!(!plan().matches(&incident(Severity::Two, "多台终端感染勒索病毒", None)), "level");
        assert!(!plan().matches(&incident(Severity::One, "机房断电", None)), "keywords");
        let mut systems = plan();
        systems.keywords.clear();
        systems.systems = vec!["tyyw".into()];
        assert!(systems.matches(&incident(Severity::One, "宕机", Some("tyyw"))));
        assert!(!systems.matches(&incident(Severity::One, "宕机", Some("dzjz"))));
        let mut drill = incident(Severity::One, "勒索病毒", None);
        drill.labels.insert("drill".into(), "true".into());
        assert!(!plan().matches(&drill), "drills have their own plans");
    }
}
