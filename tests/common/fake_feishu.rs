//! A fake Feishu open platform for tests: an axum router on `127.0.0.1:0` that answers like
//! `open.feishu.cn` for what zhiban uses, records what was sent, and fails on demand.
//!
//! Shared by the root crate's end-to-end tests (`tests/common`) and
//! `integrations/tests/feishu_fake.rs`, so it uses only axum 0.8, tokio, serde_json and std — the
//! custom bot signature is checked with a small SHA-256/HMAC/base64 of its own (an implementation
//! independent of the one under test).
//!
//! ```ignore
//! let fs = FakeFeishu::start().await;
//! let settings = FeishuSettings { api_base: fs.url(), app_id: APP_ID.into(), app_secret: APP_SECRET.into() };
//! let robot = Robot::new(fs.hook_url(SIGNED_HOOK), Some(HOOK_SECRET.into()));
//! ```
//!
//! # Wire behaviour
//!
//! Answers are `{"code":0,"msg":"success","data":{…}}` or `{"code":N,"msg":"…"}` with HTTP 400
//! (the `im/v1` error tables), like Feishu.
//!
//! - `POST /open-apis/auth/v3/tenant_access_token/internal` with `{app_id, app_secret}`: only
//!   [`APP_ID`]/[`APP_SECRET`] (else `10014 app secret invalid`); answers
//!   `{"code":0,"msg":"ok","tenant_access_token":"t-…","expire":N}` with a new token each time,
//!   valid `N` seconds ([`FakeFeishu::set_token_lifetime`], default 7200).
//! - Every `im/v1` call needs `Authorization: Bearer <token>`: none → `99991661`; unknown, expired
//!   or forgotten ([`FakeFeishu::expire_tokens`]) → `99991663 Invalid access token for
//!   authorization…`.
//! - `POST /open-apis/im/v1/messages?receive_id_type=open_id|user_id|union_id|email|chat_id` with
//!   `{receive_id, msg_type, content}`: `content` must be a JSON **string** holding an object;
//!   `text` needs a non-empty `text`, `interactive` a card with `elements` (or `body.elements`);
//!   text over 150 KB / cards over 30 KB → `230025`; other msg types → `230001`. Message ids are
//!   `om_fake_N`; a person's messages go to the chat `oc_p2p_<receive_id>`.
//! - `POST /open-apis/im/v1/messages/:id/reply` with `{msg_type, content}`: in the chat of `:id`;
//!   unknown id → `230001`; recalled ([`FakeFeishu::recall`]) → `230011 The message is recalled.`
//! - `PATCH /open-apis/im/v1/messages/:id` with `{content}` (a card): only the bot's cards
//!   (`230054` for other types, `230001` unknown id, `230011` recalled).
//! - `PUT /open-apis/im/v1/messages/:id` with `{msg_type, content}`: only the bot's text/post, 20
//!   edits at most (`230072`).
//! - `POST /open-apis/bot/v2/hook/:hook` (custom bots, see [`FakeFeishu::add_hook`]): unknown
//!   hook → `19001 param invalid: incoming webhook access token invalid`; a signed hook checks
//!   `timestamp`/`sign` in the body (HMAC-SHA256 keyed by `"{timestamp}\n{secret}"` over nothing,
//!   within an hour) → `19021 sign match fail or timestamp is not within one hour from current
//!   time`; bodies over 20 KB → `9499 Bad Request`; more than [`FakeFeishu::limit_hook_rate`]
//!   posts in a rolling minute → `11232 frequency limited`. Custom bot answers are HTTP 200;
//!   success is `{"code":0,"msg":"success","data":{},"Extra":null,"StatusCode":0,"StatusMessage":"success"}`.
//!
//! # Faults
//!
//! [`FakeFeishu::fail_next`] fails the next `n` calls of a route (`"token"`, `"send"`,
//! `"reply"`, `"patch"`, `"put"`, `"hook"`); [`FakeFeishu::fail_receiver`] fails every send to a
//! `receive_id` until [`FakeFeishu::clear_receiver`].
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const APP_ID: &str = "cli_a1b2c3d4e5f6a7b8";
pub const APP_SECRET: &str = "fakeFeishuAppSecret0123456789abcd";
pub const TENANT_KEY: &str = "736588c9260f175d";
/// A custom bot without a signature.
pub const HOOK: &str = "0f6d9c44-7b1e-4a51-9a7e-unsignedhook01";
/// A custom bot with signature check, and its secret.
pub const SIGNED_HOOK: &str = "5d2c1b0a-3e4f-4a6b-8c7d-signedhook0001";
pub const HOOK_SECRET: &str = "fakeHookSecret0001";

