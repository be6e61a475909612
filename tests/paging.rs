//! Paging end to end on a simulated clock: tiers page at their timeouts through a recording fake
//! channel, an acknowledgement stops every pending page, a decline goes to the next tier, signed
//! links work once and expire, a failed channel fails over, and a restart pages nobody twice.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::receiver::Receiver;
use common::*;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use zhiban::app::{self, StartOptions};
use zhiban::config::Config;
use zhiban::engine::{Clock, ManualClock};

const LINA: &str = "test-lina-token-000001";

fn paging_config(db: &TestDb, im: &Receiver, sms: &Receiver, sink: Option<&Receiver>) -> Config {
    let text = format!(
        r#"{base}
[[api.tokens]]
person = "lina"
token = "{LINA}"

[[people]]
id = "lina"
name = "李娜"
phone = "13800138002"
roles = ["engineer"]

[[people]]
id = "wangqiang"
name = "王强"
roles = ["engineer"]
notify = [{{ channel = "im" }}]

[[teams]]
id = "second"
name = "二线"
members = ["lina"]

[paging]
default_policy = "default"
default_rules = [{{ channel = "im" }}, {{ channel = "sms", after = "2m" }}]
link_secret = "test-link-secret-0123456789abcdef-xyz"
link_ttl = "24h"
storm = {{ threshold = 3, window = "1m" }}

[[paging.channels]]
name = "im"
kind = "webhook"
url = "{im}"
secret = "test-sink-secret-0001"

[[paging.channels]]
name = "sms"
kind = "webhook"
url = "{sms}"
secret = "test-sink-secret-0001"

[[schedules]]
id = "desk"
name = "值班台"
[[schedules.layers]]
name = "日轮值"
members = ["zhangwei", "lina"]
rotation = "daily"
start = "2026-11-23T08:30"

[[paging.policies]]
id = "default"
name = "驻场 → 二线"
[[paging.policies.tiers]]
targets = ["person:zhangwei"]
ack_timeout = "15m"
[[paging.policies.tiers]]
targets = ["team:second"]
ack_timeout = "15m"
"#,
        base = config_text(&db.url, &Knobs { sink_url: sink.map(|s| s.url.clone()), ..Knobs::default() }),
        im = im.url,
        sms = sms.url,
    );
    Config::parse(std::path::Path::new("paging.toml"), &text, &|_| None).unwrap_or_else(|e| panic!("{e}"))
}

struct Rig {
    db: TestDb,
    clock: ManualClock,
    im: Receiver,
    sms: Receiver,
    /// The team channel (a notification sink).
    sink: Receiver,
}

impl Rig {
    async fn new(backend: Backend) -> Rig {
        Rig {
            db: TestDb::new(backend).await,
            // Tuesday 10:00 in Beijing.
            clock: ManualClock::new("2026-11-24T02:00:00Z".parse::<Timestamp>().unwrap()),
            im: Receiver::start().await,
            sms: Receiver::start().await,
            sink: Receiver::start().await,
        }
    }

    async fn start(&self) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let options = StartOptions {
            clock: Arc::new(self.clock.clone()),
            listener: Some(listener),
            poll_interval: Duration::from_millis(100),
        };
        let running = app::start(paging_config(&self.db, &self.im, &self.sms, Some(&self.sink)), options)
            .await
            .unwrap();
        TestApp { base: format!("http://{}", running.addr), running, http: reqwest::Client::new() }
    }

    fn advance(&self, minutes: i64) {
        self.clock.advance(SignedDuration::from_mins(minutes));
    }
}

async fn open(app: &TestApp, key: &str) -> String {
    let body =
        json!({"title": "统一业务应用系统无法登录", "severity": 2, "dedup_key": key, "system": "统一业务"});
    let (status, answer) = app.webhook("generic", GENERIC_TOKEN, &body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    answer["incidents"][0]["ticket"].as_str().unwrap().to_string()
}

/// The people a receiver was paged for, in order.
fn paged(r: &Receiver) -> Vec<String> {
    r.bodies().iter().map(|b| b["person"].as_str().unwrap_or("?").to_string()).collect()
}

async fn wait_paged(r: &Receiver, n: usize, what: &str) {
    eventually(Duration::from_secs(10), what, || async { r.bodies().len() >= n }).await;
}

/// Nothing more arrives for a while (a page that should not go out would have by then).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(700)).await;
}

async fn pages(app: &TestApp, ticket: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/api/v1/incidents/{ticket}/pages"), ADMIN).await;
    assert_eq!(status, 200, "{body}");
    body["pages"].as_array().unwrap().clone()
}

