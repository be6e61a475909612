//! The curl examples in docs/webhooks.md parse as documented.

use zhiban_integrations::{AlertStatus, SourceKind, parse};

/// (source, JSON body) for every `-d '…'` and `body='…'` in the document; the source is the
/// last `/api/v1/webhooks/<source>` named before the body.
fn examples(doc: &str) -> Vec<(SourceKind, String)> {
    let mut out = Vec::new();
    let mut source = None;
    let mut rest = doc;
    loop {
        let next_body = ["-d '", "body='"].iter().filter_map(|m| rest.find(m).map(|i| (i, m.len()))).min();
        let Some((start, marker_len)) = next_body else { break };
        let before = &rest[..start];
        if let Some(i) = before.rfind("/api/v1/webhooks/") {
            let seg: String = before[i + 17..].chars().take_while(|c| c.is_ascii_lowercase()).collect();
            source = SourceKind::from_path_segment(&seg);
        }
        let after = &rest[start + marker_len..];
        let end = after.find('\'').expect("closing quote");
        out.push((source.expect("a source before the body"), after[..end].to_owned()));
        rest = &after[end + 1..];
    }
    out
}

#[test]
fn curl_examples_in_the_docs_parse() {
    let doc = include_str!("../../docs/webhooks.md");
    let examples = examples(doc);
    let sources: Vec<_> = examples.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(sources, ["alertmanager", "grafana", "zabbix", "zabbix", "generic", "generic"]);
    for (source, body) in &examples {
        let alerts = parse(*source, body.as_bytes()).unwrap_or_else(|e| panic!("{source}: {e}\n{body}"));
        assert!(!alerts.is_empty(), "{source}");
        for alert in &alerts {
            assert!(!alert.title.is_empty());
            assert!(!alert.fingerprint.is_empty());
        }
    }
    let zabbix: Vec<_> = examples
        .iter()
        .filter(|(s, _)| *s == SourceKind::Zabbix)
        .map(|(s, b)| parse(*s, b.as_bytes()).unwrap().remove(0))
        .collect();
    assert_eq!(zabbix[0].status, AlertStatus::Firing);
    assert_eq!(zabbix[1].status, AlertStatus::Resolved);
    assert_eq!(zabbix[0].fingerprint, zabbix[1].fingerprint);
}
