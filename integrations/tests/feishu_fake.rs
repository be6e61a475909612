//! The Feishu adapter against the fake Feishu of the root crate's tests.

#[path = "../../tests/common/fake_feishu.rs"]
mod fake;

use std::time::Duration;

use fake::{APP_ID, APP_SECRET, Failure, FakeFeishu, HOOK, HOOK_SECRET, SIGNED_HOOK};
use serde_json::json;
use zhiban_integrations::chat::{Button, ChatEvent, ChatId, OutgoingText, SendError};
use zhiban_integrations::feishu::{
    CallbackError, CallbackOutcome, CallbackRequest, CallbackSettings, FeishuApi, FeishuSettings, Robot,
    RobotMessage, event_signature, handle_callback, parse_robot_payload, robot_sign, robot_signature,
    testing, verify_robot_sign,
};

fn api(fs: &FakeFeishu) -> FeishuApi {
    let settings =
        FeishuSettings { api_base: fs.url(), app_id: APP_ID.into(), app_secret: APP_SECRET.into() };
    FeishuApi::new(settings, reqwest::Client::new()).unwrap()
}

fn text(t: &str) -> OutgoingText {
    OutgoingText { text: t.to_string(), ..OutgoingText::default() }
}

fn button(label: &str, data: &str) -> Button {
    Button { label: label.to_string(), data: data.to_string() }
}

fn page() -> OutgoingText {
    OutgoingText {
        text: "【一级】电子卷宗系统无法登录\n单位：某某区人民法院".into(),
        reply_to: None,
        buttons: vec![
            vec![button("确认", "ack:A-0042"), button("升级", "esc:A-0042")],
            vec![button("详情", "show:A-0042")],
        ],
    }
}

fn alert() -> RobotMessage {
    RobotMessage {
        title: "【一级】统一业务应用系统故障".into(),
        markdown: "## 统一业务应用系统\n**单位**：某省高级人民法院\n[处置](https://zhiban.example/i/A-0042)"
            .into(),
        mention_mobiles: vec!["13800138001".into()],
        mention_user_ids: vec!["ou_7d8a6e6df7621556ce0d21922b676706".into()],
        mention_all: false,
    }
}

const USER: &str = "ou_7d8a6e6df7621556ce0d21922b676706";
const GROUP: &str = "oc_5ad11d72b830411d72b836c20";

#[test]
fn the_fakes_own_signature_agrees_with_the_spec_value() {
    // An independent implementation (in the fake) against spec §4.1's regression value.
    assert_eq!(fake::robot_sign("demo-secret", "1599360473"), "3/MaVZ8JLIy4TUG+7KSFJqvUkTKd+HWY8g+56DZWq8s=");
    assert_eq!(fake::robot_sign(HOOK_SECRET, "1700000000"), robot_sign(HOOK_SECRET, "1700000000"));
}

#[tokio::test]
async fn robot_signed_unsigned_and_refused() {
    let fs = FakeFeishu::start().await;
    let http = reqwest::Client::new();
    Robot::new(fs.hook_url(SIGNED_HOOK), Some(HOOK_SECRET.into())).send(&http, &alert()).await.unwrap();
    Robot::new(fs.hook_url(HOOK), None).send(&http, &alert()).await.unwrap();
    let posts = fs.robot_posts();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].hook, SIGNED_HOOK);
    let card = &posts[0].body["card"];
    assert_eq!(card["header"]["title"]["content"], "【一级】统一业务应用系统故障");
    assert_eq!(
        card["elements"][0]["text"]["content"],
        "**统一业务应用系统**\n**单位**：某省高级人民法院\n[处置](https://zhiban.example/i/A-0042)\n\
         <at id=ou_7d8a6e6df7621556ce0d21922b676706></at> @13800138001"
    );
    assert!(posts[1].body.get("sign").is_none());

    // A wrong secret, no secret for a signed bot, an unknown hook: Unauthorized, and no URL in the error.
    for robot in [
        Robot::new(fs.hook_url(SIGNED_HOOK), Some("wrong".into())),
        Robot::new(fs.hook_url(SIGNED_HOOK), None),
        Robot::new(fs.hook_url("0000-deleted-hook"), None),
    ] {
        let err = robot.send(&http, &alert()).await.unwrap_err();
        assert!(matches!(err, SendError::Unauthorized(_)), "{err:?}");
        assert!(!err.to_string().contains(SIGNED_HOOK) && !err.to_string().contains("deleted-hook"), "{err}");
    }
    assert_eq!(fs.robot_posts().len(), 2);

    fs.fail_next("hook", 1, Failure::ServerError);
    let err = Robot::new(fs.hook_url(HOOK), None).send(&http, &alert()).await.unwrap_err();
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    fs.fail_next("hook", 1, Failure::Code { http: 200, code: 19024, msg: "Key Words Not Found".into() });
    let err = Robot::new(fs.hook_url(HOOK), None).send(&http, &alert()).await.unwrap_err();
    assert!(matches!(err, SendError::Rejected(ref t) if t.contains("19024")), "{err:?}");

    // Nobody listening: a network error, without the URL.
    let closed = Robot::new(format!("http://127.0.0.1:9/open-apis/bot/v2/hook/{SIGNED_HOOK}"), None);
    let err = closed.send(&http, &alert()).await.unwrap_err();
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    assert!(!err.to_string().contains(SIGNED_HOOK), "{err}");
}

