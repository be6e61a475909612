use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::*;

fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap()
}

fn civil(s: &str) -> DateTime {
    s.parse().unwrap()
}

/// An instant given as Shanghai wall-clock time.
fn at(s: &str) -> Timestamp {
    shanghai().to_timestamp(civil(s)).unwrap()
}

fn layer(name: &str, members: &[&str], rotation: &str, start: &str) -> Layer {
    let members = members.iter().map(|m| m.to_string()).collect();
    Layer::new(name, members, rotation.parse().unwrap(), civil(start), None).unwrap()
}

fn restricted(name: &str, members: &[&str], rotation: &str, start: &str, days: &str, hours: &str) -> Layer {
    let days =
        days.split(',').map(|d| Weekdays::parse_item(d).unwrap()).fold(Weekdays::NONE, Weekdays::union);
    let r = Restriction::new(days, hours.parse().unwrap()).unwrap();
    let members = members.iter().map(|m| m.to_string()).collect();
    Layer::new(name, members, rotation.parse().unwrap(), civil(start), Some(r)).unwrap()
}

fn schedule(layers: Vec<Layer>, overrides: Vec<Override>, roster: Vec<RosterShift>) -> Schedule {
    Schedule::new("onsite", "驻场值班", shanghai(), layers, overrides, roster)
}

fn who(s: &Schedule, t: &str) -> Vec<String> {
    let people: Vec<String> = s.on_call_at(at(t)).into_iter().map(|o| o.person).collect();
    assert_eq!(s.people_at(at(t)), people, "people_at agrees with on_call_at");
    people
}

fn roster_shift(date: &str, shift: &str, start: &str, end: &str, person: &str) -> RosterShift {
    RosterShift::new(date.parse().unwrap(), shift, civil(start), civil(end), person, None).unwrap()
}

const NS: SignedDuration = SignedDuration::from_nanos(1);

#[test]
fn an_empty_schedule_has_nobody() {
    let s = schedule(vec![], vec![], vec![]);
    assert!(s.on_call_at(at("2026-10-01T09:00")).is_empty());
    assert!(s.shifts(at("2026-10-01T00:00"), at("2026-10-08T00:00")).is_empty());
    assert_eq!(s.next_handoff_after(at("2026-10-01T09:00")), None);
}

#[test]
fn rotation_index_is_arithmetic_over_many_periods() {
    let members = ["a", "b", "c"];
    let s = schedule(vec![layer("日轮值", &members, "daily", "2026-01-05T08:30")], vec![], vec![]);
    let start = civil("2026-01-05T08:30");
    for k in [0i64, 1, 2, 3, 10, 100, 365, 1000, 3651] {
        let handoff = start.checked_add(SignedDuration::from_hours(24 * k)).unwrap();
        let t = shanghai().to_timestamp(handoff).unwrap();
        let expect = members[(k % 3) as usize];
        assert_eq!(who(&s, &handoff.to_string()), vec![expect], "day {k}");
        let before = s.on_call_at(t - NS);
        let prev = if k == 0 { None } else { Some(members[((k - 1) % 3) as usize]) };
        assert_eq!(before.first().map(|o| o.person.as_str()), prev, "just before day {k}");
        let now = &s.on_call_at(t)[0];
        assert_eq!((now.start, now.end), (Some(t), Some(t + SignedDuration::from_hours(24))));
    }
}

