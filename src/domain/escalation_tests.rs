//! Escalation with a simulated clock: which pages each step asks for, and when.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use super::calendar::{Calendar, HolidayTable, WorkingCalendar, WorkingHours};
use super::escalation::*;
use super::sla::{LevelTargets, SlaBook, SlaPolicy, Target as SlaTargetSpec, Within};
use super::*;
use crate::config::catalogue::Role;

fn t0() -> Timestamp {
    // A Tuesday, 10:00 in Beijing.
    "2026-11-24T02:00:00Z".parse().unwrap()
}

fn mins(n: i64) -> SignedDuration {
    SignedDuration::from_mins(n)
}

fn person(id: &str) -> PersonId {
    PersonId(id.into())
}

/// Who is on call, per schedule, as a list of (from, until, person).
#[derive(Debug, Default)]
struct FakeDirectory {
    shifts: BTreeMap<String, Vec<(Timestamp, Timestamp, PersonId)>>,
    teams: BTreeMap<String, Vec<PersonId>>,
}

impl Directory for FakeDirectory {
    fn on_call(&self, schedule: &str, at: Timestamp) -> Vec<PersonId> {
        self.shifts
            .get(schedule)
            .into_iter()
            .flatten()
            .filter(|(from, until, _)| *from <= at && at < *until)
            .map(|(_, _, p)| p.clone())
            .collect()
    }

    fn team_members(&self, team: &str) -> Vec<PersonId> {
        self.teams.get(team).cloned().unwrap_or_default()
    }

    fn with_role(&self, role: Role) -> Vec<PersonId> {
        match role {
            Role::Leader => vec![person("leader")],
            _ => vec![],
        }
    }

    fn notify_rules(&self, p: &PersonId) -> Vec<NotifyRule> {
        if p.0 == "leader" {
            return vec![NotifyRule { channel: "sms".into(), after: SignedDuration::ZERO, levels: vec![] }];
        }
        vec![
            NotifyRule { channel: "im".into(), after: SignedDuration::ZERO, levels: vec![] },
            NotifyRule {
                channel: "sms".into(),
                after: mins(2),
                levels: vec![Severity::One, Severity::Two, Severity::Three],
            },
        ]
    }
}

fn directory() -> FakeDirectory {
    let far = t0() + SignedDuration::from_hours(24 * 30);
    let mut d = FakeDirectory::default();
    d.shifts.insert("onsite".into(), vec![(t0() - mins(60), far, person("zhang"))]);
    d.shifts.insert("second".into(), vec![(t0() - mins(60), far, person("li"))]);
    d.shifts.insert("empty".into(), vec![]);
    d.teams.insert("vendor".into(), vec![person("vendor-a"), person("vendor-b")]);
    d
}

fn policy_with(directory: FakeDirectory, change: impl FnOnce(&mut EscalationPolicy)) -> LifecyclePolicy {
    let mut p = EscalationPolicy {
        id: "default".into(),
        name: "驻场 → 二线 → 厂商".into(),
        tiers: vec![
            Tier { targets: vec![Target::Schedule("onsite".into())], ack_timeout: mins(15) },
            Tier { targets: vec![Target::Schedule("second".into())], ack_timeout: mins(15) },
            Tier { targets: vec![Target::Team("vendor".into())], ack_timeout: mins(30) },
        ],
        repeat_every: None,
        loops: 0,
        at_once: vec![AtOnce { severities: vec![Severity::One], targets: vec![Target::Role(Role::Leader)] }],
        wait_for_working_hours: vec![],
    };
    change(&mut p);
    LifecyclePolicy {
        ack_reminder_after: None,
        auto_close_after: None,
        sla: None,
        escalation: Some(Arc::new(EscalationBook {
            policies: [("default".to_string(), Arc::new(p))].into(),
            more: None,
            directory: Arc::new(directory),
        })),
    }
}

fn policy() -> LifecyclePolicy {
    policy_with(directory(), |_| {})
}

