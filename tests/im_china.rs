//! WeCom, DingTalk and Feishu end to end against their fakes (`common/fake_{wecom,dingtalk,feishu}.rs`),
//! on both backends: a signed or encrypted message callback reports a fault, the reporter gets the
//! ticket, the on-call engineer's page arrives (a WeCom or Feishu card with buttons, a DingTalk
//! ActionCard with the signed link), a card click (or the link) acknowledges, and the group (a robot
//! or the app's chat) gets the card and the update. Also: bad signatures are refused and nothing is
//! processed; robot-shaped posts from monitoring tools open (and join) tickets and a wrong key is
//! refused; a rate-limited robot delays its message without losing it.

mod common;

use std::time::Duration;

use common::fake_dingtalk::{self, FakeDingtalk, To};
use common::fake_feishu::{self, FakeFeishu};
use common::fake_wecom::{self, FakeWecom};
use common::*;
use serde_json::{Value, json};
use zhiban::config::Config;
use zhiban_integrations::{dingtalk, feishu, wecom};

const WAIT: Duration = Duration::from_secs(20);
const WECOM_TOKEN: &str = "zhibanWecomCallbackToken01";
const WECOM_AES_KEY: &str = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";
const FEISHU_TOKEN: &str = "zhiban-verification-token-01";
const FEISHU_KEY: &str = "zhiban-encrypt-key-01";
const ENGINEER_FS: &str = "ou_zhangwei0000000000000000000001";
const CLERK_FS: &str = "ou_clerk00000000000000000000000001";
const FEISHU_GROUP: &str = "oc_group00000000000000000000000001";
const REPORT: &str = "统一业务应用系统登录不上，全庭都无法办案";

const ZHANGWEI: &str = "[[people]]\nid = \"zhangwei\"\nname = \"张伟\"\nphone = \"13800138001\"\n";

