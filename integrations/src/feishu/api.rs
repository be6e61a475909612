//! Sending as the app (自建应用 with bot ability): tenant token, `im/v1/messages`, card updates.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::{ConfigError, is_token_error, map_api_error, map_status, network, quote};
use crate::chat::{Button, ChatId, MAX_BUTTON_DATA, OutgoingText, SendError};

/// Feishu (China).
pub const DEFAULT_API_BASE: &str = "https://open.feishu.cn";
/// Lark (international).
pub const LARK_API_BASE: &str = "https://open.larksuite.com";

/// Prefix of the handle [`FeishuApi::send_text`] returns for a plain text message (edited with
/// `PUT`, not `PATCH`). A card's handle is its bare `om_…` message id.
pub const TEXT_HANDLE_PREFIX: &str = "text:";

/// Feishu's limits on a request body \[doc\]: text 150 KB, cards 30 KB.
const MAX_TEXT_CONTENT: usize = 150 * 1024;
const MAX_CARD_CONTENT: usize = 30 * 1024;

/// Fetch a new tenant token this long before the old one expires (Feishu hands out a new one when
/// less than 30 minutes are left, the same one otherwise).
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Codes of a reply whose target is gone (recalled, deleted, invisible): send without the reply.
const REPLY_TARGET_GONE: [i64; 3] = [230011, 230110, 230050];

/// The app's settings. Private deployments (私有化飞书) change only `api_base`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeishuSettings {
    /// [`DEFAULT_API_BASE`], [`LARK_API_BASE`] or a private deployment's base URL (a path is kept).
    #[serde(default = "default_api_base")]
    pub api_base: String,
    pub app_id: String,
    pub app_secret: String,
}

fn default_api_base() -> String {
    DEFAULT_API_BASE.to_string()
}

impl FeishuSettings {
    pub fn new(app_id: impl Into<String>, app_secret: impl Into<String>) -> FeishuSettings {
        FeishuSettings { api_base: default_api_base(), app_id: app_id.into(), app_secret: app_secret.into() }
    }
}

impl std::fmt::Debug for FeishuSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeishuSettings")
            .field("api_base", &self.api_base)
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

struct CachedToken {
    value: String,
    refresh_at: Instant,
}

/// A refusal with Feishu's code, when there was one.
struct Failure {
    code: Option<i64>,
    error: SendError,
}

/// The Feishu app: sends and updates messages as its bot.
///
/// Addressing ([`ChatId`]): `oc_…` is a chat (a group, or a person's p2p chat with the bot),
/// `ou_…` a person's `open_id`, `on_…` a `union_id`, text with `@` an email, anything else a
/// `user_id`; an explicit `chat_id:`, `open_id:`, `user_id:`, `union_id:` or `email:` prefix
/// overrides the guess.
pub struct FeishuApi {
    base: String,
    settings: FeishuSettings,
    http: reqwest::Client,
    /// Held while a token is fetched: one refresh at a time; the others wait and reuse it.
    token: tokio::sync::Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for FeishuApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeishuApi").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl FeishuApi {
    pub fn new(settings: FeishuSettings, http: reqwest::Client) -> Result<FeishuApi, ConfigError> {
        if settings.app_id.trim().is_empty() || settings.app_secret.is_empty() {
            return Err(ConfigError::MissingCredentials);
        }
        let invalid =
            |reason: &str| ConfigError::InvalidBase { url: settings.api_base.clone(), reason: reason.into() };
        let url = reqwest::Url::parse(&settings.api_base).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(invalid("not an http(s) base URL"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("a query or fragment cannot be kept"));
        }
        let base = settings.api_base.trim_end_matches('/').to_string();
        Ok(FeishuApi { base, settings, http, token: tokio::sync::Mutex::new(None) })
    }

    /// Fetches a tenant token (or takes the cached one): checks the app's credentials.
    pub async fn check_credentials(&self) -> Result<(), SendError> {
        self.token().await.map(|_| ())
    }