fn new_incident(severity: Severity, policy: &LifecyclePolicy) -> NewIncident {
    NewIncident {
        title: "电子卷宗系统无法上传".into(),
        description: String::new(),
        severity,
        system: None,
        unit: None,
        source: "generic".into(),
        dedup_key: DedupKey::new("generic", "dzjz"),
        labels: Default::default(),
        link: None,
        sla_policy: policy.sla.as_ref().map(|_| "C".to_string()),
        reasons: vec![],
        escalation_policy: Some("default".into()),
        hold: None,
    }
}

fn open_at(severity: Severity, at: Timestamp, policy: &LifecyclePolicy) -> (Incident, Vec<Effect>) {
    Incident::open(IncidentId(7), "20261124-007".parse().unwrap(), new_incident(severity, policy), at, policy)
}

fn pages(effects: &[Effect]) -> Vec<(String, String, Timestamp)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Page(p) => Some((p.person.0.clone(), p.channel.clone(), p.due)),
            _ => None,
        })
        .collect()
}

fn armed(effects: &[Effect], kind: TimerKind) -> Option<Timestamp> {
    effects.iter().find_map(|e| match e {
        Effect::ArmTimer { kind: k, due } if *k == kind => Some(*due),
        _ => None,
    })
}

fn timer(at: Timestamp) -> Context {
    Context { at, actor: Actor::System, channel: Channel::Timer }
}

fn by(who: &str, at: Timestamp) -> Context {
    Context { at, actor: Actor::Person(person(who)), channel: Channel::Link }
}

#[test]
fn tier_one_is_paged_at_once_following_each_persons_rules() {
    let (incident, effects) = open_at(Severity::Two, t0(), &policy());
    assert_eq!(
        pages(&effects),
        vec![("zhang".into(), "im".into(), t0()), ("zhang".into(), "sms".into(), t0() + mins(2))]
    );
    assert_eq!(armed(&effects, TimerKind::Escalate), Some(t0() + mins(15)));
    let state = incident.escalation.unwrap();
    assert_eq!((state.status, state.tier, state.run), (EscalationStatus::Active, 0, 1));
}

#[test]
fn a_silent_tier_one_escalates_to_tier_two_exactly_at_its_timeout() {
    let policy = policy();
    let (mut incident, effects) = open_at(Severity::Two, t0(), &policy);
    let due = armed(&effects, TimerKind::Escalate).unwrap();
    assert_eq!(due, t0() + mins(15));
    let effects = incident.apply(Action::EscalationDue, &timer(due), &policy).unwrap();
    assert_eq!(
        pages(&effects),
        vec![("li".into(), "im".into(), due), ("li".into(), "sms".into(), due + mins(2))]
    );
    assert_eq!(armed(&effects, TimerKind::Escalate), Some(due + mins(15)));
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::Record(EventKind::Paged { reason: PageReason::Tier { tier: 1, .. }, .. })
    )));
    // Tier 3 is a team: everyone in it.
    let effects = incident.apply(Action::EscalationDue, &timer(due + mins(15)), &policy).unwrap();
    let people: Vec<String> = pages(&effects).into_iter().map(|p| p.0).collect();
    assert_eq!(people, ["vendor-a", "vendor-a", "vendor-b", "vendor-b"]);
    // After the last tier: the end, recorded, no more timers.
    let effects = incident.apply(Action::EscalationDue, &timer(due + mins(45)), &policy).unwrap();
    assert!(pages(&effects).is_empty());
    assert!(effects.contains(&Effect::Record(EventKind::EscalationExhausted)));
    assert_eq!(incident.escalation.as_ref().unwrap().status, EscalationStatus::Exhausted);
    // A late timer changes nothing.
    assert!(incident.apply(Action::EscalationDue, &timer(due + mins(60)), &policy).is_err());
}

