//! From a sender's alert to a report the incident core understands: the sender's severity mapped
//! per source, then the classifier (定级) over the alert's text with the sender's system and unit as
//! hints. The reasons travel with the report and open the incident's timeline.

use std::collections::BTreeMap;

use zhiban_integrations::{AlertStatus, InboundAlert};

use crate::config::{Language, SourceConfig};
use crate::domain::Severity;
use crate::domain::classify::{Classification, Classifier, ClassifyInput};

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
    /// Why this level (定级依据), in the configured language.
    pub reasons: Vec<String>,
    /// Catalogue ids, when the sender's names were recognised.
    pub system: Option<String>,
    pub unit: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub link: Option<String>,
    /// The person who reported it (through the API or chat); `None` for monitoring senders.
    pub reporter: Option<crate::domain::PersonId>,
}

/// The fault a person's report is about, for joining reports (chat, mail): the same system at the
/// same unit is one fault while its ticket is open. `None` when no system was recognised: then
/// each report stands alone.
pub fn reported_fault(system: Option<&str>, unit: Option<&str>) -> Option<String> {
    system.map(|s| format!("system:{s}:unit:{}", unit.unwrap_or("-")))
}

/// Longest title and description kept; senders sometimes put whole logs in them.
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 8000;

/// Text fit to store: NUL characters removed (PostgreSQL refuses them in TEXT, and a sender would
/// retry the same body forever) and cut to `max` characters.
pub fn clean_text(s: &str, max: usize) -> String {
    let s: String = s.chars().filter(|c| *c != '\0').collect();
    truncate_chars(&s, max)
}

/// The sender's own severity, through the source's map (or a level written the way people do).
/// A hint the map does not know falls back to the source's default.
pub fn sender_severity(hint: Option<&str>, source: &SourceConfig) -> Option<Severity> {
    let key = hint?.trim().to_lowercase();
    source
        .severity_map
        .get(&key)
        .copied()
        .or_else(|| key.parse::<Severity>().ok())
        .or(source.default_severity)
}

pub fn reason_texts(c: &Classification, language: Language) -> Vec<String> {
    c.reasons
        .iter()
        .map(|r| match language {
            Language::ZhCn => r.text_zh.clone(),
            Language::En => r.text_en.clone(),
        })
        .collect()
}

pub fn report_from_alert(
    alert: InboundAlert,
    source: &SourceConfig,
    classifier: &Classifier,
    language: Language,
) -> Report {
    let title = clean_text(&alert.title, MAX_TITLE_CHARS);
    let description = clean_text(&alert.description, MAX_DESCRIPTION_CHARS);
    let labels = alert.labels.iter().map(|(k, v)| (clean_text(k, 200), clean_text(v, 1000))).collect();
    let link = alert.link.as_deref().map(|l| clean_text(l, 2000));
    let text = if description.is_empty() { title.clone() } else { format!("{title}\n{description}") };
    let c = classifier.classify(&ClassifyInput {
        text: &text,
        sender_severity: sender_severity(alert.severity_hint.as_deref(), source),
        system_hint: alert.system.as_deref(),
        unit_hint: alert.unit.as_deref(),
    });
    Report {
        source: alert.source.as_str().to_string(),
        fingerprint: clean_text(&alert.fingerprint, 1000),
        occurrence_id: alert.occurrence_id.as_deref().map(|o| clean_text(o, 1000)),
        resolved: alert.status == AlertStatus::Resolved,
        title,
        description,
        severity: c.severity,
        reasons: reason_texts(&c, language),
        system: c.system,
        unit: c.unit,
        labels,
        link,
        reporter: None,
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
    use crate::config::catalogue::{Catalogue, Criticality, System};
    use crate::config::{DEFAULT_RULES, Secret, SourceAuth};
    use crate::domain::classify::RuleSet;
    use zhiban_integrations::SourceKind;

    fn alert(title: &str, hint: Option<&str>, system: Option<&str>) -> InboundAlert {
        InboundAlert {
            source: SourceKind::Alertmanager,
            status: AlertStatus::Firing,
            fingerprint: "fp1".into(),
            occurrence_id: None,
            title: title.into(),
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
            severity_map: [("critical".to_string(), Severity::One), ("info".to_string(), Severity::Four)]
                .into(),
            default_severity: Some(Severity::Two),
        }
    }

    fn classifier() -> Classifier {
        let catalogue = Catalogue {
            systems: vec![System {
                id: "tyyw".into(),
                name: "统一业务应用系统".into(),
                aliases: vec!["统一业务".into()],
                criticality: Criticality::Critical,
                team: "onsite".into(),
                units: vec![],
            }],
            ..Default::default()
        };
        Classifier::new(RuleSet::from_toml(DEFAULT_RULES).unwrap(), &catalogue).unwrap()
    }

    #[test]
    fn the_sender_severity_is_mapped_per_source() {
        let s = source();
        assert_eq!(sender_severity(Some("CRITICAL"), &s), Some(Severity::One));
        assert_eq!(sender_severity(Some("三级"), &s), Some(Severity::Three));
        assert_eq!(sender_severity(Some("weird"), &s), Some(Severity::Two), "unknown hints take the default");
        assert_eq!(sender_severity(None, &s), None);
    }

    #[test]
    fn the_text_can_raise_a_mild_sender_severity_and_reasons_explain() {
        let c = classifier();
        let r = report_from_alert(
            alert("统一业务应用系统宕机", Some("info"), None),
            &source(),
            &c,
            Language::ZhCn,
        );
        assert_eq!(r.severity, Severity::One);
        assert_eq!(r.system.as_deref(), Some("tyyw"));
        assert!(r.reasons.iter().any(|x| x.contains("宕机")), "{:?}", r.reasons);
    }

    #[test]
    fn systems_are_found_by_the_senders_label() {
        let c = classifier();
        let r = report_from_alert(alert("磁盘空间不足", None, Some("统一业务")), &source(), &c, Language::En);
        assert_eq!(r.system.as_deref(), Some("tyyw"));
        assert!(!r.reasons.is_empty());
    }

    #[test]
    fn nul_characters_never_reach_the_store() {
        assert_eq!(clean_text("审判\0系统", 10), "审判系统");
    }

    #[test]
    fn long_titles_are_cut_on_a_character_boundary() {
        assert_eq!(truncate_chars("审判系统", 2), "审判…");
        assert_eq!(truncate_chars("审判", 2), "审判");
    }
}
