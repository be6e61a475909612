//! A fake DingTalk for tests: an axum router on `127.0.0.1:0` that answers like
//! `api.dingtalk.com` (OpenAPI) and `oapi.dingtalk.com` (custom robots, session webhooks) at once,
//! with controls to read what was sent and to make it fail. Use [`FakeDingtalk::url`] as both
//! `api_base` and `oapi_base`.
//!
//! Shared by the root crate's end-to-end tests (`tests/common`) and
//! `integrations/tests/dingtalk_fake.rs`. It uses axum 0.8, tokio, serde_json and std, plus
//! hmac/sha2/base64 (already dependencies of both crates) to check robot signatures and to sign
//! callbacks on its own, independently of the code under test.
//!
//! ```ignore
//! let dt = FakeDingtalk::start().await;
//! let mut settings = DingtalkSettings::new(fake_dingtalk::APP_KEY, fake_dingtalk::APP_SECRET, "");
//! (settings.api_base, settings.oapi_base) = (dt.url(), dt.url());
//! let robot = Robot::new(dt.robot_url(fake_dingtalk::ROBOT_TOKEN), Some(fake_dingtalk::ROBOT_SECRET.into()))?;
//! ```
//!
//! # Wire behaviour
//!
//! - `POST /v1.0/oauth2/accessToken` `{"appKey","appSecret"}` → `{"accessToken","expireIn"}`
//!   ([`FakeDingtalk::set_token_lifetime`], default 7200 s); wrong credentials → 400
//!   `{"code":"invalidClientIdOrSecret",…}` (the code is the fake's choice, unverified).
//! - `POST /v1.0/robot/oToMessages/batchSend` `{"robotCode","userIds","msgKey","msgParam"}` and
//!   `POST /v1.0/robot/groupMessages/send` `{"robotCode","openConversationId","msgKey","msgParam"}`,
//!   with the token in `x-acs-dingtalk-access-token`. A missing, unknown or expired token → 400
//!   `{"code":"InvalidAuthentication","message":"不合法的access_token","requestid":…}`. A wrong
//!   `robotCode`, an unknown `msgKey`, a `msgParam` that is not a JSON string or lacks the
//!   template's fields (`sampleText`: content; `sampleMarkdown`: title, text;
//!   `sampleActionCard`: title, text, singleTitle, singleURL; `sampleActionCard2..5`: title, text,
//!   actionTitleN, actionURLN) → 400 `invalidParameter…`. `batchSend` answers
//!   `{"processQueryKey","invalidStaffIdList","flowControlledStaffIdList"}` (users marked with
//!   [`FakeDingtalk::unknown_user`] / [`FakeDingtalk::flow_control_user`] are listed and get
//!   nothing); a group removed with [`FakeDingtalk::remove_group`] → 400
//!   `{"code":"resource.not.found","message":"群会话不存在"}` (unverified wording).
//! - `POST /robot/send?access_token=…[&timestamp=…&sign=…]` for robots registered with
//!   [`FakeDingtalk::add_robot`] ([`ROBOT_TOKEN`] with [`ROBOT_SECRET`] is there from the start):
//!   HTTP 200 with `{"errcode","errmsg"}` always. Unknown token → `300001`; a signed robot
//!   without a valid `sign` → `310000 sign not match`, with a timestamp over an hour off →
//!   `310000 invalid timestamp`; keywords set and none in the body → `310000 keywords not in
//!   content`; a body that is not a known msgtype with its fields → `40035`; more than the limit
//!   ([`FakeDingtalk::set_robot_limit`], default 20) accepted in a rolling minute → `130101 send
//!   too fast, exceed 20 times per minute`.
//! - `POST /robot/sendBySession?session=…`: like an unsigned robot; every session is accepted.
//!
//! # Faults
//!
//! [`FakeDingtalk::fail_next`] makes the next `n` calls of a path fail ([`Failure`]);
//! [`FakeDingtalk::expire_tokens`] invalidates every token issued so far.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use hmac::{KeyInit as _, Mac as _};
use serde_json::{Value, json};
use tokio::sync::watch;

