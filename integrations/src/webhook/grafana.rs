//! Grafana unified alerting webhook contact point (Grafana 9 and later; payload `version` "1").
//!
//! The body is Alertmanager's with additions; each element of `alerts` becomes one
//! [`InboundAlert`].
//!
//! | neutral field   | from |
//! | --------------- | ---- |
//! | `status`        | the alert's own `status` (`firing` / `resolved`) |
//! | `fingerprint`   | `fingerprint`; if absent, FNV-1a 64 of the sorted labels |
//! | `occurrence_id` | `<fingerprint>@<startsAt as RFC 3339 UTC>/<status>`; `None` without `startsAt` |
//! | `title`         | annotation `summary`, else label `alertname`, else label `rulename` |
//! | `description`   | annotation `description`, else `valueString`, else empty |
//! | `severity_hint` | label `severity`, else `level`, else `priority` |
//! | `system`        | label `zhiban_system`, else `system`, else `service` |
//! | `unit`          | label `zhiban_unit`, else `unit` |
//! | `labels`        | the alert's labels, unchanged (including `grafana_folder`) |
//! | `starts_at`, `ends_at` | `startsAt`, `endsAt` (Go's zero time is `None`) |
//! | `link`          | `panelURL`, else `dashboardURL`, else `generatorURL` (empty strings skipped) |
//!
//! The group fields (`receiver`, `status`, `orgId`, `groupLabels`, `commonLabels`,
//! `commonAnnotations`, `externalURL`, `version`, `groupKey`, `truncatedAlerts`, `title`, `state`,
//! `message`) and the per-alert `values`, `silenceURL` and `imageURL` are accepted and ignored.
//! The `version` is not checked. Grafana's legacy (pre-8) alerting body has no `alerts` and is
//! rejected with a missing-field error.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::PayloadError;
use super::common::{
    SEVERITY_LABELS, SYSTEM_LABELS, UNIT_LABELS, decode, firing_or_resolved, first_label, labels_fingerprint,
    non_empty, parse_time,
};
use crate::{InboundAlert, SourceKind};

