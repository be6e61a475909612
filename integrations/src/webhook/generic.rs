//! zhiban's own generic JSON format, for scripts and systems without a dedicated integration.
//!
//! The body is one alert object, or `{"alerts": [ ... ]}` with any number of them.
//!
//! | field         | type | neutral field / meaning |
//! | ------------- | ---- | ----------------------- |
//! | `title`       | string, required, not blank | `title` |
//! | `description` | string | `description` (default empty) |
//! | `system`      | string | `system` (业务系统) |
//! | `unit`        | string | `unit` (单位) |
//! | `severity`    | string or number | `severity_hint`, free text: `一级`, `1`, `critical` |
//! | `dedup_key`   | string or number | `fingerprint`; when absent, FNV-1a 64 of title, system and unit |
//! | `event_id`    | string or number | `occurrence_id`: re-sending the same `event_id` is ignored by zhiban |
//! | `status`      | string | `firing` (also `problem`) or `resolved` (also `ok`, `recovered`); case-insensitive; default `firing` |
//! | `labels`      | object of scalars | `labels` (numbers and booleans become text; null values are dropped) |
//! | `link`        | string | `link` |
//! | `starts_at`   | RFC 3339 string | `starts_at` |
//! | `ends_at`     | RFC 3339 string | `ends_at` |
//!
//! Other fields are accepted and ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::PayloadError;
use super::common::{Scalar, decode_value, fnv1a_hex, json_kind, non_empty, parse_time, read_json};
use super::error::ROOT_PATH;
use crate::{AlertStatus, InboundAlert, SourceKind};

#[derive(Debug, Deserialize)]
struct Batch {
    alerts: Vec<Item>,
}

#[derive(Debug, Deserialize)]
struct Item {
    title: String,
    description: Option<String>,
    system: Option<String>,
    unit: Option<String>,
    #[serde(default)]
    severity: Scalar,
    #[serde(default)]
    dedup_key: Scalar,
    #[serde(default)]
    event_id: Scalar,
    status: Option<String>,
    labels: Option<BTreeMap<String, Scalar>>,
    link: Option<String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
}

/// Parses a generic webhook body: one alert object or `{"alerts": [...]}`.
pub fn parse(body: &[u8]) -> Result<Vec<InboundAlert>, PayloadError> {
    let value = read_json(body)?;
    match &value {
        serde_json::Value::Object(map) if map.contains_key("alerts") => {
            let batch: Batch = decode_value(value)?;
            batch
                .alerts
                .into_iter()
                .enumerate()
                .map(|(i, item)| convert(&format!("alerts[{i}]."), item))
                .collect()
        }
        serde_json::Value::Object(_) => {
            let item: Item = decode_value(value)?;
            convert("", item).map(|alert| vec![alert])
        }
        other => Err(PayloadError::Field {
            path: ROOT_PATH.to_owned(),
            message: format!("expected an alert object or {{\"alerts\": [...]}}, found {}", json_kind(other)),
        }),
    }
}

/// Parses the generic `status` word; `None` means firing.
fn status_from(path: &str, raw: Option<&str>) -> Result<AlertStatus, PayloadError> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(AlertStatus::Firing);
    };
    match raw.to_ascii_lowercase().as_str() {
        "firing" | "problem" => Ok(AlertStatus::Firing),
        "resolved" | "ok" | "recovered" => Ok(AlertStatus::Resolved),
        _ => Err(PayloadError::invalid(
            path,
            format_args!(
                "`{raw}` is not a known status; expected \"firing\" (or \"problem\") or \"resolved\" (or \"ok\", \"recovered\")"
            ),
        )),
    }
}

