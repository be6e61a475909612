use jiff::Timestamp;
use serde_json::json;

use super::crypto::{self, CryptoError};
use super::intake::markdown_to_text;
use super::*;
use crate::chat::{ChatEvent, ChatKind, SendError};

const TOKEN: &str = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";
const AES_KEY: &str = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";
const CORP_ID: &str = "ww1436e0e65a779aee";

const A_SIGNATURE: &str = "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb";
const A_TIMESTAMP: &str = "1476416373";
const A_NONCE: &str = "47744683";
const A_ECHOSTR: &str =
    "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==";

const B_SIGNATURE: &str = "0c3914025cb4b4d68103f6bfc8db550f79dcf48e";
const B_TIMESTAMP: &str = "1476422779";
const B_NONCE: &str = "1597212914";
const B_ENCRYPT: &str = "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+";
const B_MESSAGE: &str = "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName><CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content><MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>";

fn settings() -> CallbackSettings {
    CallbackSettings { token: TOKEN.into(), encoding_aes_key: AES_KEY.into(), receive_id: CORP_ID.into() }
}

fn at(secs: &str) -> Timestamp {
    Timestamp::from_second(secs.parse().unwrap()).unwrap()
}

fn b_body() -> String {
    format!(
        "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>\n<Encrypt><![CDATA[{B_ENCRYPT}]]></Encrypt>\n<AgentID><![CDATA[1000002]]></AgentID>\n</xml>"
    )
}

fn enc(s: &str) -> String {
    s.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")
}

#[test]
fn vector_a_signature_and_decryption() {
    assert_eq!(crypto::signature(TOKEN, A_TIMESTAMP, A_NONCE, A_ECHOSTR), A_SIGNATURE);
    let key = crypto::aes_key(AES_KEY).unwrap();
    let d = crypto::decrypt(&key, A_ECHOSTR).unwrap();
    assert_eq!(&d.random, b"8908d0ff052afda0");
    assert_eq!(d.message, "1288432023552776189");
    assert_eq!(d.receive_id, CORP_ID);
    // Re-encrypting with the same random bytes gives the ciphertext back (pad 7 × 0x07).
    assert_eq!(crypto::encrypt(&key, &d.random, &d.message, &d.receive_id), A_ECHOSTR);
}

#[test]
fn vector_b_signature_decryption_and_32_byte_padding() {
    assert_eq!(crypto::signature(TOKEN, B_TIMESTAMP, B_NONCE, B_ENCRYPT), B_SIGNATURE);
    assert!(crypto::signature_matches(&B_SIGNATURE.to_uppercase(), TOKEN, B_TIMESTAMP, B_NONCE, B_ENCRYPT));
    let key = crypto::aes_key(AES_KEY).unwrap();
    let d = crypto::decrypt(&key, B_ENCRYPT).unwrap();
    assert_eq!(&d.random, b"694ce5a83ae07fe3");
    assert_eq!(d.message.len(), 228);
    assert_eq!(d.message, B_MESSAGE);
    assert_eq!(d.receive_id, CORP_ID);
    // 22 bytes of padding: more than one AES block, which a 16-byte PKCS#7 would refuse.
    assert_eq!(crypto::encrypt(&key, &d.random, &d.message, &d.receive_id), B_ENCRYPT);
}

#[test]
fn bad_keys_and_ciphertexts() {
    assert_eq!(crypto::aes_key("short"), Err(CryptoError::BadKey));
    assert_eq!(crypto::aes_key(&"!".repeat(43)), Err(CryptoError::BadKey));
    let key = crypto::aes_key(AES_KEY).unwrap();
    assert_eq!(crypto::decrypt(&key, "not base64!"), Err(CryptoError::Base64));
    assert_eq!(crypto::decrypt(&key, "AAAA"), Err(CryptoError::BlockLength));
    // A wrong key decrypts to garbage: the padding or the layout gives it away.
    let other = crypto::aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").unwrap();
    assert!(crypto::decrypt(&other, B_ENCRYPT).is_err());
    // Round trips of every padding length, 1..=32.
    for len in 0..40 {
        let msg = "x".repeat(len);
        let c = crypto::encrypt(&key, &[7; 16], &msg, "corp");
        let d = crypto::decrypt(&key, &c).unwrap();
        assert_eq!((d.message.as_str(), d.receive_id.as_str()), (msg.as_str(), "corp"));
    }
}

