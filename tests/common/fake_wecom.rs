//! A fake WeCom (企业微信) API for tests: an axum router on `127.0.0.1:0` that answers like
//! `qyapi.weixin.qq.com` for a self-built app and group robots, records what was sent, and fails
//! on demand.
//!
//! Shared by the root crate's end-to-end tests (`tests/common`) and
//! `integrations/tests/wecom_fake.rs`, so it uses only axum 0.8, tokio, serde and serde_json.
//! Encrypted callbacks for zhiban's callback route are built with
//! `zhiban_integrations::wecom::testing` (the fake does no crypto); [`FakeWecom::click_xml`] gives
//! the plaintext of a click with a response code the fake then accepts.
//!
//! ```ignore
//! let wc = FakeWecom::start().await;
//! let api = WecomApi::new(wc.settings(), reqwest::Client::new())?;
//! let robot = Robot::new(wc.robot_webhook(), None);
//! ```
//!
//! # Wire behaviour
//!
//! Every answer is HTTP 200 with `{"errcode":N,"errmsg":"…"}` (WeCom's way), except an injected
//! [`Fault::ServerError`] (HTTP 500). Unknown paths get 404.
//!
//! - `GET /cgi-bin/gettoken?corpid=&corpsecret=`: 41002/41004 when missing, 40013 for another
//!   CorpID, 40001 for another secret; else `access_token` and `expires_in`. Like WeCom, while a
//!   token is valid the same token comes back with its remaining lifetime; after it expires (by
//!   time, [`FakeWecom::set_token_lifetime`], or [`FakeWecom::expire_tokens`]) a new one is made.
//! - Calls with `?access_token=`: 41001 when missing, 40014 for an unknown token, 42001 for an
//!   expired one. 47001 for a body that is not JSON; 40056 for another `agentid`.
//! - `POST /cgi-bin/message/send`: `touser` (`a|b`), `toparty`, `totag`; `msgtype` `text` (content
//!   1–2048 bytes: 44004 / 45002), `markdown` (≤ 4096), `textcard`, `template_card` (checked for
//!   `button_interaction`: `task_id` of `[A-Za-z0-9_@-]{1,128}` unique in the app, 1–6 buttons
//!   with a `text` and a 1–1024-byte `key`, a `main_title.title` or `sub_title_text`: 40058
//!   otherwise); other types 40008. Users removed with [`FakeWecom::remove_user`] are listed in
//!   `invaliduser`, and when every recipient is invalid the answer is 81013. Answers `msgid` and,
//!   for an interactive card, a `response_code`.
//! - `POST /cgi-bin/message/update_template_card`: needs a `response_code` the fake issued (by a
//!   card send or [`FakeWecom::click_xml`]), unused: 40058 `invalid response_code` otherwise;
//!   and a `template_card` or a `button.replace_name`. Records it and marks the code used.
//! - `POST /cgi-bin/appchat/send`: chats added with [`FakeWecom::add_appchat`]; 86003 otherwise.
//! - `POST /cgi-bin/webhook/send?key=`: keys [`ROBOT_KEY`] and those added with
//!   [`FakeWecom::add_robot`]; 93000 `invalid webhook url` otherwise. More than
//!   [`ROBOT_RATE_PER_MINUTE`] accepted posts in a rolling minute → 45009 `api freq out of limit`.
//!   Bodies are checked like the real robot: 40008 unknown msgtype, 44004 empty content, 45002 too
//!   large (text 2048, markdown 4096 bytes).
//!
//! # Faults
//!
//! [`FakeWecom::fail_next`] makes the next `n` calls of an endpoint (`"gettoken"`,
//! `"message/send"`, `"message/update_template_card"`, `"appchat/send"`, `"webhook/send"`) answer
//! a [`Fault`], before any other check.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub const CORP_ID: &str = "wwfake0123456789ab";
pub const AGENT_ID: i64 = 1000002;
pub const SECRET: &str = "fakeAppSecret-0123456789abcdefghijklmnopq";
/// The key of the robot the fake knows from the start.
pub const ROBOT_KEY: &str = "693a91f6-7aaa-4bc4-97a0-0ec2fa0e0001";
/// Accepted robot posts per rolling minute, per key (WeCom: 20).
pub const ROBOT_RATE_PER_MINUTE: usize = 20;
/// Token lifetime unless changed.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(7200);

