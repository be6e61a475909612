//! Emergency plans end to end, on both backends: a 一级 incident activates its plan by itself
//! (the emergency group is paged, the checklist posted to the group with a button per step); a
//! step ticked in chat edits the checklist and is written to the process record; the evaluation
//! ends it and the counts feed the reports; a plan set to "offer" waits for a button press.

mod common;

use std::time::Duration;

use common::fake_telegram::FakeTelegram;
use common::receiver::Receiver;
use common::*;
use serde_json::{Value, json};
use zhiban::config::Config;

const GROUP: i64 = -100400;
const ENGINEER_TG: i64 = 1001;
const WAIT: Duration = Duration::from_secs(15);

fn emergency_config(db: &TestDb, tg: &FakeTelegram, im: &Receiver) -> Config {
    let text = format!(
        r#"{base}
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
default_rules = [{{ channel = "im" }}]

[[paging.channels]]
name = "im"
kind = "webhook"
url = "{im}"

[[emergency_plans]]
id = "major"
name = "重大故障应急预案"
levels = [1]
keywords = ["全院"]
activate = "auto"
group = ["person:lina", "role:leader"]
channels = ["leaders"]
checklist = ["成立应急小组", "通知甲方领导", "切换备用系统", "恢复业务并总结"]

[[emergency_plans]]
id = "ransomware"
name = "勒索病毒应急预案"
keywords = ["勒索"]
group = ["person:lina"]
channels = ["leaders"]
checklist = ["断网隔离", "排查感染范围"]
"#,
        base = config_text(&db.url, &Knobs::default()),
        token = tg.token(),
        api = tg.url(),
        im = im.url,
    );
    let text = text.replace(
        "[[people]]\nid = \"zhangwei\"\nname = \"张伟\"\nphone = \"13800138001\"\n",
        &format!("[[people]]\nid = \"zhangwei\"\nname = \"张伟\"\nphone = \"13800138001\"\nim = {{ telegram = \"{ENGINEER_TG}\" }}\n"),
    );
    Config::parse(std::path::Path::new("emergency.toml"), &text, &|_| None).unwrap_or_else(|e| panic!("{e}"))
}

async fn report(app: &TestApp, title: &str) -> String {
    let (status, body) =
        app.post("/api/v1/incidents", ENGINEER, json!({ "title": title, "severity": 1 })).await;
    assert!(status == 201, "{body}");
    body["ticket"].as_str().unwrap().to_string()
}

