//! Telegram, through the Bot API, with teloxide-core (its types and requests; not the teloxide
//! framework, whose webhook answers 200 before the update is stored and whose polling confirms
//! updates as soon as they are fetched).
//!
//! - [`TelegramApi`]: the calls zhiban makes (`getMe`, `getUpdates`, webhooks, `sendMessage`,
//!   `editMessageText`, `answerCallbackQuery`, file downloads), with [`crate::chat`] arguments and
//!   [`SendError`](crate::chat::SendError)s;
//! - [`parse_update`] and [`secret_matches`]: for the webhook route, which checks the
//!   [`SECRET_HEADER`], parses the body, stores the update by its id and only then answers 200.
//!
//! Mapping: a message with text, a caption, a photo or a document is
//! [`ChatEvent::Message`](crate::chat::ChatEvent::Message) (private chats are
//! [`ChatKind::Private`](crate::chat::ChatKind::Private); groups, supergroups and channels
//! [`ChatKind::Group`](crate::chat::ChatKind::Group)); a button press is
//! [`ChatEvent::Button`](crate::chat::ChatEvent::Button); a group upgraded to a supergroup is
//! [`ChatEvent::ChatMigrated`](crate::chat::ChatEvent::ChatMigrated) (Telegram sends it twice: a
//! service message in the old chat and one in the new); everything else is
//! [`ChatEvent::Ignored`](crate::chat::ChatEvent::Ignored). Ids are decimal text.
//!
//! Errors ([`map_request_error`]): `retry_after` → `RetryAfter`, `migrate_to_chat_id` →
//! `ChatMigrated`; blocked, kicked, deactivated, chat not found, no right to write → `ChatGone`; a bad
//! token → `Unauthorized`; other `Bad Request`s and `Conflict`s → `Rejected`; network errors, 5xx and
//! unreadable answers → `Transient`. teloxide-core waits 10 s after any 5xx answer before it returns
//! the error.
//!
//! ```
//! use zhiban_integrations::chat::ChatEvent;
//! use zhiban_integrations::telegram::parse_update;
//!
//! let body = r#"{"update_id": 7, "message": {"message_id": 3, "date": 1764036000,
//!     "chat": {"id": 42, "type": "private", "first_name": "三"},
//!     "from": {"id": 42, "is_bot": false, "first_name": "三", "last_name": "张"},
//!     "text": "/ack 007"}}"#;
//! let update = parse_update(body.as_bytes()).unwrap();
//! let ChatEvent::Message(m) = update.event else { panic!() };
//! assert_eq!((update.id, m.chat.0.as_str(), m.text.as_str()), (7, "42", "/ack 007"));
//! ```

mod api;
mod error;
mod update;

#[cfg(test)]
mod tests;

use subtle::ConstantTimeEq;

pub use api::{BotIdentity, DEFAULT_API_URL, POLL_GRACE, TelegramApi};
pub use error::{ConfigError, UpdateParseError, map_api_error, map_request_error};
pub use update::{convert_update, parse_update};

/// The header in which Telegram sends the webhook's secret token.
pub const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

/// Whether the [`SECRET_HEADER`] value equals the configured secret, compared in constant time.
/// No header, or an empty configured secret, never matches.
pub fn secret_matches(header: Option<&[u8]>, secret: &str) -> bool {
    match header {
        Some(value) if !secret.is_empty() => bool::from(value.ct_eq(secret.as_bytes())),
        _ => false,
    }
}