#[test]
fn weekly_and_hourly_rotations() {
    let s = schedule(vec![layer("周轮值", &["a", "b"], "weekly", "2026-01-05T09:00")], vec![], vec![]);
    assert_eq!(who(&s, "2026-01-12T08:59:59"), ["a"]);
    assert_eq!(who(&s, "2026-01-12T09:00"), ["b"], "at the handoff the new person is on call");
    assert_eq!(who(&s, "2026-01-19T09:00"), ["a"]);
    assert_eq!(who(&s, "2027-01-04T09:00"), ["a"], "52 weeks later: an even number of periods");

    let s = schedule(vec![layer("十二小时", &["a", "b", "c"], "12h", "2026-01-01T08:00")], vec![], vec![]);
    assert_eq!(who(&s, "2026-01-01T19:59"), ["a"]);
    assert_eq!(who(&s, "2026-01-01T20:00"), ["b"]);
    assert_eq!(who(&s, "2026-01-02T08:00"), ["c"]);
    assert_eq!(who(&s, "2026-01-31T08:00"), ["a"], "60 periods later");
}

#[test]
fn a_layer_starting_in_the_future_has_nobody_before_its_start() {
    let s = schedule(vec![layer("新轮值", &["a", "b"], "daily", "2026-12-01T08:30")], vec![], vec![]);
    assert!(who(&s, "2026-11-30T12:00").is_empty());
    assert!(who(&s, "1970-01-01T00:00").is_empty());
    assert_eq!(s.next_handoff_after(at("2026-06-01T00:00")), Some(at("2026-12-01T08:30")));
    assert_eq!(who(&s, "2026-12-01T08:30"), ["a"]);
    let first = &s.on_call_at(at("2026-12-01T10:00"))[0];
    assert_eq!(first.start, Some(at("2026-12-01T08:30")));
}

#[test]
fn a_single_member_layer_never_hands_over() {
    let s = schedule(vec![layer("固定", &["a"], "daily", "2026-01-01T08:30")], vec![], vec![]);
    let on = &s.on_call_at(at("2026-06-01T12:00"))[0];
    assert_eq!((on.start, on.end), (Some(at("2026-01-01T08:30")), None));
    assert_eq!(s.next_handoff_after(at("2026-06-01T12:00")), None);
    let shifts = s.shifts(at("2026-06-01T00:00"), at("2026-07-01T00:00"));
    assert_eq!(shifts.len(), 1, "{shifts:?}");
}

#[test]
fn restrictions_limit_layers_to_weekdays_and_hours() {
    // 2026-10-09 is a Friday.
    let day = restricted("白班", &["a"], "weekly", "2026-01-05T08:30", "mon-fri", "08:30-17:30");
    let s = schedule(vec![day], vec![], vec![]);
    assert_eq!(who(&s, "2026-10-09T08:30"), ["a"]);
    assert!(who(&s, "2026-10-09T17:30").is_empty(), "the window's end is not inside it");
    assert!(who(&s, "2026-10-10T10:00").is_empty(), "Saturday");

    let night = restricted("夜班", &["n"], "weekly", "2026-01-05T08:30", "mon-fri", "17:30-08:30");
    let s = schedule(vec![night], vec![], vec![]);
    assert_eq!(who(&s, "2026-10-09T23:00"), ["n"], "Friday night");
    assert_eq!(who(&s, "2026-10-10T08:00"), ["n"], "Friday's night runs into Saturday morning");
    assert!(who(&s, "2026-10-10T20:00").is_empty(), "Saturday night");
    assert!(who(&s, "2026-10-12T03:00").is_empty(), "Sunday's night is not Monday's");
    assert!(who(&s, "2026-10-12T12:00").is_empty(), "Monday noon");
    let on = &s.on_call_at(at("2026-10-09T23:00"))[0];
    assert_eq!((on.start, on.end), (Some(at("2026-10-09T17:30")), Some(at("2026-10-10T08:30"))));

    // Whole days on consecutive weekdays are one stretch.
    let weekdays = restricted("工作日", &["w"], "weekly", "2026-01-05T00:00", "mon-fri", "00:00-24:00");
    let s = schedule(vec![weekdays], vec![], vec![]);
    let on = &s.on_call_at(at("2026-10-07T12:00"))[0];
    assert_eq!((on.start, on.end), (Some(at("2026-10-05T00:00")), Some(at("2026-10-10T00:00"))));
}

