use std::time::Duration;

/// Why a message was not sent, sorted by what the sender should do next.
///
/// The split matters because a page is retried by the core's outbox: a permanent error (a wrong
/// number, an unapproved template, bad credentials) must not be retried forever and must reach a
/// human, while throttling and transient failures must be retried, honouring `retry_after`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    /// The provider refused the message and will refuse it again: bad number, template, signature
    /// name, credentials, balance. Permanent.
    #[error("rejected by provider: {code}: {message}")]
    Rejected { code: String, message: String },
    /// The recipient is not a phone number we can send to. Permanent.
    #[error("not a phone number: {0:?}")]
    InvalidNumber(String),
    /// The provider or the text is configured in a way that can never work (bad URL, unknown
    /// placeholder, text longer than 255 parts). Permanent.
    #[error("invalid SMS configuration: {0}")]
    InvalidConfig(String),
    /// Too many messages: retry later, after `retry_after` when the provider said so.
    #[error("throttled by provider{}", .retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    Throttled { retry_after: Option<Duration> },
    /// A failure that may pass: HTTP 5xx, provider-side system errors, expired timestamps.
    #[error("temporary provider failure: {0}")]
    Transient(String),
    /// The answer could not be understood. The message may or may not have been accepted; it is
    /// treated as retryable, because a page sent twice is better than a page lost.
    #[error("unexpected provider response (HTTP {status}): {detail}")]
    UnexpectedResponse { status: u16, detail: String },
    /// The GSM modem failed: I/O error, timeout, `ERROR` or an unclassified `+CMS ERROR`. The modem
    /// or the network may recover (re-plugged, re-registered), so this is retryable.
    #[error("modem: {0}")]
    Modem(String),
}

impl SmsError {
    /// True when retrying the same message cannot succeed.
    pub fn is_permanent(&self) -> bool {
        match self {
            SmsError::Rejected { .. } | SmsError::InvalidNumber(_) | SmsError::InvalidConfig(_) => true,
            SmsError::Throttled { .. }
            | SmsError::Transient(_)
            | SmsError::UnexpectedResponse { .. }
            | SmsError::Modem(_) => false,
        }
    }

    /// How long the provider asked us to wait, when it said so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SmsError::Throttled { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// An error for an answer that could not be understood; keeps at most 200 characters of it.
    pub(crate) fn unexpected(status: u16, body: &[u8]) -> SmsError {
        let text = String::from_utf8_lossy(body);
        let detail: String = text.chars().take(200).collect();
        SmsError::UnexpectedResponse { status, detail }
    }
}