/// A parsed `content`: the JSON, its text, its buttons.
type Content = (Value, String, Vec<Vec<(String, String)>>);

const MAX_TEXT: usize = 150 * 1024;
const MAX_CARD: usize = 30 * 1024;
const MAX_HOOK_BODY: usize = 20 * 1024;

/// A way for the fake to refuse a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// `99991663 Invalid access token for authorization` (as for an expired token).
    TokenInvalid,
    /// `230020 This operation triggers the frequency limit.` (per chat).
    ChatRateLimited,
    /// HTTP 429 `99991400 request trigger frequency limit` with `x-ogw-ratelimit-reset: N`.
    AppRateLimited { reset_secs: u32 },
    /// `230013 Bot has NO availability to this user.`
    UserNotVisible,
    /// `230002 The bot can not be outside the group.`
    BotNotInChat,
    /// HTTP 500 with an HTML page.
    ServerError,
    /// Any code with this HTTP status and msg.
    Code { http: u16, code: i64, msg: String },
}

/// A message the bot sent, as it stands now (edits applied).
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    pub message_id: String,
    pub chat_id: String,
    pub receive_id_type: String,
    pub receive_id: String,
    /// `text`, `interactive`, `post`.
    pub msg_type: String,
    /// The text of a text message, or the card's text elements joined by newlines.
    pub text: String,
    /// Rows of `(label, value)` of the card's buttons; `value` is the button's `value.data`, or
    /// its whole `value` as JSON.
    pub buttons: Vec<Vec<(String, String)>>,
    /// The parsed `content`.
    pub content: Value,
    pub reply_to: Option<String>,
    pub edits: usize,
    pub recalled: bool,
    pub by_bot: bool,
}

/// A post to a custom bot that was accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct RobotPost {
    pub hook: String,
    pub body: Value,
}

struct Hook {
    secret: Option<String>,
    posts: VecDeque<Instant>,
}

struct Fail {
    http: u16,
    code: i64,
    msg: String,
    reset: Option<u32>,
}

impl From<&Failure> for Fail {
    fn from(f: &Failure) -> Fail {
        let fail = |http, code, msg: &str| Fail { http, code, msg: msg.to_string(), reset: None };
        match f {
            Failure::TokenInvalid => fail(
                400,
                99991663,
                "Invalid access token for authorization. Please make a request with token attached.",
            ),
            Failure::ChatRateLimited => fail(400, 230020, "This operation triggers the frequency limit."),
            Failure::AppRateLimited { reset_secs } => Fail {
                http: 429,
                code: 99991400,
                msg: "request trigger frequency limit".into(),
                reset: Some(*reset_secs),
            },
            Failure::UserNotVisible => fail(400, 230013, "Bot has NO availability to this user."),
            Failure::BotNotInChat => fail(400, 230002, "The bot can not be outside the group."),
            Failure::ServerError => fail(500, 0, ""),
            Failure::Code { http, code, msg } => fail(*http, *code, msg),
        }
    }
}

fn bad(code: i64, msg: &str) -> Fail {
    Fail { http: 400, code, msg: msg.to_string(), reset: None }
}

#[derive(Default)]
struct Inner {
    token_lifetime: u64,
    tokens: HashMap<String, Instant>,
    next_token: u64,
    next_message: u64,
    messages: Vec<SentMessage>,
    requests: HashMap<String, usize>,
    fail_next: HashMap<String, VecDeque<Failure>>,
    fail_receiver: HashMap<String, Failure>,
    hooks: HashMap<String, Hook>,
    hook_rate: Option<usize>,
    robot_posts: Vec<RobotPost>,
}

