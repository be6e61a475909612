//! The callback URL of a self-built app (接收消息服务器, documents 90930/90968, spec §2.4–2.7): URL
//! verification (`GET …&echostr=…`) and encrypted deliveries (`POST`, XML or the JSON variant), as
//! one pure function from the request to what to answer and what happened.

use jiff::Timestamp;
use serde::Deserialize;

use super::api::card_handle;
use super::crypto::{self, CryptoError};
use super::text::stable_id;
use crate::chat::{ButtonPress, ChatEvent, ChatId, ChatKind, ChatUpdate, ChatUser, IncomingMessage};

/// How far a callback's `timestamp` may be from our clock, either way. WeCom states no window; its
/// retries come within about 15 s, so 5 minutes covers them and a badly set clock, and refuses old
/// captured requests.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// The callback settings of a self-built app (应用管理 → 接收消息 → 设置API接收).
#[derive(Clone, PartialEq, Eq)]
pub struct CallbackSettings {
    /// `Token` (≤ 32 letters and digits).
    pub token: String,
    /// `EncodingAESKey` (43 characters).
    pub encoding_aes_key: String,
    /// The CorpID for a self-built app (empty for a robot callback).
    pub receive_id: String,
}

impl std::fmt::Debug for CallbackSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackSettings").field("receive_id", &self.receive_id).finish_non_exhaustive()
    }
}

/// An HTTP request to the callback URL, as the web layer saw it.
#[derive(Debug, Clone, Copy)]
pub struct CallbackRequest<'a> {
    /// `"GET"` or `"POST"`.
    pub method: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    /// WeCom's callbacks carry nothing needed in headers; kept for the providers' common shape.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub now: Timestamp,
}

/// What to answer: HTTP 200 with this content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackReply {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// What a verified callback was.
// The same shape for every provider; an update is taken once per request, so its size is harmless.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// URL verification: answer 200 with this body (the decrypted `echostr`) within 1 s.
    Reply { content_type: &'static str, body: Vec<u8> },
    /// A message or a button click. Store it, then answer `reply` (an empty 200); WeCom waits
    /// 5 s and retries twice on a timeout, so dedupe by [`ChatUpdate::id`].
    Update { update: ChatUpdate, reply: CallbackReply },
    /// Verified, but nothing zhiban acts on (`enter_agent`, a menu click, an image…).
    Ignored { what: String, reply: CallbackReply },
}

/// Why a callback was refused; nothing of a refused request was parsed past the failing check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("method {0} is not allowed: WeCom sends GET to verify and POST to deliver")]
    Method(String),
    #[error("the query has no {0}")]
    MissingParameter(&'static str),
    #[error("the body has no Encrypt value")]
    MissingEncrypt,
    #[error("the timestamp {0:?} is not a number of seconds")]
    BadTimestamp(String),
    #[error("the timestamp is {skew_secs} s away from our clock (at most {MAX_CLOCK_SKEW_SECS} s)")]
    Stale { skew_secs: i64 },
    #[error("msg_signature does not match")]
    BadSignature,
    #[error("the callback settings are wrong: {0}")]
    Settings(CryptoError),
    #[error("cannot decrypt: {0}")]
    Decrypt(CryptoError),
    #[error("the message is for another receive id")]
    ReceiveId,
    #[error("the body is not the expected XML/JSON: {0}")]
    Body(String),
}

impl CallbackError {
    /// The HTTP status to answer with: 405 for a wrong method, 403 for a bad signature, a stale
    /// timestamp or another receiver, 500 for our own bad settings, 400 otherwise.
    pub fn http_status(&self) -> u16 {
        match self {
            CallbackError::Method(_) => 405,
            CallbackError::BadSignature | CallbackError::Stale { .. } | CallbackError::ReceiveId => 403,
            CallbackError::Settings(_) => 500,
            _ => 400,
        }
    }
}

