use std::time::Duration;

use teloxide_core::types::{ChatId as TgChatId, Seconds};
use teloxide_core::{ApiError, RequestError};

use super::api::{test_file_url, test_parse_api_url};
use super::*;
use crate::chat::{Attachment, ChatEvent, ChatId, ChatKind, SendError};

fn parse(json: &str) -> ChatUpdate {
    parse_update(json.as_bytes()).unwrap_or_else(|e| panic!("{e}: {json}"))
}

use crate::chat::ChatUpdate;

fn message(update: ChatUpdate) -> crate::chat::IncomingMessage {
    match update.event {
        ChatEvent::Message(m) => m,
        other => panic!("not a message: {other:?}"),
    }
}

#[test]
fn private_text_message() {
    let u = parse(
        r#"{"update_id":871234501,
            "message":{"message_id":1187,
              "from":{"id":5123456789,"is_bot":false,"first_name":"三","last_name":"张","username":"zhangsan","language_code":"zh-hans"},
              "chat":{"id":5123456789,"first_name":"三","last_name":"张","username":"zhangsan","type":"private"},
              "date":1764036000,"text":"/ack 20261125-007",
              "entities":[{"offset":0,"length":4,"type":"bot_command"}]}}"#,
    );
    assert_eq!(u.id, 871234501);
    let m = message(u);
    assert_eq!(m.chat, ChatId("5123456789".into()));
    assert_eq!(m.chat_kind, ChatKind::Private);
    assert_eq!(m.chat_title, None);
    assert_eq!(m.message_id, "1187");
    assert_eq!(m.from.id, "5123456789");
    assert_eq!(m.from.username.as_deref(), Some("zhangsan"));
    assert_eq!(m.from.display_name, "三 张");
    assert!(!m.from.is_bot);
    assert_eq!(m.text, "/ack 20261125-007");
    assert_eq!(m.reply_to, None);
    assert!(m.attachments.is_empty());
    assert_eq!(m.at, "2025-11-25T02:00:00Z".parse::<jiff::Timestamp>().unwrap());
}

#[test]
fn group_command_reply() {
    let m = message(parse(
        r#"{"update_id":871234502,
            "message":{"message_id":5521,
              "from":{"id":6000000001,"is_bot":false,"first_name":"李四","username":"lisi_ops"},
              "chat":{"id":-1001987654321,"title":"某某中院 信息中心值班","type":"supergroup"},
              "date":1764036100,
              "reply_to_message":{"message_id":5519,
                "from":{"id":7000000001,"is_bot":true,"first_name":"值班","username":"zhiban_bot"},
                "chat":{"id":-1001987654321,"title":"某某中院 信息中心值班","type":"supergroup"},
                "date":1764036000,"text":"【一级】电子卷宗系统无法登录",
                "reply_markup":{"inline_keyboard":[[{"text":"确认","callback_data":"ack:A-0042"}]]}},
              "text":"/ack@zhiban_bot 正在处理",
              "entities":[{"offset":0,"length":15,"type":"bot_command"}]}}"#,
    ));
    assert_eq!(m.chat, ChatId("-1001987654321".into()));
    assert_eq!(m.chat_kind, ChatKind::Group);
    assert_eq!(m.chat_title.as_deref(), Some("某某中院 信息中心值班"));
    assert_eq!(m.reply_to.as_deref(), Some("5519"));
    assert_eq!(m.from.display_name, "李四");
    assert_eq!(m.text, "/ack@zhiban_bot 正在处理");
}

#[test]
fn photo_with_caption() {
    let m = message(parse(
        r#"{"update_id":871234503,
            "message":{"message_id":5522,
              "from":{"id":6000000001,"is_bot":false,"first_name":"李四"},
              "chat":{"id":-4012345678,"title":"机房巡检","type":"group"},
              "date":1764036200,
              "photo":[
                {"file_id":"AgACAgUAAxkBAAIBsmbsmall","file_unique_id":"AQADs1","file_size":1374,"width":90,"height":67},
                {"file_id":"AgACAgUAAxkBAAIBsmblarge","file_unique_id":"AQADs3","file_size":98734,"width":1280,"height":960},
                {"file_id":"AgACAgUAAxkBAAIBsmbmedium","file_unique_id":"AQADs2","file_size":21890,"width":320,"height":240}],
              "caption":"3号机柜告警灯"}}"#,
    ));
    assert_eq!(m.chat_kind, ChatKind::Group);
    assert_eq!(m.text, "3号机柜告警灯");
    assert_eq!(
        m.attachments,
        vec![Attachment {
            file_id: "AgACAgUAAxkBAAIBsmblarge".into(),
            file_name: None,
            mime: Some("image/jpeg".into()),
            size: Some(98734),
        }]
    );
}