#[test]
fn url_verification_with_vector_a() {
    let query = format!(
        "msg_signature={A_SIGNATURE}&timestamp={A_TIMESTAMP}&nonce={A_NONCE}&echostr={}",
        enc(A_ECHOSTR)
    );
    let request =
        CallbackRequest { method: "GET", query: &query, headers: &[], body: b"", now: at(A_TIMESTAMP) };
    assert_eq!(
        handle_callback(&settings(), &request).unwrap(),
        CallbackOutcome::Reply {
            content_type: "text/plain; charset=utf-8",
            body: b"1288432023552776189".to_vec()
        }
    );
    // An unescaped `+` (some senders) stays a `+`.
    let raw =
        format!("msg_signature={A_SIGNATURE}&timestamp={A_TIMESTAMP}&nonce={A_NONCE}&echostr={A_ECHOSTR}");
    let request = CallbackRequest { query: &raw, ..request };
    assert!(matches!(handle_callback(&settings(), &request), Ok(CallbackOutcome::Reply { .. })));
}

#[test]
fn message_delivery_with_vector_b() {
    let query = format!("msg_signature={B_SIGNATURE}&timestamp={B_TIMESTAMP}&nonce={B_NONCE}");
    let body = b_body();
    let request = CallbackRequest {
        method: "POST",
        query: &query,
        headers: &[],
        body: body.as_bytes(),
        now: at(B_TIMESTAMP),
    };
    let CallbackOutcome::Update { update, reply } = handle_callback(&settings(), &request).unwrap() else {
        panic!("not an update")
    };
    assert_eq!(reply, empty_reply());
    assert_eq!(update.id, 1456453720);
    let ChatEvent::Message(m) = update.event else { panic!("not a message") };
    assert_eq!(m.chat.0, "ChenJiaShun");
    assert_eq!(m.chat_kind, ChatKind::Private);
    assert_eq!(m.from.id, "ChenJiaShun");
    assert_eq!(m.text, "你好");
    assert_eq!(m.message_id, "1456453720");
    assert_eq!(m.reply_to, None);
    assert_eq!(m.at.as_second(), 1476422779);
}

#[test]
fn refusals_stop_before_parsing() {
    let s = settings();
    let body = b_body();
    let post = |query: String, now: &str| {
        let now = at(now);
        handle_callback(
            &s,
            &CallbackRequest { method: "POST", query: &query, headers: &[], body: body.as_bytes(), now },
        )
    };
    let good = |sig: &str, ts: &str, nonce: &str| format!("msg_signature={sig}&timestamp={ts}&nonce={nonce}");
    // Tampered signature, timestamp, nonce.
    let wrong = B_SIGNATURE.replace('0', "1");
    assert_eq!(post(good(&wrong, B_TIMESTAMP, B_NONCE), B_TIMESTAMP), Err(CallbackError::BadSignature));
    assert_eq!(post(good(B_SIGNATURE, "1476422780", B_NONCE), B_TIMESTAMP), Err(CallbackError::BadSignature));
    assert_eq!(
        post(good(B_SIGNATURE, B_TIMESTAMP, "1597212915"), B_TIMESTAMP),
        Err(CallbackError::BadSignature)
    );
    // Stale: the right signature, but an hour late.
    assert_eq!(
        post(good(B_SIGNATURE, B_TIMESTAMP, B_NONCE), "1476426379"),
        Err(CallbackError::Stale { skew_secs: 3600 })
    );
    assert!(post(good(B_SIGNATURE, B_TIMESTAMP, B_NONCE), "1476423079").is_ok());
    // Missing parameters.
    assert_eq!(
        post(format!("timestamp={B_TIMESTAMP}&nonce={B_NONCE}"), B_TIMESTAMP),
        Err(CallbackError::MissingParameter("msg_signature"))
    );
    // A tampered ciphertext fails the signature.
    let tampered = body.replace("Kl7kjo", "Kl7kjp");
    let request = CallbackRequest {
        method: "POST",
        query: &good(B_SIGNATURE, B_TIMESTAMP, B_NONCE),
        headers: &[],
        body: tampered.as_bytes(),
        now: at(B_TIMESTAMP),
    };
    assert_eq!(handle_callback(&s, &request), Err(CallbackError::BadSignature));
    // Another corp's receive id.
    let other = CallbackSettings { receive_id: "ww0000000000000000".into(), ..settings() };
    let request = CallbackRequest { body: body.as_bytes(), ..request };
    assert_eq!(handle_callback(&other, &request), Err(CallbackError::ReceiveId));
    assert_eq!(CallbackError::ReceiveId.http_status(), 403);
    // A wrong method.
    let request = CallbackRequest { method: "PUT", ..request };
    assert!(matches!(handle_callback(&s, &request), Err(CallbackError::Method(_))));
    // A body without Encrypt.
    let request =
        CallbackRequest { method: "POST", body: b"<xml><ToUserName>x</ToUserName></xml>", ..request };
    assert_eq!(handle_callback(&s, &request), Err(CallbackError::MissingEncrypt));
}

