//! WeCom: the robot, the app API and callbacks against the fake WeCom of the root crate's tests.

#[path = "../../tests/common/fake_wecom.rs"]
mod fake;

use std::time::Duration;

use fake::{AGENT_ID, CORP_ID, FakeWecom, Fault, ROBOT_KEY, SECRET};
use serde_json::json;
use zhiban_integrations::chat::{Button, ChatEvent, ChatId, OutgoingText, SendError};
use zhiban_integrations::wecom::{
    CallbackError, CallbackOutcome, CallbackRequest, CallbackSettings, RATE_LIMIT_WAIT, Robot, RobotMessage,
    WecomApi, WecomSettings, handle_callback, parse_card_handle, parse_robot_payload, testing,
};

fn settings(wc: &FakeWecom) -> WecomSettings {
    WecomSettings { api_base: wc.url(), corp_id: CORP_ID.into(), agent_id: AGENT_ID, secret: SECRET.into() }
}

fn api(wc: &FakeWecom) -> WecomApi {
    WecomApi::new(settings(wc), reqwest::Client::new()).unwrap()
}

fn text(t: &str) -> OutgoingText {
    OutgoingText { text: t.to_string(), ..OutgoingText::default() }
}

fn button(label: &str, data: &str) -> Button {
    Button { label: label.to_string(), data: data.to_string() }
}

fn page() -> OutgoingText {
    OutgoingText {
        text: "【一级】电子卷宗系统无法登录\n单位: 某某区人民法院\n工单: A-0042".into(),
        reply_to: None,
        buttons: vec![
            vec![button("确认接单", "ack:A-0042"), button("到场", "arr:A-0042")],
            vec![button("转派", "fwd:A-0042")],
        ],
    }
}

fn user(id: &str) -> ChatId {
    ChatId(id.to_string())
}

// ---- robot -----------------------------------------------------------------------------------

#[tokio::test]
async fn robot_posts_markdown_and_mentions() {
    let wc = FakeWecom::start().await;
    let http = reqwest::Client::new();
    let robot = Robot::new(wc.robot_webhook(), None);
    let message = RobotMessage {
        title: "【一级】电子卷宗系统无法登录".into(),
        markdown: "单位: **某某区人民法院**\n> 请值班工程师处理".into(),
        mention_user_ids: vec!["zhangsan".into()],
        ..RobotMessage::default()
    };
    robot.send(&http, &message).await.unwrap();
    let with_mobiles = RobotMessage { mention_mobiles: vec!["13800001111".into()], ..message.clone() };
    robot.send(&http, &with_mobiles).await.unwrap();
    let posts = wc.robot_posts();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].key, ROBOT_KEY);
    assert_eq!(posts[0].body["msgtype"], "markdown");
    assert!(posts[0].body["markdown"]["content"].as_str().unwrap().ends_with("<@zhangsan>"));
    assert_eq!(posts[1].body["msgtype"], "text");
    assert_eq!(posts[1].body["text"]["mentioned_mobile_list"], json!(["13800001111"]));
    assert_eq!(posts[1].body["text"]["mentioned_list"], json!(["zhangsan"]));
}

#[tokio::test]
async fn robot_key_errors_hide_the_key() {
    let wc = FakeWecom::start().await;
    let http = reqwest::Client::new();
    let key = "0f0f0f0f-dead-beef-0000-secretkey999";
    let robot = Robot::new(wc.webhook_for(key), Some("unused".into()));
    let err =
        robot.send(&http, &RobotMessage { title: "t".into(), ..RobotMessage::default() }).await.unwrap_err();
    assert!(matches!(err, SendError::Unauthorized(_)), "{err:?}");
    assert!(!err.to_string().contains(key) && !err.to_string().contains("127.0.0.1:"), "{err}");
    assert!(!format!("{robot:?}").contains(key));
    // A dead server: a network error, without the URL.
    let dead = Robot::new(format!("http://127.0.0.1:9/cgi-bin/webhook/send?key={key}"), None);
    let err =
        dead.send(&http, &RobotMessage { title: "t".into(), ..RobotMessage::default() }).await.unwrap_err();
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    assert!(!err.to_string().contains(key), "{err}");
}

