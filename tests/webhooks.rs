//! Webhook intake end to end, on SQLite and on PostgreSQL: the real server, real HTTP.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

fn am_payload(status: &str, fingerprint: &str, starts_at: &str) -> String {
    let ends_at = if status == "resolved" { "2026-11-24T02:10:00Z" } else { "0001-01-01T00:00:00Z" };
    json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"DBDown\"}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "zhiban",
        "groupLabels": {"alertname": "DBDown"},
        "commonLabels": {"alertname": "DBDown", "severity": "critical"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [{
            "status": status,
            "labels": {"alertname": "DBDown", "severity": "critical", "system": "统一业务", "instance": "db1:9100"},
            "annotations": {"summary": "统一业务应用系统 数据库连接失败", "description": "Oracle 监听无响应"},
            "startsAt": starts_at,
            "endsAt": ends_at,
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
            "fingerprint": fingerprint
        }]
    })
    .to_string()
}

async fn alertmanager_firing_then_resolved(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db, &Knobs::default()).await;

    let (status, body) =
        app.webhook("alertmanager", AM_TOKEN, &am_payload("firing", "a1b2c3", "2026-11-24T02:00:00Z")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 1);
    assert_eq!(body["incidents"][0]["status"], "created");
    let ticket = body["incidents"][0]["ticket"].as_str().unwrap().to_string();
    assert!(body["incidents"][0]["url"].as_str().unwrap().ends_with(&format!("/incidents/{ticket}")));

    let incident = app.incident(&ticket).await;
    assert_eq!(incident["status"], "new");
    assert_eq!(incident["severity"], 1, "critical maps to 一级");
    assert_eq!(incident["severity_label"], "一级");
    assert_eq!(incident["system"], "tyyw", "the system label is found by its alias");
    assert_eq!(incident["title"], "统一业务应用系统 数据库连接失败");

    // Alertmanager repeats the same firing alert every repeat_interval: nothing changes.
    let (_, again) =
        app.webhook("alertmanager", AM_TOKEN, &am_payload("firing", "a1b2c3", "2026-11-24T02:00:00Z")).await;
    assert_eq!(again["incidents"][0]["status"], "duplicate");
    assert_eq!(again["incidents"][0]["ticket"], ticket.as_str());

    let (status, body) = app
        .webhook("alertmanager", AM_TOKEN, &am_payload("resolved", "a1b2c3", "2026-11-24T02:00:00Z"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["incidents"][0]["status"], "resolved");
    assert_eq!(body["incidents"][0]["ticket"], ticket.as_str());
    let incident = app.incident(&ticket).await;
    assert_eq!(incident["status"], "resolved");
    let kinds: Vec<&str> =
        incident["timeline"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["opened", "resolved"]);
    assert_eq!(incident["timeline"][1]["by_source"], true);

    // A recovery for a fault nobody reported is acknowledged and changes nothing.
    let (status, body) =
        app.webhook("alertmanager", AM_TOKEN, &am_payload("resolved", "ffff", "2026-11-24T01:00:00Z")).await;
    assert_eq!(status, 200);
    assert_eq!(body["incidents"][0]["status"], "ignored");
    assert_eq!(app.incidents().await.len(), 1);
    app.stop().await;
}

async fn a_wrong_token_is_refused_and_stores_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db, &Knobs::default()).await;
    let payload = am_payload("firing", "a1", "2026-11-24T02:00:00Z");
    let (status, body) = app.webhook("alertmanager", "not-the-token", &payload).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    // Another source's valid token is not this source's token.
    let (status, _) = app.webhook("alertmanager", GENERIC_TOKEN, &payload).await;
    assert_eq!(status, 401);
    let r = app.http.post(app.url("/api/v1/webhooks/alertmanager")).body(payload).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(app.incidents().await.is_empty());
    app.stop().await;
}