#[test]
fn card_clicks_and_other_events() {
    // The official example of a template_card_event (spec §2.7), with its nested SelectedItems.
    let xml = "<xml>\n<ToUserName><![CDATA[toUser]]></ToUserName>\n<FromUserName><![CDATA[FromUser]]></FromUserName>\n\
        <CreateTime>123456789</CreateTime>\n<MsgType><![CDATA[event]]></MsgType>\n<Event><![CDATA[template_card_event]]></Event>\n\
        <EventKey><![CDATA[key111]]></EventKey>\n<TaskId><![CDATA[taskid111]]></TaskId>\n<CardType><![CDATA[text_notice]]></CardType>\n\
        <ResponseCode><![CDATA[ResponseCode]]></ResponseCode>\n<AgentID>1</AgentID>\n<SelectedItems>\n    <SelectedItem>\n\
        <QuestionKey><![CDATA[QuestionKey1]]></QuestionKey>\n        <OptionIds>\n            <OptionId><![CDATA[OptionId1]]></OptionId>\n\
        <OptionId><![CDATA[OptionId2]]></OptionId>\n        </OptionIds>\n    </SelectedItem>\n</SelectedItems>\n</xml>";
    let CallbackOutcome::Update { update, .. } = map_message(xml).unwrap() else { panic!() };
    let ChatEvent::Button(b) = &update.event else { panic!() };
    assert_eq!(b.data, "key111");
    assert_eq!(b.from.id, "FromUser");
    assert_eq!(b.id, "ResponseCode");
    assert_eq!(b.chat.as_ref().unwrap().0, "FromUser");
    assert_eq!(b.message_id.as_deref(), Some("taskid111:ResponseCode"));
    assert_eq!(parse_card_handle("taskid111:ResponseCode"), Some(("taskid111", "ResponseCode")));
    assert!(update.id >= 0);
    // The same click delivered again has the same id.
    let CallbackOutcome::Update { update: again, .. } = map_message(xml).unwrap() else { panic!() };
    assert_eq!(again.id, update.id);

    let enter = "<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName>\
        <CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[enter_agent]]></Event>\
        <EventKey><![CDATA[]]></EventKey><AgentID>1</AgentID></xml>";
    assert!(
        matches!(map_message(enter).unwrap(), CallbackOutcome::Ignored { what, .. } if what.contains("enter_agent"))
    );
    let image = "<xml><FromUserName>zhangsan</FromUserName><CreateTime>1</CreateTime><MsgType>image</MsgType>\
        <PicUrl>http://x/y.png</PicUrl><MediaId>m</MediaId><MsgId>5</MsgId></xml>";
    assert!(
        matches!(map_message(image).unwrap(), CallbackOutcome::Ignored { what, .. } if what.contains("image"))
    );
    assert!(matches!(map_message("<xml><MsgType>text"), Err(CallbackError::Body(_))));
}

#[test]
fn a_text_message_with_cdata_and_a_big_msg_id() {
    let xml = testing::text_message_xml(
        "ww1",
        "li.si@court",
        "/ack 007 ]]> <b>",
        18446744073709551615,
        1700000000,
        1000002,
    );
    let CallbackOutcome::Update { update, .. } = map_message(&xml).unwrap() else { panic!() };
    // A MsgId beyond i64 is hashed, stably.
    assert_eq!(update.id, stable_id("wecom:msg:18446744073709551615"));
    let ChatEvent::Message(m) = update.event else { panic!() };
    assert_eq!(m.text, "/ack 007 ]]> <b>");
    assert_eq!(m.from.id, "li.si@court");
}

