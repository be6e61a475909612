//! Drills end to end on a simulated clock, on both backends: the announcement and the card in the
//! group say 【演练】; the plan's participant is paged and nobody else (not the default policy's
//! engineer, not even someone the drill is handed to by hand); acknowledgements and arrivals are
//! measured against the objectives; the record is posted when the fault is restored and carries
//! the lead's evaluation; pausing holds paging; stopping closes every pending page.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::fake_telegram::FakeTelegram;
use common::receiver::Receiver;
use common::*;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use zhiban::app::{self, StartOptions};
use zhiban::config::Config;
use zhiban::engine::ManualClock;

const GROUP: i64 = -100300;
const LINA: &str = "test-lina-token-000001";
const WAIT: Duration = Duration::from_secs(15);

fn drill_config(db: &TestDb, tg: &FakeTelegram, im: &Receiver, sms: &Receiver) -> Config {
    let text = drill_config_text(db, tg, im, sms);
    Config::parse(std::path::Path::new("drills.toml"), &text, &|_| None).unwrap_or_else(|e| panic!("{e}"))
}

fn drill_config_text(db: &TestDb, tg: &FakeTelegram, im: &Receiver, sms: &Receiver) -> String {
    format!(
        r#"{base}
[[api.tokens]]
person = "lina"
token = "{LINA}"

[[people]]
id = "lina"
name = "李娜"
roles = ["engineer"]

[telegram]
token = "{token}"
api_url = "{api}"
poll_timeout = "1s"

[[chat.channels]]
name = "leaders"
provider = "telegram"
chat = "{GROUP}"

[paging]
default_policy = "default"
default_rules = [{{ channel = "im" }}, {{ channel = "sms", after = "2m" }}]

[[paging.channels]]
name = "im"
kind = "webhook"
url = "{im}"

[[paging.channels]]
name = "sms"
kind = "webhook"
url = "{sms}"

[[paging.policies]]
id = "default"
name = "日常"
[[paging.policies.tiers]]
targets = ["person:lina"]
ack_timeout = "15m"

[[drills]]
id = "db-down"
name = "数据库宕机演练"
scenario = "数据库宕机"
lead = "leader"
participants = [["person:zhangwei"]]
tier_timeout = "5m"
channels = ["leaders"]
objectives = {{ ack = "5m", on_site = "30m", restore = "60m" }}
incident = {{ title = "统一业务数据库宕机", text = "模拟：数据库主库宕机，业务中断", level = 2, system = "统一业务" }}
"#,
        base = config_text(&db.url, &Knobs::default()),
        token = tg.token(),
        api = tg.url(),
        im = im.url,
        sms = sms.url,
    )
}

struct Rig {
    db: TestDb,
    tg: FakeTelegram,
    clock: ManualClock,
    im: Receiver,
    sms: Receiver,
}

impl Rig {
    async fn new(backend: Backend) -> Rig {
        Rig {
            db: TestDb::new(backend).await,
            tg: FakeTelegram::start().await,
            // Friday 10:00 in Beijing.
            clock: ManualClock::new("2026-11-27T02:00:00Z".parse::<Timestamp>().unwrap()),
            im: Receiver::start().await,
            sms: Receiver::start().await,
        }
    }

    async fn start(&self) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let options = StartOptions {
            clock: Arc::new(self.clock.clone()),
            listener: Some(listener),
            poll_interval: Duration::from_millis(100),
        };
        let running =
            app::start(drill_config(&self.db, &self.tg, &self.im, &self.sms), options).await.unwrap();
        TestApp { base: format!("http://{}", running.addr), running, http: reqwest::Client::new() }
    }

    fn advance(&self, minutes: i64) {
        self.clock.advance(SignedDuration::from_mins(minutes));
    }
}

fn people(r: &Receiver) -> Vec<String> {
    r.bodies().iter().map(|b| b["person"].as_str().unwrap_or("?").to_string()).collect()
}

async fn group_text(tg: &FakeTelegram, needle: &str) -> String {
    let mut found = String::new();
    eventually(WAIT, &format!("the group gets {needle:?}"), || {
        let m = tg.sent_to(GROUP).into_iter().find(|m| m.text.contains(needle)).map(|m| m.text);
        let ok = m.is_some();
        found = m.unwrap_or_default();
        async move { ok }
    })
    .await;
    found
}

async fn start_drill(app: &TestApp) -> (i64, String) {
    let (status, run) = app.post("/api/v1/drills/db-down/start", ENGINEER, json!({})).await;
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_i64().unwrap();
    let incidents = app.incidents().await;
    let incident = incidents.iter().find(|i| i["id"] == run["incident"]).expect("the drill's incident");
    (id, incident["ticket"].as_str().unwrap().to_string())
}

