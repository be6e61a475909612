//! SLA clocks: deadlines, pauses, warnings and breaches, and how each incident action moves them.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::calendar::{Calendar, HolidayTable, WorkingCalendar, WorkingHours};
use super::sla::{LevelTargets, Pause, SlaBook, SlaPolicy, SlaState, SlaTarget, Target, Within};
use super::*;

fn mins(n: i64) -> SignedDuration {
    SignedDuration::from_mins(n)
}

fn target(within: Within, calendar: &str) -> Target {
    Target { within, calendar: calendar.into() }
}

fn book() -> Arc<SlaBook> {
    let shanghai = TimeZone::get("Asia/Shanghai").unwrap();
    let working =
        WorkingCalendar::new(WorkingHours::court_default(), Arc::new(HolidayTable::embedded()), shanghai)
            .unwrap();
    let calendars = BTreeMap::from([
        ("always".to_string(), Arc::new(Calendar::Always)),
        ("working".to_string(), Arc::new(Calendar::Working(working))),
    ]);
    let d = |m| Within::Duration(mins(m));
    let levels = BTreeMap::from([
        (
            Severity::One,
            LevelTargets {
                respond: target(d(5), "always"),
                progress: None,
                resolve: target(d(30), "always"),
            },
        ),
        (
            Severity::Two,
            LevelTargets {
                respond: target(d(10), "always"),
                progress: None,
                resolve: target(d(60), "always"),
            },
        ),
        (
            Severity::Three,
            LevelTargets {
                respond: target(d(10), "always"),
                progress: Some(target(d(60), "always")),
                resolve: target(d(120), "always"),
            },
        ),
        (
            Severity::Four,
            LevelTargets {
                respond: target(d(60), "working"),
                progress: None,
                resolve: target(Within::WorkingDays(2), "working"),
            },
        ),
    ]);
    let policy = SlaPolicy { id: "T".into(), title: "test".into(), levels };
    Arc::new(SlaBook {
        policies: BTreeMap::from([("T".to_string(), policy)]),
        calendars,
        warn_at: Some(0.8),
        default_policy: Some("T".into()),
    })
}

fn policy() -> LifecyclePolicy {
    LifecyclePolicy { ack_reminder_after: None, auto_close_after: None, sla: Some(book()), escalation: None }
}

fn t0() -> Timestamp {
    "2026-11-23T01:00:00Z".parse().unwrap()
}

fn ctx_at(at: Timestamp) -> Context {
    Context { at, actor: Actor::Person(PersonId("zhangwei".into())), channel: Channel::Api }
}

fn ctx(m: i64) -> Context {
    ctx_at(t0() + mins(m))
}

fn open(severity: Severity) -> (Incident, Vec<Effect>) {
    Incident::open(
        IncidentId(1),
        "20261123-001".parse().unwrap(),
        NewIncident {
            title: "审判系统无法登录".into(),
            description: String::new(),
            severity,
            system: None,
            unit: None,
            source: "generic".into(),
            dedup_key: DedupKey::new("generic", "x"),
            labels: Default::default(),
            link: None,
            sla_policy: Some("T".into()),
            reasons: vec![],
            escalation_policy: None,
            hold: None,
        },
        t0(),
        &policy(),
    )
}

fn armed(effects: &[Effect], kind: TimerKind) -> Option<Timestamp> {
    effects.iter().rev().find_map(|e| match e {
        Effect::ArmTimer { kind: k, due } if *k == kind => Some(*due),
        _ => None,
    })
}

fn cancelled(effects: &[Effect], kind: TimerKind) -> bool {
    effects.contains(&Effect::CancelTimer(kind))
}

#[test]
fn deadlines_and_warnings_on_a_7x24_calendar() {
    let b = book();
    let state = SlaState::new("T", t0());
    let d = b.deadline(&state, Severity::Three, SlaTarget::Respond).unwrap();
    assert_eq!(d.due, t0() + mins(10));
    assert_eq!(d.warn_at, Some(t0() + mins(8)), "at 80%");
    let d = b.deadline(&state, Severity::Three, SlaTarget::Resolve).unwrap();
    assert_eq!(d.due, t0() + mins(120));
}

