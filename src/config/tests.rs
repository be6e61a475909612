use std::path::Path;

use super::*;

fn env(k: &str) -> Option<String> {
    (k == "ZB_AM_TOKEN").then(|| "token-from-the-environment".to_string())
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("test.toml"), text, &env)
}

fn keys(e: &ConfigError) -> Vec<&str> {
    e.problems.iter().map(|p| p.key.as_str()).collect()
}

const MINIMAL: &str = r#"
[[people]]
id = "admin"
name = "管理员"
roles = ["admin"]

[[api.tokens]]
person = "admin"
token = "dev-admin-token"

[sources.alertmanager]
auth = "bearer"
token = { env = "ZB_AM_TOKEN" }
[sources.alertmanager.severity_map]
Critical = 1
warning = "三级"
"#;

#[test]
fn a_minimal_file_works_with_defaults() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.server.public_url, "http://127.0.0.1:8080");
    assert_eq!(c.database_url, "sqlite://data/zhiban.db");
    let plain = c
        .classifier
        .classify(&crate::domain::classify::ClassifyInput { text: "例行记录", ..Default::default() });
    assert_eq!(plain.severity, Severity::Three, "the rule set's default level");
    let four = parse(&format!("{MINIMAL}\n[incidents]\ndefault_severity = \"四级\"\n")).unwrap();
    let plain = four
        .classifier
        .classify(&crate::domain::classify::ClassifyInput { text: "例行记录", ..Default::default() });
    assert_eq!(plain.severity, Severity::Four, "incidents.default_severity overrides it");
    let am = &c.sources[&SourceKind::Alertmanager];
    assert!(matches!(&am.auth, SourceAuth::Bearer(s) if s.expose() == "token-from-the-environment"));
    assert_eq!(am.severity_map.get("critical"), Some(&Severity::One), "keys are case-folded");
    assert_eq!(am.severity_map.get("warning"), Some(&Severity::Three));
    assert_eq!(c.person_for_token("dev-admin-token").map(|p| p.id.as_str()), Some("admin"));
    assert!(c.person_for_token("dev-admin-tokeN").is_none());
}

#[test]
fn a_syntax_error_names_file_and_line() {
    let e = parse("[server\nlisten = 1").unwrap_err();
    let text = e.to_string();
    assert!(text.contains("test.toml"), "{text}");
    assert!(text.contains("line 1"), "{text}");
}

#[test]
fn an_unknown_key_is_named_with_its_path() {
    let e = parse("[server]\nlisten_addr = \"0.0.0.0:80\"\n").unwrap_err();
    assert_eq!(keys(&e), ["server.listen_addr"]);
    assert!(e.problems[0].reason.contains("listen_addr"), "{e}");
}

#[test]
fn a_wrong_type_is_named_with_its_path() {
    let e = parse("[incidents]\nack_reminder_after = 15\n").unwrap_err();
    assert_eq!(keys(&e), ["incidents.ack_reminder_after"]);
}

#[test]
fn every_semantic_problem_is_reported_at_once() {
    let text = r#"
[server]
listen = "localhost"
language = "fr"
timezone = "Mars/Olympus"

[database]
url = "mysql://x"

[outbox]
lease_seconds = 5
send_timeout_seconds = 10

[sources.alertmanager]
auth = "bearer"
token = { env = "NOT_SET_ANYWHERE" }

[sources.grafana]
auth = "hmac"

[sources.nagios]
auth = "bearer"
token = "0123456789abcdef"

[sources.generic]
auth = "bearer"
token = "short"

[[notify.sinks]]
name = "ops"
kind = "webhook"
events = ["opened", "exploded"]

[[units]]
id = "zy"
name = "某市中级人民法院"
level = "intermediate"

[[teams]]
id = "onsite"
name = "驻场"
members = ["ghost"]

[[systems]]
id = "oa"
name = "协同OA"
aliases = ["OA"]
criticality = "high"
team = "nobody"

[[systems]]
id = "oa2"
name = "办公系统"
aliases = ["ｏａ"]
criticality = "low"
team = "onsite"

[[people]]
id = "zhang wei"
name = "张伟"
phone = "call me"
roles = []
"#;
    let e = parse(text).unwrap_err();
    let got = keys(&e);
    for want in [
        "server.listen",
        "server.language",
        "server.timezone",
        "database.url",
        "outbox.lease_seconds",
        "sources.alertmanager.token",
        "sources.grafana.secret",
        "sources.nagios",
        "sources.generic.token",
        "notify.sinks[0].url",
        "notify.sinks[0].events[1]",
        "units[0].parent",
        "teams[0].members[0]",
        "systems[0].team",
        "systems[1].aliases[0]",
        "people[0].id",
        "people[0].phone",
        "people[0].roles",
    ] {
        assert!(got.contains(&want), "missing {want} in {got:?}");
    }
    assert!(e.problems.iter().all(|p| p.file == Path::new("test.toml")));
    let env_problem = e.problems.iter().find(|p| p.key == "sources.alertmanager.token").unwrap();
    assert!(env_problem.reason.contains("NOT_SET_ANYWHERE"));
}

