//! `TelegramApi` against the fake Bot API server of the root crate's tests.

#[path = "../../tests/common/fake_telegram.rs"]
mod fake_telegram;

use std::time::{Duration, Instant};

use fake_telegram::{BOT_ID, BOT_USERNAME, Failure, FakeTelegram, TOKEN};
use serde_json::json;
use zhiban_integrations::chat::{Button, ChatEvent, ChatId, ChatKind, OutgoingText, SendError};
use zhiban_integrations::telegram::{BotIdentity, SECRET_HEADER, TelegramApi, parse_update, secret_matches};

fn api(tg: &FakeTelegram) -> TelegramApi {
    TelegramApi::new(TOKEN, &tg.url(), reqwest::Client::new()).unwrap()
}

fn chat(id: i64) -> ChatId {
    ChatId(id.to_string())
}

fn text(t: &str) -> OutgoingText {
    OutgoingText { text: t.to_string(), ..OutgoingText::default() }
}

fn button(label: &str, data: &str) -> Button {
    Button { label: label.to_string(), data: data.to_string() }
}

const GROUP: i64 = -1001987654321;

#[tokio::test]
async fn get_me_and_a_wrong_token() {
    let tg = FakeTelegram::start().await;
    assert_eq!(
        api(&tg).get_me().await.unwrap(),
        BotIdentity { id: BOT_ID, username: BOT_USERNAME.to_string() }
    );
    let wrong =
        TelegramApi::new("7000000001:AAHwrongTokenwrongTokenwrongToken_0", &tg.url(), reqwest::Client::new())
            .unwrap();
    let err = wrong.get_me().await.unwrap_err();
    assert!(matches!(err, SendError::Unauthorized(_)), "{err:?}");
    assert!(!err.to_string().contains("wrongToken"), "{err}");
    assert_eq!(tg.requests("getMe"), 2);
}

#[tokio::test]
async fn a_base_path_is_kept() {
    let tg = FakeTelegram::start().await;
    // The fake serves at its root: a base path must reach it as part of the URL, and then fail.
    let api = TelegramApi::new(TOKEN, &format!("{}/tg/", tg.url()), reqwest::Client::new()).unwrap();
    assert!(matches!(api.get_me().await, Err(SendError::Unauthorized(_))));
    assert_eq!(tg.requests("getMe"), 0);
}

#[tokio::test]
async fn send_edit_and_not_modified() {
    let tg = FakeTelegram::start().await;
    let api = api(&tg);
    let asked = tg.group_message(GROUP, "信息中心值班", 6000000001, "lisi_ops", "/oncall", None);
    let card = OutgoingText {
        text: "【一级】电子卷宗系统无法登录\n<b>不是标记</b>".into(),
        reply_to: Some(asked.to_string()),
        buttons: vec![
            vec![button("确认", "ack:A-0042"), button("升级", "esc:A-0042")],
            vec![button("详情", "show:A-0042")],
        ],
    };
    let id = api.send_text(&chat(GROUP), &card).await.unwrap();
    let sent = tg.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].message_id.to_string(), id);
    assert_eq!(sent[0].chat_id, GROUP);
    assert_eq!(sent[0].text, card.text);
    assert_eq!(sent[0].reply_to, Some(asked));
    assert_eq!(
        sent[0].buttons,
        vec![
            vec![
                ("确认".to_string(), "ack:A-0042".to_string()),
                ("升级".to_string(), "esc:A-0042".to_string())
            ],
            vec![("详情".to_string(), "show:A-0042".to_string())]
        ]
    );

    // A reply to a message that is gone is sent anyway.
    let orphan = OutgoingText { reply_to: Some("99999".into()), ..text("跟进") };
    api.send_text(&chat(GROUP), &orphan).await.unwrap();
    assert_eq!(tg.sent()[1].reply_to, None);

    let acked = OutgoingText {
        text: "【一级】电子卷宗系统无法登录\n已确认：李四".into(),
        reply_to: None,
        buttons: vec![],
    };
    api.edit_text(&chat(GROUP), &id, &acked).await.unwrap();
    assert_eq!(tg.sent()[0].text, acked.text);
    assert!(tg.sent()[0].buttons.is_empty());
    assert_eq!(tg.edits(GROUP, sent[0].message_id), 1);

    // The same content again: Telegram says "message is not modified", which is fine.
    api.edit_text(&chat(GROUP), &id, &acked).await.unwrap();
    assert_eq!(tg.edits(GROUP, sent[0].message_id), 1);
    assert_eq!(tg.requests("editMessageText"), 2);

    let missing = api.edit_text(&chat(GROUP), "424242", &acked).await.unwrap_err();
    assert!(
        matches!(missing, SendError::Rejected(ref t) if t.contains("message to edit not found")),
        "{missing:?}"
    );
    let users = api.edit_text(&chat(GROUP), &asked.to_string(), &acked).await.unwrap_err();
    assert!(matches!(users, SendError::Rejected(_)), "{users:?}");
    let long_data = OutgoingText { buttons: vec![vec![button("x", &"d".repeat(65))]], ..text("x") };
    assert!(matches!(api.send_text(&chat(GROUP), &long_data).await, Err(SendError::Rejected(_))));
    assert!(matches!(
        api.send_text(&ChatId("general".into()), &text("x")).await,
        Err(SendError::Rejected(_))
    ));
}