#[test]
fn testing_helpers_round_trip() {
    let s = CallbackSettings {
        token: "tok".into(),
        encoding_aes_key: AES_KEY.into(),
        receive_id: "wwcorp".into(),
    };
    let xml = testing::text_message_xml("wwcorp", "wangwu", "值班", 42, 1_700_000_000, 7);
    let signed = testing::delivery(&s, &xml, 7, 1_700_000_000, "n o+n/ce", [3; 16]);
    let request = CallbackRequest {
        method: "POST",
        query: &signed.query,
        headers: &[],
        body: &signed.body,
        now: Timestamp::from_second(1_700_000_010).unwrap(),
    };
    let CallbackOutcome::Update { update, .. } = handle_callback(&s, &request).unwrap() else { panic!() };
    assert_eq!(update.id, 42);
    let query = testing::verification(&s, "echo-123", 1_700_000_000, "nonce", [9; 16]);
    let request = CallbackRequest { method: "GET", query: &query, body: b"", ..request };
    assert!(
        matches!(handle_callback(&s, &request).unwrap(), CallbackOutcome::Reply { body, .. } if body == b"echo-123")
    );
    // The JSON variant of the outer body.
    let encrypt = String::from_utf8(signed.body.clone()).unwrap();
    let inner = encrypt.split("<Encrypt><![CDATA[").nth(1).unwrap().split("]]>").next().unwrap();
    let json = json!({ "tousername": "wwcorp", "encrypt": inner, "agentid": 7 }).to_string();
    let request = CallbackRequest { method: "POST", query: &signed.query, body: json.as_bytes(), ..request };
    assert!(matches!(handle_callback(&s, &request).unwrap(), CallbackOutcome::Update { .. }));
}

#[test]
fn errcodes() {
    assert_eq!(map_errcode(45009, "api freq out of limit"), SendError::RetryAfter(RATE_LIMIT_WAIT));
    assert!(matches!(map_errcode(93000, "invalid webhook url"), SendError::Unauthorized(_)));
    assert!(matches!(map_errcode(42001, "access_token expired"), SendError::Unauthorized(_)));
    assert!(matches!(map_errcode(60020, "not allow to access from your ip"), SendError::Unauthorized(_)));
    assert!(matches!(map_errcode(81013, "user & party & tag all invalid"), SendError::ChatGone(_)));
    assert!(matches!(map_errcode(60111, "userid not found"), SendError::ChatGone(_)));
    assert!(matches!(map_errcode(93008, ""), SendError::ChatGone(_)));
    assert!(matches!(map_errcode(-1, "system busy"), SendError::Transient(_)));
    assert!(matches!(map_errcode(40008, "invalid message type"), SendError::Rejected(_)));
    let SendError::Rejected(text) = map_errcode(
        44004,
        "empty content, hint: [1700000000_1_abc], from ip: 1.2.3.4, more info at https://open.work.weixin.qq.com/devtool/query?e=44004",
    ) else {
        panic!()
    };
    assert_eq!(text, "WeCom errcode 44004 (empty content): empty content");
}

#[test]
fn robot_bodies() {
    let m = RobotMessage {
        title: "【一级】电子卷宗系统无法登录".into(),
        markdown: "单位: <font color=\"warning\">某某区人民法院</font>\n> 请**值班工程师**处理".into(),
        mention_user_ids: vec!["zhangsan".into()],
        ..RobotMessage::default()
    };
    assert_eq!(
        Robot::body(&m),
        json!({ "msgtype": "markdown", "markdown": { "content":
            "## 【一级】电子卷宗系统无法登录\n单位: <font color=\"warning\">某某区人民法院</font>\n> 请**值班工程师**处理\n<@zhangsan>" } })
    );
    let m = RobotMessage { mention_mobiles: vec!["13800001111".into()], mention_all: true, ..m };
    assert_eq!(
        Robot::body(&m),
        json!({ "msgtype": "text", "text": {
            "content": "【一级】电子卷宗系统无法登录\n单位: 某某区人民法院\n请值班工程师处理",
            "mentioned_list": ["zhangsan", "@all"],
            "mentioned_mobile_list": ["13800001111"] } })
    );
    // Too long: cut at a character boundary, the mention kept.
    let long = RobotMessage {
        markdown: "告".repeat(3000),
        mention_user_ids: vec!["u1".into()],
        ..RobotMessage::default()
    };
    let content = Robot::body(&long)["markdown"]["content"].as_str().unwrap().to_string();
    assert!(content.len() <= MAX_MARKDOWN_BYTES, "{}", content.len());
    assert!(content.ends_with("…\n<@u1>"));
    assert!(
        !format!("{:?}", Robot::new("https://x/cgi-bin/webhook/send?key=SECRET", None)).contains("SECRET")
    );
}