struct Shared {
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running fake Feishu; stops when dropped.
pub struct FakeFeishu {
    url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeFeishu {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeFeishu {
    pub async fn start() -> FakeFeishu {
        let mut inner = Inner { token_lifetime: 7200, next_token: 1, next_message: 1, ..Inner::default() };
        inner.hooks.insert(HOOK.into(), Hook { secret: None, posts: VecDeque::new() });
        inner
            .hooks
            .insert(SIGNED_HOOK.into(), Hook { secret: Some(HOOK_SECRET.into()), posts: VecDeque::new() });
        let shared = Arc::new(Shared { inner: Mutex::new(inner) });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake Feishu");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeFeishu { url, shared, server }
    }

    /// The API base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The webhook URL of a custom bot.
    pub fn hook_url(&self, hook: &str) -> String {
        format!("{}/open-apis/bot/v2/hook/{hook}", self.url)
    }

    // ---- tokens ------------------------------------------------------------------------------

    /// Tokens issued from now on are valid this long.
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.shared.lock().token_lifetime = seconds;
    }

    /// Every token issued so far becomes invalid (`99991663`), as after an expiry or a reset.
    pub fn expire_tokens(&self) {
        self.shared.lock().tokens.clear();
    }

    // ---- messages ----------------------------------------------------------------------------

    /// A message someone wrote in a chat (so the bot can reply to it). Returns its id.
    pub fn user_message(&self, chat_id: &str, open_id: &str, text: &str) -> String {
        let mut inner = self.shared.lock();
        let id = format!("om_fake_{}", inner.next_message);
        inner.next_message += 1;
        inner.messages.push(SentMessage {
            message_id: id.clone(),
            chat_id: chat_id.to_string(),
            receive_id_type: "chat_id".into(),
            receive_id: chat_id.to_string(),
            msg_type: "text".into(),
            text: text.to_string(),
            buttons: vec![],
            content: json!({ "text": text }),
            reply_to: None,
            edits: 0,
            recalled: false,
            by_bot: false,
        });
        let _ = open_id;
        id
    }

    /// Recalls a message: replies to it and edits of it fail with `230011`.
    pub fn recall(&self, message_id: &str) {
        if let Some(m) = self.shared.lock().messages.iter_mut().find(|m| m.message_id == message_id) {
            m.recalled = true;
        }
    }

    /// The messages the bot sent, in order.
    pub fn sent(&self) -> Vec<SentMessage> {
        self.shared.lock().messages.iter().filter(|m| m.by_bot).cloned().collect()
    }

    pub fn message(&self, message_id: &str) -> Option<SentMessage> {
        self.shared.lock().messages.iter().find(|m| m.message_id == message_id).cloned()
    }

    /// How many requests reached a route: `"token"`, `"send"`, `"reply"`, `"patch"`, `"put"`,
    /// `"hook"` (counted before any check).
    pub fn requests(&self, route: &str) -> usize {
        self.shared.lock().requests.get(route).copied().unwrap_or(0)
    }

    // ---- custom bots -------------------------------------------------------------------------

    /// Adds (or replaces) a custom bot; with a secret it checks signatures.
    pub fn add_hook(&self, hook: &str, secret: Option<&str>) {
        self.shared
            .lock()
            .hooks
            .insert(hook.to_string(), Hook { secret: secret.map(str::to_string), posts: VecDeque::new() });
    }

    /// More than `per_minute` accepted posts to one hook in a rolling minute get `11232`.
    pub fn limit_hook_rate(&self, per_minute: usize) {
        self.shared.lock().hook_rate = Some(per_minute);
    }

    pub fn robot_posts(&self) -> Vec<RobotPost> {
        self.shared.lock().robot_posts.clone()
    }

    // ---- faults ------------------------------------------------------------------------------

    pub fn fail_next(&self, route: &str, n: usize, failure: Failure) {
        let mut inner = self.shared.lock();
        let queue = inner.fail_next.entry(route.to_string()).or_default();
        queue.extend(std::iter::repeat_n(failure, n));
    }

    pub fn fail_receiver(&self, receive_id: &str, failure: Failure) {
        self.shared.lock().fail_receiver.insert(receive_id.to_string(), failure);
    }

    pub fn clear_receiver(&self, receive_id: &str) {
        self.shared.lock().fail_receiver.remove(receive_id);
    }
}

// ---- HTTP -------------------------------------------------------------------------------------

fn answer(result: Result<Value, Fail>) -> Response {
    match result {
        Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
        Err(f) if f.http >= 500 => (
            StatusCode::from_u16(f.http).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "<html><body><h1>500 Internal Server Error</h1></body></html>",
        )
            .into_response(),
        Err(f) => {
            let mut response = (
                StatusCode::from_u16(f.http).unwrap_or(StatusCode::BAD_REQUEST),
                axum::Json(json!({ "code": f.code, "msg": f.msg })),
            )
                .into_response();
            if let Some(reset) = f.reset
                && let Ok(v) = HeaderValue::from_str(&reset.to_string())
            {
                response.headers_mut().insert("x-ogw-ratelimit-reset", v);
            }
            response
        }
    }
}

fn ok(data: Value) -> Value {
    json!({ "code": 0, "msg": "success", "data": data })
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let segments: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    let route = match (method.as_str(), segments.as_slice()) {
        ("POST", ["open-apis", "auth", "v3", "tenant_access_token", "internal"]) => "token",
        ("POST", ["open-apis", "im", "v1", "messages"]) => "send",
        ("POST", ["open-apis", "im", "v1", "messages", _, "reply"]) => "reply",
        ("PATCH", ["open-apis", "im", "v1", "messages", _]) => "patch",
        ("PUT", ["open-apis", "im", "v1", "messages", _]) => "put",
        ("POST", ["open-apis", "bot", "v2", "hook", _]) => "hook",
        _ => return (StatusCode::NOT_FOUND, "404 page not found").into_response(),
    };
    *shared.lock().requests.entry(route.to_string()).or_default() += 1;
    let injected = shared.lock().fail_next.get_mut(route).and_then(VecDeque::pop_front);
    if let Some(failure) = injected {
        let fail = Fail::from(&failure);
        // Custom bots answer their refusals with HTTP 200.
        if route == "hook" && fail.http < 500 {
            return (StatusCode::OK, axum::Json(json!({ "code": fail.code, "msg": fail.msg })))
                .into_response();
        }
        return answer(Err(fail));
    }
    let json_body: Option<Value> = serde_json::from_slice(&body).ok();
    if route == "token" {
        return answer(token(&shared, json_body.as_ref()));
    }
    if route == "hook" {
        return hook(&shared, segments[4], &body, json_body);
    }
    if let Err(fail) = authorize(&shared, &headers) {
        return answer(Err(fail));
    }
    let Some(body) = json_body else {
        return answer(Err(bad(230001, "Your request contains an invalid request parameter.")));
    };
    let result = match route {
        "send" => send(&shared, uri.query().unwrap_or_default(), &body),
        "reply" => reply(&shared, segments[4], &body),
        "patch" => patch(&shared, segments[4], &body),
        _ => put(&shared, segments[4], &body),
    };
    answer(result)
}

fn token(shared: &Shared, body: Option<&Value>) -> Result<Value, Fail> {
    let field = |k: &str| body.and_then(|b| b.get(k)).and_then(Value::as_str).unwrap_or_default().to_string();
    if field("app_id") != APP_ID || field("app_secret") != APP_SECRET {
        return Err(bad(10014, "app secret invalid"));
    }
    let mut inner = shared.lock();
    let value = format!("t-g1044fake{:08}", inner.next_token);
    inner.next_token += 1;
    let lifetime = inner.token_lifetime;
    inner.tokens.insert(value.clone(), Instant::now() + Duration::from_secs(lifetime));
    Ok(json!({ "code": 0, "msg": "ok", "tenant_access_token": value, "expire": lifetime }))
}

fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), Fail> {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some(token) = auth.strip_prefix("Bearer ") else {
        return Err(bad(
            99991661,
            "Missing access token for authorization. Please make a request with token attached.",
        ));
    };
    match shared.lock().tokens.get(token.trim()) {
        Some(until) if Instant::now() < *until => Ok(()),
        _ => Err(Fail::from(&Failure::TokenInvalid)),
    }
}

/// Parses `content` (a JSON string) for `msg_type`; returns `(content, text, buttons)`.
fn read_content(msg_type: &str, content: Option<&Value>) -> Result<Content, Fail> {
    let invalid = || bad(230001, "Your request contains an invalid request parameter.");
    let raw = content.and_then(Value::as_str).ok_or_else(invalid)?;
    let parsed: Value = serde_json::from_str(raw).map_err(|_| invalid())?;
    if !parsed.is_object() {
        return Err(invalid());
    }
    match msg_type {
        "text" => {
            if raw.len() > MAX_TEXT {
                return Err(bad(230025, "The length of the message content reaches its limit."));
            }
            let text = parsed
                .get("text")
                .and_then(Value::as_str)
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(invalid)?;
            Ok((parsed.clone(), text.to_string(), vec![]))
        }
        "interactive" => {
            if raw.len() > MAX_CARD {
                return Err(bad(230025, "The length of the message content reaches its limit."));
            }
            let elements = parsed
                .get("elements")
                .or_else(|| parsed.pointer("/body/elements"))
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    bad(
                        230099,
                        "Failed to create card content, ext=ErrCode: 200621; ErrMsg: parse card json err",
                    )
                })?;
            let mut texts = Vec::new();
            let mut rows = Vec::new();
            for el in elements {
                match el.get("tag").and_then(Value::as_str) {
                    Some("div") => {
                        if let Some(t) = el.pointer("/text/content").and_then(Value::as_str) {
                            texts.push(t.to_string());
                        }
                    }
                    Some("markdown") => {
                        if let Some(t) = el.get("content").and_then(Value::as_str) {
                            texts.push(t.to_string());
                        }
                    }
                    Some("action") => {
                        let row: Vec<(String, String)> = el
                            .get("actions")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .filter(|a| a.get("tag").and_then(Value::as_str) == Some("button"))
                            .map(|a| {
                                let label =
                                    a.pointer("/text/content").and_then(Value::as_str).unwrap_or_default();
                                let value = match a.get("value") {
                                    Some(v) => match v.get("data") {
                                        Some(Value::String(s)) => s.clone(),
                                        _ => v.to_string(),
                                    },
                                    None => String::new(),
                                };
                                (label.to_string(), value)
                            })
                            .collect();
                        rows.push(row);
                    }
                    _ => {}
                }
            }
            Ok((parsed.clone(), texts.join("\n"), rows))
        }
        _ => Err(invalid()),
    }
}

