//! Sending as the enterprise app's robot through the OpenAPI (spec §3.4): an access token from
//! `/v1.0/oauth2/accessToken`, then `/v1.0/robot/oToMessages/batchSend` to a person or
//! `/v1.0/robot/groupMessages/send` to a group, and replies through a message's session webhook.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::{Value, json};

use super::error::{
    ConfigError, USER_FLOW_CONTROL_WAIT, is_token_error, map_api_error, network_error, quote,
};
use super::robot::{RobotMessage, derive_title, post_robot, robot_body};
use crate::chat::{Button, ChatId, OutgoingText, SendError};

/// The public OpenAPI host.
pub const DEFAULT_API_BASE: &str = "https://api.dingtalk.com";
/// The public host of the older API, robot webhooks and session webhooks.
pub const DEFAULT_OAPI_BASE: &str = "https://oapi.dingtalk.com";

/// The most buttons a robot ActionCard template takes (`sampleActionCard` … `sampleActionCard5`).
pub const MAX_BUTTONS: usize = 5;
/// DingTalk's limits on an ActionCard button: title ≤ 20 characters, URL ≤ 500 \[doc\].
pub const MAX_BUTTON_TITLE_CHARS: usize = 20;
pub const MAX_BUTTON_URL_CHARS: usize = 500;

/// How long before its announced expiry a token is replaced (at most half its lifetime).
const TOKEN_MARGIN: Duration = Duration::from_secs(300);

/// The app that sends: the OpenAPI and oapi bases (a private deployment — 政务钉钉/专属钉钉 —
/// changes only these), the app's credentials, and the robot's code (for an enterprise internal
/// app's robot it is usually the app key; empty means the app key).
#[derive(Clone, PartialEq, Eq)]
pub struct DingtalkSettings {
    pub api_base: String,
    pub oapi_base: String,
    pub app_key: String,
    pub app_secret: String,
    pub robot_code: String,
}

impl DingtalkSettings {
    /// Settings for the public DingTalk service.
    pub fn new(
        app_key: impl Into<String>,
        app_secret: impl Into<String>,
        robot_code: impl Into<String>,
    ) -> Self {
        DingtalkSettings {
            api_base: DEFAULT_API_BASE.to_string(),
            oapi_base: DEFAULT_OAPI_BASE.to_string(),
            app_key: app_key.into(),
            app_secret: app_secret.into(),
            robot_code: robot_code.into(),
        }
    }
}

impl std::fmt::Debug for DingtalkSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DingtalkSettings")
            .field("api_base", &self.api_base)
            .field("oapi_base", &self.oapi_base)
            .field("app_key", &self.app_key)
            .field("robot_code", &self.robot_code)
            .finish_non_exhaustive()
    }
}

/// Turns a button into the URL its ActionCard button opens (DingTalk robot buttons only open
/// links: see the module docs). Given the chat the card goes to.
pub type ButtonLinks = Arc<dyn Fn(&ChatId, &Button) -> String + Send + Sync>;

/// Where a [`ChatId`] sends to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A person, by userid (staffId): a one-to-one chat with the robot.
    User(String),
    /// A group, by its `openConversationId` (`cid…`).
    Group(String),
}

/// Reads a [`ChatId`]: `cid…` (DingTalk's open conversation ids) or `group:<id>` is a group;
/// `user:<id>` or anything else is a userid.
pub fn target(chat: &ChatId) -> Result<Target, SendError> {
    let id = chat.0.trim();
    let target = if let Some(rest) = id.strip_prefix("group:") {
        Target::Group(rest.to_string())
    } else if let Some(rest) = id.strip_prefix("user:") {
        Target::User(rest.to_string())
    } else if id.starts_with("cid") {
        Target::Group(id.to_string())
    } else {
        Target::User(id.to_string())
    };
    match &target {
        Target::User(s) | Target::Group(s) if s.is_empty() => {
            Err(SendError::Rejected(format!("{:?} is not a DingTalk userid or conversation id", chat.0)))
        }
        _ => Ok(target),
    }
}

/// A message's session webhook (§3.2): replies into that conversation without a token, until it
/// expires (about 90 minutes \[secondary\]).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionWebhook {
    pub url: String,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for SessionWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL is a bearer credential for the conversation.
        f.debug_struct("SessionWebhook").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct CachedToken {
    value: String,
    refresh_at: Instant,
}

