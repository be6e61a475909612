//! Helpers shared by the webhook parsers: decoding with paths, timestamps, label conventions,
//! lenient scalars and the fallback fingerprint hash.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};

use super::PayloadError;

/// Reads a whole body as one JSON document: syntax errors (with line and column), trailing
/// characters and nesting deeper than 128 levels are all caught here, before any shape checks.
/// A UTF-8 byte order mark is skipped.
pub(crate) fn read_json(body: &[u8]) -> Result<serde_json::Value, PayloadError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(PayloadError::empty_body());
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: serde_json::Value =
        serde_path_to_error::deserialize(&mut de).map_err(PayloadError::from_json)?;
    de.end().map_err(PayloadError::from_trailing)?;
    Ok(value)
}

/// Decodes a body whose top level must be a JSON object into `T`, naming the JSON path of any
/// field of the wrong type.
///
/// Decoding goes through [`serde_json::Value`] so that a body which is both malformed and of
/// the wrong shape is reported as malformed, and so that a top-level list is rejected (serde's
/// derived structs would otherwise accept a list of positional fields).
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, PayloadError> {
    let value = read_json(body)?;
    if !value.is_object() {
        return Err(PayloadError::Field {
            path: super::error::ROOT_PATH.to_owned(),
            message: format!("expected a JSON object, found {}", json_kind(&value)),
        });
    }
    decode_value(value)
}

/// Decodes an already parsed JSON value into `T`, tracking the JSON path of any data error.
pub(crate) fn decode_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, PayloadError> {
    serde_path_to_error::deserialize(value).map_err(PayloadError::from_json)
}

/// "a list", "a string", ... for error messages.
pub(crate) fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The trimmed text, or `None` when absent or blank.
pub(crate) fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Go's zero `time.Time`, which Alertmanager and Grafana send as `endsAt` of firing alerts.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// Parses an RFC 3339 timestamp with offset. Absent, blank and Go-zero values are `None`.
pub(crate) fn parse_time(path: &str, raw: Option<&str>) -> Result<Option<jiff::Timestamp>, PayloadError> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let ts: jiff::Timestamp = raw.parse().map_err(|e| {
        PayloadError::invalid(path, format_args!("`{raw}` is not an RFC 3339 timestamp with an offset ({e})"))
    })?;
    if ts.as_second() <= GO_ZERO_TIME_SECONDS {
        return Ok(None);
    }
    Ok(Some(ts))
}

/// FNV-1a, 64 bit, over the parts separated by 0xFF (a byte that never occurs in UTF-8, so
/// `["ab", "c"]` and `["a", "bc"]` differ). Returned as 16 lowercase hex digits.
pub(crate) fn fnv1a_hex<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let mut eat = |byte: u8| {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    };
    for (i, part) in parts.into_iter().enumerate() {
        if i > 0 {
            eat(0xFF);
        }
        part.bytes().for_each(&mut eat);
    }
    format!("{hash:016x}")
}

/// A deterministic fingerprint of a label set (sorted by name, as BTreeMap iterates).
pub(crate) fn labels_fingerprint(labels: &BTreeMap<String, String>) -> String {
    fnv1a_hex(labels.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]))
}

/// The first non-blank value among the named labels.
pub(crate) fn first_label(labels: &BTreeMap<String, String>, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| non_empty(labels.get(*name).map(String::as_str)))
}

/// Label names read for the business system, most specific first.
pub(crate) const SYSTEM_LABELS: &[&str] = &["zhiban_system", "system", "service"];
/// Label names read for the unit (court), most specific first.
pub(crate) const UNIT_LABELS: &[&str] = &["zhiban_unit", "unit"];
/// Label names read for the raw severity text, in order.
pub(crate) const SEVERITY_LABELS: &[&str] = &["severity", "level", "priority"];

/// Parses a Prometheus-style `firing` / `resolved` status (case-insensitive).
pub(crate) fn firing_or_resolved(path: &str, raw: &str) -> Result<crate::AlertStatus, PayloadError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "firing" => Ok(crate::AlertStatus::Firing),
        "resolved" => Ok(crate::AlertStatus::Resolved),
        _ => Err(PayloadError::invalid(
            path,
            format_args!("`{raw}` is not a known status; expected \"firing\" or \"resolved\""),
        )),
    }
}

/// A JSON scalar read as text: strings as they are, numbers and booleans in their JSON
/// spelling, `null` as `None`. Objects and arrays are type errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Scalar(pub(crate) Option<String>);

impl Scalar {
    pub(crate) fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;

        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a number, a boolean or null")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar(Some(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                // serde_json never yields NaN or infinities; integers too large for u64 arrive
                // here and print without an exponent.
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
                d.deserialize_any(self)
            }
        }

        deserializer.deserialize_any(ScalarVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_reference_vectors() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a_hex([""]), "cbf29ce484222325");
        assert_eq!(fnv1a_hex(["a"]), "af63dc4c8601ec8c");
        assert_eq!(fnv1a_hex(["foobar"]), "85944171f73967e8");
        assert_ne!(fnv1a_hex(["ab", "c"]), fnv1a_hex(["a", "bc"]));
    }

    #[test]
    fn go_zero_time_is_absent() {
        assert_eq!(parse_time("x", Some("0001-01-01T00:00:00Z")).unwrap(), None);
        assert_eq!(parse_time("x", Some("")).unwrap(), None);
        assert_eq!(parse_time("x", None).unwrap(), None);
        let ts = parse_time("x", Some("2021-10-12T09:51:03.157076+02:00")).unwrap().unwrap();
        assert_eq!(ts.to_string(), "2021-10-12T07:51:03.157076Z");
        let err = parse_time("alerts[0].startsAt", Some("yesterday")).unwrap_err();
        assert_eq!(err.path(), Some("alerts[0].startsAt"));
        assert_eq!(err.kind(), "invalid");
        // A civil time without an offset is ambiguous.
        assert!(parse_time("x", Some("2026-11-24T10:00:00")).is_err());
    }
}
