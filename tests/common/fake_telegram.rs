//! A fake Telegram Bot API server for tests: an axum router on `127.0.0.1:0` that answers like
//! `api.telegram.org`, with controls to feed it updates, read what the bot sent and make it fail.
//!
//! Shared by the root crate's end-to-end tests (`tests/common`) and
//! `integrations/tests/telegram_fake.rs`, so it uses only axum 0.8, tokio, serde_json.
//!
//! ```ignore
//! let tg = FakeTelegram::start().await;
//! let api = TelegramApi::new(fake_telegram::TOKEN, &tg.url(), reqwest::Client::new())?;
//! tg.user_message(42, 42, "zhangsan", "三", "/oncall");
//! ```
//!
//! # Wire behaviour
//!
//! - Routes: `POST|GET /bot{token}/{method}` with the method matched case-insensitively (teloxide
//!   sends `GetMe`, `SendMessage`), and `GET /file/bot{token}/{file_path}` (the path's `/` may come
//!   as `%2F`, as teloxide's own download sends it). Parameters are read from the query string and
//!   from a JSON, `x-www-form-urlencoded` or `multipart/form-data` body (teloxide sends
//!   `setWebhook` and `sendPhoto` as multipart); form values holding JSON (`reply_markup`) are
//!   parsed.
//! - Answers are `{"ok":true,"result":…}` or `{"ok":false,"error_code":N,"description":"…"}`, with
//!   `"parameters":{"retry_after":N}` or `{"migrate_to_chat_id":N}` where Telegram sends them, and
//!   the HTTP status equal to `error_code`. Descriptions are Telegram's own texts.
//! - Only [`TOKEN`] is accepted: another token gets 401 `Unauthorized`; an unknown method or a path
//!   without `bot{token}` gets 404 `Not Found` (which teloxide reads as an invalid token, like on the
//!   real server).
//! - `getMe`: the bot [`BOT_ID`] / [`BOT_USERNAME`], with every field teloxide-core 0.13 requires.
//! - `getUpdates`: pending updates with `update_id >= offset`, at most `limit` (default 100); an
//!   `offset` confirms and drops every update below it for good (a negative offset keeps the last
//!   `-offset`). With `timeout` it waits up to that many seconds for an update to arrive. Updates of
//!   kinds outside `allowed_updates` (when given) are dropped, as Telegram never queues them. A newer
//!   `getUpdates` ends a waiting one with 409 `Conflict: terminated by other getUpdates request…`;
//!   while a webhook is set it answers 409 `Conflict: can't use getUpdates method while webhook is
//!   active…`.
//! - `setWebhook` (`url`, `secret_token`; an empty `url` removes it) / `deleteWebhook`
//!   (`drop_pending_updates`) / `getWebhookInfo`. Unlike Telegram, an `http://` URL is accepted, and
//!   the fake then **delivers** pending updates to it, one at a time and in order, as a JSON POST
//!   with `X-Telegram-Bot-Api-Secret-Token`; an update is dropped once answered 2xx, and retried
//!   every 200 ms otherwise. An `https://` URL is only recorded.
//! - `sendMessage`: message ids increase per chat (shared with the messages pushed by the test);
//!   stores the text, `reply_parameters.message_id` (or the old `reply_to_message_id`) and the
//!   inline keyboard; answers a full Message (`date`, `chat`, `from` the bot, `text`,
//!   `reply_to_message`, `reply_markup`). 400 `message text is empty`, `message is too long` (over
//!   4096 characters), `message to be replied not found` (unknown reply target without
//!   `allow_sending_without_reply`). Any chat id is accepted, seen before or not.
//! - `editMessageText`: updates a message the bot sent; 400 `message is not modified: …` when text
//!   and keyboard are unchanged, `message to edit not found`, `message can't be edited` (not the
//!   bot's). No `reply_markup` removes the keyboard, as on Telegram.
//! - `answerCallbackQuery`: for ids from [`FakeTelegram::callback`]; an unknown or already
//!   answered id gets 400 `query is too old and response timeout expired or query id is invalid`.
//! - `getFile` for files registered by the test (or uploaded with `sendPhoto`): `file_path` like
//!   `documents/file_3.xlsx`; 400 `invalid file_id`, `file is too big` (over 20 MB).
//! - `sendPhoto`: recorded ([`FakeTelegram::photos`]), minimal.
//!
//! # Faults
//!
//! [`FakeTelegram::fail_next`] fails the next `n` calls of a method; [`FakeTelegram::fail_chat`]
//! fails every `sendMessage`/`editMessageText`/`sendPhoto` to a chat until
//! [`FakeTelegram::clear_chat`]; [`FakeTelegram::limit_group_rate`] answers 429 with a true
//! `retry_after` when a group (negative id) gets more than N messages in a rolling minute.
//! [`FakeTelegram::migrate`] pushes both migration service messages and makes the old chat answer
//! `migrate_to_chat_id`.
//!
//! **teloxide-core sleeps 10 s after any 5xx answer** before returning the error, so a
//! [`Failure::ServerError`] costs the test 10 s.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

/// The only token the fake accepts. Its shape (`id:35+ characters`) lets teloxide hide it in errors.
pub const TOKEN: &str = "7000000001:AAHfakeTelegramTokenForZhibanTests_01";
pub const BOT_ID: i64 = 7000000001;
pub const BOT_USERNAME: &str = "zhiban_test_bot";
pub const BOT_NAME: &str = "值班机器人";
/// `getFile` refuses bigger files, like the public Bot API.
pub const MAX_GET_FILE: usize = 20 * 1024 * 1024;

const NOT_MODIFIED: &str = "Bad Request: message is not modified: specified new message content and reply markup \
    are exactly the same as a current content and reply markup of the message";
const QUERY_TOO_OLD: &str =
    "Bad Request: query is too old and response timeout expired or query id is invalid";