#[tokio::test]
async fn robot_rate_limit_is_retry_after() {
    let wc = FakeWecom::start().await;
    let http = reqwest::Client::new();
    let robot = Robot::new(wc.robot_webhook(), None);
    let m =
        RobotMessage {
            title: "磁盘告警".into(), markdown: "fs-01 95%".into(), ..RobotMessage::default()
        };
    for _ in 0..fake::ROBOT_RATE_PER_MINUTE {
        robot.send(&http, &m).await.unwrap();
    }
    assert_eq!(robot.send(&http, &m).await, Err(SendError::RetryAfter(RATE_LIMIT_WAIT)));
    assert_eq!(RATE_LIMIT_WAIT, Duration::from_secs(60));
    assert_eq!(wc.robot_posts().len(), fake::ROBOT_RATE_PER_MINUTE);
    // Other faults.
    wc.fail_next("webhook/send", Fault::SystemBusy, 1);
    assert!(matches!(robot.send(&http, &m).await, Err(SendError::Transient(_))));
    wc.fail_next("webhook/send", Fault::ServerError, 1);
    assert!(matches!(robot.send(&http, &m).await, Err(SendError::Transient(_))));
    wc.fail_next("webhook/send", Fault::Errcode(93008, "not in the group".into()), 1);
    assert!(matches!(robot.send(&http, &m).await, Err(SendError::ChatGone(_))));
}

// ---- app messages ----------------------------------------------------------------------------

#[tokio::test]
async fn a_page_is_a_card_with_buttons_and_one_token_serves_many_sends() {
    let wc = FakeWecom::start().await;
    let api = api(&wc);
    let handle = api.send_text(&user("zhangsan"), &page()).await.unwrap();
    let id = api.send_text(&user("lisi"), &text("值班提醒：今晚 20:00 交班")).await.unwrap();
    api.send_text(&ChatId("tag:5".into()), &page()).await.unwrap();
    assert_eq!(wc.token_requests(), 1);
    assert_eq!(api.token_fetches(), 1);

    let sent = wc.sent();
    assert_eq!(sent.len(), 3);
    let card = &sent[0];
    assert_eq!(card.msgtype, "template_card");
    assert_eq!(card.touser.as_deref(), Some("zhangsan"));
    assert_eq!(card.body["agentid"], AGENT_ID);
    assert_eq!(card.body["template_card"]["card_type"], "button_interaction");
    assert_eq!(card.body["template_card"]["main_title"]["title"], "【一级】电子卷宗系统无法登录");
    assert_eq!(card.text(), "【一级】电子卷宗系统无法登录\n单位: 某某区人民法院\n工单: A-0042");
    assert_eq!(
        card.buttons(),
        vec![
            ("确认接单".to_string(), "ack:A-0042".to_string()),
            ("到场".to_string(), "arr:A-0042".to_string()),
            ("转派".to_string(), "fwd:A-0042".to_string()),
        ]
    );
    let (task_id, code) = parse_card_handle(&handle).unwrap();
    assert_eq!(Some(task_id), card.task_id.as_deref());
    assert_eq!(Some(code), card.response_code.as_deref());
    // Plain text without buttons.
    assert_eq!(sent[1].msgtype, "text");
    assert_eq!(sent[1].text(), "值班提醒：今晚 20:00 交班");
    assert_eq!(id, sent[1].msgid);
    assert_eq!(sent[2].totag.as_deref(), Some("5"));
    // Every card has its own task_id.
    assert_ne!(sent[0].task_id, sent[2].task_id);
}

#[tokio::test]
async fn concurrent_sends_fetch_one_token() {
    let wc = FakeWecom::start().await;
    let api = api(&wc);
    let sends = (0..8).map(|i| {
        let api = api.clone();
        async move { api.send_text(&user(&format!("u{i}")), &text("并发")).await }
    });
    for r in futures_util::future::join_all(sends).await {
        r.unwrap();
    }
    assert_eq!(wc.token_requests(), 1);
    assert_eq!(wc.sent().len(), 8);
}

