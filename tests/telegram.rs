//! Telegram end to end against the fake Bot API (`common/fake_telegram.rs`), on both backends:
//! a guided report in a private chat opens a ticket and answers with its number; the on-call
//! engineer's page arrives as a DM with buttons, a press acknowledges and the DM and the group's
//! card are edited in place; an unbound account's press is refused; binding by one-time code;
//! a storm of 429s delays but loses nothing; webhook mode checks its secret; a migrated group is
//! followed and a blocked bot fails the page over; a photo is attached to its ticket.

mod common;

use std::time::Duration;

use common::fake_telegram::{Failure, FakeTelegram};
use common::receiver::Receiver;
use common::*;
use serde_json::json;
use zhiban::app::{self, StartOptions};
use zhiban::config::Config;

const ENGINEER_TG: i64 = 1001;
const STAFF_TG: i64 = 2001;
const STRANGER_TG: i64 = 3003;
const GROUP: i64 = -100200;
const WAIT: Duration = Duration::from_secs(20);

struct Setup {
    mode: &'static str,
    public_url: String,
    max_attempts: u32,
    fallback: Option<String>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup { mode: "polling", public_url: "http://zhiban.test".into(), max_attempts: 10, fallback: None }
    }
}

fn telegram_config(db: &TestDb, tg: &FakeTelegram, s: &Setup) -> Config {
    let text = telegram_config_text(db, tg, s);
    Config::parse(std::path::Path::new("test.toml"), &text, &|_| None).unwrap_or_else(|e| panic!("{e}"))
}