/// A way for the fake to refuse a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 429 `Too Many Requests: retry after N` with `parameters.retry_after`.
    TooManyRequests { retry_after: u32 },
    /// 500 `Internal Server Error` (teloxide waits 10 s before returning it).
    ServerError,
    /// 403 `Forbidden: bot was blocked by the user`.
    Blocked,
    /// 403 `Forbidden: bot was kicked from the supergroup chat`.
    Kicked,
    /// 400 `Bad Request: group chat was upgraded to a supergroup chat` with
    /// `parameters.migrate_to_chat_id`.
    Migrated { to: i64 },
    /// 400 `Bad Request: chat not found`.
    ChatNotFound,
    /// 400 with this description (write it as Telegram does: `Bad Request: …`).
    BadRequest(String),
}

/// A message the bot sent, as it stands now (edits applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub chat_id: i64,
    pub message_id: i64,
    pub text: String,
    pub reply_to: Option<i64>,
    /// Rows of `(label, callback_data)`.
    pub buttons: Vec<Vec<(String, String)>>,
}

/// A photo the bot sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentPhoto {
    pub chat_id: i64,
    pub message_id: i64,
    pub caption: Option<String>,
    /// The uploaded file's name, or the `file_id`/URL sent instead of a file.
    pub photo: String,
    pub bytes: usize,
}

/// A webhook delivery attempt: the update and the HTTP status (0 when the connection failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub update_id: i64,
    pub status: u16,
}

struct ApiFail {
    code: u16,
    description: String,
    parameters: Option<Value>,
}

impl ApiFail {
    fn new(code: u16, description: impl Into<String>) -> ApiFail {
        ApiFail { code, description: description.into(), parameters: None }
    }
    fn bad(description: &str) -> ApiFail {
        ApiFail::new(400, format!("Bad Request: {description}"))
    }
}

impl From<&Failure> for ApiFail {
    fn from(f: &Failure) -> ApiFail {
        match f {
            Failure::TooManyRequests { retry_after } => ApiFail {
                code: 429,
                description: format!("Too Many Requests: retry after {retry_after}"),
                parameters: Some(json!({ "retry_after": retry_after })),
            },
            Failure::ServerError => ApiFail::new(500, "Internal Server Error"),
            Failure::Blocked => ApiFail::new(403, "Forbidden: bot was blocked by the user"),
            Failure::Kicked => ApiFail::new(403, "Forbidden: bot was kicked from the supergroup chat"),
            Failure::Migrated { to } => ApiFail {
                code: 400,
                description: "Bad Request: group chat was upgraded to a supergroup chat".into(),
                parameters: Some(json!({ "migrate_to_chat_id": to })),
            },
            Failure::ChatNotFound => ApiFail::bad("chat not found"),
            Failure::BadRequest(d) => ApiFail::new(400, d.clone()),
        }
    }
}

struct Stored {
    by_bot: bool,
    from: Value,
    date: i64,
    text: Option<String>,
    /// Other fields of the message (`photo`, `caption`, `document`…).
    extra: Map<String, Value>,
    reply_to: Option<i64>,
    buttons: Vec<Vec<(String, String)>>,
    edit_date: Option<i64>,
}

struct FileEntry {
    unique_id: String,
    path: String,
    bytes: Arc<Vec<u8>>,
}

struct Webhook {
    url: String,
    secret: String,
}

#[derive(Default)]
struct Inner {
    next_update_id: i64,
    /// Pending updates, by ascending `update_id`.
    updates: VecDeque<Value>,
    poll_generation: u64,
    webhook: Option<Webhook>,
    deliveries: Vec<Delivery>,
    chats: HashMap<i64, Value>,
    next_message_id: HashMap<i64, i64>,
    messages: HashMap<(i64, i64), Stored>,
    sent_order: Vec<(i64, i64)>,
    edits: HashMap<(i64, i64), usize>,
    callbacks: HashMap<String, bool>,
    next_callback: u64,
    answered: Vec<(String, Option<String>)>,
    requests: HashMap<String, usize>,
    fail_next: HashMap<String, VecDeque<Failure>>,
    fail_chat: HashMap<i64, Failure>,
    group_rate: Option<usize>,
    group_sends: HashMap<i64, VecDeque<Instant>>,
    files: HashMap<String, FileEntry>,
    next_file: u64,
    photos: Vec<SentPhoto>,
}

struct Shared {
    inner: Mutex<Inner>,
    /// Bumped on every change a waiting `getUpdates` or the webhook deliverer cares about.
    changes: watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn changed(&self) {
        self.changes.send_modify(|v| *v += 1);
    }
}

/// A running fake Bot API server; stops when dropped.
pub struct FakeTelegram {
    url: String,
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl FakeTelegram {
    pub async fn start() -> FakeTelegram {
        let inner = Inner { next_update_id: 600_000_001, next_file: 1, next_callback: 1, ..Inner::default() };
        let (changes, _) = watch::channel(0);
        let shared = Arc::new(Shared { inner: Mutex::new(inner), changes });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake Telegram");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let deliverer = tokio::spawn(deliver_webhooks(shared.clone()));
        FakeTelegram { url, shared, tasks: vec![server, deliverer] }
    }

    /// The Bot API base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    pub fn token(&self) -> &'static str {
        TOKEN
    }

    // ---- updates -------------------------------------------------------------------------

    /// Queues an update; gives it the next `update_id` unless it has one. Returns the `update_id`.
    pub fn push_update(&self, mut update: Value) -> i64 {
        let id = {
            let mut inner = self.shared.lock();
            let id = match update.get("update_id").and_then(Value::as_i64) {
                Some(id) => id,
                None => {
                    let id = inner.next_update_id;
                    update["update_id"] = json!(id);
                    id
                }
            };
            inner.next_update_id = inner.next_update_id.max(id + 1);
            let at = inner.updates.iter().position(|u| u["update_id"].as_i64().unwrap_or(0) > id);
            match at {
                Some(at) => inner.updates.insert(at, update),
                None => inner.updates.push_back(update),
            }
            id
        };
        self.shared.changed();
        id
    }