fn statuses(pages: &[Value]) -> Vec<String> {
    pages
        .iter()
        .map(|p| {
            format!(
                "{}:{}:{}",
                p["person"].as_str().unwrap(),
                p["channel"].as_str().unwrap(),
                p["status"].as_str().unwrap()
            )
        })
        .collect()
}

async fn tiers_page_at_their_timeouts_and_an_ack_stops_everything(backend: Backend) {
    let rig = Rig::new(backend).await;
    let app = rig.start().await;
    let ticket = open(&app, "k1").await;
    wait_paged(&rig.im, 1, "tier 1 paged by IM").await;
    assert_eq!(paged(&rig.im), ["zhangwei"]);
    let board = |app: &TestApp, ticket: String| {
        let request = app.http.get(app.url(&format!("/incidents/{ticket}"))).basic_auth("x", Some(ADMIN));
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let html = board(&app, ticket.clone()).await;
    assert!(html.contains("正在呼叫第 1 级（无人确认将于 2026-11-24 10:15:00）"), "{html}");
    let body = &rig.im.bodies()[0];
    assert_eq!(body["ticket"], ticket);
    let text = body["text"].as_str().unwrap();
    assert!(text.contains(&ticket) && text.contains("二级") && text.contains("统一业务应用系统"), "{text}");
    assert!(text.contains(&format!("回复 1 {} 确认", &ticket[9..])), "{text}");
    assert!(body["link"].as_str().unwrap().starts_with("http://zhiban.test/a/"), "{body}");
    assert!(rig.im.record.lock().unwrap().signatures_ok);

    // Two minutes without an acknowledgement: the person's SMS rule.
    rig.advance(2);
    wait_paged(&rig.sms, 1, "tier 1 paged by SMS after 2 minutes").await;
    assert_eq!(paged(&rig.sms), ["zhangwei"]);

    // Nothing more before the timeout; tier 2 exactly at it.
    rig.advance(12);
    settle().await;
    assert_eq!(paged(&rig.im), ["zhangwei"]);
    rig.advance(1);
    wait_paged(&rig.im, 2, "tier 2 paged at the 15-minute timeout").await;
    assert_eq!(paged(&rig.im), ["zhangwei", "lina"]);

    // Li Na acknowledges by the API at minute 16: her SMS (due at 17) never goes out.
    rig.advance(1);
    let (status, body) = app.post(&format!("/api/v1/incidents/{ticket}/acknowledge"), LINA, json!({})).await;
    assert_eq!(status, 200, "{body}");
    rig.advance(30);
    settle().await;
    assert_eq!(paged(&rig.im), ["zhangwei", "lina"]);
    assert_eq!(paged(&rig.sms), ["zhangwei"]);
    assert_eq!(rig.im.total() + rig.sms.total(), 3, "no page was delivered twice");
    let pages = pages(&app, &ticket).await;
    assert_eq!(
        statuses(&pages),
        ["zhangwei:im:sent", "zhangwei:sms:sent", "lina:im:acknowledged", "lina:sms:cancelled"]
    );
    let html = app
        .http
        .get(app.url(&format!("/incidents/{ticket}")))
        .basic_auth("x", Some(ADMIN))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("呼叫记录") && html.contains("李娜") && html.contains("已取消"), "{html}");
    assert!(html.contains("驻场 → 二线：已确认，停止呼叫"), "{html}");
    let metrics =
        app.http.get(app.url("/metrics")).bearer_auth(ADMIN).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("zhiban_pages{status=\"cancelled\"} 1"), "{metrics}");
    let incident = app.incident(&ticket).await;
    assert_eq!(incident["escalation"]["status"]["state"], "acknowledged", "{incident:#}");
    assert_eq!(incident["assignee"], "lina");
    app.stop().await;
}

