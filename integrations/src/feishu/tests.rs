use serde_json::{Value, json};

use super::api::{card, receiver};
use super::robot::to_lark_md;
use super::*;
use crate::chat::{Button, ChatEvent, ChatId, ChatKind, SendError};

const VECTOR_ENCRYPTED: &str = "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=";

fn at(second: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(second).unwrap()
}

#[test]
fn decrypts_the_documented_vector() {
    assert_eq!(decrypt("test key", VECTOR_ENCRYPTED).unwrap(), b"hello world");
    assert_eq!(decrypt("another key", VECTOR_ENCRYPTED), Err(DecryptError::Padding));
    assert_eq!(decrypt("test key", "not base64!"), Err(DecryptError::Base64));
    assert_eq!(decrypt("test key", "AAAA"), Err(DecryptError::Length));
}

#[test]
fn encryption_round_trips_and_matches_the_vector_layout() {
    let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, VECTOR_ENCRYPTED).unwrap();
    let iv: [u8; 16] = raw[..16].try_into().unwrap();
    // Same key, IV and plaintext give Feishu's bytes.
    assert_eq!(testing::encrypt("test key", b"hello world", iv), VECTOR_ENCRYPTED);
    let long = "飞书".repeat(100);
    let sealed = testing::encrypt("k", long.as_bytes(), [7; 16]);
    assert_eq!(decrypt("k", &sealed).unwrap(), long.as_bytes());
    // A whole block of padding when the text fills its blocks.
    let sealed = testing::encrypt("k", &[b'x'; 32], [1; 16]);
    assert_eq!(decrypt("k", &sealed).unwrap(), [b'x'; 32]);
}

#[test]
fn robot_sign_regression_value() {
    // spec §4.1, computed here with an independent implementation.
    assert_eq!(robot_sign("demo-secret", "1599360473"), "3/MaVZ8JLIy4TUG+7KSFJqvUkTKd+HWY8g+56DZWq8s=");
    let sign = "3/MaVZ8JLIy4TUG+7KSFJqvUkTKd+HWY8g+56DZWq8s=";
    assert!(verify_robot_sign("demo-secret", "1599360473", sign, at(1599360473)));
    assert!(verify_robot_sign("demo-secret", "1599360473", sign, at(1599360473 + 3600)));
    assert!(verify_robot_sign("demo-secret", "1599360473", sign, at(1599360473 - 3600)));
    assert!(!verify_robot_sign("demo-secret", "1599360473", sign, at(1599360473 + 3601)));
    assert!(!verify_robot_sign("other-secret", "1599360473", sign, at(1599360473)));
    assert!(!verify_robot_sign("demo-secret", "1599360474", sign, at(1599360473)));
    assert!(!verify_robot_sign("", "1599360473", sign, at(1599360473)));
    assert!(!verify_robot_sign("demo-secret", "soon", sign, at(1599360473)));
}