#[derive(Debug, Deserialize)]
struct Payload {
    alerts: Vec<Alert>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Alert {
    status: String,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    #[serde(rename = "generatorURL")]
    generator_url: Option<String>,
    fingerprint: Option<String>,
    #[serde(rename = "dashboardURL")]
    dashboard_url: Option<String>,
    #[serde(rename = "panelURL")]
    panel_url: Option<String>,
    value_string: Option<String>,
}

/// Parses a Grafana webhook body.
pub fn parse(body: &[u8]) -> Result<Vec<InboundAlert>, PayloadError> {
    let payload: Payload = decode(body)?;
    payload.alerts.into_iter().enumerate().map(|(i, alert)| convert(i, alert)).collect()
}

fn convert(index: usize, alert: Alert) -> Result<InboundAlert, PayloadError> {
    let at = |field: &str| format!("alerts[{index}].{field}");
    let status = firing_or_resolved(&at("status"), &alert.status)?;
    let labels = alert.labels.unwrap_or_default();
    let annotations = alert.annotations.unwrap_or_default();
    let starts_at = parse_time(&at("startsAt"), alert.starts_at.as_deref())?;
    let ends_at = parse_time(&at("endsAt"), alert.ends_at.as_deref())?;

    let fingerprint = non_empty(alert.fingerprint.as_deref()).unwrap_or_else(|| labels_fingerprint(&labels));
    let occurrence_id = starts_at.map(|ts| format!("{fingerprint}@{ts}/{status}"));
    let title = first_label(&annotations, &["summary"])
        .or_else(|| first_label(&labels, &["alertname", "rulename"]))
        .unwrap_or_else(|| "(untitled Grafana alert)".to_owned());
    let description = first_label(&annotations, &["description"])
        .or_else(|| non_empty(alert.value_string.as_deref()))
        .unwrap_or_default();
    let link = non_empty(alert.panel_url.as_deref())
        .or_else(|| non_empty(alert.dashboard_url.as_deref()))
        .or_else(|| non_empty(alert.generator_url.as_deref()));

    Ok(InboundAlert {
        source: SourceKind::Grafana,
        status,
        fingerprint,
        occurrence_id,
        title,
        description,
        severity_hint: first_label(&labels, SEVERITY_LABELS),
        system: first_label(&labels, SYSTEM_LABELS),
        unit: first_label(&labels, UNIT_LABELS),
        labels,
        starts_at,
        ends_at,
        link,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AlertStatus;

    const PAYLOAD: &str = include_str!("../../tests/fixtures/grafana_alerts.json");

    #[test]
    fn grafana_11_payload() {
        let alerts = parse(PAYLOAD.as_bytes()).unwrap();
        assert_eq!(alerts.len(), 2);

        let cpu = &alerts[0];
        assert_eq!(cpu.source, SourceKind::Grafana);
        assert_eq!(cpu.status, AlertStatus::Firing);
        assert_eq!(cpu.fingerprint, "c6eadffa33fcdf37");
        assert_eq!(cpu.occurrence_id.as_deref(), Some("c6eadffa33fcdf37@2026-11-24T01:51:03.157076Z/firing"));
        assert_eq!(cpu.title, "庭审直播服务器 CPU 使用率过高");
        assert_eq!(cpu.description, "最近 5 分钟平均 CPU 使用率 92%");
        assert_eq!(cpu.severity_hint.as_deref(), Some("warning"));
        assert_eq!(cpu.system.as_deref(), Some("科技法庭"));
        assert_eq!(cpu.unit.as_deref(), Some("某某县人民法院"));
        assert_eq!(cpu.label("grafana_folder"), Some("法院机房"));
        assert_eq!(
            cpu.link.as_deref(),
            Some("https://grafana.court.local/d/abc123/ting-shen?orgId=1&viewPanel=4")
        );
        assert_eq!(cpu.ends_at, None);

        let video = &alerts[1];
        assert_eq!(video.status, AlertStatus::Resolved);
        // No summary annotation: title from alertname; no description: valueString.
        assert_eq!(video.title, "视频会议MCU离线");
        assert_eq!(
            video.description,
            "[ var='A' labels={instance=mcu-01} value=0 ], [ var='B' labels={instance=mcu-01} value=1 ]"
        );
        // Empty panelURL and dashboardURL fall through to generatorURL.
        assert_eq!(
            video.link.as_deref(),
            Some("https://grafana.court.local/alerting/grafana/fe2k1x0/view?orgId=1")
        );
        assert_eq!(video.ends_at.unwrap().to_string(), "2026-11-24T02:20:00Z");
        assert_eq!(video.severity_hint, None);
    }

    #[test]
    fn rulename_and_fallback_titles() {
        let body = br#"{"alerts":[{"status":"firing","labels":{"rulename":"R1"}},{"status":"firing","values":null}]}"#;
        let alerts = parse(body).unwrap();
        assert_eq!(alerts[0].title, "R1");
        assert_eq!(alerts[1].title, "(untitled Grafana alert)");
        assert_ne!(alerts[0].fingerprint, alerts[1].fingerprint);
    }

    #[test]
    fn empty_alerts_is_not_an_error() {
        let body = br#"{"receiver":"zhiban","status":"resolved","orgId":1,"alerts":[],"version":"1"}"#;
        assert_eq!(parse(body).unwrap(), vec![]);
    }

    #[test]
    fn legacy_grafana_alerting_is_rejected_clearly() {
        let body =
            br#"{"title":"[Alerting] x","ruleId":1,"ruleName":"x","state":"alerting","evalMatches":[]}"#;
        let err = parse(body).unwrap_err();
        assert_eq!((err.kind(), err.path()), ("field", Some("alerts")));
    }

    #[test]
    fn errors_name_the_path() {
        let cases: &[(&str, &str, &str)] = &[
            (r#"{"alerts":[{"status":"firing","labels":"x"}]}"#, "field", "alerts[0].labels"),
            (r#"{"alerts":[{"status":"alerting"}]}"#, "invalid", "alerts[0].status"),
            (r#"{"alerts":[{"status":7}]}"#, "field", "alerts[0].status"),
            (r#"{"alerts":[{"status":"firing","panelURL":["x"]}]}"#, "field", "alerts[0].panelURL"),
            (
                r#"{"alerts":[{"status":"firing"},{"status":"firing","valueString":1.5}]}"#,
                "field",
                "alerts[1].valueString",
            ),
            (
                r#"{"alerts":[{"status":"firing","startsAt":"2026-11-24 10:00"}]}"#,
                "invalid",
                "alerts[0].startsAt",
            ),
        ];
        for (body, kind, path) in cases {
            let err = parse(body.as_bytes()).unwrap_err();
            assert_eq!((err.kind(), err.path()), (*kind, Some(*path)), "{body}: {err}");
        }
    }
}