pub const APP_KEY: &str = "dingzhibanfakeappkey01";
pub const APP_SECRET: &str = "zhiban-fake-app-secret-0001";
/// The robot code the fake accepts: the app key, as for an enterprise internal app's robot.
pub const ROBOT_CODE: &str = APP_KEY;
/// A custom robot registered from the start, signed with [`ROBOT_SECRET`].
pub const ROBOT_TOKEN: &str = "fakerobottoken0001";
pub const ROBOT_SECRET: &str = "SECfakeZhibanRobotSecret0001";

pub const TOKEN_PATH: &str = "/v1.0/oauth2/accessToken";
pub const BATCH_SEND_PATH: &str = "/v1.0/robot/oToMessages/batchSend";
pub const GROUP_SEND_PATH: &str = "/v1.0/robot/groupMessages/send";
pub const ROBOT_PATH: &str = "/robot/send";
pub const SESSION_PATH: &str = "/robot/sendBySession";

/// A way for the fake to refuse a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// HTTP 500 (OpenAPI) / HTTP 502 with an HTML page (robots).
    ServerError,
    /// OpenAPI: 403 `Forbidden.AccessDenied.QpsLimitForApi`.
    QpsLimit,
    /// OpenAPI: 400 `InvalidAuthentication` even with a valid token.
    InvalidToken,
    /// OpenAPI: this status, code and message.
    Api { status: u16, code: String, message: String },
    /// Robots: HTTP 200 with this `errcode` and `errmsg`.
    Robot { errcode: i64, errmsg: String },
}

/// Who an app message went to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum To {
    User(String),
    Group(String),
}

/// A message the app's robot sent.
#[derive(Debug, Clone, PartialEq)]
pub struct AppMessage {
    pub to: To,
    pub msg_key: String,
    /// `msgParam`, parsed.
    pub msg_param: Value,
    pub process_query_key: String,
}

struct RobotEntry {
    secret: Option<String>,
    keywords: Vec<String>,
    accepted: VecDeque<Instant>,
    messages: Vec<Value>,
}

struct State_ {
    tokens: HashMap<String, Instant>,
    token_counter: u64,
    token_lifetime: u64,
    token_requests: usize,
    requests: HashMap<String, usize>,
    failures: HashMap<String, VecDeque<Failure>>,
    unknown_users: HashSet<String>,
    flow_controlled: HashSet<String>,
    removed_groups: HashSet<String>,
    sent: Vec<AppMessage>,
    counter: u64,
    robots: HashMap<String, RobotEntry>,
    robot_limit: usize,
    sessions: HashMap<String, Vec<Value>>,
}

type Shared = Arc<Mutex<State_>>;

/// The running fake; stops when dropped.
pub struct FakeDingtalk {
    addr: std::net::SocketAddr,
    state: Shared,
    _stop: watch::Sender<bool>,
}