/// A way for the fake to refuse a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// errcode 42001 `access_token expired` (and the current token is dropped, as on WeCom).
    ExpiredToken,
    /// errcode 40014 `invalid access_token`.
    InvalidToken,
    /// errcode 45009 `api freq out of limit`.
    RateLimited,
    /// errcode 81013 `user & party & tag all invalid`, with the recipients in `invaliduser`.
    UserNotFound,
    /// errcode 60020 `not allow to access from your ip`.
    IpNotAllowed,
    /// errcode -1 `system busy`.
    SystemBusy,
    /// HTTP 500 with an HTML page.
    ServerError,
    /// Any errcode and errmsg.
    Errcode(i64, String),
}

/// A message the app sent with `message/send` or `appchat/send`.
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    pub msgid: String,
    pub msgtype: String,
    pub touser: Option<String>,
    pub toparty: Option<String>,
    pub totag: Option<String>,
    /// Set for `appchat/send`.
    pub chatid: Option<String>,
    pub task_id: Option<String>,
    pub response_code: Option<String>,
    /// The request body as sent.
    pub body: Value,
}

impl SentMessage {
    /// `text.content`, or the card's main title and sub title joined by a newline.
    pub fn text(&self) -> String {
        if let Some(t) = self.body.pointer("/text/content").and_then(Value::as_str) {
            return t.to_string();
        }
        card_text(self.body.get("template_card").unwrap_or(&Value::Null))
    }

    /// The card's buttons as `(text, key)`.
    pub fn buttons(&self) -> Vec<(String, String)> {
        card_buttons(self.body.get("template_card").unwrap_or(&Value::Null))
    }
}

/// An accepted `update_template_card`.
#[derive(Debug, Clone, PartialEq)]
pub struct CardUpdate {
    pub response_code: String,
    /// The task the code belonged to.
    pub task_id: String,
    pub body: Value,
}

impl CardUpdate {
    pub fn text(&self) -> String {
        card_text(self.body.get("template_card").unwrap_or(&Value::Null))
    }
    pub fn buttons(&self) -> Vec<(String, String)> {
        card_buttons(self.body.get("template_card").unwrap_or(&Value::Null))
    }
}

/// A robot post the fake accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct RobotPost {
    pub key: String,
    pub body: Value,
}

fn card_text(card: &Value) -> String {
    let title = card.pointer("/main_title/title").and_then(Value::as_str).unwrap_or_default();
    let sub = card.get("sub_title_text").and_then(Value::as_str).unwrap_or_default();
    [title, sub].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join("\n")
}

fn card_buttons(card: &Value) -> Vec<(String, String)> {
    card.get("button_list")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|b| {
                    let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                    (s("text"), s("key"))
                })
                .collect()
        })
        .unwrap_or_default()
}

struct Token {
    value: String,
    expires: Instant,
}

struct Code {
    task_id: String,
    used: bool,
}

#[derive(Default)]
struct Inner {
    token_lifetime: Option<Duration>,
    tokens: Vec<Token>,
    token_requests: usize,
    next_token: u64,
    next_msg: u64,
    next_code: u64,
    faults: HashMap<String, VecDeque<Fault>>,
    calls: HashMap<String, usize>,
    gone_users: HashSet<String>,
    appchats: HashSet<String>,
    task_ids: HashSet<String>,
    codes: HashMap<String, Code>,
    sent: Vec<SentMessage>,
    updates: Vec<CardUpdate>,
    robots: HashSet<String>,
    robot_rate: Option<usize>,
    robot_times: HashMap<String, VecDeque<Instant>>,
    robot_posts: Vec<RobotPost>,
}

type Shared = Arc<Mutex<Inner>>;

