//! SMS as a paging channel, and SMS replies acting on incidents.
//!
//! - [`http`]: intranet gateways (`sms_gateway`), Aliyun (`aliyun_sms`) and Tencent Cloud
//!   (`tencent_sms`): the integration builds the signed request, the shared HTTP client sends it;
//! - [`modem`]: a GSM modem (`gsm_modem`) owned by one task, which also reads replies from the SIM;
//! - [`reply`]: `1 007` (确认), `2 007` (到场), `3 007 王强` (转派) from an engineer's phone act on
//!   the incident as that engineer, and are answered in Chinese. Gateways deliver replies through
//!   `POST /api/v1/sms/inbound/{channel}` (see `web::sms`).
//!
//! The recipient is the person's catalogue `phone`; a person without one cannot be paged by SMS,
//! which is a permanent failure so that paging fails over to their next channel.

mod http;
#[cfg(unix)]
mod modem;
mod reply;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use tokio_util::sync::CancellationToken;
use zhiban_integrations::sms::SmsError;

pub use http::{HttpSmsChannel, answer_through_gateway};
pub use reply::{ReplyKind, ReplyOutcome, handle_reply, masked};

use super::IncidentService;
use super::paging::{PageChannel, PageMessage};
use super::sinks::DeliveryError;
use crate::config::Config;
use crate::config::paging::{SmsChannelConfig, SmsProvider};
use crate::messages::Messages;

/// What SMS channels need from the rest of zhiban.
#[derive(Clone)]
pub struct SmsContext {
    /// Acts on incidents for replies, and reads them for template parameters.
    pub service: Arc<IncidentService>,
    pub config: Arc<Config>,
    pub messages: Arc<Messages>,
    pub http: reqwest::Client,
    /// Stops the modem tasks.
    pub stop: CancellationToken,
}

/// The paging channel for an SMS channel configuration. A modem channel starts its task here,
/// so this must run inside the tokio runtime.
pub fn build(name: &str, config: &SmsChannelConfig, ctx: &SmsContext) -> Box<dyn PageChannel> {
    match &config.provider {
        SmsProvider::Modem { device, baud, poll_every } => {
            let poll = Duration::try_from(*poll_every).unwrap_or(Duration::from_secs(30));
            modem_channel(name, device, *baud, poll, ctx)
        }
        provider => {
            Box::new(HttpSmsChannel { name: name.to_string(), provider: provider.clone(), ctx: ctx.clone() })
        }
    }
}

#[cfg(unix)]
fn modem_channel(
    name: &str,
    device: &str,
    baud: u32,
    poll: Duration,
    ctx: &SmsContext,
) -> Box<dyn PageChannel> {
    Box::new(modem::start(name, device, baud, poll, ctx.clone()))
}

#[cfg(not(unix))]
fn modem_channel(name: &str, _: &str, _: u32, _: Duration, _: &SmsContext) -> Box<dyn PageChannel> {
    tracing::error!(channel = name, "GSM modems are supported on Unix only; pages on this channel fail");
    Box::new(NoModem)
}

#[cfg(not(unix))]
struct NoModem;

#[cfg(not(unix))]
#[async_trait::async_trait]
impl PageChannel for NoModem {
    async fn send(&self, _: &PageMessage) -> Result<super::paging::Delivered, DeliveryError> {
        Err(DeliveryError::permanent("GSM modems are supported on Unix only"))
    }
}

/// The page's recipient, or a permanent failure (paging moves on to the person's next channel).
fn page_phone(page: &PageMessage) -> Result<&str, DeliveryError> {
    page.phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| DeliveryError::permanent(format!("{} has no phone number for SMS", page.person)))
}

/// A provider's error as the outbox reads it: permanent or not, and how long to wait.
fn delivery_error(e: SmsError) -> DeliveryError {
    DeliveryError {
        message: e.to_string(),
        permanent: e.is_permanent(),
        retry_after: e.retry_after().and_then(|d| SignedDuration::try_from(d).ok()),
        throttled: false,
    }
}

/// At most [`AnswerLimiter::MAX`] answers per number per [`AnswerLimiter::WINDOW`], so that
/// zhiban and another automatic answerer cannot text each other forever.
#[derive(Default)]
struct AnswerLimiter {
    sent: HashMap<String, VecDeque<Instant>>,
}

impl AnswerLimiter {
    const MAX: usize = 5;
    const WINDOW: Duration = Duration::from_secs(600);

    fn allow(&mut self, key: &str) -> bool {
        let now = Instant::now();
        self.sent.retain(|_, times| {
            while times.front().is_some_and(|t| now.duration_since(*t) > Self::WINDOW) {
                times.pop_front();
            }
            !times.is_empty()
        });
        let times = self.sent.entry(key.to_string()).or_default();
        if times.len() >= Self::MAX {
            tracing::warn!(to = %masked(key), "too many SMS answers to one number; this one is not sent");
            return false;
        }
        times.push_back(now);
        true
    }
}

/// The limiter for answers sent through gateways (the web callback has no channel object).
fn answers_allowed(gateway: &str, to: &str) -> bool {
    static LIMITER: OnceLock<Mutex<AnswerLimiter>> = OnceLock::new();
    let limiter = LIMITER.get_or_init(Default::default);
    let mut limiter = limiter.lock().unwrap_or_else(|e| e.into_inner());
    limiter.allow(&format!("{to}|{gateway}"))
}

/// The HTTP client for answers sent from the web callback.
fn answer_client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| super::sinks::http_client(Duration::from_secs(15)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_their_class() {
        let e = delivery_error(SmsError::Throttled { retry_after: Some(Duration::from_secs(30)) });
        assert!(!e.permanent);
        assert_eq!(e.retry_after, Some(SignedDuration::from_secs(30)));
        assert!(delivery_error(SmsError::InvalidNumber("x".into())).permanent);
        assert!(!delivery_error(SmsError::Modem("read".into())).permanent);
    }

    #[test]
    fn answers_are_limited_per_number() {
        let mut l = AnswerLimiter::default();
        for _ in 0..AnswerLimiter::MAX {
            assert!(l.allow("13800138001"));
        }
        assert!(!l.allow("13800138001"));
        assert!(l.allow("13800138002"));
    }
}
