//! SMS paging: neutral messages in, providers' requests out; providers' bytes in, neutral results out.
//!
//! SMS is the one paging path that works from a fully air-gapped court intranet (through a GSM
//! modem), and the fallback when an engineer's IM app is asleep at night. This module knows five
//! ways to send a text and how to read the answer; it decides nothing (who to page, when to retry).
//!
//! | module | provider | shape |
//! | --- | --- | --- |
//! | [`aliyun`] | Aliyun `dysmsapi` `SendSms`, signature 1.0 (HMAC-SHA1) | [`HttpRequest`] builder + `interpret` |
//! | [`tencent`] | Tencent Cloud SMS `SendSms` 2021-01-11, TC3-HMAC-SHA256 ([`tc3`]) | [`HttpRequest`] builder + `interpret` |
//! | [`http_gateway`] | any intranet HTTP SMS gateway, configured by template | [`HttpRequest`] builder + `interpret` |
//! | [`modem`] | a GSM modem speaking AT commands (PDU mode, [`pdu`]) | async driver over any byte stream |
//! | [`reply`] | replies typed by engineers (`1 007`, `确认 007`) | text → [`reply::Reply`] |
//!
//! HTTP providers do no I/O here: `request(...)` builds an [`HttpRequest`] (deterministic: the
//! nonce and the clock are arguments, so signatures are testable), the core sends it with its own
//! HTTP client, and `interpret(status, body)` turns the answer into a [`SendReceipt`] or an
//! [`SmsError`]. Every error says whether a retry can help ([`SmsError::is_permanent`]) and how long
//! to wait ([`SmsError::retry_after`]); the core's outbox applies the policy.
//!
//! ```
//! use zhiban_integrations::sms::{SmsMessage, aliyun};
//! use std::collections::BTreeMap;
//!
//! let cfg = aliyun::AliyunConfig::new("id", "secret", "某某法院", "SMS_71390007");
//! let msg = SmsMessage::new("+86 138-0013-8000", "【一级】电子卷宗系统无法登录");
//! let params = BTreeMap::from([("ticket".to_string(), "20261125-007".to_string())]);
//! let ts = "2026-11-25T02:00:00Z".parse().unwrap();
//! let req = aliyun::request(&cfg, &msg, &params, None, "nonce-1", ts).unwrap();
//! assert!(req.url.contains("PhoneNumbers=13800138000"));
//!
//! let receipt = aliyun::interpret(200, br#"{"Code":"OK","BizId":"9006197469364984^0"}"#).unwrap();
//! assert_eq!(receipt.provider_id.as_deref(), Some("9006197469364984^0"));
//! ```

pub mod aliyun;
mod error;
mod http;
pub mod http_gateway;
pub mod modem;
mod number;
pub mod pdu;
mod percent;
pub mod reply;
pub mod tc3;
pub mod tencent;

pub use error::SmsError;
pub use http::{HttpRequest, Method};
pub use number::PhoneNumber;
pub use percent::percent_encode;

/// One text to one phone, as the core hands it to any provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsMessage {
    /// The recipient as configured by people: a mainland mobile (`13800138000`), E.164
    /// (`+8613800138000`) or `0086…`; spaces, dashes and parentheses are ignored. Each provider
    /// normalises it with [`PhoneNumber::parse`] into the form its API wants.
    pub to: String,
    /// The full text. Template providers (Aliyun, Tencent) do not send it: only approved templates
    /// may be sent there, so the caller passes template parameters instead.
    pub text: String,
}

impl SmsMessage {
    pub fn new(to: impl Into<String>, text: impl Into<String>) -> SmsMessage {
        SmsMessage { to: to.into(), text: text.into() }
    }
}

/// What a provider said when it accepted a message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendReceipt {
    /// The provider's id for the message (Aliyun `BizId`, Tencent `SerialNo`, the modem's message
    /// references `"12"` or `"12,13"` for a long text), for audit logs and delivery reports.
    pub provider_id: Option<String>,
}