impl FakeDingtalk {
    pub async fn start() -> FakeDingtalk {
        let mut robots = HashMap::new();
        robots.insert(
            ROBOT_TOKEN.to_string(),
            RobotEntry {
                secret: Some(ROBOT_SECRET.to_string()),
                keywords: vec![],
                accepted: VecDeque::new(),
                messages: vec![],
            },
        );
        let state = Arc::new(Mutex::new(State_ {
            tokens: HashMap::new(),
            token_counter: 0,
            token_lifetime: 7200,
            token_requests: 0,
            requests: HashMap::new(),
            failures: HashMap::new(),
            unknown_users: HashSet::new(),
            flow_controlled: HashSet::new(),
            removed_groups: HashSet::new(),
            sent: Vec::new(),
            counter: 0,
            robots,
            robot_limit: 20,
            sessions: HashMap::new(),
        }));
        let app = Router::new()
            .route(TOKEN_PATH, post(token))
            .route(BATCH_SEND_PATH, post(batch_send))
            .route(GROUP_SEND_PATH, post(group_send))
            .route(ROBOT_PATH, post(robot_send))
            .route(SESSION_PATH, post(session_send))
            .fallback(|| async {
                (StatusCode::NOT_FOUND, axum::Json(json!({"code": "NotFound", "message": "no such API"})))
            })
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake DingTalk");
        let addr = listener.local_addr().unwrap();
        let (stop, mut stopped) = watch::channel(false);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.changed().await;
                })
                .await;
        });
        FakeDingtalk { addr, state, _stop: stop }
    }

    fn state(&self) -> MutexGuard<'_, State_> {
        self.state.lock().unwrap()
    }

    /// The base URL: use it as both `api_base` and `oapi_base`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A custom robot's webhook URL.
    pub fn robot_url(&self, token: &str) -> String {
        format!("{}{ROBOT_PATH}?access_token={token}", self.url())
    }

    /// A session webhook URL on the fake (what callbacks carry).
    pub fn session_url(&self, session: &str) -> String {
        format!("{}{SESSION_PATH}?session={session}", self.url())
    }

    /// Registers a custom robot (replacing one with the same token).
    pub fn add_robot(&self, token: &str, secret: Option<&str>) {
        self.state().robots.insert(
            token.to_string(),
            RobotEntry {
                secret: secret.map(str::to_string),
                keywords: vec![],
                accepted: VecDeque::new(),
                messages: vec![],
            },
        );
    }

    /// Makes a robot require one of these keywords in its messages.
    pub fn set_robot_keywords(&self, token: &str, keywords: &[&str]) {
        if let Some(r) = self.state().robots.get_mut(token) {
            r.keywords = keywords.iter().map(|k| k.to_string()).collect();
        }
    }

    /// Messages a robot accepts per rolling minute (DingTalk: 20).
    pub fn set_robot_limit(&self, per_minute: usize) {
        self.state().robot_limit = per_minute;
    }

    /// The bodies a robot accepted.
    pub fn robot_messages(&self, token: &str) -> Vec<Value> {
        self.state().robots.get(token).map(|r| r.messages.clone()).unwrap_or_default()
    }

    /// The bodies posted to a session webhook.
    pub fn session_messages(&self, session: &str) -> Vec<Value> {
        self.state().sessions.get(session).cloned().unwrap_or_default()
    }

    /// Lifetime (`expireIn`) of the tokens issued from now on.
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.state().token_lifetime = seconds;
    }

    /// Invalidates every token issued so far (DingTalk then answers `InvalidAuthentication`).
    pub fn expire_tokens(&self) {
        self.state().tokens.clear();
    }

    /// How many times `/v1.0/oauth2/accessToken` was called (successful or not).
    pub fn token_requests(&self) -> usize {
        self.state().token_requests
    }

    /// How many requests reached `path` (e.g. [`BATCH_SEND_PATH`]).
    pub fn requests(&self, path: &str) -> usize {
        self.state().requests.get(path).copied().unwrap_or(0)
    }

    /// Fails the next `n` calls of `path` with `failure`.
    pub fn fail_next(&self, path: &str, n: usize, failure: Failure) {
        let mut st = self.state();
        let queue = st.failures.entry(path.to_string()).or_default();
        queue.extend(std::iter::repeat_n(failure, n));
    }

    /// `batchSend` lists this userid in `invalidStaffIdList` (not in the organisation or outside
    /// the app's visible range).
    pub fn unknown_user(&self, userid: &str) {
        self.state().unknown_users.insert(userid.to_string());
    }

    /// `batchSend` lists this userid in `flowControlledStaffIdList`.
    pub fn flow_control_user(&self, userid: &str) {
        self.state().flow_controlled.insert(userid.to_string());
    }

    /// `groupMessages/send` to this conversation fails: the group is gone.
    pub fn remove_group(&self, open_conversation_id: &str) {
        self.state().removed_groups.insert(open_conversation_id.to_string());
    }

    /// Every message the app's robot sent, in order.
    pub fn sent(&self) -> Vec<AppMessage> {
        self.state().sent.clone()
    }

    /// A robot callback as DingTalk would POST it to zhiban, signed at `now` with `app_secret`:
    /// the headers and the JSON body. `conversation` is `None` for a one-to-one chat, else the
    /// group's `(openConversationId, title)`; the session webhook points at this fake.
    pub fn callback(
        &self,
        app_secret: &str,
        msg_id: &str,
        sender_staff_id: &str,
        sender_nick: &str,
        conversation: Option<(&str, &str)>,
        text: &str,
    ) -> (Vec<(String, String)>, Vec<u8>) {
        let now = now_ms();
        let (kind, conversation_id, title) = match conversation {
            None => ("1", format!("cidSingle{sender_staff_id}"), Value::Null),
            Some((id, title)) => ("2", id.to_string(), Value::String(title.to_string())),
        };
        let body = json!({
            "conversationId": conversation_id,
            "atUsers": [],
            "chatbotCorpId": "dingfakecorp",
            "chatbotUserId": "$:LWCP_v1:$fakeRobot",
            "msgId": msg_id,
            "senderNick": sender_nick,
            "isAdmin": false,
            "senderStaffId": sender_staff_id,
            "sessionWebhookExpiredTime": now + 90 * 60 * 1000,
            "createAt": now,
            "senderCorpId": "dingfakecorp",
            "conversationType": kind,
            "senderId": format!("$:LWCP_v1:$enc{sender_staff_id}"),
            "conversationTitle": title,
            "isInAtList": true,
            "sessionWebhook": self.session_url(&format!("s-{msg_id}")),
            "text": {"content": if kind == "2" { format!(" {text}") } else { text.to_string() }},
            "msgtype": "text",
        });
        let timestamp = now.to_string();
        let headers = vec![
            ("content-type".to_string(), "application/json; charset=utf-8".to_string()),
            ("timestamp".to_string(), timestamp.clone()),
            ("sign".to_string(), sign(app_secret, &timestamp)),
        ];
        (headers, serde_json::to_vec(&body).unwrap())
    }
}

