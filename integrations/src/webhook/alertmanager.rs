//! Prometheus Alertmanager `webhook_config` payload, version 4.
//!
//! One POST carries one alert group; each element of `alerts` becomes one [`InboundAlert`] with
//! its own status (a group can mix firing and resolved alerts).
//!
//! | neutral field   | from |
//! | --------------- | ---- |
//! | `status`        | the alert's own `status` (`firing` / `resolved`), not the group's |
//! | `fingerprint`   | `fingerprint`; if absent, FNV-1a 64 of the sorted labels |
//! | `occurrence_id` | `<fingerprint>@<startsAt as RFC 3339 UTC>/<status>`; `None` without `startsAt` |
//! | `title`         | annotation `summary`, else annotation `title`, else label `alertname` |
//! | `description`   | annotation `description`, else annotation `message`, else empty |
//! | `severity_hint` | label `severity`, else `level`, else `priority` |
//! | `system`        | label `zhiban_system`, else `system`, else `service` |
//! | `unit`          | label `zhiban_unit`, else `unit` |
//! | `labels`        | the alert's labels, unchanged |
//! | `starts_at`, `ends_at` | `startsAt`, `endsAt` (Go's zero time is `None`) |
//! | `link`          | `generatorURL` |
//!
//! `version` must be `"4"`. Group fields (`groupKey`, `groupLabels`, `commonLabels`,
//! `commonAnnotations`, `externalURL`, `receiver`, `truncatedAlerts`) and newer optional fields
//! such as `notification_reason` and `routeLabels` are accepted and ignored: each alert already
//! carries all of its labels, and routing metadata says nothing about the fault.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::PayloadError;
use super::common::{
    SEVERITY_LABELS, SYSTEM_LABELS, Scalar, UNIT_LABELS, decode, firing_or_resolved, first_label,
    labels_fingerprint, non_empty, parse_time,
};
use crate::{InboundAlert, SourceKind};

/// The only payload version this parser understands.
pub const SUPPORTED_VERSION: &str = "4";

#[derive(Debug, Deserialize)]
struct Payload {
    version: Scalar,
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
}