    /// A text from a person in a private chat (`chat_id` is normally `user_id`). Returns the
    /// message id.
    pub fn user_message(
        &self,
        chat_id: i64,
        user_id: i64,
        username: &str,
        first_name: &str,
        text: &str,
    ) -> i64 {
        let from = user_json(user_id, username, first_name);
        let mut chat = json!({ "id": chat_id, "first_name": first_name, "type": "private" });
        if !username.is_empty() {
            chat["username"] = json!(username);
        }
        self.incoming(chat, from, Some(text), Map::new(), None)
    }

    /// A text in a group (`chat_id` ≤ -1000000000000 is a supergroup, other negative ids a basic
    /// group), optionally replying to a message of that chat. Returns the message id.
    pub fn group_message(
        &self,
        chat_id: i64,
        chat_title: &str,
        user_id: i64,
        username: &str,
        text: &str,
        reply_to: Option<i64>,
    ) -> i64 {
        let from = user_json(user_id, username, username);
        self.incoming(group_json(chat_id, chat_title), from, Some(text), Map::new(), reply_to)
    }

    /// A photo with a caption (in a private chat when `chat_id > 0`); registers `bytes` as the
    /// photo's largest size. Returns the message id and the largest size's `file_id`.
    pub fn photo_message(
        &self,
        chat_id: i64,
        user_id: i64,
        username: &str,
        caption: &str,
        bytes: Vec<u8>,
    ) -> (i64, String) {
        let size = bytes.len();
        let file_id = self.add_file("photos", "jpg", bytes);
        let unique = self.shared.lock().files[&file_id].unique_id.clone();
        let mut extra = Map::new();
        extra.insert(
            "photo".into(),
            json!([
                { "file_id": format!("{file_id}-thumb"), "file_unique_id": format!("{unique}-t"),
                  "file_size": size.min(1500), "width": 90, "height": 68 },
                { "file_id": file_id, "file_unique_id": unique, "file_size": size, "width": 1280, "height": 960 },
            ]),
        );
        if !caption.is_empty() {
            extra.insert("caption".into(), json!(caption));
        }
        let from = user_json(user_id, username, username);
        let id = self.incoming(self.chat_for(chat_id, username), from, None, extra, None);
        (id, file_id)
    }

    /// A document with an optional caption; registers `bytes`. Returns the message id and `file_id`.
    #[allow(clippy::too_many_arguments)]
    pub fn document_message(
        &self,
        chat_id: i64,
        user_id: i64,
        username: &str,
        file_name: &str,
        mime_type: &str,
        bytes: Vec<u8>,
        caption: Option<&str>,
    ) -> (i64, String) {
        let size = bytes.len();
        let ext = file_name.rsplit_once('.').map(|(_, e)| e).unwrap_or("bin");
        let file_id = self.add_file("documents", ext, bytes);
        let unique = self.shared.lock().files[&file_id].unique_id.clone();
        let mut extra = Map::new();
        extra.insert(
            "document".into(),
            json!({ "file_name": file_name, "mime_type": mime_type, "file_id": file_id,
                    "file_unique_id": unique, "file_size": size }),
        );
        if let Some(caption) = caption {
            extra.insert("caption".into(), json!(caption));
        }
        let from = user_json(user_id, username, username);
        let id = self.incoming(self.chat_for(chat_id, username), from, None, extra, None);
        (id, file_id)
    }

    /// A press on a button of message `message_id` in `chat_id`. The update carries that message
    /// as the fake knows it (or an inaccessible one). Returns the callback query id.
    pub fn callback(
        &self,
        user_id: i64,
        username: &str,
        chat_id: i64,
        message_id: i64,
        data: &str,
    ) -> String {
        let update = {
            let mut inner = self.shared.lock();
            let id = format!("{}{:06}", 4_382_000_000_000u64 + (BOT_ID as u64 % 1000), inner.next_callback);
            inner.next_callback += 1;
            inner.callbacks.insert(id.clone(), false);
            let message = if inner.messages.contains_key(&(chat_id, message_id)) {
                inner.message_json(chat_id, message_id, true)
            } else {
                json!({ "message_id": message_id, "chat": inner.chat_json(chat_id), "date": 0 })
            };
            json!({ "callback_query": {
                "id": id,
                "from": user_json(user_id, username, username),
                "message": message,
                "chat_instance": format!("-{}", 5_877_000_000_000_000_000u64 + chat_id.unsigned_abs() % 1_000_000),
                "data": data,
            }})
        };
        let id = update["callback_query"]["id"].as_str().unwrap_or_default().to_string();
        self.push_update(update);
        id
    }

    /// The group `old_chat` became the supergroup `new_chat`: pushes the service message in the old
    /// group (`migrate_to_chat_id`) and the one in the new supergroup (`migrate_from_chat_id`),
    /// and from now on sending to the old id answers `migrate_to_chat_id`.
    pub fn migrate(&self, old_chat: i64, new_chat: i64) {
        let (old_json, new_json) = {
            let mut inner = self.shared.lock();
            let title =
                inner.chats.get(&old_chat).and_then(|c| c["title"].as_str()).unwrap_or("group").to_string();
            let new_json = json!({ "id": new_chat, "title": title, "type": "supergroup" });
            inner.chats.insert(new_chat, new_json.clone());
            inner.fail_chat.insert(old_chat, Failure::Migrated { to: new_chat });
            (inner.chat_json(old_chat), new_json)
        };
        let mut to = Map::new();
        to.insert("migrate_to_chat_id".into(), json!(new_chat));
        self.incoming(old_json, user_json(6_000_000_001, "group_owner", "群主"), None, to, None);
        let mut from = Map::new();
        from.insert("migrate_from_chat_id".into(), json!(old_chat));
        from.insert("sender_chat".into(), new_json.clone());
        let anonymous = json!({ "id": 1087968824, "is_bot": true, "first_name": "Group", "username": "GroupAnonymousBot" });
        self.incoming(new_json, anonymous, None, from, None);
    }