#[tokio::test]
async fn robot_rate_limit() {
    let fs = FakeFeishu::start().await;
    fs.limit_hook_rate(3);
    let http = reqwest::Client::new();
    let robot = Robot::new(fs.hook_url(SIGNED_HOOK), Some(HOOK_SECRET.into()));
    for _ in 0..3 {
        robot.send(&http, &alert()).await.unwrap();
    }
    assert_eq!(robot.send(&http, &alert()).await, Err(SendError::RetryAfter(Duration::from_secs(10))));
    assert_eq!(fs.robot_posts().len(), 3);
}

#[tokio::test]
async fn app_messages_with_buttons_and_text() {
    let fs = FakeFeishu::start().await;
    let api = api(&fs);
    let card_id = api.send_text(&ChatId(USER.into()), &page()).await.unwrap();
    let text_id = api.send_text(&ChatId(GROUP.into()), &text("今日值班：张伟")).await.unwrap();
    let sent = fs.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].message_id, card_id);
    assert_eq!((sent[0].receive_id_type.as_str(), sent[0].receive_id.as_str()), ("open_id", USER));
    assert_eq!(sent[0].msg_type, "interactive");
    assert_eq!(sent[0].text, page().text);
    assert_eq!(
        sent[0].buttons,
        vec![
            vec![
                ("确认".to_string(), "ack:A-0042".to_string()),
                ("升级".to_string(), "esc:A-0042".to_string())
            ],
            vec![("详情".to_string(), "show:A-0042".to_string())],
        ]
    );
    assert_eq!(sent[0].content["config"]["update_multi"], json!(true));
    assert_eq!(text_id, format!("text:{}", sent[1].message_id));
    assert_eq!((sent[1].receive_id_type.as_str(), sent[1].msg_type.as_str()), ("chat_id", "text"));
    assert_eq!(sent[1].text, "今日值班：张伟");

    // A reply in the chat of the message it answers.
    let asked = fs.user_message(GROUP, USER, "@值班机器人 /oncall");
    let answer = OutgoingText { reply_to: Some(asked.clone()), ..text("张伟（13800138001）") };
    let id = api.send_text(&ChatId(GROUP.into()), &answer).await.unwrap();
    let m = fs.message(id.trim_start_matches("text:")).unwrap();
    assert_eq!((m.reply_to.as_deref(), m.chat_id.as_str()), (Some(asked.as_str()), GROUP));
    assert_eq!(fs.requests("reply"), 1);
    // A reply to a recalled message is sent as a new message.
    fs.recall(&asked);
    let id = api.send_text(&ChatId(GROUP.into()), &answer).await.unwrap();
    assert_eq!(fs.message(id.trim_start_matches("text:")).unwrap().reply_to, None);

    let bad_data = OutgoingText { buttons: vec![vec![button("x", &"d".repeat(65))]], ..text("x") };
    assert!(matches!(api.send_text(&ChatId(USER.into()), &bad_data).await, Err(SendError::Rejected(_))));
    assert!(matches!(api.send_text(&ChatId(USER.into()), &text("  ")).await, Err(SendError::Rejected(_))));
    let long = text(&"长".repeat(60_000));
    assert!(matches!(api.send_text(&ChatId(USER.into()), &long).await, Err(SendError::Rejected(_))));
}