/// The example's shape: a base layer for nights and weekends, a weekday-daytime layer on top.
fn onsite() -> Vec<Layer> {
    vec![
        layer("夜间及周末", &["zhangwei", "lina", "wangqiang"], "weekly", "2026-01-05T08:30"),
        restricted(
            "工作日白班",
            &["lina", "zhangwei"],
            "daily",
            "2026-01-05T08:30",
            "mon-fri",
            "08:30-17:30",
        ),
    ]
}

#[test]
fn later_layers_win_where_they_have_someone() {
    let s = schedule(onsite(), vec![], vec![]);
    // Week of 2026-01-05: base = zhangwei; day layer alternates lina, zhangwei.
    assert_eq!(who(&s, "2026-01-05T10:00"), ["lina"]);
    assert_eq!(who(&s, "2026-01-06T10:00"), ["zhangwei"]);
    assert_eq!(who(&s, "2026-01-05T20:00"), ["zhangwei"]);
    assert_eq!(who(&s, "2026-01-10T10:00"), ["zhangwei"], "Saturday: the base layer");
    assert_eq!(who(&s, "2026-01-12T20:00"), ["lina"], "the next week's base member");
    // The night person's span is cut by the day layer, not the base layer's week.
    let night = &s.on_call_at(at("2026-01-07T20:00"))[0];
    assert_eq!(night.person, "zhangwei");
    assert_eq!(night.why, Why::Layer { index: 0, name: "夜间及周末".into() });
    assert_eq!((night.start, night.end), (Some(at("2026-01-07T17:30")), Some(at("2026-01-08T08:30"))));
}

#[test]
fn an_override_beats_the_layers() {
    let cover = Override::new("wangqiang", at("2026-01-05T12:00"), at("2026-01-05T15:00"))
        .unwrap()
        .replacing("lina")
        .unwrap()
        .requested_by("lina")
        .approved_by("sunli")
        .because("家中有事");
    let s = schedule(onsite(), vec![cover], vec![]);
    assert_eq!(who(&s, "2026-01-05T11:59"), ["lina"]);
    let on = s.on_call_at(at("2026-01-05T12:00"));
    assert_eq!(on[0].person, "wangqiang");
    assert_eq!(
        on[0].why,
        Why::Override { index: 0, replaces: Some("lina".into()), reason: Some("家中有事".into()) }
    );
    assert_eq!((on[0].start, on[0].end), (Some(at("2026-01-05T12:00")), Some(at("2026-01-05T15:00"))));
    assert_eq!(who(&s, "2026-01-05T15:00"), ["lina"], "the override's end is not inside it");

    // Replacing someone who is not on call changes nothing.
    let stray = Override::new("sunli", at("2026-01-06T09:00"), at("2026-01-06T10:00"))
        .unwrap()
        .replacing("lina")
        .unwrap();
    let s = schedule(onsite(), vec![stray], vec![]);
    assert_eq!(who(&s, "2026-01-06T09:30"), ["zhangwei"]);

    // Without `replaces`, the cover replaces whoever is on, and fills a gap when nobody is.
    let all = Override::new("sunli", at("2026-01-05T09:00"), at("2026-01-05T10:00")).unwrap();
    let gap = Override::new("sunli", at("2025-12-01T09:00"), at("2025-12-01T10:00")).unwrap();
    let s = schedule(onsite(), vec![all, gap], vec![]);
    assert_eq!(who(&s, "2026-01-05T09:30"), ["sunli"]);
    assert_eq!(who(&s, "2025-12-01T09:30"), ["sunli"]);
}

fn national_day() -> Vec<RosterShift> {
    vec![
        roster_shift("2026-10-01", "白班", "2026-10-01T08:30", "2026-10-01T17:30", "zhangwei"),
        roster_shift("2026-10-01", "白班", "2026-10-01T08:30", "2026-10-01T17:30", "liuyang"),
        roster_shift("2026-10-01", "夜班", "2026-10-01T17:30", "2026-10-02T08:30", "lina"),
    ]
}

