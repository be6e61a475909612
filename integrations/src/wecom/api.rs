//! A self-built app (自建应用) sending as itself: `gettoken`, `message/send`,
//! `message/update_template_card` and `appchat/send` (spec §2.1–2.3).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::error::{is_token_error, map_errcode, map_reqwest, map_status};
use super::text::{truncate_bytes, truncate_chars};
use crate::chat::{Button, ChatId, OutgoingText, SendError};

/// The public WeCom API.
pub const DEFAULT_API_BASE: &str = "https://qyapi.weixin.qq.com";

/// A card's main title is cut to this many characters (WeCom suggests at most 26); the rest of a
/// longer first line moves to the text below it.
pub const MAX_CARD_TITLE_CHARS: usize = 26;
/// A card's `sub_title_text` is cut to this many characters (WeCom suggests at most 112).
pub const MAX_CARD_TEXT_CHARS: usize = 112;
/// `button_list` holds at most 6 buttons.
pub const MAX_CARD_BUTTONS: usize = 6;
/// A button's `key` is at most 1024 bytes.
pub const MAX_BUTTON_KEY_BYTES: usize = 1024;
/// `text` content of an app message, in bytes.
pub const MAX_APP_TEXT_BYTES: usize = 2048;
/// What the buttons of a card edited to have none show (greyed out).
pub const DONE_LABEL: &str = "已处理";

/// A token is refreshed this long before WeCom says it expires (or at half its life, if shorter).
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// A self-built app's credentials and the API's base URL.
#[derive(Clone, PartialEq, Eq)]
pub struct WecomSettings {
    /// [`DEFAULT_API_BASE`], or a private deployment's (政务微信, 粤政易…); a base path is kept:
    /// calls go to `{api_base}/cgi-bin/…`.
    pub api_base: String,
    /// The CorpID (`ww…`).
    pub corp_id: String,
    /// The app's AgentId.
    pub agent_id: i64,
    /// The app's Secret.
    pub secret: String,
}

impl WecomSettings {
    pub fn new(corp_id: impl Into<String>, agent_id: i64, secret: impl Into<String>) -> WecomSettings {
        WecomSettings {
            api_base: DEFAULT_API_BASE.to_string(),
            corp_id: corp_id.into(),
            agent_id,
            secret: secret.into(),
        }
    }
}

impl std::fmt::Debug for WecomSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WecomSettings")
            .field("api_base", &self.api_base)
            .field("corp_id", &self.corp_id)
            .field("agent_id", &self.agent_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Why [`WecomApi::new`] refused its settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid WeCom API base URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("the WeCom {0} is empty")]
    Empty(&'static str),
}

struct CachedToken {
    value: String,
    refresh_at: Instant,
}

/// Where a message goes, from a [`ChatId`]:
///
/// - `zhangsan` — a member, by UserID (one only: no `|`, not `@all`);
/// - `party:2` — a department (`toparty`), `tag:5` — a tag (`totag`): how a team gets a card with
///   buttons;
/// - `appchat:CHATID` — a group chat created by the app (`appchat/create`), through `appchat/send`
///   [secondary]: text only, WeCom has no callback buttons there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    User(String),
    Party(String),
    Tag(String),
    AppChat(String),
}

impl Target {
    pub fn parse(chat: &ChatId) -> Result<Target, SendError> {
        let s = chat.0.trim();
        let bad = |why: &str| SendError::Rejected(format!("{:?} is not a WeCom recipient: {why}", chat.0));
        let (kind, id) = match s.split_once(':') {
            Some((k @ ("party" | "tag" | "appchat"), id)) => (k, id.trim()),
            _ => ("user", s),
        };
        if id.is_empty() {
            return Err(bad("empty"));
        }
        if id.contains('|') || id.eq_ignore_ascii_case("@all") {
            return Err(bad("one recipient at a time"));
        }
        Ok(match kind {
            "party" => Target::Party(id.to_string()),
            "tag" => Target::Tag(id.to_string()),
            "appchat" => Target::AppChat(id.to_string()),
            _ => Target::User(id.to_string()),
        })
    }