/// The answer WeCom wants to a delivery: 200 with an empty body.
pub fn empty_reply() -> CallbackReply {
    CallbackReply { content_type: "text/plain; charset=utf-8", body: Vec::new() }
}

/// Verifies and decrypts a callback, then maps it:
///
/// - `GET` with `msg_signature`, `timestamp`, `nonce`, `echostr` → [`CallbackOutcome::Reply`] with
///   the decrypted `echostr`;
/// - `POST` with `msg_signature`, `timestamp`, `nonce` and an XML body
///   `<xml><ToUserName/><Encrypt/><AgentID/></xml>` (or the JSON variant
///   `{"tousername","encrypt","agentid"}`) → the decrypted XML, mapped: `MsgType=text` →
///   [`ChatEvent::Message`] in the sender's private chat (an app only gets one-to-one messages);
///   `Event=template_card_event` / `template_card_menu_event` → [`ChatEvent::Button`] with
///   `data = EventKey`; anything else → [`CallbackOutcome::Ignored`].
///
/// Checks, in order: method, parameters, signature (SHA-1 over token, timestamp, nonce and the
/// ciphertext; constant-time), timestamp within [`MAX_CLOCK_SKEW_SECS`], decryption, receive id.
pub fn handle_callback(
    settings: &CallbackSettings,
    request: &CallbackRequest,
) -> Result<CallbackOutcome, CallbackError> {
    let method = request.method.to_ascii_uppercase();
    if method != "GET" && method != "POST" {
        return Err(CallbackError::Method(request.method.to_string()));
    }
    let query = parse_query(request.query);
    let param = |name: &'static str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .ok_or(CallbackError::MissingParameter(name))
    };
    let signature = param("msg_signature")?;
    let timestamp = param("timestamp")?;
    let nonce = param("nonce")?;
    let encrypted = if method == "GET" { param("echostr")? } else { outer_encrypt(request.body)? };
    if !crypto::signature_matches(&signature, &settings.token, &timestamp, &nonce, &encrypted) {
        return Err(CallbackError::BadSignature);
    }
    let sent: i64 = timestamp.trim().parse().map_err(|_| CallbackError::BadTimestamp(timestamp.clone()))?;
    let skew_secs = (request.now.as_second() - sent).abs();
    if skew_secs > MAX_CLOCK_SKEW_SECS {
        return Err(CallbackError::Stale { skew_secs });
    }
    let key = crypto::aes_key(&settings.encoding_aes_key).map_err(CallbackError::Settings)?;
    let decrypted = crypto::decrypt(&key, &encrypted).map_err(CallbackError::Decrypt)?;
    if decrypted.receive_id != settings.receive_id {
        return Err(CallbackError::ReceiveId);
    }
    if method == "GET" {
        return Ok(CallbackOutcome::Reply {
            content_type: "text/plain; charset=utf-8",
            body: decrypted.message.into_bytes(),
        });
    }
    map_message(&decrypted.message)
}