/// The running fake. Dropping it stops the server.
pub struct FakeWecom {
    url: String,
    shared: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeWecom {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeWecom {
    pub async fn start() -> FakeWecom {
        let mut inner = Inner { next_token: 1, next_msg: 1, next_code: 1, ..Inner::default() };
        inner.robots.insert(ROBOT_KEY.to_string());
        let shared: Shared = Arc::new(Mutex::new(inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake WeCom");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let app = Router::new()
            .route("/cgi-bin/gettoken", get(gettoken))
            .route("/cgi-bin/message/send", post(message_send))
            .route("/cgi-bin/message/update_template_card", post(update_card))
            .route("/cgi-bin/appchat/send", post(appchat_send))
            .route("/cgi-bin/webhook/send", post(webhook_send))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeWecom { url, shared, server }
    }

    /// The API base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The robot webhook URL of [`ROBOT_KEY`].
    pub fn robot_webhook(&self) -> String {
        self.webhook_for(ROBOT_KEY)
    }

    pub fn webhook_for(&self, key: &str) -> String {
        format!("{}/cgi-bin/webhook/send?key={key}", self.url)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ---- controls ----------------------------------------------------------------------

    /// Makes the next `n` calls of `endpoint` (`"gettoken"`, `"message/send"`,
    /// `"message/update_template_card"`, `"appchat/send"`, `"webhook/send"`) answer `fault`.
    pub fn fail_next(&self, endpoint: &str, fault: Fault, n: usize) {
        let mut inner = self.lock();
        let queue = inner.faults.entry(endpoint.to_string()).or_default();
        queue.extend(std::iter::repeat_n(fault, n));
    }

    /// Every token issued so far is expired from now on (the next call with one gets 42001).
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for t in &mut self.lock().tokens {
            t.expires = now;
        }
    }

    /// The lifetime (`expires_in`) of tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.lock().token_lifetime = Some(lifetime);
    }

    /// How many `gettoken` calls the fake answered (successfully or not).
    pub fn token_requests(&self) -> usize {
        self.lock().token_requests
    }

    /// How many calls an endpoint got, faults included.
    pub fn calls(&self, endpoint: &str) -> usize {
        self.lock().calls.get(endpoint).copied().unwrap_or(0)
    }

    /// The member left (or is outside the app's range): sends to them list them as invalid.
    pub fn remove_user(&self, userid: &str) {
        self.lock().gone_users.insert(userid.to_string());
    }

    /// A group chat the app created (`appchat/create`).
    pub fn add_appchat(&self, chatid: &str) {
        self.lock().appchats.insert(chatid.to_string());
    }

    /// Another robot key the fake accepts.
    pub fn add_robot(&self, key: &str) {
        self.lock().robots.insert(key.to_string());
    }

    /// Removes a robot (its key then gets 93000).
    pub fn remove_robot(&self, key: &str) {
        self.lock().robots.remove(key);
    }

    /// Accepted robot posts per rolling minute (default [`ROBOT_RATE_PER_MINUTE`]).
    pub fn set_robot_rate(&self, per_minute: usize) {
        self.lock().robot_rate = Some(per_minute);
    }

    /// The plaintext XML of `user` clicking the button with `key` on the card of `task_id`, with a
    /// fresh response code the fake will accept once for `update_template_card`.
    pub fn click_xml(&self, user: &str, task_id: &str, key: &str, create_time: i64) -> String {
        let code = {
            let mut inner = self.lock();
            let code = format!("click-code-{}", inner.next_code);
            inner.next_code += 1;
            inner.codes.insert(code.clone(), Code { task_id: task_id.to_string(), used: false });
            code
        };
        format!(
            "<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>\
             <CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>\
             <Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[{key}]]></EventKey>\
             <TaskId><![CDATA[{task_id}]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>\
             <ResponseCode><![CDATA[{code}]]></ResponseCode><AgentID>{AGENT_ID}</AgentID></xml>"
        )
    }

    // ---- records -----------------------------------------------------------------------

    pub fn sent(&self) -> Vec<SentMessage> {
        self.lock().sent.clone()
    }

    pub fn card_updates(&self) -> Vec<CardUpdate> {
        self.lock().updates.clone()
    }

    pub fn robot_posts(&self) -> Vec<RobotPost> {
        self.lock().robot_posts.clone()
    }
}

// ---- handlers ------------------------------------------------------------------------------

fn answer(errcode: i64, errmsg: &str) -> Response {
    let hinted = if errcode == 0 {
        errmsg.to_string()
    } else {
        format!(
            "{errmsg}, hint: [1700000000_11_fake], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}"
        )
    };
    axum::Json(json!({ "errcode": errcode, "errmsg": hinted })).into_response()
}

fn ok(mut extra: Value) -> Response {
    extra["errcode"] = json!(0);
    extra["errmsg"] = json!("ok");
    axum::Json(extra).into_response()
}

fn fault_response(fault: &Fault, inner: &mut Inner, recipients: &str) -> Response {
    match fault {
        Fault::ExpiredToken => {
            let now = Instant::now();
            for t in &mut inner.tokens {
                t.expires = now;
            }
            answer(42001, "access_token expired")
        }
        Fault::InvalidToken => answer(40014, "invalid access_token"),
        Fault::RateLimited => answer(45009, "api freq out of limit"),
        Fault::UserNotFound => {
            let mut body = json!({ "errcode": 81013, "errmsg": "user & party & tag all invalid" });
            body["invaliduser"] = json!(recipients);
            axum::Json(body).into_response()
        }
        Fault::IpNotAllowed => answer(60020, "not allow to access from your ip"),
        Fault::SystemBusy => answer(-1, "system busy"),
        Fault::ServerError => {
            (StatusCode::INTERNAL_SERVER_ERROR, "<html><body>500 Internal Server Error</body></html>")
                .into_response()
        }
        Fault::Errcode(code, msg) => answer(*code, msg),
    }
}

/// Counts the call and takes the next injected fault of `endpoint`.
fn begin(inner: &mut Inner, endpoint: &str) -> Option<Fault> {
    *inner.calls.entry(endpoint.to_string()).or_default() += 1;
    inner.faults.get_mut(endpoint).and_then(VecDeque::pop_front)
}

fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

async fn gettoken(State(shared): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut inner = lock(&shared);
    inner.token_requests += 1;
    if let Some(f) = begin(&mut inner, "gettoken") {
        return fault_response(&f, &mut inner, "");
    }
    match q.get("corpid").map(String::as_str) {
        None | Some("") => return answer(41002, "corpid missing"),
        Some(CORP_ID) => {}
        Some(_) => return answer(40013, "invalid corpid"),
    }
    match q.get("corpsecret").map(String::as_str) {
        None | Some("") => return answer(41004, "corpsecret missing"),
        Some(SECRET) => {}
        Some(_) => return answer(40001, "invalid credential"),
    }
    let now = Instant::now();
    if let Some(t) = inner.tokens.iter().rev().find(|t| t.expires > now) {
        let left = t.expires.duration_since(now).as_secs().max(1);
        return ok(json!({ "access_token": t.value, "expires_in": left }));
    }
    let lifetime = inner.token_lifetime.unwrap_or(TOKEN_LIFETIME);
    let value = format!("fake-access-token-{:04}-{}", inner.next_token, "x".repeat(40));
    inner.next_token += 1;
    inner.tokens.push(Token { value: value.clone(), expires: now + lifetime });
    ok(json!({ "access_token": value, "expires_in": lifetime.as_secs() }))
}

/// Checks `access_token`; `Err` is the errcode and errmsg to answer.
fn check_token(inner: &Inner, q: &HashMap<String, String>) -> Result<(), (i64, &'static str)> {
    let Some(token) = q.get("access_token").filter(|t| !t.is_empty()) else {
        return Err((41001, "access_token missing"));
    };
    match inner.tokens.iter().find(|t| &t.value == token) {
        None => Err((40014, "invalid access_token")),
        Some(t) if t.expires <= Instant::now() => Err((42001, "access_token expired")),
        Some(_) => Ok(()),
    }
}

/// The JSON body of an app call, with the token and agentid checked.
fn app_call(
    inner: &Inner,
    q: &HashMap<String, String>,
    body: &Bytes,
    needs_agent: bool,
) -> Result<Value, (i64, &'static str)> {
    check_token(inner, q)?;
    let value: Value = serde_json::from_slice(body).map_err(|_| (47001, "data format error"))?;
    if needs_agent && value.get("agentid").and_then(as_i64_loose) != Some(AGENT_ID) {
        return Err((40056, "invalid agentid"));
    }
    Ok(value)
}

fn as_i64_loose(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn str_field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

async fn message_send(
    State(shared): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let mut inner = lock(&shared);
    let fault = begin(&mut inner, "message/send");
    let peek: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(f) = fault {
        let to = str_field(&peek, "touser").unwrap_or_default().to_string();
        return fault_response(&f, &mut inner, &to);
    }
    let v = match app_call(&inner, &q, &body, true) {
        Ok(v) => v,
        Err((code, msg)) => return answer(code, msg),
    };
    let (touser, toparty, totag) =
        (str_field(&v, "touser"), str_field(&v, "toparty"), str_field(&v, "totag"));
    if touser.is_none() && toparty.is_none() && totag.is_none() {
        return answer(40058, "touser, toparty and totag are all empty");
    }
    let msgtype = str_field(&v, "msgtype").unwrap_or_default().to_string();
    let mut task_id = None;
    let mut interactive = false;
    match msgtype.as_str() {
        "text" => match v.pointer("/text/content").and_then(Value::as_str) {
            None | Some("") => return answer(44004, "empty content"),
            Some(c) if c.len() > 2048 => return answer(45002, "content size out of limit"),
            Some(_) => {}
        },
        "markdown" => match v.pointer("/markdown/content").and_then(Value::as_str) {
            None | Some("") => return answer(44004, "empty content"),
            Some(c) if c.len() > 4096 => return answer(45002, "content size out of limit"),
            Some(_) => {}
        },
        "textcard" => {}
        "template_card" => {
            let card = v.get("template_card").cloned().unwrap_or(Value::Null);
            let card_type = str_field(&card, "card_type").unwrap_or_default();
            if card.pointer("/main_title/title").and_then(Value::as_str).is_none_or(str::is_empty)
                && str_field(&card, "sub_title_text").is_none()
            {
                return answer(40058, "main_title.title or sub_title_text is required");
            }
            if matches!(card_type, "button_interaction" | "vote_interaction" | "multiple_interaction") {
                let Some(id) = str_field(&card, "task_id") else {
                    return answer(40058, "task_id missing");
                };
                if id.len() > 128
                    || !id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@'))
                {
                    return answer(40058, "invalid task_id");
                }
                if inner.task_ids.contains(id) {
                    return answer(40058, "task_id duplicated");
                }
                if card_type == "button_interaction" {
                    let buttons =
                        card.get("button_list").and_then(Value::as_array).cloned().unwrap_or_default();
                    if buttons.is_empty() || buttons.len() > 6 {
                        return answer(40058, "button_list must have 1-6 buttons");
                    }
                    for b in &buttons {
                        let key = b.get("key").and_then(Value::as_str).unwrap_or_default();
                        let callback = b.get("type").and_then(Value::as_i64).unwrap_or(0) == 0;
                        if str_field(b, "text").is_none()
                            || (callback && (key.is_empty() || key.len() > 1024))
                        {
                            return answer(40058, "invalid button");
                        }
                    }
                }
                task_id = Some(id.to_string());
                interactive = true;
            } else if !matches!(card_type, "text_notice" | "news_notice") {
                return answer(40058, "invalid card_type");
            }
        }
        _ => return answer(40008, "invalid message type"),
    }
    // Recipients.
    let users: Vec<&str> = touser.map(|t| t.split('|').collect()).unwrap_or_default();
    let invalid: Vec<&str> = users.iter().copied().filter(|u| inner.gone_users.contains(*u)).collect();
    if toparty.is_none() && totag.is_none() && !users.is_empty() && invalid.len() == users.len() {
        let mut body = json!({ "errcode": 81013, "errmsg": "user & party & tag all invalid" });
        body["invaliduser"] = json!(invalid.join("|"));
        return axum::Json(body).into_response();
    }
    let msgid = format!("fake-msgid-{:06}", inner.next_msg);
    inner.next_msg += 1;
    let response_code = interactive.then(|| {
        let code = format!("send-code-{}", inner.next_code);
        inner.next_code += 1;
        code
    });
    if let (Some(id), Some(code)) = (&task_id, &response_code) {
        inner.task_ids.insert(id.clone());
        inner.codes.insert(code.clone(), Code { task_id: id.clone(), used: false });
    }
    let invaliduser = invalid.join("|");
    inner.sent.push(SentMessage {
        msgid: msgid.clone(),
        msgtype,
        touser: touser.map(str::to_string),
        toparty: toparty.map(str::to_string),
        totag: totag.map(str::to_string),
        chatid: None,
        task_id,
        response_code: response_code.clone(),
        body: v.clone(),
    });
    let mut out = json!({ "invaliduser": invaliduser, "invalidparty": "", "invalidtag": "", "unlicenseduser": "", "msgid": msgid });
    if let Some(code) = response_code {
        out["response_code"] = json!(code);
    }
    ok(out)
}

async fn update_card(
    State(shared): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let mut inner = lock(&shared);
    if let Some(f) = begin(&mut inner, "message/update_template_card") {
        return fault_response(&f, &mut inner, "");
    }
    let v = match app_call(&inner, &q, &body, true) {
        Ok(v) => v,
        Err((code, msg)) => return answer(code, msg),
    };
    let code = str_field(&v, "response_code").unwrap_or_default().to_string();
    let task_id = match inner.codes.get(&code) {
        Some(c) if !c.used => c.task_id.clone(),
        _ => return answer(40058, "invalid response_code"),
    };
    let has_card = v.get("template_card").is_some_and(Value::is_object);
    let has_button = v.pointer("/button/replace_name").and_then(Value::as_str).is_some_and(|s| !s.is_empty());
    if !has_card && !has_button {
        return answer(40058, "template_card or button.replace_name is required");
    }
    if let Some(card) = v.get("template_card") {
        if str_field(card, "card_type") == Some("button_interaction") {
            let buttons = card.get("button_list").and_then(Value::as_array).map_or(0, Vec::len);
            if buttons > 6 || (buttons == 0 && str_field(card, "replace_text").is_none()) {
                return answer(40058, "button_list must have 1-6 buttons, or replace_text");
            }
        }
        if card.pointer("/main_title/title").and_then(Value::as_str).is_none_or(str::is_empty)
            && str_field(card, "sub_title_text").is_none()
        {
            return answer(40058, "main_title.title or sub_title_text is required");
        }
    }
    if let Some(c) = inner.codes.get_mut(&code) {
        c.used = true;
    }
    inner.updates.push(CardUpdate { response_code: code, task_id, body: v });
    ok(json!({ "invaliduser": [] }))
}

async fn appchat_send(
    State(shared): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let mut inner = lock(&shared);
    if let Some(f) = begin(&mut inner, "appchat/send") {
        return fault_response(&f, &mut inner, "");
    }
    let v = match app_call(&inner, &q, &body, false) {
        Ok(v) => v,
        Err((code, msg)) => return answer(code, msg),
    };
    let chatid = str_field(&v, "chatid").unwrap_or_default().to_string();
    if !inner.appchats.contains(&chatid) {
        return answer(86003, "chatid not exist");
    }
    let msgtype = str_field(&v, "msgtype").unwrap_or_default().to_string();
    if !matches!(msgtype.as_str(), "text" | "markdown" | "textcard" | "news" | "image" | "file") {
        return answer(40008, "invalid message type");
    }
    let msgid = format!("fake-msgid-{:06}", inner.next_msg);
    inner.next_msg += 1;
    inner.sent.push(SentMessage {
        msgid,
        msgtype,
        touser: None,
        toparty: None,
        totag: None,
        chatid: Some(chatid),
        task_id: None,
        response_code: None,
        body: v,
    });
    ok(json!({}))
}

async fn webhook_send(
    State(shared): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let mut inner = lock(&shared);
    if let Some(f) = begin(&mut inner, "webhook/send") {
        return fault_response(&f, &mut inner, "");
    }
    let key = q.get("key").cloned().unwrap_or_default();
    if !inner.robots.contains(&key) {
        return answer(93000, "invalid webhook url");
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return answer(40058, "invalid json");
    };
    let limit = inner.robot_rate.unwrap_or(ROBOT_RATE_PER_MINUTE);
    let now = Instant::now();
    let times = inner.robot_times.entry(key.clone()).or_default();
    while times.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60)) {
        times.pop_front();
    }
    if times.len() >= limit {
        return answer(45009, "api freq out of limit");
    }
    let msgtype = str_field(&v, "msgtype").unwrap_or_default();
    let limit_bytes = match msgtype {
        "text" => Some(2048),
        "markdown" | "markdown_v2" => Some(4096),
        "news" | "image" | "file" | "voice" | "template_card" => None,
        _ => return answer(40008, "invalid message type"),
    };
    if let Some(max) = limit_bytes {
        match v.pointer(&format!("/{msgtype}/content")).and_then(Value::as_str) {
            None | Some("") => return answer(44004, "empty content"),
            Some(c) if c.len() > max => return answer(45002, "content size out of limit"),
            Some(_) => {}
        }
    }
    times.push_back(now);
    inner.robot_posts.push(RobotPost { key, body: v });
    ok(json!({}))
}
