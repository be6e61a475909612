//! The enterprise internal robot's callbacks in HTTP mode (spec §3.2): DingTalk POSTs every
//! message sent to the robot (one-to-one, or @-mentioning it in a group) with `timestamp` and
//! `sign` headers.

use jiff::Timestamp;
use serde::Deserialize;

use super::api::SessionWebhook;
use super::error::CallbackError;
use super::sign::{event_id, fresh, sign_matches};
use crate::chat::{ChatEvent, ChatId, ChatKind, ChatUpdate, ChatUser, IncomingMessage};

/// What the robot callback is checked with: the app's `AppSecret` (the robot's signing key).
#[derive(Clone, PartialEq, Eq)]
pub struct CallbackSettings {
    pub app_secret: String,
}

impl std::fmt::Debug for CallbackSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackSettings").finish_non_exhaustive()
    }
}

/// An HTTP request as the web layer received it.
#[derive(Debug, Clone, Copy)]
pub struct CallbackRequest<'a> {
    /// `"GET"` or `"POST"`.
    pub method: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    /// Header names in any case.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub now: Timestamp,
}

/// What to answer DingTalk with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackReply {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl CallbackReply {
    /// `{"msgtype":"empty"}`: an acknowledgement that sends nothing into the chat
    /// \[secondary: what HTTP-mode robots answer; an empty 200 is also accepted\].
    pub fn empty() -> CallbackReply {
        CallbackReply { content_type: "application/json", body: br#"{"msgtype":"empty"}"#.to_vec() }
    }
}

/// What a verified callback means.
// The shape is shared by the three Chinese IM providers; the update is not boxed, so that the
// web layer matches on it plainly (one value per request).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// Answer a URL verification or challenge. DingTalk's HTTP-mode robot has none: never
    /// produced here (kept so the three providers' outcomes have the same shape).
    Reply { content_type: &'static str, body: Vec<u8> },
    /// A message to the robot, mapped to the neutral update; answer with `reply`.
    Update { update: ChatUpdate, reply: CallbackReply },
    /// Something signed by DingTalk that zhiban does not act on (a picture, a voice message…).
    Ignored { what: String, reply: CallbackReply },
}

/// The body of a robot callback, as DingTalk sends it (fields zhiban reads).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RobotCallback {
    pub msg_id: String,
    #[serde(default)]
    pub msgtype: String,
    #[serde(default)]
    pub text: Option<CallbackText>,
    /// `"1"` one-to-one, `"2"` group.
    #[serde(default)]
    pub conversation_type: String,
    #[serde(default)]
    pub conversation_id: String,
    #[serde(default)]
    pub conversation_title: Option<String>,
    /// The sender's userid within the organisation; absent for people outside it.
    #[serde(default)]
    pub sender_staff_id: Option<String>,
    /// The sender's encrypted id (per app), present for everyone.
    #[serde(default)]
    pub sender_id: String,
    #[serde(default)]
    pub sender_nick: String,
    #[serde(default)]
    pub sender_corp_id: Option<String>,
    /// Epoch milliseconds.
    #[serde(default)]
    pub create_at: Option<i64>,
    #[serde(default)]
    pub session_webhook: Option<String>,
    /// Epoch milliseconds.
    #[serde(default)]
    pub session_webhook_expired_time: Option<i64>,
    #[serde(default)]
    pub is_in_at_list: Option<bool>,
    #[serde(default)]
    pub chatbot_user_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CallbackText {
    #[serde(default)]
    pub content: String,
}

impl RobotCallback {
    /// Reads a callback body. Call [`verify_callback`] first (or use [`handle_callback`]).
    pub fn parse(body: &[u8]) -> Result<RobotCallback, CallbackError> {
        serde_json::from_slice(body).map_err(|e| CallbackError::Body(e.to_string()))
    }