#[test]
fn document_without_caption() {
    let m = message(parse(
        r#"{"update_id":871234504,
            "message":{"message_id":1190,
              "from":{"id":5123456789,"is_bot":false,"first_name":"三","last_name":"张"},
              "chat":{"id":5123456789,"first_name":"三","type":"private"},
              "date":1764036300,
              "document":{"file_name":"12月排班表.xlsx","mime_type":"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "file_id":"BQACAgUAAxkBAAIBtGdoc","file_unique_id":"AgADdoc","file_size":18342}}}"#,
    ));
    assert_eq!(m.text, "");
    assert_eq!(
        m.attachments,
        vec![Attachment {
            file_id: "BQACAgUAAxkBAAIBtGdoc".into(),
            file_name: Some("12月排班表.xlsx".into()),
            mime: Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".into()),
            size: Some(18342),
        }]
    );
}

#[test]
fn callback_query() {
    let u = parse(
        r#"{"update_id":871234505,
            "callback_query":{"id":"4382000000000000001",
              "from":{"id":6000000001,"is_bot":false,"first_name":"李四","username":"lisi_ops","language_code":"zh-hans"},
              "message":{"message_id":5519,
                "from":{"id":7000000001,"is_bot":true,"first_name":"值班","username":"zhiban_bot"},
                "chat":{"id":-1001987654321,"title":"某某中院 信息中心值班","type":"supergroup"},
                "date":1764036000,"text":"【一级】电子卷宗系统无法登录",
                "reply_markup":{"inline_keyboard":[[{"text":"确认","callback_data":"ack:A-0042"}]]}},
              "chat_instance":"-5877000000000000000","data":"ack:A-0042"}}"#,
    );
    let ChatEvent::Button(b) = u.event else { panic!("{u:?}") };
    assert_eq!(b.id, "4382000000000000001");
    assert_eq!(b.from.id, "6000000001");
    assert_eq!(b.from.username.as_deref(), Some("lisi_ops"));
    assert_eq!(b.chat, Some(ChatId("-1001987654321".into())));
    assert_eq!(b.message_id.as_deref(), Some("5519"));
    assert_eq!(b.data, "ack:A-0042");
}

#[test]
fn callback_query_on_an_inaccessible_message() {
    let u = parse(
        r#"{"update_id":9,"callback_query":{"id":"77","from":{"id":1,"is_bot":false,"first_name":"A"},
            "message":{"message_id":12,"chat":{"id":-100777,"title":"g","type":"supergroup"},"date":0},
            "chat_instance":"1"}}"#,
    );
    let ChatEvent::Button(b) = u.event else { panic!("{u:?}") };
    assert_eq!(
        (b.chat, b.message_id.as_deref(), b.data.as_str()),
        (Some(ChatId("-100777".into())), Some("12"), "")
    );
}

#[test]
fn migration_service_messages() {
    let to = parse(
        r#"{"update_id":871234506,"message":{"message_id":16,
            "from":{"id":6000000001,"is_bot":false,"first_name":"李四"},
            "chat":{"id":-599075523,"title":"值班","type":"group","all_members_are_administrators":false},
            "date":1764036400,"migrate_to_chat_id":-1001555296434}}"#,
    );
    assert_eq!(
        to.event,
        ChatEvent::ChatMigrated { from: ChatId("-599075523".into()), to: ChatId("-1001555296434".into()) }
    );
    let from = parse(
        r#"{"update_id":871234507,"message":{"message_id":1,
            "from":{"id":1087968824,"is_bot":true,"first_name":"Group","username":"GroupAnonymousBot"},
            "sender_chat":{"id":-1001555296434,"title":"值班","type":"supergroup"},
            "chat":{"id":-1001555296434,"title":"值班","type":"supergroup"},
            "date":1764036400,"migrate_from_chat_id":-599075523}}"#,
    );
    assert_eq!(from.event, to.event);
}