#[tokio::test]
async fn an_expired_token_is_fetched_again_once() {
    let wc = FakeWecom::start().await;
    let api = api(&wc);
    api.send_text(&user("zhangsan"), &text("一")).await.unwrap();
    wc.expire_tokens();
    api.send_text(&user("zhangsan"), &text("二")).await.unwrap();
    assert_eq!(wc.token_requests(), 2);
    assert_eq!(wc.calls("message/send"), 3);
    // The injected 42001 drops the token on the fake's side too: one more fetch, then success.
    wc.fail_next("message/send", Fault::ExpiredToken, 1);
    api.send_text(&user("zhangsan"), &text("三")).await.unwrap();
    assert_eq!(wc.token_requests(), 3);
    // Two token errors in a row: Unauthorized, not a loop.
    wc.fail_next("message/send", Fault::InvalidToken, 2);
    let err = api.send_text(&user("zhangsan"), &text("四")).await.unwrap_err();
    assert!(matches!(err, SendError::Unauthorized(_)), "{err:?}");
    assert_eq!(wc.sent().len(), 3);
}

#[tokio::test]
async fn a_short_lived_token_is_refreshed_before_it_expires() {
    let wc = FakeWecom::start().await;
    wc.set_token_lifetime(Duration::from_secs(2));
    let api = api(&wc);
    api.send_text(&user("zhangsan"), &text("一")).await.unwrap();
    // Refreshed at half its life when that is shorter than 5 minutes.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    api.send_text(&user("zhangsan"), &text("二")).await.unwrap();
    assert_eq!(wc.token_requests(), 2);
    assert_eq!(wc.calls("message/send"), 2, "no call was made with an expired token");
}

#[tokio::test]
async fn wrong_credentials_and_ip_are_unauthorized() {
    let wc = FakeWecom::start().await;
    let wrong = WecomApi::new(
        WecomSettings { secret: "wrong-secret".into(), ..settings(&wc) },
        reqwest::Client::new(),
    )
    .unwrap();
    let err = wrong.send_text(&user("zhangsan"), &text("x")).await.unwrap_err();
    assert!(matches!(&err, SendError::Unauthorized(m) if m.contains("40001")), "{err:?}");
    assert!(!err.to_string().contains("wrong-secret"));
    let api = api(&wc);
    wc.fail_next("message/send", Fault::IpNotAllowed, 1);
    assert!(matches!(api.send_text(&user("zhangsan"), &text("x")).await, Err(SendError::Unauthorized(_))));
    let wrong_agent =
        WecomApi::new(WecomSettings { agent_id: 1, ..settings(&wc) }, reqwest::Client::new()).unwrap();
    assert!(matches!(
        wrong_agent.send_text(&user("zhangsan"), &text("x")).await,
        Err(SendError::Unauthorized(_))
    ));
}

#[tokio::test]
async fn gone_users_rate_limits_and_server_errors() {
    let wc = FakeWecom::start().await;
    let api = api(&wc);
    wc.remove_user("wangwu");
    let err = api.send_text(&user("wangwu"), &page()).await.unwrap_err();
    assert!(matches!(&err, SendError::ChatGone(m) if m.contains("81013")), "{err:?}");
    wc.fail_next("message/send", Fault::UserNotFound, 1);
    assert!(matches!(api.send_text(&user("zhangsan"), &text("x")).await, Err(SendError::ChatGone(_))));
    wc.fail_next("message/send", Fault::RateLimited, 1);
    assert_eq!(
        api.send_text(&user("zhangsan"), &text("x")).await,
        Err(SendError::RetryAfter(RATE_LIMIT_WAIT))
    );
    wc.fail_next("message/send", Fault::ServerError, 1);
    assert!(matches!(api.send_text(&user("zhangsan"), &text("x")).await, Err(SendError::Transient(_))));
    wc.fail_next("message/send", Fault::SystemBusy, 1);
    assert!(matches!(api.send_text(&user("zhangsan"), &text("x")).await, Err(SendError::Transient(_))));
    // Refusals before sending: too many buttons, empty text, two recipients at once.
    let seven =
        OutgoingText { buttons: vec![(0..7).map(|i| button("b", &format!("k{i}"))).collect()], ..page() };
    assert!(matches!(api.send_text(&user("zhangsan"), &seven).await, Err(SendError::Rejected(_))));
    assert!(matches!(api.send_text(&user("zhangsan"), &text("  ")).await, Err(SendError::Rejected(_))));
    assert!(matches!(api.send_text(&user("a|b"), &text("x")).await, Err(SendError::Rejected(_))));
    assert!(wc.sent().is_empty());
}

