//! Nothing lost, nothing twice: timers across restarts, outbox retries and dead letters.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::receiver::Receiver;
use common::*;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use zhiban::app::{self, StartOptions};
use zhiban::engine::ManualClock;

async fn start_with_clock(db: &TestDb, knobs: &Knobs, clock: &ManualClock) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let options = StartOptions {
        clock: Arc::new(clock.clone()),
        listener: Some(listener),
        poll_interval: Duration::from_millis(100),
    };
    let running = app::start(config(&db.url, knobs), options).await.unwrap();
    TestApp { base: format!("http://{}", running.addr), running, http: reqwest::Client::new() }
}

fn count(incident: &serde_json::Value, kind: &str) -> usize {
    incident["timeline"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).count()
}

async fn a_pending_timer_survives_restarts_and_fires_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let receiver = Receiver::start().await;
    let knobs = Knobs {
        ack_reminder_after: "10m",
        auto_close_after: "1h",
        sink_url: Some(receiver.url.clone()),
        ..Default::default()
    };
    let clock = ManualClock::new("2026-11-24T01:00:00Z".parse::<Timestamp>().unwrap());

    // Instance 1 opens an incident: its acknowledgement reminder is armed for 01:10.
    let app = start_with_clock(&db, &knobs, &clock).await;
    let (status, body) =
        app.webhook("generic", GENERIC_TOKEN, r#"{"title":"电子签章服务无响应","dedup_key":"seal"}"#).await;
    assert_eq!(status, 200, "{body}");
    let ticket = body["incidents"][0]["ticket"].as_str().unwrap().to_string();
    app.stop().await;

    // While nothing runs, the reminder falls due.
    clock.advance(SignedDuration::from_mins(11));
    let app = start_with_clock(&db, &knobs, &clock).await;
    eventually(Duration::from_secs(10), "the reminder to fire after the restart", || async {
        count(&app.incident(&ticket).await, "ack_overdue") == 1
    })
    .await;
    // Resolve at 01:12: auto-close is armed for 02:12.
    clock.advance(SignedDuration::from_mins(1));
    let (status, body) = app
        .post(&format!("/api/v1/incidents/{ticket}/resolve"), ENGINEER, json!({"note": "重启签章服务"}))
        .await;
    assert_eq!(status, 200, "{body}");
    app.stop().await;

    clock.advance(SignedDuration::from_hours(2));
    let app = start_with_clock(&db, &knobs, &clock).await;
    eventually(Duration::from_secs(10), "auto-close to fire after the restart", || async {
        app.incident(&ticket).await["status"] == "closed"
    })
    .await;
    app.stop().await;

    // One more restart, much later: nothing fires again.
    clock.advance(SignedDuration::from_hours(24));
    let app = start_with_clock(&db, &knobs, &clock).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let incident = app.incident(&ticket).await;
    assert_eq!(count(&incident, "ack_overdue"), 1);
    assert_eq!(count(&incident, "closed"), 1);
    assert_eq!(
        incident["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "closed").unwrap()["automatic"],
        true
    );

    // Every notification reached the receiver exactly once: opened, ack_overdue, resolved, closed.
    eventually(Duration::from_secs(10), "all four notifications", || async { receiver.distinct() == 4 })
        .await;
    assert_eq!(receiver.total(), 4);
    assert!(receiver.record.lock().unwrap().signatures_ok, "every delivery is signed");
    let events: Vec<String> =
        receiver.bodies().iter().map(|b| b["event"].as_str().unwrap().to_string()).collect();
    assert_eq!(events, ["opened", "ack_overdue", "resolved", "closed"]);
    let metrics =
        app.http.get(app.url("/metrics")).bearer_auth(ADMIN).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("zhiban_timers_pending 0"), "{metrics}");
    app.stop().await;
}

async fn an_acknowledged_incident_never_fires_its_reminder(backend: Backend) {
    let db = TestDb::new(backend).await;
    let knobs = Knobs { ack_reminder_after: "10m", ..Default::default() };
    let clock = ManualClock::new("2026-11-24T01:00:00Z".parse::<Timestamp>().unwrap());
    let app = start_with_clock(&db, &knobs, &clock).await;
    let (_, body) =
        app.webhook("generic", GENERIC_TOKEN, r#"{"title":"OA 无法打开","dedup_key":"oa"}"#).await;
    let ticket = body["incidents"][0]["ticket"].as_str().unwrap().to_string();
    let (status, _) = app.post(&format!("/api/v1/incidents/{ticket}/acknowledge"), ENGINEER, json!({})).await;
    assert_eq!(status, 200);
    clock.advance(SignedDuration::from_mins(30));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(count(&app.incident(&ticket).await, "ack_overdue"), 0);
    app.stop().await;
}

async fn failed_deliveries_are_retried_then_dead_lettered(backend: Backend) {
    let db = TestDb::new(backend).await;
    let receiver = Receiver::start().await;
    // The receiver fails twice, then takes the message.
    receiver.record.lock().unwrap().script = vec![500, 503];
    let knobs = Knobs { sink_url: Some(receiver.url.clone()), max_attempts: 4, ..Default::default() };
    let app = TestApp::start(&db, &knobs).await;
    app.webhook("generic", GENERIC_TOKEN, r#"{"title":"视频会议系统卡顿","dedup_key":"video"}"#).await;
    eventually(Duration::from_secs(20), "delivery after two failures", || async { receiver.total() == 1 })
        .await;
    // The receiver counts before the dispatcher records the result: wait for the record.
    eventually(Duration::from_secs(10), "the message recorded as sent", || async {
        let (_, sent) = app.get("/api/v1/outbox?status=sent", ADMIN).await;
        sent["messages"].as_array().is_some_and(|m| m.len() == 1)
    })
    .await;
    let (_, sent) = app.get("/api/v1/outbox?status=sent", ADMIN).await;
    assert_eq!(sent["messages"][0]["attempts"], 3, "{sent}");

    // A receiver that refuses the message itself (4xx) will not change its mind: dead letter at once.
    receiver.record.lock().unwrap().script = vec![400];
    app.webhook("generic", GENERIC_TOKEN, r#"{"title":"打印机无法打印","dedup_key":"printer"}"#).await;
    eventually(Duration::from_secs(10), "a dead letter", || async {
        let (_, dead) = app.get("/api/v1/outbox?status=dead", ADMIN).await;
        dead["messages"].as_array().map(|m| m.len()) == Some(1)
    })
    .await;
    let (_, dead) = app.get("/api/v1/outbox?status=dead", ADMIN).await;
    assert!(dead["messages"][0]["last_error"].as_str().unwrap().contains("400"), "{dead}");
    assert_eq!(dead["messages"][0]["attempts"], 1);
    // Dead letters are for admins.
    let (status, _) = app.get("/api/v1/outbox?status=dead", ENGINEER).await;
    assert_eq!(status, 403);
    let metrics =
        app.http.get(app.url("/metrics")).bearer_auth(ADMIN).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("zhiban_outbox_dead 1"), "{metrics}");
    app.stop().await;
}

on_both_backends!(
    a_pending_timer_survives_restarts_and_fires_once,
    an_acknowledged_incident_never_fires_its_reminder,
    failed_deliveries_are_retried_then_dead_lettered,
);