#[test]
fn channel_post_speaks_as_the_channel() {
    let m = message(parse(
        r#"{"update_id":3,"channel_post":{"message_id":8,"sender_chat":{"id":-1002000000001,"title":"通报","type":"channel"},
            "chat":{"id":-1002000000001,"title":"通报","type":"channel","username":"tongbao"},"date":1764036000,"text":"演练"}}"#,
    ));
    assert_eq!(m.chat_kind, ChatKind::Group);
    assert_eq!(m.from.id, "-1002000000001");
    assert_eq!(m.from.display_name, "通报");
    assert_eq!(m.from.username.as_deref(), Some("tongbao"));
}

#[test]
fn ignored_updates() {
    let edited = parse(
        r#"{"update_id":871234508,"edited_message":{"message_id":1187,
            "from":{"id":5123456789,"is_bot":false,"first_name":"三"},
            "chat":{"id":5123456789,"first_name":"三","type":"private"},
            "date":1764036000,"edit_date":1764036060,"text":"/ack 20261125-008"}}"#,
    );
    assert_eq!(edited.id, 871234508);
    assert!(matches!(&edited.event, ChatEvent::Ignored { what } if what.contains("edit")), "{edited:?}");

    let joined = parse(
        r#"{"update_id":10,"message":{"message_id":2,"from":{"id":1,"is_bot":false,"first_name":"A"},
            "chat":{"id":-4012345678,"title":"机房巡检","type":"group"},"date":1764036000,
            "new_chat_members":[{"id":2,"is_bot":false,"first_name":"B"}],
            "new_chat_member":{"id":2,"is_bot":false,"first_name":"B"},
            "new_chat_participant":{"id":2,"is_bot":false,"first_name":"B"}}}"#,
    );
    assert!(matches!(joined.event, ChatEvent::Ignored { .. }), "{joined:?}");

    let member = parse(
        r#"{"update_id":11,"my_chat_member":{"chat":{"id":-4012345678,"title":"机房巡检","type":"group"},
            "from":{"id":1,"is_bot":false,"first_name":"A"},"date":1764036000,
            "old_chat_member":{"user":{"id":7000000001,"is_bot":true,"first_name":"值班","username":"zhiban_bot"},"status":"left"},
            "new_chat_member":{"user":{"id":7000000001,"is_bot":true,"first_name":"值班","username":"zhiban_bot"},"status":"member"}}}"#,
    );
    assert!(matches!(&member.event, ChatEvent::Ignored { what } if what.contains("member")), "{member:?}");

    // A kind from a future Bot API: kept with its id.
    let future = parse(r#"{"update_id":12,"holographic_call":{"id":"x"}}"#);
    assert_eq!(future.id, 12);
    assert!(
        matches!(&future.event, ChatEvent::Ignored { what } if what.contains("holographic_call")),
        "{future:?}"
    );
}

