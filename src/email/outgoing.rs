//! Mail zhiban sends, as outbox payloads for the sink [`SINK`]: answers to reporters, state
//! changes, and (through the same sink) reports with attachments.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::domain::IncidentId;
use crate::store::NewOutboxMessage;

pub const SINK: &str = "email";

/// One mail to send. Its message id is derived from `seed`, so a resend after a crash is the
/// same mail to the receiving server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailOut {
    /// Addresses, each `Name <addr>` or `addr`.
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    #[serde(default)]
    pub html: Option<String>,
    #[serde(default)]
    pub in_reply_to: Option<String>,
    #[serde(default)]
    pub references: Vec<String>,
    pub seed: String,
    /// The incident it is about: its message id then threads replies to it.
    #[serde(default)]
    pub incident: Option<i64>,
    #[serde(default)]
    pub attachments: Vec<AttachmentOut>,
}

/// A file sent with a mail (a monthly report's XLSX).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachmentOut {
    pub name: String,
    pub mime: String,
    /// Base64, standard alphabet.
    pub data: String,
}

impl AttachmentOut {
    pub fn new(name: impl Into<String>, mime: impl Into<String>, data: &[u8]) -> AttachmentOut {
        AttachmentOut {
            name: name.into(),
            mime: mime.into(),
            data: base64::engine::general_purpose::STANDARD.encode(data),
        }
    }
}

pub fn message(
    key: String,
    incident: Option<IncidentId>,
    out: &MailOut,
    not_before: jiff::Timestamp,
) -> NewOutboxMessage {
    NewOutboxMessage {
        idempotency_key: key,
        incident_id: incident,
        sink: SINK.to_string(),
        payload: serde_json::to_value(out).expect("a mail always serializes"),
        not_before,
    }
}