#[tokio::test]
async fn app_group_chats() {
    let wc = FakeWecom::start().await;
    let api = api(&wc);
    wc.add_appchat("wrkSFfCgAALFgnrSsWU38puDz1-wtDpw");
    let chat = ChatId("appchat:wrkSFfCgAALFgnrSsWU38puDz1-wtDpw".into());
    let id = api.send_text(&chat, &page()).await.unwrap();
    let sent = wc.sent();
    assert_eq!(sent[0].chatid.as_deref(), Some("wrkSFfCgAALFgnrSsWU38puDz1-wtDpw"));
    assert_eq!(sent[0].msgtype, "text");
    assert!(matches!(api.edit_text(&chat, &id, &page()).await, Err(SendError::Rejected(_))));
    let err = api.send_text(&ChatId("appchat:nope".into()), &text("x")).await.unwrap_err();
    assert!(matches!(err, SendError::ChatGone(_)), "{err:?}");
}

// ---- edits and clicks ------------------------------------------------------------------------

fn callback_settings() -> CallbackSettings {
    CallbackSettings {
        token: "QDG6eK0zhiban".into(),
        encoding_aes_key: "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C".into(),
        receive_id: CORP_ID.into(),
    }
}

#[tokio::test]
async fn a_click_comes_back_and_edits_the_card() {
    let wc = FakeWecom::start().await;
    let api = api(&wc);
    let cb = callback_settings();
    let handle = api.send_text(&user("zhangsan"), &page()).await.unwrap();
    let (task_id, _) = parse_card_handle(&handle).unwrap();

    // zhangsan clicks 确认接单: WeCom posts the encrypted event to zhiban.
    let now = 1_764_036_000;
    let xml = wc.click_xml("zhangsan", task_id, "ack:A-0042", now);
    let signed = testing::delivery(&cb, &xml, AGENT_ID, now, "1597212914", *b"0123456789abcdef");
    let request = CallbackRequest {
        method: "POST",
        query: &signed.query,
        headers: &[],
        body: &signed.body,
        now: jiff::Timestamp::from_second(now + 2).unwrap(),
    };
    let CallbackOutcome::Update { update, reply } = handle_callback(&cb, &request).unwrap() else { panic!() };
    assert!(reply.body.is_empty());
    let ChatEvent::Button(press) = update.event else { panic!() };
    assert_eq!(press.data, "ack:A-0042");
    assert_eq!(press.from.id, "zhangsan");
    let chat = press.chat.clone().unwrap();
    let click_handle = press.message_id.clone().unwrap();

    // The card the button was on shows who did what; the remaining buttons stay.
    let done = OutgoingText {
        text: "【一级】电子卷宗系统无法登录\n张三 已确认接单".into(),
        reply_to: None,
        buttons: vec![vec![button("到场", "arr:A-0042")]],
    };
    api.edit_text(&chat, &click_handle, &done).await.unwrap();
    let updates = wc.card_updates();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].task_id, task_id);
    assert_eq!(updates[0].body["userids"], json!(["zhangsan"]));
    assert_eq!(updates[0].body["template_card"]["task_id"], task_id);
    assert_eq!(updates[0].text(), "【一级】电子卷宗系统无法登录\n张三 已确认接单");
    assert_eq!(updates[0].buttons(), vec![("到场".to_string(), "arr:A-0042".to_string())]);
    // A response code works once.
    let err = api.edit_text(&chat, &click_handle, &done).await.unwrap_err();
    assert!(matches!(err, SendError::Rejected(_)), "{err:?}");
    // The send's own code still works, once; with no buttons they are greyed out.
    api.edit_text(&user("zhangsan"), &handle, &text("【一级】电子卷宗系统无法登录\n已恢复")).await.unwrap();
    assert_eq!(wc.card_updates()[1].body["template_card"]["replace_text"], "已处理");
    // A text message cannot be edited.
    let id = api.send_text(&user("zhangsan"), &text("x")).await.unwrap();
    let err = api.edit_text(&user("zhangsan"), &id, &text("y")).await.unwrap_err();
    assert!(matches!(&err, SendError::Rejected(m) if m.contains("cannot edit")), "{err:?}");
}