    /// Sends `message` to `to`: an interactive card with one callback button per
    /// `message.buttons` entry (one row of buttons per row; a press comes back as
    /// [`ChatEvent::Button`](crate::chat::ChatEvent::Button) with the button's `data`), or a plain
    /// text message when there are no buttons. With `reply_to`, it is a reply in that message's
    /// chat (and `to` is not used), or a new message to `to` when that message is gone.
    ///
    /// Returns a handle for [`FeishuApi::edit_text`]: the card's `om_…` id, or
    /// `text:om_…` for a text message.
    pub async fn send_text(&self, to: &ChatId, message: &OutgoingText) -> Result<String, SendError> {
        let (msg_type, content) = compose(message)?;
        let handle = |data: Value| -> Result<String, SendError> {
            let id = data.get("message_id").and_then(Value::as_str).ok_or_else(|| {
                SendError::Transient("Feishu accepted the message but returned no message_id".into())
            })?;
            Ok(if msg_type == "text" { format!("{TEXT_HANDLE_PREFIX}{id}") } else { id.to_string() })
        };
        if let Some(reply_to) = message.reply_to.as_deref() {
            let target = message_id(reply_to)?;
            let body = json!({ "msg_type": msg_type, "content": content });
            match self.call(Method::POST, &format!("/open-apis/im/v1/messages/{target}/reply"), &body).await {
                Ok(data) => return handle(data),
                Err(Failure { code: Some(code), .. }) if REPLY_TARGET_GONE.contains(&code) => {}
                Err(failure) => return Err(failure.error),
            }
        }
        let (id_type, receive_id) = receiver(to)?;
        let body = json!({ "receive_id": receive_id, "msg_type": msg_type, "content": content });
        let data = self
            .call(Method::POST, &format!("/open-apis/im/v1/messages?receive_id_type={id_type}"), &body)
            .await
            .map_err(|f| f.error)?;
        handle(data)
    }

    /// Replaces a message the bot sent, by the handle [`FeishuApi::send_text`] returned: a card is
    /// updated in place for everyone (`PATCH`, the card is sent with `update_multi`), buttons
    /// removed when `message.buttons` is empty; a text message is edited (`PUT`, text only, at most
    /// 20 times, within Feishu's edit window). `to` is not needed by Feishu.
    pub async fn edit_text(
        &self,
        to: &ChatId,
        message_id: &str,
        message: &OutgoingText,
    ) -> Result<(), SendError> {
        let _ = to;
        if let Some(text_id) = message_id.strip_prefix(TEXT_HANDLE_PREFIX) {
            if !message.buttons.is_empty() {
                return Err(SendError::Rejected(
                    "Feishu cannot edit a text message into a card with buttons: send a new message".into(),
                ));
            }
            let target = self::message_id(text_id)?;
            let (msg_type, content) = compose(message)?;
            let body = json!({ "msg_type": msg_type, "content": content });
            self.call(Method::PUT, &format!("/open-apis/im/v1/messages/{target}"), &body)
                .await
                .map_err(|f| f.error)?;
            return Ok(());
        }
        let target = self::message_id(message_id)?;
        validate_buttons(&message.buttons)?;
        let content = card_content(&message.text, &message.buttons)?;
        self.call(
            Method::PATCH,
            &format!("/open-apis/im/v1/messages/{target}"),
            &json!({ "content": content }),
        )
        .await
        .map_err(|f| f.error)?;
        Ok(())
    }

    /// One authorised call; on a token error, one more with a fresh token. Returns `data`.
    async fn call(&self, method: Method, path: &str, body: &Value) -> Result<Value, Failure> {
        let url = format!("{}{path}", self.base);
        let mut retried = false;
        loop {
            let token = self.token().await.map_err(|error| Failure { code: None, error })?;
            let request = self.http.request(method.clone(), &url).bearer_auth(&token).json(body);
            let result = read(request.send().await, "calling the Feishu API").await;
            match result {
                Err(Failure { code: Some(code), .. }) if is_token_error(code) && !retried => {
                    retried = true;
                    self.forget_token(&token).await;
                }
                other => return other,
            }
        }
    }