fn im_config(db: &TestDb, extra: &str) -> Config {
    // A clerk who reports, and 张伟 with an account on each IM.
    let people = format!(
        "[[people]]\nid = \"clerk\"\nname = \"书记员小王\"\nphone = \"13900139000\"\nunit = \"gy\"\nroles = [\"reporter\"]\n\
         im = {{ wecom = \"ClerkWang\", dingtalk = \"clerk01\", feishu = \"{CLERK_FS}\" }}\n\n\
         {ZHANGWEI}im = {{ wecom = \"ZhangWei\", dingtalk = \"zhangwei01\", feishu = \"{ENGINEER_FS}\" }}\n"
    );
    let base = config_text(&db.url, &Knobs::default()).replace(ZHANGWEI, &people);
    let text = format!("{base}\n{extra}");
    Config::parse(std::path::Path::new("test.toml"), &text, &|_| None)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// `[paging]` paging 张伟 through `kind`, with signed action links.
fn paging(kind: &str) -> String {
    format!(
        r#"
[paging]
default_policy = "default"
default_rules = [{{ channel = "im" }}]
link_secret = "test-link-secret-0123456789abcdef-xyz"
link_ttl = "24h"

[[paging.channels]]
name = "im"
kind = "{kind}"

[[paging.policies]]
id = "default"
name = "默认"
[[paging.policies.tiers]]
targets = ["person:zhangwei"]
ack_timeout = "30m"
"#
    )
}

fn wecom_section(wc: &FakeWecom) -> String {
    format!(
        "[wecom]\napi_base = \"{}\"\ncorp_id = \"{}\"\nagent_id = {}\nsecret = \"{}\"\ncallback_token = \"{WECOM_TOKEN}\"\ncallback_aes_key = \"{WECOM_AES_KEY}\"\n",
        wc.url(),
        fake_wecom::CORP_ID,
        fake_wecom::AGENT_ID,
        fake_wecom::SECRET
    )
}

fn dingtalk_section(dt: &FakeDingtalk) -> String {
    format!(
        "[dingtalk]\napi_base = \"{0}\"\noapi_base = \"{0}\"\napp_key = \"{1}\"\napp_secret = \"{2}\"\n",
        dt.url(),
        fake_dingtalk::APP_KEY,
        fake_dingtalk::APP_SECRET
    )
}

fn feishu_section(fs: &FakeFeishu) -> String {
    format!(
        "[feishu]\napi_base = \"{}\"\napp_id = \"{}\"\napp_secret = \"{}\"\nverification_token = \"{FEISHU_TOKEN}\"\nencrypt_key = \"{FEISHU_KEY}\"\n",
        fs.url(),
        fake_feishu::APP_ID,
        fake_feishu::APP_SECRET
    )
}

fn wecom_settings() -> wecom::CallbackSettings {
    wecom::CallbackSettings {
        token: WECOM_TOKEN.into(),
        encoding_aes_key: WECOM_AES_KEY.into(),
        receive_id: fake_wecom::CORP_ID.into(),
    }
}

fn feishu_settings() -> feishu::CallbackSettings {
    feishu::CallbackSettings { verification_token: FEISHU_TOKEN.into(), encrypt_key: Some(FEISHU_KEY.into()) }
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// POSTs a WeCom delivery of `xml`; the status.
async fn wecom_post(app: &TestApp, xml: &str, tamper: bool) -> u16 {
    let signed = wecom::testing::delivery(
        &wecom_settings(),
        xml,
        fake_wecom::AGENT_ID,
        now().as_second(),
        "n42",
        rand::random(),
    );
    let query =
        if tamper { signed.query.replacen("msg_signature=", "msg_signature=0", 1) } else { signed.query };
    let r = app
        .http
        .post(app.url(&format!("/im/wecom/callback?{query}")))
        .body(signed.body)
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

async fn post_with_headers(app: &TestApp, path: &str, headers: &[(String, String)], body: Vec<u8>) -> u16 {
    let mut request = app.http.post(app.url(path)).body(body);
    for (k, v) in headers {
        request = request.header(k.as_str(), v.as_str());
    }
    request.send().await.unwrap().status().as_u16()
}

async fn feishu_post(app: &TestApp, event: &Value, nonce: &str) -> u16 {
    let sealed = feishu::testing::seal_event(&feishu_settings(), event, now().as_second(), nonce);
    post_with_headers(app, "/im/feishu/callback", &sealed.headers, sealed.body).await
}

/// Waits until `find` finds something; returns it.
async fn wait_for<T, F: FnMut() -> Option<T>>(what: &str, mut find: F) -> T {
    let mut found = None;
    eventually(WAIT, what, || {
        found = find();
        let ok = found.is_some();
        async move { ok }
    })
    .await;
    found.expect("found")
}

async fn wait_status(app: &TestApp, ticket: &str, status: &str) {
    eventually(WAIT, &format!("{ticket} is {status}"), || {
        let (app, ticket) = (app, ticket.to_string());
        async move { app.incident(&ticket).await["status"] == status }
    })
    .await;
}

/// The ticket number in a bot's answer (`工单号 20261125-001`).
fn ticket_in(text: &str) -> Option<String> {
    let at = text.find("工单号 ").map(|i| i + "工单号 ".len())?;
    Some(text[at..].chars().take_while(|c| c.is_ascii_digit() || *c == '-').collect())
}

async fn wecom_end_to_end(backend: Backend) {
    let db = TestDb::new(backend).await;
    let wc = FakeWecom::start().await;
    let extra = format!(
        "{}\n[chat]\nallow_unbound_reports = true\n[[chat.channels]]\nname = \"ops\"\nprovider = \"wecom\"\nrobot = \"{}\"\n{}",
        wecom_section(&wc),
        wc.robot_webhook(),
        paging("wecom")
    );
    let app = TestApp::start_with(im_config(&db, &extra)).await;

    // URL verification answers the decrypted echo.
    let query =
        wecom::testing::verification(&wecom_settings(), "echo-1234", now().as_second(), "n1", rand::random());
    let r = app.http.get(app.url(&format!("/im/wecom/callback?{query}"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "echo-1234");

    // The clerk reports in a private message to the app.
    let xml = wecom::testing::text_message_xml(
        fake_wecom::CORP_ID,
        "ClerkWang",
        REPORT,
        7001,
        now().as_second(),
        fake_wecom::AGENT_ID,
    );
    assert_eq!(wecom_post(&app, &xml, false).await, 200);
    let ticket = wait_for("the receipt to the clerk", || {
        wc.sent()
            .iter()
            .filter(|m| m.touser.as_deref() == Some("ClerkWang"))
            .find_map(|m| ticket_in(&m.text()))
    })
    .await;
    assert_eq!(app.incident(&ticket).await["system"], "tyyw");

    // The page: a card to 张伟 with 确认 / 到场 / 转派.
    let page = wait_for("the page card", || {
        wc.sent()
            .into_iter()
            .find(|m| m.touser.as_deref() == Some("ZhangWei") && m.msgtype == "template_card")
    })
    .await;
    let buttons = page.buttons();
    let labels: Vec<&str> = buttons.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["确认", "到场", "转派"]);
    assert_eq!(buttons[0].1, format!("ack:{ticket}"));

    // The group robot posts the card.
    wait_for("the robot's card", || {
        wc.robot_posts().into_iter().find(|p| p.body.to_string().contains(&ticket))
    })
    .await;

    // 张伟 clicks 确认: acknowledged, the card edited with the click's response code.
    let task_id = page.task_id.clone().expect("a task id");
    let click = wc.click_xml("ZhangWei", &task_id, &buttons[0].1, now().as_second());
    assert_eq!(wecom_post(&app, &click, false).await, 200);
    wait_status(&app, &ticket, "acknowledged").await;
    let update = wait_for("the page card updated", || wc.card_updates().into_iter().next()).await;
    assert!(update.text().contains("张伟"), "{}", update.text());
    let left: Vec<String> = update.buttons().into_iter().map(|(l, _)| l).collect();
    assert_eq!(left, ["到场"]);

    // The robot posts the update, @-mentioning 张伟 by WeCom UserID.
    wait_for("the robot's update", || {
        wc.robot_posts().into_iter().find(|p| p.body.to_string().contains("ZhangWei"))
    })
    .await;
    app.stop().await;
}

async fn dingtalk_end_to_end(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dt = FakeDingtalk::start().await;
    let extra = format!(
        "{}\n[chat]\nallow_unbound_reports = true\n[[chat.channels]]\nname = \"ops\"\nprovider = \"dingtalk\"\nrobot = \"{}\"\nsecret = \"{}\"\n{}",
        dingtalk_section(&dt),
        dt.robot_url(fake_dingtalk::ROBOT_TOKEN),
        fake_dingtalk::ROBOT_SECRET,
        paging("dingtalk")
    );
    let app = TestApp::start_with(im_config(&db, &extra)).await;

    let (headers, body) =
        dt.callback(fake_dingtalk::APP_SECRET, "msg-7001", "clerk01", "书记员小王", None, REPORT);
    assert_eq!(post_with_headers(&app, "/im/dingtalk/callback", &headers, body).await, 200);
    let ticket = wait_for("the receipt to the clerk", || {
        dt.sent()
            .into_iter()
            .filter(|m| m.to == To::User("clerk01".into()))
            .find_map(|m| ticket_in(m.msg_param["content"].as_str().unwrap_or_default()))
    })
    .await;

    // The page: an ActionCard whose button opens the signed action link.
    let page = wait_for("the page", || {
        dt.sent()
            .into_iter()
            .find(|m| m.to == To::User("zhangwei01".into()) && m.msg_key == "sampleActionCard")
    })
    .await;
    let link = page.msg_param["singleURL"].as_str().expect("a link").to_string();
    assert!(link.starts_with("http://zhiban.test/a/"), "{link}");
    let r = app
        .http
        .post(link.replace("http://zhiban.test", &app.base))
        .form(&[("action", "acknowledge")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_status(&app, &ticket, "acknowledged").await;

    // The group robot: the card once, then the update @-mentioning 张伟.
    let token = fake_dingtalk::ROBOT_TOKEN;
    wait_for("the robot's card", || {
        dt.robot_messages(token).into_iter().find(|m| m.to_string().contains(&ticket))
    })
    .await;
    wait_for("the robot's update", || {
        dt.robot_messages(token).into_iter().find(|m| m["at"]["atUserIds"].to_string().contains("zhangwei01"))
    })
    .await;
    app.stop().await;
}

async fn feishu_end_to_end(backend: Backend) {
    let db = TestDb::new(backend).await;
    let fs = FakeFeishu::start().await;
    let extra = format!(
        "{}\n[chat]\nallow_unbound_reports = true\n[[chat.channels]]\nname = \"ops\"\nprovider = \"feishu\"\nchat = \"{FEISHU_GROUP}\"\n{}",
        feishu_section(&fs),
        paging("feishu")
    );
    let app = TestApp::start_with(im_config(&db, &extra)).await;

    // The URL verification (encrypted) answers the challenge.
    let challenge = json!({ "type": "url_verification", "token": FEISHU_TOKEN, "challenge": "ch-123" });
    let sealed = feishu::testing::seal_event(&feishu_settings(), &challenge, now().as_second(), "n0");
    let mut request = app.http.post(app.url("/im/feishu/callback")).body(sealed.body);
    for (k, v) in &sealed.headers {
        request = request.header(k.as_str(), v.as_str());
    }
    let answer: Value = request.send().await.unwrap().json().await.unwrap();
    assert_eq!(answer["challenge"], "ch-123");

    let clerk_chat = "oc_p2p_clerk";
    let message_id = fs.user_message(clerk_chat, CLERK_FS, REPORT);
    let event = feishu::testing::text_message_event(
        FEISHU_TOKEN,
        "ev-msg-1",
        clerk_chat,
        "p2p",
        CLERK_FS,
        &message_id,
        REPORT,
        &[],
    );
    assert_eq!(feishu_post(&app, &event, "n1").await, 200);
    let ticket = wait_for("the receipt to the clerk", || {
        fs.sent().into_iter().filter(|m| m.chat_id == clerk_chat).find_map(|m| ticket_in(&m.text))
    })
    .await;

    // The page: a card with buttons to 张伟's open_id.
    let page = wait_for("the page card", || {
        fs.sent().into_iter().find(|m| m.receive_id == ENGINEER_FS && m.msg_type == "interactive")
    })
    .await;
    let labels: Vec<&str> = page.buttons.iter().flatten().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["确认", "到场", "转派"]);
    // The group gets the card.
    let card = wait_for("the group's card", || {
        fs.sent()
            .into_iter()
            .find(|m| m.chat_id == FEISHU_GROUP && m.text.contains(&ticket) && m.reply_to.is_none())
    })
    .await;

    // 张伟 presses 确认 on the card.
    let action = feishu::testing::card_action_event(
        FEISHU_TOKEN,
        "ev-card-1",
        ENGINEER_FS,
        &page.chat_id,
        &page.message_id,
        &format!("ack:{ticket}"),
    );
    assert_eq!(feishu_post(&app, &action, "n2").await, 200);
    wait_status(&app, &ticket, "acknowledged").await;
    wait_for("the page updated in place", || {
        fs.message(&page.message_id).filter(|m| {
            m.edits >= 1
                && m.buttons.iter().flatten().map(|(l, _)| l.as_str()).collect::<Vec<_>>() == ["到场"]
        })
    })
    .await;
    // The group's card is edited and the update threaded under it.
    wait_for("the group's card edited", || {
        fs.message(&card.message_id).filter(|m| m.edits >= 1 && m.text.contains("负责人：张伟"))
    })
    .await;
    wait_for("the update threaded", || {
        fs.sent().into_iter().find(|m| m.reply_to.as_deref() == Some(card.message_id.as_str()))
    })
    .await;
    app.stop().await;
}

async fn bad_signatures_are_refused(backend: Backend) {
    let db = TestDb::new(backend).await;
    let (wc, dt, fs) = (FakeWecom::start().await, FakeDingtalk::start().await, FakeFeishu::start().await);
    let extra = format!(
        "{}\n{}\n{}\n[chat]\nallow_unbound_reports = true\n",
        wecom_section(&wc),
        dingtalk_section(&dt),
        feishu_section(&fs)
    );
    let app = TestApp::start_with(im_config(&db, &extra)).await;

    let xml = wecom::testing::text_message_xml(
        fake_wecom::CORP_ID,
        "ClerkWang",
        REPORT,
        9001,
        now().as_second(),
        fake_wecom::AGENT_ID,
    );
    assert_eq!(wecom_post(&app, &xml, true).await, 403);

    let (mut headers, body) =
        dt.callback("not-the-app-secret", "msg-9001", "clerk01", "书记员小王", None, REPORT);
    assert_eq!(post_with_headers(&app, "/im/dingtalk/callback", &headers, body.clone()).await, 401);
    headers.retain(|(k, _)| k != "sign");
    assert_eq!(post_with_headers(&app, "/im/dingtalk/callback", &headers, body).await, 401);

    let event = feishu::testing::text_message_event(
        FEISHU_TOKEN,
        "ev-9001",
        "oc_p2p_clerk",
        "p2p",
        CLERK_FS,
        "om_9",
        REPORT,
        &[],
    );
    let wrong = feishu::CallbackSettings {
        verification_token: FEISHU_TOKEN.into(),
        encrypt_key: Some("another-key".into()),
    };
    let sealed = feishu::testing::seal_event(&wrong, &event, now().as_second(), "n9");
    assert_eq!(post_with_headers(&app, "/im/feishu/callback", &sealed.headers, sealed.body).await, 401);

    // Nothing was processed: no ticket, no answer.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(app.incidents().await.is_empty());
    assert!(wc.sent().is_empty() && dt.sent().is_empty() && fs.sent().is_empty());
    app.stop().await;
}

async fn robot_intake_opens_tickets(backend: Backend) {
    let db = TestDb::new(backend).await;
    let (wecom_key, dingtalk_key, feishu_key) =
        ("zabbix-wecom-key-0001", "zabbix-dingtalk-token-0001", "zabbix-feishu-hook-0001");
    let (dingtalk_secret, feishu_secret) = ("SECdingtalkIntakeSecret01", "feishuIntakeSecret01");
    let extra = format!(
        r#"
[[robot_intake]]
name = "zabbix-wecom"
provider = "wecom"
key = "{wecom_key}"

[[robot_intake]]
name = "zabbix-dingtalk"
provider = "dingtalk"
key = "{dingtalk_key}"
secret = "{dingtalk_secret}"

[[robot_intake]]
name = "zabbix-feishu"
provider = "feishu"
key = "{feishu_key}"
secret = "{feishu_secret}"
"#
    );
    let app = TestApp::start_with(im_config(&db, &extra)).await;
    let post = |path: String, body: Value| {
        let app = &app;
        async move {
            let r = app.http.post(app.url(&path)).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    // WeCom-shaped, at WeCom's own path: a ticket; the same alert again joins it.
    let alert =
        json!({ "msgtype": "text", "text": { "content": "统一业务应用系统 数据库连接池耗尽\n主机 db-01" } });
    let (status, body) = post(format!("/cgi-bin/webhook/send?key={wecom_key}"), alert.clone()).await;
    assert_eq!((status, body.clone()), (200, json!({ "errcode": 0, "errmsg": "ok" })), "{body}");
    let (status, _) = post(format!("/api/v1/robots/wecom/send?key={wecom_key}"), alert.clone()).await;
    assert_eq!(status, 200);
    let incidents = app.incidents().await;
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(incidents[0]["title"], "统一业务应用系统 数据库连接池耗尽");
    assert_eq!(incidents[0]["system"], "tyyw");

    // A wrong key is refused in WeCom's shape, and opens nothing.
    let (status, body) = post("/cgi-bin/webhook/send?key=not-a-configured-key".into(), alert).await;
    assert_eq!((status, body["errcode"].as_i64()), (401, Some(93000)), "{body}");

    // DingTalk, signed: accepted; unsigned or signed wrongly: refused.
    let markdown = json!({ "msgtype": "markdown", "markdown": { "title": "存储告警", "text": "### 存储阵列离线\n机房 A" } });
    let signed = dingtalk::testing::robot_query(dingtalk_secret, now());
    let (status, body) =
        post(format!("/robot/send?access_token={dingtalk_key}&{signed}"), markdown.clone()).await;
    assert_eq!((status, body.clone()), (200, json!({ "errcode": 0, "errmsg": "ok" })), "{body}");
    let wrong = dingtalk::testing::robot_query("SECnotTheSecret", now());
    let (status, body) =
        post(format!("/api/v1/robots/dingtalk/send?access_token={dingtalk_key}&{wrong}"), markdown.clone())
            .await;
    assert_eq!((status, body["errcode"].as_i64()), (401, Some(310000)), "{body}");
    let (status, _) = post(format!("/robot/send?access_token={dingtalk_key}"), markdown).await;
    assert_eq!(status, 401);

    // Feishu, signed in the body.
    let ts = now().as_second().to_string();
    let text = json!({ "timestamp": ts, "sign": feishu::testing::robot_sign(feishu_secret, &ts),
        "msg_type": "text", "content": { "text": "网络专线中断" } });
    let (status, body) = post(format!("/open-apis/bot/v2/hook/{feishu_key}"), text.clone()).await;
    assert_eq!((status, body.clone()), (200, json!({ "code": 0, "msg": "success" })), "{body}");
    let (status, body) = post("/api/v1/robots/feishu/hook/not-a-configured-key".into(), text).await;
    assert_eq!((status, body["code"].as_i64()), (401, Some(19001)), "{body}");

    let titles: Vec<String> =
        app.incidents().await.iter().map(|i| i["title"].as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(titles.len(), 3, "{titles:?}");
    assert!(titles.iter().any(|t| t.contains("存储阵列离线") || t.contains("存储告警")), "{titles:?}");
    assert!(titles.iter().any(|t| t.contains("网络专线中断")), "{titles:?}");
    app.stop().await;
}

async fn rate_limited_robot_delays_without_losing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let fs = FakeFeishu::start().await;
    fs.limit_hook_rate(1);
    let extra = format!(
        "[[chat.channels]]\nname = \"ops\"\nprovider = \"feishu\"\nrobot = \"{}\"\n",
        fs.hook_url(fake_feishu::HOOK)
    );
    let app = TestApp::start_with(im_config(&db, &extra)).await;
    let (status, created) = app
        .post("/api/v1/incidents", ENGINEER, json!({ "title": "庭审系统卡顿", "system": "统一业务" }))
        .await;
    assert_eq!(status, 201, "{created}");
    let ticket = created["ticket"].as_str().unwrap().to_string();
    wait_for("the card", || fs.robot_posts().into_iter().find(|p| p.body.to_string().contains(&ticket)))
        .await;

    // The update is refused by the bot's rate limit: it waits in the outbox.
    let (status, body) =
        app.post(&format!("/api/v1/incidents/{ticket}/acknowledge"), ENGINEER, json!({})).await;
    assert_eq!(status, 200, "{body}");
    eventually(WAIT, "the robot refused the update", || {
        let refused = fs.requests("hook") >= 2 && fs.robot_posts().len() == 1;
        async move { refused }
    })
    .await;
    // Once the bot takes messages again, the update goes out, mentioning 张伟.
    fs.limit_hook_rate(100);
    wait_for("the delayed update", || {
        fs.robot_posts().into_iter().skip(1).find(|p| p.body.to_string().contains(ENGINEER_FS))
    })
    .await;
    assert_eq!(fs.robot_posts().len(), 2);
    app.stop().await;
}

on_both_backends!(
    wecom_end_to_end,
    dingtalk_end_to_end,
    feishu_end_to_end,
    bad_signatures_are_refused,
    robot_intake_opens_tickets,
    rate_limited_robot_delays_without_losing,
);