#[tokio::test]
async fn a_tampered_or_replayed_callback_is_refused() {
    let wc = FakeWecom::start().await;
    let cb = callback_settings();
    let now = 1_764_036_000;
    let xml = testing::text_message_xml(CORP_ID, "zhangsan", "/ack 007", 7_000_001, now, AGENT_ID);
    let signed = testing::delivery(&cb, &xml, AGENT_ID, now, "n1", [1; 16]);
    let at = |s: i64| jiff::Timestamp::from_second(s).unwrap();
    let ok = CallbackRequest {
        method: "POST",
        query: &signed.query,
        headers: &[],
        body: &signed.body,
        now: at(now),
    };
    let CallbackOutcome::Update { update, .. } = handle_callback(&cb, &ok).unwrap() else { panic!() };
    assert_eq!(update.id, 7_000_001);
    let mut body = signed.body.clone();
    let i = body.windows(18).position(|w| w == b"<Encrypt><![CDATA[").unwrap() + 30;
    body[i] = if body[i] == b'A' { b'B' } else { b'A' };
    let tampered = CallbackRequest { body: &body, ..ok };
    assert_eq!(handle_callback(&cb, &tampered), Err(CallbackError::BadSignature));
    let late = CallbackRequest { now: at(now + 3600), ..ok };
    assert!(matches!(handle_callback(&cb, &late), Err(CallbackError::Stale { .. })));
    let other_key = CallbackSettings { token: "another".into(), ..cb.clone() };
    assert_eq!(handle_callback(&other_key, &ok), Err(CallbackError::BadSignature));
    drop(wc);
}

#[tokio::test]
async fn callback_verification_with_the_official_vectors() {
    let cb = CallbackSettings {
        token: "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo".into(),
        encoding_aes_key: "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt".into(),
        receive_id: "ww1436e0e65a779aee".into(),
    };
    let query = "msg_signature=012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb&timestamp=1476416373&nonce=47744683\
        &echostr=fsi1xnbH4yQh0%2BPJxcOdhhK6TDXkjMyhEPA7xB2TGz6b%2Bg7xyAbEkRxN%2F3cNXW9qdqjnoVzEtpbhnFyq6SVHyA%3D%3D";
    let request = CallbackRequest {
        method: "GET",
        query,
        headers: &[],
        body: b"",
        now: jiff::Timestamp::from_second(1476416373).unwrap(),
    };
    let CallbackOutcome::Reply { body, .. } = handle_callback(&cb, &request).unwrap() else { panic!() };
    assert_eq!(body, b"1288432023552776189");
    let tampered = query.replace("012bc692", "012bc693");
    let request = CallbackRequest { query: &tampered, ..request };
    assert_eq!(handle_callback(&cb, &request), Err(CallbackError::BadSignature));
}

// ---- robot-compatible intake -----------------------------------------------------------------

