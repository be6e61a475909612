//! The DingTalk adapter against the fake DingTalk of the root crate's tests.

#[path = "../../tests/common/fake_dingtalk.rs"]
mod fake;

use std::time::Duration;

use fake::{
    APP_KEY, APP_SECRET, AppMessage, BATCH_SEND_PATH, Failure, FakeDingtalk, GROUP_SEND_PATH, ROBOT_PATH,
    ROBOT_SECRET, ROBOT_TOKEN, To,
};
use serde_json::json;
use zhiban_integrations::chat::{Button, ChatEvent, ChatId, ChatKind, OutgoingText, SendError};
use zhiban_integrations::dingtalk::{
    API_QPS_WAIT, CallbackError, CallbackOutcome, CallbackRequest, CallbackSettings, DingtalkApi,
    DingtalkSettings, ROBOT_THROTTLE, Robot, RobotCallback, RobotMessage, USER_FLOW_CONTROL_WAIT,
    handle_callback, parse_robot_payload, verify_robot_sign,
};

fn settings(dt: &FakeDingtalk) -> DingtalkSettings {
    let mut s = DingtalkSettings::new(APP_KEY, APP_SECRET, "");
    s.api_base = dt.url();
    s.oapi_base = format!("{}/", dt.url());
    s
}

fn api(dt: &FakeDingtalk) -> DingtalkApi {
    DingtalkApi::new(settings(dt), reqwest::Client::new()).unwrap()
}

fn text(t: &str) -> OutgoingText {
    OutgoingText { text: t.to_string(), ..OutgoingText::default() }
}

fn button(label: &str, data: &str) -> Button {
    Button { label: label.to_string(), data: data.to_string() }
}

fn user(id: &str) -> ChatId {
    ChatId(id.to_string())
}

const GROUP: &str = "cidQ8Wf3zhibanTestGroup==";

fn alert() -> RobotMessage {
    RobotMessage {
        title: "【一级】案件管理系统无法登录".into(),
        markdown: "#### 【一级】案件管理系统无法登录\n> 某某区人民法院 信息中心".into(),
        mention_mobiles: vec!["13800000001".into()],
        mention_user_ids: vec!["manager4756".into()],
        mention_all: false,
    }
}

#[tokio::test]
async fn a_signed_robot_send_checked_by_the_fake() {
    let dt = FakeDingtalk::start().await;
    let http = reqwest::Client::new();
    let robot = Robot::new(dt.robot_url(ROBOT_TOKEN), Some(ROBOT_SECRET.into())).unwrap();
    robot.send(&http, &alert()).await.unwrap();
    let sent = dt.robot_messages(ROBOT_TOKEN);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["msgtype"], "markdown");
    assert_eq!(sent[0]["markdown"]["title"], "【一级】案件管理系统无法登录");
    assert_eq!(
        sent[0]["markdown"]["text"],
        "#### 【一级】案件管理系统无法登录\n> 某某区人民法院 信息中心\n\n@13800000001 @manager4756"
    );
    assert_eq!(
        sent[0]["at"],
        json!({"atMobiles": ["13800000001"], "atUserIds": ["manager4756"], "isAtAll": false})
    );

    // The wrong secret, no secret, a clock two hours off, an unknown token.
    let wrong = Robot::new(dt.robot_url(ROBOT_TOKEN), Some("SECwrong".into())).unwrap();
    let err = wrong.send(&http, &alert()).await.unwrap_err();
    assert!(matches!(&err, SendError::Unauthorized(m) if m.contains("sign not match")), "{err:?}");
    assert!(!err.to_string().contains(ROBOT_TOKEN), "{err}");
    let unsigned = Robot::new(dt.robot_url(ROBOT_TOKEN), None).unwrap();
    assert!(matches!(unsigned.send(&http, &alert()).await, Err(SendError::Unauthorized(_))));
    let late = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(2);
    assert!(matches!(robot.send_at(&http, &alert(), late).await, Err(SendError::Rejected(_))));
    let gone = Robot::new(dt.robot_url("no-such-robot"), None).unwrap();
    let err = gone.send(&http, &alert()).await.unwrap_err();
    assert!(matches!(err, SendError::Unauthorized(_)), "{err:?}");
    assert!(!err.to_string().contains("no-such-robot"));
    assert_eq!(dt.robot_messages(ROBOT_TOKEN).len(), 1);
}