#[test]
fn an_acknowledgement_stops_every_page_and_timer() {
    let policy = policy();
    let (mut incident, _) = open_at(Severity::Two, t0(), &policy);
    let effects = incident.apply(Action::Acknowledge, &by("zhang", t0() + mins(1)), &policy).unwrap();
    assert!(effects.contains(&Effect::StopPages { person: None }));
    for kind in [TimerKind::Escalate, TimerKind::RepeatPage, TimerKind::StartPaging] {
        assert!(effects.contains(&Effect::CancelTimer(kind)), "{kind:?}");
    }
    assert_eq!(incident.escalation.as_ref().unwrap().status, EscalationStatus::Acknowledged);
    // The escalation timer that was already due is stale now.
    assert!(incident.apply(Action::EscalationDue, &timer(t0() + mins(15)), &policy).is_err());
    // Resolving without an acknowledgement stops paging too.
    let (mut other, _) = open_at(Severity::Two, t0(), &policy);
    let effects = other.apply(Action::Resolve { note: None }, &by("li", t0() + mins(3)), &policy).unwrap();
    assert!(effects.contains(&Effect::StopPages { person: None }));
    assert_eq!(other.escalation.as_ref().unwrap().status, EscalationStatus::Stopped);
}

#[test]
fn a_decline_pages_the_next_tier_now_and_stops_the_decliners_pages() {
    let policy = policy();
    let (mut incident, _) = open_at(Severity::Two, t0(), &policy);
    let at = t0() + mins(1);
    let effects = incident
        .apply(Action::Decline { reason: "正在处理另一起一级故障".into() }, &by("zhang", at), &policy)
        .unwrap();
    assert!(effects.contains(&Effect::StopPages { person: Some(person("zhang")) }));
    assert_eq!(
        pages(&effects),
        vec![("li".into(), "im".into(), at), ("li".into(), "sms".into(), at + mins(2))]
    );
    assert_eq!(armed(&effects, TimerKind::Escalate), Some(at + mins(15)));
    assert!(incident.status.awaits_ack());
    assert!(
        incident.apply(Action::Decline { reason: " ".into() }, &by("li", at), &policy).is_err(),
        "a reason is required"
    );
}

#[test]
fn repeats_page_the_current_tier_until_its_timeout() {
    let policy = policy_with(directory(), |p| p.repeat_every = Some(mins(5)));
    let (mut incident, effects) = open_at(Severity::Two, t0(), &policy);
    assert_eq!(armed(&effects, TimerKind::RepeatPage), Some(t0() + mins(5)));
    let effects = incident.apply(Action::RepeatPage, &timer(t0() + mins(5)), &policy).unwrap();
    assert_eq!(pages(&effects)[0], ("zhang".into(), "im".into(), t0() + mins(5)));
    assert_eq!(armed(&effects, TimerKind::RepeatPage), Some(t0() + mins(10)));
    let effects = incident.apply(Action::RepeatPage, &timer(t0() + mins(10)), &policy).unwrap();
    // The next repeat would fall on the timeout: the next tier takes over instead.
    assert_eq!(armed(&effects, TimerKind::RepeatPage), None);
    let keys: Vec<String> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Page(p) => Some(p.key()),
            _ => None,
        })
        .collect();
    assert_eq!(keys, ["t1.0.0.2:zhang:0", "t1.0.0.2:zhang:1"]);
}

#[test]
fn a_tier_with_nobody_on_call_passes_to_the_next_at_once() {
    let policy = policy_with(directory(), |p| p.tiers[0].targets = vec![Target::Schedule("empty".into())]);
    let (incident, effects) = open_at(Severity::Two, t0(), &policy);
    assert!(effects.contains(&Effect::Record(EventKind::NobodyToPage { tier: 0 })));
    assert_eq!(pages(&effects)[0].0, "li");
    assert_eq!(incident.escalation.unwrap().tier, 1);
}

#[test]
fn loops_start_again_from_tier_one() {
    let policy = policy_with(directory(), |p| {
        p.tiers.truncate(1);
        p.loops = 1;
    });
    let (mut incident, _) = open_at(Severity::Two, t0(), &policy);
    let effects = incident.apply(Action::EscalationDue, &timer(t0() + mins(15)), &policy).unwrap();
    assert_eq!(pages(&effects)[0].0, "zhang");
    assert_eq!(incident.escalation.as_ref().unwrap().cycle, 1);
    let effects = incident.apply(Action::EscalationDue, &timer(t0() + mins(30)), &policy).unwrap();
    assert!(effects.contains(&Effect::Record(EventKind::EscalationExhausted)));
}