#[test]
fn a_holiday_roster_overrides_the_rotation() {
    let s = schedule(onsite(), vec![], national_day());
    // 2026-10-01 is a Thursday: without the roster the day layer would have someone.
    let plain = schedule(onsite(), vec![], vec![]);
    assert_eq!(who(&plain, "2026-10-01T10:00").len(), 1);
    assert_eq!(who(&s, "2026-10-01T10:00"), ["zhangwei", "liuyang"]);
    assert_eq!(who(&s, "2026-10-01T17:30"), ["lina"]);
    let on = &s.on_call_at(at("2026-10-01T10:00"))[0];
    assert_eq!(on.why, Why::Roster { index: 0, date: "2026-10-01".parse().unwrap(), shift: "白班".into() });
    assert_eq!((on.start, on.end), (Some(at("2026-10-01T08:30")), Some(at("2026-10-01T17:30"))));
    // Before and after the roster the rotation is back.
    assert_eq!(who(&s, "2026-10-01T08:29"), who(&plain, "2026-10-01T08:29"));
    assert_eq!(who(&s, "2026-10-02T08:30"), who(&plain, "2026-10-02T08:30"));
}

#[test]
fn an_override_beats_the_roster() {
    let swap = Override::new("wangqiang", at("2026-10-01T20:00"), at("2026-10-02T08:30"))
        .unwrap()
        .replacing("lina")
        .unwrap();
    let s = schedule(onsite(), vec![swap], national_day());
    assert_eq!(who(&s, "2026-10-01T19:00"), ["lina"]);
    assert_eq!(who(&s, "2026-10-01T20:00"), ["wangqiang"]);
    let partial = Override::new("chenjing", at("2026-10-01T12:00"), at("2026-10-01T13:00"))
        .unwrap()
        .replacing("liuyang")
        .unwrap();
    let s = schedule(onsite(), vec![partial], national_day());
    assert_eq!(who(&s, "2026-10-01T12:30"), ["zhangwei", "chenjing"], "only the person replaced changes");
}

#[test]
fn shifts_merge_adjacent_equal_spans_and_follow_precedence() {
    let s = schedule(onsite(), vec![], national_day());
    let shifts = s.shifts(at("2026-09-30T12:00"), at("2026-10-02T12:00"));
    let summary: Vec<(String, String, String)> = shifts
        .iter()
        .map(|x| {
            let tz = shanghai();
            (x.person.clone(), tz.to_datetime(x.start).to_string(), tz.to_datetime(x.end).to_string())
        })
        .collect();
    // 2026-09-28 starts a week whose base member is index 38 % 3 = 2 (wangqiang); the day layer on
    // 2026-09-30 is day 268 → 268 % 2 = 0 (lina), on 2026-10-02 day 270 → lina.
    let expect = [
        ("lina", "2026-09-30T12:00:00", "2026-09-30T17:30:00"),
        ("wangqiang", "2026-09-30T17:30:00", "2026-10-01T08:30:00"),
        ("zhangwei", "2026-10-01T08:30:00", "2026-10-01T17:30:00"),
        ("liuyang", "2026-10-01T08:30:00", "2026-10-01T17:30:00"),
        ("lina", "2026-10-01T17:30:00", "2026-10-02T08:30:00"),
        ("lina", "2026-10-02T08:30:00", "2026-10-02T12:00:00"),
    ];
    let expect: Vec<(String, String, String)> =
        expect.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    assert_eq!(summary, expect);
    assert_ne!(shifts[4].why, shifts[5].why, "same person, different reasons: two shifts");

    // A one-member daily layer is one shift, however many days.
    let s = schedule(vec![layer("固定", &["a"], "daily", "2026-01-01T08:30")], vec![], vec![]);
    assert_eq!(s.shifts(at("2026-02-01T00:00"), at("2026-03-01T00:00")).len(), 1);
    // An empty or reversed range has no shifts.
    assert!(s.shifts(at("2026-03-01T00:00"), at("2026-02-01T00:00")).is_empty());
}