#[test]
fn a_missing_file_is_a_problem_not_a_panic() {
    let e = Config::load(Path::new("/nonexistent/zhiban.toml"), &env).unwrap_err();
    assert_eq!(e.problems[0].key, "(file)");
    assert!(e.to_string().contains("/nonexistent/zhiban.toml"));
}

#[test]
fn the_shipped_example_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/zhiban.example.toml");
    let c = Config::load(&path, &|_| None).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.catalogue.find_system("统一业务").is_some());
    assert!(c.catalogue.find_system("签章").is_some());
    assert!(c.catalogue.find_system("oa").is_some());
    assert!(c.catalogue.find_system("卷宗").is_some());
    for source in [SourceKind::Alertmanager, SourceKind::Grafana, SourceKind::Zabbix, SourceKind::Generic] {
        assert!(c.sources.contains_key(&source), "{source:?} not enabled in the example");
    }
}

#[test]
fn a_secret_has_one_owner() {
    let text = MINIMAL.replace("token = \"dev-admin-token\"", "token = \"token-from-the-environment\"");
    let e = parse(&text).unwrap_err();
    assert!(e.problems.iter().any(|p| p.reason.contains("the same secret")), "{e}");
}

#[test]
fn a_misspelt_top_level_table_is_refused() {
    let e = parse("[[peoples]]\nid = \"x\"\n").unwrap_err();
    assert!(e.problems[0].reason.contains("peoples"), "{e}");
}

#[test]
fn durations_are_written_for_people() {
    let c = parse(&format!(
        "{MINIMAL}\n[incidents]\nack_reminder_after = \"1h 30m\"\nauto_close_after = \"72h\"\n"
    ))
    .unwrap();
    assert_eq!(c.incidents.lifecycle.ack_reminder_after, Some(SignedDuration::from_mins(90)));
    assert_eq!(c.incidents.lifecycle.auto_close_after, Some(SignedDuration::from_hours(72)));
    let c = parse(&format!("{MINIMAL}\n[incidents]\nack_reminder_after = \"0\"\n")).unwrap();
    assert_eq!(c.incidents.lifecycle.ack_reminder_after, None);
    let e = parse(&format!(
        "{MINIMAL}\n[incidents]\nack_reminder_after = \"soon\"\nauto_close_after = \"-5m\"\n"
    ))
    .unwrap_err();
    assert_eq!(keys(&e), ["incidents.ack_reminder_after", "incidents.auto_close_after"]);
}

#[test]
fn chat_and_telegram_are_checked_with_their_keys() {
    let telegram_channel = format!(
        "{MINIMAL}\n[[paging.channels]]\nname = \"tg\"\nkind = \"telegram\"\n[[chat.channels]]\nname = \"g\"\nprovider = \"icq\"\nchat = \"-1\"\nlevels = [7]\n"
    );
    let e = parse(&telegram_channel).unwrap_err().to_string();
    assert!(e.contains("paging.channels[0].kind: a telegram channel needs a [telegram] section"), "{e}");
    assert!(e.contains("chat.channels[0].provider: 'icq' is not an IM"), "{e}");

    let webhook_without_secret = format!(
        "{MINIMAL}\n[telegram]\ntoken = \"123:abc\"\nmode = \"webhook\"\npoll_timeout = \"2m\"\n[[chat.channels]]\nname = \"g\"\nprovider = \"telegram\"\nchat = \"-1\"\nlevels = [7]\n"
    );
    let e = parse(&webhook_without_secret).unwrap_err().to_string();
    assert!(e.contains("telegram.webhook_secret: webhook mode needs a secret"), "{e}");
    assert!(e.contains("telegram.poll_timeout"), "{e}");
    assert!(e.contains("chat.channels[0].levels: 7 is not a level"), "{e}");

    let ok = format!(
        "{MINIMAL}\n[telegram]\ntoken = \"123:abc\"\napi_url = \"http://10.0.0.9:8081/\"\n[chat]\nallow_unbound_reports = true\n[[chat.channels]]\nname = \"g\"\nprovider = \"telegram\"\nchat = \"-1001\"\nlevels = [1, 2]\n"
    );
    let c = parse(&ok).unwrap();
    let t = c.telegram.as_ref().unwrap();
    assert_eq!(t.api_url, "http://10.0.0.9:8081");
    assert!(c.chat.allow_unbound_reports);
    assert!(c.chat.channels[0].wants(None, None, Severity::Two, false));
    assert!(!c.chat.channels[0].wants(None, None, Severity::Three, false));
}