    /// Registers a file for `getFile` and download; returns its `file_id`. `kind` is the folder of
    /// its `file_path` (`documents`, `photos`).
    pub fn add_file(&self, kind: &str, extension: &str, bytes: Vec<u8>) -> String {
        let mut inner = self.shared.lock();
        let n = inner.next_file;
        inner.next_file += 1;
        let file_id = format!("BQACAgUAAxkBAAI{n:04}fake{}", kind.len());
        let entry = FileEntry {
            unique_id: format!("AgAD{n:04}"),
            path: format!("{kind}/file_{n}.{extension}"),
            bytes: Arc::new(bytes),
        };
        inner.files.insert(file_id.clone(), entry);
        file_id
    }

    /// Updates not yet confirmed by an offset (or delivered to the webhook).
    pub fn pending_updates(&self) -> Vec<i64> {
        self.shared.lock().updates.iter().filter_map(|u| u["update_id"].as_i64()).collect()
    }

    // ---- what the bot did ----------------------------------------------------------------

    /// Every message the bot sent, in order, as it stands now.
    pub fn sent(&self) -> Vec<SentMessage> {
        let inner = self.shared.lock();
        inner
            .sent_order
            .iter()
            .map(|&(chat_id, message_id)| {
                let m = &inner.messages[&(chat_id, message_id)];
                SentMessage {
                    chat_id,
                    message_id,
                    text: m.text.clone().unwrap_or_default(),
                    reply_to: m.reply_to,
                    buttons: m.buttons.clone(),
                }
            })
            .collect()
    }

    /// The messages the bot sent to one chat.
    pub fn sent_to(&self, chat_id: i64) -> Vec<SentMessage> {
        self.sent().into_iter().filter(|m| m.chat_id == chat_id).collect()
    }