fn telegram_config_text(db: &TestDb, tg: &FakeTelegram, s: &Setup) -> String {
    let knobs = Knobs { max_attempts: s.max_attempts, ..Knobs::default() };
    let base = config_text(&db.url, &knobs)
        .replace("public_url = \"http://zhiban.test\"", &format!("public_url = \"{}\"", s.public_url));
    let (fallback_channel, rules) = match &s.fallback {
        Some(url) => (
            format!("[[paging.channels]]\nname = \"backup\"\nkind = \"webhook\"\nurl = \"{url}\"\n"),
            r#"[{ channel = "tg" }, { channel = "backup", after = "10m" }]"#,
        ),
        None => (String::new(), r#"[{ channel = "tg" }]"#),
    };
    let text = format!(
        r#"{base}
[telegram]
token = "{token}"
api_url = "{api}"
mode = "{mode}"
webhook_secret = "test-telegram-secret_0123"
poll_timeout = "1s"

[chat]
allow_unbound_reports = true

[[chat.channels]]
name = "leaders"
provider = "telegram"
chat = "{GROUP}"

[paging]
default_policy = "default"
default_rules = {rules}

[[paging.channels]]
name = "tg"
kind = "telegram"
{fallback_channel}
[[paging.policies]]
id = "default"
name = "默认"
[[paging.policies.tiers]]
targets = ["person:zhangwei"]
ack_timeout = "30m"
"#,
        token = tg.token(),
        api = tg.url(),
        mode = s.mode,
    );
    text.replace(
        "[[people]]\nid = \"zhangwei\"\nname = \"张伟\"\nphone = \"13800138001\"\n",
        &format!("[[people]]\nid = \"zhangwei\"\nname = \"张伟\"\nphone = \"13800138001\"\nim = {{ telegram = \"{ENGINEER_TG}\" }}\n"),
    )
}

async fn start(config: Config) -> TestApp {
    TestApp::start_with(config).await
}

async fn wait_text(tg: &FakeTelegram, chat: i64, needle: &str) -> common::fake_telegram::SentMessage {
    let mut found = None;
    eventually(WAIT, &format!("a message to {chat} containing {needle:?}"), || {
        let m = tg.sent_to(chat).into_iter().find(|m| m.text.contains(needle));
        let ok = m.is_some();
        found = m;
        async move { ok }
    })
    .await;
    found.expect("found")
}

/// The ticket number in a bot's answer (`工单号 20261125-001`).
fn ticket_in(text: &str) -> String {
    let at = text
        .find("工单号 ")
        .map(|i| i + "工单号 ".len())
        .or_else(|| text.find("ticket ").map(|i| i + 7))
        .expect("a ticket number");
    text[at..].chars().take_while(|c| c.is_ascii_digit() || *c == '-').collect()
}

async fn guided_report(tg: &FakeTelegram) -> String {
    tg.user_message(STAFF_TG, STAFF_TG, "court_clerk", "书记员小王", "统一业务系统登录不上，全庭都无法办案");
    // The system is recognised; the unit and a phone are asked for, with buttons.
    let ask = wait_text(tg, STAFF_TG, "哪个单位").await;
    let (label, data) = ask.buttons[0][0].clone();
    assert_eq!(label, "某省高级人民法院");
    tg.callback(STAFF_TG, "court_clerk", STAFF_TG, ask.message_id, &data);
    wait_text(tg, STAFF_TG, "联系电话").await;
    tg.user_message(STAFF_TG, STAFF_TG, "court_clerk", "书记员小王", "电话 abc");
    wait_text(tg, STAFF_TG, "不像电话号码").await;
    tg.user_message(STAFF_TG, STAFF_TG, "court_clerk", "书记员小王", "139 0013 9000");
    let receipt = wait_text(tg, STAFF_TG, "已受理报障").await;
    assert!(receipt.text.contains("统一业务应用系统"), "{}", receipt.text);
    assert!(receipt.text.contains("某省高级人民法院"), "{}", receipt.text);
    assert!(receipt.text.contains("级别："), "{}", receipt.text);
    ticket_in(&receipt.text)
}

async fn report_page_ack_and_card(backend: Backend) {
    let db = TestDb::new(backend).await;
    let tg = FakeTelegram::start().await;
    let app = start(telegram_config(&db, &tg, &Setup::default())).await;

    let ticket = guided_report(&tg).await;
    let incident = app.incident(&ticket).await;
    assert_eq!(incident["system"], "tyyw");
    assert_eq!(incident["unit"], "gy");

    // The page: a DM to the engineer with 确认 / 到场 / 转派.
    let page = wait_text(&tg, ENGINEER_TG, &ticket).await;
    let labels: Vec<&str> = page.buttons[0].iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["确认", "到场", "转派"]);
    // The leaders' group gets the card.
    let card = wait_text(&tg, GROUP, &ticket).await;
    assert!(card.text.contains("状态："), "{}", card.text);

    // Someone unbound presses 确认 on a forwarded page: refused, nothing changes.
    let refused = tg.callback(STRANGER_TG, "stranger", ENGINEER_TG, page.message_id, &page.buttons[0][0].1);
    eventually(WAIT, "the stranger's press is answered", || {
        let answered = tg
            .answered_callbacks()
            .into_iter()
            .any(|(id, text)| id == refused && text.is_some_and(|t| t.contains("尚未绑定")));
        async move { answered }
    })
    .await;
    assert_eq!(app.incident(&ticket).await["status"], "new");

    // The engineer presses 确认.
    tg.callback(ENGINEER_TG, "zhangwei_ops", ENGINEER_TG, page.message_id, &page.buttons[0][0].1);
    eventually(WAIT, "acknowledged", || {
        let app = &app;
        let ticket = ticket.clone();
        async move { app.incident(&ticket).await["status"] == "acknowledged" }
    })
    .await;
    eventually(WAIT, "the page is edited in place", || {
        let edited = tg.edits(ENGINEER_TG, page.message_id) >= 1
            && tg
                .sent_to(ENGINEER_TG)
                .iter()
                .any(|m| m.message_id == page.message_id && m.text.contains("✅ 张伟"));
        async move { edited }
    })
    .await;
    let page_now = tg.sent_to(ENGINEER_TG).into_iter().find(|m| m.message_id == page.message_id).unwrap();
    let labels: Vec<&str> = page_now.buttons.iter().flatten().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["到场"], "only 到场 is left to do");
    eventually(WAIT, "the card is edited and an update threaded under it", || {
        let card_now = tg.sent_to(GROUP).into_iter().find(|m| m.message_id == card.message_id);
        let edited = tg.edits(GROUP, card.message_id) >= 1
            && card_now.is_some_and(|c| c.text.contains("负责人：张伟"));
        let threaded = tg.sent_to(GROUP).iter().any(|m| m.reply_to == Some(card.message_id));
        async move { edited && threaded }
    })
    .await;

    // Replying 到场 to the card in the group works without a ticket number.
    tg.group_message(GROUP, "值班群", ENGINEER_TG, "zhangwei_ops", "到场", Some(card.message_id));
    eventually(WAIT, "on site", || {
        let app = &app;
        let ticket = ticket.clone();
        async move { app.incident(&ticket).await["status"] == "on_site" }
    })
    .await;

    // The same fault reported again joins the ticket and says so.
    tg.group_message(
        GROUP,
        "值班群",
        STAFF_TG,
        "court_clerk",
        "报障 统一业务又登录不上了，某省高级人民法院",
        None,
    );
    wait_text(&tg, GROUP, "已并入").await;
    app.stop().await;
}

