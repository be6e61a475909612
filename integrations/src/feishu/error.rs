//! Feishu's refusals in neutral terms, and this module's own errors.
//!
//! Feishu answers errors as `{"code": N, "msg": "…"}`, mostly with HTTP 400 (the im/v1 error tables)
//! and sometimes with HTTP 200 (an expired tenant token, custom bot refusals); the code decides, the
//! HTTP status only when there is no code.

use std::time::Duration;

use crate::chat::SendError;

/// Invalid or expired access token: fetch a new tenant token and try once more \[secondary: SDKs and
/// public clients; `99991663` is the one seen for an expired tenant token\].
pub const TOKEN_CODES: [i64; 5] = [99991661, 99991663, 99991665, 99991668, 99991677];

/// Waits when Feishu says "too fast" without saying for how long.
const WAIT_PER_CHAT: Duration = Duration::from_secs(1);
const WAIT_PER_APP: Duration = Duration::from_secs(10);

/// The longest piece of a server's answer quoted in an error.
const MAX_QUOTE: usize = 200;

/// Why [`FeishuApi::new`](super::FeishuApi::new) refused its settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid Feishu API base URL {url:?}: {reason}")]
    InvalidBase { url: String, reason: String },
    #[error("the Feishu app_id and app_secret must not be empty")]
    MissingCredentials,
}

/// Why [`handle_callback`](super::handle_callback) refused a request. Nothing is parsed past a
/// failed check; every variant is a 4xx for the route (`BadSignature`, `StaleTimestamp` and
/// `BadToken` are 401/403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("callbacks are POSTs, not {0}")]
    Method(String),
    #[error("the body is not a Feishu callback: {0}")]
    Malformed(String),
    #[error("the body is encrypted but no Encrypt Key is configured")]
    NoEncryptKey,
    #[error("the body cannot be decrypted: {0}")]
    Decrypt(#[from] super::crypto::DecryptError),
    #[error("the X-Lark-Request-Timestamp, X-Lark-Request-Nonce or X-Lark-Signature header is missing")]
    MissingSignature,
    #[error("the X-Lark-Signature does not match")]
    BadSignature,
    #[error("the request timestamp is too far from now")]
    StaleTimestamp,
    #[error("the verification token does not match")]
    BadToken,
}

/// Whether `code` means the tenant token must be fetched again.
pub fn is_token_error(code: i64) -> bool {
    TOKEN_CODES.contains(&code)
}

/// Maps an error answer of the open API (`im/v1`, `auth/v3`) to a [`SendError`]. `wait` is the
/// server's hint (`x-ogw-ratelimit-reset` or `Retry-After`), if any.
pub fn map_api_error(http_status: u16, code: Option<i64>, msg: &str, wait: Option<Duration>) -> SendError {
    let Some(code) = code else { return map_status(http_status, msg, wait) };
    let text = format!("Feishu code {code}: {}", quote(msg));
    match code {
        // Per chat / per user: 5 QPS [doc].
        230020 => SendError::RetryAfter(wait.unwrap_or(WAIT_PER_CHAT)),
        // Tenant-wide message service limit [secondary] and the gateway's frequency limit [doc].
        11232 => SendError::RetryAfter(wait.unwrap_or(WAIT_PER_APP)),
        99991400 => SendError::RetryAfter(wait.unwrap_or(WAIT_PER_CHAT)),
        // The bot is not in the group; the person is outside the app's availability range; the
        // group was dissolved; no right to speak there; cross-tenant p2p; unknown open_id/user.
        230002 | 230013 | 232009 | 230035 | 230038 | 230045 | 99992351 => SendError::ChatGone(text),
        // App configuration: a scope not granted, no bot ability, lacking permissions.
        99991672 | 230006 | 230027 => SendError::Unauthorized(text),
        c if is_token_error(c) => SendError::Unauthorized(text),
        _ if http_status >= 500 => SendError::Transient(text),
        // Feishu's internal errors (1500, 1503…).
        1500..=1599 => SendError::Transient(text),
        _ => SendError::Rejected(text),
    }
}

/// An error answer without a readable code.
pub(crate) fn map_status(http_status: u16, body: &str, wait: Option<Duration>) -> SendError {
    let text = format!("HTTP {http_status}: {}", quote(body));
    match http_status {
        429 => SendError::RetryAfter(wait.unwrap_or(WAIT_PER_CHAT)),
        401 | 403 => SendError::Unauthorized(text),
        400..=499 => SendError::Rejected(text),
        _ => SendError::Transient(text),
    }
}

/// Maps a custom bot's refusal \[doc: 19021, 19022, 19024, 9499, 11232; secondary: 19001\].
pub(crate) fn map_robot_error(code: i64, msg: &str) -> SendError {
    let text = format!("Feishu robot code {code}: {}", quote(msg));
    match code {
        // sign match fail or timestamp is not within one hour; IP not allowed; the hook's token is
        // wrong (the bot was removed).
        19021 | 19022 | 19001 => SendError::Unauthorized(text),
        11232 => SendError::RetryAfter(WAIT_PER_APP),
        9499 if msg.to_ascii_lowercase().contains("too many") => SendError::RetryAfter(WAIT_PER_APP),
        _ => SendError::Rejected(text),
    }
}

/// A transport error, without the URL (a robot URL holds its key).
pub(crate) fn network(what: &str, e: reqwest::Error) -> SendError {
    SendError::Transient(format!("{what}: {}", e.without_url()))
}

/// A server's answer, shortened for an error message.
pub(crate) fn quote(raw: &str) -> String {
    match raw.char_indices().nth(MAX_QUOTE) {
        Some((i, _)) => format!("{}…", &raw[..i]),
        None => raw.to_string(),
    }
}
