//! `[[schedules]]`: on-call schedules (值班表) — layers, overrides and holiday rosters — validated into
//! [`Schedule`]s. Roster files are read here (relative to the configuration file's folder) and names
//! in them are matched against `[[people]]`.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde::Deserialize;

use super::Problems;
use super::catalogue::{Catalogue, valid_id};
use crate::domain::schedule::import::{ImportOptions, RosterFormat, parse_roster};
use crate::domain::schedule::{
    Layer, Override, Restriction, RosterShift, Rotation, Schedule, ShiftTimes, TimeWindow, Weekdays,
    parse_instant,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    id: String,
    name: String,
    /// IANA name; absent = `server.timezone`.
    time_zone: Option<String>,
    #[serde(default)]
    layers: Vec<RawLayer>,
    #[serde(default)]
    overrides: Vec<RawOverride>,
    /// Holiday duty roster files (CSV or Excel), relative to the configuration file's folder.
    #[serde(default)]
    rosters: Vec<RawRoster>,
    /// Shift name → "HH:MM-HH:MM", added to (or replacing) the built-in 白班, 夜班, 全天 ….
    #[serde(default)]
    shift_times: BTreeMap<String, String>,
    /// The notification sinks (the team's group) that get this schedule's 交接班 notices; absent:
    /// every sink subscribed to `handover`.
    #[serde(default)]
    handover_sinks: Vec<String>,
}

