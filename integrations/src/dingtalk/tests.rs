use std::time::Duration;

use jiff::Timestamp;
use serde_json::json;

use super::sign::{query_param, url_decode, url_encode};
use super::*;
use crate::chat::{ChatEvent, ChatId, ChatKind, SendError};

/// Spec §3.1, "computed here" regression value.
const VECTOR_SECRET: &str = "SECdemo";
const VECTOR_TS: &str = "1577262236757";
const VECTOR_SIGN: &str = "sLRlUUvzoOXn5DR/+o+s6tOqX+bWe3JGaZ7JQ7844l8=";
const VECTOR_SIGN_ENCODED: &str = "sLRlUUvzoOXn5DR%2F%2Bo%2Bs6tOqX%2BbWe3JGaZ7JQ7844l8%3D";

fn at_ms(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap()
}

fn vector_now() -> Timestamp {
    at_ms(1577262236757 + 10 * 60 * 1000)
}

#[test]
fn the_spec_vector() {
    assert_eq!(sign(VECTOR_SECRET, VECTOR_TS), VECTOR_SIGN);
    assert_eq!(url_encode(VECTOR_SIGN), VECTOR_SIGN_ENCODED);
    assert_eq!(url_decode(VECTOR_SIGN_ENCODED), VECTOR_SIGN);
}

#[test]
fn a_signed_robot_url() {
    let robot =
        Robot::new("https://oapi.dingtalk.com/robot/send?access_token=abc", Some(VECTOR_SECRET.into()))
            .unwrap();
    assert_eq!(
        robot.signed_url(at_ms(1577262236757)),
        format!(
            "https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp={VECTOR_TS}&sign={VECTOR_SIGN_ENCODED}"
        )
    );
    let plain =
        Robot::new("https://oapi.dingtalk.com/robot/send?access_token=abc", Some("  ".into())).unwrap();
    assert_eq!(plain.signed_url(vector_now()), "https://oapi.dingtalk.com/robot/send?access_token=abc");
    let no_query = Robot::new("http://127.0.0.1:9/hook", Some("SECx".into())).unwrap();
    assert!(no_query.signed_url(vector_now()).starts_with("http://127.0.0.1:9/hook?timestamp="));
    // The URL (and its token) never shows.
    assert!(!format!("{robot:?}").contains("abc"));
    let err = Robot::new("ftp://oapi.dingtalk.com/robot/send?access_token=secret-token", None).unwrap_err();
    assert!(!err.to_string().contains("secret-token"), "{err}");
    assert!(Robot::new(" ", None).is_err());
}

#[test]
fn robot_sign_verification() {
    let now = vector_now();
    assert!(verify_robot_sign(VECTOR_SECRET, VECTOR_TS, VECTOR_SIGN, now));
    assert!(verify_robot_sign(VECTOR_SECRET, VECTOR_TS, VECTOR_SIGN_ENCODED, now));
    // A form decoder turned `+` into spaces.
    assert!(verify_robot_sign(VECTOR_SECRET, VECTOR_TS, &VECTOR_SIGN.replace('+', " "), now));
    assert!(!verify_robot_sign("SECother", VECTOR_TS, VECTOR_SIGN, now));
    assert!(!verify_robot_sign(VECTOR_SECRET, "1577262236758", VECTOR_SIGN, now));
    assert!(!verify_robot_sign("", VECTOR_TS, VECTOR_SIGN, now));
    // The window is one hour either way, inclusive.
    let ts = 1577262236757;
    assert!(verify_robot_sign(VECTOR_SECRET, VECTOR_TS, VECTOR_SIGN, at_ms(ts + SIGN_WINDOW_MS)));
    assert!(verify_robot_sign(VECTOR_SECRET, VECTOR_TS, VECTOR_SIGN, at_ms(ts - SIGN_WINDOW_MS)));
    assert!(!verify_robot_sign(VECTOR_SECRET, VECTOR_TS, VECTOR_SIGN, at_ms(ts + SIGN_WINDOW_MS + 1)));
    assert!(!verify_robot_sign(VECTOR_SECRET, "not-a-number", VECTOR_SIGN, now));
}

#[test]
fn query_params() {
    let q = format!("access_token=t0k&timestamp={VECTOR_TS}&sign={VECTOR_SIGN_ENCODED}");
    assert_eq!(query_param(&q, "sign").as_deref(), Some(VECTOR_SIGN));
    assert_eq!(query_param(&q, "timestamp").as_deref(), Some(VECTOR_TS));
    assert_eq!(query_param(&q, "nope"), None);
    assert_eq!(url_decode("%E5%80%BC%ZZ+x"), "值%ZZ x");
}