    /// The message's session webhook, to reply without a token (see
    /// [`DingtalkApi::reply_in_session`](super::DingtalkApi::reply_in_session)).
    pub fn session_webhook(&self) -> Option<SessionWebhook> {
        let url = self.session_webhook.as_deref().filter(|u| !u.is_empty())?;
        let expires_at = Timestamp::from_millisecond(self.session_webhook_expired_time?).ok()?;
        Some(SessionWebhook { url: url.to_string(), expires_at })
    }

    /// The sender's id as zhiban binds it: the userid (`senderStaffId`), or, for someone outside
    /// the organisation, the encrypted `senderId`.
    pub fn sender(&self) -> ChatUser {
        let id = match self.sender_staff_id.as_deref().map(str::trim) {
            Some(staff) if !staff.is_empty() => staff.to_string(),
            _ => self.sender_id.clone(),
        };
        ChatUser { id, username: None, display_name: self.sender_nick.clone(), is_bot: false }
    }

    /// The neutral update: a text message is [`ChatEvent::Message`] (chat = the sender's userid in
    /// a one-to-one chat, the `conversationId` in a group), anything else
    /// [`ChatEvent::Ignored`]. The id is [`event_id`] of `msgId`.
    pub fn to_update(&self, now: Timestamp) -> ChatUpdate {
        let id = event_id(&self.msg_id);
        let event = if self.msgtype == "text" {
            let from = self.sender();
            let (chat, chat_kind, chat_title) = if self.conversation_type == "1" {
                (ChatId(from.id.clone()), ChatKind::Private, None)
            } else {
                (ChatId(self.conversation_id.clone()), ChatKind::Group, self.conversation_title.clone())
            };
            let at = self.create_at.and_then(|ms| Timestamp::from_millisecond(ms).ok()).unwrap_or(now);
            ChatEvent::Message(IncomingMessage {
                chat,
                chat_kind,
                chat_title,
                message_id: self.msg_id.clone(),
                from,
                // A group message starts with a space where the @robot was removed.
                text: self.text.as_ref().map(|t| t.content.trim().to_string()).unwrap_or_default(),
                reply_to: None,
                attachments: Vec::new(),
                at,
            })
        } else {
            ChatEvent::Ignored { what: format!("dingtalk msgtype {:?}", self.msgtype) }
        };
        ChatUpdate { id, event }
    }
}

/// Checks a callback's `timestamp` (within an hour of `now`) and `sign`
/// (`base64(HMAC-SHA256(appSecret, timestamp + "\n" + appSecret))`, compared in constant time).
pub fn verify_callback(
    settings: &CallbackSettings,
    headers: &[(String, String)],
    now: Timestamp,
) -> Result<(), CallbackError> {
    if settings.app_secret.trim().is_empty() {
        return Err(CallbackError::NoSecret);
    }
    let header = |name: &'static str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .ok_or(CallbackError::MissingHeader(name))
    };
    let timestamp = header("timestamp")?;
    let sign = header("sign")?;
    if !fresh(timestamp, now) {
        return Err(CallbackError::Stale(timestamp.chars().take(20).collect()));
    }
    if !sign_matches(settings.app_secret.trim(), timestamp, sign) {
        return Err(CallbackError::BadSignature);
    }
    Ok(())
}

/// Verifies a robot callback and maps it: POST only; headers checked before the body is read.
pub fn handle_callback(
    settings: &CallbackSettings,
    request: &CallbackRequest,
) -> Result<CallbackOutcome, CallbackError> {
    if !request.method.eq_ignore_ascii_case("POST") {
        return Err(CallbackError::Method(request.method.chars().take(10).collect()));
    }
    verify_callback(settings, request.headers, request.now)?;
    let callback = RobotCallback::parse(request.body)?;
    if callback.msg_id.trim().is_empty() {
        return Err(CallbackError::Body("an empty msgId".to_string()));
    }
    let update = callback.to_update(request.now);
    Ok(match update.event {
        ChatEvent::Ignored { what } => CallbackOutcome::Ignored { what, reply: CallbackReply::empty() },
        _ => CallbackOutcome::Update { update, reply: CallbackReply::empty() },
    })
}