#[tokio::test]
async fn robot_keywords_rate_limit_and_server_errors() {
    let dt = FakeDingtalk::start().await;
    let http = reqwest::Client::new();
    dt.add_robot("kw-robot", None);
    dt.set_robot_keywords("kw-robot", &["告警"]);
    let robot = Robot::new(dt.robot_url("kw-robot"), None).unwrap();
    assert!(
        matches!(robot.send(&http, &alert()).await, Err(SendError::Rejected(m)) if m.contains("keywords"))
    );
    let ok = RobotMessage { title: "告警".into(), ..alert() };
    dt.set_robot_limit(3);
    for _ in 0..3 {
        robot.send(&http, &ok).await.unwrap();
    }
    assert_eq!(robot.send(&http, &ok).await, Err(SendError::RetryAfter(ROBOT_THROTTLE)));
    assert_eq!(dt.robot_messages("kw-robot").len(), 3);

    dt.fail_next(ROBOT_PATH, 1, Failure::ServerError);
    let signed = Robot::new(dt.robot_url(ROBOT_TOKEN), Some(ROBOT_SECRET.into())).unwrap();
    let err = signed.send(&http, &ok).await.unwrap_err();
    assert!(matches!(&err, SendError::Transient(m) if m.contains("502")), "{err:?}");
    assert!(!err.to_string().contains(ROBOT_TOKEN));
    // Nothing listens: a network error, without the URL.
    let closed = Robot::new("http://127.0.0.1:9/robot/send?access_token=secret-key-xyz", None).unwrap();
    let err = closed.send(&http, &ok).await.unwrap_err();
    assert!(matches!(&err, SendError::Transient(_)), "{err:?}");
    assert!(!err.to_string().contains("secret-key-xyz"), "{err}");
}

#[tokio::test]
async fn app_messages_with_one_cached_token() {
    let dt = FakeDingtalk::start().await;
    let api = api(&dt);
    let first = api.send_text(&user("manager4756"), &text("值班提醒：今晚由你值班")).await.unwrap();
    let second = api.send_text(&ChatId(GROUP.into()), &text("第二条\n第二行")).await.unwrap();
    api.send_text(&user("user:cid-like-user"), &text("三")).await.unwrap();
    assert_ne!(first, second);
    assert!(first.starts_with("fakePQK"));
    assert_eq!(dt.token_requests(), 1);
    let sent = dt.sent();
    assert_eq!(
        sent[0],
        AppMessage {
            to: To::User("manager4756".into()),
            msg_key: "sampleText".into(),
            msg_param: json!({"content": "值班提醒：今晚由你值班"}),
            process_query_key: first,
        }
    );
    assert_eq!(sent[1].to, To::Group(GROUP.into()));
    assert_eq!(sent[1].msg_param, json!({"content": "第二条\n第二行"}));
    assert_eq!(sent[2].to, To::User("cid-like-user".into()));
}

#[tokio::test]
async fn concurrent_sends_fetch_one_token() {
    let dt = FakeDingtalk::start().await;
    let api = api(&dt);
    let sends = (0..8).map(|i| {
        let api = api.clone();
        async move { api.send_text(&user(&format!("u{i}")), &text("并发")).await }
    });
    for r in futures_util::future::join_all(sends).await {
        r.unwrap();
    }
    assert_eq!(dt.token_requests(), 1);
    assert_eq!(dt.sent().len(), 8);
}