    /// The cached tenant token, or a new one when it is due for refresh.
    async fn token(&self) -> Result<String, SendError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.refresh_at
        {
            return Ok(token.value.clone());
        }
        let fetched = self.fetch_token().await?;
        let value = fetched.value.clone();
        *cached = Some(fetched);
        Ok(value)
    }

    async fn forget_token(&self, used: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.value == used) {
            *cached = None;
        }
    }

    async fn fetch_token(&self) -> Result<CachedToken, SendError> {
        let url = format!("{}/open-apis/auth/v3/tenant_access_token/internal", self.base);
        let body = json!({ "app_id": self.settings.app_id, "app_secret": self.settings.app_secret });
        let asked = Instant::now();
        let answer = match read(
            self.http.post(&url).json(&body).send().await,
            "getting a Feishu tenant token",
        )
        .await
        {
            Ok(answer) => answer,
            Err(Failure { error: error @ (SendError::RetryAfter(_) | SendError::Transient(_)), .. }) => {
                return Err(error);
            }
            Err(Failure { error, .. }) => {
                let text = match error {
                    SendError::Rejected(t) | SendError::Unauthorized(t) | SendError::ChatGone(t) => t,
                    other => other.to_string(),
                };
                return Err(SendError::Unauthorized(format!("getting a tenant token: {text}")));
            }
        };
        // The token endpoint answers at the top level, not under `data`.
        let value = answer.get("tenant_access_token").and_then(Value::as_str).unwrap_or_default();
        if value.is_empty() {
            return Err(SendError::Transient("Feishu answered the token request without a token".into()));
        }
        let expire = Duration::from_secs(answer.get("expire").and_then(Value::as_u64).unwrap_or(7200));
        let margin = REFRESH_MARGIN.min(expire / 2);
        Ok(CachedToken { value: value.to_string(), refresh_at: asked + expire - margin })
    }
}

/// Reads an open API answer: `Ok(data)` for `code == 0` (`data`, or the whole answer when there is
/// no `data`), else the refusal.
async fn read(sent: Result<reqwest::Response, reqwest::Error>, what: &str) -> Result<Value, Failure> {
    let response = sent.map_err(|e| Failure { code: None, error: network(what, e) })?;
    let status = response.status().as_u16();
    let headers = response.headers();
    let wait = ["x-ogw-ratelimit-reset", "retry-after"]
        .iter()
        .find_map(|h| headers.get(*h)?.to_str().ok()?.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.max(1)));
    let text = response.text().await.map_err(|e| Failure { code: None, error: network(what, e) })?;
    let answer: Option<Value> = serde_json::from_str(&text).ok();
    let code = answer.as_ref().and_then(|v| v.get("code")).and_then(Value::as_i64);
    match (code, answer) {
        (Some(0), Some(mut answer)) if (200..300).contains(&status) => {
            let data = answer.get_mut("data").map(Value::take);
            Ok(match data {
                Some(data) if !data.is_null() => data,
                _ => answer,
            })
        }
        (Some(code), answer) if code != 0 => {
            let msg = answer.as_ref().and_then(|v| v.get("msg")).and_then(Value::as_str).unwrap_or_default();
            Err(Failure { code: Some(code), error: map_api_error(status, Some(code), msg, wait) })
        }
        _ if (200..300).contains(&status) => Err(Failure {
            code: None,
            error: SendError::Transient(format!("{what}: unreadable answer: {}", quote(&text))),
        }),
        _ => Err(Failure { code: None, error: map_status(status, &text, wait) }),
    }
}

/// `(receive_id_type, receive_id)` for a [`ChatId`].
pub(crate) fn receiver(to: &ChatId) -> Result<(&'static str, String), SendError> {
    let id = to.0.trim();
    for kind in ["chat_id", "open_id", "user_id", "union_id", "email"] {
        if let Some(rest) = id.strip_prefix(kind).and_then(|r| r.strip_prefix(':')) {
            return non_empty(kind, rest);
        }
    }
    let kind = if id.starts_with("oc_") {
        "chat_id"
    } else if id.starts_with("ou_") {
        "open_id"
    } else if id.starts_with("on_") {
        "union_id"
    } else if id.contains('@') {
        "email"
    } else {
        "user_id"
    };
    non_empty(kind, id)
}