async fn a_decline_pages_the_next_tier_at_once(backend: Backend) {
    let rig = Rig::new(backend).await;
    let app = rig.start().await;
    let ticket = open(&app, "k2").await;
    wait_paged(&rig.im, 1, "tier 1").await;
    rig.advance(1);
    let (status, body) = app
        .post(
            &format!("/api/v1/incidents/{ticket}/decline"),
            ENGINEER,
            json!({"reason": "正在处理另一起一级故障"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    wait_paged(&rig.im, 2, "tier 2 after the decline").await;
    assert_eq!(paged(&rig.im), ["zhangwei", "lina"]);
    // Zhang Wei's pending SMS was stopped with his decline; Li Na's comes after her 2 minutes.
    rig.advance(2);
    wait_paged(&rig.sms, 1, "Li Na's SMS").await;
    settle().await;
    assert_eq!(paged(&rig.sms), ["lina"]);
    let (status, body) = app.post(&format!("/api/v1/incidents/{ticket}/decline"), ENGINEER, json!({})).await;
    assert_eq!(status, 400, "a decline needs a reason: {body}");
    app.stop().await;
}

async fn signed_links_act_once_and_expire(backend: Backend) {
    let rig = Rig::new(backend).await;
    let app = rig.start().await;
    let ticket = open(&app, "k3").await;
    wait_paged(&rig.im, 1, "tier 1").await;
    let link = rig.im.bodies()[0]["link"].as_str().unwrap().replace("http://zhiban.test", &app.base);

    // Opening the link (an IM preview does) changes nothing.
    let page = app.http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("确认接单") && html.contains(&ticket) && html.contains("李娜"), "{html}");
    assert_eq!(app.incident(&ticket).await["status"], "new");

    let act = |action: &'static str| {
        let (http, link) = (app.http.clone(), link.clone());
        async move { http.post(&link).form(&[("action", action)]).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(act("acknowledge").await, 200);
    let incident = app.incident(&ticket).await;
    assert_eq!(incident["status"], "acknowledged");
    let ack = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "acknowledged")
        .unwrap()
        .clone();
    assert_eq!(
        (ack["actor"]["id"].as_str(), ack["channel"].as_str()),
        (Some("zhangwei"), Some("link")),
        "{ack}"
    );
    assert_eq!(act("acknowledge").await, 409, "each action of a link works once");
    assert_eq!(act("arrive").await, 200);
    assert_eq!(app.incident(&ticket).await["status"], "on_site");
    assert_eq!(act("teleport").await, 400);

    // A forged token and an expired one.
    let forged = format!("{}x", &link[..link.len() - 1]);
    assert_eq!(app.http.get(&forged).send().await.unwrap().status(), 404);
    rig.advance(24 * 60 + 1);
    assert_eq!(app.http.get(&link).send().await.unwrap().status(), 410);
    app.stop().await;
}

async fn a_restart_mid_escalation_pages_nobody_twice(backend: Backend) {
    let rig = Rig::new(backend).await;
    let app = rig.start().await;
    let ticket = open(&app, "k4").await;
    wait_paged(&rig.im, 1, "tier 1").await;
    app.stop().await;

    // Down for 20 minutes: the SMS rule and tier 2 fell due meanwhile.
    rig.advance(20);
    let app = rig.start().await;
    wait_paged(&rig.im, 2, "tier 2 after the restart").await;
    wait_paged(&rig.sms, 1, "the overdue SMS after the restart").await;
    settle().await;
    assert_eq!(paged(&rig.im), ["zhangwei", "lina"]);
    assert_eq!(paged(&rig.sms), ["zhangwei"]);
    // Another restart replays nothing.
    app.stop().await;
    let app = rig.start().await;
    settle().await;
    assert_eq!(rig.im.total() + rig.sms.total(), 3);
    assert_eq!(rig.im.distinct() + rig.sms.distinct(), 3);
    let pages = pages(&app, &ticket).await;
    assert_eq!(pages.len(), 4, "{pages:#?}");
    app.stop().await;
}

async fn a_channel_that_refuses_fails_over_to_the_next(backend: Backend) {
    let rig = Rig::new(backend).await;
    // The IM gateway refuses the page for good (a blocked bot, say).
    rig.im.record.lock().unwrap().script = vec![403];
    let app = rig.start().await;
    let ticket = open(&app, "k5").await;
    wait_paged(&rig.sms, 1, "the SMS at once, without waiting 2 minutes").await;
    assert_eq!(paged(&rig.sms), ["zhangwei"]);
    let pages = pages(&app, &ticket).await;
    let im = pages.iter().find(|p| p["channel"] == "im").unwrap();
    assert_eq!(im["status"], "failed", "{pages:#?}");
    assert!(im["error"].as_str().unwrap().contains("403"), "{im}");
    app.stop().await;
}

async fn reassigning_pages_the_new_person(backend: Backend) {
    let rig = Rig::new(backend).await;
    let app = rig.start().await;
    let ticket = open(&app, "k6").await;
    wait_paged(&rig.im, 1, "tier 1").await;
    let (status, body) = app
        .post(
            &format!("/api/v1/incidents/{ticket}/reassign"),
            ENGINEER,
            json!({"to": "wangqiang", "reason": "王强熟悉该系统"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["assignee"], "wangqiang");
    wait_paged(&rig.im, 2, "the new assignee").await;
    assert_eq!(paged(&rig.im), ["zhangwei", "wangqiang"]);
    let (status, body) =
        app.post(&format!("/api/v1/incidents/{ticket}/reassign"), ENGINEER, json!({"to": "nobody"})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "to");
    app.stop().await;
}

async fn open_as(app: &TestApp, key: &str, severity: u8) -> String {
    let body = json!({"title": format!("机房网络中断 {key}"), "severity": severity, "dedup_key": key});
    let (status, answer) = app.webhook("generic", GENERIC_TOKEN, &body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    answer["incidents"][0]["ticket"].as_str().unwrap().to_string()
}

async fn a_storm_pages_once_with_its_size(backend: Backend) {
    let rig = Rig::new(backend).await;
    let app = rig.start().await;
    let mut tickets = Vec::new();
    for i in 0..6 {
        tickets.push(open_as(&app, &format!("storm-{i}"), 3).await);
    }
    // Three incidents page one by one; the fourth leads the storm; the rest join it quietly.
    wait_paged(&rig.im, 4, "three pages and the storm's").await;
    settle().await;
    let bodies = rig.im.bodies();
    assert_eq!(bodies.len(), 4, "{bodies:#?}");
    let storm: Vec<&Value> =
        bodies.iter().filter(|b| b["text"].as_str().unwrap().contains("告警风暴")).collect();
    assert_eq!(storm.len(), 1, "{bodies:#?}");
    assert_eq!(storm[0]["ticket"], tickets[3]);
    let storm_text = storm[0]["text"].as_str().unwrap();
    // Rendered when it goes out: the storm's size so far (four or more by then).
    assert!(["4 起", "5 起", "6 起"].iter().any(|n| storm_text.contains(n)), "{storm_text}");
    let lead = app.incident(&tickets[3]).await;
    assert_eq!(lead["escalation"]["storm"], 6, "{lead:#}");
    let follower = app.incident(&tickets[5]).await;
    assert_eq!(follower["escalation"]["status"]["state"], "held", "{follower:#}");
    assert_eq!(follower["escalation"]["status"]["hold"]["lead"], tickets[3]);
    assert!(pages(&app, &tickets[5]).await.is_empty());
    // Acknowledging the storm's page acknowledges the incidents it holds, not the earlier ones.
    let (status, body) =
        app.post(&format!("/api/v1/incidents/{}/acknowledge", tickets[3]), ENGINEER, json!({})).await;
    assert_eq!(status, 200, "{body}");
    for t in &tickets[4..] {
        assert_eq!(app.incident(t).await["status"], "acknowledged", "{t}");
    }
    assert_eq!(app.incident(&tickets[2]).await["status"], "new");
    // A 一级 fault in the middle of a storm still pages on its own.
    open_as(&app, "storm-critical", 1).await;
    wait_paged(&rig.im, 5, "the level-1 page").await;
    app.stop().await;
}

async fn a_silence_opens_incidents_without_paging(backend: Backend) {
    let rig = Rig::new(backend).await;
    let app = rig.start().await;
    let body = json!({"dedup_key": "cutover", "duration": "2h", "reason": "电子卷宗服务器割接"});
    let (status, answer) = app.post("/api/v1/silences", ENGINEER, body).await;
    assert_eq!(status, 201, "{answer}");
    let id = answer["silence"]["id"].as_i64().unwrap();
    let (status, answer) =
        app.post("/api/v1/silences", ENGINEER, json!({"duration": "2h", "reason": "x"})).await;
    assert_eq!(status, 400, "a silence must match something: {answer}");
    let (status, answer) = app
        .post("/api/v1/silences", LEADER, json!({"system": "统一业务", "duration": "2h", "reason": "x"}))
        .await;
    assert_eq!(status, 403, "{answer}");

    let quiet = open_as(&app, "cutover", 2).await;
    let loud = open_as(&app, "other", 2).await;
    wait_paged(&rig.im, 1, "the unsilenced incident").await;
    settle().await;
    assert_eq!(rig.im.bodies().len(), 1);
    assert_eq!(rig.im.bodies()[0]["ticket"], loud);
    let incident = app.incident(&quiet).await;
    assert!(
        incident["timeline"].as_array().unwrap().iter().any(|e| e["kind"] == "paging_held"),
        "{incident:#}"
    );

    let (status, list) = app.get("/api/v1/silences", ENGINEER).await;
    assert_eq!((status, list["silences"].as_array().unwrap().len()), (200, 1), "{list}");
    let r = app
        .http
        .delete(app.url(&format!("/api/v1/silences/{id}")))
        .bearer_auth(ENGINEER)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, list) = app.get("/api/v1/silences", ENGINEER).await;
    assert!(list["silences"].as_array().unwrap().is_empty());
    let (_, audit) = app.get("/api/v1/audit", ADMIN).await;
    let actions: Vec<&str> =
        audit["records"].as_array().unwrap().iter().filter_map(|r| r["action"].as_str()).collect();
    assert!(actions.contains(&"silence") && actions.contains(&"end_silence"), "{audit}");
    app.stop().await;
}

async fn shift_changes_are_handed_over_and_feeds_show_duty(backend: Backend) {
    let rig = Rig::new(backend).await;
    let app = rig.start().await;
    // Tuesday 10:00: Li Na's day on the desk (the rotation began Monday with Zhang Wei).
    let (status, oncall) = app.get("/api/v1/oncall", ENGINEER).await;
    assert_eq!(status, 200, "{oncall}");
    let desk = &oncall["schedules"][0];
    assert_eq!(desk["on_call"][0]["person"], "lina", "{oncall:#}");
    assert_eq!(desk["next_handoff"], "2026-11-25T00:30:00Z");
    let feed = desk["my_feed"].as_str().unwrap().replace("http://zhiban.test", &app.base);
    let board =
        app.http.get(app.url("/")).basic_auth("x", Some(LEADER)).send().await.unwrap().text().await.unwrap();
    assert!(board.contains("当前值班") && board.contains("值班台") && board.contains("李娜"), "{board}");

    // Zhang Wei's feed lists his shifts, and parses as iCalendar.
    let r = app.http.get(&feed).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/calendar"));
    let ics = r.text().await.unwrap();
    let calendar = ical::IcalParser::new(ics.as_bytes()).next().expect("one calendar").expect("it parses");
    assert!(!calendar.events.is_empty());
    for event in &calendar.events {
        let summary =
            event.properties.iter().find(|p| p.name == "SUMMARY").and_then(|p| p.value.clone()).unwrap();
        assert!(summary.contains("张伟") && !summary.contains("李娜"), "{summary}");
    }
    assert!(ics.contains("DTSTART:20261125T003000Z"), "Wednesday is his: {ics}");
    // Without the right token: nothing.
    let forged = feed.replace("person=zhangwei", "person=lina");
    assert_eq!(app.http.get(&forged).send().await.unwrap().status(), 401);

    let ticket = open(&app, "k-handover").await;
    wait_paged(&rig.im, 1, "the page").await;
    let (status, body) =
        app.post(&format!("/api/v1/incidents/{ticket}/acknowledge"), ENGINEER, json!({})).await;
    assert_eq!(status, 200, "{body}");

    // Wednesday 08:30: the desk passes to Zhang Wei; the channel and he get the open incidents.
    let wednesday: Timestamp = "2026-11-25T00:30:00Z".parse().unwrap();
    rig.clock.advance(wednesday.duration_since(rig.clock.now()));
    eventually(Duration::from_secs(10), "the handover notice on the channel", || async {
        rig.sink.bodies().iter().any(|b| b["event"] == "handover")
    })
    .await;
    let notice = rig.sink.bodies().into_iter().find(|b| b["event"] == "handover").unwrap();
    let text = notice["text"].as_str().unwrap();
    assert!(text.contains("李娜 → 张伟") && text.contains(&ticket) && text.contains("张伟"), "{text}");
    wait_paged(&rig.im, 2, "the notice to the incoming engineer").await;
    assert_eq!(rig.im.bodies()[1]["person"], "zhangwei");
    assert!(rig.im.bodies()[1]["text"].as_str().unwrap().contains("交接班"));

    // The work in Zhang Wei's hands stays there until he hands it over.
    assert_eq!(app.incident(&ticket).await["assignee"], "zhangwei");
    let (status, body) = app
        .post("/api/v1/handover", ENGINEER, json!({"to": "lina", "note": "数据库连接池问题待厂商回复"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["handed_over"][0], ticket);
    assert_eq!(app.incident(&ticket).await["assignee"], "lina");
    // Once per shift change, restarts included.
    app.stop().await;
    let app = rig.start().await;
    settle().await;
    assert_eq!(rig.sink.bodies().iter().filter(|b| b["event"] == "handover").count(), 1);
    app.stop().await;
}

/// The rig's app with the policy's first tier being whoever is on the desk schedule.
async fn start_desk_first(rig: &Rig) -> TestApp {
    let mut config = paging_config(&rig.db, &rig.im, &rig.sms, None);
    let book = config.paging.book.as_ref().unwrap().clone();
    let mut policies = book.policies.clone();
    std::sync::Arc::make_mut(policies.get_mut("default").unwrap()).tiers[0].targets =
        vec![zhiban::domain::escalation::Target::Schedule("desk".into())];
    let book = Arc::new(zhiban::domain::escalation::EscalationBook {
        policies,
        directory: book.directory.clone(),
        more: None,
    });
    config.paging.book = Some(book.clone());
    config.incidents.lifecycle.escalation = Some(book);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let options = StartOptions {
        clock: Arc::new(rig.clock.clone()),
        listener: Some(listener),
        poll_interval: Duration::from_millis(100),
    };
    let running = app::start(config, options).await.unwrap();
    TestApp { base: format!("http://{}", running.addr), running, http: reqwest::Client::new() }
}

async fn schedules_decide_who_is_paged(backend: Backend) {
    let rig = Rig::new(backend).await;
    let app = start_desk_first(&rig).await;
    open(&app, "k-desk").await;
    wait_paged(&rig.im, 1, "the desk's on-call").await;
    assert_eq!(paged(&rig.im), ["lina"], "Tuesday is Li Na's day");
    app.stop().await;
}

async fn a_shift_swap_changes_who_is_paged_until_cancelled(backend: Backend) {
    let rig = Rig::new(backend).await;
    let app = start_desk_first(&rig).await;
    // Li Na asked; the leader approves Zhang Wei covering her Tuesday (local times).
    let swap = json!({"person": "zhangwei", "replaces": "lina", "from": "2026-11-24T09:00", "until": "2026-11-24T18:00",
                      "requested_by": "lina", "reason": "李娜外出培训"});
    let (status, body) = app.post("/api/v1/schedules/desk/swaps", ENGINEER, swap.clone()).await;
    assert_eq!(status, 403, "engineers ask, leaders approve: {body}");
    let (status, body) = app.post("/api/v1/schedules/desk/swaps", LEADER, swap).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["swap"]["approved_by"], "leader");
    let id = body["swap"]["id"].as_i64().unwrap();
    let (status, body) = app
        .post("/api/v1/schedules/desk/swaps", LEADER, json!({"person": "zhangwei", "from": "2026-11-24T18:00", "until": "2026-11-24T09:00", "reason": "x"}))
        .await;
    assert_eq!(status, 400, "{body}");

    let (_, oncall) = app.get("/api/v1/oncall", ENGINEER).await;
    assert_eq!(oncall["schedules"][0]["on_call"][0]["person"], "zhangwei", "{oncall:#}");
    open(&app, "k-swap-1").await;
    wait_paged(&rig.im, 1, "the cover").await;
    assert_eq!(paged(&rig.im), ["zhangwei"]);

    let r = app
        .http
        .delete(app.url(&format!("/api/v1/schedules/desk/swaps/{id}")))
        .bearer_auth(LEADER)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    open(&app, "k-swap-2").await;
    wait_paged(&rig.im, 2, "Li Na again").await;
    assert_eq!(paged(&rig.im), ["zhangwei", "lina"]);
    let (_, audit) = app.get("/api/v1/audit", ADMIN).await;
    let actions: Vec<&str> =
        audit["records"].as_array().unwrap().iter().filter_map(|r| r["action"].as_str()).collect();
    assert!(actions.contains(&"shift_swap") && actions.contains(&"cancel_shift_swap"), "{audit}");
    app.stop().await;
}

on_both_backends!(
    shift_changes_are_handed_over_and_feeds_show_duty,
    schedules_decide_who_is_paged,
    a_shift_swap_changes_who_is_paged_until_cancelled,
    a_storm_pages_once_with_its_size,
    a_silence_opens_incidents_without_paging,
    tiers_page_at_their_timeouts_and_an_ack_stops_everything,
    a_decline_pages_the_next_tier_at_once,
    signed_links_act_once_and_expire,
    a_restart_mid_escalation_pages_nobody_twice,
    a_channel_that_refuses_fails_over_to_the_next,
    reassigning_pages_the_new_person,
);