/// The body of spec §3.2.
fn spec_body() -> serde_json::Value {
    json!({
        "conversationId": "xxx",
        "atUsers": [{"dingtalkId": "xxx", "staffId": "xxx"}],
        "chatbotCorpId": "dinge8a565xxxx",
        "chatbotUserId": "$:LWCP_v1:$Cxxxxx",
        "msgId": "msg0xxxxx",
        "senderNick": "杨xx",
        "isAdmin": true,
        "senderStaffId": "user123",
        "sessionWebhookExpiredTime": 1613635652738_i64,
        "createAt": 1613630252678_i64,
        "senderCorpId": "dinge8a565xxxx",
        "conversationType": "2",
        "senderId": "$:LWCP_v1:$Ff09GIxxxxx",
        "conversationTitle": "机器人测试-TEST",
        "isInAtList": true,
        "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=xxxxx",
        "text": {"content": " 你好"},
        "msgtype": "text"
    })
}

fn headers(ts: &str, sign: &str) -> Vec<(String, String)> {
    vec![
        ("Content-Type".into(), "application/json; charset=utf-8".into()),
        ("Timestamp".into(), ts.into()),
        ("SIGN".into(), sign.into()),
    ]
}

fn request<'a>(headers: &'a [(String, String)], body: &'a [u8], now: Timestamp) -> CallbackRequest<'a> {
    CallbackRequest { method: "POST", query: "", headers, body, now }
}

