//! Inbound requests to the app's request URL (事件订阅 / 卡片回调): URL verification, messages
//! (`im.message.receive_v1`, schema 2.0) and button presses (`card.action.trigger`, and the old
//! card callback format).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::crypto::decrypt;
use super::error::CallbackError;
use super::sign::{card_signature, event_signature, same, stable_id, within_window};
use crate::chat::{ButtonPress, ChatEvent, ChatId, ChatKind, ChatUpdate, ChatUser, IncomingMessage};

/// How far `X-Lark-Request-Timestamp` may be from now, either way. Feishu publishes no window;
/// an hour (like the custom bot's) bounds replays without refusing Feishu's quick retries.
pub const CALLBACK_WINDOW_SECS: i64 = 3600;

pub const TIMESTAMP_HEADER: &str = "X-Lark-Request-Timestamp";
pub const NONCE_HEADER: &str = "X-Lark-Request-Nonce";
pub const SIGNATURE_HEADER: &str = "X-Lark-Signature";

/// The app's event settings (开发者后台 → 事件与回调 → 加密策略).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CallbackSettings {
    /// Verification Token: every callback carries it (`token` / `header.token`).
    pub verification_token: String,
    /// Encrypt Key, when set in the console: bodies arrive encrypted and signed.
    #[serde(default)]
    pub encrypt_key: Option<String>,
}

impl std::fmt::Debug for CallbackSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackSettings")
            .field("encrypted", &self.encrypt_key.is_some())
            .finish_non_exhaustive()
    }
}

/// One HTTP request to the callback route, as received.
#[derive(Debug, Clone, Copy)]
pub struct CallbackRequest<'a> {
    /// `"GET"` or `"POST"`.
    pub method: &'a str,
    /// The raw query string (Feishu puts nothing there).
    pub query: &'a str,
    pub headers: &'a [(String, String)],
    /// The raw body: signatures cover these exact bytes.
    pub body: &'a [u8],
    pub now: jiff::Timestamp,
}

/// What to answer: HTTP 200 with this body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackReply {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// What [`handle_callback`] found. The shape is shared by the WeCom, DingTalk and Feishu modules
/// (an unboxed `ChatUpdate`, so the core matches all three alike).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// Feishu's URL verification: answer its challenge.
    Reply { content_type: &'static str, body: Vec<u8> },
    /// A message or a button press. Store it, then answer `reply` (within 3 s).
    Update { update: ChatUpdate, reply: CallbackReply },
    /// A genuine callback the bot does not act on.
    Ignored { what: String, reply: CallbackReply },
}