#[test]
fn finished_pauses_are_excluded_and_pauses_before_the_start_ignored() {
    let b = book();
    let mut state = SlaState::new("T", t0());
    state.pauses.push(Pause {
        from: t0() + mins(20),
        until: Some(t0() + mins(50)),
        reason: "等待厂商".into(),
    });
    let d = b.deadline(&state, Severity::Three, SlaTarget::Resolve).unwrap();
    assert_eq!(d.due, t0() + mins(150), "two hours plus the 30 paused minutes");
    assert_eq!(d.warn_at, Some(t0() + mins(96 + 30)));
    // A reopen starts the clock later: the old pause does not count any more.
    state.resolve_from = t0() + mins(60);
    let d = b.deadline(&state, Severity::Three, SlaTarget::Resolve).unwrap();
    assert_eq!(d.due, t0() + mins(180));
}

#[test]
fn working_day_targets_skip_the_national_day_break() {
    let b = book();
    // Wednesday 2026-09-30 16:00 in Shanghai; 10/1–10/7 are off.
    let start: Timestamp = "2026-09-30T08:00:00Z".parse().unwrap();
    let state = SlaState::new("T", start);
    let due = b.deadline(&state, Severity::Four, SlaTarget::Resolve).unwrap().due;
    let local = due.to_zoned_datetime(TimeZone::get("Asia/Shanghai").unwrap());
    assert_eq!(
        local.date(),
        jiff::civil::date(2026, 10, 9),
        "Thursday 10/8 and Friday 10/9 are the two working days"
    );
    assert_eq!((local.hour(), local.minute()), (16, 0));
    // The respond hour starts 16:00 and ends 17:00 the same day.
    let respond = b.deadline(&state, Severity::Four, SlaTarget::Respond).unwrap().due;
    assert_eq!(respond, start + mins(60));
}

#[test]
fn opening_arms_warnings_and_deadlines() {
    let (incident, effects) = open(Severity::Three);
    let state = incident.sla.as_ref().unwrap();
    assert_eq!(state.respond_due, Some(t0() + mins(10)));
    assert_eq!(state.resolve_due, Some(t0() + mins(120)));
    assert_eq!(armed(&effects, TimerKind::RespondWarn), Some(t0() + mins(8)));
    assert_eq!(armed(&effects, TimerKind::RespondDue), Some(t0() + mins(10)));
    assert_eq!(armed(&effects, TimerKind::ResolveWarn), Some(t0() + mins(96)));
    assert_eq!(armed(&effects, TimerKind::ResolveDue), Some(t0() + mins(120)));
}

#[test]
fn no_policy_means_no_clock() {
    let mut new_policy = policy();
    new_policy.sla = None;
    let (incident, effects) = Incident::open(
        IncidentId(2),
        "20261123-002".parse().unwrap(),
        NewIncident { sla_policy: None, ..open(Severity::Three).0.into_new() },
        t0(),
        &new_policy,
    );
    assert!(incident.sla.is_none());
    assert!(!effects.iter().any(|e| matches!(e, Effect::ArmTimer { .. })));
    let mut i = incident;
    assert_eq!(
        i.apply(Action::PauseSla { reason: "x".into() }, &ctx(1), &new_policy),
        Err(TransitionError::NoSla)
    );
}

#[test]
fn the_response_stops_the_respond_clock_and_starts_progress_reports() {
    let (mut i, _) = open(Severity::Three);
    let effects = i.apply(Action::Acknowledge, &ctx(3), &policy()).unwrap();
    assert!(cancelled(&effects, TimerKind::RespondWarn) && cancelled(&effects, TimerKind::RespondDue));
    assert_eq!(armed(&effects, TimerKind::ProgressDue), Some(t0() + mins(63)));
    assert_eq!(i.sla.as_ref().unwrap().responded_at, Some(t0() + mins(3)));
    // A respond timer that fires anyway (armed before the ack) is stale.
    assert!(i.apply(Action::SlaBreach(SlaTarget::Respond), &ctx(10), &policy()).is_err());
    // A person's update resets the progress clock; a sender's does not.
    let effects = i.apply(Action::Comment { text: "已重启服务".into() }, &ctx(30), &policy()).unwrap();
    assert_eq!(armed(&effects, TimerKind::ProgressDue), Some(t0() + mins(90)));
    let source = Context { actor: Actor::Source("zabbix".into()), ..ctx(31) };
    let effects = i.apply(Action::Comment { text: "告警仍在".into() }, &source, &policy()).unwrap();
    assert_eq!(armed(&effects, TimerKind::ProgressDue), None);
    // Missing updates are reminded again and again.
    let effects = i.apply(Action::ProgressOverdue, &ctx(90), &policy()).unwrap();
    assert!(effects.contains(&Effect::Record(EventKind::ProgressOverdue)));
    assert_eq!(armed(&effects, TimerKind::ProgressDue), Some(t0() + mins(150)));
}