async fn malformed_json_is_a_400_naming_the_problem(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db, &Knobs::default()).await;
    let (status, body) = app.webhook("alertmanager", AM_TOKEN, r#"{"version": "4", "alerts": [ "#).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "bad_request");
    assert!(body["error"]["detail"].as_str().unwrap().contains("not valid JSON"), "{body}");

    let (status, body) = app
        .webhook(
            "alertmanager",
            AM_TOKEN,
            r#"{"version":"4","status":"firing","alerts":[{"status":"firing","labels":[1,2]}]}"#,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], "alerts[0].labels", "{body}");

    let (status, body) = app.webhook("generic", GENERIC_TOKEN, r#"{"description":"没有标题"}"#).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], "title", "{body}");

    let (status, body) = app.webhook("nagios", GENERIC_TOKEN, "{}").await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = app.webhook("zabbix", GENERIC_TOKEN, "{}").await;
    assert_eq!(status, 404, "zabbix is not enabled in this configuration");
    assert!(app.incidents().await.is_empty());
    app.stop().await;
}

async fn oversized_bodies_and_batches_are_413(backend: Backend) {
    let db = TestDb::new(backend).await;
    let knobs = Knobs { body_limit_bytes: 4096, max_alerts_per_request: 3, ..Default::default() };
    let app = TestApp::start(&db, &knobs).await;
    let big = json!({"title": "x".repeat(10_000)}).to_string();
    let (status, body) = app.webhook("generic", GENERIC_TOKEN, &big).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    let many = json!({"alerts": (0..4).map(|i| json!({"title": format!("告警{i}")})).collect::<Vec<_>>()})
        .to_string();
    let (status, body) = app.webhook("generic", GENERIC_TOKEN, &many).await;
    assert_eq!(status, 413, "{body}");
    assert!(app.incidents().await.is_empty());
    app.stop().await;
}

async fn twenty_concurrent_duplicates_open_one_incident(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db, &Knobs::default()).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let http = app.http.clone();
        let url = app.url("/api/v1/webhooks/generic");
        // Twenty staff report the same fault at once, each delivery distinct.
        let body = json!({"title": "审判系统无法登录", "dedup_key": "spxt-login", "event_id": format!("report-{i}")});
        tasks.push(tokio::spawn(async move {
            let r = http.post(url).bearer_auth(GENERIC_TOKEN).json(&body).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<serde_json::Value>().await.unwrap()
        }));
    }
    let mut tickets = std::collections::BTreeSet::new();
    let mut created = 0;
    for t in tasks {
        let body = t.await.unwrap();
        tickets.insert(body["incidents"][0]["ticket"].as_str().unwrap().to_string());
        if body["incidents"][0]["status"] == "created" {
            created += 1;
        }
    }
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(created, 1);
    let incidents = app.incidents().await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0]["occurrences"], 20);

    // The very same twenty deliveries again: all duplicates, nothing changes.
    for i in 0..20 {
        let body = json!({"title": "审判系统无法登录", "dedup_key": "spxt-login", "event_id": format!("report-{i}")});
        let (_, answer) = app.webhook("generic", GENERIC_TOKEN, &body.to_string()).await;
        assert_eq!(answer["incidents"][0]["status"], "duplicate");
    }
    assert_eq!(app.incidents().await[0]["occurrences"], 20);
    app.stop().await;
}

async fn hmac_signed_sources(backend: Backend) {
    use hmac::{Hmac, KeyInit, Mac};
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db, &Knobs::default()).await;
    let body = json!({
        "receiver": "zhiban", "status": "firing", "orgId": 1, "version": "1",
        "alerts": [{"status": "firing", "labels": {"alertname": "磁盘空间不足", "severity": "warning"},
                    "annotations": {}, "startsAt": "2026-11-24T02:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": "g1"}]
    })
    .to_string();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(GRAFANA_SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let post = |sig: Option<String>, body: String| {
        let mut r = app.http.post(app.url("/api/v1/webhooks/grafana")).body(body);
        if let Some(sig) = sig {
            r = r.header("X-Zhiban-Signature", sig);
        }
        r.send()
    };
    assert_eq!(post(None, body.clone()).await.unwrap().status(), 401);
    assert_eq!(post(Some(signature.clone()), body.replace("磁盘", "内存")).await.unwrap().status(), 401);
    let r = post(Some(signature), body).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.incidents().await.len(), 1);
    app.stop().await;
}

async fn a_resolved_fault_that_returns_reopens_its_ticket(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db, &Knobs { auto_close_after: "24h", ..Default::default() }).await;
    let (_, first) =
        app.webhook("alertmanager", AM_TOKEN, &am_payload("firing", "flap", "2026-11-24T02:00:00Z")).await;
    app.webhook("alertmanager", AM_TOKEN, &am_payload("resolved", "flap", "2026-11-24T02:00:00Z")).await;
    let (_, again) =
        app.webhook("alertmanager", AM_TOKEN, &am_payload("firing", "flap", "2026-11-24T03:00:00Z")).await;
    assert_eq!(again["incidents"][0]["status"], "reopened");
    assert_eq!(again["incidents"][0]["ticket"], first["incidents"][0]["ticket"]);
    let incident = app.incident(first["incidents"][0]["ticket"].as_str().unwrap()).await;
    assert_eq!(incident["status"], "reopened");
    assert_eq!(incident["occurrences"], 2);
    app.stop().await;
}

/// PostgreSQL only: a SQLite file belongs to the process, "unavailable" is a database-server condition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_unavailable_store_answers_503_so_senders_retry() {
    let db = TestDb::new(Backend::Postgres).await;
    let app = TestApp::start(&db, &Knobs::default()).await;
    db.make_unavailable().await;
    let (status, body) =
        app.webhook("alertmanager", AM_TOKEN, &am_payload("firing", "x1", "2026-11-24T02:00:00Z")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    db.make_available().await;
    // Alertmanager retries; now it goes through.
    eventually(Duration::from_secs(20), "the store to come back", || async {
        app.webhook("alertmanager", AM_TOKEN, &am_payload("firing", "x1", "2026-11-24T02:00:00Z")).await.0
            == 200
    })
    .await;
    assert_eq!(app.incidents().await.len(), 1);
    app.stop().await;
}

on_both_backends!(
    alertmanager_firing_then_resolved,
    a_wrong_token_is_refused_and_stores_nothing,
    malformed_json_is_a_400_naming_the_problem,
    oversized_bodies_and_batches_are_413,
    twenty_concurrent_duplicates_open_one_incident,
    hmac_signed_sources,
    a_resolved_fault_that_returns_reopens_its_ticket,
);