#[test]
fn next_handoff_is_the_next_change_of_people() {
    let s = schedule(onsite(), vec![], national_day());
    assert_eq!(s.next_handoff_after(at("2026-09-30T12:00")), Some(at("2026-09-30T17:30")));
    assert_eq!(s.next_handoff_after(at("2026-09-30T17:30")), Some(at("2026-10-01T08:30")));
    assert_eq!(s.next_handoff_after(at("2026-10-01T08:30")), Some(at("2026-10-01T17:30")));
    // lina keeps the night (roster) and then the day (layer): no change of people at 08:30.
    assert_eq!(s.next_handoff_after(at("2026-10-01T17:30")), Some(at("2026-10-02T17:30")));
}

#[test]
fn with_overrides_merges_runtime_swaps() {
    let s = schedule(onsite(), vec![], vec![]);
    let swap = Override::new("chenjing", at("2026-01-05T09:00"), at("2026-01-05T10:00")).unwrap();
    let merged = s.with_overrides(&[swap]);
    assert_eq!(who(&merged, "2026-01-05T09:30"), ["chenjing"]);
    assert_eq!(who(&s, "2026-01-05T09:30"), ["lina"], "the original is unchanged");
    assert_eq!(merged.overrides().len(), 1);
}

#[test]
fn daily_handoffs_keep_wall_clock_time_across_dst() {
    let ny = TimeZone::get("America/New_York").unwrap();
    let l =
        Layer::new("daily", vec!["a".into(), "b".into()], Rotation::DAILY, civil("2026-03-01T02:30"), None)
            .unwrap();
    let s = Schedule::new("x", "x", ny.clone(), vec![l], vec![], vec![]);
    // 2026-03-08 02:30 does not exist in New York (clocks jump 02:00 → 03:00): the handoff moves to 03:30.
    let mut t = ny.to_timestamp(civil("2026-03-06T12:00")).unwrap();
    let mut seen = Vec::new();
    for _ in 0..6 {
        t = s.next_handoff_after(t).unwrap();
        seen.push(ny.to_datetime(t).to_string());
    }
    assert_eq!(
        seen,
        [
            "2026-03-07T02:30:00",
            "2026-03-08T03:30:00",
            "2026-03-09T02:30:00",
            "2026-03-10T02:30:00",
            "2026-03-11T02:30:00",
            "2026-03-12T02:30:00"
        ]
    );
    // Around the autumn change (2026-11-01 01:00–02:00 happens twice) the person still changes daily.
    let l =
        Layer::new("daily", vec!["a".into(), "b".into()], Rotation::DAILY, civil("2026-10-01T01:30"), None)
            .unwrap();
    let s = Schedule::new("x", "x", ny.clone(), vec![l], vec![], vec![]);
    let from = ny.to_timestamp(civil("2026-10-30T00:00")).unwrap();
    let until = ny.to_timestamp(civil("2026-11-04T00:00")).unwrap();
    let shifts = s.shifts(from, until);
    let people: Vec<&str> = shifts.iter().map(|x| x.person.as_str()).collect();
    assert_eq!(people, ["a", "b", "a", "b", "a", "b"], "day 28 after the start is a's");
    assert!(shifts.windows(2).all(|w| w[0].end == w[1].start));
    // 01:30 on 2026-11-01 is taken at its first occurrence (EDT), so the shift from then is 25 hours.
    let long =
        shifts.iter().find(|x| ny.to_datetime(x.start).date() == "2026-11-01".parse().unwrap()).unwrap();
    assert_eq!(long.end.duration_since(long.start), SignedDuration::from_hours(25), "the 25-hour day");
    assert_eq!(ny.to_datetime(long.end), civil("2026-11-02T01:30"));
}

