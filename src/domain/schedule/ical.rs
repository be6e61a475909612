//! iCalendar export (RFC 5545): a schedule's shifts as a calendar people subscribe to on their phones.

use std::fmt::Write as _;

use jiff::Timestamp;

use super::{Schedule, Shift, Why};

/// Content lines may be at most 75 octets long, not counting the line break (RFC 5545 §3.1).
const MAX_LINE_OCTETS: usize = 75;

/// A VCALENDAR with one VEVENT per shift (only `only_person`'s when given).
///
/// Each event is `值班：张伟（驻场值班）` from its start to its end in UTC; its UID is made of the
/// schedule, the person and the start, so re-exporting the same shift updates the event instead of
/// duplicating it. Events are transparent: being on call does not make a person busy. `now` is the
/// DTSTAMP; `person_names` turns a person id into a display name.
pub fn render_ical(
    schedule: &Schedule,
    shifts: &[Shift],
    person_names: &dyn Fn(&str) -> String,
    only_person: Option<&str>,
    now: Timestamp,
) -> String {
    let mut out = String::new();
    let mut line = |text: &str| fold_into(&mut out, text);
    line("BEGIN:VCALENDAR");
    line("VERSION:2.0");
    line("PRODID:-//zhiban//值班表//ZH-CN");
    line("CALSCALE:GREGORIAN");
    line("METHOD:PUBLISH");
    line(&format!("X-WR-CALNAME:{}", escape(schedule.name())));
    if let Some(tz) = schedule.time_zone().iana_name() {
        line(&format!("X-WR-TIMEZONE:{}", escape(tz)));
    }
    for shift in shifts.iter().filter(|s| only_person.is_none_or(|p| p == s.person)) {
        let name = person_names(&shift.person);
        line("BEGIN:VEVENT");
        line(&format!("UID:{}-{}-{}@zhiban", escape(schedule.id()), escape(&shift.person), utc(shift.start)));
        line(&format!("DTSTAMP:{}", utc(now)));
        line(&format!("DTSTART:{}", utc(shift.start)));
        line(&format!("DTEND:{}", utc(shift.end)));
        line(&format!("SUMMARY:{}", escape(&format!("值班：{name}（{}）", schedule.name()))));
        line(&format!("DESCRIPTION:{}", escape(&describe(&shift.why, person_names))));
        line("TRANSP:TRANSPARENT");
        line("END:VEVENT");
    }
    line("END:VCALENDAR");
    out
}

fn describe(why: &Why, person_names: &dyn Fn(&str) -> String) -> String {
    match why {
        Why::Layer { name, .. } => format!("轮值：{name}"),
        Why::Roster { date, shift, .. } => format!("节假日值班表：{date} {shift}"),
        Why::Override { replaces, reason, .. } => {
            let mut text = "换班".to_owned();
            if let Some(r) = replaces {
                let _ = write!(text, "，代{}", person_names(r));
            }
            if let Some(r) = reason {
                let _ = write!(text, "\n原因：{r}");
            }
            text
        }
    }
}

/// `20261001T003000Z`.
fn utc(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// TEXT value escaping (RFC 5545 §3.3.11): backslash, semicolon, comma and line breaks.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends `line` with CRLF, folded into lines of at most 75 octets: continuation lines start with
/// one space (which counts), and no UTF-8 character is split.
fn fold_into(out: &mut String, line: &str) {
    let mut used = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if used + len > MAX_LINE_OCTETS {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += len;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests;