#[tokio::test]
async fn refusals() {
    let tg = FakeTelegram::start().await;
    let api = api(&tg);

    tg.fail_next("sendMessage", 1, Failure::TooManyRequests { retry_after: 7 });
    assert_eq!(
        api.send_text(&chat(GROUP), &text("a")).await,
        Err(SendError::RetryAfter(Duration::from_secs(7)))
    );
    api.send_text(&chat(GROUP), &text("a")).await.unwrap();

    tg.fail_chat(42, Failure::Blocked);
    let blocked = api.send_text(&chat(42), &text("b")).await.unwrap_err();
    assert_eq!(blocked, SendError::ChatGone("Forbidden: bot was blocked by the user".into()));
    tg.clear_chat(42);
    api.send_text(&chat(42), &text("b")).await.unwrap();

    tg.fail_next("sendMessage", 1, Failure::Kicked);
    assert!(matches!(api.send_text(&chat(GROUP), &text("c")).await, Err(SendError::ChatGone(_))));
    tg.fail_next("sendMessage", 1, Failure::ChatNotFound);
    assert!(matches!(api.send_text(&chat(GROUP), &text("c")).await, Err(SendError::ChatGone(_))));
    assert!(matches!(api.send_text(&chat(GROUP), &text("  ")).await, Err(SendError::Rejected(_))));
    // Too long for Telegram: cut to its limit rather than refused for good.
    api.send_text(&chat(GROUP), &text(&"长".repeat(4097))).await.unwrap();
    let last = tg.sent_to(GROUP).pop().unwrap();
    assert_eq!(last.text.chars().count(), 4096);
    assert!(last.text.ends_with('…'));
}

#[tokio::test]
async fn migration() {
    let tg = FakeTelegram::start().await;
    let api = api(&tg);
    let old = -599075523;
    let new = -1001555296434;
    tg.group_message(old, "值班", 6000000001, "lisi_ops", "hi", None);
    tg.migrate(old, new);
    assert_eq!(api.send_text(&chat(old), &text("x")).await, Err(SendError::ChatMigrated(chat(new))));
    api.send_text(&chat(new), &text("x")).await.unwrap();

    let updates = api.get_updates(None, Duration::ZERO, 100).await.unwrap();
    let migrations: Vec<_> =
        updates.iter().filter(|u| matches!(u.event, ChatEvent::ChatMigrated { .. })).collect();
    assert_eq!(migrations.len(), 2, "{updates:#?}");
    for m in migrations {
        assert_eq!(m.event, ChatEvent::ChatMigrated { from: chat(old), to: chat(new) });
    }
}

#[tokio::test]
async fn a_server_error_is_transient() {
    let tg = FakeTelegram::start().await;
    tg.fail_next("getMe", 1, Failure::ServerError);
    let started = Instant::now();
    let err = api(&tg).get_me().await.unwrap_err();
    assert_eq!(err, SendError::Transient("Internal Server Error".into()));
    // teloxide-core's own pause after a 5xx.
    assert!(started.elapsed() >= Duration::from_secs(9), "{:?}", started.elapsed());
}