#[test]
fn parsing_rotations_windows_and_weekdays() {
    assert_eq!("weekly".parse::<Rotation>().unwrap(), Rotation::WEEKLY);
    assert_eq!("每天".parse::<Rotation>().unwrap(), Rotation::DAILY);
    assert_eq!("2w".parse::<Rotation>().unwrap().to_string(), "14d");
    assert_eq!("12h".parse::<Rotation>().unwrap().to_string(), "12h");
    assert_eq!("3 days".parse::<Rotation>().unwrap().to_string(), "3d");
    for bad in ["", "0d", "fortnightly", "400d", "-1h", "99999999999h"] {
        assert!(bad.parse::<Rotation>().is_err(), "{bad}");
    }
    let w: TimeWindow = "17:30-08:30".parse().unwrap();
    assert!(w.wraps());
    assert_eq!(w.to_string(), "17:30-08:30");
    assert!("00:00-24:00".parse::<TimeWindow>().unwrap().is_whole_day());
    assert_eq!("8点半～17：30".parse::<TimeWindow>().unwrap().to_string(), "08:30-17:30");
    for bad in ["08:30", "24:00-08:00", "25:00-08:00", "08:60-09:00", "a-b"] {
        assert!(bad.parse::<TimeWindow>().is_err(), "{bad}");
    }
    assert_eq!(Weekdays::parse_item("mon-fri").unwrap(), Weekdays::MON_FRI);
    assert_eq!(Weekdays::parse_item("周一至周五").unwrap(), Weekdays::MON_FRI);
    assert_eq!(Weekdays::parse_item("fri-mon").unwrap().to_string(), "mon,fri,sat,sun");
    assert_eq!(Weekdays::parse_item("星期日").unwrap().to_string(), "sun");
    assert!(Weekdays::parse_item("someday").is_err());
    assert!(Restriction::new(Weekdays::NONE, TimeWindow::ALL_DAY).is_err());
    assert!(Layer::new("x", vec![], Rotation::DAILY, civil("2026-01-01T00:00"), None).is_err());
    assert!(Override::new("a", at("2026-01-02T00:00"), at("2026-01-01T00:00")).is_err());
    assert!(
        Override::new("a", at("2026-01-01T00:00"), at("2026-01-02T00:00")).unwrap().replacing("a").is_err()
    );
    let long = RosterShift::new(
        "2026-10-01".parse().unwrap(),
        "x",
        civil("2026-10-01T00:00"),
        civil("2026-10-20T00:00"),
        "a",
        None,
    );
    assert!(long.is_err());
}

#[test]
fn instants_at_the_ends_of_time_do_not_panic() {
    let s = schedule(onsite(), vec![], national_day());
    for t in [Timestamp::MIN, Timestamp::MAX, Timestamp::UNIX_EPOCH] {
        let _ = s.on_call_at(t);
        let _ = s.next_handoff_after(t);
    }
    let _ = s.shifts(Timestamp::MAX - SignedDuration::from_hours(48), Timestamp::MAX);
}

// -------------------------------------------------------------------------------------------------
// Property: the point answer and the timeline agree everywhere.

const BASE: &str = "2026-01-01T00:00";