#[test]
fn garbage_is_an_error() {
    assert!(parse_update(b"").is_err());
    assert!(parse_update(b"not json").is_err());
    assert!(parse_update(br#"{"message":{"text":"no update id"}}"#).is_err());
    assert!(parse_update(b"[1,2]").is_err());
}

#[test]
fn secret_header() {
    assert!(secret_matches(Some(b"s3cret-Token_1"), "s3cret-Token_1"));
    assert!(!secret_matches(Some(b"s3cret-Token_2"), "s3cret-Token_1"));
    assert!(!secret_matches(Some(b"s3cret"), "s3cret-Token_1"));
    assert!(!secret_matches(Some(b""), "s3cret-Token_1"));
    assert!(!secret_matches(None, "s3cret-Token_1"));
    assert!(!secret_matches(Some(b""), ""));
    assert!(!secret_matches(None, ""));
}

/// An error answer as teloxide-core reads it from the wire.
fn api(description: &str) -> RequestError {
    let body = serde_json::json!({ "ok": false, "error_code": 400, "description": description });
    let error: ApiError = serde_json::from_value(body["description"].clone()).unwrap();
    RequestError::Api(error)
}

#[test]
fn error_mapping() {
    use SendError::*;
    let gone = |s: &str| ChatGone(s.to_string());
    let rejected = |s: &str| Rejected(s.to_string());
    let cases: Vec<(RequestError, SendError)> = vec![
        (RequestError::RetryAfter(Seconds::from_seconds(7)), RetryAfter(Duration::from_secs(7))),
        (RequestError::MigrateToChatId(TgChatId(-1001555296434)), ChatMigrated(ChatId("-1001555296434".into()))),
        (api("Forbidden: bot was blocked by the user"), gone("Forbidden: bot was blocked by the user")),
        (api("Forbidden: bot was kicked from the supergroup chat"), gone("Forbidden: bot was kicked from the supergroup chat")),
        (api("Forbidden: bot was kicked from the group chat"), gone("Forbidden: bot was kicked from the group chat")),
        (api("Forbidden: bot is not a member of the supergroup chat"), gone("Forbidden: bot is not a member of the supergroup chat")),
        (api("Forbidden: user is deactivated"), gone("Forbidden: user is deactivated")),
        (api("Forbidden: the group chat was deleted"), gone("Forbidden: the group chat was deleted")),
        (api("Forbidden: bot can't initiate conversation with a user"), gone("Forbidden: bot can't initiate conversation with a user")),
        (api("Bad Request: chat not found"), gone("Bad Request: chat not found")),
        (api("Bad Request: group is deactivated"), gone("Bad Request: group is deactivated")),
        (api("Bad Request: not enough rights to send text messages to the chat"), gone("Bad Request: not enough rights to send text messages to the chat")),
        (api("Bad Request: have no rights to send a message"), gone("Bad Request: have no rights to send a message")),
        (api("Unauthorized"), Unauthorized("Invalid bot token".into())),
        (api("Not Found"), Unauthorized("Invalid bot token".into())),
        (api("Bad Request: message is too long"), rejected("Bad Request: message is too long")),
        (api("Bad Request: BUTTON_DATA_INVALID"), rejected("Bad Request: BUTTON_DATA_INVALID")),
        (
            api("Bad Request: query is too old and response timeout expired or query id is invalid"),
            rejected("Bad Request: query is too old and response timeout expired or query id is invalid"),
        ),
        (api("Bad Request: query ID is invalid"), rejected("Bad Request: query ID is invalid")),
        (api("Bad Request: message to edit not found"), rejected("Bad Request: message to edit not found")),
        (api("Bad Request: file is too big"), rejected("Bad Request: file is too big")),
        (
            api("Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"),
            rejected("Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"),
        ),
        (
            api("Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"),
            Transient("Conflict: terminated by other getUpdates request; make sure that only one bot instance is running".into()),
        ),
        (api("Too Many Requests: retry after 12"), RetryAfter(Duration::from_secs(12))),
        (api("Internal Server Error"), Transient("Internal Server Error".into())),
        (api("Bad Gateway"), Transient("Bad Gateway".into())),
    ];
    for (error, expected) in cases {
        assert_eq!(map_request_error(&error), expected, "{error:?}");
    }
    let html = RequestError::InvalidJson {
        source: std::sync::Arc::new(serde_json::from_str::<serde_json::Value>("<html>").unwrap_err()),
        raw: "<html><head><title>502 Bad Gateway</title></head></html>".into(),
    };
    assert!(matches!(map_request_error(&html), Transient(t) if t.contains("502 Bad Gateway")));
    assert!(map_request_error(&api("Forbidden: bot was blocked by the user")).is_permanent());
}

#[test]
fn api_urls() {
    assert_eq!(test_parse_api_url("https://api.telegram.org").unwrap(), "https://api.telegram.org/");
    assert_eq!(test_parse_api_url("http://10.0.0.5:8081/tg/").unwrap(), "http://10.0.0.5:8081/tg");
    assert!(test_parse_api_url("api.telegram.org").is_err());
    assert!(test_parse_api_url("ftp://x/").is_err());
    assert!(test_parse_api_url("mailto:bot@example.org").is_err());
    assert_eq!(
        test_file_url("http://10.0.0.5:8081/tg", "123:ABC", "photos/file_3.jpg"),
        "http://10.0.0.5:8081/tg/file/bot123:ABC/photos/file_3.jpg"
    );
    assert_eq!(
        test_file_url("https://api.telegram.org", "123:ABC", "documents/file_9.xlsx"),
        "https://api.telegram.org/file/bot123:ABC/documents/file_9.xlsx"
    );
}

#[test]
fn new_refuses_bad_arguments() {
    let http = reqwest::Client::new();
    assert!(TelegramApi::new("", DEFAULT_API_URL, http.clone()).is_err());
    assert!(TelegramApi::new("12:ab/cd", DEFAULT_API_URL, http.clone()).is_err());
    assert!(TelegramApi::new("12:abcd", "not a url", http.clone()).is_err());
    let api = TelegramApi::new("123456:SECRET", "http://127.0.0.1:9/base", http).unwrap();
    let debug = format!("{api:?}");
    assert!(!debug.contains("SECRET") && debug.contains("/base"), "{debug}");
}