    /// `touser`/`toparty`/`totag` and the answer's field listing it as invalid.
    fn fields(&self) -> Option<(&'static str, &'static str, &str)> {
        match self {
            Target::User(id) => Some(("touser", "invaliduser", id)),
            Target::Party(id) => Some(("toparty", "invalidparty", id)),
            Target::Tag(id) => Some(("totag", "invalidtag", id)),
            Target::AppChat(_) => None,
        }
    }
}

/// The handle [`WecomApi::send_text`] returns for a card, and [`ButtonPress::message_id`]
/// carries for a click: `{task_id}:{response_code}`. A `task_id` has no `:` (letters, digits,
/// `_-@`).
///
/// [`ButtonPress::message_id`]: crate::chat::ButtonPress::message_id
pub fn card_handle(task_id: &str, response_code: &str) -> String {
    format!("{task_id}:{response_code}")
}

/// `(task_id, response_code)` of a card handle.
pub fn parse_card_handle(handle: &str) -> Option<(&str, &str)> {
    handle.split_once(':').filter(|(t, c)| !t.is_empty() && !c.is_empty())
}

/// A WeCom self-built app: cached access token, messages, card updates. Cheap to clone (clones
/// share the token).
#[derive(Clone)]
pub struct WecomApi {
    http: reqwest::Client,
    settings: Arc<WecomSettings>,
    base: String,
    token: Arc<tokio::sync::Mutex<Option<CachedToken>>>,
    token_fetches: Arc<AtomicU64>,
}