fn arb_layer() -> impl Strategy<Value = Layer> {
    let members = proptest::collection::vec(prop::sample::select(vec!["a", "b", "c", "d"]), 1..4);
    let rotation = prop::sample::select(vec!["daily", "weekly", "2d", "12h", "5h"]);
    let start_hours = 0i64..24 * 20;
    let restriction = prop::option::of((
        prop::sample::select(vec!["mon-fri", "sat,sun", "mon,wed", "all"]),
        prop::sample::select(vec!["08:30-17:30", "17:30-08:30", "00:00-24:00", "22:00-02:00"]),
    ));
    (members, rotation, start_hours, restriction).prop_map(|(members, rotation, h, r)| {
        let start = civil(BASE).checked_add(SignedDuration::from_hours(h)).unwrap();
        let r = r.map(|(days, hours)| {
            let days = days
                .split(',')
                .map(|d| Weekdays::parse_item(d).unwrap())
                .fold(Weekdays::NONE, Weekdays::union);
            Restriction::new(days, hours.parse().unwrap()).unwrap()
        });
        let members = members.into_iter().map(str::to_owned).collect();
        Layer::new("l", members, rotation.parse().unwrap(), start, r).unwrap()
    })
}

fn arb_roster() -> impl Strategy<Value = RosterShift> {
    (0i64..24 * 30, 1i64..30, prop::sample::select(vec!["a", "e", "f"])).prop_map(|(h, len, p)| {
        let start = civil(BASE).checked_add(SignedDuration::from_hours(h)).unwrap();
        let end = start.checked_add(SignedDuration::from_hours(len)).unwrap();
        RosterShift::new(start.date(), "班", start, end, p, None).unwrap()
    })
}

fn arb_override() -> impl Strategy<Value = Override> {
    (
        0i64..24 * 30 * 60,
        1i64..48 * 60,
        prop::sample::select(vec!["b", "x"]),
        prop::option::of(prop::sample::select(vec!["a", "c", "e"])),
    )
        .prop_map(|(m, len, p, r)| {
            let from = at(BASE) + SignedDuration::from_mins(m);
            let o = Override::new(p, from, from + SignedDuration::from_mins(len)).unwrap();
            match r {
                Some(r) => o.replacing(r).unwrap(),
                None => o,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn on_call_at_agrees_with_shifts(
        layers in proptest::collection::vec(arb_layer(), 0..4),
        roster in proptest::collection::vec(arb_roster(), 0..4),
        overrides in proptest::collection::vec(arb_override(), 0..4),
        minutes in proptest::collection::vec(0i64..24 * 60 * 40, 1..8),
    ) {
        let s = schedule(layers, overrides, roster);
        let from = at(BASE) - SignedDuration::from_hours(24 * 3);
        let until = at(BASE) + SignedDuration::from_hours(24 * 45);
        let shifts = s.shifts(from, until);
        for w in shifts.iter() {
            prop_assert!(w.start < w.end);
        }
        for m in minutes {
            let t = at(BASE) + SignedDuration::from_mins(m);
            let on = s.on_call_at(t);
            let covering: Vec<&Shift> = shifts.iter().filter(|x| x.start <= t && t < x.end).collect();
            let mut a: Vec<(&str, &Why)> = on.iter().map(|o| (o.person.as_str(), &o.why)).collect();
            let mut b: Vec<(&str, &Why)> = covering.iter().map(|x| (x.person.as_str(), &x.why)).collect();
            a.sort_by_key(|x| x.0);
            b.sort_by_key(|x| x.0);
            prop_assert_eq!(&a, &b, "at {}", t);
            for o in &on {
                let x = covering.iter().find(|x| x.person == o.person).unwrap();
                // Where the shift is not clipped by the range, the spans agree.
                if x.start > from { prop_assert_eq!(o.start, Some(x.start)); }
                if x.end < until { prop_assert_eq!(o.end, Some(x.end)); }
            }
            // The next handoff is the first shift edge after t where the set of people changes.
            if let Some(h) = s.next_handoff_after(t) && h < until {
                let people = |u: Timestamp| {
                    let mut p: Vec<&str> = shifts.iter().filter(|x| x.start <= u && u < x.end).map(|x| x.person.as_str()).collect();
                    p.sort_unstable();
                    p.dedup();
                    p
                };
                prop_assert_ne!(people(h), people(t));
                prop_assert_eq!(people(h - NS), people(t));
            }
        }
    }
}