struct Inner {
    api_base: String,
    oapi_base: String,
    app_key: String,
    app_secret: String,
    robot_code: String,
    http: reqwest::Client,
    /// Held while a token is fetched, so that one refresh happens at a time.
    token: tokio::sync::Mutex<Option<CachedToken>>,
}

/// The enterprise app's robot, sending through the OpenAPI. Cheap to clone (shares the token).
#[derive(Clone)]
pub struct DingtalkApi {
    inner: Arc<Inner>,
    button_links: Option<ButtonLinks>,
}

impl std::fmt::Debug for DingtalkApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DingtalkApi")
            .field("api_base", &self.inner.api_base)
            .field("app_key", &self.inner.app_key)
            .finish_non_exhaustive()
    }
}

/// A failed OpenAPI call: the neutral error, and whether it was the token's fault.
struct Failure {
    error: SendError,
    token_invalid: bool,
}

impl From<SendError> for Failure {
    fn from(error: SendError) -> Failure {
        Failure { error, token_invalid: false }
    }
}

impl DingtalkApi {
    pub fn new(settings: DingtalkSettings, http: reqwest::Client) -> Result<DingtalkApi, ConfigError> {
        let api_base = base_url("api_base", &settings.api_base)?;
        let oapi_base = base_url("oapi_base", &settings.oapi_base)?;
        if settings.app_key.trim().is_empty() {
            return Err(ConfigError::Empty("app_key"));
        }
        if settings.app_secret.trim().is_empty() {
            return Err(ConfigError::Empty("app_secret"));
        }
        let robot_code = match settings.robot_code.trim() {
            "" => settings.app_key.trim().to_string(),
            code => code.to_string(),
        };
        Ok(DingtalkApi {
            inner: Arc::new(Inner {
                api_base,
                oapi_base,
                app_key: settings.app_key.trim().to_string(),
                app_secret: settings.app_secret.trim().to_string(),
                robot_code,
                http,
                token: tokio::sync::Mutex::new(None),
            }),
            button_links: None,
        })
    }

    /// Sets how a button becomes the link its ActionCard button opens (typically a signed,
    /// expiring, single-use ack link served by zhiban). Without it, only buttons whose `data` is
    /// itself an `http(s)://` or `dingtalk://` URL can be sent.
    pub fn with_button_links(
        mut self,
        links: impl Fn(&ChatId, &Button) -> String + Send + Sync + 'static,
    ) -> Self {
        self.button_links = Some(Arc::new(links));
        self
    }

    /// A valid access token, from the cache or fetched (one fetch at a time).
    pub async fn access_token(&self) -> Result<String, SendError> {
        self.token(None).await
    }

    /// Sends `message` to a person (`to` = userid) or a group (`to` = `cid…` open conversation
    /// id), as the app's robot. Without buttons it is a `sampleText`; with buttons (at most
    /// [`MAX_BUTTONS`], rows flattened) a `sampleActionCard…` whose text is DingTalk markdown and
    /// whose buttons open links (see [`DingtalkApi::with_button_links`]). `reply_to` is ignored:
    /// robot messages cannot quote. Returns the `processQueryKey` (for recall and read receipts;
    /// robot messages cannot be edited).
    pub async fn send_text(&self, to: &ChatId, message: &OutgoingText) -> Result<String, SendError> {
        let target = target(to)?;
        let (msg_key, msg_param) = self.render(to, message)?;
        let msg_param = msg_param.to_string();
        let robot_code = &self.inner.robot_code;
        match &target {
            Target::User(user) => {
                let body = json!({"robotCode": robot_code, "userIds": [user], "msgKey": msg_key, "msgParam": msg_param});
                let answer = self.call("/v1.0/robot/oToMessages/batchSend", &body).await?;
                let listed = |field: &str| {
                    answer
                        .get(field)
                        .and_then(Value::as_array)
                        .is_some_and(|ids| ids.iter().any(|id| id.as_str() == Some(user.as_str())))
                };
                if listed("invalidStaffIdList") {
                    return Err(SendError::ChatGone(format!(
                        "DingTalk does not know the user {user:?} (not in the organisation or outside the app's visible range)"
                    )));
                }
                if listed("flowControlledStaffIdList") {
                    return Err(SendError::RetryAfter(USER_FLOW_CONTROL_WAIT));
                }
                Ok(query_key(&answer))
            }
            Target::Group(conversation) => {
                let body = json!({"robotCode": robot_code, "openConversationId": conversation, "msgKey": msg_key, "msgParam": msg_param});
                let answer = self.call("/v1.0/robot/groupMessages/send", &body).await?;
                Ok(query_key(&answer))
            }
        }
    }