    /// Waits until the bot has sent at least `n` messages (panics after `timeout`).
    pub async fn wait_sent(&self, n: usize, timeout: Duration) -> Vec<SentMessage> {
        let deadline = Instant::now() + timeout;
        loop {
            let sent = self.sent();
            if sent.len() >= n {
                return sent;
            }
            assert!(
                Instant::now() < deadline,
                "the bot sent {} messages, not {n}, within {timeout:?}: {sent:#?}",
                sent.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `method` was called at least `n` times (panics after `timeout`).
    pub async fn wait_requests(&self, method: &str, n: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.requests(method) < n {
            assert!(Instant::now() < deadline, "{method} called {} times, not {n}", self.requests(method));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// How many successful edits a message had.
    pub fn edits(&self, chat_id: i64, message_id: i64) -> usize {
        self.shared.lock().edits.get(&(chat_id, message_id)).copied().unwrap_or(0)
    }

    /// Answered callback queries: `(id, text)`.
    pub fn answered_callbacks(&self) -> Vec<(String, Option<String>)> {
        self.shared.lock().answered.clone()
    }

    /// How many calls of a method arrived (any case, failed ones included).
    pub fn requests(&self, method: &str) -> usize {
        self.shared.lock().requests.get(&method.to_ascii_lowercase()).copied().unwrap_or(0)
    }

    pub fn photos(&self) -> Vec<SentPhoto> {
        self.shared.lock().photos.clone()
    }

    /// The webhook set: `(url, secret_token)`.
    pub fn webhook(&self) -> Option<(String, String)> {
        self.shared.lock().webhook.as_ref().map(|w| (w.url.clone(), w.secret.clone()))
    }

    /// Webhook delivery attempts, in order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.lock().deliveries.clone()
    }

    // ---- faults --------------------------------------------------------------------------

    /// The next `n` calls of `method` (any case) fail so.
    pub fn fail_next(&self, method: &str, n: usize, failure: Failure) {
        let mut inner = self.shared.lock();
        let queue = inner.fail_next.entry(method.to_ascii_lowercase()).or_default();
        queue.extend(std::iter::repeat_n(failure, n));
    }

    /// Every `sendMessage`, `editMessageText` and `sendPhoto` to `chat_id` fails so, until
    /// [`FakeTelegram::clear_chat`].
    pub fn fail_chat(&self, chat_id: i64, failure: Failure) {
        self.shared.lock().fail_chat.insert(chat_id, failure);
    }

    pub fn clear_chat(&self, chat_id: i64) {
        self.shared.lock().fail_chat.remove(&chat_id);
    }

    /// A group (negative chat id) takes at most `per_minute` messages in any 60 s; beyond, 429
    /// with `retry_after` = the seconds until the oldest of them is a minute old.
    pub fn limit_group_rate(&self, per_minute: usize) {
        self.shared.lock().group_rate = Some(per_minute);
    }

    // ---- helpers -------------------------------------------------------------------------

    fn chat_for(&self, chat_id: i64, username: &str) -> Value {
        if chat_id > 0 {
            json!({ "id": chat_id, "first_name": username, "type": "private" })
        } else {
            let known = self.shared.lock().chats.get(&chat_id).cloned();
            known.unwrap_or_else(|| group_json(chat_id, "group"))
        }
    }

    fn incoming(
        &self,
        chat: Value,
        from: Value,
        text: Option<&str>,
        extra: Map<String, Value>,
        reply_to: Option<i64>,
    ) -> i64 {
        let chat_id = chat["id"].as_i64().expect("chat id");
        let update = {
            let mut inner = self.shared.lock();
            inner.chats.insert(chat_id, chat);
            // A reply can only be to an earlier message of the same chat.
            let reply_to = reply_to.filter(|r| inner.messages.contains_key(&(chat_id, *r)));
            let message_id = inner.next_message_id(chat_id);
            let stored = Stored {
                by_bot: false,
                from,
                date: now(),
                text: text.map(str::to_string),
                extra,
                reply_to,
                buttons: Vec::new(),
                edit_date: None,
            };
            inner.messages.insert((chat_id, message_id), stored);
            json!({ "message": inner.message_json(chat_id, message_id, true) })
        };
        let message_id = update["message"]["message_id"].as_i64().unwrap_or_default();
        self.push_update(update);
        message_id
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn user_json(id: i64, username: &str, first_name: &str) -> Value {
    let mut user = json!({ "id": id, "is_bot": false, "first_name": first_name, "language_code": "zh-hans" });
    if !username.is_empty() {
        user["username"] = json!(username);
    }
    user
}

fn group_json(chat_id: i64, title: &str) -> Value {
    let kind = if chat_id <= -1_000_000_000_000 { "supergroup" } else { "group" };
    json!({ "id": chat_id, "title": title, "type": kind })
}

fn bot_json() -> Value {
    json!({ "id": BOT_ID, "is_bot": true, "first_name": BOT_NAME, "username": BOT_USERNAME })
}

impl Inner {
    fn next_message_id(&mut self, chat_id: i64) -> i64 {
        let next = self.next_message_id.entry(chat_id).or_insert(100);
        *next += 1;
        *next
    }

    fn chat_json(&self, chat_id: i64) -> Value {
        self.chats.get(&chat_id).cloned().unwrap_or_else(|| {
            if chat_id > 0 {
                json!({ "id": chat_id, "first_name": "user", "type": "private" })
            } else {
                group_json(chat_id, "group")
            }
        })
    }

    /// A stored message as Telegram shows it; with its `reply_to_message` (one level) when `nested`.
    fn message_json(&self, chat_id: i64, message_id: i64, nested: bool) -> Value {
        let Some(m) = self.messages.get(&(chat_id, message_id)) else {
            return json!({ "message_id": message_id, "chat": self.chat_json(chat_id), "date": 0 });
        };
        let mut out = Map::new();
        out.insert("message_id".into(), json!(message_id));
        out.insert("from".into(), m.from.clone());
        out.insert("chat".into(), self.chat_json(chat_id));
        out.insert("date".into(), json!(m.date));
        if let Some(edit_date) = m.edit_date {
            out.insert("edit_date".into(), json!(edit_date));
        }
        if let Some(reply_to) = m.reply_to
            && nested
            && self.messages.contains_key(&(chat_id, reply_to))
        {
            out.insert("reply_to_message".into(), self.message_json(chat_id, reply_to, false));
        }
        if let Some(text) = &m.text {
            out.insert("text".into(), json!(text));
        }
        for (k, v) in &m.extra {
            out.insert(k.clone(), v.clone());
        }
        if !m.buttons.is_empty() {
            out.insert("reply_markup".into(), keyboard_json(&m.buttons));
        }
        Value::Object(out)
    }

    fn check_chat(&self, chat_id: i64) -> Result<(), ApiFail> {
        match self.fail_chat.get(&chat_id) {
            Some(f) => Err(f.into()),
            None => Ok(()),
        }
    }

    fn check_rate(&mut self, chat_id: i64) -> Result<(), ApiFail> {
        let Some(limit) = self.group_rate else { return Ok(()) };
        if chat_id >= 0 {
            return Ok(());
        }
        let now = Instant::now();
        let sends = self.group_sends.entry(chat_id).or_default();
        while sends.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60)) {
            sends.pop_front();
        }
        if sends.len() >= limit {
            let oldest = *sends.front().expect("a send");
            let wait = Duration::from_secs(60).saturating_sub(now.duration_since(oldest));
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err((&Failure::TooManyRequests { retry_after: secs.max(1) as u32 }).into());
        }
        sends.push_back(now);
        Ok(())
    }

    fn send_message(&mut self, p: &Params) -> Result<Value, ApiFail> {
        let chat_id = p.chat_id()?;
        self.check_chat(chat_id)?;
        let text = p.str("text").unwrap_or_default();
        if text.trim().is_empty() {
            return Err(ApiFail::bad("message text is empty"));
        }
        if text.chars().count() > 4096 {
            return Err(ApiFail::bad("message is too long"));
        }
        let (reply_to, allow_without) = p.reply_to();
        let reply_to = match reply_to {
            Some(id) if !self.messages.contains_key(&(chat_id, id)) => {
                if allow_without {
                    None
                } else {
                    return Err(ApiFail::bad("message to be replied not found"));
                }
            }
            other => other,
        };
        let buttons = p.buttons()?;
        self.check_rate(chat_id)?;
        let message_id = self.next_message_id(chat_id);
        let stored = Stored {
            by_bot: true,
            from: bot_json(),
            date: now(),
            text: Some(text),
            extra: Map::new(),
            reply_to,
            buttons,
            edit_date: None,
        };
        self.messages.insert((chat_id, message_id), stored);
        self.sent_order.push((chat_id, message_id));
        Ok(self.message_json(chat_id, message_id, true))
    }

    fn edit_message_text(&mut self, p: &Params) -> Result<Value, ApiFail> {
        if p.str("inline_message_id").is_some() {
            return Err(ApiFail::bad("the fake does not keep inline messages"));
        }
        let chat_id = p.chat_id()?;
        let message_id =
            p.int("message_id").ok_or_else(|| ApiFail::bad("message identifier is not specified"))?;
        self.check_chat(chat_id)?;
        let text = p.str("text").unwrap_or_default();
        if text.trim().is_empty() {
            return Err(ApiFail::bad("message text is empty"));
        }
        if text.chars().count() > 4096 {
            return Err(ApiFail::bad("MESSAGE_TOO_LONG"));
        }
        let buttons = p.buttons()?;
        let m = self
            .messages
            .get_mut(&(chat_id, message_id))
            .ok_or_else(|| ApiFail::bad("message to edit not found"))?;
        if !m.by_bot {
            return Err(ApiFail::bad("message can't be edited"));
        }
        if m.text.as_deref() == Some(text.as_str()) && m.buttons == buttons {
            return Err(ApiFail::new(400, NOT_MODIFIED));
        }
        m.text = Some(text);
        m.buttons = buttons;
        m.edit_date = Some(now());
        *self.edits.entry((chat_id, message_id)).or_default() += 1;
        Ok(self.message_json(chat_id, message_id, true))
    }

    fn answer_callback_query(&mut self, p: &Params) -> Result<Value, ApiFail> {
        let id = p.str("callback_query_id").unwrap_or_default();
        match self.callbacks.get_mut(&id) {
            Some(answered) if !*answered => {
                *answered = true;
                let text = p.str("text");
                if text.as_ref().is_some_and(|t| t.chars().count() > 200) {
                    return Err(ApiFail::bad("MESSAGE_TOO_LONG"));
                }
                self.answered.push((id, text));
                Ok(json!(true))
            }
            _ => Err(ApiFail::new(400, QUERY_TOO_OLD)),
        }
    }

    fn get_file(&self, p: &Params) -> Result<Value, ApiFail> {
        let id = p.str("file_id").unwrap_or_default();
        let file = self.files.get(&id).ok_or_else(|| ApiFail::bad("invalid file_id"))?;
        if file.bytes.len() > MAX_GET_FILE {
            return Err(ApiFail::bad("file is too big"));
        }
        Ok(json!({ "file_id": id, "file_unique_id": file.unique_id, "file_size": file.bytes.len(),
                   "file_path": file.path }))
    }

    fn send_photo(&mut self, p: &Params) -> Result<Value, ApiFail> {
        let chat_id = p.chat_id()?;
        self.check_chat(chat_id)?;
        let (photo, bytes) = match (p.files.get("photo"), p.str("photo")) {
            (Some((name, bytes)), _) => (name.clone().unwrap_or_else(|| "photo".into()), bytes.clone()),
            (None, Some(id_or_url)) => {
                let bytes = self.files.get(&id_or_url).map(|f| f.bytes.to_vec()).unwrap_or_default();
                (id_or_url, bytes)
            }
            (None, None) => return Err(ApiFail::bad("there is no photo in the request")),
        };
        self.check_rate(chat_id)?;
        let caption = p.str("caption");
        let n = self.next_file;
        self.next_file += 1;
        let file_id = format!("AgACAgUAAxkBAAI{n:04}sent");
        let size = bytes.len();
        self.files.insert(
            file_id.clone(),
            FileEntry {
                unique_id: format!("AQAD{n:04}"),
                path: format!("photos/file_{n}.jpg"),
                bytes: Arc::new(bytes),
            },
        );
        let message_id = self.next_message_id(chat_id);
        let mut extra = Map::new();
        extra.insert(
            "photo".into(),
            json!([{ "file_id": file_id, "file_unique_id": format!("AQAD{n:04}"), "file_size": size,
                     "width": 1280, "height": 960 }]),
        );
        if let Some(caption) = &caption {
            extra.insert("caption".into(), json!(caption));
        }
        let stored = Stored {
            by_bot: true,
            from: bot_json(),
            date: now(),
            text: None,
            extra,
            reply_to: None,
            buttons: p.buttons()?,
            edit_date: None,
        };
        self.messages.insert((chat_id, message_id), stored);
        self.photos.push(SentPhoto { chat_id, message_id, caption, photo, bytes: size });
        Ok(self.message_json(chat_id, message_id, true))
    }

    fn set_webhook(&mut self, p: &Params) -> Result<Value, ApiFail> {
        let url = p.str("url").unwrap_or_default();
        if url.is_empty() {
            self.webhook = None;
            return Ok(json!(true));
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ApiFail::bad("bad webhook: An HTTPS URL must be provided for webhook"));
        }
        let secret = p.str("secret_token").unwrap_or_default();
        if secret.len() > 256 || !secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(ApiFail::bad("secret token contains unallowed characters"));
        }
        if p.bool("drop_pending_updates") {
            self.updates.clear();
        }
        self.webhook = Some(Webhook { url, secret });
        Ok(json!(true))
    }
}

fn keyboard_json(rows: &[Vec<(String, String)>]) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|row| Value::Array(row.iter().map(|(t, d)| json!({ "text": t, "callback_data": d })).collect()))
        .collect();
    json!({ "inline_keyboard": rows })
}

