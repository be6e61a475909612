//! `[[emergency_plans]]`: 应急预案 — see [`crate::domain::emergency`].

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Problems;
use super::catalogue::Catalogue;
use super::paging::target;
use crate::domain::Severity;
use crate::domain::emergency::EmergencyPlan;
use crate::domain::schedule::Schedule;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPlan {
    id: String,
    name: String,
    #[serde(default = "default_levels")]
    levels: Vec<u8>,
    #[serde(default)]
    systems: Vec<String>,
    #[serde(default)]
    keywords: Vec<String>,
    /// "auto" (activate when a matching incident opens) or "offer" (ask in the channels).
    #[serde(default = "default_activate")]
    activate: String,
    group: Vec<String>,
    #[serde(default)]
    channels: Vec<String>,
    checklist: Vec<String>,
}

fn default_levels() -> Vec<u8> {
    vec![1]
}

fn default_activate() -> String {
    "offer".into()
}

pub(super) fn build(
    raw: &[RawPlan],
    catalogue: &Catalogue,
    schedules: &BTreeMap<String, Schedule>,
    channel_names: &[&str],
    p: &mut Problems,
) -> BTreeMap<String, EmergencyPlan> {
    let mut plans = BTreeMap::new();
    for (i, r) in raw.iter().enumerate() {
        let key = |f: &str| format!("emergency_plans[{i}].{f}");
        if !super::catalogue::valid_id(&r.id) || plans.contains_key(&r.id) {
            p.add(key("id"), format!("'{}' is not a unique id (letters, digits, - and _)", r.id));
        }
        let levels = r
            .levels
            .iter()
            .filter_map(|l| {
                Severity::from_level(i64::from(*l)).or_else(|| {
                    p.add(key("levels"), format!("{l} is not a level; use 1 (一级) to 4 (四级)"));
                    None
                })
            })
            .collect();
        let systems = r
            .systems
            .iter()
            .filter_map(|s| match catalogue.find_system(s) {
                Some(x) => Some(x.id.clone()),
                None => {
                    p.add(key("systems"), format!("'{s}' is not a system in the catalogue"));
                    None
                }
            })
            .collect();
        let auto = match r.activate.as_str() {
            "auto" => true,
            "offer" => false,
            other => {
                p.add(key("activate"), format!("'{other}' is not auto or offer"));
                false
            }
        };
        let group: Vec<_> = r
            .group
            .iter()
            .enumerate()
            .filter_map(|(k, t)| target(p, &key(&format!("group[{k}]")), t, catalogue, schedules))
            .collect();
        if r.group.is_empty() {
            p.add(
                key("group"),
                "name the emergency group (应急小组), e.g. [\"role:leader\", \"team:second\"]",
            );
        }
        for c in &r.channels {
            if !channel_names.contains(&c.as_str()) {
                p.add(key("channels"), format!("no chat channel is named '{c}' (chat.channels)"));
            }
        }
        if r.checklist.is_empty() || r.checklist.len() > 30 {
            p.add(key("checklist"), "list the plan's steps (1 to 30)");
        }
        plans.insert(
            r.id.clone(),
            EmergencyPlan {
                id: r.id.clone(),
                name: r.name.clone(),
                levels,
                systems,
                keywords: r.keywords.clone(),
                auto,
                group,
                channels: r.channels.clone(),
                checklist: r.checklist.clone(),
            },
        );
    }
    plans
}