    /// DingTalk robot messages (`sampleText`, `sampleActionCard…`) cannot be changed once sent;
    /// only interactive cards can, and those are not implemented (module docs). Always
    /// [`SendError::Rejected`], without a request.
    pub async fn edit_text(
        &self,
        to: &ChatId,
        message_id: &str,
        message: &OutgoingText,
    ) -> Result<(), SendError> {
        let _ = (to, message);
        Err(SendError::Rejected(format!(
            "DingTalk cannot edit a robot message ({message_id:?}): send a new one"
        )))
    }

    /// Replies into the conversation of an incoming message through its session webhook (no
    /// token, no signature). The URL must be on the configured `oapi_base` (a callback body must
    /// not make us POST elsewhere) and not expired; both are [`SendError::Rejected`].
    pub async fn reply_in_session(
        &self,
        session: &SessionWebhook,
        message: &RobotMessage,
    ) -> Result<(), SendError> {
        self.reply_in_session_at(session, message, Timestamp::now()).await
    }

    /// [`DingtalkApi::reply_in_session`] at a given time.
    pub async fn reply_in_session_at(
        &self,
        session: &SessionWebhook,
        message: &RobotMessage,
        now: Timestamp,
    ) -> Result<(), SendError> {
        let prefix = format!("{}/", self.inner.oapi_base);
        if !session.url.starts_with(&prefix) {
            return Err(SendError::Rejected(
                "the session webhook is not on the configured DingTalk oapi_base".to_string(),
            ));
        }
        if session.expires_at <= now {
            return Err(SendError::Rejected(format!(
                "the session webhook expired at {}",
                session.expires_at
            )));
        }
        post_robot(&self.inner.http, &session.url, &robot_body(message)?, "DingTalk session webhook").await
    }

    fn render(&self, to: &ChatId, message: &OutgoingText) -> Result<(&'static str, Value), SendError> {
        let text = message.text.trim_end();
        if text.trim().is_empty() {
            return Err(SendError::Rejected("a DingTalk message cannot be empty".to_string()));
        }
        let buttons: Vec<&Button> = message.buttons.iter().flatten().collect();
        if buttons.is_empty() {
            return Ok(("sampleText", json!({ "content": text })));
        }
        if buttons.len() > MAX_BUTTONS {
            return Err(SendError::Rejected(format!(
                "a DingTalk ActionCard takes at most {MAX_BUTTONS} buttons, not {}",
                buttons.len()
            )));
        }
        let mut links = Vec::with_capacity(buttons.len());
        for b in &buttons {
            let url = match &self.button_links {
                Some(make) => make(to, b),
                None if is_link(&b.data) => b.data.clone(),
                None => {
                    return Err(SendError::Rejected(format!(
                        "button {:?}: DingTalk robot buttons only open links and no button link maker is set",
                        b.label
                    )));
                }
            };
            if url.chars().count() > MAX_BUTTON_URL_CHARS || !is_link(&url) {
                return Err(SendError::Rejected(format!(
                    "button {:?}: its link must be an http(s) or dingtalk URL of at most {MAX_BUTTON_URL_CHARS} characters",
                    b.label
                )));
            }
            let title: String = b.label.trim().chars().take(MAX_BUTTON_TITLE_CHARS).collect();
            links.push((title, url));
        }
        let mut param = serde_json::Map::new();
        param.insert("title".into(), Value::String(derive_title("", text)));
        param.insert("text".into(), Value::String(card_markdown(text)));
        let key = if let [(title, url)] = links.as_slice() {
            param.insert("singleTitle".into(), Value::String(title.clone()));
            param.insert("singleURL".into(), Value::String(url.clone()));
            "sampleActionCard"
        } else {
            for (i, (title, url)) in links.iter().enumerate() {
                param.insert(format!("actionTitle{}", i + 1), Value::String(title.clone()));
                param.insert(format!("actionURL{}", i + 1), Value::String(url.clone()));
            }
            ["", "", "sampleActionCard2", "sampleActionCard3", "sampleActionCard4", "sampleActionCard5"]
                [links.len()]
        };
        Ok((key, Value::Object(param)))
    }