#[test]
fn level_one_pages_the_leaders_at_once_and_a_raise_to_level_one_too() {
    let policy = policy();
    let (_, effects) = open_at(Severity::One, t0(), &policy);
    let people: Vec<String> = pages(&effects).into_iter().map(|p| p.0).collect();
    assert_eq!(people, ["leader", "zhang", "zhang"]);

    let (mut incident, effects) = open_at(Severity::Three, t0(), &policy);
    assert!(!pages(&effects).iter().any(|p| p.0 == "leader"));
    let raise = Action::SetSeverity { to: Severity::One, reason: "全院无法使用".into() };
    let effects = incident.apply(raise, &by("zhang", t0() + mins(3)), &policy).unwrap();
    assert_eq!(pages(&effects), vec![("leader".into(), "sms".into(), t0() + mins(3))]);
    // Only once per level.
    incident
        .apply(
            Action::SetSeverity { to: Severity::Two, reason: "影响范围缩小".into() },
            &by("zhang", t0() + mins(4)),
            &policy,
        )
        .unwrap();
    let effects = incident
        .apply(
            Action::SetSeverity { to: Severity::One, reason: "再次扩大".into() },
            &by("zhang", t0() + mins(5)),
            &policy,
        )
        .unwrap();
    assert!(pages(&effects).is_empty());
}

#[test]
fn reassigning_pages_the_new_person_and_stops_the_old_ones_pages() {
    let policy = policy();
    let (mut incident, _) = open_at(Severity::Two, t0(), &policy);
    let at = t0() + mins(2);
    let effects = incident
        .apply(
            Action::Reassign { to: person("wang"), reason: "王工熟悉该系统".into() },
            &by("zhang", at),
            &policy,
        )
        .unwrap();
    assert!(effects.contains(&Effect::StopPages { person: Some(person("zhang")) }));
    assert_eq!(pages(&effects)[0], ("wang".into(), "im".into(), at));
    assert_eq!(incident.assignee, Some(person("wang")));
    assert!(matches!(
        incident.apply(
            Action::Reassign { to: person("wang"), reason: String::new() },
            &by("zhang", at),
            &policy
        ),
        Err(TransitionError::SameAssignee(_))
    ));
}

#[test]
fn a_reopened_incident_escalates_anew_with_new_page_keys() {
    let policy = policy();
    let (mut incident, first) = open_at(Severity::Two, t0(), &policy);
    incident.apply(Action::Resolve { note: None }, &by("zhang", t0() + mins(5)), &policy).unwrap();
    let effects = incident.apply(Action::Repeat, &timer(t0() + mins(20)), &policy).unwrap();
    let key = |effects: &[Effect]| {
        effects.iter().find_map(|e| match e {
            Effect::Page(p) => Some(p.key()),
            _ => None,
        })
    };
    assert_eq!(key(&first).unwrap(), "t1.0.0.0:zhang:0");
    assert_eq!(key(&effects).unwrap(), "t2.0.0.0:zhang:0");
    assert_eq!(incident.escalation.as_ref().unwrap().status, EscalationStatus::Active);
}

#[test]
fn escalating_by_hand_pages_the_next_tier_even_after_an_acknowledgement() {
    let policy = policy();
    let (mut incident, _) = open_at(Severity::Two, t0(), &policy);
    incident.apply(Action::Acknowledge, &by("zhang", t0() + mins(1)), &policy).unwrap();
    let effects = incident
        .apply(Action::Escalate { reason: "需要二线支持".into() }, &by("zhang", t0() + mins(30)), &policy)
        .unwrap();
    assert_eq!(pages(&effects)[0].0, "li");
    assert!(
        armed(&effects, TimerKind::Escalate).is_none(),
        "help is asked for, nobody awaits an acknowledgement"
    );
    let effects = incident
        .apply(Action::Escalate { reason: "需要厂商".into() }, &by("zhang", t0() + mins(60)), &policy)
        .unwrap();
    assert_eq!(pages(&effects)[0].0, "vendor-a");
    assert_eq!(
        incident.apply(Action::Escalate { reason: "再升级".into() }, &by("zhang", t0() + mins(61)), &policy),
        Err(TransitionError::NoHigherTier)
    );
}