/// Schedule id → the sinks named for its handover notices, each checked against the configured
/// sinks.
pub(super) fn handover_sinks(
    raw: &[RawSchedule],
    sinks: &[&str],
    p: &mut Problems,
) -> BTreeMap<String, Vec<String>> {
    for (i, r) in raw.iter().enumerate() {
        for (j, name) in r.handover_sinks.iter().enumerate() {
            if !sinks.contains(&name.as_str()) {
                p.add(
                    format!("schedules[{i}].handover_sinks[{j}]"),
                    format!("no notification sink is named '{name}'"),
                );
            }
        }
    }
    raw.iter()
        .filter(|r| !r.handover_sinks.is_empty())
        .map(|r| (r.id.clone(), r.handover_sinks.clone()))
        .collect()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    name: String,
    members: Vec<String>,
    /// "daily", "weekly", "3d", "2w", "12h".
    rotation: String,
    /// The first handoff, civil time in the schedule's time zone: "2026-01-05T08:30".
    start: String,
    /// "mon".."sun", "mon-fri", "周一" …; absent = every day.
    #[serde(default)]
    weekdays: Vec<String>,
    /// "08:30-17:30" or "17:30-08:30" (wraps midnight); absent = all day.
    hours: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    person: String,
    replaces: Option<String>,
    /// Civil time in the schedule's time zone, or RFC 3339 with an offset.
    from: String,
    until: String,
    requested_by: Option<String>,
    approved_by: Option<String>,
    reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawRoster {
    /// Just the path.
    File(String),
    Full(RawRosterFile),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRosterFile {
    file: String,
    /// The year of dates written without one (10月1日).
    year: Option<i16>,
    /// The worksheet of a workbook; absent = the first.
    sheet: Option<String>,
}

impl RawRoster {
    fn file(&self) -> RawRosterFile {
        match self {
            RawRoster::File(file) => RawRosterFile { file: file.clone(), year: None, sheet: None },
            RawRoster::Full(f) => f.clone(),
        }
    }
}

/// Build every schedule; every problem goes to `p` with its key path.
pub(super) fn build(
    raw: &[RawSchedule],
    catalogue: &Catalogue,
    timezone: &TimeZone,
    config_dir: &Path,
    p: &mut Problems,
) -> BTreeMap<String, Schedule> {
    let mut schedules = BTreeMap::new();
    let mut ids = HashSet::new();
    for (i, rs) in raw.iter().enumerate() {
        let key = |rest: &str| format!("schedules[{i}]{rest}");
        if !valid_id(&rs.id) {
            p.add(key(".id"), "use letters, digits, '-' and '_' (at most 64)");
        } else if !ids.insert(rs.id.as_str()) {
            p.add(key(".id"), format!("the id '{}' is used twice", rs.id));
        }
        if rs.name.trim().is_empty() {
            p.add(key(".name"), "must not be empty");
        }
        let tz = match &rs.time_zone {
            None => timezone.clone(),
            Some(name) => TimeZone::get(name).unwrap_or_else(|_| {
                p.add(key(".time_zone"), format!("'{name}' is not a known time zone (e.g. Asia/Shanghai)"));
                timezone.clone()
            }),
        };
        let person = |p: &mut Problems, k: String, id: &str| {
            let known = catalogue.person(id).is_some();
            if !known {
                p.add(k, format!("unknown person '{id}' (not in [[people]])"));
            }
            known
        };

        let mut layers = Vec::new();
        for (j, rl) in rs.layers.iter().enumerate() {
            let lkey = |rest: &str| key(&format!(".layers[{j}]{rest}"));
            if let Some(layer) = build_layer(rl, &tz, &lkey, &person, p) {
                layers.push(layer);
            }
        }

        let mut overrides = Vec::new();
        for (j, ro) in rs.overrides.iter().enumerate() {
            let okey = |rest: &str| key(&format!(".overrides[{j}]{rest}"));
            if let Some(o) = build_override(ro, &tz, &okey, &person, p) {
                overrides.push(o);
            }
        }

        let mut shift_times = ShiftTimes::defaults();
        for (name, text) in &rs.shift_times {
            match text.parse::<TimeWindow>() {
                Ok(w) => shift_times.set(name, w),
                Err(e) => p.add(key(&format!(".shift_times.{name}")), e.to_string()),
            }
        }
        let mut roster = Vec::new();
        for (j, rr) in rs.rosters.iter().enumerate() {
            let rkey = key(&format!(".rosters[{j}]"));
            roster.extend(load_roster(&rr.file(), &shift_times, catalogue, config_dir, &rkey, p));
        }

        schedules.insert(rs.id.clone(), Schedule::new(&rs.id, &rs.name, tz, layers, overrides, roster));
    }
    schedules
}

fn build_layer(
    rl: &RawLayer,
    tz: &TimeZone,
    key: &dyn Fn(&str) -> String,
    person: &dyn Fn(&mut Problems, String, &str) -> bool,
    p: &mut Problems,
) -> Option<Layer> {
    let mut ok = true;
    if rl.name.trim().is_empty() {
        p.add(key(".name"), "must not be empty");
        ok = false;
    }
    if rl.members.is_empty() {
        p.add(key(".members"), "a layer needs at least one member");
        ok = false;
    }
    for (k, m) in rl.members.iter().enumerate() {
        ok &= person(p, key(&format!(".members[{k}]")), m);
    }
    let rotation = rl.rotation.parse::<Rotation>().map_err(|e| p.add(key(".rotation"), e.to_string())).ok();
    let start = civil(&rl.start, tz).map_err(|e| p.add(key(".start"), e)).ok();
    let mut days = if rl.weekdays.is_empty() { Weekdays::ALL } else { Weekdays::NONE };
    for (k, d) in rl.weekdays.iter().enumerate() {
        match Weekdays::parse_item(d) {
            Ok(set) => days = days.union(set),
            Err(e) => {
                p.add(key(&format!(".weekdays[{k}]")), e.to_string());
                ok = false;
            }
        }
    }
    let window = match &rl.hours {
        None => Some(TimeWindow::ALL_DAY),
        Some(h) => h.parse::<TimeWindow>().map_err(|e| p.add(key(".hours"), e.to_string())).ok(),
    };
    let (Some(rotation), Some(start), Some(window), true) = (rotation, start, window, ok) else {
        return None;
    };
    let restriction =
        Restriction::new(days, window).map_err(|e| p.add(key(".weekdays"), e.to_string())).ok()?;
    Layer::new(rl.name.clone(), rl.members.clone(), rotation, start, Some(restriction))
        .map_err(|e| p.add(key(""), e.to_string()))
        .ok()
}

fn build_override(
    ro: &RawOverride,
    tz: &TimeZone,
    key: &dyn Fn(&str) -> String,
    person: &dyn Fn(&mut Problems, String, &str) -> bool,
    p: &mut Problems,
) -> Option<Override> {
    let mut ok = person(p, key(".person"), &ro.person);
    for (field, id) in
        [("replaces", &ro.replaces), ("requested_by", &ro.requested_by), ("approved_by", &ro.approved_by)]
    {
        if let Some(id) = id {
            ok &= person(p, key(&format!(".{field}")), id);
        }
    }
    let from = parse_instant(&ro.from, tz).map_err(|e| p.add(key(".from"), e)).ok();
    let until = parse_instant(&ro.until, tz).map_err(|e| p.add(key(".until"), e)).ok();
    let (Some(from), Some(until), true) = (from, until, ok) else { return None };
    let built = Override::new(ro.person.clone(), from, until).map_err(|e| (".until", e)).and_then(|o| {
        let o = match &ro.replaces {
            Some(r) => o.replacing(r.clone()).map_err(|e| (".replaces", e))?,
            None => o,
        };
        let o = match &ro.requested_by {
            Some(r) => o.requested_by(r.clone()),
            None => o,
        };
        let o = match &ro.approved_by {
            Some(a) => o.approved_by(a.clone()),
            None => o,
        };
        Ok(match &ro.reason {
            Some(r) => o.because(r.clone()),
            None => o,
        })
    });
    built.map_err(|(field, e)| p.add(key(field), e.to_string())).ok()
}

/// Civil time in the schedule's zone ("2026-01-05T08:30"), or RFC 3339 with an offset (taken to the
/// schedule's zone).
fn civil(text: &str, tz: &TimeZone) -> Result<DateTime, String> {
    if let Ok(t) = text.trim().parse::<Timestamp>() {
        return Ok(tz.to_datetime(t));
    }
    text.trim()
        .parse::<DateTime>()
        .map_err(|_| format!("'{text}' is not a date and time like \"2026-01-05T08:30\""))
}

/// Reads one roster file; its problems are reported as `<key>: <file>: row N, column C: …`.
fn load_roster(
    file: &RawRosterFile,
    shift_times: &ShiftTimes,
    catalogue: &Catalogue,
    config_dir: &Path,
    key: &str,
    p: &mut Problems,
) -> Vec<RosterShift> {
    let path = config_dir.join(&file.file);
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let Some(format) = RosterFormat::from_extension(ext) else {
        p.add(key, format!("{}: a roster must be a .csv, .xlsx, .xls or .ods file", file.file));
        return Vec::new();
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            p.add(key, format!("cannot read {}: {e}", path.display()));
            return Vec::new();
        }
    };
    let options = ImportOptions { year: file.year, shift_times, sheet: file.sheet.as_deref() };
    let resolve = |name: &str, phone: Option<&str>| resolve_person(catalogue, name, phone);
    match parse_roster(&bytes, format, &options, &resolve) {
        Ok(shifts) => shifts,
        Err(errors) => {
            for e in errors {
                p.add(key, format!("{}: {e}", file.file));
            }
            Vec::new()
        }
    }
}

/// The digits of a phone number, without a leading +86 / 0086 country code.
fn phone_digits(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let national =
        digits.strip_prefix("0086").or_else(|| digits.strip_prefix("86").filter(|d| d.len() == 11));
    national.unwrap_or(&digits).to_owned()
}

/// A roster's name (and phone) → a person id: the person with exactly that name; when two people share
/// it, the one with that phone. A name no one has is still found by the phone written next to it.
pub(super) fn resolve_person(
    catalogue: &Catalogue,
    name: &str,
    phone: Option<&str>,
) -> Result<String, String> {
    let name = name.trim();
    let phone = phone.map(phone_digits).filter(|d| !d.is_empty());
    let same_phone = |id: &str| {
        let person = catalogue.person(id);
        phone
            .as_ref()
            .is_some_and(|d| person.and_then(|p| p.phone.as_deref()).map(phone_digits).as_ref() == Some(d))
    };
    let named: Vec<&str> =
        catalogue.people.iter().filter(|p| p.name.trim() == name).map(|p| p.id.as_str()).collect();
    match named.as_slice() {
        [one] => return Ok((*one).to_owned()),
        [] => {}
        many => {
            return match many.iter().find(|id| same_phone(id)) {
                Some(id) => Ok((*id).to_owned()),
                None => Err(format!(
                    "{} people are named '{name}' ({}); write the phone number next to the name",
                    many.len(),
                    many.join(", ")
                )),
            };
        }
    }
    if let Some(p) = catalogue.people.iter().find(|p| same_phone(&p.id)) {
        return Ok(p.id.clone());
    }
    if catalogue.person(name).is_some() {
        return Ok(name.to_owned());
    }
    Err(match phone {
        Some(d) => format!("no person named '{name}' or with the phone {d} in [[people]]"),
        None => format!("no person named '{name}' in [[people]]"),
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::config::catalogue::Person;
    use crate::domain::schedule::Why;

    #[derive(Deserialize)]
    struct File {
        #[serde(default)]
        people: Vec<Person>,
        #[serde(default)]
        schedules: Vec<RawSchedule>,
    }

    const PEOPLE: &str = r#"
[[people]]
id = "zhangwei"
name = "张伟"
phone = "138-0013-8001"
roles = ["engineer"]
[[people]]
id = "lina"
name = "李娜"
phone = "138-0013-8002"
roles = ["engineer"]
[[people]]
id = "sunli"
name = "孙丽"
roles = ["leader"]
"#;

    fn build_text(text: &str, dir: &Path) -> (BTreeMap<String, Schedule>, Vec<(String, String)>) {
        let file: File = toml::from_str(&format!("{PEOPLE}\n{text}")).unwrap();
        let catalogue = Catalogue { people: file.people, ..Catalogue::default() };
        let mut p = Problems::default();
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let built = build(&file.schedules, &catalogue, &tz, dir, &mut p);
        (built, p.0)
    }

    fn at(s: &str) -> Timestamp {
        TimeZone::get("Asia/Shanghai").unwrap().to_timestamp(s.parse().unwrap()).unwrap()
    }

    #[test]
    fn a_good_schedule_builds() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rosters")).unwrap();
        let mut f = std::fs::File::create(dir.path().join("rosters/nd.csv")).unwrap();
        f.write_all("日期,班次,值班人,电话\n10月1日,白班,张伟,\n10月1日,值守,李娜,\n".as_bytes()).unwrap();
        let (built, problems) = build_text(
            r#"
[[schedules]]
id = "onsite"
name = "驻场值班"
rosters = [{ file = "rosters/nd.csv", year = 2026 }]
shift_times = { "值守" = "17:30-08:30" }
[[schedules.layers]]
name = "夜间及周末"
members = ["zhangwei", "lina"]
rotation = "weekly"
start = "2026-01-05T08:30"
[[schedules.layers]]
name = "工作日白班"
members = ["lina", "zhangwei"]
rotation = "daily"
start = "2026-01-05T08:30"
weekdays = ["mon-fri"]
hours = "08:30-17:30"
[[schedules.overrides]]
person = "lina"
replaces = "zhangwei"
from = "2026-01-06T08:30"
until = "2026-01-06T17:30"
requested_by = "zhangwei"
approved_by = "sunli"
reason = "家中有事"
"#,
            dir.path(),
        );
        assert_eq!(problems, vec![]);
        let s = &built["onsite"];
        assert_eq!(
            (s.name(), s.layers().len(), s.overrides().len(), s.roster().len()),
            ("驻场值班", 2, 1, 2)
        );
        assert_eq!(s.overrides()[0].approver(), Some("sunli"));
        let on = s.on_call_at(at("2026-01-06T10:00"));
        assert_eq!(on[0].person, "lina");
        assert!(matches!(on[0].why, Why::Override { .. }));
        let night = s.on_call_at(at("2026-10-01T20:00"));
        assert_eq!(night[0].person, "lina", "the roster's own shift name from shift_times");
        assert_eq!(night[0].end, Some(at("2026-10-02T08:30")));
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("bad.csv"),
            "日期,班次,值班人\n2026-10-01,白班,王五\n2026-10-02,白班,赵六\n",
        )
        .unwrap();
        let (_, problems) = build_text(
            r#"
[[schedules]]
id = "bad id"
name = ""
time_zone = "Mars/Olympus"
rosters = ["bad.csv", "missing.csv", "notes.txt.doc"]
shift_times = { "早班" = "8-ish" }
[[schedules.layers]]
name = "x"
members = ["zhangwei", "nobody"]
rotation = "fortnightly"
start = "yesterday"
weekdays = ["mon", "funday"]
hours = "08:30"
[[schedules.layers]]
name = "empty"
members = []
rotation = "daily"
start = "2026-01-05T08:30"
[[schedules.overrides]]
person = "ghost"
replaces = "zhangwei"
from = "2026-01-06T08:30"
until = "2026-01-06T08:30"
approved_by = "nobody"

[[schedules]]
id = "dup"
name = "a"
[[schedules]]
id = "dup"
name = "b"
[[schedules.overrides]]
person = "lina"
from = "2026-01-07T08:30"
until = "2026-01-06T08:30"
"#,
            dir.path(),
        );
        let keys: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "schedules[0].id",
                "schedules[0].name",
                "schedules[0].time_zone",
                "schedules[0].layers[0].members[1]",
                "schedules[0].layers[0].rotation",
                "schedules[0].layers[0].start",
                "schedules[0].layers[0].weekdays[1]",
                "schedules[0].layers[0].hours",
                "schedules[0].layers[1].members",
                "schedules[0].overrides[0].person",
                "schedules[0].overrides[0].approved_by",
                "schedules[0].shift_times.早班",
                "schedules[0].rosters[0]",
                "schedules[0].rosters[0]",
                "schedules[0].rosters[1]",
                "schedules[0].rosters[2]",
                "schedules[2].id",
                "schedules[2].overrides[0].until",
            ],
            "{problems:#?}"
        );
        assert_eq!(problems[3].1, "unknown person 'nobody' (not in [[people]])");
        assert_eq!(problems[12].1, "bad.csv: row 2, column 值班人: no person named '王五' in [[people]]");
        assert_eq!(problems[13].1, "bad.csv: row 3, column 值班人: no person named '赵六' in [[people]]");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = "[[schedules]]\nid = \"a\"\nname = \"b\"\n[[schedules.layers]]\nname = \"x\"\nmembers = []\nrotation = \"daily\"\nstart = \"2026-01-01T00:00\"\nweekday = [\"mon\"]\n";
        assert!(toml::from_str::<File>(text).is_err());
    }

    #[test]
    fn roster_names_resolve_by_name_then_phone() {
        let file: File = toml::from_str(&format!(
            "{PEOPLE}\n[[people]]\nid = \"zhangwei2\"\nname = \"张伟\"\nphone = \"139 0000 0000\"\nroles = [\"engineer\"]\n"
        ))
        .unwrap();
        let c = Catalogue { people: file.people, ..Catalogue::default() };
        assert_eq!(resolve_person(&c, "李娜", None), Ok("lina".into()));
        assert_eq!(resolve_person(&c, "张伟", Some("+86 139-0000-0000")), Ok("zhangwei2".into()));
        assert!(resolve_person(&c, "张伟", None).unwrap_err().contains("2 people are named '张伟'"));
        assert_eq!(resolve_person(&c, "Li Na", Some("13800138002")), Ok("lina".into()));
        assert!(resolve_person(&c, "王五", Some("123")).is_err());
    }
}
