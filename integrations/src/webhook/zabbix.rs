//! The body that zhiban's Zabbix webhook media type (`config/zabbix/zhiban_media_type.yaml`)
//! sends. The media type passes Zabbix macros through as strings; this parser makes sense of
//! them.
//!
//! ```json
//! {
//!   "event_id": "4711",              // {EVENT.ID}: the PROBLEM event, also on recovery
//!   "event_value": "1",              // {EVENT.VALUE}: 1 problem, 0 recovery
//!   "event_recovery_id": "4790",     // {EVENT.RECOVERY.ID}: recovery only
//!   "event_nseverity": "4",          // {EVENT.NSEVERITY}: 0..5
//!   "event_severity": "High",        // {EVENT.SEVERITY}
//!   "event_name": "…",               // {EVENT.NAME}
//!   "event_date": "2026.11.24", "event_time": "10:15:30", "event_tz": "+08:00",
//!   "event_recovery_date": "…", "event_recovery_time": "…",
//!   "event_tags": [{"tag": "system", "value": "…"}],   // {EVENT.TAGSJSON}
//!   "event_opdata": "…", "event_update_status": "0", "event_update_action": "…",
//!   "event_update_message": "…", "event_update_date": "…", "event_update_time": "…",
//!   "host_name": "…", "host_ip": "…", "trigger_id": "…", "trigger_name": "…",
//!   "trigger_description": "…", "zabbix_url": "http://zabbix.court.local", "event_url": "…"
//! }
//! ```
//!
//! Every field may be a string or a number. A value that is still an unexpanded macro
//! (`{EVENT.RECOVERY.ID}`, `{$ZABBIX.URL}`) or Zabbix's `*UNKNOWN*` counts as absent.
//!
//! | neutral field   | from |
//! | --------------- | ---- |
//! | `status`        | `event_value`: `1` firing, `0` resolved (required) |
//! | `fingerprint`   | `event_id` (required, digits) |
//! | `occurrence_id` | `<event_id>/<event_value>`, plus `/<event_recovery_id>` when present; an update (`event_update_status` = 1) adds `/update-<hash of the update fields>` |
//! | `title`         | `event_name`, else `trigger_name`, else `trigger_description`, else `host_name` |
//! | `description`   | lines for host and IP, trigger name, trigger description, operational data and the update action/message |
//! | `severity_hint` | `event_nseverity` as a digit `0`..`5`, else `event_severity` text |
//! | `system`        | tag `zhiban_system`, else tag `system` |
//! | `unit`          | tag `zhiban_unit`, else tag `unit` |
//! | `labels`        | all tags; repeated tag names are joined with `, ` |
//! | `starts_at`     | `event_date` + `event_time` at offset `event_tz` (default `+08:00`) |
//! | `ends_at`       | `event_recovery_date` + `event_recovery_time`, on recovery |
//! | `link`          | `event_url`, else `<zabbix_url>/tr_events.php?triggerid=<trigger_id>&eventid=<event_id>` |

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor, value::SeqAccessDeserializer};

use super::PayloadError;
use super::common::{Scalar, decode, decode_value, fnv1a_hex, non_empty, read_json};
use crate::{AlertStatus, InboundAlert, SourceKind};

/// The offset assumed for `event_date`/`event_time` when the body has no `event_tz`: China
/// Standard Time, where every zhiban deployment runs.
pub const DEFAULT_OFFSET: &str = "+08:00";