/// Checks and reads a callback.
///
/// Order of checks: first the signature headers over the raw body — `X-Lark-Signature` =
/// SHA-256 over timestamp, nonce, Encrypt Key and body, or (old card callbacks) SHA-1 over
/// timestamp, nonce, Verification Token and body — with the timestamp within
/// [`CALLBACK_WINDOW_SECS`]; a mismatch with an Encrypt Key configured is refused before anything
/// is decrypted or parsed. Then an `encrypt` field is decrypted. A URL verification is answered
/// after its token is checked (Feishu does not sign those). Any other callback must have been
/// signed when an Encrypt Key is configured (old card callbacks always), and must carry the
/// Verification Token. Only then is the event read.
pub fn handle_callback(
    settings: &CallbackSettings,
    request: &CallbackRequest,
) -> Result<CallbackOutcome, CallbackError> {
    if !request.method.eq_ignore_ascii_case("POST") {
        return Err(CallbackError::Method(request.method.to_string()));
    }
    let encrypt_key = settings.encrypt_key.as_deref().filter(|k| !k.is_empty());

    // The signature first, over the raw bytes: nothing is decrypted or parsed before it holds.
    let signature = match (
        header(request, TIMESTAMP_HEADER),
        header(request, NONCE_HEADER),
        header(request, SIGNATURE_HEADER),
    ) {
        (Some(ts), Some(nonce), Some(signature)) => Some((ts, nonce, signature)),
        _ => None,
    };
    // Which scheme the signature matched: events (SHA-256 with the Encrypt Key) or old card
    // callbacks (SHA-1 with the Verification Token).
    let (mut by_event, mut by_card) = (false, false);
    let mut mismatched = false;
    if let Some((ts, nonce, signature)) = signature {
        by_event =
            encrypt_key.is_some_and(|key| same(&event_signature(ts, nonce, key, request.body), signature));
        by_card = !settings.verification_token.is_empty()
            && same(&card_signature(ts, nonce, &settings.verification_token, request.body), signature);
        if by_event || by_card {
            if !within_window(ts, request.now, CALLBACK_WINDOW_SECS) {
                return Err(CallbackError::StaleTimestamp);
            }
        } else if encrypt_key.is_some() {
            return Err(CallbackError::BadSignature);
        } else {
            // Without an Encrypt Key Feishu's event signature is not meaningful (its SDK skips
            // it); only the old card callback's signature is checked then, below.
            mismatched = true;
        }
    }

    let outer: Value =
        serde_json::from_slice(request.body).map_err(|e| CallbackError::Malformed(e.to_string()))?;
    if !outer.is_object() {
        return Err(CallbackError::Malformed("not a JSON object".into()));
    }
    let plain: Value = match outer.get("encrypt").and_then(Value::as_str) {
        Some(encrypted) => {
            let key = encrypt_key.ok_or(CallbackError::NoEncryptKey)?;
            let bytes = decrypt(key, encrypted)?;
            serde_json::from_slice(&bytes).map_err(|e| CallbackError::Malformed(format!("decrypted: {e}")))?
        }
        None => outer,
    };

    // Feishu does not sign URL verifications; the token inside is the check.
    if plain.get("type").and_then(Value::as_str) == Some("url_verification") {
        check_token(settings, plain.get("token"))?;
        let challenge = plain.get("challenge").and_then(Value::as_str).unwrap_or_default();
        return Ok(CallbackOutcome::Reply {
            content_type: "application/json",
            body: json!({ "challenge": challenge }).to_string().into_bytes(),
        });
    }

    let old_card = plain.get("schema").is_none()
        && plain.get("action").is_some()
        && plain.get("open_message_id").is_some();
    let verified = if old_card { by_card } else { by_event };
    if (encrypt_key.is_some() || old_card) && !verified {
        // A signature of the other scheme counts as a wrong one.
        let signed = mismatched || by_event || by_card;
        return Err(if signed { CallbackError::BadSignature } else { CallbackError::MissingSignature });
    }
    if old_card {
        // Its `token` is the press's own (to update the card later); the Verification Token is in
        // the SHA-1 signature checked above.
        return Ok(old_card_press(&plain, request.body));
    }
    let token =
        if plain.get("schema").is_some() { plain.pointer("/header/token") } else { plain.get("token") };
    check_token(settings, token)?;

    if plain.get("schema").and_then(Value::as_str) != Some("2.0") {
        let what = plain.pointer("/event/type").and_then(Value::as_str).unwrap_or("unknown");
        return Ok(ignored(format!("schema 1.0 event {what}")));
    }
    let event_type = plain.pointer("/header/event_type").and_then(Value::as_str).unwrap_or_default();
    let event_id = plain.pointer("/header/event_id").and_then(Value::as_str).unwrap_or_default();
    let id = stable_id(if event_id.is_empty() { request.body } else { event_id.as_bytes() });
    let event = plain.get("event").cloned().unwrap_or(Value::Null);
    match event_type {
        "im.message.receive_v1" => {
            Ok(message(id, &event).unwrap_or_else(|| ignored(describe_message(&event))))
        }
        "card.action.trigger" => Ok(card_press(id, event_id, &event)),
        other => Ok(ignored(other.to_string())),
    }
}

fn header<'a>(request: &'a CallbackRequest, name: &str) -> Option<&'a str> {
    request.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn check_token(settings: &CallbackSettings, token: Option<&Value>) -> Result<(), CallbackError> {
    use subtle::ConstantTimeEq as _;
    let token = token.and_then(Value::as_str).unwrap_or_default();
    let expected = settings.verification_token.as_bytes();
    if expected.is_empty() || !bool::from(expected.ct_eq(token.as_bytes())) {
        return Err(CallbackError::BadToken);
    }
    Ok(())
}

fn ack() -> CallbackReply {
    CallbackReply { content_type: "application/json", body: b"{}".to_vec() }
}

fn ignored(what: String) -> CallbackOutcome {
    CallbackOutcome::Ignored { what, reply: ack() }
}

fn text_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The person behind an id object `{open_id, user_id, union_id}`: `ChatUser.id` is the `open_id`
/// (per app, always present); Feishu sends no names, so the display name is the tenant's
/// `user_id` when the app may see it, else the `open_id`.
fn user(ids: &Value, is_bot: bool) -> ChatUser {
    let open_id = text_at(ids, "/open_id").unwrap_or_default().to_string();
    let user_id = text_at(ids, "/user_id");
    ChatUser {
        id: open_id.clone(),
        username: None,
        display_name: user_id.unwrap_or(&open_id).to_string(),
        is_bot,
    }
}

fn describe_message(event: &Value) -> String {
    let kind = text_at(event, "/message/message_type").unwrap_or("unknown");
    format!("im.message.receive_v1 {kind} message")
}