/// DingTalk's signature, computed here independently: base64(HMAC-SHA256(secret, ts + "\n" + secret)).
pub fn sign(secret: &str, timestamp: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}\n{secret}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn query(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn api_error(status: u16, code: &str, message: &str) -> Response {
    let body = json!({"code": code, "message": message, "requestid": "FAKE-REQUEST-ID"});
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

fn robot_answer(errcode: i64, errmsg: &str) -> Response {
    axum::Json(json!({"errcode": errcode, "errmsg": errmsg})).into_response()
}

/// Counts the request and pops an injected failure for `path`.
fn begin(state: &Shared, path: &str) -> Option<Failure> {
    let mut st = state.lock().unwrap();
    *st.requests.entry(path.to_string()).or_default() += 1;
    st.failures.get_mut(path).and_then(VecDeque::pop_front)
}

fn api_failure(f: Failure) -> Response {
    match f {
        Failure::ServerError => (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response(),
        Failure::QpsLimit => {
            api_error(403, "Forbidden.AccessDenied.QpsLimitForApi", "请求被拒绝，当前api调用qps超过限制")
        }
        Failure::InvalidToken => api_error(400, "InvalidAuthentication", "不合法的access_token"),
        Failure::Api { status, code, message } => api_error(status, &code, &message),
        Failure::Robot { errcode, errmsg } => robot_answer(errcode, &errmsg),
    }
}

async fn token(State(state): State<Shared>, body: Bytes) -> Response {
    state.lock().unwrap().token_requests += 1;
    if let Some(f) = begin(&state, TOKEN_PATH) {
        return api_failure(f);
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return api_error(400, "MissingBody", "body is mandatory for this action.");
    };
    if body["appKey"] != APP_KEY || body["appSecret"] != APP_SECRET {
        return api_error(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret");
    }
    let mut st = state.lock().unwrap();
    st.token_counter += 1;
    let value = format!("faketoken{:04}", st.token_counter);
    let lifetime = st.token_lifetime;
    st.tokens.insert(value.clone(), Instant::now() + Duration::from_secs(lifetime));
    axum::Json(json!({"accessToken": value, "expireIn": lifetime})).into_response()
}

/// Checks the token, the robot code and the template; returns `(msgKey, msgParam)`.
fn check_app_call(
    state: &Shared,
    headers: &HeaderMap,
    body: &Value,
) -> Result<(String, Value), Box<Response>> {
    let token = headers.get("x-acs-dingtalk-access-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    let valid = state.lock().unwrap().tokens.get(token).is_some_and(|exp| Instant::now() < *exp);
    if !valid {
        return Err(Box::new(api_error(400, "InvalidAuthentication", "不合法的access_token")));
    }
    if body["robotCode"] != ROBOT_CODE {
        return Err(Box::new(api_error(400, "invalidParameter.robotCode", "robotCode 不合法")));
    }
    let key = body["msgKey"].as_str().unwrap_or("").to_string();
    let Some(param) = body["msgParam"].as_str().and_then(|s| serde_json::from_str::<Value>(s).ok()) else {
        return Err(Box::new(api_error(400, "invalidParameter.msgParam", "msgParam 必须是 JSON 字符串")));
    };
    let mut required: Vec<String> = match key.as_str() {
        "sampleText" => vec!["content".into()],
        "sampleMarkdown" => vec!["title".into(), "text".into()],
        "sampleActionCard" => vec!["title".into(), "text".into(), "singleTitle".into(), "singleURL".into()],
        "sampleActionCard2" | "sampleActionCard3" | "sampleActionCard4" | "sampleActionCard5" => {
            let n: usize = key["sampleActionCard".len()..].parse().unwrap();
            let mut r = vec!["title".to_string(), "text".to_string()];
            for i in 1..=n {
                r.push(format!("actionTitle{i}"));
                r.push(format!("actionURL{i}"));
            }
            r
        }
        _ => return Err(Box::new(api_error(400, "invalidParameter.msgKey", "msgKey 不合法"))),
    };
    required.retain(|f| param[f.as_str()].as_str().is_none_or(str::is_empty));
    if !required.is_empty() {
        return Err(Box::new(api_error(
            400,
            "invalidParameter.msgParam",
            &format!("msgParam 缺少 {}", required.join(",")),
        )));
    }
    Ok((key, param))
}

async fn batch_send(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(f) = begin(&state, BATCH_SEND_PATH) {
        return api_failure(f);
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (key, param) = match check_app_call(&state, &headers, &body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let users: Vec<String> = body["userIds"]
        .as_array()
        .map(|a| a.iter().filter_map(|u| u.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if users.is_empty() || users.len() > 20 {
        return api_error(400, "invalidParameter.userIds", "userIds 数量须为 1-20");
    }
    let mut st = state.lock().unwrap();
    st.counter += 1;
    let pqk = format!("fakePQK{:04}", st.counter);
    let invalid: Vec<&String> = users.iter().filter(|u| st.unknown_users.contains(*u)).collect();
    let flow: Vec<&String> = users.iter().filter(|u| st.flow_controlled.contains(*u)).collect();
    let answer =
        json!({"processQueryKey": pqk, "invalidStaffIdList": invalid, "flowControlledStaffIdList": flow});
    let delivered: Vec<String> = users
        .iter()
        .filter(|u| !st.unknown_users.contains(*u) && !st.flow_controlled.contains(*u))
        .cloned()
        .collect();
    for u in delivered {
        st.sent.push(AppMessage {
            to: To::User(u),
            msg_key: key.clone(),
            msg_param: param.clone(),
            process_query_key: pqk.clone(),
        });
    }
    axum::Json(answer).into_response()
}

async fn group_send(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(f) = begin(&state, GROUP_SEND_PATH) {
        return api_failure(f);
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (key, param) = match check_app_call(&state, &headers, &body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(cid) = body["openConversationId"].as_str().filter(|c| !c.is_empty()) else {
        return api_error(400, "invalidParameter.openConversationId", "openConversationId 不能为空");
    };
    let mut st = state.lock().unwrap();
    if st.removed_groups.contains(cid) {
        return api_error(400, "resource.not.found", "群会话不存在");
    }
    st.counter += 1;
    let pqk = format!("fakePQK{:04}", st.counter);
    st.sent.push(AppMessage {
        to: To::Group(cid.to_string()),
        msg_key: key,
        msg_param: param,
        process_query_key: pqk.clone(),
    });
    axum::Json(json!({"processQueryKey": pqk})).into_response()
}

/// The text a robot body shows (for the keyword check), or `None` when it is not a valid body.
fn robot_text(body: &Value) -> Option<String> {
    let s = |v: &Value| v.as_str().map(str::to_string);
    match body["msgtype"].as_str()? {
        "text" => s(&body["text"]["content"]),
        "markdown" => Some(format!("{} {}", s(&body["markdown"]["title"])?, s(&body["markdown"]["text"])?)),
        "actionCard" => {
            Some(format!("{} {}", s(&body["actionCard"]["title"])?, s(&body["actionCard"]["text"])?))
        }
        "link" => Some(format!("{} {}", s(&body["link"]["title"])?, s(&body["link"]["text"])?)),
        "feedCard" => Some(
            body["feedCard"]["links"]
                .as_array()?
                .iter()
                .filter_map(|l| s(&l["title"]))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    }
}

async fn robot_send(State(state): State<Shared>, uri: Uri, body: Bytes) -> Response {
    if let Some(f) = begin(&state, ROBOT_PATH) {
        return robot_failure(f);
    }
    let token = query(&uri, "access_token").unwrap_or_default();
    let mut st = state.lock().unwrap();
    let limit = st.robot_limit;
    let Some(robot) = st.robots.get_mut(&token) else {
        return robot_answer(300001, "token is not exist");
    };
    if let Some(secret) = &robot.secret {
        let (Some(ts), Some(given)) = (query(&uri, "timestamp"), query(&uri, "sign")) else {
            return robot_answer(
                310000,
                "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]",
            );
        };
        let fresh = ts.parse::<i64>().is_ok_and(|t| (now_ms() - t).abs() <= 3_600_000);
        if !fresh {
            return robot_answer(310000, "invalid timestamp");
        }
        if given != sign(secret, &ts) {
            return robot_answer(
                310000,
                "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]",
            );
        }
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return robot_answer(40035, "缺少参数 json");
    };
    let Some(text) = robot_text(&body) else {
        return robot_answer(40035, "缺少参数 json");
    };
    if !robot.keywords.is_empty() && !robot.keywords.iter().any(|k| text.contains(k.as_str())) {
        return robot_answer(
            310000,
            "keywords not in content, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]",
        );
    }
    let now = Instant::now();
    while robot.accepted.front().is_some_and(|t| now.duration_since(*t) > Duration::from_secs(60)) {
        robot.accepted.pop_front();
    }
    if robot.accepted.len() >= limit {
        return robot_answer(130101, "send too fast, exceed 20 times per minute");
    }
    robot.accepted.push_back(now);
    robot.messages.push(body);
    robot_answer(0, "ok")
}

fn robot_failure(f: Failure) -> Response {
    match f {
        Failure::ServerError => (
            StatusCode::BAD_GATEWAY,
            [("content-type", "text/html")],
            "<html><body>502 Bad Gateway</body></html>",
        )
            .into_response(),
        Failure::Robot { errcode, errmsg } => robot_answer(errcode, &errmsg),
        other => api_failure(other),
    }
}

async fn session_send(State(state): State<Shared>, uri: Uri, body: Bytes) -> Response {
    if let Some(f) = begin(&state, SESSION_PATH) {
        return robot_failure(f);
    }
    let session = query(&uri, "session").unwrap_or_default();
    let Some(body) = serde_json::from_slice::<Value>(&body).ok().filter(|b| robot_text(b).is_some()) else {
        return robot_answer(40035, "缺少参数 json");
    };
    state.lock().unwrap().sessions.entry(session).or_default().push(body);
    robot_answer(0, "ok")
}