#[test]
fn event_signature_regression_value() {
    let body = format!(r#"{{"encrypt":"{VECTOR_ENCRYPTED}"}}"#);
    assert_eq!(
        event_signature("1700000000", "nonce123", "test key", body.as_bytes()),
        "669e3ed5328644f71370e3249f96af0fd17e5ed4d7b178c44f11f7997339e344"
    );
}

fn settings() -> CallbackSettings {
    CallbackSettings {
        verification_token: "Ol3sGJbZtSJZ2vcHRFqjRhfCCsi9bFDn".into(),
        encrypt_key: Some("test key".into()),
    }
}

fn request<'a>(headers: &'a [(String, String)], body: &'a [u8], now: i64) -> CallbackRequest<'a> {
    CallbackRequest { method: "POST", query: "", headers, body, now: at(now) }
}

fn vector_headers(signature: &str) -> Vec<(String, String)> {
    vec![
        ("x-lark-request-timestamp".into(), "1700000000".into()),
        ("x-lark-request-nonce".into(), "nonce123".into()),
        ("x-lark-signature".into(), signature.into()),
    ]
}

#[test]
fn the_spec_vector_passes_the_signature_then_is_not_an_event() {
    let body = format!(r#"{{"encrypt":"{VECTOR_ENCRYPTED}"}}"#);
    let headers = vector_headers("669e3ed5328644f71370e3249f96af0fd17e5ed4d7b178c44f11f7997339e344");
    // Signature and decryption hold; "hello world" is not JSON.
    let err = handle_callback(&settings(), &request(&headers, body.as_bytes(), 1700000100)).unwrap_err();
    assert!(matches!(err, CallbackError::Malformed(ref m) if m.starts_with("decrypted")), "{err:?}");
    // Tampered signature, body, or an old timestamp.
    let bad = vector_headers("669e3ed5328644f71370e3249f96af0fd17e5ed4d7b178c44f11f7997339e345");
    assert_eq!(
        handle_callback(&settings(), &request(&bad, body.as_bytes(), 1700000100)),
        Err(CallbackError::BadSignature)
    );
    let tampered = body.replace("P37w", "Q37w");
    assert_eq!(
        handle_callback(&settings(), &request(&headers, tampered.as_bytes(), 1700000100)),
        Err(CallbackError::BadSignature)
    );
    assert_eq!(
        handle_callback(&settings(), &request(&headers, body.as_bytes(), 1700007200)),
        Err(CallbackError::StaleTimestamp)
    );
}

#[test]
fn url_verification_plain_and_encrypted() {
    let plain = json!({ "challenge": "ajls384kdjx98XX", "token": "Ol3sGJbZtSJZ2vcHRFqjRhfCCsi9bFDn", "type": "url_verification" });
    let no_key = CallbackSettings { encrypt_key: None, ..settings() };
    let body = plain.to_string();
    let outcome = handle_callback(&no_key, &request(&[], body.as_bytes(), 0)).unwrap();
    assert_eq!(
        outcome,
        CallbackOutcome::Reply {
            content_type: "application/json",
            body: br#"{"challenge":"ajls384kdjx98XX"}"#.to_vec()
        }
    );
    // Encrypted, without signature headers (Feishu does not sign the verification).
    let sealed = json!({ "encrypt": testing::encrypt("test key", body.as_bytes(), [3; 16]) }).to_string();
    let outcome = handle_callback(&settings(), &request(&[], sealed.as_bytes(), 0)).unwrap();
    assert!(matches!(outcome, CallbackOutcome::Reply { .. }));
    // A wrong token.
    let wrong = plain.to_string().replace("Ol3s", "XXXX");
    assert_eq!(handle_callback(&no_key, &request(&[], wrong.as_bytes(), 0)), Err(CallbackError::BadToken));
    // Encrypted but no key configured; GET.
    assert_eq!(
        handle_callback(&no_key, &request(&[], sealed.as_bytes(), 0)),
        Err(CallbackError::NoEncryptKey)
    );
    let get = CallbackRequest { method: "GET", ..request(&[], b"", 0) };
    assert_eq!(handle_callback(&no_key, &get), Err(CallbackError::Method("GET".into())));
}

fn group_message() -> Value {
    testing::text_message_event(
        "Ol3sGJbZtSJZ2vcHRFqjRhfCCsi9bFDn",
        "5e3702a84e847582be8db7fb73283c02",
        "oc_5ad11d72b830411d72b836c20",
        "group",
        "ou_7d8a6e6df7621556ce0d21922b676706",
        "om_5ce6d572455d361153b7cb51da133945",
        "@_user_1  /ack 007 请 @_user_2 跟进",
        &[("@_user_1", "ou_bot", "值班机器人"), ("@_user_2", "ou_zhangsan", "张三")],
    )
}

#[test]
fn an_encrypted_signed_group_message() {
    let sealed = testing::seal_event(&settings(), &group_message(), 1764036000, "a1b2c3");
    let outcome = handle_callback(&settings(), &request(&sealed.headers, &sealed.body, 1764036005)).unwrap();
    let CallbackOutcome::Update { update, reply } = outcome else { panic!("{outcome:?}") };
    assert_eq!(reply.body, b"{}");
    assert_eq!(update.id, sign::stable_id(b"5e3702a84e847582be8db7fb73283c02"));
    assert!(update.id >= 0);
    let ChatEvent::Message(m) = update.event else { panic!() };
    assert_eq!(m.chat, ChatId("oc_5ad11d72b830411d72b836c20".into()));
    assert_eq!(m.chat_kind, ChatKind::Group);
    assert_eq!(m.from.id, "ou_7d8a6e6df7621556ce0d21922b676706");
    assert!(!m.from.is_bot);
    assert_eq!(m.text, "/ack 007 请 @张三 跟进");
    assert_eq!(m.message_id, "om_5ce6d572455d361153b7cb51da133945");
    assert_eq!(m.at, at(1764036000));
    assert_eq!(m.reply_to, None);

    // Without the signature headers; with another key's signature.
    assert_eq!(
        handle_callback(&settings(), &request(&[], &sealed.body, 1764036005)),
        Err(CallbackError::MissingSignature)
    );
    let other = CallbackSettings { encrypt_key: Some("other".into()), ..settings() };
    let resealed = testing::seal_event(&other, &group_message(), 1764036000, "a1b2c3");
    assert_eq!(
        handle_callback(&settings(), &request(&resealed.headers, &resealed.body, 1764036005)),
        Err(CallbackError::BadSignature)
    );
}

#[test]
fn a_plain_p2p_message_needs_the_token() {
    let no_key = CallbackSettings { encrypt_key: None, ..settings() };
    let mut event = testing::text_message_event(
        "Ol3sGJbZtSJZ2vcHRFqjRhfCCsi9bFDn",
        "ev-1",
        "oc_p2p",
        "p2p",
        "ou_1",
        "om_1",
        "/bind 493021",
        &[],
    );
    event["event"]["message"]["parent_id"] = json!("om_0");
    let body = event.to_string();
    let CallbackOutcome::Update { update, .. } =
        handle_callback(&no_key, &request(&[], body.as_bytes(), 0)).unwrap()
    else {
        panic!()
    };
    let ChatEvent::Message(m) = update.event else { panic!() };
    assert_eq!(
        (m.chat_kind, m.text.as_str(), m.reply_to.as_deref()),
        (ChatKind::Private, "/bind 493021", Some("om_0"))
    );
    let forged = body.replace("Ol3s", "XXXX");
    assert_eq!(handle_callback(&no_key, &request(&[], forged.as_bytes(), 0)), Err(CallbackError::BadToken));
}

#[test]
fn post_and_other_messages() {
    let no_key = CallbackSettings { encrypt_key: None, ..settings() };
    let mut event = group_message();
    event["event"]["message"]["message_type"] = json!("post");
    event["event"]["message"]["content"] = json!(json!({
        "title": "处理进展",
        "content": [[{"tag": "at", "user_id": "@_user_1", "user_name": "值班机器人"}, {"tag": "text", "text": " 已到现场"}],
                    [{"tag": "a", "text": "工单", "href": "https://x/1"}]]
    })
    .to_string());
    let body = event.to_string();
    let CallbackOutcome::Update { update, .. } =
        handle_callback(&no_key, &request(&[], body.as_bytes(), 0)).unwrap()
    else {
        panic!()
    };
    let ChatEvent::Message(m) = update.event else { panic!() };
    assert_eq!(m.text, "处理进展\n@值班机器人 已到现场\n工单");

    event["event"]["message"]["message_type"] = json!("image");
    event["event"]["message"]["content"] = json!(r#"{"image_key":"img_v2_1"}"#);
    let body = event.to_string();
    let outcome = handle_callback(&no_key, &request(&[], body.as_bytes(), 0)).unwrap();
    assert!(
        matches!(outcome, CallbackOutcome::Ignored { ref what, .. } if what.contains("image")),
        "{outcome:?}"
    );

    event["header"]["event_type"] = json!("im.chat.member.bot.added_v1");
    let body = event.to_string();
    let outcome = handle_callback(&no_key, &request(&[], body.as_bytes(), 0)).unwrap();
    assert!(
        matches!(outcome, CallbackOutcome::Ignored { ref what, .. } if what == "im.chat.member.bot.added_v1")
    );
}

#[test]
fn card_action_new_and_old() {
    let event = testing::card_action_event(
        "Ol3sGJbZtSJZ2vcHRFqjRhfCCsi9bFDn",
        "ev-card-1",
        "ou_lisi",
        "oc_group",
        "om_card",
        "ack:A-0042",
    );
    let sealed = testing::seal_event(&settings(), &event, 1764036000, "n");
    let CallbackOutcome::Update { update, reply } =
        handle_callback(&settings(), &request(&sealed.headers, &sealed.body, 1764036000)).unwrap()
    else {
        panic!()
    };
    assert_eq!(reply.body, b"{}");
    let ChatEvent::Button(press) = update.event else { panic!() };
    assert_eq!(press.data, "ack:A-0042");
    assert_eq!(press.from.id, "ou_lisi");
    assert_eq!(press.chat, Some(ChatId("oc_group".into())));
    assert_eq!(press.message_id.as_deref(), Some("om_card"));
    assert_eq!(press.id, "c-295ee57216a5dc9de90fefd0aadb4b1d7d337cc7");

    // The old format, signed with SHA-1 and the Verification Token, without an Encrypt Key.
    let no_key = CallbackSettings { encrypt_key: None, ..settings() };
    let old = json!({
        "open_id": "ou_lisi", "user_id": "lisi", "open_message_id": "om_card", "open_chat_id": "oc_group",
        "tenant_key": "t", "token": "c-old", "action": { "value": { "data": "esc:A-0042" }, "tag": "button" }
    });
    let sealed = testing::seal_old_card_callback("Ol3sGJbZtSJZ2vcHRFqjRhfCCsi9bFDn", &old, 1764036000, "n");
    let CallbackOutcome::Update { update, .. } =
        handle_callback(&no_key, &request(&sealed.headers, &sealed.body, 1764036000)).unwrap()
    else {
        panic!()
    };
    let ChatEvent::Button(press) = update.event else { panic!() };
    assert_eq!((press.data.as_str(), press.from.display_name.as_str()), ("esc:A-0042", "lisi"));
    assert_eq!(press.id, "c-old");
    // Unsigned, or signed with another token.
    let body = old.to_string();
    assert_eq!(
        handle_callback(&no_key, &request(&[], body.as_bytes(), 1764036000)),
        Err(CallbackError::MissingSignature)
    );
    let forged = testing::seal_old_card_callback("guess", &old, 1764036000, "n");
    assert_eq!(
        handle_callback(&no_key, &request(&forged.headers, &forged.body, 1764036000)),
        Err(CallbackError::BadSignature)
    );
}

#[test]
fn chat_id_addressing() {
    let r = |s: &str| receiver(&ChatId(s.into()));
    assert_eq!(r("oc_abc").unwrap(), ("chat_id", "oc_abc".into()));
    assert_eq!(r("ou_abc").unwrap(), ("open_id", "ou_abc".into()));
    assert_eq!(r("on_abc").unwrap(), ("union_id", "on_abc".into()));
    assert_eq!(r("zhangsan@court.example").unwrap(), ("email", "zhangsan@court.example".into()));
    assert_eq!(r("e33ggbyz").unwrap(), ("user_id", "e33ggbyz".into()));
    assert_eq!(r("user_id:ou_looks_like_open").unwrap(), ("user_id", "ou_looks_like_open".into()));
    assert!(matches!(r(""), Err(SendError::Rejected(_))));
    assert!(matches!(r("chat_id:"), Err(SendError::Rejected(_))));
    assert!(matches!(r("a b"), Err(SendError::Rejected(_))));
}

#[test]
fn cards_carry_callback_buttons() {
    let rows = vec![
        vec![
            Button { label: "确认".into(), data: "ack:1".into() },
            Button { label: "升级".into(), data: "esc:1".into() },
        ],
        vec![Button { label: "详情".into(), data: "show:1".into() }],
    ];
    let c = card("【一级】电子卷宗系统无法登录\n<b>不是标记</b>", &rows);
    assert_eq!(c["config"]["update_multi"], json!(true));
    assert_eq!(c["elements"][0]["text"]["tag"], "plain_text");
    assert_eq!(c["elements"][1]["actions"][0]["value"], json!({ "data": "ack:1" }));
    assert_eq!(c["elements"][1]["actions"][0]["type"], "primary");
    assert_eq!(c["elements"][1]["actions"][1]["type"], "default");
    assert_eq!(c["elements"][2]["actions"][0]["text"]["content"], "详情");
}

#[test]
fn robot_bodies() {
    let robot =
        Robot::new("https://open.feishu.cn/open-apis/bot/v2/hook/secret-uuid", Some("demo-secret".into()));
    let message = RobotMessage {
        title: "【一级】故障通报".into(),
        markdown: "# 统一业务应用系统\n**状态**：无法登录".into(),
        mention_mobiles: vec!["13800138001".into()],
        mention_user_ids: vec!["ou_zhangsan".into()],
        mention_all: true,
    };
    let body = robot.request_body(&message, at(1599360473));
    assert_eq!(body["timestamp"], "1599360473");
    assert_eq!(body["sign"], "3/MaVZ8JLIy4TUG+7KSFJqvUkTKd+HWY8g+56DZWq8s=");
    assert_eq!(body["msg_type"], "interactive");
    assert_eq!(body["card"]["header"]["title"]["content"], "【一级】故障通报");
    assert_eq!(
        body["card"]["elements"][0]["text"]["content"],
        "**统一业务应用系统**\n**状态**：无法登录\n<at id=all></at> <at id=ou_zhangsan></at> @13800138001"
    );
    assert!(!format!("{robot:?}").contains("secret-uuid"));
    let unsigned = Robot::new("https://x/hook/1", None).request_body(&message, at(0));
    assert!(unsigned.get("sign").is_none() && unsigned.get("timestamp").is_none());

    // Cut to fit 20 KB.
    let huge = RobotMessage { markdown: "告警详情\n".repeat(5000), ..message };
    let body = robot.request_body(&huge, at(1599360473));
    let size = serde_json::to_vec(&body).unwrap().len();
    assert!(size <= MAX_ROBOT_BODY, "{size}");
    assert!(body["card"]["elements"][0]["text"]["content"].as_str().unwrap().contains("已截断"));
    assert_eq!(to_lark_md("## 标题\n#不是标题\n正文"), "**标题**\n#不是标题\n正文");
}

#[test]
fn error_mapping() {
    use std::time::Duration;
    let m = |status, code, wait| map_api_error(status, Some(code), "x", wait);
    assert_eq!(m(400, 230020, None), SendError::RetryAfter(Duration::from_secs(1)));
    assert_eq!(m(400, 11232, Some(Duration::from_secs(3))), SendError::RetryAfter(Duration::from_secs(3)));
    assert!(matches!(m(400, 230013, None), SendError::ChatGone(_)));
    assert!(matches!(m(400, 230002, None), SendError::ChatGone(_)));
    assert!(matches!(m(400, 99991663, None), SendError::Unauthorized(_)));
    assert!(matches!(m(400, 230001, None), SendError::Rejected(_)));
    assert!(matches!(m(500, 230001, None), SendError::Transient(_)));
    assert!(matches!(map_api_error(502, None, "<html>", None), SendError::Transient(_)));
    assert!(matches!(map_api_error(429, None, "", None), SendError::RetryAfter(_)));
    assert!(is_token_error(99991663) && !is_token_error(230001));
}

#[test]
fn intake_text_with_mentions() {
    let body = r#"{"msg_type":"text","content":{"text":"<at user_id=\"all\">所有人</at> 【Zabbix】服务器宕机\n主机：db-01\n<at user_id=\"ou_1\">张三</at>"}}"#;
    let p = parse_robot_payload(body.as_bytes()).unwrap();
    assert_eq!(p.title, "@所有人 【Zabbix】服务器宕机");
    assert_eq!(p.text, "主机：db-01\n@张三");
    assert_eq!(p.mentions, vec!["all", "ou_1"]);
}

#[test]
fn intake_errors() {
    assert!(matches!(parse_robot_payload(b""), Err(crate::PayloadError::Syntax { .. })));
    assert!(matches!(parse_robot_payload(b"{"), Err(crate::PayloadError::Syntax { .. })));
    assert_eq!(parse_robot_payload(b"[]").unwrap_err().path(), Some("."));
    assert_eq!(parse_robot_payload(b"{}").unwrap_err().path(), Some("msg_type"));
    assert_eq!(parse_robot_payload(br#"{"msg_type":"text"}"#).unwrap_err().path(), Some("content.text"));
    assert_eq!(parse_robot_payload(br#"{"msg_type":"audio"}"#).unwrap_err().path(), Some("msg_type"));
    assert_eq!(
        parse_robot_payload(br#"{"msg_type":"interactive","card":"{"}"#).unwrap_err().path(),
        Some("card")
    );
}

#[test]
fn intake_markdown_stripping() {
    let card = json!({
        "msg_type": "interactive",
        "card": { "elements": [ { "tag": "markdown",
            "content": "## 告警 **严重**\n> 引用\n<font color='red'>FIRING</font> [详情](https://g/1) `code`\n```\nraw **x**\n```\na < b &amp; c <at id=ou_2></at> <at email=a@b.c></at>" } ] }
    });
    let p = parse_robot_payload(card.to_string().as_bytes()).unwrap();
    assert_eq!(p.title, "告警 严重");
    assert_eq!(p.text, "引用\nFIRING 详情 (https://g/1) code\nraw **x**\na < b & c @ou_2 @a@b.c");
    assert_eq!(p.mentions, vec!["ou_2", "a@b.c"]);
}

#[test]
fn robot_signature_fields() {
    let s = robot_signature(br#"{"timestamp":"1599360473","sign":"abc=","msg_type":"text"}"#).unwrap();
    assert_eq!((s.timestamp.as_str(), s.sign.as_str()), ("1599360473", "abc="));
    let s = robot_signature(br#"{"timestamp":1599360473,"sign":"abc="}"#).unwrap();
    assert_eq!(s.timestamp, "1599360473");
    assert_eq!(robot_signature(br#"{"msg_type":"text"}"#), None);
}