fn store(
    shared: &Shared,
    chat_id: String,
    id_type: &str,
    receive_id: &str,
    msg_type: &str,
    content: Content,
    reply_to: Option<String>,
) -> Value {
    let mut inner = shared.lock();
    let id = format!("om_fake_{}", inner.next_message);
    inner.next_message += 1;
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0).to_string();
    let answer = ok(json!({
        "message_id": id, "root_id": reply_to, "parent_id": reply_to, "msg_type": msg_type,
        "create_time": now_ms, "update_time": now_ms, "deleted": false, "updated": false, "chat_id": chat_id,
        "sender": { "id": APP_ID, "id_type": "app_id", "sender_type": "app", "tenant_key": TENANT_KEY },
        "body": { "content": content.0.to_string() }
    }));
    inner.messages.push(SentMessage {
        message_id: id,
        chat_id,
        receive_id_type: id_type.to_string(),
        receive_id: receive_id.to_string(),
        msg_type: msg_type.to_string(),
        text: content.1,
        buttons: content.2,
        content: content.0,
        reply_to,
        edits: 0,
        recalled: false,
        by_bot: true,
    });
    answer
}

fn send(shared: &Shared, query: &str, body: &Value) -> Result<Value, Fail> {
    let id_type = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("receive_id_type="))
        .filter(|t| ["open_id", "user_id", "union_id", "email", "chat_id"].contains(t))
        .ok_or_else(|| bad(99992402, "field validation failed"))?;
    let receive_id = body.get("receive_id").and_then(Value::as_str).filter(|s| !s.is_empty());
    let receive_id = receive_id.ok_or_else(|| bad(99992402, "field validation failed"))?;
    if let Some(failure) = shared.lock().fail_receiver.get(receive_id) {
        return Err(Fail::from(failure));
    }
    let msg_type = body.get("msg_type").and_then(Value::as_str).unwrap_or_default();
    let content = read_content(msg_type, body.get("content"))?;
    let chat_id = if id_type == "chat_id" { receive_id.to_string() } else { format!("oc_p2p_{receive_id}") };
    Ok(store(shared, chat_id, id_type, receive_id, msg_type, content, None))
}

