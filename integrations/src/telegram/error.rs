//! Telegram's refusals in neutral terms: [`RequestError`] → [`SendError`].
//!
//! teloxide-core keeps only the `description` of an error answer (not `error_code`), so the
//! classification goes by the description Telegram sends; the ones teloxide knows arrive as named
//! [`ApiError`] variants, the rest as [`ApiError::Unknown`] with the text.

use teloxide_core::{ApiError, RequestError};

use crate::chat::{ChatId, SendError};

/// Why [`TelegramApi::new`](super::TelegramApi::new) refused its arguments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid Telegram Bot API URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("invalid Telegram bot token: {0}")]
    InvalidToken(&'static str),
    #[error("cannot build the HTTP client for long polling: {0}")]
    HttpClient(String),
}

/// Why [`parse_update`](super::parse_update) refused a webhook body.
#[derive(Debug, thiserror::Error)]
#[error("not a Telegram update: {0}")]
pub struct UpdateParseError(#[from] pub serde_json::Error);

/// The longest piece of a server's answer quoted in an error.
const MAX_QUOTE: usize = 200;

/// Maps a failed Bot API call to a [`SendError`].
pub fn map_request_error(err: &RequestError) -> SendError {
    match err {
        RequestError::RetryAfter(s) => SendError::RetryAfter(s.duration()),
        RequestError::MigrateToChatId(id) => SendError::ChatMigrated(ChatId(id.0.to_string())),
        RequestError::Api(api) => map_api_error(api),
        // teloxide already removed the token from the URL in the error.
        RequestError::Network(e) => SendError::Transient(format!("network error: {e}")),
        // A 5xx page from a proxy in front of the Bot API, or an answer teloxide cannot read.
        RequestError::InvalidJson { source, raw } => {
            SendError::Transient(format!("unreadable answer from the Bot API ({source}): {}", quote(raw)))
        }
        RequestError::Io(e) => SendError::Transient(format!("I/O error: {e}")),
    }
}

/// The description Telegram sent, as text.
pub fn api_error_text(api: &ApiError) -> String {
    match api {
        ApiError::Unknown(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Maps an error answer of the Bot API to a [`SendError`], by its description.
pub fn map_api_error(api: &ApiError) -> SendError {
    let text = api_error_text(api);
    match api {
        ApiError::BotBlocked
        | ApiError::BotKicked
        | ApiError::BotKickedFromSupergroup
        | ApiError::BotKickedFromChannel
        | ApiError::UserDeactivated
        | ApiError::ChatNotFound
        | ApiError::GroupDeactivated
        | ApiError::CantInitiateConversation
        | ApiError::CantTalkWithBots
        | ApiError::NotEnoughRightsToPostMessages => SendError::ChatGone(text),
        ApiError::InvalidToken => SendError::Unauthorized(text),
        // Another instance is long polling with the same token: not this request's fault.
        ApiError::TerminatedByOtherGetUpdates => SendError::Transient(text),
        ApiError::Unknown(_) => classify_description(text),
        _ => SendError::Rejected(text),
    }
}

/// Descriptions teloxide does not know, sorted by their `Reason: detail` prefix, which follows the
/// HTTP status (`Bad Request` 400, `Unauthorized` 401, `Forbidden` 403, `Not Found` 404,
/// `Conflict` 409, `Too Many Requests` 429); anything else (`Internal Server Error`,
/// `Bad Gateway`…) is a server problem.
fn classify_description(text: String) -> SendError {
    let lower = text.to_ascii_lowercase();
    let chat_gone = [
        "not enough rights to send",
        "have no rights to send",
        "need administrator rights in the channel",
        "chat was deleted",
        "group is deactivated",
        "chat not found",
        "bot is not a member",
        "bot was kicked",
        "bot was blocked",
        "user is deactivated",
        "bot can't initiate conversation",
        "chat_write_forbidden",
        "channel_private",
        "peer_id_invalid",
    ];
    if lower.starts_with("forbidden") || chat_gone.iter().any(|s| lower.contains(s)) {
        SendError::ChatGone(text)
    } else if lower.starts_with("unauthorized") {
        SendError::Unauthorized(text)
    } else if lower.starts_with("too many requests") {
        // Normally sent with `parameters.retry_after`, which teloxide turns into `RetryAfter`.
        let secs = lower.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(5);
        SendError::RetryAfter(std::time::Duration::from_secs(secs))
    } else if lower.contains("terminated by other getupdates") {
        SendError::Transient(text)
    } else if ["bad request", "not found", "conflict", "request entity too large", "method not allowed"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        SendError::Rejected(text)
    } else {
        SendError::Transient(text)
    }
}

/// A server's answer, shortened for an error message.
pub fn quote(raw: &str) -> String {
    match raw.char_indices().nth(MAX_QUOTE) {
        Some((i, _)) => format!("{}…", &raw[..i]),
        None => raw.to_string(),
    }
}
