//! State-machine tests: every allowed transition, every refused one, and the effects.

use jiff::{SignedDuration, Timestamp};

use super::*;

fn policy() -> LifecyclePolicy {
    LifecyclePolicy {
        ack_reminder_after: Some(SignedDuration::from_mins(10)),
        auto_close_after: Some(SignedDuration::from_hours(24)),
        sla: None,
        escalation: None,
    }
}

fn t0() -> Timestamp {
    "2026-11-24T01:00:00Z".parse().unwrap()
}

fn ctx(mins: i64) -> Context {
    Context {
        at: t0() + SignedDuration::from_mins(mins),
        actor: Actor::Person(PersonId("zhangsan".into())),
        channel: Channel::Api,
    }
}

fn fresh() -> (Incident, Vec<Effect>) {
    Incident::open(
        IncidentId(1),
        "20261124-001".parse().unwrap(),
        NewIncident {
            title: "统一业务应用系统无法登录".into(),
            description: String::new(),
            severity: Severity::Two,
            system: Some("tyyw".into()),
            unit: None,
            source: "generic".into(),
            dedup_key: DedupKey::new("generic", "tyyw-login"),
            labels: Default::default(),
            link: None,
            sla_policy: None,
            reasons: vec![],
            escalation_policy: None,
            hold: None,
        },
        t0(),
        &policy(),
    )
}

fn in_status(status: Status) -> Incident {
    let (mut i, _) = fresh();
    i.status = status;
    i
}

/// Every action, with whatever arguments make it valid where it is allowed.
fn all_actions() -> Vec<Action> {
    vec![
        Action::Acknowledge,
        Action::StartProgress,
        Action::ArriveOnSite,
        Action::Resolve { note: None },
        Action::Close { note: None },
        Action::Reopen { reason: "用户反馈仍无法登录".into() },
        Action::Cancel { reason: "误报".into() },
        Action::MergeInto { target: "20261124-002".parse().unwrap() },
        Action::Comment { text: "已联系厂商".into() },
        Action::SetSeverity { to: Severity::One, reason: "全院无法使用".into() },
        Action::Repeat,
        Action::SourceRecovered,
        Action::AckOverdue,
        Action::AutoClose,
        Action::Reassign { to: PersonId("wangwu".into()), reason: "熟悉该系统".into() },
    ]
}

/// The transition table, spelled out once so that a change to the machine is a visible change here.
fn expected(from: Status, action: &Action) -> Option<Status> {
    use Status::*;
    let open = from.is_open();
    match action {
        Action::Acknowledge => from.awaits_ack().then_some(Acknowledged),
        Action::StartProgress => matches!(from, New | Reopened | Acknowledged | OnSite).then_some(InProgress),
        Action::ArriveOnSite => matches!(from, New | Reopened | Acknowledged | InProgress).then_some(OnSite),
        Action::Resolve { .. } | Action::SourceRecovered => open.then_some(Resolved),
        Action::Close { .. } | Action::AutoClose => (from == Resolved).then_some(Closed),
        Action::Reopen { .. } => matches!(from, Resolved | Closed).then_some(Reopened),
        Action::Cancel { .. } => open.then_some(Cancelled),
        Action::MergeInto { .. } => (open || from == Resolved).then_some(Merged),
        Action::Comment { .. } => (!from.is_terminal()).then_some(from),
        Action::SetSeverity { .. } => (!from.is_terminal() && from != Closed).then_some(from),
        Action::Repeat => match from {
            Resolved => Some(Reopened),
            s if s.is_open() => Some(s),
            _ => None,
        },
        Action::AckOverdue => from.awaits_ack().then_some(from),
        Action::Reassign { .. } => open.then_some(from),
        // Escalation actions need an escalation policy; they have tests of their own (escalation_tests).
        Action::EscalationDue
        | Action::RepeatPage
        | Action::StartPaging
        | Action::Decline { .. }
        | Action::Escalate { .. }
        | Action::HoldPaging { .. }
        | Action::ResumePaging
        | Action::CallGroup { .. } => None,
        // SLA actions need an SLA clock; they have tests of their own (sla_tests).
        Action::PauseSla { .. }
        | Action::ResumeSla
        | Action::SlaWarn(_)
        | Action::SlaBreach(_)
        | Action::ProgressOverdue => None,
    }
}

#[test]
fn the_transition_table_is_enforced_exhaustively() {
    for from in Status::ALL {
        for action in all_actions() {
            let mut incident = in_status(from);
            let before = incident.clone();
            let result = incident.apply(action.clone(), &ctx(5), &policy());
            match expected(from, &action) {
                Some(to) => {
                    let effects = result.unwrap_or_else(|e| panic!("{from} {}: {e}", action.name()));
                    assert_eq!(incident.status, to, "{from} --{}-->", action.name());
                    assert!(
                        effects.iter().any(|e| matches!(e, Effect::Record(_))),
                        "{from} {} records nothing",
                        action.name()
                    );
                }
                None => {
                    assert!(
                        matches!(result, Err(TransitionError::NotAllowed { .. })),
                        "{from} {} should be refused, got {result:?}",
                        action.name()
                    );
                    assert_eq!(incident, before, "a refused action changed the incident");
                }
            }
        }
    }
}

#[test]
fn opening_records_and_arms_the_ack_reminder() {
    let (incident, effects) = fresh();
    assert_eq!(incident.status, Status::New);
    assert_eq!(incident.occurrences, 1);
    assert!(matches!(effects[0], Effect::Record(EventKind::Opened { severity: Severity::Two, .. })));
    assert_eq!(
        effects[1],
        Effect::ArmTimer { kind: TimerKind::AckReminder, due: t0() + SignedDuration::from_mins(10) }
    );
}

