//! WeCom's refusals in neutral terms. WeCom answers HTTP 200 with a non-zero `errcode` for every
//! refusal; we decide on the code, never on `errmsg` (document 90455).
//!
//! Codes and meanings: the webhook table of spec §1.4 [doc], the token codes of §2.1 [doc], and the
//! global error-code list (document 90455, read through a third-party SDK's copy of it) [secondary]
//! for the recipient codes (40003, 40031, 46004, 50002, 60011, 60111, 81013, 82001) and the
//! `appchat` codes (86001, 86003, 86008).

use std::time::Duration;

use crate::chat::SendError;

/// How long to wait after 45009 (`api freq out of limit`). A group robot may send 20 messages in a
/// minute and WeCom does not say when the window ends, so a whole minute is the safe wait.
pub const RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// How long to wait after 45033 (too many concurrent calls).
pub const CONCURRENCY_WAIT: Duration = Duration::from_secs(2);

/// The longest piece of a server's answer quoted in an error.
const MAX_QUOTE: usize = 160;

/// `access_token` codes after which a fresh token may help: 40014 invalid, 41001 missing, 42001
/// expired.
pub(super) fn is_token_error(errcode: i64) -> bool {
    matches!(errcode, 40014 | 41001 | 42001)
}

/// Maps a non-zero `errcode` to a [`SendError`]. `errmsg` is quoted (shortened, without WeCom's
/// `hint`/`from ip` tail) after the code.
pub fn map_errcode(errcode: i64, errmsg: &str) -> SendError {
    let text = format!("WeCom errcode {errcode} ({}): {}", meaning(errcode), quote(errmsg));
    match errcode {
        -1 => SendError::Transient(text),
        45009 => SendError::RetryAfter(RATE_LIMIT_WAIT),
        45033 => SendError::RetryAfter(CONCURRENCY_WAIT),
        // Credentials, the app, the caller's IP, the robot's key.
        40001 | 40013 | 40014 | 40056 | 40091 | 41001 | 41002 | 41004 | 42001 | 48002 | 50003 | 60020
        | 93000 | 93004 => SendError::Unauthorized(text),
        // The recipient cannot be reached by this app (gone, unknown, outside its visible range),
        // or the robot is not in its group any more.
        40003 | 40031 | 46004 | 50002 | 60011 | 60111 | 81013 | 82001 | 40050 | 86001 | 86003 | 86008
        | 93008 => SendError::ChatGone(text),
        _ => SendError::Rejected(text),
    }
}

/// What a code means, for error messages.
pub fn meaning(errcode: i64) -> &'static str {
    match errcode {
        -1 => "system busy",
        40001 => "invalid secret",
        40003 => "invalid UserID",
        40008 => "invalid msgtype",
        40013 => "invalid CorpID",
        40014 => "invalid access_token",
        40031 => "a UserID is not in the address book",
        40050 | 86003 => "chatid does not exist",
        40056 => "invalid agentid",
        40058 => "invalid parameter",
        40091 => "invalid secret (another corp's?)",
        41001 => "missing access_token",
        42001 => "access_token expired",
        44004 => "empty content",
        45002 => "message too large",
        45009 => "rate limited",
        45033 => "too many concurrent calls",
        46004 => "user does not exist",
        48002 => "no permission for this API",
        50002 => "member outside the app's visible range",
        50003 => "app disabled",
        60011 => "no permission for this member/department/tag",
        60020 => "caller IP not in the app's trusted IPs",
        60111 => "UserID not found",
        81013 => "every UserID/department/tag is invalid or not permitted",
        82001 => "every member/department/tag is invalid",
        86001 => "invalid chatid",
        86008 => "not a chat created by this app",
        93000 => "invalid webhook URL, or the robot was removed from its group",
        93004 => "robot disabled",
        93008 => "robot not in the group",
        _ => "unlisted code",
    }
}

/// Maps an HTTP status other than 200.
pub(super) fn map_status(status: reqwest::StatusCode, what: &str) -> SendError {
    let text = format!("{what}: HTTP {status}");
    match status.as_u16() {
        429 => SendError::RetryAfter(RATE_LIMIT_WAIT),
        408 | 500..=599 => SendError::Transient(text),
        _ => SendError::Rejected(text),
    }
}

/// A reqwest error, without the URL (it holds the access token or the robot's key).
pub(super) fn map_reqwest(e: reqwest::Error, what: &str) -> SendError {
    SendError::Transient(format!("{what}: {}", e.without_url()))
}

/// `errmsg` without WeCom's `, hint: […], from ip: …, more info at …` tail, shortened.
pub fn quote(errmsg: &str) -> String {
    let cut = [", hint:", " hint:", ", from ip:", ", more info at"]
        .iter()
        .filter_map(|m| errmsg.find(m))
        .min()
        .unwrap_or(errmsg.len());
    let msg = errmsg[..cut].trim();
    match msg.char_indices().nth(MAX_QUOTE) {
        Some((i, _)) => format!("{}…", &msg[..i]),
        None => msg.to_string(),
    }
}