#[tokio::test]
async fn the_token_is_cached_refreshed_and_retried() {
    let fs = FakeFeishu::start().await;
    let api = api(&fs);
    for i in 0..3 {
        api.send_text(&ChatId(USER.into()), &text(&format!("{i}"))).await.unwrap();
    }
    assert_eq!(fs.requests("token"), 1);

    // Feishu forgets the token: one failed send, one new token, the same send again.
    fs.expire_tokens();
    api.send_text(&ChatId(USER.into()), &text("after expiry")).await.unwrap();
    assert_eq!((fs.requests("token"), fs.requests("send")), (2, 5));
    assert_eq!(fs.sent().len(), 4);

    // Concurrent senders share one refresh.
    fs.expire_tokens();
    let sends = (0..5).map(|i| {
        let api = &api;
        async move { api.send_text(&ChatId(USER.into()), &text(&format!("c{i}"))).await }
    });
    for result in futures_util::future::join_all(sends).await {
        result.unwrap();
    }
    assert!(fs.requests("token") <= 4, "{}", fs.requests("token"));
    assert_eq!(fs.sent().len(), 9);

    // A short-lived token is replaced before it expires, without a refusal.
    fs.set_token_lifetime(2);
    let short = self::api(&fs);
    short.send_text(&ChatId(USER.into()), &text("a")).await.unwrap();
    let tokens = fs.requests("token");
    let sends = fs.requests("send");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    short.send_text(&ChatId(USER.into()), &text("b")).await.unwrap();
    assert_eq!((fs.requests("token"), fs.requests("send")), (tokens + 1, sends + 1));

    // A token refused twice in a row: Unauthorized, not a loop.
    fs.fail_next("send", 2, Failure::TokenInvalid);
    let err = short.send_text(&ChatId(USER.into()), &text("c")).await.unwrap_err();
    assert!(matches!(err, SendError::Unauthorized(ref t) if t.contains("99991663")), "{err:?}");

    // Wrong credentials.
    let settings = FeishuSettings { api_base: fs.url(), app_id: APP_ID.into(), app_secret: "wrong".into() };
    let wrong = FeishuApi::new(settings, reqwest::Client::new()).unwrap();
    let err = wrong.check_credentials().await.unwrap_err();
    assert!(matches!(err, SendError::Unauthorized(ref t) if t.contains("10014")), "{err:?}");
}

#[tokio::test]
async fn cards_and_texts_are_edited() {
    let fs = FakeFeishu::start().await;
    let api = api(&fs);
    let card = api.send_text(&ChatId(GROUP.into()), &page()).await.unwrap();
    let acked = text("【一级】电子卷宗系统无法登录\n已确认：李四");
    api.edit_text(&ChatId(GROUP.into()), &card, &acked).await.unwrap();
    let m = fs.message(&card).unwrap();
    assert_eq!((m.text.as_str(), m.edits, m.buttons.is_empty()), (acked.text.as_str(), 1, true));
    assert_eq!(fs.requests("patch"), 1);
    let escalate = OutgoingText { buttons: vec![vec![button("到场", "onsite:A-0042")]], ..acked.clone() };
    api.edit_text(&ChatId(GROUP.into()), &card, &escalate).await.unwrap();
    assert_eq!(
        fs.message(&card).unwrap().buttons,
        vec![vec![("到场".to_string(), "onsite:A-0042".to_string())]]
    );

    let plain = api.send_text(&ChatId(USER.into()), &text("处理中")).await.unwrap();
    api.edit_text(&ChatId(USER.into()), &plain, &text("已处理")).await.unwrap();
    assert_eq!(fs.message(plain.trim_start_matches("text:")).unwrap().text, "已处理");
    assert_eq!(fs.requests("put"), 1);
    let err = api.edit_text(&ChatId(USER.into()), &plain, &page()).await.unwrap_err();
    assert!(matches!(err, SendError::Rejected(ref t) if t.contains("cannot edit")), "{err:?}");

    fs.recall(&card);
    let err = api.edit_text(&ChatId(GROUP.into()), &card, &acked).await.unwrap_err();
    assert!(matches!(err, SendError::Rejected(ref t) if t.contains("230011")), "{err:?}");
    assert!(matches!(
        api.edit_text(&ChatId(GROUP.into()), "om_../x", &acked).await,
        Err(SendError::Rejected(_))
    ));
}

