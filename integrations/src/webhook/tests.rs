//! Malformed input for every format: each must give a clear error and never panic.

use super::*;

fn all_sources(body: &[u8]) -> Vec<(SourceKind, Result<Vec<InboundAlert>, PayloadError>)> {
    SourceKind::ALL.into_iter().map(|kind| (kind, parse(kind, body))).collect()
}

fn nested(depth: usize) -> Vec<u8> {
    let mut body = vec![b'['; depth];
    body.extend(std::iter::repeat_n(b']', depth));
    body
}

/// Bodies that are not JSON documents at all: a syntax error for every source.
#[test]
fn syntax_errors_for_every_source() {
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("empty", b"".to_vec()),
        ("whitespace", b" \r\n\t ".to_vec()),
        ("bom only", b"\xEF\xBB\xBF".to_vec()),
        ("text", b"hello".to_vec()),
        ("xml", b"<alert><title>x</title></alert>".to_vec()),
        ("form", b"title=x&status=firing".to_vec()),
        ("truncated", br#"{"version":"4","alerts":[{"status":"fir"#.to_vec()),
        (
            "trailing garbage",
            br#"{"title":"a","event_id":"1","event_value":"1","version":"4","alerts":[]} x"#.to_vec(),
        ),
        ("two documents", br#"{"alerts":[]}{"alerts":[]}"#.to_vec()),
        ("single quotes", b"{'title':'x'}".to_vec()),
        ("trailing comma", br#"{"alerts":[],}"#.to_vec()),
        ("nan", br#"{"alerts":[],"x":NaN}"#.to_vec()),
        (
            "invalid utf-8 in a string",
            b"{\"title\":\"\xff\xfe\",\"version\":\"4\",\"alerts\":[],\"event_id\":\"\xc3\x28\"}".to_vec(),
        ),
        ("invalid utf-8 bytes", b"\xff\xfe\xfd".to_vec()),
        ("utf-16 body", b"\xff\xfe{\x00}\x00".to_vec()),
        (
            "lone surrogate escape",
            br#"{"title":"\ud800","version":"4","alerts":[],"event_id":"\ud800","event_value":"1"}"#.to_vec(),
        ),
        ("control character in string", b"{\"title\":\"a\x01b\"}".to_vec()),
        ("nul byte", b"\0".to_vec()),
        ("deep nesting", nested(100_000)),
        ("deep nesting in an unknown field", {
            let mut b = br#"{"title":"x","version":"4","alerts":[],"event_id":"1","event_value":"1","junk":"#
                .to_vec();
            b.extend(nested(10_000));
            b.push(b'}');
            b
        }),
        ("deep objects", {
            let mut b = Vec::new();
            for _ in 0..5_000 {
                b.extend_from_slice(br#"{"a":"#);
            }
            b.extend_from_slice(b"1");
            b.extend(std::iter::repeat_n(b'}', 5_000));
            b
        }),
        (
            "number overflow",
            br#"{"title":"x","version":"4","alerts":[],"event_id":"1","event_value":"1","n":1e999}"#.to_vec(),
        ),
    ];
    for (name, body) in &bodies {
        for (kind, result) in all_sources(body) {
            match result {
                Err(err @ PayloadError::Syntax { .. }) => {
                    assert_eq!(err.path(), None);
                    assert!(err.to_string().starts_with("The request body is not valid JSON: "));
                }
                other => panic!("{name} / {kind}: expected a syntax error, got {other:?}"),
            }
        }
    }
}

#[test]
fn syntax_errors_carry_position() {
    let err = parse(SourceKind::Generic, b"{\n  \"title\": \"x\",\n  oops\n}").unwrap_err();
    match &err {
        PayloadError::Syntax { line, column, message } => {
            assert_eq!((*line, *column), (3, 3));
            assert_eq!(message, "key must be a string");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "The request body is not valid JSON: key must be a string (line 3, column 3)."
    );
    let empty = parse(SourceKind::Alertmanager, b"").unwrap_err();
    assert_eq!(
        empty.to_string(),
        "The request body is not valid JSON: the body is empty (line 1, column 0)."
    );
    let deep = parse(SourceKind::Grafana, &nested(1000)).unwrap_err();
    assert_eq!(deep.message(), "recursion limit exceeded");
}

/// JSON of the wrong shape: a field error naming the path, for every source.
#[test]
fn wrong_shapes_for_every_source() {
    let bodies: &[&[u8]] = &[
        b"null",
        b"42",
        b"-1.5e300",
        b"true",
        b"\"alerts\"",
        b"[]",
        b"[{\"title\":\"x\"}]",
        b"{}",
        b"{\"alerts\":\"none\"}",
        b"{\"alerts\":[1,2,3]}",
        b"{\"alerts\":[null]}",
        b"{\"alerts\":[[]]}",
    ];
    for body in bodies {
        for (kind, result) in all_sources(body) {
            let err = match result {
                Err(err) => err,
                Ok(alerts) => {
                    panic!("{} / {kind}: expected an error, got {alerts:?}", String::from_utf8_lossy(body))
                }
            };
            assert!(
                matches!(err, PayloadError::Field { .. } | PayloadError::Invalid { .. }),
                "{} / {kind}: {err:?}",
                String::from_utf8_lossy(body)
            );
            let path = err.path().unwrap();
            assert!(!path.is_empty());
            assert!(err.to_string().contains(if path == "." { "JSON document" } else { path }));
        }
    }
}

#[test]
fn list_elements_of_the_wrong_type_name_the_index() {
    for kind in [SourceKind::Alertmanager, SourceKind::Grafana, SourceKind::Generic] {
        let err = parse(kind, br#"{"version":"4","alerts":[1,2,3]}"#).unwrap_err();
        assert_eq!((err.kind(), err.path()), ("field", Some("alerts[0]")), "{kind}");
        assert!(err.message().starts_with("invalid type: integer `1`"), "{err}");
    }
}

#[test]
fn huge_values_do_not_panic() {
    let big = "9".repeat(5_000);
    let bodies = [
        format!(r#"{{"event_id":{big},"event_value":1}}"#),
        format!(r#"{{"event_id":"{big}","event_value":"1"}}"#),
        format!(r#"{{"event_id":"1","event_value":{big}}}"#),
        format!(r#"{{"event_id":"1","event_value":"1","event_nseverity":{big}}}"#),
        format!(r#"{{"title":"x","severity":{big},"dedup_key":-{big},"event_id":{big}.5e-3}}"#),
        format!(r#"{{"version":"4","truncatedAlerts":{big},"alerts":[]}}"#),
        format!(r#"{{"orgId":{big},"alerts":[]}}"#),
        format!(r#"{{"title":"{}","labels":{{"k":"{}"}}}}"#, "长".repeat(100_000), "v".repeat(100_000)),
    ];
    for body in &bodies {
        for (_, result) in all_sources(body.as_bytes()) {
            // Any answer is fine; reaching here means nothing panicked.
            if let Err(err) = result {
                assert!(!err.to_string().is_empty());
            }
        }
    }
    // A 5000-digit event id is digits: it is accepted as an opaque id.
    let alerts =
        parse(SourceKind::Zabbix, format!(r#"{{"event_id":"{big}","event_value":"1"}}"#).as_bytes()).unwrap();
    assert_eq!(alerts[0].fingerprint.len(), 5_000);
}

#[test]
fn byte_order_mark_is_skipped() {
    let body = b"\xEF\xBB\xBF{\"title\":\"\xE4\xB8\xAD\"}";
    let alerts = parse(SourceKind::Generic, body).unwrap();
    assert_eq!(alerts[0].title, "中");
}

/// Every prefix of every fixture, and every fixture with one byte flipped, is handled without
/// a panic: a cheap stand-in for fuzzing.
#[test]
fn mutated_fixtures_never_panic() {
    let fixtures: [(SourceKind, &str); 6] = [
        (SourceKind::Alertmanager, include_str!("../../tests/fixtures/alertmanager_group.json")),
        (SourceKind::Grafana, include_str!("../../tests/fixtures/grafana_alerts.json")),
        (SourceKind::Zabbix, include_str!("../../tests/fixtures/zabbix_problem.json")),
        (SourceKind::Zabbix, include_str!("../../tests/fixtures/zabbix_recovery.json")),
        (SourceKind::Generic, include_str!("../../tests/fixtures/generic_single.json")),
        (SourceKind::Generic, include_str!("../../tests/fixtures/generic_batch.json")),
    ];
    let replacements = [b'"', b'{', b'[', b'0', b'x', b'\\', 0xFF, b' '];
    for (kind, text) in fixtures {
        let bytes = text.as_bytes();
        assert!(parse(kind, bytes).is_ok(), "{kind} fixture parses");
        for end in 0..bytes.len() {
            let _ = parse(kind, &bytes[..end]);
        }
        for i in (0..bytes.len()).step_by(3) {
            let mut mutated = bytes.to_vec();
            mutated[i] = replacements[i % replacements.len()];
            let _ = parse(kind, &mutated);
        }
        // And every fixture fed to the other parsers.
        for other in SourceKind::ALL {
            let _ = parse(other, bytes);
        }
    }
}