async fn binding_and_unbound_commands(backend: Backend) {
    let db = TestDb::new(backend).await;
    let tg = FakeTelegram::start().await;
    let app = start(telegram_config(&db, &tg, &Setup::default())).await;
    let (_, created) = app
        .post("/api/v1/incidents", ENGINEER, json!({ "title": "庭审系统卡顿", "system": "统一业务" }))
        .await;
    let ticket = created["ticket"].as_str().unwrap().to_string();

    // Not bound: 确认 is refused and nothing changes.
    tg.user_message(STRANGER_TG, STRANGER_TG, "newbie", "新同事", &format!("确认 {ticket}"));
    wait_text(&tg, STRANGER_TG, "尚未绑定").await;
    assert_eq!(app.incident(&ticket).await["status"], "new");
    // Nor may a stranger read who is on call (with phones) or the tickets.
    tg.user_message(STRANGER_TG, STRANGER_TG, "newbie", "新同事", "值班");
    wait_text(&tg, STRANGER_TG, "不能查看值班和工单").await;
    assert!(!tg.sent_to(STRANGER_TG).iter().any(|m| m.text.contains("13800138001")));

    // A wrong code, then the right one.
    tg.user_message(STRANGER_TG, STRANGER_TG, "newbie", "新同事", "绑定 00000000");
    wait_text(&tg, STRANGER_TG, "绑定码无效").await;
    let now = jiff::Timestamp::now();
    let code = zhiban::chat::identity::issue_code(
        &app.running.store,
        &zhiban::domain::PersonId("zhangwei".into()),
        now,
        now + jiff::SignedDuration::from_hours(1),
    )
    .await
    .unwrap();
    tg.user_message(STRANGER_TG, STRANGER_TG, "newbie", "新同事", &format!("绑定 {code}"));
    wait_text(&tg, STRANGER_TG, "绑定成功：张伟").await;
    // Used once only.
    tg.user_message(STRANGER_TG + 1, STRANGER_TG + 1, "other", "另一人", &format!("/bind {code}"));
    wait_text(&tg, STRANGER_TG + 1, "绑定码无效").await;

    // Now the account acts as 张伟; a malformed command gets its usage.
    tg.user_message(STRANGER_TG, STRANGER_TG, "newbie", "新同事", &format!("确认：{ticket}"));
    wait_text(&tg, STRANGER_TG, "已确认工单").await;
    assert_eq!(app.incident(&ticket).await["status"], "acknowledged");
    tg.user_message(STRANGER_TG, STRANGER_TG, "newbie", "新同事", "定级 五级");
    wait_text(&tg, STRANGER_TG, "用法：").await;
    tg.user_message(STRANGER_TG, STRANGER_TG, "newbie", "新同事", "/help");
    wait_text(&tg, STRANGER_TG, "确认").await;
    app.stop().await;
}

async fn a_429_storm_delays_but_loses_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let tg = FakeTelegram::start().await;
    // Two attempts only: were 429s counted as failures, the cards would be dead-lettered.
    let app = start(telegram_config(&db, &tg, &Setup { max_attempts: 2, ..Setup::default() })).await;
    tg.fail_next("sendMessage", 12, Failure::TooManyRequests { retry_after: 1 });
    let mut tickets = Vec::new();
    for i in 0..4 {
        let (_, created) = app
            .post("/api/v1/incidents", ENGINEER, json!({ "title": format!("第{i}个故障：打印机卡纸") }))
            .await;
        tickets.push(created["ticket"].as_str().unwrap().to_string());
    }
    eventually(Duration::from_secs(60), "every card reaches the group", || {
        let sent = tg.sent_to(GROUP);
        let all = tickets.iter().all(|t| sent.iter().any(|m| m.text.contains(t.as_str())));
        async move { all }
    })
    .await;
    let (_, dead) = app.get("/api/v1/outbox?status=dead", ADMIN).await;
    assert_eq!(dead["messages"].as_array().map(Vec::len), Some(0), "{dead}");
    app.stop().await;
}