/// The decrypted XML of a delivery, mapped (exposed for tests and replays of stored plaintext).
pub fn map_message(xml: &str) -> Result<CallbackOutcome, CallbackError> {
    let m: Inner = quick_xml::de::from_str(xml).map_err(|e| CallbackError::Body(e.to_string()))?;
    let reply = empty_reply();
    let msg_type = m.msg_type.as_deref().map(str::trim).unwrap_or_default();
    let from = m.from_user.as_deref().map(str::trim).unwrap_or_default().to_string();
    let created = m.create_time.as_deref().and_then(|t| t.trim().parse::<i64>().ok()).unwrap_or(0);
    match msg_type {
        "text" => {
            if from.is_empty() {
                return Err(CallbackError::Body("a text message without FromUserName".into()));
            }
            let content = m.content.unwrap_or_default();
            let msg_id = m.msg_id.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
            let id = match msg_id.as_deref().map(str::parse::<i64>) {
                Some(Ok(n)) if n >= 0 => n,
                Some(_) => stable_id(&format!("wecom:msg:{}", msg_id.as_deref().unwrap_or_default())),
                None => stable_id(&format!("wecom:msg:{from}:{created}:{content}")),
            };
            let message = IncomingMessage {
                chat: ChatId(from.clone()),
                chat_kind: ChatKind::Private,
                chat_title: None,
                message_id: msg_id.unwrap_or_else(|| id.to_string()),
                from: user(&from),
                text: content,
                reply_to: None,
                attachments: Vec::new(),
                at: Timestamp::from_second(created).unwrap_or(Timestamp::UNIX_EPOCH),
            };
            Ok(CallbackOutcome::Update {
                update: ChatUpdate { id, event: ChatEvent::Message(message) },
                reply,
            })
        }
        "event" => {
            let event = m.event.as_deref().map(str::trim).unwrap_or_default();
            if !matches!(event, "template_card_event" | "template_card_menu_event") {
                return Ok(CallbackOutcome::Ignored { what: format!("WeCom event {event:?}"), reply });
            }
            if from.is_empty() {
                return Err(CallbackError::Body("a card event without FromUserName".into()));
            }
            let key = m.event_key.unwrap_or_default();
            let task_id = m.task_id.unwrap_or_default();
            let response_code = m.response_code.unwrap_or_default();
            let id = stable_id(&format!("wecom:card:{from}:{created}:{task_id}:{key}"));
            let press = ButtonPress {
                id: if response_code.is_empty() { id.to_string() } else { response_code.clone() },
                from: user(&from),
                chat: Some(ChatId(from.clone())),
                message_id: (!task_id.is_empty()).then(|| card_handle(&task_id, &response_code)),
                data: key,
            };
            Ok(CallbackOutcome::Update { update: ChatUpdate { id, event: ChatEvent::Button(press) }, reply })
        }
        other => Ok(CallbackOutcome::Ignored { what: format!("WeCom {other:?} message"), reply }),
    }
}

/// WeCom gives only the UserID; the display name is looked up by the core when it needs one.
fn user(id: &str) -> ChatUser {
    ChatUser { id: id.to_string(), username: None, display_name: id.to_string(), is_bot: false }
}

#[derive(Deserialize, Default)]
struct Inner {
    #[serde(rename = "FromUserName")]
    from_user: Option<String>,
    #[serde(rename = "CreateTime")]
    create_time: Option<String>,
    #[serde(rename = "MsgType")]
    msg_type: Option<String>,
    #[serde(rename = "Content")]
    content: Option<String>,
    #[serde(rename = "MsgId")]
    msg_id: Option<String>,
    #[serde(rename = "Event")]
    event: Option<String>,
    #[serde(rename = "EventKey")]
    event_key: Option<String>,
    #[serde(rename = "TaskId")]
    task_id: Option<String>,
    #[serde(rename = "ResponseCode")]
    response_code: Option<String>,
}

#[derive(Deserialize)]
struct OuterXml {
    #[serde(rename = "Encrypt")]
    encrypt: Option<String>,
}

#[derive(Deserialize)]
struct OuterJson {
    encrypt: Option<String>,
}

/// The `Encrypt` value of a delivery's body.
fn outer_encrypt(body: &[u8]) -> Result<String, CallbackError> {
    let text = std::str::from_utf8(body).map_err(|_| CallbackError::Body("not UTF-8".into()))?.trim();
    let encrypt = if text.starts_with('{') {
        serde_json::from_str::<OuterJson>(text).map_err(|e| CallbackError::Body(e.to_string()))?.encrypt
    } else {
        quick_xml::de::from_str::<OuterXml>(text).map_err(|e| CallbackError::Body(e.to_string()))?.encrypt
    };
    encrypt.map(|e| e.trim().to_string()).filter(|e| !e.is_empty()).ok_or(CallbackError::MissingEncrypt)
}

/// `k=v&…` percent-decoded. A `+` stays a `+`: `echostr` is base64, and a sender that does not
/// escape it must not have it turned into a space.
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}