/// The kind of an update: its one key besides `update_id`.
fn update_kind(update: &Value) -> Option<&str> {
    update.as_object()?.keys().map(String::as_str).find(|k| *k != "update_id")
}

// ---- HTTP ------------------------------------------------------------------------------------

/// A request's parameters, from the query string and the body.
#[derive(Default)]
struct Params {
    fields: Map<String, Value>,
    /// Multipart file parts: name → (file name, bytes).
    files: HashMap<String, (Option<String>, Vec<u8>)>,
}

impl Params {
    fn parse(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<Params, ApiFail> {
        let mut p = Params::default();
        if let Some(query) = uri.query() {
            for (k, v) in parse_urlencoded(query) {
                p.fields.insert(k, Value::String(v));
            }
        }
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if body.is_empty() {
            return Ok(p);
        }
        match essence.as_str() {
            "application/json" => match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(map)) => p.fields.extend(map),
                _ => return Err(ApiFail::bad("can't parse JSON object")),
            },
            "application/x-www-form-urlencoded" => {
                for (k, v) in parse_urlencoded(&String::from_utf8_lossy(body)) {
                    p.fields.insert(k, Value::String(v));
                }
            }
            "multipart/form-data" => {
                let boundary = content_type
                    .split(';')
                    .filter_map(|s| s.trim().strip_prefix("boundary="))
                    .next()
                    .map(|b| b.trim_matches('"').to_string())
                    .ok_or_else(|| ApiFail::bad("multipart without a boundary"))?;
                for part in parse_multipart(body, &boundary) {
                    match part.file_name {
                        Some(_) => {
                            p.files.insert(part.name, (part.file_name, part.data));
                        }
                        None => {
                            let text = String::from_utf8_lossy(&part.data).into_owned();
                            p.fields.insert(part.name, Value::String(text));
                        }
                    }
                }
            }
            _ => return Err(ApiFail::bad(&format!("unsupported content type {content_type:?}"))),
        }
        Ok(p)
    }

    fn str(&self, key: &str) -> Option<String> {
        match self.fields.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    fn int(&self, key: &str) -> Option<i64> {
        match self.fields.get(key)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn bool(&self, key: &str) -> bool {
        match self.fields.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true" || s == "1",
            _ => false,
        }
    }

    /// A field holding JSON: an object/array in a JSON body, or text in a form.
    fn json(&self, key: &str) -> Option<Value> {
        match self.fields.get(key)? {
            Value::String(s) => serde_json::from_str(s).ok(),
            Value::Null => None,
            other => Some(other.clone()),
        }
    }

    fn chat_id(&self) -> Result<i64, ApiFail> {
        match self.fields.get("chat_id") {
            None | Some(Value::Null) => Err(ApiFail::bad("chat_id is empty")),
            Some(_) => self.int("chat_id").ok_or_else(|| ApiFail::bad("chat not found")),
        }
    }

    /// `(reply_to, allow_sending_without_reply)`.
    fn reply_to(&self) -> (Option<i64>, bool) {
        if let Some(rp) = self.json("reply_parameters") {
            let id = rp["message_id"].as_i64();
            return (id, rp["allow_sending_without_reply"].as_bool().unwrap_or(false));
        }
        (self.int("reply_to_message_id"), self.bool("allow_sending_without_reply"))
    }

    fn buttons(&self) -> Result<Vec<Vec<(String, String)>>, ApiFail> {
        let Some(markup) = self.json("reply_markup") else { return Ok(Vec::new()) };
        let Some(rows) = markup.get("inline_keyboard") else { return Ok(Vec::new()) };
        let rows = rows.as_array().ok_or_else(|| ApiFail::bad("can't parse inline keyboard"))?;
        let mut out = Vec::new();
        for row in rows {
            let row = row.as_array().ok_or_else(|| ApiFail::bad("can't parse inline keyboard row"))?;
            let mut buttons = Vec::new();
            for b in row {
                let text = b["text"].as_str().unwrap_or_default();
                let Some(data) = b["callback_data"].as_str() else {
                    return Err(ApiFail::bad("the fake only knows callback buttons"));
                };
                if data.is_empty() || data.len() > 64 {
                    return Err(ApiFail::bad("BUTTON_DATA_INVALID"));
                }
                buttons.push((text.to_string(), data.to_string()));
            }
            out.push(buttons);
        }
        Ok(out)
    }
}