#[derive(Debug, Deserialize)]
struct Body {
    event_id: Scalar,
    event_value: Scalar,
    #[serde(default)]
    event_recovery_id: Scalar,
    #[serde(default)]
    event_nseverity: Scalar,
    #[serde(default)]
    event_severity: Scalar,
    #[serde(default)]
    event_name: Scalar,
    #[serde(default)]
    event_opdata: Scalar,
    #[serde(default)]
    event_date: Scalar,
    #[serde(default)]
    event_time: Scalar,
    #[serde(default)]
    event_tz: Scalar,
    #[serde(default)]
    event_recovery_date: Scalar,
    #[serde(default)]
    event_recovery_time: Scalar,
    #[serde(default)]
    event_tags: Tags,
    #[serde(default)]
    event_update_status: Scalar,
    #[serde(default)]
    event_update_action: Scalar,
    #[serde(default)]
    event_update_message: Scalar,
    #[serde(default)]
    event_update_date: Scalar,
    #[serde(default)]
    event_update_time: Scalar,
    #[serde(default)]
    host_name: Scalar,
    #[serde(default)]
    host_ip: Scalar,
    #[serde(default)]
    trigger_id: Scalar,
    #[serde(default)]
    trigger_name: Scalar,
    #[serde(default)]
    trigger_description: Scalar,
    #[serde(default)]
    zabbix_url: Scalar,
    #[serde(default)]
    event_url: Scalar,
}

#[derive(Debug, Deserialize)]
struct Tag {
    tag: String,
    #[serde(default)]
    value: Scalar,
}

