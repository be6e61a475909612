//! `[[drills]]`: written drill plans (演练方案) — see [`crate::domain::drill`].

use std::collections::BTreeMap;

use jiff::SignedDuration;
use jiff::tz::TimeZone;
use serde::Deserialize;

use super::Problems;
use super::catalogue::Catalogue;
use super::paging::{duration, target};
use crate::domain::PersonId;
use crate::domain::cron::CronSchedule;
use crate::domain::drill::{DrillPlan, Objective, ObjectiveKind, SimulatedIncident};
use crate::domain::escalation::Tier;
use crate::domain::schedule::Schedule;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDrill {
    id: String,
    name: String,
    scenario: String,
    lead: Option<String>,
    incident: RawIncident,
    /// Tiers in paging order: `[["schedule:onsite"], ["team:second"]]`.
    participants: Vec<Vec<String>>,
    /// How long each tier has to acknowledge before the next is paged. Default 5m.
    tier_timeout: Option<String>,
    #[serde(default)]
    channels: Vec<String>,
    #[serde(default)]
    objectives: RawObjectives,
    schedule: Option<String>,
    announce_before: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIncident {
    title: String,
    #[serde(default)]
    text: String,
    level: u8,
    system: Option<String>,
    unit: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObjectives {
    ack: Option<String>,
    on_site: Option<String>,
    restore: Option<String>,
}

pub(super) fn build(
    raw: &[RawDrill],
    catalogue: &Catalogue,
    schedules: &BTreeMap<String, Schedule>,
    channel_names: &[&str],
    timezone: &TimeZone,
    p: &mut Problems,
) -> BTreeMap<String, DrillPlan> {
    let mut plans = BTreeMap::new();
    for (i, d) in raw.iter().enumerate() {
        let key = |f: &str| format!("drills[{i}].{f}");
        if !super::catalogue::valid_id(&d.id) {
            p.add(key("id"), format!("'{}' is not an id (letters, digits, - and _)", d.id));
        }
        if plans.contains_key(&d.id) {
            p.add(key("id"), format!("two drills have the id '{}'", d.id));
        }
        let lead = d.lead.as_ref().map(|l| {
            if catalogue.person(l).is_none() {
                p.add(key("lead"), format!("no person has the id '{l}'"));
            }
            PersonId(l.clone())
        });
        let severity =
            crate::domain::Severity::from_level(i64::from(d.incident.level)).unwrap_or_else(|| {
                p.add(
                    key("incident.level"),
                    format!("{} is not a level; use 1 (一级) to 4 (四级)", d.incident.level),
                );
                crate::domain::Severity::Four
            });
        let system = d.incident.system.as_ref().and_then(|s| match catalogue.find_system(s) {
            Some(x) => Some(x.id.clone()),
            None => {
                p.add(key("incident.system"), format!("'{s}' is not a system in the catalogue"));
                None
            }
        });
        let unit = d.incident.unit.as_ref().and_then(|u| match catalogue.find_unit(u) {
            Some(x) => Some(x.id.clone()),
            None => {
                p.add(key("incident.unit"), format!("'{u}' is not a unit in the catalogue"));
                None
            }
        });
        let tier_timeout = d
            .tier_timeout
            .as_deref()
            .and_then(|t| duration(p, &key("tier_timeout"), t, false))
            .unwrap_or(SignedDuration::from_mins(5));
        if d.participants.is_empty() {
            p.add(
                key("participants"),
                "name who takes part, e.g. [[\"schedule:onsite\"], [\"team:second\"]]",
            );
        }
        let tiers = d
            .participants
            .iter()
            .enumerate()
            .map(|(t, targets)| Tier {
                targets: targets
                    .iter()
                    .enumerate()
                    .filter_map(|(k, x)| {
                        target(p, &key(&format!("participants[{t}][{k}]")), x, catalogue, schedules)
                    })
                    .collect(),
                ack_timeout: tier_timeout,
            })
            .collect();
        for c in &d.channels {
            if !channel_names.contains(&c.as_str()) {
                p.add(key("channels"), format!("no chat channel is named '{c}' (chat.channels)"));
            }
        }
        let mut objectives = Vec::new();
        for (kind, text, field) in [
            (ObjectiveKind::Acknowledge, &d.objectives.ack, "objectives.ack"),
            (ObjectiveKind::OnSite, &d.objectives.on_site, "objectives.on_site"),
            (ObjectiveKind::Restore, &d.objectives.restore, "objectives.restore"),
        ] {
            if let Some(within) = text.as_deref().and_then(|t| duration(p, &key(field), t, false)) {
                objectives.push(Objective { kind, within });
            }
        }
        if let Some(expr) = &d.schedule
            && let Err(e) = CronSchedule::parse(expr, timezone.clone())
        {
            p.add(key("schedule"), e.to_string());
        }
        let announce_before = d
            .announce_before
            .as_deref()
            .and_then(|t| duration(p, &key("announce_before"), t, true))
            .unwrap_or(SignedDuration::ZERO);
        let title = if d.incident.title.contains("演练") {
            d.incident.title.clone()
        } else {
            format!("【演练】{}", d.incident.title)
        };
        plans.insert(
            d.id.clone(),
            DrillPlan {
                id: d.id.clone(),
                name: d.name.clone(),
                scenario: d.scenario.clone(),
                lead,
                incident: SimulatedIncident { title, text: d.incident.text.clone(), severity, system, unit },
                tiers,
                channels: d.channels.clone(),
                objectives,
                schedule: d.schedule.clone(),
                announce_before,
            },
        );
    }
    plans
}

/// A plan sent through the API (the keys of `[[drills]]`, as JSON), checked like the file's.
pub fn plan_from_json(
    config: &super::Config,
    id: &str,
    body: &serde_json::Value,
) -> Result<DrillPlan, Vec<String>> {
    let mut body = body.clone();
    if let Some(object) = body.as_object_mut() {
        object.insert("id".into(), serde_json::Value::String(id.to_string()));
    }
    let raw: RawDrill =
        serde_path_to_error::deserialize(body).map_err(|e| vec![format!("{}: {}", e.path(), e.inner())])?;
    let channel_names: Vec<&str> = config.chat.channels.iter().map(|c| c.name.as_str()).collect();
    let mut p = Problems::default();
    let mut plans = build(
        std::slice::from_ref(&raw),
        &config.catalogue,
        &config.schedules,
        &channel_names,
        &config.server.timezone,
        &mut p,
    );
    let problems = p.lines();
    if !problems.is_empty() {
        return Err(problems);
    }
    plans.remove(id).ok_or_else(|| vec![format!("id: '{id}' is not a plan id")])
}