fn target(shared: &Shared, id: &str) -> Result<SentMessage, Fail> {
    let found = shared.lock().messages.iter().find(|m| m.message_id == id).cloned();
    let m = found.ok_or_else(|| bad(230001, "Your request contains an invalid request parameter."))?;
    if m.recalled {
        return Err(bad(230011, "The message is recalled."));
    }
    Ok(m)
}

fn reply(shared: &Shared, id: &str, body: &Value) -> Result<Value, Fail> {
    let parent = target(shared, id)?;
    let msg_type = body.get("msg_type").and_then(Value::as_str).unwrap_or_default();
    let content = read_content(msg_type, body.get("content"))?;
    Ok(store(
        shared,
        parent.chat_id.clone(),
        "chat_id",
        &parent.chat_id,
        msg_type,
        content,
        Some(id.to_string()),
    ))
}

fn patch(shared: &Shared, id: &str, body: &Value) -> Result<Value, Fail> {
    let m = target(shared, id)?;
    if !m.by_bot {
        return Err(bad(230012, "Bot is NOT the sender of the message."));
    }
    if m.msg_type != "interactive" {
        return Err(bad(230054, "This operation is not supported for this message type."));
    }
    let content = read_content("interactive", body.get("content"))?;
    edit(shared, id, content);
    Ok(json!({ "code": 0, "msg": "success", "data": {} }))
}