async fn webhook_mode_checks_its_secret(backend: Backend) {
    let db = TestDb::new(backend).await;
    let tg = FakeTelegram::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_url = format!("http://{}", listener.local_addr().unwrap());
    let config = telegram_config(
        &db,
        &tg,
        &Setup { mode: "webhook", public_url: public_url.clone(), ..Setup::default() },
    );
    let options = StartOptions {
        listener: Some(listener),
        poll_interval: Duration::from_millis(200),
        ..Default::default()
    };
    let running = app::start(config, options).await.unwrap();
    eventually(WAIT, "the webhook is registered", || {
        let ok = tg.webhook().is_some_and(|(url, secret)| {
            url == format!("{public_url}/telegram/webhook") && secret == "test-telegram-secret_0123"
        });
        async move { ok }
    })
    .await;
    let http = reqwest::Client::new();
    let update = json!({ "update_id": 5, "message": { "message_id": 1, "date": 1764000000,
        "chat": { "id": 4242, "type": "private", "first_name": "X" },
        "from": { "id": 4242, "is_bot": false, "first_name": "X" }, "text": "/help" } });
    let wrong = http
        .post(format!("{public_url}/telegram/webhook"))
        .header("X-Telegram-Bot-Api-Secret-Token", "nope")
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let broken = http
        .post(format!("{public_url}/telegram/webhook"))
        .header("X-Telegram-Bot-Api-Secret-Token", "test-telegram-secret_0123")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    // Through the fake, which delivers to the registered webhook like Telegram does.
    tg.user_message(4343, 4343, "someone", "Y", "/help");
    wait_text(&tg, 4343, "确认").await;
    assert!(tg.sent_to(4242).is_empty(), "the refused update was not handled");
    running.shutdown().await;
}

async fn migrated_group_and_blocked_bot(backend: Backend) {
    let db = TestDb::new(backend).await;
    let tg = FakeTelegram::start().await;
    let backup = Receiver::start().await;
    let setup = Setup { fallback: Some(backup.url.clone()), ..Setup::default() };
    let app = start(telegram_config(&db, &tg, &setup)).await;
    tg.fail_chat(GROUP, Failure::Migrated { to: -100999 });
    tg.fail_chat(ENGINEER_TG, Failure::Blocked);
    let (_, created) = app
        .post("/api/v1/incidents", ENGINEER, json!({ "title": "统一业务数据库宕机", "system": "统一业务" }))
        .await;
    let ticket = created["ticket"].as_str().unwrap().to_string();
    // The card follows the group to its new id.
    wait_text(&tg, -100999, &ticket).await;
    // The blocked DM fails over to the backup channel at once.
    eventually(WAIT, "the page fails over", || {
        let got = backup.total() >= 1;
        async move { got }
    })
    .await;
    let (_, pages) = app.get(&format!("/api/v1/incidents/{ticket}/pages"), ADMIN).await;
    let statuses: Vec<(String, String)> = pages["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["channel"].as_str().unwrap().to_string(), p["status"].as_str().unwrap().to_string()))
        .collect();
    assert!(statuses.contains(&("tg".into(), "failed".into())), "{statuses:?}");
    assert!(statuses.iter().any(|(c, _)| c == "backup"), "{statuses:?}");
    app.stop().await;
}

async fn a_photo_is_attached(backend: Backend) {
    let db = TestDb::new(backend).await;
    let tg = FakeTelegram::start().await;
    let app = start(telegram_config(&db, &tg, &Setup::default())).await;
    let bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4, 5];
    tg.photo_message(
        ENGINEER_TG,
        ENGINEER_TG,
        "zhangwei_ops",
        "统一业务系统报错截图，某省高级人民法院",
        bytes.clone(),
    );
    let receipt = wait_text(&tg, ENGINEER_TG, "已受理报障").await;
    let ticket = ticket_in(&receipt.text);
    wait_text(&tg, ENGINEER_TG, "已将附件").await;
    let shown = app.incident(&ticket).await;
    let path = shown["attachments"][0]["path"].as_str().expect("the attachment is listed").to_string();
    assert_eq!(shown["attachments"][0]["mime"], "image/jpeg");
    let response = app.http.get(app.url(&path)).bearer_auth(ADMIN).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().to_vec(), bytes);
    app.stop().await;
}