impl std::fmt::Debug for WecomApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WecomApi").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl WecomApi {
    pub fn new(settings: WecomSettings, http: reqwest::Client) -> Result<WecomApi, ConfigError> {
        let raw = settings.api_base.trim().trim_end_matches('/');
        let invalid =
            |reason: &str| ConfigError::InvalidUrl { url: settings.api_base.clone(), reason: reason.into() };
        let url = reqwest::Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(invalid("not an http(s) base URL"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("a query or fragment cannot be kept"));
        }
        if settings.corp_id.trim().is_empty() {
            return Err(ConfigError::Empty("corp id"));
        }
        if settings.secret.trim().is_empty() {
            return Err(ConfigError::Empty("secret"));
        }
        Ok(WecomApi {
            http,
            base: raw.to_string(),
            settings: Arc::new(settings),
            token: Arc::new(tokio::sync::Mutex::new(None)),
            token_fetches: Arc::new(AtomicU64::new(0)),
        })
    }

    /// How many times this app (and its clones) called `gettoken`.
    pub fn token_fetches(&self) -> u64 {
        self.token_fetches.load(Ordering::Relaxed)
    }

    /// The access token: the cached one until shortly before it expires, else a fresh one from
    /// `gettoken`. One fetch at a time: callers wait for the one in flight.
    pub async fn access_token(&self) -> Result<String, SendError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref()
            && Instant::now() < t.refresh_at
        {
            return Ok(t.value.clone());
        }
        let (value, expires_in) = self.fetch_token().await?;
        let life = Duration::from_secs(expires_in);
        let margin = REFRESH_MARGIN.min(life / 2);
        *cached = Some(CachedToken { value: value.clone(), refresh_at: Instant::now() + (life - margin) });
        Ok(value)
    }

    /// Forgets `used` if it is still the cached token (after WeCom called it invalid or expired).
    async fn invalidate(&self, used: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.value == used) {
            *cached = None;
        }
    }

    async fn fetch_token(&self) -> Result<(String, u64), SendError> {
        self.token_fetches.fetch_add(1, Ordering::Relaxed);
        let what = "WeCom gettoken";
        let mut url = self.url("gettoken")?;
        url.query_pairs_mut()
            .append_pair("corpid", &self.settings.corp_id)
            .append_pair("corpsecret", &self.settings.secret);
        let response = self.http.get(url).send().await.map_err(|e| map_reqwest(e, what))?;
        let answer = read_answer(response, what).await?;
        match errcode(&answer) {
            0 => {}
            code => return Err(map_errcode(code, errmsg(&answer))),
        }
        let token = answer
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| SendError::Transient(format!("{what}: no access_token in the answer")))?;
        let expires_in = answer.get("expires_in").and_then(Value::as_u64).unwrap_or(7200);
        Ok((token.to_string(), expires_in))
    }

    fn url(&self, method: &str) -> Result<reqwest::Url, SendError> {
        reqwest::Url::parse(&format!("{}/cgi-bin/{method}", self.base))
            .map_err(|e| SendError::Rejected(format!("WeCom URL for {method}: {e}")))
    }

    /// `POST /cgi-bin/{method}?access_token=…`; on 40014/41001/42001 the token is fetched again
    /// and the call made once more.
    async fn call(&self, method: &str, body: &Value) -> Result<Value, SendError> {
        let what = format!("WeCom {method}");
        let mut retried = false;
        loop {
            let token = self.access_token().await?;
            let mut url = self.url(method)?;
            url.query_pairs_mut().append_pair("access_token", &token);
            let response = self.http.post(url).json(body).send().await.map_err(|e| map_reqwest(e, &what))?;
            let answer = read_answer(response, &what).await?;
            match errcode(&answer) {
                0 => return Ok(answer),
                code if is_token_error(code) && !retried => {
                    self.invalidate(&token).await;
                    retried = true;
                }
                code => return Err(map_errcode(code, errmsg(&answer))),
            }
        }
    }

    /// Sends `message` to `to` (see [`Target`] for how `to` is written).
    ///
    /// - Without buttons: a `text` message (the text is plain, nothing is markup), cut to 2048
    ///   bytes; returns WeCom's `msgid`, which cannot be edited.
    /// - With buttons: a `template_card` of type `button_interaction`: the first line is the main
    ///   title, the rest the text below it (cut, see [`MAX_CARD_TITLE_CHARS`] and
    ///   [`MAX_CARD_TEXT_CHARS`]); one button per [`Button`] in reading order (at most 6; `key` =
    ///   `data`), whose clicks come back as `template_card_event`s. Returns a card handle
    ///   ([`card_handle`]) for [`WecomApi::edit_text`].
    /// - To an `appchat:`: a `text` message through `appchat/send`, buttons left out (WeCom has
    ///   none there); returns `appchat`.
    ///
    /// `reply_to` is ignored: WeCom app messages do not thread. A recipient WeCom lists in
    /// `invaliduser`/`invalidparty`/`invalidtag` (or `unlicenseduser`) is [`SendError::ChatGone`].
    pub async fn send_text(&self, to: &ChatId, message: &OutgoingText) -> Result<String, SendError> {
        let target = Target::parse(to)?;
        if message.text.trim().is_empty() {
            return Err(SendError::Rejected("WeCom refuses an empty message".to_string()));
        }
        let text = json!({ "content": truncate_bytes(&message.text, MAX_APP_TEXT_BYTES) });
        if let Target::AppChat(chat) = &target {
            let body = json!({ "chatid": chat, "msgtype": "text", "text": text, "safe": 0 });
            self.call("appchat/send", &body).await?;
            return Ok("appchat".to_string());
        }
        let (to_field, invalid_field, id) =
            target.fields().ok_or_else(|| SendError::Rejected("no WeCom recipient".to_string()))?;
        let mut body = json!({ "agentid": self.settings.agent_id });
        body[to_field] = json!(id);
        let task_id = if message.buttons.is_empty() {
            body["msgtype"] = json!("text");
            body["text"] = text;
            None
        } else {
            let task_id = new_task_id();
            body["msgtype"] = json!("template_card");
            body["template_card"] = card(&task_id, message)?;
            Some(task_id)
        };
        let answer = self.call("message/send", &body).await?;
        for field in [invalid_field, "unlicenseduser"] {
            let listed = answer.get(field).and_then(Value::as_str).unwrap_or_default();
            if listed.split('|').any(|x| x == id) {
                return Err(SendError::ChatGone(format!("WeCom lists {id:?} in {field}")));
            }
        }
        let msgid = answer.get("msgid").and_then(Value::as_str).unwrap_or_default().to_string();
        Ok(match task_id {
            Some(task_id) => {
                let code = answer.get("response_code").and_then(Value::as_str).unwrap_or_default();
                card_handle(&task_id, code)
            }
            None => msgid,
        })
    }

    /// Updates a card in place with `message_update_template_card`, using the response code in
    /// `message_id`: the handle [`WecomApi::send_text`] returned, or a click's
    /// [`ButtonPress::message_id`](crate::chat::ButtonPress::message_id). The card keeps its
    /// `task_id` and gets the new text and buttons; with no buttons, its buttons are greyed out
    /// showing [`DONE_LABEL`] (`replace_text` [secondary]).
    ///
    /// A response code works once and for 72 h, so each handle edits once; a later click brings a
    /// fresh one. A text message, or a handle without a code, is [`SendError::Rejected`] ("cannot
    /// edit"), so the caller sends anew.
    pub async fn edit_text(
        &self,
        to: &ChatId,
        message_id: &str,
        message: &OutgoingText,
    ) -> Result<(), SendError> {
        let target = Target::parse(to)?;
        let Some((task_id, code)) = parse_card_handle(message_id) else {
            return Err(SendError::Rejected(
                "WeCom cannot edit this message: only a card with buttons, with a response code, can be updated"
                    .to_string(),
            ));
        };
        if message.text.trim().is_empty() {
            return Err(SendError::Rejected("WeCom refuses an empty card".to_string()));
        }
        let mut body = json!({
            "agentid": self.settings.agent_id,
            "response_code": code,
            "template_card": card(task_id, message)?,
        });
        match &target {
            Target::User(id) => body["userids"] = json!([id]),
            Target::Party(_) | Target::Tag(_) => body["atall"] = json!(1),
            Target::AppChat(_) => {
                return Err(SendError::Rejected(
                    "WeCom cannot edit a message in an app group chat".to_string(),
                ));
            }
        }
        self.call("message/update_template_card", &body).await?;
        Ok(())
    }
}