fn put(shared: &Shared, id: &str, body: &Value) -> Result<Value, Fail> {
    let m = target(shared, id)?;
    if !m.by_bot {
        return Err(bad(230071, "The operator is not the sender of the message."));
    }
    let msg_type = body.get("msg_type").and_then(Value::as_str).unwrap_or_default();
    if m.msg_type != "text" || msg_type != "text" {
        return Err(bad(230054, "This operation is not supported for this message type."));
    }
    if m.edits >= 20 {
        return Err(bad(230072, "The message has reached the number of times it can be edited."));
    }
    let content = read_content("text", body.get("content"))?;
    edit(shared, id, content);
    Ok(ok(json!({ "message_id": id, "msg_type": "text", "updated": true })))
}

fn edit(shared: &Shared, id: &str, content: Content) {
    if let Some(m) = shared.lock().messages.iter_mut().find(|m| m.message_id == id) {
        m.content = content.0;
        m.text = content.1;
        m.buttons = content.2;
        m.edits += 1;
    }
}

fn hook(shared: &Shared, hook: &str, raw: &[u8], body: Option<Value>) -> Response {
    let refuse = |code: i64, msg: &str| {
        (StatusCode::OK, axum::Json(json!({ "code": code, "msg": msg }))).into_response()
    };
    let mut inner = shared.lock();
    let rate = inner.hook_rate;
    let Some(h) = inner.hooks.get_mut(hook) else {
        return refuse(19001, "param invalid: incoming webhook access token invalid");
    };
    if raw.len() > MAX_HOOK_BODY {
        return refuse(9499, "Bad Request");
    }
    let Some(body) = body.filter(Value::is_object) else { return refuse(9499, "Bad Request") };
    if let Some(secret) = &h.secret {
        let timestamp = match body.get("timestamp") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let sign = body.get("sign").and_then(Value::as_str).unwrap_or_default();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        let fresh = timestamp.parse::<i64>().is_ok_and(|ts| (now - ts).abs() <= 3600);
        if !fresh || sign != robot_sign(secret, &timestamp) {
            return refuse(19021, "sign match fail or timestamp is not within one hour from current time");
        }
    }
    let msg_type = body.get("msg_type").and_then(Value::as_str).unwrap_or_default();
    let shaped = match msg_type {
        "text" => body.pointer("/content/text").and_then(Value::as_str).is_some(),
        "post" => body.pointer("/content/post").is_some(),
        "interactive" => body.get("card").is_some(),
        "image" => body.pointer("/content/image_key").is_some(),
        "share_chat" => body.pointer("/content/share_chat_id").is_some(),
        _ => false,
    };
    if !shaped {
        return refuse(19002, "params error, msg_type need");
    }
    if let Some(limit) = rate {
        let now = Instant::now();
        while h.posts.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60)) {
            h.posts.pop_front();
        }
        if h.posts.len() >= limit {
            return refuse(11232, "frequency limited psm[lark.oapi.app_platform_runtime]appID[1]");
        }
        h.posts.push_back(now);
    }
    inner.robot_posts.push(RobotPost { hook: hook.to_string(), body });
    (
        StatusCode::OK,
        axum::Json(json!({ "code": 0, "msg": "success", "data": {}, "Extra": null, "StatusCode": 0, "StatusMessage": "success" })),
    )
        .into_response()
}

// ---- an independent HMAC-SHA256 and base64, for the custom bot signature ----------------------

/// `base64(HMAC-SHA256(key = "{timestamp}\n{secret}", message = ""))`.
pub fn robot_sign(secret: &str, timestamp: &str) -> String {
    base64(&hmac_sha256(format!("{timestamp}\n{secret}").as_bytes(), b""))
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&sha256(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    inner.extend_from_slice(message);
    let mut outer: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    outer.extend_from_slice(&sha256(&inner));
    sha256(&outer)
}

fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ];
    let mut h: [u32; 8] =
        [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([chunk[4 * i], chunk[4 * i + 1], chunk[4 * i + 2], chunk[4 * i + 3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh.wrapping_add(s1).wrapping_add(ch).wrapping_add(K[i]).wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (i, word) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&word.to_be_bytes());
    }
    out
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