/// `im.message.receive_v1` with a `text` or `post` body.
fn message(id: i64, event: &Value) -> Option<CallbackOutcome> {
    let m = event.get("message")?;
    let content: Value = serde_json::from_str(text_at(m, "/content")?).ok()?;
    let mentions = m.get("mentions").and_then(Value::as_array).cloned().unwrap_or_default();
    let raw = match text_at(m, "/message_type")? {
        "text" => content.get("text")?.as_str()?.to_string(),
        "post" => post_text(&content),
        _ => return None,
    };
    let text = resolve_mentions(&raw, &mentions);
    let chat_kind = if text_at(m, "/chat_type") == Some("p2p") { ChatKind::Private } else { ChatKind::Group };
    let at_ms = text_at(m, "/create_time").and_then(|t| t.parse::<i64>().ok()).unwrap_or(0);
    let sender_type = text_at(event, "/sender/sender_type").unwrap_or("user");
    let incoming = IncomingMessage {
        chat: ChatId(text_at(m, "/chat_id")?.to_string()),
        chat_kind,
        chat_title: None,
        message_id: text_at(m, "/message_id")?.to_string(),
        from: user(event.pointer("/sender/sender_id").unwrap_or(&Value::Null), sender_type != "user"),
        text,
        reply_to: text_at(m, "/parent_id").map(str::to_string),
        attachments: Vec::new(),
        at: jiff::Timestamp::from_millisecond(at_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    };
    Some(CallbackOutcome::Update {
        update: ChatUpdate { id, event: ChatEvent::Message(incoming) },
        reply: ack(),
    })
}

/// The text of a received `post`: `{"title", "content": [[{tag, …}]]}` (or wrapped in a locale).
fn post_text(content: &Value) -> String {
    let body = if content.get("content").is_some() {
        content
    } else {
        content.as_object().and_then(|o| o.values().find(|v| v.get("content").is_some())).unwrap_or(content)
    };
    let mut lines = Vec::new();
    if let Some(title) = body.get("title").and_then(Value::as_str).filter(|t| !t.is_empty()) {
        lines.push(title.to_string());
    }
    for row in body.get("content").and_then(Value::as_array).into_iter().flatten() {
        let mut line = String::new();
        for el in row.as_array().into_iter().flatten() {
            match el.get("tag").and_then(Value::as_str).unwrap_or_default() {
                "text" | "a" | "md" | "code_block" => {
                    line.push_str(el.get("text").and_then(Value::as_str).unwrap_or_default())
                }
                // Received posts carry the mention key (`@_user_1`) in `user_id`.
                "at" => {
                    let key = el.get("user_id").and_then(Value::as_str).unwrap_or_default();
                    let name = el.get("user_name").and_then(Value::as_str).unwrap_or(key);
                    if key.starts_with("@_") {
                        line.push_str(key)
                    } else {
                        line.push_str(&format!("@{name}"))
                    }
                }
                _ => {}
            }
        }
        lines.push(line);
    }
    lines.join("\n")
}

/// Mention keys (`@_user_1`) become `@Name`; the mentions before the first word (a command sent
/// as `@机器人 /ack 7` in a group) are dropped, so the text starts with what was written.
fn resolve_mentions(raw: &str, mentions: &[Value]) -> String {
    let mut rest = raw.trim_start();
    'strip: loop {
        for m in mentions {
            if let Some(key) = m.get("key").and_then(Value::as_str).filter(|k| !k.is_empty())
                && let Some(after) = rest.strip_prefix(key)
                && !after.starts_with(|c: char| c.is_ascii_alphanumeric())
            {
                rest = after.trim_start();
                continue 'strip;
            }
        }
        break;
    }
    let mut text = rest.to_string();
    // Longest keys first, so `@_user_1` does not eat the start of `@_user_10`.
    let mut keyed: Vec<(&str, &str)> = mentions
        .iter()
        .filter_map(|m| {
            Some((m.get("key")?.as_str()?, m.get("name").and_then(Value::as_str).unwrap_or_default()))
        })
        .filter(|(k, _)| !k.is_empty())
        .collect();
    keyed.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    for (key, name) in keyed {
        text = text.replace(key, &format!("@{name}"));
    }
    text.trim_end().to_string()
}

/// What a button carried: `value.data` as [`card`](super::api) buttons put it, or the whole value.
fn button_data(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(v) => match v.get("data") {
            Some(Value::String(s)) => s.clone(),
            _ => v.to_string(),
        },
        None => String::new(),
    }
}

/// `card.action.trigger` (schema 2.0). The press id is the callback's `token` (which allows a
/// delayed card update), else the event id.
fn card_press(id: i64, event_id: &str, event: &Value) -> CallbackOutcome {
    let press = ButtonPress {
        id: text_at(event, "/token").unwrap_or(event_id).to_string(),
        from: user(event.get("operator").unwrap_or(&Value::Null), false),
        chat: text_at(event, "/context/open_chat_id").map(|c| ChatId(c.to_string())),
        message_id: text_at(event, "/context/open_message_id").map(str::to_string),
        data: button_data(event.pointer("/action/value")),
    };
    CallbackOutcome::Update { update: ChatUpdate { id, event: ChatEvent::Button(press) }, reply: ack() }
}

/// The old card callback (`{open_id, user_id, open_message_id, token, action}`); it has no event
/// id, so the update id comes from the body (a redelivery repeats it).
fn old_card_press(body: &Value, raw: &[u8]) -> CallbackOutcome {
    let press = ButtonPress {
        id: text_at(body, "/token").unwrap_or_default().to_string(),
        from: user(body, false),
        chat: text_at(body, "/open_chat_id").map(|c| ChatId(c.to_string())),
        message_id: text_at(body, "/open_message_id").map(str::to_string),
        data: button_data(body.pointer("/action/value")),
    };
    CallbackOutcome::Update {
        update: ChatUpdate { id: stable_id(raw), event: ChatEvent::Button(press) },
        reply: ack(),
    }
}