#[test]
fn markdown_to_plain_text() {
    let md = "# 告警 **CPU**\n>主机: `db-01` <font color=\"comment\">(生产)</font>\n\n\n[详情](http://grafana/d/1) ![图](http://x/i.png)\n\
        [http://a](http://a)\n---\n| 指标 | 值 |\n| :--- | :---: |\n| cpu | 95% |\n* one<br>two\n```\ncode\n```\n<@lisi> 请处理 &lt;5%";
    let (text, mentions) = markdown_to_text(md);
    assert_eq!(
        text,
        "告警 CPU\n主机: db-01 (生产)\n\n详情 (http://grafana/d/1) 图\nhttp://a\n指标 | 值\ncpu | 95%\n- one\ntwo\ncode\n请处理 <5%"
    );
    assert_eq!(mentions, vec!["lisi"]);
}

#[test]
fn robot_payloads() {
    let p = parse_robot_payload(
        r##"{"msgtype":"text","text":{"content":"[FIRING] 磁盘空间不足\nhost=fs-01 <@wangwu>","mentioned_list":["zhangsan","@all"],"mentioned_mobile_list":["13800001111"]}}"##.as_bytes(),
    )
    .unwrap();
    assert_eq!(p.title, "[FIRING] 磁盘空间不足");
    assert_eq!(p.text, "host=fs-01");
    assert_eq!(p.mentions, vec!["zhangsan", "@all", "13800001111", "wangwu"]);
    let p = parse_robot_payload(r##"{"msgtype":"markdown_v2","markdown_v2":{"content":"# 标题\n| 列1 | 列2 |\n| :--- | :---: |\n| a | b |\n"}}"##.as_bytes()).unwrap();
    assert_eq!((p.title.as_str(), p.text.as_str()), ("标题", "列1 | 列2\na | b"));
    let p = parse_robot_payload(
        r##"{"msgtype":"news","news":{"articles":[{"title":"中秋节礼品领取","description":"今年中秋节公司有豪礼相送","url":"www.qq.com","picurl":"http://p"}]}}"##.as_bytes(),
    )
    .unwrap();
    assert_eq!(
        (p.title.as_str(), p.text.as_str()),
        ("中秋节礼品领取", "今年中秋节公司有豪礼相送\nwww.qq.com")
    );
    // Errors name the field.
    let e = parse_robot_payload(r##"{"msgtype":"markdown"}"##.as_bytes()).unwrap_err();
    assert_eq!(e.path(), Some("markdown"));
    let e = parse_robot_payload(r##"{"msgtype":"text","text":{"content":"  "}}"##.as_bytes()).unwrap_err();
    assert_eq!(e.path(), Some("text.content"));
    let e = parse_robot_payload(r##"{"msgtype":"image","image":{"base64":"x","md5":"y"}}"##.as_bytes())
        .unwrap_err();
    assert_eq!(e.path(), Some("msgtype"));
    let e = parse_robot_payload(r##"{"msgtype":"text","text":{}}"##.as_bytes()).unwrap_err();
    assert_eq!(e.path(), Some("text.content"));
    assert_eq!(parse_robot_payload(b"").unwrap_err().kind(), "syntax");
    assert_eq!(parse_robot_payload(b"{").unwrap_err().kind(), "syntax");
}

#[test]
fn targets_and_handles() {
    use crate::chat::ChatId;
    assert_eq!(Target::parse(&ChatId("zhangsan".into())).unwrap(), Target::User("zhangsan".into()));
    assert_eq!(Target::parse(&ChatId("party:2".into())).unwrap(), Target::Party("2".into()));
    assert_eq!(Target::parse(&ChatId("tag:5".into())).unwrap(), Target::Tag("5".into()));
    assert_eq!(Target::parse(&ChatId("appchat:wrk1".into())).unwrap(), Target::AppChat("wrk1".into()));
    for bad in ["", "a|b", "@all", "party:"] {
        assert!(matches!(Target::parse(&ChatId(bad.into())), Err(SendError::Rejected(_))), "{bad}");
    }
    assert_eq!(parse_card_handle("1456453720"), None);
    assert_eq!(parse_card_handle("task:"), None);
    assert_eq!(parse_card_handle("t-1:abc:def"), Some(("t-1", "abc:def")));
}