/// Parses an Alertmanager webhook body.
pub fn parse(body: &[u8]) -> Result<Vec<InboundAlert>, PayloadError> {
    let payload: Payload = decode(body)?;
    match payload.version.as_deref().map(str::trim) {
        Some(SUPPORTED_VERSION) => {}
        Some(other) => {
            return Err(PayloadError::invalid(
                "version",
                format_args!(
                    "Alertmanager payload version `{other}` is not supported; expected \"{SUPPORTED_VERSION}\""
                ),
            ));
        }
        None => {
            return Err(PayloadError::invalid(
                "version",
                format_args!("null is not a payload version; expected \"{SUPPORTED_VERSION}\""),
            ));
        }
    }
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
    let title = first_label(&annotations, &["summary", "title"])
        .or_else(|| first_label(&labels, &["alertname"]))
        .unwrap_or_else(|| "(untitled Alertmanager alert)".to_owned());
    let description = first_label(&annotations, &["description", "message"]).unwrap_or_default();

    Ok(InboundAlert {
        source: SourceKind::Alertmanager,
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
        link: non_empty(alert.generator_url.as_deref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AlertStatus;

    const GROUP: &str = include_str!("../../tests/fixtures/alertmanager_group.json");

    #[test]
    fn firing_group_with_a_resolved_alert() {
        let alerts = parse(GROUP.as_bytes()).unwrap();
        assert_eq!(alerts.len(), 3);

        let db = &alerts[0];
        assert_eq!(db.source, SourceKind::Alertmanager);
        assert_eq!(db.status, AlertStatus::Firing);
        assert_eq!(db.fingerprint, "3f1c0b9e6a4d2e71");
        assert_eq!(
            db.occurrence_id.as_deref(),
            Some("3f1c0b9e6a4d2e71@2026-11-24T01:58:30.123456789Z/firing")
        );
        assert_eq!(db.title, "统一业务应用系统 数据库连接失败");
        assert_eq!(db.description, "连接池 10.12.3.21:1521 连续 5 分钟无法建立连接，立案、审批业务受影响。");
        assert_eq!(db.severity_hint.as_deref(), Some("critical"));
        assert_eq!(db.system.as_deref(), Some("统一业务应用系统"));
        assert_eq!(db.unit.as_deref(), Some("某某市中级人民法院"));
        assert_eq!(db.label("instance"), Some("10.12.3.21:9161"));
        assert!(!db.labels.contains_key("summary"), "annotations stay out of labels");
        assert_eq!(db.starts_at.unwrap().to_string(), "2026-11-24T01:58:30.123456789Z");
        assert_eq!(db.ends_at, None, "Go zero time means still firing");
        assert_eq!(
            db.link.as_deref(),
            Some("http://prometheus.court.local:9090/graph?g0.expr=oracledb_up+%3D%3D+0&g0.tab=1")
        );

        // Second alert: title from label alertname (no summary), description from `message`,
        // severity from `level`, system from `service`, no unit.
        let disk = &alerts[1];
        assert_eq!(disk.status, AlertStatus::Firing);
        assert_eq!(disk.title, "NodeDiskAlmostFull");
        assert_eq!(disk.description, "/data 使用率 93%");
        assert_eq!(disk.severity_hint.as_deref(), Some("warning"));
        assert_eq!(disk.system.as_deref(), Some("电子卷宗"));
        assert_eq!(disk.unit, None);

        let seal = &alerts[2];
        assert_eq!(seal.status, AlertStatus::Resolved);
        assert_eq!(seal.title, "电子签章服务响应超时");
        assert_eq!(seal.ends_at.unwrap().to_string(), "2026-11-24T02:05:00Z");
        assert_eq!(seal.occurrence_id.as_deref(), Some("9a0e55c2d1b7f403@2026-11-24T01:40:00Z/resolved"));
        assert_eq!(seal.severity_hint.as_deref(), Some("一级"));
    }

    #[test]
    fn missing_fingerprint_is_a_stable_hash_of_the_labels() {
        let body = |labels: &str| {
            format!(
                r#"{{"version":"4","status":"firing","alerts":[{{"status":"firing","labels":{labels},"annotations":{{}},"startsAt":"2026-11-24T10:00:00+08:00","endsAt":"0001-01-01T00:00:00Z"}}]}}"#
            )
        };
        let a = parse(body(r#"{"alertname":"Up","job":"oa"}"#).as_bytes()).unwrap();
        let b = parse(body(r#"{"job":"oa","alertname":"Up"}"#).as_bytes()).unwrap();
        let c = parse(body(r#"{"job":"oa2","alertname":"Up"}"#).as_bytes()).unwrap();
        assert_eq!(a[0].fingerprint, b[0].fingerprint);
        assert_ne!(a[0].fingerprint, c[0].fingerprint);
        assert_eq!(a[0].fingerprint.len(), 16);
        assert_eq!(
            a[0].occurrence_id.as_deref(),
            Some(format!("{}@2026-11-24T02:00:00Z/firing", a[0].fingerprint).as_str())
        );
    }

    #[test]
    fn empty_alerts_is_not_an_error() {
        let body = br#"{"version":"4","status":"resolved","receiver":"zhiban","alerts":[]}"#;
        assert_eq!(parse(body).unwrap(), vec![]);
    }

    #[test]
    fn newer_optional_fields_are_accepted() {
        let body = br#"{"version":"4","groupKey":"{}:{alertname=\"X\"}","truncatedAlerts":0,
            "notification_reason":"new_alerts","routeLabels":{"team":"dba"},"status":"firing",
            "alerts":[{"status":"firing","labels":{"alertname":"X"},"annotations":{},
            "startsAt":"2026-11-24T10:00:00+08:00","endsAt":"0001-01-01T00:00:00Z",
            "fingerprint":"aa","someFutureField":[1,2,{"x":null}]}]}"#;
        let alerts = parse(body).unwrap();
        assert_eq!(alerts[0].title, "X");
        assert!(!alerts[0].labels.contains_key("team"), "routeLabels are ignored");
        assert_eq!(alerts[0].link, None);
    }

    #[test]
    fn minimal_alert_gets_fallback_title() {
        let body = br#"{"version":"4","alerts":[{"status":"firing"}]}"#;
        let alerts = parse(body).unwrap();
        assert_eq!(alerts[0].title, "(untitled Alertmanager alert)");
        assert_eq!(alerts[0].description, "");
        assert_eq!(alerts[0].occurrence_id, None);
        assert!(!alerts[0].fingerprint.is_empty());
    }

    #[test]
    fn numeric_version_4_is_tolerated() {
        let body = br#"{"version":4,"alerts":[]}"#;
        assert_eq!(parse(body).unwrap(), vec![]);
    }

    #[test]
    fn errors_name_the_path() {
        let cases: &[(&str, &str, &str)] = &[
            (r#"{"version":"3","alerts":[]}"#, "invalid", "version"),
            (r#"{"version":null,"alerts":[]}"#, "invalid", "version"),
            (r#"{"alerts":[]}"#, "field", "version"),
            (r#"{"version":"4"}"#, "field", "alerts"),
            (r#"{"version":"4","alerts":{}}"#, "field", "alerts"),
            (r#"{"version":"4","alerts":[{"status":"firing","labels":["a"]}]}"#, "field", "alerts[0].labels"),
            (
                r#"{"version":"4","alerts":[{"status":"firing"},{"status":"firing","labels":{"a":1}}]}"#,
                "field",
                "alerts[1].labels.a",
            ),
            (r#"{"version":"4","alerts":[{"status":"firing"},{"labels":{}}]}"#, "field", "alerts[1].status"),
            (r#"{"version":"4","alerts":[{"status":"pending"}]}"#, "invalid", "alerts[0].status"),
            (
                r#"{"version":"4","alerts":[{"status":"firing","startsAt":"2026-13-01T00:00:00Z"}]}"#,
                "invalid",
                "alerts[0].startsAt",
            ),
            (r#"{"version":"4","alerts":[{"status":"resolved","endsAt":12}]}"#, "field", "alerts[0].endsAt"),
            (
                r#"{"version":"4","alerts":[{"status":"firing","annotations":{"summary":{"zh":"x"}}}]}"#,
                "field",
                "alerts[0].annotations.summary",
            ),
            (r#"[]"#, "field", "."),
        ];
        for (body, kind, path) in cases {
            let err = parse(body.as_bytes()).unwrap_err();
            assert_eq!((err.kind(), err.path()), (*kind, Some(*path)), "{body}: {err}");
        }
    }

    #[test]
    fn error_messages_read_well() {
        let err = parse(br#"{"version":"4","alerts":[{"status":"firing","labels":["a"]}]}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "The field `alerts[0].labels` has the wrong type: invalid type: sequence, expected a map."
        );
        let err = parse(br#"{"version":"5","alerts":[]}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "The field `version` has an invalid value: Alertmanager payload version `5` is not supported; expected \"4\"."
        );
        let err = parse(br#"{"alerts":[]}"#).unwrap_err();
        assert_eq!(err.to_string(), "The required field `version` is missing.");
    }
}