/// The `button_interaction` card for `message`.
fn card(task_id: &str, message: &OutgoingText) -> Result<Value, SendError> {
    let buttons: Vec<&Button> = message.buttons.iter().flatten().collect();
    if buttons.len() > MAX_CARD_BUTTONS {
        return Err(SendError::Rejected(format!(
            "a WeCom card holds at most {MAX_CARD_BUTTONS} buttons, not {}",
            buttons.len()
        )));
    }
    if let Some(b) = buttons.iter().find(|b| b.data.is_empty() || b.data.len() > MAX_BUTTON_KEY_BYTES) {
        return Err(SendError::Rejected(format!(
            "button {:?}: its key must be 1-{MAX_BUTTON_KEY_BYTES} bytes, not {}",
            b.label,
            b.data.len()
        )));
    }
    let text = message.text.trim();
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let first = first.trim();
    let (title, rest) = if first.chars().count() > MAX_CARD_TITLE_CHARS {
        (truncate_chars(first, MAX_CARD_TITLE_CHARS), format!("{first}\n{}", rest.trim()))
    } else {
        (first.to_string(), rest.trim().to_string())
    };
    let mut card = json!({
        "card_type": "button_interaction",
        "main_title": { "title": title },
        "task_id": task_id,
    });
    let rest = rest.trim();
    if !rest.is_empty() {
        card["sub_title_text"] = json!(truncate_chars(rest, MAX_CARD_TEXT_CHARS));
    }
    if buttons.is_empty() {
        card["replace_text"] = json!(DONE_LABEL);
    } else {
        card["button_list"] = buttons.iter().map(|b| json!({ "text": b.label, "key": b.data })).collect();
    }
    Ok(card)
}

/// A `task_id` unique within the app: letters, digits and `-`, 30-odd bytes (≤ 128 allowed).
fn new_task_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    let random = RandomState::new().hash_one((n, millis, std::process::id()));
    format!("zb-{millis}-{n}-{:08x}", random as u32)
}

async fn read_answer(response: reqwest::Response, what: &str) -> Result<Value, SendError> {
    let status = response.status();
    if !status.is_success() {
        return Err(map_status(status, what));
    }
    let bytes = response.bytes().await.map_err(|e| map_reqwest(e, what))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| SendError::Transient(format!("{what}: an answer that is not JSON")))
}

fn errcode(answer: &Value) -> i64 {
    // An answer without errcode is a success only if it says nothing else (gettoken always has it).
    answer.get("errcode").and_then(Value::as_i64).unwrap_or(0)
}

fn errmsg(answer: &Value) -> &str {
    answer.get("errmsg").and_then(Value::as_str).unwrap_or_default()
}