#[test]
fn acknowledging_assigns_cancels_the_reminder_and_is_not_repeatable() {
    let (mut i, _) = fresh();
    let effects = i.apply(Action::Acknowledge, &ctx(3), &policy()).unwrap();
    assert_eq!(i.assignee, Some(PersonId("zhangsan".into())));
    assert_eq!(i.acknowledged_at, Some(ctx(3).at));
    assert!(effects.contains(&Effect::CancelTimer(TimerKind::AckReminder)));
    let again = i.apply(Action::Acknowledge, &ctx(4), &policy());
    assert_eq!(again, Err(TransitionError::NotAllowed { from: Status::Acknowledged, action: "acknowledge" }));
}

#[test]
fn arriving_on_site_directly_counts_as_acknowledgement() {
    let (mut i, _) = fresh();
    let effects = i.apply(Action::ArriveOnSite, &ctx(20), &policy()).unwrap();
    assert_eq!(i.status, Status::OnSite);
    assert_eq!(i.acknowledged_at, Some(ctx(20).at));
    assert!(effects.contains(&Effect::CancelTimer(TimerKind::AckReminder)));
}

#[test]
fn resolving_arms_auto_close_and_closing_releases_the_key() {
    let (mut i, _) = fresh();
    i.apply(Action::Acknowledge, &ctx(1), &policy()).unwrap();
    let effects = i.apply(Action::Resolve { note: Some("重启服务".into()) }, &ctx(30), &policy()).unwrap();
    assert!(effects.contains(&Effect::ArmTimer {
        kind: TimerKind::AutoClose,
        due: ctx(30).at + SignedDuration::from_hours(24)
    }));
    assert!(!effects.contains(&Effect::ReleaseDedup), "a resolved incident still collects reports");
    let effects = i.apply(Action::AutoClose, &ctx(60), &policy()).unwrap();
    assert_eq!(i.status, Status::Closed);
    assert!(effects.contains(&Effect::ReleaseDedup));
    assert!(effects.contains(&Effect::Record(EventKind::Closed { note: None, automatic: true })));
}

#[test]
fn a_repeat_after_resolution_reopens_the_same_ticket() {
    let (mut i, _) = fresh();
    i.apply(Action::SourceRecovered, &ctx(5), &policy()).unwrap();
    let effects = i.apply(Action::Repeat, &ctx(6), &policy()).unwrap();
    assert_eq!(i.status, Status::Reopened);
    assert_eq!(i.occurrences, 2);
    assert!(effects.contains(&Effect::CancelTimer(TimerKind::AutoClose)));
    assert!(effects.iter().any(|e| matches!(e, Effect::ArmTimer { kind: TimerKind::AckReminder, .. })));
    assert!(!effects.contains(&Effect::ClaimDedup), "the key was never released");
}

#[test]
fn reopening_a_closed_incident_claims_its_key_again() {
    let (mut i, _) = fresh();
    i.apply(Action::Resolve { note: None }, &ctx(5), &policy()).unwrap();
    i.apply(Action::Close { note: None }, &ctx(6), &policy()).unwrap();
    let effects = i.apply(Action::Reopen { reason: "又出现了".into() }, &ctx(7), &policy()).unwrap();
    assert!(effects.contains(&Effect::ClaimDedup));
    assert_eq!(i.closed_at, None);
}

#[test]
fn severity_changes_need_a_reason_and_a_change() {
    let (mut i, _) = fresh();
    assert_eq!(
        i.apply(Action::SetSeverity { to: Severity::Two, reason: "x".into() }, &ctx(1), &policy()),
        Err(TransitionError::SameSeverity(Severity::Two))
    );
    assert_eq!(
        i.apply(Action::SetSeverity { to: Severity::One, reason: "  ".into() }, &ctx(1), &policy()),
        Err(TransitionError::Empty("reason"))
    );
    let effects = i
        .apply(Action::SetSeverity { to: Severity::One, reason: "全省无法使用".into() }, &ctx(1), &policy())
        .unwrap();
    assert_eq!(i.severity, Severity::One);
    assert!(matches!(
        &effects[0],
        Effect::Record(EventKind::SeverityChanged { from: Severity::Two, to: Severity::One, .. })
    ));
}

#[test]
fn merging_into_itself_is_refused() {
    let (mut i, _) = fresh();
    let own = i.ticket;
    assert_eq!(
        i.apply(Action::MergeInto { target: own }, &ctx(1), &policy()),
        Err(TransitionError::MergeIntoSelf)
    );
}

#[test]
fn no_policy_means_no_timers() {
    let (mut i, effects) = Incident::open(
        IncidentId(2),
        "20261124-002".parse().unwrap(),
        fresh().0.clone().into_new(),
        t0(),
        &LifecyclePolicy::default(),
    );
    assert!(!effects.iter().any(|e| matches!(e, Effect::ArmTimer { .. })));
    let effects = i.apply(Action::Resolve { note: None }, &ctx(1), &LifecyclePolicy::default()).unwrap();
    assert!(!effects.iter().any(|e| matches!(e, Effect::ArmTimer { .. })));
}

impl Incident {
    /// The incident's fields as a new report (test helper, shared with sla_tests).
    pub(super) fn into_new(self) -> NewIncident {
        NewIncident {
            title: self.title,
            description: self.description,
            severity: self.severity,
            system: self.system,
            unit: self.unit,
            source: self.source,
            dedup_key: self.dedup_key,
            labels: self.labels,
            link: self.link,
            sla_policy: None,
            reasons: vec![],
            escalation_policy: None,
            hold: None,
        }
    }
}