#[test]
fn a_held_incident_pages_nobody() {
    let policy = policy();
    let (incident, effects) = Incident::open(
        IncidentId(8),
        "20261124-008".parse().unwrap(),
        NewIncident { hold: Some(Hold::Silence { id: 3 }), ..new_incident(Severity::Two, &policy) },
        t0(),
        &policy,
    );
    assert!(pages(&effects).is_empty());
    assert!(effects.contains(&Effect::Record(EventKind::PagingHeld { hold: Hold::Silence { id: 3 } })));
    assert!(matches!(incident.escalation.unwrap().status, EscalationStatus::Held { .. }));
}

fn working_sla() -> Arc<SlaBook> {
    let working = WorkingCalendar::new(
        WorkingHours::court_default(),
        Arc::new(HolidayTable::embedded()),
        jiff::tz::TimeZone::get("Asia/Shanghai").unwrap(),
    )
    .unwrap();
    let target = |within, calendar: &str| SlaTargetSpec { within, calendar: calendar.into() };
    let levels = Severity::ALL
        .into_iter()
        .map(|s| {
            let calendar = if s == Severity::Four { "working" } else { "always" };
            (
                s,
                LevelTargets {
                    respond: target(Within::Duration(mins(60)), calendar),
                    progress: None,
                    resolve: target(Within::WorkingDays(5), calendar),
                },
            )
        })
        .collect();
    Arc::new(SlaBook {
        policies: [("C".to_string(), SlaPolicy { id: "C".into(), title: "C".into(), levels })].into(),
        calendars: [
            ("always".to_string(), Arc::new(Calendar::Always)),
            ("working".to_string(), Arc::new(Calendar::Working(working))),
        ]
        .into(),
        warn_at: None,
        default_policy: Some("C".into()),
    })
}

#[test]
fn a_mild_fault_at_night_waits_for_working_time_on_a_5x8_contract() {
    let mut policy = policy_with(directory(), |p| p.wait_for_working_hours = vec![Severity::Four]);
    policy.sla = Some(working_sla());
    // Tuesday 23:00 in Beijing.
    let night: Timestamp = "2026-11-24T15:00:00Z".parse().unwrap();
    let morning: Timestamp = "2026-11-25T00:30:00Z".parse().unwrap(); // Wednesday 08:30
    let (mut incident, effects) = open_at(Severity::Four, night, &policy);
    assert!(pages(&effects).is_empty());
    assert_eq!(armed(&effects, TimerKind::StartPaging), Some(morning));
    assert!(effects.contains(&Effect::Record(EventKind::PagingDeferred { until: morning })));
    let effects = incident.apply(Action::StartPaging, &timer(morning), &policy).unwrap();
    assert_eq!(pages(&effects)[0], ("zhang".into(), "im".into(), morning));
    // Raised to 二级 while waiting: paged at once, and the wait ends.
    let (mut raised, _) = open_at(Severity::Four, night, &policy);
    let effects = raised
        .apply(
            Action::SetSeverity { to: Severity::Two, reason: "影响全院".into() },
            &by("zhang", night + mins(5)),
            &policy,
        )
        .unwrap();
    assert_eq!(pages(&effects)[0], ("zhang".into(), "im".into(), night + mins(5)));
    assert!(effects.contains(&Effect::CancelTimer(TimerKind::StartPaging)));
    // A 7×24 level at the same hour is paged at once.
    let (_, effects) = open_at(Severity::Three, night, &policy);
    assert_eq!(pages(&effects)[0].2, night);
    // And so is a level-4 fault in working hours.
    let (_, effects) = open_at(Severity::Four, t0(), &policy);
    assert_eq!(pages(&effects)[0].2, t0());
}

#[test]
fn no_policy_no_paging() {
    let (incident, effects) = open_at(Severity::One, t0(), &LifecyclePolicy::default());
    assert!(pages(&effects).is_empty());
    assert!(incident.escalation.is_none());
}

