//! Chat providers in neutral terms: what arrives from an IM (a message, a button press, a group that
//! moved) and what goes out (a text with buttons), and how a provider refuses. Each provider module
//! ([`crate::telegram`] today; WeCom, DingTalk and Feishu later) maps its wire format to these, so
//! the core's chat flows are written once.

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Which IM a chat lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Telegram,
    Wecom,
    Dingtalk,
    Feishu,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Telegram => "telegram",
            Provider::Wecom => "wecom",
            Provider::Dingtalk => "dingtalk",
            Provider::Feishu => "feishu",
        }
    }

    pub fn parse(s: &str) -> Option<Provider> {
        [Provider::Telegram, Provider::Wecom, Provider::Dingtalk, Provider::Feishu]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// A provider's id of a chat (a Telegram chat id such as `-1001234567890`, a WeCom chat id), as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChatId(pub String);

impl std::fmt::Display for ChatId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatKind {
    /// A one-to-one chat between a person and the bot.
    Private,
    /// A group, supergroup or channel.
    Group,
}

/// Who sent a message or pressed a button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatUser {
    /// The provider's stable user id, as text.
    pub id: String,
    /// A handle the person chose (`@zhangsan` without the `@`), which they may change.
    pub username: Option<String>,
    pub display_name: String,
    pub is_bot: bool,
}

/// A file that came with a message, to be fetched from the provider by `file_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub file_id: String,
    pub file_name: Option<String>,
    pub mime: Option<String>,
    pub size: Option<u64>,
}

/// A message someone wrote to the bot or in a group the bot is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingMessage {
    pub chat: ChatId,
    pub chat_kind: ChatKind,
    pub chat_title: Option<String>,
    pub message_id: String,
    pub from: ChatUser,
    /// The text, or a photo's caption; empty when there is neither.
    pub text: String,
    /// The id of the message this one replies to, in the same chat.
    pub reply_to: Option<String>,
    pub attachments: Vec<Attachment>,
    pub at: Timestamp,
}

/// A press on one of the bot's buttons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonPress {
    /// The provider's id of this press, to answer it (Telegram's callback query id).
    pub id: String,
    pub from: ChatUser,
    /// The chat and message that carried the button, when the provider says.
    pub chat: Option<ChatId>,
    pub message_id: Option<String>,
    /// What the bot put in the button.
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatEvent {
    Message(IncomingMessage),
    Button(ButtonPress),
    /// A group became another chat (Telegram: upgraded to a supergroup); messages go to `to` now.
    ChatMigrated {
        from: ChatId,
        to: ChatId,
    },
    /// Something the bot does not act on (an edit, a join, a poll…), with what it was.
    Ignored {
        what: String,
    },
}

/// One update from a provider, with the provider's sequence number (Telegram's `update_id`), which
/// makes taking it idempotent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatUpdate {
    pub id: i64,
    pub event: ChatEvent,
}

/// A button the bot attaches to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub label: String,
    /// Given back in [`ButtonPress::data`]; at most [`MAX_BUTTON_DATA`] bytes.
    pub data: String,
}

/// Telegram's limit on callback data, the smallest among the providers.
pub const MAX_BUTTON_DATA: usize = 64;

/// A text the bot sends, as a new message or as the new content of one it sent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OutgoingText {
    pub text: String,
    /// Post as a reply to this message (a card's threaded update).
    pub reply_to: Option<String>,
    /// Rows of buttons.
    pub buttons: Vec<Vec<Button>>,
}

/// How a provider refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Too many requests: wait this long before sending to this chat again.
    #[error("rate limited: retry after {0:?}")]
    RetryAfter(Duration),
    /// The group moved (upgraded to a supergroup); send to the new chat.
    #[error("the chat moved to {0}")]
    ChatMigrated(ChatId),
    /// The chat cannot be reached for good: the person blocked the bot, the bot was removed from
    /// the group, or the chat was deleted.
    #[error("the chat is gone: {0}")]
    ChatGone(String),
    /// The provider refused this request itself (bad parameters, message too long); retrying the
    /// same request cannot help.
    #[error("refused: {0}")]
    Rejected(String),
    /// The bot's credentials are wrong or revoked.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// A network error or a provider's 5xx: retry later.
    #[error("{0}")]
    Transient(String),
}

impl SendError {
    /// Whether sending the same request again later can succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::ChatGone(_) | SendError::Rejected(_) | SendError::Unauthorized(_))
    }
}

/// What a group robot (群机器人) posts, the same for every provider: a title, a markdown body, and
/// whom to @-mention (by mobile, by the provider's user id, or everyone).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RobotMessage {
    pub title: String,
    /// The provider's markdown dialect; each provider module adapts headings and mentions.
    pub markdown: String,
    pub mention_mobiles: Vec<String>,
    pub mention_user_ids: Vec<String>,
    pub mention_all: bool,
}