#[tokio::test]
async fn a_token_is_refreshed_on_the_expired_code_and_before_expiry() {
    let dt = FakeDingtalk::start().await;
    let api = api(&dt);
    api.send_text(&user("u1"), &text("一")).await.unwrap();
    dt.expire_tokens();
    api.send_text(&user("u1"), &text("二")).await.unwrap();
    assert_eq!(dt.token_requests(), 2);
    assert_eq!(dt.requests(BATCH_SEND_PATH), 3);
    // Refused twice in a row: one refresh only, then Unauthorized.
    dt.fail_next(BATCH_SEND_PATH, 2, Failure::InvalidToken);
    let err = api.send_text(&user("u1"), &text("三")).await.unwrap_err();
    assert!(matches!(&err, SendError::Unauthorized(m) if m.contains("InvalidAuthentication")), "{err:?}");
    assert_eq!(dt.token_requests(), 3);

    // A token living 2 s (margin: half of it) is replaced after a second, without an error.
    let dt = FakeDingtalk::start().await;
    dt.set_token_lifetime(2);
    let api = self::api(&dt);
    api.send_text(&user("u1"), &text("一")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    api.send_text(&user("u1"), &text("二")).await.unwrap();
    assert_eq!(dt.token_requests(), 2);
    assert_eq!(dt.requests(BATCH_SEND_PATH), 2);
}

#[tokio::test]
async fn wrong_credentials_are_unauthorized() {
    let dt = FakeDingtalk::start().await;
    let mut s = settings(&dt);
    s.app_secret = "wrong".into();
    let api = DingtalkApi::new(s, reqwest::Client::new()).unwrap();
    let err = api.send_text(&user("u1"), &text("一")).await.unwrap_err();
    assert!(matches!(err, SendError::Unauthorized(_)), "{err:?}");
    assert_eq!(dt.requests(BATCH_SEND_PATH), 0);
}

#[tokio::test]
async fn app_message_failures() {
    let dt = FakeDingtalk::start().await;
    let api = api(&dt);
    dt.unknown_user("left-the-court");
    let err = api.send_text(&user("left-the-court"), &text("一")).await.unwrap_err();
    assert!(matches!(err, SendError::ChatGone(_)), "{err:?}");
    dt.flow_control_user("busy");
    assert_eq!(
        api.send_text(&user("busy"), &text("一")).await,
        Err(SendError::RetryAfter(USER_FLOW_CONTROL_WAIT))
    );
    dt.remove_group("cidGone");
    assert!(matches!(
        api.send_text(&ChatId("cidGone".into()), &text("一")).await,
        Err(SendError::ChatGone(_))
    ));
    dt.fail_next(GROUP_SEND_PATH, 1, Failure::QpsLimit);
    assert_eq!(
        api.send_text(&ChatId(GROUP.into()), &text("一")).await,
        Err(SendError::RetryAfter(API_QPS_WAIT))
    );
    dt.fail_next(GROUP_SEND_PATH, 1, Failure::ServerError);
    assert!(matches!(api.send_text(&ChatId(GROUP.into()), &text("一")).await, Err(SendError::Transient(_))));
    assert!(matches!(api.send_text(&user("u1"), &text("  ")).await, Err(SendError::Rejected(_))));
    assert_eq!(dt.sent().len(), 0);
    api.send_text(&ChatId(GROUP.into()), &text("好了")).await.unwrap();
    assert_eq!(dt.sent().len(), 1);
}

#[tokio::test]
async fn buttons_become_an_action_card_with_links() {
    let dt = FakeDingtalk::start().await;
    let page = OutgoingText {
        text: "【一级】电子卷宗系统无法登录\n某某区人民法院".into(),
        reply_to: None,
        buttons: vec![
            vec![button("确认接单", "ack:42"), button("转交他人", "pass:42")],
            vec![button("查看详情", "https://zhiban.example/i/42")],
        ],
    };
    // Without a link maker, only URL data can be sent.
    let err = api(&dt).send_text(&user("u1"), &page).await.unwrap_err();
    assert!(matches!(&err, SendError::Rejected(m) if m.contains("link")), "{err:?}");

    let api = api(&dt).with_button_links(|chat, b| {
        if b.data.starts_with("https://") {
            b.data.clone()
        } else {
            format!("https://zhiban.example/b?c={}&d={}", chat, b.data.replace(':', "%3A"))
        }
    });
    api.send_text(&user("manager4756"), &page).await.unwrap();
    let sent = dt.sent();
    assert_eq!(sent[0].msg_key, "sampleActionCard3");
    assert_eq!(
        sent[0].msg_param,
        json!({
            "title": "【一级】电子卷宗系统无法登录",
            "text": "【一级】电子卷宗系统无法登录\n\n某某区人民法院",
            "actionTitle1": "确认接单", "actionURL1": "https://zhiban.example/b?c=manager4756&d=ack%3A42",
            "actionTitle2": "转交他人", "actionURL2": "https://zhiban.example/b?c=manager4756&d=pass%3A42",
            "actionTitle3": "查看详情", "actionURL3": "https://zhiban.example/i/42",
        })
    );
    let one = OutgoingText { buttons: vec![vec![button("确认", "ack:1")]], ..text("请确认") };
    api.send_text(&ChatId(GROUP.into()), &one).await.unwrap();
    assert_eq!(dt.sent()[1].msg_key, "sampleActionCard");
    assert_eq!(dt.sent()[1].msg_param["singleURL"], format!("https://zhiban.example/b?c={GROUP}&d=ack%3A1"));
    let six =
        OutgoingText { buttons: vec![(0..6).map(|i| button(&i.to_string(), "x")).collect()], ..text("多") };
    assert!(matches!(api.send_text(&user("u1"), &six).await, Err(SendError::Rejected(_))));
}

#[tokio::test]
async fn edits_are_refused_without_a_request() {
    let dt = FakeDingtalk::start().await;
    let api = api(&dt);
    let id = api.send_text(&user("u1"), &text("一")).await.unwrap();
    let err = api.edit_text(&user("u1"), &id, &text("二")).await.unwrap_err();
    assert!(matches!(&err, SendError::Rejected(m) if m.contains("cannot edit")), "{err:?}");
    assert_eq!(dt.requests(BATCH_SEND_PATH), 1);
}

#[tokio::test]
async fn a_callback_from_the_fake_and_a_session_reply() {
    let dt = FakeDingtalk::start().await;
    let settings = CallbackSettings { app_secret: APP_SECRET.into() };
    let (headers, body) =
        dt.callback(APP_SECRET, "msgZ1", "manager4756", "张三", Some((GROUP, "信息中心值班群")), "/oncall");
    let request = CallbackRequest {
        method: "POST",
        query: "",
        headers: &headers,
        body: &body,
        now: jiff::Timestamp::now(),
    };
    let CallbackOutcome::Update { update, reply } = handle_callback(&settings, &request).unwrap() else {
        panic!()
    };
    assert_eq!(reply.body, br#"{"msgtype":"empty"}"#);
    let ChatEvent::Message(m) = update.event else { panic!() };
    assert_eq!((m.chat.0.as_str(), m.chat_kind, m.text.as_str()), (GROUP, ChatKind::Group, "/oncall"));
    assert_eq!(m.from.id, "manager4756");

    let session = RobotCallback::parse(&body).unwrap().session_webhook().unwrap();
    let api = api(&dt);
    api.reply_in_session(
        &session,
        &RobotMessage {
            title: "值班".into(), markdown: "今天值班：张三".into(), ..RobotMessage::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(dt.session_messages("s-msgZ1")[0]["markdown"]["text"], "今天值班：张三");
    // Not on oapi_base, or expired: refused without a request.
    let elsewhere = zhiban_integrations::dingtalk::SessionWebhook {
        url: "http://127.0.0.1:9/robot/sendBySession?session=x".into(),
        ..session.clone()
    };
    assert!(matches!(api.reply_in_session(&elsewhere, &alert()).await, Err(SendError::Rejected(_))));
    let expired = api.reply_in_session_at(&session, &alert(), session.expires_at).await;
    assert!(matches!(expired, Err(SendError::Rejected(_))));

    // Tampered: the signature of another secret, or a changed timestamp.
    let (mut bad, body) = dt.callback("another-secret", "msgZ2", "manager4756", "张三", None, "hi");
    let request = CallbackRequest {
        method: "POST",
        query: "",
        headers: &bad,
        body: &body,
        now: jiff::Timestamp::now(),
    };
    assert_eq!(handle_callback(&settings, &request), Err(CallbackError::BadSignature));
    let (mut good, body) = dt.callback(APP_SECRET, "msgZ3", "manager4756", "张三", None, "hi");
    for (k, v) in good.iter_mut() {
        if k == "timestamp" {
            *v = (v.parse::<i64>().unwrap() + 1).to_string();
        }
    }
    let request = CallbackRequest {
        method: "POST",
        query: "",
        headers: &good,
        body: &body,
        now: jiff::Timestamp::now(),
    };
    assert_eq!(handle_callback(&settings, &request), Err(CallbackError::BadSignature));
    bad.clear();
}

/// Spec §3.2's example with the spec's signature vector (§3.1 `SECdemo`), used as the app secret.
#[test]
fn the_spec_callback_vector() {
    let settings = CallbackSettings { app_secret: "SECdemo".into() };
    let headers = vec![
        ("timestamp".to_string(), "1577262236757".to_string()),
        ("sign".to_string(), "sLRlUUvzoOXn5DR/+o+s6tOqX+bWe3JGaZ7JQ7844l8=".to_string()),
    ];
    let body = r#"{"conversationId":"xxx","msgId":"msg0xxxxx","senderNick":"杨xx","senderStaffId":"user123","createAt":1613630252678,"conversationType":"1","senderId":"$:LWCP_v1:$Ff09GIxxxxx","sessionWebhook":"https://oapi.dingtalk.com/robot/sendBySession?session=xxxxx","sessionWebhookExpiredTime":1613635652738,"text":{"content":"你好"},"msgtype":"text"}"#.as_bytes();
    let now = jiff::Timestamp::from_millisecond(1577262236757 + 59 * 60 * 1000).unwrap();
    let request = CallbackRequest { method: "POST", query: "", headers: &headers, body, now };
    let CallbackOutcome::Update { update, .. } = handle_callback(&settings, &request).unwrap() else {
        panic!()
    };
    let ChatEvent::Message(m) = update.event else { panic!() };
    assert_eq!((m.chat.0.as_str(), m.chat_kind), ("user123", ChatKind::Private));
    let late = CallbackRequest {
        now: jiff::Timestamp::from_millisecond(1577262236757 + 61 * 60 * 1000).unwrap(),
        ..request
    };
    assert!(matches!(handle_callback(&settings, &late), Err(CallbackError::Stale(_))));
}

#[test]
fn intake_of_what_monitoring_tools_post() {
    // timonwong/prometheus-webhook-dingtalk's default template (markdown).
    let alertmanager = json!({
        "msgtype": "markdown",
        "markdown": {
            "title": "[FIRING:1] NodeDown (node 10.1.2.3:9100)",
            "text": "#### \\[FIRING:1\\] NodeDown (node 10.1.2.3:9100)\n\n**Alerts Firing**\n\n**[warning]** 节点宕机\n\n**Description:** 10.1.2.3 已宕机超过 5 分钟\n\n**Graph:** [📈](http://prometheus:9090/graph?g0.expr=up+%3D%3D+0)\n\n**Details:**\n- alertname: NodeDown\n- instance: 10.1.2.3:9100\n"
        },
        "at": {"atMobiles": [], "isAtAll": false}
    })
    .to_string();
    let p = parse_robot_payload(alertmanager.as_bytes()).unwrap();
    assert_eq!(p.title, "[FIRING:1] NodeDown (node 10.1.2.3:9100)");
    assert_eq!(
        p.text,
        "[FIRING:1] NodeDown (node 10.1.2.3:9100)\n\nAlerts Firing\n\n[warning] 节点宕机\n\nDescription: 10.1.2.3 已宕机超过 5 分钟\n\nGraph: 📈 (http://prometheus:9090/graph?g0.expr=up+%3D%3D+0)\n\nDetails:\n- alertname: NodeDown\n- instance: 10.1.2.3:9100"
    );
    assert!(p.mentions.is_empty());

    // A Zabbix media type script (text, @ everyone).
    let zabbix = r#"{"msgtype":"text","text":{"content":"告警主机: 审判系统数据库\n告警地址: 10.20.1.5\n告警项目: 磁盘空间不足 /data 剩余 4%\n告警级别: High\n告警时间: 2025.11.25 10:15:02\n事件ID: 31337"},"at":{"atMobiles":["13800000001","13800000002"],"isAtAll":false}}"#;
    let p = parse_robot_payload(zabbix.as_bytes()).unwrap();
    assert_eq!(p.title, "告警主机: 审判系统数据库");
    assert!(p.text.ends_with("事件ID: 31337"));
    assert_eq!(p.mentions, vec!["13800000001", "13800000002"]);

    // Grafana's DingDing contact point (link, opening the page inside DingTalk).
    let grafana = r#"{"msgtype":"link","link":{"messageUrl":"dingtalk://dingtalkclient/page/link?pc_slide=false&url=http%3A%2F%2Fgrafana.court.local%2Falerting%2Flist","text":"**Firing**\n\nValue: A=97.2\nLabels:\n - alertname = 高CPU\n - host = app01\n","title":"[FIRING:1]  (高CPU app01)"}}"#;
    let p = parse_robot_payload(grafana.as_bytes()).unwrap();
    assert_eq!(p.title, "[FIRING:1]  (高CPU app01)");
    assert_eq!(
        p.text,
        "Firing\n\nValue: A=97.2\nLabels:\n- alertname = 高CPU\n- host = app01\nhttp://grafana.court.local/alerting/list"
    );

    // Grafana with the actionCard message type.
    let card = r#"{"msgtype":"actionCard","actionCard":{"text":"**Firing**\n\nValue: B=3","title":"[FIRING:1] 接口超时","singleTitle":"More","singleURL":"http://grafana.court.local/alerting/list"}}"#;
    let p = parse_robot_payload(card.as_bytes()).unwrap();
    assert_eq!(p.text, "Firing\n\nValue: B=3\nMore: http://grafana.court.local/alerting/list");
}

#[test]
fn intake_signatures() {
    let now = jiff::Timestamp::now();
    let ts = now.as_millisecond().to_string();
    let sign = fake::sign("SECtool", &ts);
    assert!(verify_robot_sign("SECtool", &ts, &sign, now));
    let encoded = sign.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D");
    assert!(verify_robot_sign("SECtool", &ts, &encoded, now));
    assert!(!verify_robot_sign("SECother", &ts, &sign, now));
    let query = zhiban_integrations::dingtalk::testing::robot_query("SECtool", now);
    assert_eq!(query, format!("timestamp={ts}&sign={encoded}"));
}
