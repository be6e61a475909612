//! DingTalk's refusals in neutral terms, and this module's own errors.
//!
//! Two families of answers:
//!
//! - the custom robot and session webhooks on `oapi.dingtalk.com` answer HTTP 200 with
//!   `{"errcode": N, "errmsg": "…"}` ([`map_robot_error`]);
//! - the new OpenAPI on `api.dingtalk.com` answers a non-2xx status with
//!   `{"code": "…", "message": "…", "requestid": "…"}` ([`map_api_error`]).

use std::time::Duration;

use crate::chat::SendError;

/// How long a custom robot stays throttled after more than 20 messages in a minute: 10 minutes
/// \[doc, spec §3.1\].
pub const ROBOT_THROTTLE: Duration = Duration::from_secs(10 * 60);

/// How long to wait after an OpenAPI QPS refusal (HTTP 429 or a `…QpsLimit…` code): the limits
/// count per second \[secondary\], so a short pause.
pub const API_QPS_WAIT: Duration = Duration::from_secs(2);

/// How long to wait when `batchSend` names the user in `flowControlledStaffIdList` (too many
/// pushes to that person) \[secondary: official SDK model; the length is our guess\].
pub const USER_FLOW_CONTROL_WAIT: Duration = Duration::from_secs(60);

/// The longest piece of a server's answer quoted in an error.
const MAX_QUOTE: usize = 200;

/// Why a [`DingtalkApi`](super::DingtalkApi) or a [`Robot`](super::Robot) could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A base URL is not an `http(s)` URL without query (the URL itself is never quoted for
    /// robot webhooks, whose query holds their key).
    #[error("invalid DingTalk {what}: {reason}")]
    InvalidUrl { what: &'static str, reason: String },
    #[error("DingTalk {0} is empty")]
    Empty(&'static str),
}

/// Why [`handle_callback`](super::handle_callback) refused a request. Nothing of the body is read
/// before the signature and the timestamp have been checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// DingTalk POSTs robot messages; anything else is not from DingTalk.
    #[error("DingTalk robot callbacks are POST requests, not {0}")]
    Method(String),
    /// No `app_secret` is configured: nothing can be verified.
    #[error("no DingTalk app secret is configured for robot callbacks")]
    NoSecret,
    #[error("the DingTalk callback has no `{0}` header")]
    MissingHeader(&'static str),
    /// The `timestamp` header is not epoch milliseconds within an hour of now.
    #[error("the DingTalk callback timestamp {0:?} is not within an hour of now")]
    Stale(String),
    #[error("the DingTalk callback signature does not match")]
    BadSignature,
    /// Signed correctly, but not a robot message we can read.
    #[error("not a DingTalk robot message: {0}")]
    Body(String),
}

/// Maps a custom robot / session webhook `errcode` (non-zero) to a [`SendError`].
///
/// - `130101` "send too fast" and `410100` → `RetryAfter(`[`ROBOT_THROTTLE`]`)`;
/// - `310000` with "sign not match" / an IP allow-list message, `300001` / `400101` (token does
///   not exist), `400106` (robot does not exist) → `Unauthorized`;
/// - `400013` (group dissolved), `400102` (robot disabled) → `ChatGone`;
/// - `-1` (system busy) → `Transient`;
/// - anything else (`310000` "keywords not in content", bad body, content refused) → `Rejected`.
///
/// Sources: `130101`, `310000` and its messages are \[secondary, spec §3.1\]; `300001` is
/// \[unverified\]; the `4xxxxx` codes are from DingTalk's newer error table as remembered by us
/// \[unverified\].
pub fn map_robot_error(errcode: i64, errmsg: &str) -> SendError {
    let text = format!("DingTalk robot error {errcode}: {}", quote(errmsg));
    let lower = errmsg.to_lowercase();
    match errcode {
        130101 | 410100 => SendError::RetryAfter(ROBOT_THROTTLE),
        300001 | 400101 | 400106 => SendError::Unauthorized(text),
        400013 | 400102 => SendError::ChatGone(text),
        -1 => SendError::Transient(text),
        310000 if lower.contains("sign") || lower.contains("whitelist") || lower.contains("白名单") => {
            SendError::Unauthorized(text)
        }
        _ if lower.contains("too fast") || lower.contains("太快") => SendError::RetryAfter(ROBOT_THROTTLE),
        _ => SendError::Rejected(text),
    }
}

/// Whether an OpenAPI error code says the access token is invalid or expired.
pub(crate) fn is_token_error(code: &str) -> bool {
    let lower = code.to_ascii_lowercase();
    lower == "invalidauthentication"
        || lower.contains("invalidaccesstoken")
        || lower.contains("token.expired")
}

/// Maps a non-2xx OpenAPI answer (`status`, `{"code","message"}`) to a [`SendError`].
///
/// - `InvalidAuthentication` ("不合法的access_token", HTTP 400 or 401 \[secondary\]) and other 401s →
///   `Unauthorized` (the caller refreshes the token once before giving up);
/// - HTTP 429, or a code with `QpsLimit`/`Throttling`/`FlowControl` (DingTalk answers QPS
///   refusals with 403 `Forbidden.AccessDenied.QpsLimitForApi` and similar \[secondary\]) →
///   `RetryAfter(`[`API_QPS_WAIT`]`)`;
/// - other 403s (a permission the app lacks, an IP not allowed) → `Unauthorized`;
/// - a 400/404 whose code or message says the conversation or user does not exist
///   (`notExist`, `notFound`, `不存在`) → `ChatGone` [heuristic: DingTalk's codes for these were
///   not verified];
/// - other 4xx → `Rejected`; 5xx and anything else → `Transient`.
pub fn map_api_error(status: u16, code: &str, message: &str) -> SendError {
    let text = format!("DingTalk API error {status} {code}: {}", quote(message));
    let lower = format!("{code} {message}").to_lowercase();
    if is_token_error(code) || status == 401 {
        return SendError::Unauthorized(text);
    }
    if status == 429 || ["qpslimit", "throttling", "flowcontrol", "限流"].iter().any(|s| lower.contains(s))
    {
        return SendError::RetryAfter(API_QPS_WAIT);
    }
    match status {
        403 => SendError::Unauthorized(text),
        400 | 404
            if ["notexist", "not.exist", "notfound", "not.found", "不存在"]
                .iter()
                .any(|s| lower.contains(s))
                && ["conversation", "group", "user", "staff", "会话", "群", "用户"]
                    .iter()
                    .any(|s| lower.contains(s)) =>
        {
            SendError::ChatGone(text)
        }
        400..=499 => SendError::Rejected(text),
        _ => SendError::Transient(text),
    }
}

/// A reqwest error without its URL (a robot webhook's URL holds its key).
pub(crate) fn network_error(what: &str, e: reqwest::Error) -> SendError {
    SendError::Transient(format!("{what}: {}", e.without_url()))
}

/// A server's answer, shortened for an error message.
pub(crate) fn quote(raw: &str) -> String {
    match raw.char_indices().nth(MAX_QUOTE) {
        Some((i, _)) => format!("{}…", &raw[..i]),
        None => raw.to_string(),
    }
}
