//! The neutral inbound alert: what every webhook format is turned into.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Which sender format a webhook body is in. The web layer picks it from the URL path
/// (`/api/v1/webhooks/<segment>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Alertmanager,
    Grafana,
    Zabbix,
    Generic,
}

impl SourceKind {
    /// Every source, in a stable order.
    pub const ALL: [SourceKind; 4] =
        [SourceKind::Alertmanager, SourceKind::Grafana, SourceKind::Zabbix, SourceKind::Generic];

    /// The lowercase name used in URLs, configuration and storage.
    pub fn as_str(&self) -> &'static str {
        match self {
            SourceKind::Alertmanager => "alertmanager",
            SourceKind::Grafana => "grafana",
            SourceKind::Zabbix => "zabbix",
            SourceKind::Generic => "generic",
        }
    }

    /// The source named by a URL path segment; exact lowercase match only.
    pub fn from_path_segment(s: &str) -> Option<Self> {
        SourceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the sender says the fault is happening or over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    /// `"firing"` or `"resolved"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

impl fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alert as a sender reported it, in sender-neutral terms. Carries no decisions: the core
/// maps `severity_hint`, `system` and `unit` onto its own catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundAlert {
    pub source: SourceKind,
    pub status: AlertStatus,
    /// Stable identity of the fault at the sender (AM/Grafana `fingerprint`, Zabbix problem `event_id`,
    /// generic `dedup_key` or, when absent, a deterministic hash of title+system+unit). Never empty.
    pub fingerprint: String,
    /// Identity of this occurrence/notification for idempotency, if the sender gives one:
    /// AM/Grafana: fingerprint + "@" + startsAt (RFC3339) + "/" + status; Zabbix: event_id + "/" + event_value (+ recovery_event_id when present);
    /// generic: its optional `event_id`. Used by the core to ignore exact re-deliveries.
    pub occurrence_id: Option<String>,
    /// Never empty: falls back to the alert name, the event name or an "(untitled …)" text.
    pub title: String,
    /// May be empty.
    pub description: String,
    /// Raw sender severity text, e.g. "critical", "warning", "5" (Zabbix nseverity), "一级".
    pub severity_hint: Option<String>,
    /// Business system (业务系统) name as sent.
    pub system: Option<String>,
    /// Court/unit (单位) as sent.
    pub unit: Option<String>,
    /// All sender labels/tags. Annotations go into `description`/`link`, not here.
    pub labels: BTreeMap<String, String>,
    pub starts_at: Option<jiff::Timestamp>,
    /// Alertmanager's and Grafana's zero time "0001-01-01T00:00:00Z" becomes `None`.
    pub ends_at: Option<jiff::Timestamp>,
    /// generatorURL / panelURL / dashboardURL / Zabbix event URL.
    pub link: Option<String>,
}

impl InboundAlert {
    /// True when the sender says the fault is over.
    pub fn is_resolved(&self) -> bool {
        self.status == AlertStatus::Resolved
    }

    /// The value of one label or tag, if sent.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_kind_names_round_trip() {
        for kind in SourceKind::ALL {
            assert_eq!(SourceKind::from_path_segment(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(SourceKind::from_path_segment("Grafana"), None);
        assert_eq!(SourceKind::from_path_segment(""), None);
        assert_eq!(SourceKind::from_path_segment("prometheus"), None);
    }

    #[test]
    fn status_names() {
        assert_eq!(AlertStatus::Firing.as_str(), "firing");
        assert_eq!(AlertStatus::Resolved.to_string(), "resolved");
    }
}