#[tokio::test]
async fn group_rate_limit() {
    let tg = FakeTelegram::start().await;
    let api = api(&tg);
    tg.limit_group_rate(3);
    for i in 0..3 {
        api.send_text(&chat(GROUP), &text(&format!("{i}"))).await.unwrap();
    }
    match api.send_text(&chat(GROUP), &text("4")).await {
        Err(SendError::RetryAfter(d)) => {
            assert!(d > Duration::from_secs(55) && d <= Duration::from_secs(60), "{d:?}")
        }
        other => panic!("{other:?}"),
    }
    // Private chats are not limited.
    api.send_text(&chat(42), &text("5")).await.unwrap();
}

#[tokio::test]
async fn polling_confirms_with_the_offset() {
    let tg = FakeTelegram::start().await;
    let api = api(&tg);
    tg.user_message(42, 42, "zhangsan", "三", "/oncall");
    let card = api.send_text(&chat(GROUP), &text("【一级】告警 007")).await.unwrap();
    tg.group_message(GROUP, "信息中心值班", 6000000001, "", "/ack 007", card.parse().ok());
    tg.push_update(json!({ "message": { "message_id": 1 } })); // unreadable for teloxide
    tg.push_update(json!({ "edited_message": { "message_id": 1, "date": 1, "chat": { "id": 42, "type": "private" }, "text": "x" } }));

    let first = api.get_updates(None, Duration::ZERO, 2).await.unwrap();
    assert_eq!(first.len(), 2);
    let ChatEvent::Message(m) = &first[0].event else { panic!("{first:?}") };
    assert_eq!(
        (m.chat_kind, m.text.as_str(), m.from.username.as_deref()),
        (ChatKind::Private, "/oncall", Some("zhangsan"))
    );
    let ChatEvent::Message(g) = &first[1].event else { panic!("{first:?}") };
    assert_eq!(
        (g.chat_kind, g.reply_to.as_deref(), g.chat_title.as_deref()),
        (ChatKind::Group, Some(card.as_str()), Some("信息中心值班"))
    );
    assert_eq!(first[1].id, first[0].id + 1);

    // Not confirmed yet: the same again.
    assert_eq!(api.get_updates(None, Duration::ZERO, 2).await.unwrap(), first);

    // The edited message is not among our allowed updates: Telegram (and the fake) drop it.
    let rest = api.get_updates(Some(first[1].id + 1), Duration::ZERO, 100).await.unwrap();
    assert_eq!(rest.len(), 1, "{rest:#?}");
    assert_eq!(rest[0].id, first[1].id + 1);
    assert!(matches!(&rest[0].event, ChatEvent::Ignored { what } if what.contains("message")), "{rest:?}");

    assert!(api.get_updates(Some(rest[0].id + 1), Duration::ZERO, 100).await.unwrap().is_empty());
    assert!(tg.pending_updates().is_empty());
}