#[test]
fn a_breach_is_recorded_once() {
    let (mut i, _) = open(Severity::Three);
    let effects = i.apply(Action::SlaWarn(SlaTarget::Respond), &ctx(8), &policy()).unwrap();
    assert!(matches!(effects[0], Effect::Record(EventKind::SlaWarning { target: SlaTarget::Respond, .. })));
    let effects = i.apply(Action::SlaBreach(SlaTarget::Respond), &ctx(10), &policy()).unwrap();
    assert_eq!(
        effects[0],
        Effect::Record(EventKind::SlaBreached { target: SlaTarget::Respond, due: t0() + mins(10) })
    );
    assert!(i.sla.as_ref().unwrap().respond_breached);
    assert!(i.apply(Action::SlaBreach(SlaTarget::Respond), &ctx(11), &policy()).is_err(), "never twice");
}

#[test]
fn pausing_stops_every_clock_and_resuming_moves_the_deadlines() {
    let (mut i, _) = open(Severity::Three);
    i.apply(Action::Acknowledge, &ctx(2), &policy()).unwrap();
    let effects =
        i.apply(Action::PauseSla { reason: "等待用户提供截图".into() }, &ctx(20), &policy()).unwrap();
    for kind in [TimerKind::RespondWarn, TimerKind::RespondDue, TimerKind::ResolveWarn, TimerKind::ResolveDue]
    {
        assert!(cancelled(&effects, kind), "{kind:?}");
    }
    assert!(cancelled(&effects, TimerKind::ProgressDue));
    assert!(i.apply(Action::PauseSla { reason: "again".into() }, &ctx(21), &policy()).is_err());
    assert!(
        i.apply(Action::SlaBreach(SlaTarget::Resolve), &ctx(120), &policy()).is_err(),
        "no breach while paused"
    );
    assert_eq!(
        i.apply(Action::PauseSla { reason: " ".into() }, &ctx(21), &policy()),
        Err(TransitionError::Empty("reason"))
    );

    let effects = i.apply(Action::ResumeSla, &ctx(80), &policy()).unwrap();
    assert_eq!(armed(&effects, TimerKind::ResolveDue), Some(t0() + mins(180)), "120 + 60 paused");
    assert_eq!(armed(&effects, TimerKind::RespondDue), None, "already responded");
    assert_eq!(armed(&effects, TimerKind::ProgressDue), Some(t0() + mins(140)));
    assert!(i.apply(Action::ResumeSla, &ctx(81), &policy()).is_err(), "not paused any more");
}

#[test]
fn a_level_override_replans_from_the_same_start() {
    let (mut i, _) = open(Severity::Three);
    let effects = i
        .apply(Action::SetSeverity { to: Severity::One, reason: "全院无法立案".into() }, &ctx(2), &policy())
        .unwrap();
    assert_eq!(armed(&effects, TimerKind::RespondDue), Some(t0() + mins(5)));
    assert_eq!(armed(&effects, TimerKind::ResolveDue), Some(t0() + mins(30)));
    // The respond warning (at 4 min) is still ahead; the resolve warning at 24 min too.
    assert_eq!(armed(&effects, TimerKind::RespondWarn), Some(t0() + mins(4)));
    let state = i.sla.as_ref().unwrap();
    assert_eq!((state.respond_due, state.resolve_due), (Some(t0() + mins(5)), Some(t0() + mins(30))));
}

#[test]
fn resolving_answers_the_response_and_stops_the_clocks() {
    let (mut i, _) = open(Severity::Three);
    let effects = i.apply(Action::Resolve { note: None }, &ctx(7), &policy()).unwrap();
    for kind in [TimerKind::RespondDue, TimerKind::ResolveWarn, TimerKind::ResolveDue, TimerKind::ProgressDue]
    {
        assert!(cancelled(&effects, kind), "{kind:?}");
    }
    assert_eq!(i.sla.as_ref().unwrap().responded_at, Some(t0() + mins(7)));
    assert!(i.apply(Action::SlaBreach(SlaTarget::Resolve), &ctx(120), &policy()).is_err());
    // Back again: both clocks restart at the reopen.
    let effects = i.apply(Action::Repeat, &ctx(30), &policy()).unwrap();
    assert_eq!(armed(&effects, TimerKind::RespondDue), Some(t0() + mins(40)));
    assert_eq!(armed(&effects, TimerKind::ResolveDue), Some(t0() + mins(150)));
}