#[tokio::test]
async fn refusals() {
    let fs = FakeFeishu::start().await;
    let api = api(&fs);
    let gone = "ou_0000000000000000000000000000left";
    fs.fail_receiver(gone, Failure::UserNotVisible);
    assert!(matches!(api.send_text(&ChatId(gone.into()), &text("x")).await, Err(SendError::ChatGone(_))));
    fs.clear_receiver(gone);
    api.send_text(&ChatId(gone.into()), &text("x")).await.unwrap();

    fs.fail_next("send", 1, Failure::BotNotInChat);
    assert!(matches!(api.send_text(&ChatId(GROUP.into()), &page()).await, Err(SendError::ChatGone(_))));
    fs.fail_next("send", 1, Failure::ChatRateLimited);
    assert_eq!(
        api.send_text(&ChatId(GROUP.into()), &page()).await,
        Err(SendError::RetryAfter(Duration::from_secs(1)))
    );
    fs.fail_next("send", 1, Failure::AppRateLimited { reset_secs: 7 });
    assert_eq!(
        api.send_text(&ChatId(GROUP.into()), &page()).await,
        Err(SendError::RetryAfter(Duration::from_secs(7)))
    );
    fs.fail_next("send", 1, Failure::ServerError);
    assert!(matches!(api.send_text(&ChatId(GROUP.into()), &page()).await, Err(SendError::Transient(_))));
    fs.fail_next("token", 1, Failure::ServerError);
    let fresh = self::api(&fs);
    assert!(matches!(fresh.send_text(&ChatId(GROUP.into()), &page()).await, Err(SendError::Transient(_))));
    fresh.send_text(&ChatId(GROUP.into()), &page()).await.unwrap();
}

#[test]
fn callbacks_verified_with_the_spec_vector_and_tampering_refused() {
    // spec §4.2: the decryption vector and the signature regression value.
    let body = r#"{"encrypt":"P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="}"#;
    assert_eq!(
        event_signature("1700000000", "nonce123", "test key", body.as_bytes()),
        "669e3ed5328644f71370e3249f96af0fd17e5ed4d7b178c44f11f7997339e344"
    );
    let settings =
        CallbackSettings { verification_token: "vtoken-0001".into(), encrypt_key: Some("test key".into()) };
    let now = jiff::Timestamp::from_second(1_764_036_000).unwrap();
    let press = testing::card_action_event("vtoken-0001", "ev-7", USER, GROUP, "om_fake_1", "ack:A-0042");
    let sealed = testing::seal_event(&settings, &press, now.as_second(), "f00d");
    let req =
        CallbackRequest { method: "POST", query: "", headers: &sealed.headers, body: &sealed.body, now };
    let CallbackOutcome::Update { update, reply } = handle_callback(&settings, &req).unwrap() else {
        panic!()
    };
    assert_eq!((reply.content_type, reply.body.as_slice()), ("application/json", b"{}".as_slice()));
    let ChatEvent::Button(b) = update.event else { panic!() };
    assert_eq!((b.data.as_str(), b.from.id.as_str()), ("ack:A-0042", USER));

    let mut tampered = sealed.body.clone();
    let last = tampered.len() - 3;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let req = CallbackRequest { body: &tampered, ..req };
    assert_eq!(handle_callback(&settings, &req), Err(CallbackError::BadSignature));
    let late = jiff::Timestamp::from_second(1_764_036_000 + 7200).unwrap();
    let req = CallbackRequest { body: &sealed.body, now: late, ..req };
    assert_eq!(handle_callback(&settings, &req), Err(CallbackError::StaleTimestamp));
}