struct Part {
    name: String,
    file_name: Option<String>,
    data: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > haystack.len() {
        return None;
    }
    haystack[from..].windows(needle.len()).position(|w| w == needle).map(|i| i + from)
}

fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let Some(mut at) = find(body, &delimiter, 0) else { return parts };
    loop {
        let start = at + delimiter.len();
        if body[start..].starts_with(b"--") {
            break;
        }
        let Some(next) = find(body, &delimiter, start) else { break };
        let mut part = &body[start..next];
        part = part.strip_prefix(b"\r\n").unwrap_or(part);
        part = part.strip_suffix(b"\r\n").unwrap_or(part);
        if let Some(split) = find(part, b"\r\n\r\n", 0) {
            let head = String::from_utf8_lossy(&part[..split]);
            let data = part[split + 4..].to_vec();
            let mut name = None;
            let mut file_name = None;
            for line in head.lines() {
                if line.to_ascii_lowercase().starts_with("content-disposition:") {
                    name = disposition_param(line, "name");
                    file_name = disposition_param(line, "filename");
                }
            }
            if let Some(name) = name {
                parts.push(Part { name, file_name, data });
            }
        }
        at = next;
    }
    parts
}

fn disposition_param(line: &str, key: &str) -> Option<String> {
    line.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match bytes[i] {
            b'%' if i + 2 < bytes.len() => hex(bytes[i + 1]).zip(hex(bytes[i + 2])).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(if plus_is_space && bytes[i] == b'+' { b' ' } else { bytes[i] });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_urlencoded(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

fn answer(result: Result<Value, ApiFail>) -> Response {
    match result {
        Ok(result) => (StatusCode::OK, axum::Json(json!({ "ok": true, "result": result }))).into_response(),
        Err(fail) => {
            let mut body = json!({ "ok": false, "error_code": fail.code, "description": fail.description });
            if let Some(parameters) = fail.parameters {
                body["parameters"] = parameters;
            }
            let status = StatusCode::from_u16(fail.code).unwrap_or(StatusCode::BAD_REQUEST);
            (status, axum::Json(body)).into_response()
        }
    }
}

async fn handle(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let segments: Vec<String> =
        uri.path().trim_start_matches('/').split('/').map(|s| percent_decode(s, false)).collect();
    match segments.as_slice() {
        [file, bot, rest @ ..] if file == "file" && bot.starts_with("bot") && !rest.is_empty() => {
            if &bot[3..] != TOKEN {
                return (StatusCode::NOT_FOUND, "Not Found").into_response();
            }
            let path = rest.join("/");
            let bytes = shared.lock().files.values().find(|f| f.path == path).map(|f| f.bytes.clone());
            match bytes {
                Some(bytes) => {
                    (StatusCode::OK, [(header::CONTENT_TYPE, "application/octet-stream")], bytes.to_vec())
                        .into_response()
                }
                None => (StatusCode::NOT_FOUND, "Not Found").into_response(),
            }
        }
        [bot, method] if bot.starts_with("bot") => {
            let method = method.to_ascii_lowercase();
            *shared.lock().requests.entry(method.clone()).or_default() += 1;
            if &bot[3..] != TOKEN {
                return answer(Err(ApiFail::new(401, "Unauthorized")));
            }
            let failure = shared.lock().fail_next.get_mut(&method).and_then(VecDeque::pop_front);
            if let Some(failure) = failure {
                return answer(Err((&failure).into()));
            }
            let params = match Params::parse(&uri, &headers, &body) {
                Ok(p) => p,
                Err(fail) => return answer(Err(fail)),
            };
            answer(call(&shared, &method, &params).await)
        }
        _ => answer(Err(ApiFail::new(404, "Not Found"))),
    }
}

async fn call(shared: &Arc<Shared>, method: &str, p: &Params) -> Result<Value, ApiFail> {
    let result = match method {
        "getupdates" => return get_updates(shared, p).await,
        "getme" => Ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": BOT_NAME, "username": BOT_USERNAME,
            "can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false,
            "can_connect_to_business": false, "has_main_web_app": false,
        })),
        "sendmessage" => shared.lock().send_message(p),
        "editmessagetext" => shared.lock().edit_message_text(p),
        "answercallbackquery" => shared.lock().answer_callback_query(p),
        "getfile" => shared.lock().get_file(p),
        "sendphoto" => shared.lock().send_photo(p),
        "setwebhook" => shared.lock().set_webhook(p),
        "deletewebhook" => {
            let mut inner = shared.lock();
            inner.webhook = None;
            if p.bool("drop_pending_updates") {
                inner.updates.clear();
            }
            Ok(json!(true))
        }
        "getwebhookinfo" => {
            let inner = shared.lock();
            let url = inner.webhook.as_ref().map(|w| w.url.clone()).unwrap_or_default();
            Ok(
                json!({ "url": url, "has_custom_certificate": false, "pending_update_count": inner.updates.len() }),
            )
        }
        _ => Err(ApiFail::new(404, "Not Found")),
    };
    // A webhook change or a drop of pending updates wakes pollers and the deliverer.
    shared.changed();
    result
}