async fn a_drill_runs_and_is_measured(backend: Backend) {
    let rig = Rig::new(backend).await;
    let app = rig.start().await;
    let (run, ticket) = start_drill(&app).await;
    let incident = app.incident(&ticket).await;
    assert_eq!(incident["labels"]["drill"], "true");
    assert!(incident["sla"].is_null(), "a drill counts in no SLA: {}", incident["sla"]);

    // Announced, and the card says 【演练】.
    let announcement = group_text(&rig.tg, "预告").await;
    assert!(announcement.contains("【演练】") && announcement.contains("5分钟内确认"), "{announcement}");
    let card = group_text(&rig.tg, &ticket).await;
    assert!(card.starts_with("【演练】"), "{card}");

    // The plan's participant is paged, marked 【演练】; the default policy's engineer is not.
    eventually(WAIT, "zhangwei is paged", || async { people(&rig.im).contains(&"zhangwei".to_string()) })
        .await;
    let page = rig.im.bodies().into_iter().find(|b| b["person"] == "zhangwei").unwrap();
    assert_eq!(page["drill"], true);
    assert!(page["text"].as_str().unwrap().starts_with("【演练】"), "{page}");

    rig.advance(3);
    let (status, _) = app.post(&format!("/api/v1/incidents/{ticket}/acknowledge"), ENGINEER, json!({})).await;
    assert_eq!(status, 200);
    // Handing the drill to someone outside the plan pages nobody.
    let (status, body) = app
        .post(
            &format!("/api/v1/incidents/{ticket}/reassign"),
            ENGINEER,
            json!({ "to": "lina", "reason": "试试" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = app
        .post(
            &format!("/api/v1/incidents/{ticket}/reassign"),
            LINA,
            json!({ "to": "zhangwei", "reason": "还给你" }),
        )
        .await;
    assert_eq!(status, 200);
    rig.advance(40);
    let (status, _) = app.post(&format!("/api/v1/incidents/{ticket}/arrive"), ENGINEER, json!({})).await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post(&format!("/api/v1/incidents/{ticket}/comment"), ENGINEER, json!({ "text": "已切换到备库" }))
        .await;
    assert_eq!(status, 200);
    rig.advance(7);
    let (status, _) = app.post(&format!("/api/v1/incidents/{ticket}/resolve"), ENGINEER, json!({})).await;
    assert_eq!(status, 200);

    // Restored: the run finishes and its record goes to the group.
    let report = group_text(&rig.tg, "演练记录").await;
    assert!(report.contains("5分钟内确认：用时 3分钟，✅ 达成"), "{report}");
    assert!(report.contains("30分钟内到场：用时 43分钟，❌ 未达成"), "{report}");
    assert!(report.contains("1小时内恢复：用时 50分钟，✅ 达成"), "{report}");
    assert!(report.contains("已切换到备库"), "{report}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !people(&rig.im).contains(&"lina".to_string()),
        "nobody outside the plan is paged: {:?}",
        people(&rig.im)
    );
    let pages: Value = app.get(&format!("/api/v1/incidents/{ticket}/pages"), ADMIN).await.1;
    let to_lina: Vec<&Value> =
        pages["pages"].as_array().unwrap().iter().filter(|p| p["person"] == "lina").collect();
    assert!(to_lina.iter().all(|p| p["status"] == "cancelled"), "{to_lina:?}");

    // Only the lead evaluates.
    let (status, _) =
        app.post(&format!("/api/v1/drill-runs/{run}/evaluate"), ENGINEER, json!({ "text": "不错" })).await;
    assert_eq!(status, 403);
    let (status, body) = app
        .post(
            &format!("/api/v1/drill-runs/{run}/evaluate"),
            LEADER,
            json!({ "text": "响应及时，到场超时，需优化备件流程" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "finished");
    let md = app
        .http
        .get(app.url(&format!("/api/v1/drill-runs/{run}/report?format=md")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(md.contains("响应及时，到场超时，需优化备件流程（李主任"), "{md}");
    let html = app
        .http
        .get(app.url(&format!("/api/v1/drill-runs/{run}/report?format=html")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<h1>【演练】演练记录：数据库宕机演练</h1>"), "{html}");
    app.stop().await;
}

async fn stopping_a_drill_stops_its_pages(backend: Backend) {
    let rig = Rig::new(backend).await;
    let app = rig.start().await;
    let (run, ticket) = start_drill(&app).await;
    eventually(WAIT, "zhangwei is paged by IM", || async { !rig.im.bodies().is_empty() }).await;
    // The SMS page waits two minutes; stopping the drill cancels it.
    let (status, body) = app.post(&format!("/api/v1/drill-runs/{run}/stop"), ENGINEER, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "stopped");
    assert_eq!(app.incident(&ticket).await["status"], "cancelled");
    rig.advance(10);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(rig.sms.bodies().len(), 0, "no page after the stop");
    let report = group_text(&rig.tg, "演练记录").await;
    assert!(report.contains("已结束（未恢复）"), "{report}");
    app.stop().await;
}

async fn pausing_holds_paging(backend: Backend) {
    let rig = Rig::new(backend).await;
    let app = rig.start().await;
    let (run, _ticket) = start_drill(&app).await;
    eventually(WAIT, "the first page", || async { rig.im.bodies().len() == 1 }).await;
    let (status, body) = app.post(&format!("/api/v1/drill-runs/{run}/pause"), ENGINEER, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "paused");
    // The SMS page after two minutes and the tier's timeout do nothing while paused.
    rig.advance(10);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(rig.sms.bodies().len(), 0);
    assert_eq!(rig.im.bodies().len(), 1);
    let (status, body) = app.post(&format!("/api/v1/drill-runs/{run}/resume"), ENGINEER, json!({})).await;
    assert_eq!(status, 200, "{body}");
    eventually(WAIT, "paged again after resuming", || async { rig.im.bodies().len() == 2 }).await;
    // 演练 状态 in the group answers with the running drill.
    rig.tg.group_message(GROUP, "值班群", 9001, "someone", "演练 状态", None);
    app.stop().await;
}

async fn plans_are_edited_through_the_api(backend: Backend) {
    let rig = Rig::new(backend).await;
    let app = rig.start().await;
    let plan = json!({
        "name": "机房断电演练",
        "scenario": "机房断电",
        "participants": [["person:lina"]],
        "channels": ["leaders"],
        "objectives": { "ack": "10m" },
        "incident": { "title": "机房断电", "level": 1 },
    });
    let put = |token: &'static str, id: &'static str, body: Value| {
        let app = &app;
        async move {
            let r = app
                .http
                .put(app.url(&format!("/api/v1/drills/{id}")))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // Engineers run drills; leaders write them.
    assert_eq!(put(ENGINEER, "power-cut", plan.clone()).await.0, 403);
    let mut bad = plan.clone();
    bad["participants"] = json!([["person:nobody"]]);
    let (status, body) = put(LEADER, "power-cut", bad).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("participants[0][0]"), "{body}");
    let (status, body) = put(LEADER, "power-cut", plan).await;
    assert_eq!(status, 200, "{body}");

    let (status, run) = app.post("/api/v1/drills/power-cut/start", ENGINEER, json!({})).await;
    assert_eq!(status, 201, "{run}");
    eventually(WAIT, "the new plan's participant is paged", || async {
        people(&rig.im).contains(&"lina".to_string())
    })
    .await;
    assert!(!people(&rig.im).contains(&"zhangwei".to_string()));
    let (_, list) = app.get("/api/v1/drills", ADMIN).await;
    assert!(list["plans"].as_array().unwrap().iter().any(|p| p["id"] == "power-cut"), "{list}");
    app.stop().await;
    // The edited plan outlives a restart.
    let app = rig.start().await;
    let (_, list) = app.get("/api/v1/drills", ADMIN).await;
    assert!(
        list["plans"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "power-cut" && p["name"] == "机房断电演练"),
        "{list}"
    );
    app.stop().await;
}

/// `zhiban drill start` from the command line queues the run that the server then carries out.
async fn the_cli_starts_a_drill(backend: Backend) {
    let rig = Rig::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("zhiban.toml");
    std::fs::write(&file, drill_config_text(&rig.db, &rig.tg, &rig.im, &rig.sms)).unwrap();
    let bin = env!("CARGO_BIN_EXE_zhiban");
    let out = std::process::Command::new(bin)
        .args(["drill", "start", "数据库宕机", "--by", "zhangwei", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = std::process::Command::new(bin)
        .args(["drill", "start", "no-such-plan", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no drill plan 'no-such-plan'"));
    // The server delivers what the CLI queued: the participant is paged.
    let app = rig.start().await;
    eventually(WAIT, "the CLI's drill pages its participant", || async {
        people(&rig.im).contains(&"zhangwei".to_string())
    })
    .await;
    let out = std::process::Command::new(bin)
        .args(["drill", "report", "1", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("# 【演练】演练记录：数据库宕机演练"));
    app.stop().await;
}

on_both_backends!(
    the_cli_starts_a_drill,
    a_drill_runs_and_is_measured,
    stopping_a_drill_stops_its_pages,
    pausing_holds_paging,
    plans_are_edited_through_the_api
);