#[test]
fn intake_of_what_monitoring_tools_post() {
    // PrometheusAlert's Feishu card template (Alertmanager → PrometheusAlert → Feishu robot).
    let prometheus_alert = json!({
        "msg_type": "interactive",
        "card": {
            "config": { "wide_screen_mode": true, "enable_forward": true },
            "header": { "title": { "content": "[FIRING:1] 数据库连接数过高", "tag": "plain_text" }, "template": "red" },
            "elements": [
                { "tag": "div", "text": { "tag": "lark_md",
                  "content": "**告警级别**: <font color=\"red\">critical</font>\n**实例**: 10.1.2.3:9104\n**开始时间**: 2025-11-25 10:00:00" } },
                { "tag": "hr" },
                { "tag": "div", "fields": [
                    { "is_short": true, "text": { "tag": "lark_md", "content": "**单位**\n某某区人民法院" } },
                    { "is_short": true, "text": { "tag": "lark_md", "content": "**系统**\n电子卷宗" } } ] },
                { "tag": "action", "actions": [ { "tag": "button", "text": { "tag": "plain_text", "content": "查看 Grafana" },
                  "type": "primary", "url": "https://grafana.example/d/db" } ] },
                { "tag": "note", "elements": [ { "tag": "plain_text", "content": "来自 Prometheus" } ] }
            ]
        }
    });
    let p = parse_robot_payload(prometheus_alert.to_string().as_bytes()).unwrap();
    assert_eq!(p.title, "[FIRING:1] 数据库连接数过高");
    assert_eq!(
        p.text,
        "告警级别: critical\n实例: 10.1.2.3:9104\n开始时间: 2025-11-25 10:00:00\n\n单位\n某某区人民法院\n系统\n电子卷宗\n\
         查看 Grafana (https://grafana.example/d/db)\n来自 Prometheus"
    );
    assert!(p.mentions.is_empty());

    // A Zabbix media type script posting text with @all, signed.
    let ts = jiff::Timestamp::now().as_second().to_string();
    let zabbix = json!({
        "timestamp": ts, "sign": robot_sign("zbx-secret", &ts), "msg_type": "text",
        "content": { "text": "<at user_id=\"all\">所有人</at> 故障：db-01 上的 MySQL 服务已停止\n严重性：High\n主机：db-01 (10.1.2.3)\n时间：2025.11.25 10:00:00\n事件ID：4242" }
    });
    let body = zabbix.to_string();
    let s = robot_signature(body.as_bytes()).unwrap();
    assert!(verify_robot_sign("zbx-secret", &s.timestamp, &s.sign, jiff::Timestamp::now()));
    assert!(!verify_robot_sign("other", &s.timestamp, &s.sign, jiff::Timestamp::now()));
    let p = parse_robot_payload(body.as_bytes()).unwrap();
    assert_eq!(p.title, "@所有人 故障：db-01 上的 MySQL 服务已停止");
    assert!(p.text.starts_with("严重性：High\n主机：db-01 (10.1.2.3)"), "{}", p.text);
    assert_eq!(p.mentions, vec!["all"]);

    // Grafana through a webhook template producing a Feishu post.
    let grafana = json!({
        "msg_type": "post",
        "content": { "post": { "zh_cn": {
            "title": "[Alerting] 审判系统响应时间",
            "content": [
                [ { "tag": "text", "text": "告警：p95 响应时间 3.2s > 2s" } ],
                [ { "tag": "text", "text": "面板：" }, { "tag": "a", "text": "审判系统概览", "href": "https://grafana.example/d/trial" } ],
                [ { "tag": "at", "user_id": "ou_7d8a6e6df7621556ce0d21922b676706", "user_name": "张伟" } ]
            ] } } }
    });
    let p = parse_robot_payload(grafana.to_string().as_bytes()).unwrap();
    assert_eq!(p.title, "[Alerting] 审判系统响应时间");
    assert_eq!(
        p.text,
        "告警：p95 响应时间 3.2s > 2s\n面板：审判系统概览 (https://grafana.example/d/trial)\n@张伟"
    );
    assert_eq!(p.mentions, vec![USER]);

    // Card JSON 2.0 with a markdown element, and the card given as a JSON string.
    let card2 = json!({
        "schema": "2.0",
        "header": { "title": { "tag": "plain_text", "content": "【恢复】磁盘空间" }, "template": "green" },
        "body": { "elements": [ { "tag": "markdown", "content": "### 已恢复\n- 主机：fs-02\n- 使用率：71%\n<at id=all></at>" } ] }
    });
    let body = json!({ "msg_type": "interactive", "card": card2.to_string() });
    let p = parse_robot_payload(body.to_string().as_bytes()).unwrap();
    assert_eq!(p.title, "【恢复】磁盘空间");
    assert_eq!(p.text, "已恢复\n- 主机：fs-02\n- 使用率：71%\n@所有人");
    assert_eq!(p.mentions, vec!["all"]);
}