fn convert(prefix: &str, item: Item) -> Result<InboundAlert, PayloadError> {
    let at = |field: &str| format!("{prefix}{field}");
    let title = non_empty(Some(&item.title))
        .ok_or_else(|| PayloadError::invalid(at("title"), "the title must not be empty"))?;
    let status = status_from(&at("status"), item.status.as_deref())?;
    let system = non_empty(item.system.as_deref());
    let unit = non_empty(item.unit.as_deref());
    let fingerprint = non_empty(item.dedup_key.as_deref()).unwrap_or_else(|| {
        fnv1a_hex([
            title.as_str(),
            system.as_deref().unwrap_or_default(),
            unit.as_deref().unwrap_or_default(),
        ])
    });
    let labels =
        item.labels.unwrap_or_default().into_iter().filter_map(|(k, v)| v.0.map(|v| (k, v))).collect();

    Ok(InboundAlert {
        source: SourceKind::Generic,
        status,
        fingerprint,
        occurrence_id: non_empty(item.event_id.as_deref()),
        title,
        description: item.description.unwrap_or_default().trim().to_owned(),
        severity_hint: non_empty(item.severity.as_deref()),
        system,
        unit,
        labels,
        starts_at: parse_time(&at("starts_at"), item.starts_at.as_deref())?,
        ends_at: parse_time(&at("ends_at"), item.ends_at.as_deref())?,
        link: non_empty(item.link.as_deref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SINGLE: &str = include_str!("../../tests/fixtures/generic_single.json");
    const BATCH: &str = include_str!("../../tests/fixtures/generic_batch.json");

    #[test]
    fn single_object() {
        let alerts = parse(SINGLE.as_bytes()).unwrap();
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!(a.source, SourceKind::Generic);
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(a.title, "网上立案系统无法提交材料");
        assert_eq!(a.description, "当事人反映上传附件后提交按钮无响应，已持续 20 分钟。");
        assert_eq!(a.system.as_deref(), Some("网上立案"));
        assert_eq!(a.unit.as_deref(), Some("某某区人民法院"));
        assert_eq!(a.severity_hint.as_deref(), Some("一级"));
        assert_eq!(a.fingerprint, "wsla-submit-fail");
        assert_eq!(a.occurrence_id.as_deref(), Some("probe-20261124-0001"));
        assert_eq!(a.label("probe"), Some("http"));
        assert_eq!(a.label("retries"), Some("3"));
        assert_eq!(a.label("public"), Some("true"));
        assert_eq!(a.label("dropped"), None);
        assert_eq!(a.link.as_deref(), Some("http://probe.court.local/checks/17"));
        assert_eq!(a.starts_at.unwrap().to_string(), "2026-11-24T01:20:00Z");
        assert_eq!(a.ends_at, None);
    }

    #[test]
    fn batch_with_status_aliases() {
        let alerts = parse(BATCH.as_bytes()).unwrap();
        let statuses: Vec<_> = alerts.iter().map(|a| a.status).collect();
        use AlertStatus::{Firing, Resolved};
        assert_eq!(statuses, [Firing, Firing, Resolved, Resolved, Resolved]);
        // Numeric severity and dedup key are text.
        assert_eq!(alerts[0].severity_hint.as_deref(), Some("2"));
        assert_eq!(alerts[0].fingerprint, "1001");
        // Without dedup_key the fingerprint is a hash of title, system and unit, so the
        // recovery (same title/system/unit) matches its problem.
        assert_eq!(alerts[1].fingerprint, alerts[4].fingerprint);
        assert_ne!(alerts[1].fingerprint, alerts[3].fingerprint);
        assert_eq!(alerts[1].occurrence_id, None);
        assert_eq!(alerts[4].ends_at.unwrap().to_string(), "2026-11-24T03:00:00Z");
    }

    #[test]
    fn empty_batch_is_not_an_error() {
        assert_eq!(parse(br#"{"alerts":[]}"#).unwrap(), vec![]);
    }

    #[test]
    fn errors_name_the_path() {
        let cases: &[(&str, &str, &str)] = &[
            (r#"{}"#, "field", "title"),
            (r#"{"title":"  "}"#, "invalid", "title"),
            (r#"{"title":null}"#, "field", "title"),
            (r#"{"title":["x"]}"#, "field", "title"),
            (r#"{"title":"x","status":"acknowledged"}"#, "invalid", "status"),
            (r#"{"title":"x","labels":{"a":{"b":1}}}"#, "field", "labels.a"),
            (r#"{"title":"x","labels":[]}"#, "field", "labels"),
            (r#"{"title":"x","severity":[1]}"#, "field", "severity"),
            (r#"{"title":"x","starts_at":"2026-11-24"}"#, "invalid", "starts_at"),
            (r#"{"alerts":[{"title":"a"},{"description":"b"}]}"#, "field", "alerts[1].title"),
            (r#"{"alerts":[{"title":"a"},{"title":""}]}"#, "invalid", "alerts[1].title"),
            (r#"{"alerts":[{"title":"a","status":"down"}]}"#, "invalid", "alerts[0].status"),
            (r#"{"alerts":[{"title":"a","ends_at":"soon"}]}"#, "invalid", "alerts[0].ends_at"),
            (r#"{"alerts":{"title":"a"}}"#, "field", "alerts"),
            (r#"{"alerts":null}"#, "field", "alerts"),
            (r#"[{"title":"a"}]"#, "field", "."),
            (r#""title""#, "field", "."),
        ];
        for (body, kind, path) in cases {
            let err = parse(body.as_bytes()).unwrap_err();
            assert_eq!((err.kind(), err.path()), (*kind, Some(*path)), "{body}: {err}");
        }
        let err = parse(br#"[1]"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "The JSON document has the wrong type: expected an alert object or {\"alerts\": [...]}, found a list."
        );
    }
}