/// `event_tags`: a JSON list of `{tag, value}`, a string holding such a list (what
/// `{EVENT.TAGSJSON}` becomes when the script does not decode it), empty, or null.
#[derive(Debug, Default)]
enum Tags {
    #[default]
    None,
    List(Vec<Tag>),
    Text(String),
}

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TagsVisitor;

        impl<'de> Visitor<'de> for TagsVisitor {
            type Value = Tags;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of {\"tag\", \"value\"} objects or a string holding one")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Tags, A::Error> {
                Vec::<Tag>::deserialize(SeqAccessDeserializer::new(seq)).map(Tags::List)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Tags, E> {
                Ok(Tags::Text(v.to_owned()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Tags, E> {
                Ok(Tags::None)
            }
            fn visit_none<E: de::Error>(self) -> Result<Tags, E> {
                Ok(Tags::None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tags, D::Error> {
                d.deserialize_any(self)
            }
        }

        deserializer.deserialize_any(TagsVisitor)
    }
}

/// Parses the body of zhiban's Zabbix media type. Always exactly one alert.
pub fn parse(body: &[u8]) -> Result<Vec<InboundAlert>, PayloadError> {
    let body: Body = decode(body)?;
    convert(body).map(|alert| vec![alert])
}

/// The trimmed value, or `None` when absent, blank, an unexpanded macro or `*UNKNOWN*`.
fn value(s: &Scalar) -> Option<String> {
    non_empty(s.as_deref()).filter(|v| !is_unexpanded_macro(v) && v != "*UNKNOWN*")
}

/// `{EVENT.RECOVERY.ID}`, `{$ZABBIX.URL}`, `{#LLD.MACRO}`, `{?expression}`: text Zabbix left as is.
fn is_unexpanded_macro(v: &str) -> bool {
    let Some(inner) = v.strip_prefix('{').and_then(|r| r.strip_suffix('}')) else {
        return false;
    };
    let name = inner.strip_prefix('$').or_else(|| inner.strip_prefix('#')).unwrap_or(inner);
    if inner.starts_with('$') {
        // User macros may carry a context: {$MACRO:"ctx"}.
        let name = name.split(':').next().unwrap_or_default();
        return !name.is_empty() && name.chars().all(is_macro_char);
    }
    inner.starts_with('?') || (!name.is_empty() && name.chars().all(is_macro_char))
}

fn is_macro_char(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || c == '.' || c == '_'
}

fn convert(body: Body) -> Result<InboundAlert, PayloadError> {
    let event_id = value(&body.event_id).ok_or_else(|| {
        PayloadError::invalid(
            "event_id",
            "the Zabbix event id is empty or an unexpanded macro; map it to {EVENT.ID}",
        )
    })?;
    if !event_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PayloadError::invalid(
            "event_id",
            format_args!("`{event_id}` is not a Zabbix event id (digits expected)"),
        ));
    }
    let event_value = value(&body.event_value).unwrap_or_default();
    let status = match event_value.as_str() {
        "1" => AlertStatus::Firing,
        "0" => AlertStatus::Resolved,
        other => {
            return Err(PayloadError::invalid(
                "event_value",
                format_args!(
                    "`{other}` is not a Zabbix event value; expected 1 (problem) or 0 (recovery), from {{EVENT.VALUE}}"
                ),
            ));
        }
    };

    let recovery_id = value(&body.event_recovery_id);
    let mut occurrence_id = format!("{event_id}/{event_value}");
    if let Some(recovery_id) = &recovery_id {
        occurrence_id.push('/');
        occurrence_id.push_str(recovery_id);
    }
    if value(&body.event_update_status).as_deref() == Some("1") {
        let update = [
            &body.event_update_date,
            &body.event_update_time,
            &body.event_update_action,
            &body.event_update_message,
            &body.event_nseverity,
        ]
        .map(|s| value(s).unwrap_or_default());
        occurrence_id.push_str("/update-");
        occurrence_id.push_str(&fnv1a_hex(update.iter().map(String::as_str)));
    }

    let severity_hint = match value(&body.event_nseverity) {
        Some(n) if matches!(n.as_str(), "0" | "1" | "2" | "3" | "4" | "5") => Some(n),
        Some(n) => {
            return Err(PayloadError::invalid(
                "event_nseverity",
                format_args!("`{n}` is not a Zabbix severity; expected 0 to 5"),
            ));
        }
        None => value(&body.event_severity),
    };

    let tags = match body.event_tags {
        Tags::None => Vec::new(),
        Tags::List(tags) => tags,
        Tags::Text(text) => tags_from_text(&text)?,
    };
    let tag = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| tags.iter().filter(|t| t.tag.trim() == *name).find_map(|t| value(&t.value)))
    };
    let system = tag(&["zhiban_system", "system"]);
    let unit = tag(&["zhiban_unit", "unit"]);
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    for t in &tags {
        let name = t.tag.trim();
        if name.is_empty() {
            continue;
        }
        let v = t.value.as_deref().unwrap_or_default().trim().to_owned();
        match labels.get_mut(name) {
            None => {
                labels.insert(name.to_owned(), v);
            }
            Some(existing) => {
                if !existing.split(", ").any(|e| e == v) {
                    existing.push_str(", ");
                    existing.push_str(&v);
                }
            }
        }
    }

    let host = value(&body.host_name);
    let host_ip = value(&body.host_ip);
    let trigger_name = value(&body.trigger_name);
    let trigger_description = value(&body.trigger_description);
    let title = value(&body.event_name)
        .or_else(|| trigger_name.clone())
        .or_else(|| trigger_description.clone())
        .or_else(|| host.clone())
        .unwrap_or_else(|| "(untitled Zabbix event)".to_owned());

    let mut lines = Vec::new();
    match (&host, &host_ip) {
        (Some(h), Some(ip)) => lines.push(format!("主机: {h} ({ip})")),
        (Some(h), None) => lines.push(format!("主机: {h}")),
        (None, Some(ip)) => lines.push(format!("主机: {ip}")),
        (None, None) => {}
    }
    if let Some(name) = trigger_name.filter(|n| *n != title) {
        lines.push(format!("触发器: {name}"));
    }
    if let Some(d) = trigger_description.filter(|d| *d != title) {
        lines.push(format!("说明: {d}"));
    }
    if let Some(op) = value(&body.event_opdata) {
        lines.push(format!("操作数据: {op}"));
    }
    let update_action = value(&body.event_update_action);
    let update_message = value(&body.event_update_message);
    if update_action.is_some() || update_message.is_some() {
        let parts: Vec<String> = [update_action, update_message].into_iter().flatten().collect();
        lines.push(format!("更新: {}", parts.join(" — ")));
    }

    let offset = match value(&body.event_tz) {
        None => DEFAULT_OFFSET.to_owned(),
        Some(tz) if is_offset(&tz) => tz,
        Some(tz) => {
            return Err(PayloadError::invalid(
                "event_tz",
                format_args!("`{tz}` is not a UTC offset such as +08:00"),
            ));
        }
    };
    let starts_at = zabbix_time("event_date", &body.event_date, &body.event_time, &offset)?;
    let ends_at = match status {
        AlertStatus::Resolved => {
            zabbix_time("event_recovery_date", &body.event_recovery_date, &body.event_recovery_time, &offset)?
        }
        AlertStatus::Firing => None,
    };

    let link = value(&body.event_url).or_else(|| {
        let base = value(&body.zabbix_url)?;
        let trigger_id = value(&body.trigger_id)?;
        Some(format!(
            "{}/tr_events.php?triggerid={trigger_id}&eventid={event_id}",
            base.trim_end_matches('/')
        ))
    });

    Ok(InboundAlert {
        source: SourceKind::Zabbix,
        status,
        fingerprint: event_id,
        occurrence_id: Some(occurrence_id),
        title,
        description: lines.join("\n"),
        severity_hint,
        system,
        unit,
        labels,
        starts_at,
        ends_at,
        link,
    })
}