async fn get_updates(shared: &Arc<Shared>, p: &Params) -> Result<Value, ApiFail> {
    const WEBHOOK_ACTIVE: &str = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";
    const TERMINATED: &str =
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";
    let offset = p.int("offset");
    let limit = p.int("limit").filter(|l| (1..=100).contains(l)).unwrap_or(100) as usize;
    let timeout = Duration::from_secs(p.int("timeout").unwrap_or(0).max(0) as u64);
    let allowed: Option<Vec<String>> = p.json("allowed_updates").and_then(|v| {
        let list: Vec<String> = v.as_array()?.iter().filter_map(|s| s.as_str().map(str::to_string)).collect();
        (!list.is_empty()).then_some(list)
    });
    let generation = {
        let mut inner = shared.lock();
        if inner.webhook.is_some() {
            return Err(ApiFail::new(409, WEBHOOK_ACTIVE));
        }
        inner.poll_generation += 1;
        inner.poll_generation
    };
    shared.changed();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let mut changes = shared.changes.subscribe();
        {
            let mut inner = shared.lock();
            if inner.poll_generation != generation {
                return Err(ApiFail::new(409, TERMINATED));
            }
            if inner.webhook.is_some() {
                return Err(ApiFail::new(409, WEBHOOK_ACTIVE));
            }
            match offset {
                Some(offset) if offset < 0 => {
                    let keep = offset.unsigned_abs() as usize;
                    while inner.updates.len() > keep {
                        inner.updates.pop_front();
                    }
                }
                Some(offset) => {
                    inner.updates.retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
                }
                None => {}
            }
            if let Some(allowed) = &allowed {
                inner.updates.retain(|u| update_kind(u).is_some_and(|k| allowed.iter().any(|a| a == k)));
            }
            let batch: Vec<Value> = inner.updates.iter().take(limit).cloned().collect();
            if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(Value::Array(batch));
            }
        }
        if tokio::time::timeout_at(deadline, changes.changed()).await.is_err() {
            // One last look, then an empty answer.
            continue;
        }
    }
}

// ---- webhook delivery ------------------------------------------------------------------------

async fn deliver_webhooks(shared: Arc<Shared>) {
    loop {
        let mut changes = shared.changes.subscribe();
        let next = {
            let inner = shared.lock();
            match (&inner.webhook, inner.updates.front()) {
                (Some(w), Some(u)) if w.url.starts_with("http://") => {
                    Some((w.url.clone(), w.secret.clone(), u.clone()))
                }
                _ => None,
            }
        };
        let Some((url, secret, update)) = next else {
            let _ = tokio::time::timeout(Duration::from_millis(500), changes.changed()).await;
            continue;
        };
        let update_id = update["update_id"].as_i64().unwrap_or_default();
        let status = post_json(&url, &secret, update.to_string().as_bytes()).await.unwrap_or(0);
        let delivered = (200..300).contains(&status);
        {
            let mut inner = shared.lock();
            inner.deliveries.push(Delivery { update_id, status });
            if delivered && inner.updates.front().and_then(|u| u["update_id"].as_i64()) == Some(update_id) {
                inner.updates.pop_front();
            }
        }
        if !delivered {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A bare HTTP/1.1 POST (the fake has no HTTP client); returns the status.
async fn post_json(url: &str, secret: &str, body: &[u8]) -> Option<u16> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let address = if authority.contains(':') { authority.to_string() } else { format!("{authority}:80") };
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        if !secret.is_empty() {
            head.push_str(&format!("X-Telegram-Bot-Api-Secret-Token: {secret}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await.ok()?;
        stream.write_all(body).await.ok()?;
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response).await;
        let status_line = String::from_utf8_lossy(&response).lines().next()?.to_string();
        status_line.split_whitespace().nth(1)?.parse().ok()
    };
    tokio::time::timeout(Duration::from_secs(10), exchange).await.ok().flatten()
}