async fn emergencies(app: &TestApp, ticket: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/incidents/{ticket}/emergencies"), ADMIN).await.1["emergencies"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn a_major_incident_runs_its_plan(backend: Backend) {
    let db = TestDb::new(backend).await;
    let tg = FakeTelegram::start().await;
    let im = Receiver::start().await;
    let app = TestApp::start_with(emergency_config(&db, &tg, &im)).await;
    let ticket = report(&app, "全院统一业务系统瘫痪").await;

    // Activated by itself: the group is paged and the checklist posted with a button per step.
    eventually(WAIT, "the plan is active", || {
        let app = &app;
        let ticket = ticket.clone();
        async move { emergencies(app, &ticket).await.first().is_some_and(|e| e["status"] == "active") }
    })
    .await;
    eventually(WAIT, "the emergency group is paged", || {
        let people: Vec<String> =
            im.bodies().iter().map(|b| b["person"].as_str().unwrap_or("").to_string()).collect();
        let ok = people.contains(&"lina".to_string()) && people.contains(&"leader".to_string());
        async move { ok }
    })
    .await;
    let mut checklist = None;
    eventually(WAIT, "the checklist in the group", || {
        checklist = tg.sent_to(GROUP).into_iter().find(|m| m.text.contains("处置清单"));
        let ok = checklist.is_some();
        async move { ok }
    })
    .await;
    let checklist = checklist.unwrap();
    assert_eq!(checklist.buttons.len(), 4, "{:?}", checklist.buttons);
    assert!(checklist.text.contains("⬜ 1. 成立应急小组"), "{}", checklist.text);

    // Step 1 ticked in chat by the engineer: the checklist is edited in place.
    let (_, data) = checklist.buttons[0][0].clone();
    tg.callback(ENGINEER_TG, "zhangwei_ops", GROUP, checklist.message_id, &data);
    eventually(WAIT, "the checklist shows step 1 done", || {
        let now = tg.sent_to(GROUP).into_iter().find(|m| m.message_id == checklist.message_id);
        let ok = now.is_some_and(|m| m.text.contains("✅ 1. 成立应急小组（张伟") && m.buttons.len() == 3);
        async move { ok }
    })
    .await;
    // Step 2 through the API.
    let id = emergencies(&app, &ticket).await[0]["id"].as_i64().unwrap();
    let (status, body) = app.post(&format!("/api/v1/emergencies/{id}/steps/2"), ENGINEER, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["steps"].as_array().unwrap().len(), 2);
    let (status, _) = app.post(&format!("/api/v1/emergencies/{id}/steps/9"), ENGINEER, json!({})).await;
    assert_eq!(status, 404);

    // The evaluation ends it; everything is in the process record.
    let (status, body) = app
        .post(
            &format!("/api/v1/emergencies/{id}/end"),
            LEADER,
            json!({ "objectives_met": true, "follow_up": "problem", "text": "需查明数据库连接池耗尽原因" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ended");
    let timeline = app.incident(&ticket).await["timeline"].clone();
    let texts: Vec<String> =
        timeline.as_array().unwrap().iter().filter_map(|e| e["text"].as_str().map(str::to_string)).collect();
    assert!(texts.iter().any(|t| t.contains("已启动应急预案「重大故障应急预案」")), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("应急处置步骤 1「成立应急小组」已完成（张伟）")), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("转入问题管理")), "{texts:?}");
    let (status, again) = app
        .post(
            &format!("/api/v1/emergencies/{id}/end"),
            LEADER,
            json!({ "objectives_met": true, "follow_up": "none" }),
        )
        .await;
    assert_eq!(status, 409, "{again}");

    let (_, stats) = app
        .get("/api/v1/emergencies/stats?from=2020-01-01T00:00:00Z&until=2100-01-01T00:00:00Z", ADMIN)
        .await;
    assert_eq!(stats["stats"]["activations"], 1, "{stats}");
    assert_eq!(stats["stats"]["problems"], 1, "{stats}");
    assert_eq!(stats["stats"]["by_plan"]["major"], 1, "{stats}");
    app.stop().await;
}

async fn an_offered_plan_waits_for_its_button(backend: Backend) {
    let db = TestDb::new(backend).await;
    let tg = FakeTelegram::start().await;
    let im = Receiver::start().await;
    let app = TestApp::start_with(emergency_config(&db, &tg, &im)).await;
    let ticket = report(&app, "多台终端感染勒索病毒").await;
    let mut offer = None;
    eventually(WAIT, "the plan is offered in the group", || {
        offer = tg.sent_to(GROUP).into_iter().find(|m| m.text.contains("是否启动应急预案"));
        let ok = offer.is_some();
        async move { ok }
    })
    .await;
    let offer = offer.unwrap();
    assert_eq!(emergencies(&app, &ticket).await[0]["status"], "offered");
    assert!(!im.bodies().iter().any(|b| b["person"] == "lina"), "nobody is called before activation");
    // A stranger's press does nothing; the engineer's activates.
    tg.callback(5555, "stranger", GROUP, offer.message_id, &offer.buttons[0][0].1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(emergencies(&app, &ticket).await[0]["status"], "offered");
    tg.callback(ENGINEER_TG, "zhangwei_ops", GROUP, offer.message_id, &offer.buttons[0][0].1);
    eventually(WAIT, "activated by the button", || {
        let app = &app;
        let ticket = ticket.clone();
        async move { emergencies(app, &ticket).await[0]["status"] == "active" }
    })
    .await;
    eventually(WAIT, "the group is called", || {
        let ok = im.bodies().iter().any(|b| b["person"] == "lina");
        async move { ok }
    })
    .await;
    app.stop().await;
}

on_both_backends!(a_major_incident_runs_its_plan, an_offered_plan_waits_for_its_button);