#[test]
fn alertmanager_adapter_markdown() {
    // What prometheus-webhook-dingtalk-style adapters for WeCom post (markdown with colours).
    let body = json!({
        "msgtype": "markdown",
        "markdown": { "content": "## <font color=\"warning\">[FIRING:1]</font> 法院OA系统 HighCPU\n\
            **告警级别**: critical\n**实例**: `10.10.1.23:9100`\n**描述**: CPU 使用率 95%\n\
            **开始时间**: 2026-01-05 09:12:00\n[查看详情](http://alertmanager.court.local/#/alerts)\n<@zhangsan>" }
    });
    let p = parse_robot_payload(body.to_string().as_bytes()).unwrap();
    assert_eq!(p.title, "[FIRING:1] 法院OA系统 HighCPU");
    assert_eq!(
        p.text,
        "告警级别: critical\n实例: 10.10.1.23:9100\n描述: CPU 使用率 95%\n开始时间: 2026-01-05 09:12:00\n查看详情 (http://alertmanager.court.local/#/alerts)"
    );
    assert_eq!(p.mentions, vec!["zhangsan"]);
}

#[test]
fn zabbix_media_type_text() {
    // Zabbix's WeCom media-type scripts post text with mentioned_mobile_list.
    let body = json!({
        "msgtype": "text",
        "text": {
            "content": "Problem: 审判系统数据库连接数过高\nHost: db-court-01\nSeverity: High\nTime: 2026.01.05 09:12:00\nEvent ID: 123456",
            "mentioned_mobile_list": ["13800001111", "@all"]
        }
    });
    let p = parse_robot_payload(body.to_string().as_bytes()).unwrap();
    assert_eq!(p.title, "Problem: 审判系统数据库连接数过高");
    assert!(p.text.starts_with("Host: db-court-01\nSeverity: High"));
    assert_eq!(p.mentions, vec!["13800001111", "@all"]);
}

#[test]
fn grafana_and_card_payloads() {
    // A Grafana contact point templated for a WeCom robot (markdown, resolved).
    let grafana = json!({
        "msgtype": "markdown",
        "markdown": { "content": "**[RESOLVED] 网上立案平台响应慢**\n> 状态: <font color=\"info\">已恢复</font>\n> 面板: [立案平台](http://grafana.court.local/d/abc?orgId=1)" }
    });
    let p = parse_robot_payload(grafana.to_string().as_bytes()).unwrap();
    assert_eq!(p.title, "[RESOLVED] 网上立案平台响应慢");
    assert_eq!(p.text, "状态: 已恢复\n面板: 立案平台 (http://grafana.court.local/d/abc?orgId=1)");
    // The official text_notice card example (spec §1.2).
    let card = json!({
        "msgtype": "template_card",
        "template_card": {
            "card_type": "text_notice",
            "source": { "icon_url": "https://wework.qpic.cn/x/0", "desc": "企业微信", "desc_color": 0 },
            "main_title": { "title": "欢迎使用企业微信", "desc": "您的好友正在邀请您加入企业微信" },
            "emphasis_content": { "title": "100", "desc": "数据含义" },
            "quote_area": { "type": 1, "url": "https://work.weixin.qq.com/?from=openApi", "title": "引用文本标题", "quote_text": "Jack：企业微信真的很好用~\nBalian：超级好的一款软件！" },
            "sub_title_text": "下载企业微信还能抢红包！",
            "horizontal_content_list": [ { "keyname": "邀请人", "value": "张三" }, { "keyname": "企微官网", "value": "点击访问", "type": 1, "url": "https://work.weixin.qq.com/?from=openApi" } ],
            "jump_list": [ { "type": 1, "url": "https://work.weixin.qq.com/?from=openApi", "title": "企业微信官网" } ],
            "card_action": { "type": 1, "url": "https://work.weixin.qq.com/?from=openApi" }
        }
    });
    let p = parse_robot_payload(card.to_string().as_bytes()).unwrap();
    assert_eq!(p.title, "欢迎使用企业微信");
    assert_eq!(
        p.text,
        "您的好友正在邀请您加入企业微信\n数据含义: 100\n下载企业微信还能抢红包！\n引用文本标题\nJack：企业微信真的很好用~\nBalian：超级好的一款软件！\n\
         邀请人: 张三\n企微官网: 点击访问\n企业微信官网 (https://work.weixin.qq.com/?from=openApi)\nhttps://work.weixin.qq.com/?from=openApi\n来源: 企业微信"
    );
}