#[tokio::test]
async fn a_long_poll_waits_for_an_update_and_outlives_the_client_timeout() {
    let tg = FakeTelegram::start().await;
    // An ordinary client with a short timeout: the long poll must not use it.
    let http = reqwest::Client::builder().timeout(Duration::from_millis(800)).build().unwrap();
    let api = TelegramApi::new(TOKEN, &tg.url(), http).unwrap();

    let started = Instant::now();
    assert!(api.get_updates(None, Duration::from_secs(2), 100).await.unwrap().is_empty());
    assert!(started.elapsed() >= Duration::from_secs(2), "{:?}", started.elapsed());

    let poll = tokio::spawn({
        let api = api.clone();
        async move { api.get_updates(None, Duration::from_secs(10), 100).await }
    });
    tg.wait_requests("getUpdates", 2, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let press = tg.callback(6000000001, "lisi_ops", GROUP, 77, "ack:A-0042");
    let updates = poll.await.unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    let ChatEvent::Button(b) = &updates[0].event else { panic!("{updates:?}") };
    assert_eq!(
        (b.id.as_str(), b.data.as_str(), b.chat.clone(), b.message_id.as_deref()),
        (press.as_str(), "ack:A-0042", Some(chat(GROUP)), Some("77"))
    );

    api.answer_button(&press, Some("已确认")).await.unwrap();
    assert_eq!(tg.answered_callbacks(), vec![(press.clone(), Some("已确认".to_string()))]);
    assert!(matches!(api.answer_button(&press, None).await, Err(SendError::Rejected(_))));
    assert!(matches!(api.answer_button("nope", None).await, Err(SendError::Rejected(_))));
}

#[tokio::test]
async fn a_second_poller_ends_the_first() {
    let tg = FakeTelegram::start().await;
    let api = api(&tg);
    let first = tokio::spawn({
        let api = api.clone();
        async move { api.get_updates(None, Duration::from_secs(10), 100).await }
    });
    tg.wait_requests("getUpdates", 1, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = tokio::spawn({
        let api = api.clone();
        async move { api.get_updates(None, Duration::from_secs(1), 100).await }
    });
    let first = first.await.unwrap().unwrap_err();
    assert!(
        matches!(first, SendError::Transient(ref t) if t.contains("terminated by other getUpdates")),
        "{first:?}"
    );
    assert!(second.await.unwrap().unwrap().is_empty());
}

#[tokio::test]
async fn webhook_set_delivered_and_deleted() {
    use axum::http::{HeaderMap, StatusCode};
    use std::sync::{Arc, Mutex};

    let tg = FakeTelegram::start().await;
    let api = api(&tg);
    let received = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new().route(
        "/hooks/telegram",
        axum::routing::post({
            let received = received.clone();
            move |headers: HeaderMap, body: axum::body::Bytes| async move {
                if !secret_matches(headers.get(SECRET_HEADER).map(|v| v.as_bytes()), "s3cret_Token-1") {
                    return StatusCode::UNAUTHORIZED;
                }
                received.lock().unwrap().push(parse_update(&body).unwrap());
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hooks/telegram", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    api.set_webhook(&hook, "s3cret_Token-1").await.unwrap();
    assert_eq!(tg.webhook(), Some((hook.clone(), "s3cret_Token-1".to_string())));
    let conflict = api.get_updates(None, Duration::ZERO, 10).await.unwrap_err();
    assert!(
        matches!(conflict, SendError::Rejected(ref t) if t.contains("webhook is active")),
        "{conflict:?}"
    );

    tg.user_message(42, 42, "zhangsan", "三", "/oncall");
    tg.user_message(42, 42, "zhangsan", "三", "/status");
    let deadline = Instant::now() + Duration::from_secs(5);
    while received.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "{:?}", tg.deliveries());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let texts: Vec<String> = received
        .lock()
        .unwrap()
        .iter()
        .map(|u| match &u.event {
            ChatEvent::Message(m) => m.text.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(texts, ["/oncall", "/status"]);
    assert!(tg.pending_updates().is_empty());

    assert!(matches!(api.set_webhook(&hook, "with space").await, Err(SendError::Rejected(_))));
    api.delete_webhook().await.unwrap();
    assert_eq!(tg.webhook(), None);
    assert!(api.get_updates(None, Duration::ZERO, 10).await.unwrap().is_empty());
    server.abort();
}

#[tokio::test]
async fn downloads_with_a_size_limit() {
    let tg = FakeTelegram::start().await;
    let api = api(&tg);
    let jpeg: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let (_, photo) = tg.photo_message(42, 42, "zhangsan", "3号机柜", jpeg.clone());
    let (_, doc) = tg.document_message(
        GROUP,
        6000000001,
        "lisi_ops",
        "12月排班表.xlsx",
        "application/vnd.ms-excel",
        b"PK\x03\x04".to_vec(),
        None,
    );

    let updates = api.get_updates(None, Duration::ZERO, 100).await.unwrap();
    let ChatEvent::Message(m) = &updates[0].event else { panic!("{updates:?}") };
    assert_eq!(
        (m.text.as_str(), m.attachments[0].file_id.as_str(), m.attachments[0].size),
        ("3号机柜", photo.as_str(), Some(50_000))
    );
    let ChatEvent::Message(d) = &updates[1].event else { panic!("{updates:?}") };
    assert_eq!(d.attachments[0].file_name.as_deref(), Some("12月排班表.xlsx"));

    assert_eq!(api.download(&photo, 50_000).await.unwrap(), jpeg);
    assert_eq!(api.download(&doc, 1024).await.unwrap(), b"PK\x03\x04");
    let too_big = api.download(&photo, 49_999).await.unwrap_err();
    assert!(matches!(too_big, SendError::Rejected(ref t) if t.contains("50000")), "{too_big:?}");
    assert!(matches!(api.download("unknown", 10).await, Err(SendError::Rejected(_))));
}