#[test]
fn ending_an_incident_stops_every_clock() {
    for action in [
        Action::Cancel { reason: "误报".into() },
        Action::MergeInto { target: "20261123-009".parse().unwrap() },
    ] {
        let (mut i, _) = open(Severity::Two);
        let effects = i.apply(action, &ctx(1), &policy()).unwrap();
        for kind in [
            TimerKind::RespondWarn,
            TimerKind::RespondDue,
            TimerKind::ResolveWarn,
            TimerKind::ResolveDue,
            TimerKind::ProgressDue,
        ] {
            assert!(cancelled(&effects, kind), "{kind:?}");
        }
    }
}

#[test]
fn a_reopened_incident_can_breach_again() {
    let (mut i, _) = open(Severity::Three);
    i.apply(Action::SlaBreach(SlaTarget::Respond), &ctx(10), &policy()).unwrap();
    i.apply(Action::Acknowledge, &ctx(12), &policy()).unwrap();
    i.apply(Action::Resolve { note: None }, &ctx(20), &policy()).unwrap();
    i.apply(Action::Repeat, &ctx(30), &policy()).unwrap();
    let effects = i.apply(Action::SlaBreach(SlaTarget::Respond), &ctx(40), &policy()).unwrap();
    assert!(matches!(effects[0], Effect::Record(EventKind::SlaBreached { target: SlaTarget::Respond, .. })));
}

#[test]
fn a_level_change_replans_the_progress_reports() {
    // 四级 asks for no progress reports; 三级 every hour.
    let (mut i, _) = open(Severity::Four);
    let effects = i.apply(Action::Acknowledge, &ctx(1), &policy()).unwrap();
    assert!(cancelled(&effects, TimerKind::ProgressDue));
    let effects = i
        .apply(Action::SetSeverity { to: Severity::Three, reason: "多人反映".into() }, &ctx(5), &policy())
        .unwrap();
    assert_eq!(armed(&effects, TimerKind::ProgressDue), Some(t0() + mins(65)));
    let effects = i
        .apply(Action::SetSeverity { to: Severity::Two, reason: "升级".into() }, &ctx(6), &policy())
        .unwrap();
    assert!(cancelled(&effects, TimerKind::ProgressDue), "二级 in this policy has no progress target");
}

#[test]
fn finished_incidents_arm_no_progress_timer_and_keep_no_open_pause() {
    let (mut i, _) = open(Severity::Three);
    i.apply(Action::Acknowledge, &ctx(1), &policy()).unwrap();
    i.apply(Action::PauseSla { reason: "等待备件".into() }, &ctx(2), &policy()).unwrap();
    i.apply(Action::Resolve { note: None }, &ctx(30), &policy()).unwrap();
    assert!(!i.sla.as_ref().unwrap().paused(), "fixing the fault ends the pause");
    let effects = i.apply(Action::Comment { text: "补充说明".into() }, &ctx(40), &policy()).unwrap();
    assert_eq!(armed(&effects, TimerKind::ProgressDue), None);
    let (mut c, _) = open(Severity::Three);
    c.apply(Action::PauseSla { reason: "等待".into() }, &ctx(2), &policy()).unwrap();
    c.apply(Action::Cancel { reason: "误报".into() }, &ctx(3), &policy()).unwrap();
    assert!(!c.sla.as_ref().unwrap().paused());
    assert!(c.apply(Action::ResumeSla, &ctx(4), &policy()).is_err());
}

#[test]
fn a_pause_after_the_deadline_does_not_move_it() {
    let b = book();
    let mut state = SlaState::new("T", t0());
    state.pauses.push(Pause {
        from: t0() + mins(130),
        until: Some(t0() + mins(200)),
        reason: "事后挂起".into(),
    });
    let d = b.deadline(&state, Severity::Three, SlaTarget::Resolve).unwrap();
    assert_eq!(d.due, t0() + mins(120));
}