    async fn token(&self, stale: Option<&str>) -> Result<String, SendError> {
        let mut cached = self.inner.token.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.refresh_at
            && stale != Some(token.value.as_str())
        {
            return Ok(token.value.clone());
        }
        *cached = None;
        let fresh = self.fetch_token().await?;
        *cached = Some(fresh.clone());
        Ok(fresh.value)
    }

    async fn fetch_token(&self) -> Result<CachedToken, SendError> {
        let url = format!("{}/v1.0/oauth2/accessToken", self.inner.api_base);
        let body = json!({"appKey": self.inner.app_key, "appSecret": self.inner.app_secret});
        let answer = self.post(&url, &body, None).await.map_err(|f| match f.error {
            // Bad credentials come back as 400s: not a problem of one message.
            SendError::Rejected(text) | SendError::ChatGone(text) => SendError::Unauthorized(text),
            other => other,
        })?;
        let value =
            answer.get("accessToken").and_then(Value::as_str).filter(|t| !t.is_empty()).ok_or_else(|| {
                SendError::Transient("DingTalk accessToken: an answer without accessToken".to_string())
            })?;
        let lifetime = Duration::from_secs(answer.get("expireIn").and_then(Value::as_u64).unwrap_or(7200));
        let margin = TOKEN_MARGIN.min(lifetime / 2);
        Ok(CachedToken { value: value.to_string(), refresh_at: Instant::now() + lifetime - margin })
    }

    /// POSTs to an OpenAPI path with the token; on a token error, refreshes it once and retries.
    async fn call(&self, path: &str, body: &Value) -> Result<Value, SendError> {
        let url = format!("{}{path}", self.inner.api_base);
        let token = self.token(None).await?;
        match self.post(&url, body, Some(&token)).await {
            Ok(answer) => Ok(answer),
            Err(Failure { token_invalid: true, .. }) => {
                let token = self.token(Some(&token)).await?;
                self.post(&url, body, Some(&token)).await.map_err(|f| f.error)
            }
            Err(f) => Err(f.error),
        }
    }

    async fn post(&self, url: &str, body: &Value, token: Option<&str>) -> Result<Value, Failure> {
        let what = url.rsplit_once("/v1.0/").map_or(url, |(_, p)| p);
        let mut request = self.inner.http.post(url).json(body);
        if let Some(token) = token {
            request = request.header("x-acs-dingtalk-access-token", token);
        }
        let response = request.send().await.map_err(|e| network_error(what, e))?;
        let status = response.status();
        let raw = response.text().await.map_err(|e| network_error(what, e))?;
        let answer: Option<Value> = serde_json::from_str(&raw).ok();
        if status.is_success() {
            return answer.ok_or_else(|| {
                SendError::Transient(format!("DingTalk {what}: unreadable answer: {}", quote(&raw))).into()
            });
        }
        let field =
            |name: &str| answer.as_ref().and_then(|a| a.get(name)).and_then(Value::as_str).unwrap_or("");
        let (code, message) = (field("code"), field("message"));
        let message = if code.is_empty() && message.is_empty() { quote(&raw) } else { message.to_string() };
        Err(Failure {
            error: map_api_error(status.as_u16(), code, &format!("{what}: {message}")),
            token_invalid: is_token_error(code) || status.as_u16() == 401,
        })
    }
}

fn query_key(answer: &Value) -> String {
    answer.get("processQueryKey").and_then(Value::as_str).unwrap_or_default().to_string()
}

fn is_link(s: &str) -> bool {
    let lower = s.trim().to_ascii_lowercase();
    ["http://", "https://", "dingtalk://"].iter().any(|p| lower.starts_with(p))
        && !s.chars().any(char::is_whitespace)
}

/// A plain text as DingTalk markdown: every line break kept (a single `\n` is not a break in
/// DingTalk markdown, so each becomes a paragraph break).
fn card_markdown(text: &str) -> String {
    text.lines().map(str::trim_end).collect::<Vec<_>>().join("\n\n")
}

fn base_url(what: &'static str, raw: &str) -> Result<String, ConfigError> {
    let trimmed = raw.trim().trim_end_matches('/');
    let invalid = |reason: String| ConfigError::InvalidUrl { what, reason: format!("{trimmed:?}: {reason}") };
    let url = reqwest::Url::parse(trimmed).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid("not an http(s) base URL".to_string()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a base URL has no query or fragment".to_string()));
    }
    Ok(trimmed.to_string())
}