fn tags_from_text(text: &str) -> Result<Vec<Tag>, PayloadError> {
    let text = text.trim();
    if text.is_empty() || is_unexpanded_macro(text) {
        return Ok(Vec::new());
    }
    read_json(text.as_bytes()).and_then(decode_value::<Vec<Tag>>).map_err(|err| {
        let detail = match err.path() {
            Some(path) => format!("{path}: {}", err.message()),
            None => err.message().to_owned(),
        };
        PayloadError::invalid(
            "event_tags",
            format_args!("the string is not a JSON list of {{\"tag\", \"value\"}} objects ({detail})"),
        )
    })
}

/// `+08:00`, `-05:30` or `Z`.
fn is_offset(s: &str) -> bool {
    if s == "Z" {
        return true;
    }
    let b = s.as_bytes();
    b.len() == 6
        && (b[0] == b'+' || b[0] == b'-')
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && b[3] == b':'
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
}

/// Zabbix's `{EVENT.DATE}` (`2026.11.24`) and `{EVENT.TIME}` (`10:15:30`) at `offset`.
fn zabbix_time(
    path: &str,
    date: &Scalar,
    time: &Scalar,
    offset: &str,
) -> Result<Option<jiff::Timestamp>, PayloadError> {
    let (Some(date), Some(time)) = (value(date), value(time)) else {
        return Ok(None);
    };
    let text = format!("{}T{time}{offset}", date.replace('.', "-"));
    text.parse::<jiff::Timestamp>().map(Some).map_err(|_| {
        PayloadError::invalid(
            path,
            format_args!("`{date} {time}` is not a Zabbix date and time (YYYY.MM.DD and hh:mm:ss)"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROBLEM: &str = include_str!("../../tests/fixtures/zabbix_problem.json");
    const RECOVERY: &str = include_str!("../../tests/fixtures/zabbix_recovery.json");

    fn one(body: &str) -> InboundAlert {
        let mut alerts = parse(body.as_bytes()).unwrap();
        assert_eq!(alerts.len(), 1);
        alerts.remove(0)
    }

    #[test]
    fn problem_event() {
        let a = one(PROBLEM);
        assert_eq!(a.source, SourceKind::Zabbix);
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(a.fingerprint, "4711");
        assert_eq!(a.occurrence_id.as_deref(), Some("4711/1"));
        assert_eq!(a.title, "审判流程管理系统 应用服务不可用");
        assert_eq!(
            a.description,
            "主机: app-shenpan-01 (10.30.2.11)\n触发器: Service tomcat is down\n说明: 8080 端口无响应，立案和排期功能受影响\n操作数据: 端口状态: 0"
        );
        assert_eq!(a.severity_hint.as_deref(), Some("4"));
        assert_eq!(a.system.as_deref(), Some("审判流程管理系统"));
        assert_eq!(a.unit.as_deref(), Some("某某市中级人民法院"));
        assert_eq!(a.label("scope"), Some("availability"));
        assert_eq!(a.label("component"), Some("application, tomcat"));
        assert_eq!(a.starts_at.unwrap().to_string(), "2026-11-24T02:15:30Z");
        assert_eq!(a.ends_at, None);
        assert_eq!(
            a.link.as_deref(),
            Some("http://zabbix.court.local/zabbix/tr_events.php?triggerid=23456&eventid=4711")
        );
    }

    #[test]
    fn recovery_event_keeps_the_problem_fingerprint() {
        let p = one(PROBLEM);
        let r = one(RECOVERY);
        assert_eq!(r.status, AlertStatus::Resolved);
        assert_eq!(r.fingerprint, p.fingerprint);
        assert_eq!(r.occurrence_id.as_deref(), Some("4711/0/4790"));
        assert_eq!(r.starts_at, p.starts_at);
        assert_eq!(r.ends_at.unwrap().to_string(), "2026-11-24T02:41:02Z");
        assert_eq!(r.system.as_deref(), Some("审判流程管理系统"));
        assert_eq!(r.label("scope"), Some("availability"));
    }

    #[test]
    fn unexpanded_macros_are_absent() {
        let body = r#"{"event_id":"12","event_value":"1","event_recovery_id":"{EVENT.RECOVERY.ID}",
            "event_recovery_date":"{EVENT.RECOVERY.DATE}","event_nseverity":"{EVENT.NSEVERITY}",
            "event_severity":"Average","event_name":"{EVENT.NAME}","trigger_name":"CPU load high",
            "host_ip":"*UNKNOWN*","zabbix_url":"{$ZABBIX.URL}","trigger_id":"9",
            "event_tags":"{EVENT.TAGSJSON}","event_tz":"{$ZHIBAN.TZ}","event_date":"2026.11.24",
            "event_time":"{EVENT.TIME}"}"#;
        let a = one(body);
        assert_eq!(a.occurrence_id.as_deref(), Some("12/1"));
        assert_eq!(a.title, "CPU load high");
        assert_eq!(a.severity_hint.as_deref(), Some("Average"));
        assert_eq!(a.description, "");
        assert!(a.labels.is_empty());
        assert_eq!(a.link, None);
        assert_eq!(a.starts_at, None);
    }

    #[test]
    fn numbers_are_accepted_for_ids_and_values() {
        let a = one(r#"{"event_id":4711,"event_value":0,"event_recovery_id":4790,"event_nseverity":5}"#);
        assert_eq!(a.fingerprint, "4711");
        assert_eq!(a.status, AlertStatus::Resolved);
        assert_eq!(a.occurrence_id.as_deref(), Some("4711/0/4790"));
        assert_eq!(a.severity_hint.as_deref(), Some("5"));
        assert_eq!(a.title, "(untitled Zabbix event)");
    }

    #[test]
    fn updates_get_their_own_occurrence() {
        let base = r#""event_id":"7","event_value":"1","event_name":"x","event_nseverity":"3""#;
        let first = one(&format!("{{{base}}}"));
        let update = one(&format!(
            r#"{{{base},"event_update_status":"1","event_update_action":"changed severity","event_update_message":"升级处理","event_update_date":"2026.11.24","event_update_time":"11:00:00"}}"#
        ));
        let again = one(&format!(
            r#"{{{base},"event_update_status":"1","event_update_action":"acknowledged","event_update_date":"2026.11.24","event_update_time":"11:05:00"}}"#
        ));
        assert_eq!(first.occurrence_id.as_deref(), Some("7/1"));
        let u1 = update.occurrence_id.unwrap();
        let u2 = again.occurrence_id.unwrap();
        assert!(u1.starts_with("7/1/update-"), "{u1}");
        assert_ne!(u1, u2);
        assert_eq!(update.fingerprint, "7");
        assert_eq!(update.description, "更新: changed severity — 升级处理");
    }

    #[test]
    fn tag_forms() {
        let ok = [
            r#""event_tags":[]"#,
            r#""event_tags":"""#,
            r#""event_tags":null"#,
            r#""event_tags":" [ ] ""#,
            r#""event_tags":[{"tag":"system","value":"OA"},{"tag":"x"}]"#,
            r#""event_tags":"[{\"tag\":\"system\",\"value\":\"OA\"}]""#,
        ];
        for tags in ok {
            let a = one(&format!(r#"{{"event_id":"1","event_value":"1",{tags}}}"#));
            if tags.contains("OA") {
                assert_eq!(a.system.as_deref(), Some("OA"), "{tags}");
            }
        }
        let bad: &[(&str, &str, &str)] = &[
            (r#""event_tags":[{"value":"x"}]"#, "field", "event_tags[0].tag"),
            (r#""event_tags":[{"tag":"a","value":{}}]"#, "field", "event_tags[0].value"),
            (r#""event_tags":{"system":"OA"}"#, "field", "event_tags"),
            (r#""event_tags":"system:OA""#, "invalid", "event_tags"),
            (r#""event_tags":"[{\"tag\":1}]""#, "invalid", "event_tags"),
        ];
        for (tags, kind, path) in bad {
            let body = format!(r#"{{"event_id":"1","event_value":"1",{tags}}}"#);
            let err = parse(body.as_bytes()).unwrap_err();
            assert_eq!((err.kind(), err.path()), (*kind, Some(*path)), "{body}: {err}");
        }
    }

    #[test]
    fn errors_name_the_path() {
        let cases: &[(&str, &str, &str)] = &[
            (r#"{"event_value":"1"}"#, "field", "event_id"),
            (r#"{"event_id":"1"}"#, "field", "event_value"),
            (r#"{"event_id":"{EVENT.ID}","event_value":"1"}"#, "invalid", "event_id"),
            (r#"{"event_id":"","event_value":"1"}"#, "invalid", "event_id"),
            (r#"{"event_id":null,"event_value":"1"}"#, "invalid", "event_id"),
            (r#"{"event_id":"abc","event_value":"1"}"#, "invalid", "event_id"),
            (r#"{"event_id":-3,"event_value":"1"}"#, "invalid", "event_id"),
            (r#"{"event_id":1.5,"event_value":"1"}"#, "invalid", "event_id"),
            (r#"{"event_id":["1"],"event_value":"1"}"#, "field", "event_id"),
            (r#"{"event_id":"1","event_value":"2"}"#, "invalid", "event_value"),
            (r#"{"event_id":"1","event_value":"{EVENT.VALUE}"}"#, "invalid", "event_value"),
            (r#"{"event_id":"1","event_value":"1","event_nseverity":"9"}"#, "invalid", "event_nseverity"),
            (r#"{"event_id":"1","event_value":"1","event_tz":"Asia/Shanghai"}"#, "invalid", "event_tz"),
            (
                r#"{"event_id":"1","event_value":"1","event_date":"24.11.2026","event_time":"10:00:00"}"#,
                "invalid",
                "event_date",
            ),
            (
                r#"{"event_id":"1","event_value":"0","event_recovery_date":"2026.11.24","event_recovery_time":"25:00:00"}"#,
                "invalid",
                "event_recovery_date",
            ),
            (r#"{"event_id":"1","event_value":"1","host_name":{}}"#, "field", "host_name"),
        ];
        for (body, kind, path) in cases {
            let err = parse(body.as_bytes()).unwrap_err();
            assert_eq!((err.kind(), err.path()), (*kind, Some(*path)), "{body}: {err}");
        }
    }

    #[test]
    fn macro_detection() {
        for m in ["{EVENT.ID}", "{$ZABBIX.URL}", "{$X:\"ctx\"}", "{#IFNAME}", "{?last(/h/k)}"] {
            assert!(is_unexpanded_macro(m), "{m}");
        }
        for text in ["{}", "{\"a\":1}", "{ x }", "plain", "{abc}"] {
            assert!(!is_unexpanded_macro(text), "{text}");
        }
    }
}