/// 换班 in chat by a leader records the swap (an engineer may not).
async fn a_leader_swaps_a_shift_in_chat(backend: Backend) {
    let db = TestDb::new(backend).await;
    let tg = FakeTelegram::start().await;
    let text = telegram_config_text(&db, &tg, &Setup::default())
        .replace(
            "[[people]]\nid = \"leader\"\nname = \"李主任\"\nroles = [\"leader\"]\n",
            "[[people]]\nid = \"leader\"\nname = \"李主任\"\nroles = [\"leader\"]\nim = { telegram = \"7007\" }\n",
        )
        + r#"
[[people]]
id = "lina"
name = "李娜"
roles = ["engineer"]

[[people]]
id = "wangqiang"
name = "王强"
roles = ["engineer"]

[[schedules]]
id = "desk"
name = "值班台"
[[schedules.layers]]
name = "日轮值"
members = ["zhangwei", "lina"]
rotation = "daily"
start = "2026-11-23T08:30"
"#;
    let config =
        Config::parse(std::path::Path::new("test.toml"), &text, &|_| None).unwrap_or_else(|e| panic!("{e}"));
    let app = start(config).await;
    tg.user_message(ENGINEER_TG, ENGINEER_TG, "zhangwei_ops", "张伟", "换班 王强 明天 白班");
    wait_text(&tg, ENGINEER_TG, "没有登记换班").await;
    tg.user_message(7007, 7007, "leader_li", "李主任", "换班 王强 明天 白班 家中有事");
    let done = wait_text(&tg, 7007, "已登记换班").await;
    assert!(done.text.contains("王强") && done.text.contains("值班台"), "{}", done.text);
    let (_, swaps) = app.get("/api/v1/schedules/desk/swaps", ADMIN).await;
    let swap = &swaps["swaps"][0];
    assert_eq!(swap["person"], "wangqiang", "{swaps}");
    assert_eq!(swap["approved_by"], "leader");
    assert_eq!(swap["reason"], "家中有事");
    assert!(swap["replaces"] == "zhangwei" || swap["replaces"] == "lina", "{swaps}");
    tg.user_message(7007, 7007, "leader_li", "李主任", "换班 王强 下周");
    wait_text(&tg, 7007, "用法：换班").await;
    app.stop().await;
}

on_both_backends!(
    a_leader_swaps_a_shift_in_chat,
    report_page_ack_and_card,
    binding_and_unbound_commands,
    a_429_storm_delays_but_loses_nothing,
    webhook_mode_checks_its_secret,
    migrated_group_and_blocked_bot,
    a_photo_is_attached,
);

/// Two instances on one PostgreSQL: one long-polls at a time, every update is answered once, and
/// when the poller stops the other takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_polls_and_another_takes_over() {
    let db = TestDb::new(Backend::Postgres).await;
    let tg = FakeTelegram::start().await;
    let first = start(telegram_config(&db, &tg, &Setup::default())).await;
    let second = start(telegram_config(&db, &tg, &Setup::default())).await;
    for i in 0..6 {
        tg.user_message(5000 + i, 5000 + i, "", "路人", "/help");
    }
    eventually(WAIT, "every update answered", || {
        let all = (0..6).all(|i| !tg.sent_to(5000 + i).is_empty());
        async move { all }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..6 {
        assert_eq!(tg.sent_to(5000 + i).len(), 1, "update {i} answered exactly once");
    }
    // Whichever instance polls, stopping it (its lease released) hands polling to the other.
    first.stop().await;
    tg.user_message(5100, 5100, "", "路人", "/help");
    wait_text(&tg, 5100, "确认").await;
    second.stop().await;
    tg.user_message(5200, 5200, "", "路人", "/help");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(tg.sent_to(5200).is_empty(), "nobody polls once both are stopped");
}
