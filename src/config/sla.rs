//! `[calendars]` and `[sla]`: working calendars and SLA policies, validated into an [`SlaBook`].

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::SignedDuration;
use jiff::tz::TimeZone;
use serde::Deserialize;

use super::Problems;
use crate::domain::Severity;
use crate::domain::calendar::{Calendar, CalendarSpec, HolidayTable, WorkingCalendar, WorkingHours};
use crate::domain::sla::{LevelTargets, SlaBook, SlaPolicy, Target, Within};

/// The calendars every deployment has without configuring them.
pub const ALWAYS: &str = "always";
pub const WORKING: &str = "working";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSla {
    /// The policy for incidents of systems not listed in `systems`.
    default_policy: Option<String>,
    /// Warn when this share of a target's time has passed; 0 = no warnings.
    #[serde(default = "default_warn")]
    warn_at_percent: u8,
    /// System id → policy id.
    #[serde(default)]
    systems: BTreeMap<String, String>,
    #[serde(default)]
    policies: BTreeMap<String, RawPolicy>,
}

fn default_warn() -> u8 {
    80
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    title: String,
    /// The calendar of targets that do not name their own.
    #[serde(default = "always")]
    calendar: String,
    levels: BTreeMap<String, RawLevel>,
}

fn always() -> String {
    ALWAYS.into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevel {
    respond: RawTarget,
    progress: Option<RawTarget>,
    resolve: RawTarget,
    /// The calendar of this level's targets (overrides the policy's).
    calendar: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawTarget {
    /// "30m", "8h", "5 working days" (also "5工作日").
    Short(String),
    Full {
        within: String,
        calendar: Option<String>,
    },
}

/// Parse "30m", "1h 30m", "72h", or "5 working days" / "5个工作日" / "5工作日".
pub fn parse_within(text: &str) -> Result<Within, String> {
    let t = text.trim();
    let days = t
        .strip_suffix("working days")
        .or_else(|| t.strip_suffix("working day"))
        .or_else(|| t.strip_suffix("个工作日"))
        .or_else(|| t.strip_suffix("工作日"));
    if let Some(n) = days {
        return n
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=60).contains(n))
            .map(Within::WorkingDays)
            .ok_or_else(|| format!("'{text}': the number of working days must be 1 to 60"));
    }
    match t.parse::<SignedDuration>() {
        Ok(d) if d.is_positive() && d <= SignedDuration::from_hours(24 * 60) => Ok(Within::Duration(d)),
        Ok(_) => Err(format!("'{text}' must be positive and at most 60 days")),
        Err(_) => {
            Err(format!("'{text}' is not a duration; write e.g. \"30m\", \"8h\" or \"5 working days\""))
        }
    }
}

/// Build the calendars and the SLA book; every problem goes to `p`.
pub(super) fn build(
    raw_calendars: &BTreeMap<String, CalendarSpec>,
    raw: &RawSla,
    holidays: Arc<HolidayTable>,
    timezone: &TimeZone,
    system_ids: &[&str],
    p: &mut Problems,
) -> (Option<Arc<SlaBook>>, BTreeMap<String, String>) {
    let mut calendars: BTreeMap<String, Arc<Calendar>> = BTreeMap::new();
    calendars.insert(ALWAYS.into(), Arc::new(Calendar::Always));
    calendars.insert(
        WORKING.into(),
        Arc::new(Calendar::Working(
            WorkingCalendar::new(WorkingHours::court_default(), holidays.clone(), timezone.clone())
                .expect("the default working hours are valid"),
        )),
    );
    for (name, spec) in raw_calendars {
        if name == ALWAYS {
            p.add(format!("calendars.{name}"), "'always' is built in (7×24) and cannot be redefined");
            continue;
        }
        match spec.build(holidays.clone(), timezone) {
            Ok(c) => {
                calendars.insert(name.clone(), Arc::new(c));
            }
            Err(e) => p.add(format!("calendars.{name}"), e.to_string()),
        }
    }

    let mut policies = BTreeMap::new();
    for (id, rp) in &raw.policies {
        let key = |rest: &str| format!("sla.policies.{id}{rest}");
        let mut levels = BTreeMap::new();
        for (level_text, rl) in &rp.levels {
            let Some(level) = level_text.parse::<i64>().ok().and_then(Severity::from_level) else {
                p.add(key(&format!(".levels.{level_text}")), "levels are 1 to 4");
                continue;
            };
            let default_cal = rl.calendar.clone().unwrap_or_else(|| rp.calendar.clone());
            let mut target = |field: &str, rt: &RawTarget| -> Option<Target> {
                let (within, cal) = match rt {
                    RawTarget::Short(w) => (w.as_str(), default_cal.clone()),
                    RawTarget::Full { within, calendar } => {
                        (within.as_str(), calendar.clone().unwrap_or_else(|| default_cal.clone()))
                    }
                };
                let k = key(&format!(".levels.{level_text}.{field}"));
                if !calendars.contains_key(&cal) {
                    p.add(
                        k.clone(),
                        format!("no calendar '{cal}' (built in: always, working; others under [calendars])"),
                    );
                    return None;
                }
                match parse_within(within) {
                    Ok(within) => Some(Target { within, calendar: cal }),
                    Err(e) => {
                        p.add(k, e);
                        None
                    }
                }
            };
            let respond = target("respond", &rl.respond);
            let progress = rl.progress.as_ref().map(|t| target("progress", t));
            let resolve = target("resolve", &rl.resolve);
            if let (Some(respond), Some(resolve)) = (respond, resolve) {
                levels.insert(level, LevelTargets { respond, progress: progress.flatten(), resolve });
            }
        }
        for level in Severity::ALL {
            if !rp.levels.contains_key(&level.level().to_string()) {
                p.add(
                    key(".levels"),
                    format!("level {} has no targets; give all four levels", level.level()),
                );
            }
        }
        policies.insert(id.clone(), SlaPolicy { id: id.clone(), title: rp.title.clone(), levels });
    }
    if let Some(d) = &raw.default_policy
        && !raw.policies.contains_key(d)
    {
        p.add("sla.default_policy", format!("no policy '{d}' under [sla.policies]"));
    }
    for (system, policy) in &raw.systems {
        if !system_ids.contains(&system.as_str()) {
            p.add(format!("sla.systems.{system}"), format!("no system has the id '{system}'"));
        }
        if !raw.policies.contains_key(policy) {
            p.add(format!("sla.systems.{system}"), format!("no policy '{policy}' under [sla.policies]"));
        }
    }
    if raw.warn_at_percent >= 100 {
        p.add("sla.warn_at_percent", "must be below 100 (0 = no warnings)");
    }
    if policies.is_empty() {
        return (None, raw.systems.clone());
    }
    let warn_at = (raw.warn_at_percent > 0 && raw.warn_at_percent < 100)
        .then(|| f64::from(raw.warn_at_percent) / 100.0);
    let book = SlaBook { policies, calendars, warn_at, default_policy: raw.default_policy.clone() };
    (Some(Arc::new(book)), raw.systems.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_written_for_people() {
        assert_eq!(parse_within("30m"), Ok(Within::Duration(SignedDuration::from_mins(30))));
        assert_eq!(parse_within("1h 30m"), Ok(Within::Duration(SignedDuration::from_mins(90))));
        assert_eq!(parse_within("5 working days"), Ok(Within::WorkingDays(5)));
        assert_eq!(parse_within("5个工作日"), Ok(Within::WorkingDays(5)));
        assert!(parse_within("soon").is_err());
        assert!(parse_within("0 working days").is_err());
        assert!(parse_within("-5m").is_err());
    }
}