#[test]
fn ending_an_acknowledged_incident_still_stops_later_pages() {
    let policy = policy();
    let (mut incident, _) = open_at(Severity::Two, t0(), &policy);
    incident.apply(Action::Acknowledge, &by("zhang", t0() + mins(1)), &policy).unwrap();
    incident
        .apply(
            Action::Reassign { to: person("wang"), reason: String::new() },
            &by("zhang", t0() + mins(2)),
            &policy,
        )
        .unwrap();
    let effects =
        incident.apply(Action::Resolve { note: None }, &by("wang", t0() + mins(3)), &policy).unwrap();
    assert!(effects.contains(&Effect::StopPages { person: None }), "wang's SMS due at +4m must not go out");
}

#[test]
fn a_rule_for_some_levels_pages_only_for_them() {
    let policy = policy();
    let (_, effects) = open_at(Severity::Four, t0(), &policy);
    assert_eq!(pages(&effects), vec![("zhang".into(), "im".into(), t0())], "no SMS for a 四级 fault");
    let (_, effects) = open_at(Severity::Three, t0(), &policy);
    assert_eq!(pages(&effects).len(), 2);
}

#[test]
fn the_assignee_is_reminded_of_progress_and_resolve_deadlines() {
    let mut policy = policy();
    policy.sla = Some(working_sla());
    let (mut incident, _) = open_at(Severity::Two, t0(), &policy);
    incident.apply(Action::Acknowledge, &by("zhang", t0() + mins(1)), &policy).unwrap();
    let reminder = |effects: &[Effect]| -> Vec<(String, Reminder)> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Page(PagePlan { person, reason: PageReason::Reminder { about, .. }, .. }) => {
                    Some((person.0.clone(), *about))
                }
                _ => None,
            })
            .collect()
    };
    let effects = incident.apply(Action::ProgressOverdue, &timer(t0() + mins(120)), &policy).unwrap();
    assert_eq!(reminder(&effects)[0], ("zhang".to_string(), Reminder::ProgressOverdue));
    let effects = incident
        .apply(Action::SlaWarn(super::sla::SlaTarget::Resolve), &timer(t0() + mins(600)), &policy)
        .unwrap();
    assert_eq!(reminder(&effects)[0], ("zhang".to_string(), Reminder::ResolveWarning));
    let effects = incident
        .apply(Action::SlaBreach(super::sla::SlaTarget::Resolve), &timer(t0() + mins(900)), &policy)
        .unwrap();
    assert_eq!(reminder(&effects)[0], ("zhang".to_string(), Reminder::ResolveBreached));
}

#[test]
fn paging_held_by_hand_stops_and_resumes_from_the_held_tier() {
    let policy = policy();
    let (mut incident, opened) = open_at(Severity::Two, t0(), &policy);
    assert!(!pages(&opened).is_empty());
    let effects = incident
        .apply(Action::HoldPaging { reason: "演练暂停".into() }, &timer(t0() + mins(1)), &policy)
        .unwrap();
    assert!(effects.contains(&Effect::StopPages { person: None }));
    assert!(effects.contains(&Effect::CancelTimer(TimerKind::Escalate)));
    assert!(matches!(
        incident.escalation.as_ref().unwrap().status,
        EscalationStatus::Held { hold: Hold::Paused { .. } }
    ));
    assert!(
        incident
            .apply(Action::HoldPaging { reason: "again".into() }, &timer(t0() + mins(2)), &policy)
            .is_err()
    );
    let effects = incident.apply(Action::ResumePaging, &timer(t0() + mins(3)), &policy).unwrap();
    let again = pages(&effects);
    assert!(!again.is_empty(), "the held tier is paged again");
    let keys = |effects: &[Effect]| -> Vec<String> {
        effects
            .iter()
            .filter_map(|e| if let Effect::Page(p) = e { Some(p.reason.key()) } else { None })
            .collect()
    };
    assert!(keys(&effects).iter().all(|k| !keys(&opened).contains(k)), "with new page keys");
    assert!(
        incident.apply(Action::ResumePaging, &timer(t0() + mins(4)), &policy).is_err(),
        "not held any more"
    );
}