#[test]
fn a_group_message_callback_with_the_vector() {
    let settings = CallbackSettings { app_secret: VECTOR_SECRET.into() };
    let body = spec_body().to_string();
    let h = headers(VECTOR_TS, VECTOR_SIGN);
    let outcome = handle_callback(&settings, &request(&h, body.as_bytes(), vector_now())).unwrap();
    let CallbackOutcome::Update { update, reply } = outcome else { panic!("{outcome:?}") };
    assert_eq!(
        reply,
        CallbackReply { content_type: "application/json", body: br#"{"msgtype":"empty"}"#.to_vec() }
    );
    assert_eq!(update.id, event_id("msg0xxxxx"));
    assert!(update.id >= 0);
    let ChatEvent::Message(m) = update.event else { panic!() };
    assert_eq!(m.chat, ChatId("xxx".into()));
    assert_eq!(m.chat_kind, ChatKind::Group);
    assert_eq!(m.chat_title.as_deref(), Some("机器人测试-TEST"));
    assert_eq!(m.text, "你好");
    assert_eq!(m.message_id, "msg0xxxxx");
    assert_eq!((m.from.id.as_str(), m.from.display_name.as_str()), ("user123", "杨xx"));
    assert_eq!(m.at, at_ms(1613630252678));
    assert_eq!(m.reply_to, None);

    let callback = RobotCallback::parse(body.as_bytes()).unwrap();
    let session = callback.session_webhook().unwrap();
    assert_eq!(session.url, "https://oapi.dingtalk.com/robot/sendBySession?session=xxxxx");
    assert_eq!(session.expires_at, at_ms(1613635652738));
    assert!(!format!("{session:?}").contains("xxxxx"));
}

#[test]
fn refused_callbacks() {
    let settings = CallbackSettings { app_secret: VECTOR_SECRET.into() };
    let body = spec_body().to_string();
    let now = vector_now();
    let tampered = VECTOR_SIGN.replace('s', "t");
    type Case = (Vec<(String, String)>, Timestamp, CallbackError);
    let cases: Vec<Case> = vec![
        (headers(VECTOR_TS, &tampered), now, CallbackError::BadSignature),
        (headers("1577262236758", VECTOR_SIGN), now, CallbackError::BadSignature),
        (headers(VECTOR_TS, VECTOR_SIGN_ENCODED), now, CallbackError::BadSignature),
        (
            headers(VECTOR_TS, VECTOR_SIGN),
            at_ms(1577262236757 + 3_600_001),
            CallbackError::Stale(VECTOR_TS.into()),
        ),
        (vec![("timestamp".into(), VECTOR_TS.into())], now, CallbackError::MissingHeader("sign")),
        (vec![("sign".into(), VECTOR_SIGN.into())], now, CallbackError::MissingHeader("timestamp")),
    ];
    for (h, now, expected) in cases {
        assert_eq!(handle_callback(&settings, &request(&h, body.as_bytes(), now)), Err(expected));
    }
    let h = headers(VECTOR_TS, VECTOR_SIGN);
    let get = CallbackRequest { method: "GET", ..request(&h, body.as_bytes(), now) };
    assert_eq!(handle_callback(&settings, &get), Err(CallbackError::Method("GET".into())));
    let empty = CallbackSettings { app_secret: String::new() };
    assert_eq!(handle_callback(&empty, &request(&h, body.as_bytes(), now)), Err(CallbackError::NoSecret));
    // Signed, but not a robot message: only now is the body read.
    assert!(matches!(handle_callback(&settings, &request(&h, b"{]", now)), Err(CallbackError::Body(_))));
    assert!(matches!(
        handle_callback(&settings, &request(&h, b"{\"msgId\":\" \"}", now)),
        Err(CallbackError::Body(_))
    ));
    // A bad signature is refused even with a body that is not JSON.
    let bad = headers(VECTOR_TS, &tampered);
    assert_eq!(handle_callback(&settings, &request(&bad, b"{]", now)), Err(CallbackError::BadSignature));
}

#[test]
fn a_private_message_and_an_ignored_one() {
    let settings = CallbackSettings { app_secret: "app-secret-1".into() };
    let now = Timestamp::from_second(1764036000).unwrap();
    let body = testing::text_callback(
        "msgA1",
        "manager4756",
        "张三",
        None,
        "/ack 007",
        now,
        "https://oapi.dingtalk.com/robot/sendBySession?session=s1",
    );
    let h = testing::callback_headers("app-secret-1", now);
    let bytes = body.to_string();
    let CallbackOutcome::Update { update, .. } =
        handle_callback(&settings, &request(&h, bytes.as_bytes(), now)).unwrap()
    else {
        panic!()
    };
    let ChatEvent::Message(m) = update.event else { panic!() };
    assert_eq!(
        (m.chat.0.as_str(), m.chat_kind, m.text.as_str()),
        ("manager4756", ChatKind::Private, "/ack 007")
    );
    assert_eq!(m.chat_title, None);

    let mut picture = body.clone();
    picture["msgtype"] = json!("picture");
    picture.as_object_mut().unwrap().remove("text");
    let bytes = picture.to_string();
    let outcome = handle_callback(&settings, &request(&h, bytes.as_bytes(), now)).unwrap();
    assert!(
        matches!(&outcome, CallbackOutcome::Ignored { what, .. } if what.contains("picture")),
        "{outcome:?}"
    );

    // Someone outside the organisation has no staff id: the encrypted sender id stands in.
    let mut external = body;
    external.as_object_mut().unwrap().remove("senderStaffId");
    let callback = RobotCallback::parse(external.to_string().as_bytes()).unwrap();
    assert_eq!(callback.sender().id, "$:LWCP_v1:$manager4756");
}

#[test]
fn event_ids_are_stable_and_positive() {
    assert_eq!(event_id("msgA1"), event_id("msgA1"));
    assert_ne!(event_id("msgA1"), event_id("msgA2"));
    for id in ["", "x", "msg0xxxxx", "一"] {
        assert!(event_id(id) >= 0);
    }
}

#[test]
fn robot_error_codes() {
    let retry = |code, msg| map_robot_error(code, msg);
    assert_eq!(
        retry(130101, "send too fast, exceed 20 times per minute"),
        SendError::RetryAfter(ROBOT_THROTTLE)
    );
    assert_eq!(ROBOT_THROTTLE, Duration::from_secs(600));
    assert!(matches!(retry(310000, "sign not match, more: [...]"), SendError::Unauthorized(_)));
    assert!(matches!(retry(310000, "ip X.X.X.X not in whitelist"), SendError::Unauthorized(_)));
    assert!(matches!(retry(310000, "keywords not in content"), SendError::Rejected(_)));
    assert!(matches!(retry(300001, "token is not exist"), SendError::Unauthorized(_)));
    assert!(matches!(retry(400013, "群已被解散"), SendError::ChatGone(_)));
    assert!(matches!(retry(-1, "系统繁忙"), SendError::Transient(_)));
    assert!(matches!(retry(40035, "缺少参数 json"), SendError::Rejected(_)));
}

#[test]
fn api_error_codes() {
    assert!(matches!(
        map_api_error(400, "InvalidAuthentication", "不合法的access_token"),
        SendError::Unauthorized(_)
    ));
    assert_eq!(
        map_api_error(403, "Forbidden.AccessDenied.QpsLimitForApi", "qps"),
        SendError::RetryAfter(API_QPS_WAIT)
    );
    assert_eq!(map_api_error(429, "", ""), SendError::RetryAfter(API_QPS_WAIT));
    assert!(matches!(
        map_api_error(403, "Forbidden.AccessDenied.AccessTokenPermissionDenied", "没有权限"),
        SendError::Unauthorized(_)
    ));
    assert!(matches!(map_api_error(400, "resource.notFound", "会话不存在"), SendError::ChatGone(_)));
    assert!(matches!(map_api_error(400, "invalidParameter", "msgParam 格式错误"), SendError::Rejected(_)));
    assert!(matches!(map_api_error(503, "ServiceUnavailable", ""), SendError::Transient(_)));
}

#[test]
fn robot_bodies() {
    let message = RobotMessage {
        title: String::new(),
        markdown: "#### 【一级】故障 @150XXXXXXXX\n> 案件管理系统无法登录".into(),
        mention_mobiles: vec!["150XXXXXXXX".into(), "13800000000".into()],
        mention_user_ids: vec!["user123".into()],
        mention_all: false,
    };
    let body = robot_body(&message).unwrap();
    assert_eq!(body["msgtype"], "markdown");
    assert_eq!(body["markdown"]["title"], "【一级】故障 @150XXXXXXXX");
    assert_eq!(
        body["markdown"]["text"],
        "#### 【一级】故障 @150XXXXXXXX\n> 案件管理系统无法登录\n\n@13800000000 @user123"
    );
    assert_eq!(
        body["at"],
        json!({"atMobiles": ["150XXXXXXXX", "13800000000"], "atUserIds": ["user123"], "isAtAll": false})
    );
    assert!(robot_body(&RobotMessage::default()).is_err());
    let title_only =
        robot_body(&RobotMessage { title: "值班提醒".into(), ..RobotMessage::default() }).unwrap();
    assert_eq!(title_only["markdown"]["text"], "值班提醒");
}

#[test]
fn targets() {
    let t = |s: &str| target(&ChatId(s.into()));
    assert_eq!(t("manager4756"), Ok(Target::User("manager4756".into())));
    assert_eq!(t("cidL7V7Nc0b8yXQ=="), Ok(Target::Group("cidL7V7Nc0b8yXQ==".into())));
    assert_eq!(t("group:abc"), Ok(Target::Group("abc".into())));
    assert_eq!(t("user:cid007"), Ok(Target::User("cid007".into())));
    assert!(t("").is_err());
    assert!(t("user:").is_err());
}

#[test]
fn markdown_is_stripped() {
    let md = "#### \\[FIRING:2\\] **NodeDown** <font color=#FF0000>严重</font>\n\n\n\n> **告警主机**: `10.0.0.1`<br/>实例宕机\n- [查看](https://grafana.example/d/1)\n- ![图](https://img.example/a.png)\n---\n```\ncode\n```\n1 < 2 &amp; a_b_c";
    assert_eq!(
        strip_markdown(md),
        "[FIRING:2] NodeDown 严重\n\n告警主机: 10.0.0.1\n实例宕机\n- 查看 (https://grafana.example/d/1)\n- 图\n\ncode\n1 < 2 & a_b_c"
    );
}

#[test]
fn robot_payloads() {
    let text = r#"{"msgtype":"text","text":{"content":"告警主机: db01\n告警信息: 磁盘空间不足 @13800000000"},"at":{"atMobiles":["13800000000"],"isAtAll":true}}"#.as_bytes();
    let p = parse_robot_payload(text).unwrap();
    assert_eq!(p.title, "告警主机: db01");
    assert_eq!(p.text, "告警主机: db01\n告警信息: 磁盘空间不足 @13800000000");
    assert_eq!(p.mentions, vec!["13800000000", "@all"]);

    let card = r####"{"msgtype":"actionCard","actionCard":{"title":"[FIRING:1] 案件系统","text":"### 案件系统 5xx 过多","btnOrientation":"0","btns":[{"title":"查看详情","actionURL":"https://grafana.example/alerting/list"}]}}"####.as_bytes();
    let p = parse_robot_payload(card).unwrap();
    assert_eq!(p.title, "[FIRING:1] 案件系统");
    assert_eq!(p.text, "案件系统 5xx 过多\n查看详情: https://grafana.example/alerting/list");

    let feed = r#"{"feedCard":{"links":[{"title":"一号","messageURL":"https://a.example/1","picURL":""},{"title":"二号","messageURL":"https://a.example/2"}]},"msgtype":"feedCard"}"#.as_bytes();
    let p = parse_robot_payload(feed).unwrap();
    assert_eq!(
        (p.title.as_str(), p.text.as_str()),
        ("一号", "一号: https://a.example/1\n二号: https://a.example/2")
    );

    let errors: [(&[u8], &str); 6] = [
        (b"", "syntax"),
        (b"[1]", "field"),
        (br#"{"msgtype":"image","image":{}}"#, "invalid"),
        (br#"{"msgtype":"markdown","markdown":"x"}"#, "field"),
        (br#"{"msgtype":"text","text":{"content":"x"},"at":{"atMobiles":"138"}}"#, "field"),
        (br#"{"hello":1}"#, "field"),
    ];
    for (body, kind) in errors {
        let err = parse_robot_payload(body).unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
    }
    let err = parse_robot_payload(br#"{"msgtype":"text","text":{"content":"x"},"at":{"atMobiles":"138"}}"#)
        .unwrap_err();
    assert_eq!(err.path(), Some("at.atMobiles"));
}
