//! From a sender's alert to a report the incident core understands: the sender's severity mapped
//! per source, the system and unit looked up in the catalogue. (The full classifier — free text,
//! keywords, scope, correlation — builds on this.)

use std::collections::BTreeMap;

use zhiban_integrations::{AlertStatus, InboundAlert};

use crate::config::{Catalogue, SourceConfig};
use crate::domain::Severity;

/// A fault report, from any channel, ready for intake.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The channel or sender kind (`alertmanager`, `generic`, …): part of the dedup key.
    pub source: String,
    /// The sender's stable identity of the fault.
    pub fingerprint: String,
    /// The sender's id of this delivery, for idempotency.
    pub occurrence_id: Option<String>,
    pub resolved: bool,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    /// Catalogue ids, when the sender's names were recognised.
    pub system: Option<String>,
    pub unit: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub link: Option<String>,
}

/// Longest title and description kept; senders sometimes put whole logs in them.
const MAX_TITLE_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 8000;

pub fn report_from_alert(
    alert: InboundAlert,
    source: &SourceConfig,
    catalogue: &Catalogue,
    default_severity: Severity,
) -> Report {
    let severity = alert
        .severity_hint
        .as_deref()
        .and_then(|hint| {
            let key = hint.trim().to_lowercase();
            source.severity_map.get(&key).copied().or_else(|| key.parse::<Severity>().ok())
        })
        .or(source.default_severity)
        .unwrap_or(default_severity);
    let system = alert.system.as_deref().and_then(|s| catalogue.find_system(s)).map(|s| s.id.clone());
    let unit = alert.unit.as_deref().and_then(|u| catalogue.find_unit(u)).map(|u| u.id.clone());
    Report {
        source: alert.source.as_str().to_string(),
        fingerprint: alert.fingerprint,
        occurrence_id: alert.occurrence_id,
        resolved: alert.status == AlertStatus::Resolved,
        title: truncate_chars(&alert.title, MAX_TITLE_CHARS),
        description: truncate_chars(&alert.description, MAX_DESCRIPTION_CHARS),
        severity,
        system,
        unit,
        labels: alert.labels,
        link: alert.link,
    }
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::catalogue::{Criticality, System};
    use crate::config::{Secret, SourceAuth};
    use zhiban_integrations::SourceKind;

    fn alert(hint: Option<&str>, system: Option<&str>) -> InboundAlert {
        InboundAlert {
            source: SourceKind::Alertmanager,
            status: AlertStatus::Firing,
            fingerprint: "fp1".into(),
            occurrence_id: None,
            title: "数据库连接失败".into(),
            description: String::new(),
            severity_hint: hint.map(String::from),
            system: system.map(String::from),
            unit: None,
            labels: Default::default(),
            starts_at: None,
            ends_at: None,
            link: None,
        }
    }

    fn source() -> SourceConfig {
        SourceConfig {
            auth: SourceAuth::Bearer(Secret::new("x".repeat(16))),
            severity_map: [("critical".to_string(), Severity::One)].into(),
            default_severity: Some(Severity::Two),
        }
    }

    fn catalogue() -> Catalogue {
        Catalogue {
            systems: vec![System {
                id: "tyyw".into(),
                name: "统一业务应用系统".into(),
                aliases: vec!["统一业务".into()],
                criticality: Criticality::Critical,
                team: "onsite".into(),
                units: vec![],
            }],
            ..Default::default()
        }
    }

    #[test]
    fn severity_comes_from_the_map_then_the_text_then_defaults() {
        let c = catalogue();
        assert_eq!(
            report_from_alert(alert(Some("CRITICAL"), None), &source(), &c, Severity::Four).severity,
            Severity::One
        );
        assert_eq!(
            report_from_alert(alert(Some("三级"), None), &source(), &c, Severity::Four).severity,
            Severity::Three
        );
        assert_eq!(
            report_from_alert(alert(Some("weird"), None), &source(), &c, Severity::Four).severity,
            Severity::Two
        );
        let no_default = SourceConfig { default_severity: None, ..source() };
        assert_eq!(
            report_from_alert(alert(None, None), &no_default, &c, Severity::Four).severity,
            Severity::Four
        );
    }

    #[test]
    fn systems_are_found_by_alias() {
        let r = report_from_alert(alert(None, Some("统一业务")), &source(), &catalogue(), Severity::Four);
        assert_eq!(r.system.as_deref(), Some("tyyw"));
        let r = report_from_alert(alert(None, Some("未知系统")), &source(), &catalogue(), Severity::Four);
        assert_eq!(r.system, None);
    }

    #[test]
    fn long_titles_are_cut_on_a_character_boundary() {
        assert_eq!(truncate_chars("审判系统", 2), "审判…");
        assert_eq!(truncate_chars("审判", 2), "审判");
    }
}
