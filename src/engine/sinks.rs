//! Sinks deliver outbox messages. Each returns success, or a failure that says whether a retry
//! can help and how long the receiver asked us to wait.

use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use jiff::SignedDuration;
use sha2::Sha256;
use tracing::info;

use crate::config::{Secret, SinkConfig, SinkKind};
use crate::store::OutboxMessage;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    pub message: String,
    /// Retrying cannot help (the receiver refused the message itself).
    pub permanent: bool,
    /// The receiver asked for a pause (HTTP 429/503 `Retry-After`).
    pub retry_after: Option<SignedDuration>,
    /// The receiver is pacing us (a rate limit): put the message off by `retry_after` without
    /// counting the attempt, so that a long storm of 429s delays messages but never loses them.
    pub throttled: bool,
}

impl DeliveryError {
    pub fn transient(message: impl Into<String>) -> DeliveryError {
        DeliveryError { message: message.into(), permanent: false, retry_after: None, throttled: false }
    }

    pub fn permanent(message: impl Into<String>) -> DeliveryError {
        DeliveryError { message: message.into(), permanent: true, retry_after: None, throttled: false }
    }

    /// Rate limited: try again after `wait`, which does not count as a failed attempt.
    pub fn throttled(message: impl Into<String>, wait: SignedDuration) -> DeliveryError {
        DeliveryError { message: message.into(), permanent: false, retry_after: Some(wait), throttled: true }
    }
}

#[async_trait]
pub trait Sink: Send + Sync {
    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError>;

    /// The dispatcher gave up on a message (its last attempt failed, or a permanent error).
    async fn gave_up(&self, _message: &OutboxMessage, _error: &str) {}
}

/// Build the sink a configuration entry describes.
pub fn build(config: &SinkConfig, http: &reqwest::Client) -> Box<dyn Sink> {
    match &config.kind {
        SinkKind::Log => Box::new(LogSink { name: config.name.clone() }),
        SinkKind::Webhook { url, secret } => {
            Box::new(WebhookSink { url: url.clone(), secret: secret.clone(), http: http.clone() })
        }
    }
}

/// Writes notifications to zhiban's own log.
pub struct LogSink {
    name: String,
}

#[async_trait]
impl Sink for LogSink {
    async fn deliver(&self, m: &OutboxMessage) -> Result<(), DeliveryError> {
        let text = m.payload.get("text").and_then(|t| t.as_str()).unwrap_or_default();
        info!(target: "zhiban::notify", sink = %self.name, key = %m.idempotency_key, "{text}");
        Ok(())
    }
}

/// POSTs the message's JSON to a URL, with an `Idempotency-Key` header (the same on every retry,
/// so a receiver can drop repeats) and, when a secret is set, `X-Zhiban-Signature: sha256=<hex>`.
pub struct WebhookSink {
    url: String,
    secret: Option<Secret>,
    http: reqwest::Client,
}

pub const SIGNATURE_HEADER: &str = "X-Zhiban-Signature";

pub fn sign(secret: &Secret, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[async_trait]
impl Sink for WebhookSink {
    async fn deliver(&self, m: &OutboxMessage) -> Result<(), DeliveryError> {
        post_json(&self.http, &self.url, self.secret.as_ref(), &m.idempotency_key, &m.payload).await
    }
}

/// POST JSON with an `Idempotency-Key` and, with a secret, the HMAC signature header; a refusal
/// says whether retrying can help and how long the receiver asked us to wait.
pub async fn post_json(
    http: &reqwest::Client,
    url: &str,
    secret: Option<&Secret>,
    idempotency_key: &str,
    payload: &serde_json::Value,
) -> Result<(), DeliveryError> {
    let body = serde_json::to_vec(payload).expect("JSON values always serialize");
    let mut request =
        http.post(url).header("Content-Type", "application/json").header("Idempotency-Key", idempotency_key);
    if let Some(secret) = secret {
        request = request.header(SIGNATURE_HEADER, sign(secret, &body));
    }
    let response = request
        .body(body)
        .send()
        .await
        // The URL stays out of the error: robot webhooks carry their key in it (?key=…).
        .map_err(|e| DeliveryError::transient(format!("POST failed: {}", e.without_url())))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| SignedDuration::from_secs(s.min(86_400) as i64));
    let permanent = status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429;
    Err(DeliveryError {
        message: format!("the receiver answered {status}"),
        permanent,
        retry_after,
        throttled: false,
    })
}

/// The HTTP client every outbound sink shares.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .user_agent(concat!("zhiban/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client builds with static settings")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_post_never_shows_the_url_and_its_key() {
        let sink = WebhookSink {
            url: "http://127.0.0.1:1/cgi-bin/webhook/send?key=SUPERSECRETKEY".into(),
            secret: None,
            http: http_client(std::time::Duration::from_secs(2)),
        };
        let message = OutboxMessage {
            id: 1,
            idempotency_key: "k".into(),
            incident_id: None,
            sink: "robot".into(),
            payload: serde_json::json!({}),
            status: crate::store::OutboxStatus::Pending,
            attempts: 1,
            next_attempt_at: jiff::Timestamp::UNIX_EPOCH,
            last_error: None,
            created_at: jiff::Timestamp::UNIX_EPOCH,
            sent_at: None,
        };
        let err = sink.deliver(&message).await.unwrap_err();
        assert!(!err.message.contains("SUPERSECRETKEY"), "{}", err.message);
        assert!(!err.permanent);
    }

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        let s = sign(&Secret::new("Jefe"), b"what do ya want for nothing?");
        assert_eq!(s, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
