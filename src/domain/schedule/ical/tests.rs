use std::io::BufReader;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use super::*;
use crate::domain::schedule::{Layer, Override, Rotation, Schedule};

fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap()
}

fn at(s: &str) -> Timestamp {
    shanghai().to_timestamp(s.parse::<DateTime>().unwrap()).unwrap()
}

fn names(id: &str) -> String {
    match id {
        "zhangwei" => "张伟".into(),
        "lina" => "李娜".into(),
        other => other.into(),
    }
}

fn schedule() -> Schedule {
    let layer = Layer::new(
        "白班轮值",
        vec!["zhangwei".into(), "lina".into()],
        Rotation::DAILY,
        "2026-10-01T08:30".parse().unwrap(),
        None,
    )
    .unwrap();
    let swap = Override::new("lina", at("2026-10-02T12:00"), at("2026-10-02T14:00"))
        .unwrap()
        .replacing("zhangwei")
        .unwrap()
        .because("家中有事, 请假; 见 \\ 备注");
    Schedule::new("onsite", "驻场值班", shanghai(), vec![layer], vec![swap], vec![])
}

/// RFC 5545 unfolding: a line break followed by one space or tab is removed.
fn unfold(text: &str) -> String {
    text.replace("\r\n ", "").replace("\r\n\t", "")
}

fn parse(text: &str) -> ical::parser::ical::component::IcalCalendar {
    let mut parser = ical::IcalParser::new(BufReader::new(text.as_bytes()));
    let calendar = parser.next().expect("one calendar").expect("it parses");
    assert!(parser.next().is_none());
    calendar
}

fn prop<'a>(props: &'a [ical::property::Property], name: &str) -> &'a str {
    props
        .iter()
        .find(|p| p.name == name)
        .and_then(|p| p.value.as_deref())
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn the_calendar_parses_with_a_real_parser() {
    let s = schedule();
    let shifts = s.shifts(at("2026-10-01T08:30"), at("2026-10-03T08:30"));
    let text = render_ical(&s, &shifts, &names, None, at("2026-09-30T10:00"));
    assert!(text.starts_with("BEGIN:VCALENDAR\r\n") && text.ends_with("END:VCALENDAR\r\n"));
    assert!(!text.replace("\r\n", "").contains('\n'), "every line ends with CRLF");

    let cal = parse(&text);
    assert_eq!(prop(&cal.properties, "VERSION"), "2.0");
    assert_eq!(prop(&cal.properties, "CALSCALE"), "GREGORIAN");
    assert!(prop(&cal.properties, "PRODID").contains("zhiban"));
    assert_eq!(prop(&cal.properties, "X-WR-CALNAME"), "驻场值班");
    // zhangwei on 10-01, lina on 10-02: the swap replaces zhangwei only while he is on, so it
    // changes nothing on lina's day.
    assert_eq!(shifts.len(), 2);
    assert_eq!(cal.events.len(), 2);
    let first = &cal.events[0].properties;
    assert_eq!(prop(first, "SUMMARY"), "值班：张伟（驻场值班）");
    assert_eq!(prop(first, "DTSTART"), "20261001T003000Z");
    assert_eq!(prop(first, "DTEND"), "20261002T003000Z");
    assert_eq!(prop(first, "DTSTAMP"), "20260930T020000Z");
    assert_eq!(prop(first, "UID"), "onsite-zhangwei-20261001T003000Z@zhiban");
    assert_eq!(prop(first, "DESCRIPTION"), "轮值：白班轮值");

    let only = render_ical(&s, &shifts, &names, Some("lina"), at("2026-09-30T10:00"));
    let cal = parse(&only);
    assert!(cal.events.iter().all(|e| prop(&e.properties, "SUMMARY").contains("李娜")));
    assert_eq!(cal.events.len(), shifts.iter().filter(|x| x.person == "lina").count());
}

#[test]
fn override_text_is_escaped() {
    let s = schedule();
    // On 10-03 zhangwei is on again; move the swap there by asking about a window it covers.
    let swap = Override::new("lina", at("2026-10-03T12:00"), at("2026-10-03T14:00"))
        .unwrap()
        .replacing("zhangwei")
        .unwrap()
        .because("家中有事, 请假; 见 \\ 备注");
    let s = s.with_overrides(&[swap]);
    let shifts = s.shifts(at("2026-10-03T11:00"), at("2026-10-03T15:00"));
    assert_eq!(shifts.len(), 3, "{shifts:?}");
    let text = render_ical(&s, &shifts, &names, None, at("2026-09-30T10:00"));
    assert_eq!(parse(&text).events.len(), 3);
    // Compared unfolded by hand: the parser crate trims spaces at the end of folded lines.
    let unfolded = unfold(&text);
    let descriptions: Vec<&str> =
        unfolded.split("\r\n").filter_map(|l| l.strip_prefix("DESCRIPTION:")).collect();
    assert_eq!(descriptions[1], "换班，代张伟\\n原因：家中有事\\, 请假\\; 见 \\\\ 备注");
}

#[test]
fn escaping_follows_rfc_5545() {
    assert_eq!(escape("a\\b;c,d\ne\r\nf"), "a\\\\b\\;c\\,d\\ne\\nf");
    assert_eq!(escape("值班：张伟"), "值班：张伟");
}

#[test]
fn long_chinese_lines_fold_at_75_octets_without_splitting_characters() {
    let long_name = "某省高级人民法院信息中心驻场运维服务项目全省法院电子签章系统节假日值班安排";
    let layer = Layer::new(
        "轮值",
        vec!["zhangwei".into()],
        Rotation::WEEKLY,
        "2026-10-01T00:00".parse().unwrap(),
        None,
    )
    .unwrap();
    let s = Schedule::new("x", long_name, shanghai(), vec![layer], vec![], vec![]);
    let shifts = s.shifts(at("2026-10-01T00:00"), at("2026-10-02T00:00"));
    let text = render_ical(&s, &shifts, &names, None, at("2026-09-30T10:00"));
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "{} octets: {line}", line.len());
    }
    let unfolded = unfold(&text);
    assert!(unfolded.contains(&format!("X-WR-CALNAME:{long_name}\r\n")));
    assert!(unfolded.contains(&format!("SUMMARY:值班：张伟（{long_name}）\r\n")));
    assert!(text.contains("\r\n "), "something was folded");
    // A line of exactly 75 octets is not folded; 76 is.
    let mut out = String::new();
    fold_into(&mut out, &"a".repeat(75));
    assert_eq!(out, format!("{}\r\n", "a".repeat(75)));
    out.clear();
    fold_into(&mut out, &format!("{}值", "a".repeat(73)));
    assert_eq!(out, format!("{}\r\n 值\r\n", "a".repeat(73)));
    let cal = parse(&text);
    assert_eq!(prop(&cal.properties, "X-WR-CALNAME"), long_name);
}