fn non_empty(kind: &'static str, id: &str) -> Result<(&'static str, String), SendError> {
    let id = id.trim();
    if id.is_empty() || id.chars().any(char::is_whitespace) {
        return Err(SendError::Rejected(format!("{id:?} is not a Feishu {kind}")));
    }
    Ok((kind, id.to_string()))
}

/// A message id that is safe in a URL path (`om_…`).
fn message_id(id: &str) -> Result<&str, SendError> {
    let id = id.strip_prefix(TEXT_HANDLE_PREFIX).unwrap_or(id);
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        Ok(id)
    } else {
        Err(SendError::Rejected(format!("{id:?} is not a Feishu message id")))
    }
}

/// `(msg_type, content)` of a message: `text` without buttons, `interactive` with.
fn compose(message: &OutgoingText) -> Result<(&'static str, String), SendError> {
    if message.buttons.iter().all(Vec::is_empty) {
        if message.text.trim().is_empty() {
            return Err(SendError::Rejected("the message text is empty".into()));
        }
        let content = json!({ "text": message.text }).to_string();
        if content.len() > MAX_TEXT_CONTENT {
            return Err(SendError::Rejected(format!(
                "the text is {} bytes, more than Feishu's {MAX_TEXT_CONTENT}",
                content.len()
            )));
        }
        return Ok(("text", content));
    }
    validate_buttons(&message.buttons)?;
    Ok(("interactive", card_content(&message.text, &message.buttons)?))
}

fn validate_buttons(rows: &[Vec<Button>]) -> Result<(), SendError> {
    if let Some(b) = rows.iter().flatten().find(|b| b.data.is_empty() || b.data.len() > MAX_BUTTON_DATA) {
        return Err(SendError::Rejected(format!(
            "button {:?}: callback data must be 1-{MAX_BUTTON_DATA} bytes, not {}",
            b.label,
            b.data.len()
        )));
    }
    if let Some(b) = rows.iter().flatten().find(|b| b.label.trim().is_empty()) {
        return Err(SendError::Rejected(format!("the button with data {:?} has no label", b.data)));
    }
    Ok(())
}

/// A card (JSON 1.0): the text as `plain_text` (nothing in it is markup), then one `action` row of
/// callback buttons per row; `update_multi` so that a `PATCH` updates it for everyone.
pub(crate) fn card(text: &str, rows: &[Vec<Button>]) -> Value {
    let mut elements = Vec::new();
    if !text.trim().is_empty() {
        elements.push(json!({ "tag": "div", "text": { "tag": "plain_text", "content": text } }));
    }
    let mut first = true;
    for row in rows.iter().filter(|r| !r.is_empty()) {
        let actions: Vec<Value> = row
            .iter()
            .map(|b| {
                let kind = if std::mem::take(&mut first) { "primary" } else { "default" };
                json!({
                    "tag": "button",
                    "text": { "tag": "plain_text", "content": b.label },
                    "type": kind,
                    "value": { "data": b.data },
                })
            })
            .collect();
        elements.push(json!({ "tag": "action", "actions": actions }));
    }
    json!({ "config": { "wide_screen_mode": true, "update_multi": true }, "elements": elements })
}

fn card_content(text: &str, rows: &[Vec<Button>]) -> Result<String, SendError> {
    if text.trim().is_empty() && rows.iter().all(Vec::is_empty) {
        return Err(SendError::Rejected("the message text is empty".into()));
    }
    let content = card(text, rows).to_string();
    if content.len() > MAX_CARD_CONTENT {
        return Err(SendError::Rejected(format!(
            "the card is {} bytes, more than Feishu's {MAX_CARD_CONTENT}",
            content.len()
        )));
    }
    Ok(content)
}
