//! SLA clocks end to end on a simulated clock: warnings, breaches, pauses, overrides, restarts.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use zhiban::app::{self, StartOptions};
use zhiban::config::Config;
use zhiban::engine::ManualClock;

const SLA: &str = r#"
[sla]
default_policy = "T"
warn_at_percent = 80
[sla.policies.T]
title = "测试合同"
calendar = "always"
[sla.policies.T.levels]
1 = { respond = "5m", progress = "30m", resolve = "30m" }
2 = { respond = "10m", resolve = "1h" }
3 = { respond = "10m", resolve = "2h" }
4 = { respond = "1h", resolve = { within = "2 working days", calendar = "working" } }
"#;

fn sla_config(db: &TestDb) -> Config {
    let text = format!("{}{SLA}", config_text(&db.url, &Knobs::default()));
    Config::parse(std::path::Path::new("sla.toml"), &text, &|_| None).unwrap_or_else(|e| panic!("{e}"))
}

async fn start(db: &TestDb, clock: &ManualClock) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let options = StartOptions {
        clock: Arc::new(clock.clone()),
        listener: Some(listener),
        poll_interval: Duration::from_millis(100),
    };
    let running = app::start(sla_config(db), options).await.unwrap();
    TestApp { base: format!("http://{}", running.addr), running, http: reqwest::Client::new() }
}

fn events(incident: &serde_json::Value, kind: &str) -> Vec<serde_json::Value> {
    incident["timeline"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).cloned().collect()
}

async fn wait_for(app: &TestApp, ticket: &str, kind: &str, n: usize) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..100 {
        last = app.incident(ticket).await;
        if events(&last, kind).len() >= n {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {n}× {kind} on {ticket}: {last:#}");
}

async fn open(app: &TestApp, severity: &str, key: &str) -> String {
    let body = json!({"title": "SLA测试工单", "severity": severity, "dedup_key": key, "system": "统一业务"});
    let (status, answer) = app.webhook("generic", GENERIC_TOKEN, &body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    answer["incidents"][0]["ticket"].as_str().unwrap().to_string()
}

async fn deadlines_warn_breach_and_pause(backend: Backend) {
    let db = TestDb::new(backend).await;
    // A Monday morning, far from holidays.
    let clock = ManualClock::new("2026-11-23T01:00:00Z".parse::<Timestamp>().unwrap());
    let app = start(&db, &clock).await;
    let ticket = open(&app, "3", "k1").await;
    let incident = app.incident(&ticket).await;
    assert_eq!(incident["sla"]["policy"], "T", "{incident:#}");
    assert_eq!(incident["severity"], 3, "{incident:#}");
    assert_eq!(incident["sla"]["respond_due"], "2026-11-23T01:10:00Z");
    assert_eq!(incident["sla"]["resolve_due"], "2026-11-23T03:00:00Z");

    clock.advance(SignedDuration::from_mins(9)); // past 80% of the respond target
    let incident = wait_for(&app, &ticket, "sla_warning", 1).await;
    assert_eq!(events(&incident, "sla_warning")[0]["target"], "respond");
    clock.advance(SignedDuration::from_mins(2));
    let incident = wait_for(&app, &ticket, "sla_breached", 1).await;
    assert_eq!(events(&incident, "sla_breached")[0]["target"], "respond");
    assert_eq!(incident["sla"]["respond_breached"], true);
    // Leaders see it on the dashboard.
    let page = app
        .http
        .get(app.url(&format!("/incidents/{ticket}")))
        .basic_auth("x", Some(LEADER))
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("响应时限") && html.contains("已超时"), "{html}");

    let (status, body) =
        app.post(&format!("/api/v1/incidents/{ticket}/acknowledge"), ENGINEER, json!({})).await;
    assert_eq!(status, 200, "{body}");
    // 01:11 paused for 3 hours: the resolve clock stops.
    let (status, body) = app
        .post(&format!("/api/v1/incidents/{ticket}/pause"), ENGINEER, json!({"reason": "等待厂商补丁"}))
        .await;
    assert_eq!(status, 200, "{body}");
    clock.advance(SignedDuration::from_hours(3));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        events(&app.incident(&ticket).await, "sla_breached").len() == 1,
        "no resolve breach while paused"
    );
    let (status, body) = app.post(&format!("/api/v1/incidents/{ticket}/resume"), ENGINEER, json!({})).await;
    assert_eq!(status, 200, "{body}");
    // Resolve due 03:00 + 3 h paused = 06:00.
    assert_eq!(body["sla"]["resolve_due"], "2026-11-23T06:00:00Z");
    app.stop().await;

    // The breach falls due while nothing runs; after the restart it fires, once.
    clock.advance(SignedDuration::from_hours(2));
    let app = start(&db, &clock).await;
    let incident = wait_for(&app, &ticket, "sla_breached", 2).await;
    assert_eq!(events(&incident, "sla_breached")[1]["target"], "resolve");
    app.stop().await;
    let app = start(&db, &clock).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let incident = app.incident(&ticket).await;
    assert_eq!(events(&incident, "sla_breached").len(), 2, "each breach fires exactly once");
    assert_eq!(incident["sla"]["resolve_breached"], true);
    app.stop().await;
}

async fn an_override_replans_the_deadlines(backend: Backend) {
    let db = TestDb::new(backend).await;
    let clock = ManualClock::new("2026-11-23T01:00:00Z".parse::<Timestamp>().unwrap());
    let app = start(&db, &clock).await;
    let ticket = open(&app, "3", "k2").await;
    clock.advance(SignedDuration::from_mins(2));
    let (status, body) = app
        .post(
            &format!("/api/v1/incidents/{ticket}/severity"),
            ENGINEER,
            json!({"severity": 1, "reason": "全院无法立案"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // 一级: respond 5 min, resolve 30 min — from the same start.
    assert_eq!(body["sla"]["respond_due"], "2026-11-23T01:05:00Z");
    assert_eq!(body["sla"]["resolve_due"], "2026-11-23T01:30:00Z");
    clock.advance(SignedDuration::from_mins(4));
    let incident = wait_for(&app, &ticket, "sla_breached", 1).await;
    assert_eq!(events(&incident, "sla_breached")[0]["target"], "respond");
    app.stop().await;
}

async fn working_day_targets_skip_the_holiday(backend: Backend) {
    let db = TestDb::new(backend).await;
    // Wednesday 2026-09-30 16:00 Beijing time, before the National Day break (10/1–10/7).
    let clock = ManualClock::new("2026-09-30T08:00:00Z".parse::<Timestamp>().unwrap());
    let app = start(&db, &clock).await;
    let ticket = open(&app, "4", "k3").await;
    let incident = app.incident(&ticket).await;
    let due: Timestamp = incident["sla"]["resolve_due"].as_str().unwrap().parse().unwrap();
    let local = due.to_zoned_datetime(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap());
    // Two working days later: Thursday 10/8 and Friday 10/9 are the first workdays after the break.
    assert!(local.date() >= jiff::civil::date(2026, 10, 8), "{local}");
    app.stop().await;
}

on_both_backends!(
    deadlines_warn_breach_and_pause,
    an_override_replans_the_deadlines,
    working_day_targets_skip_the_holiday
);
