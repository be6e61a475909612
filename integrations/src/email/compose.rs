//! Outbound mail: an [`OutgoingMail`] to a `lettre::Message` (lettre's builder only; the SMTP
//! transport sends it).
//!
//! Layout: `text/plain` alone, or `multipart/alternative` (text + HTML) when there is HTML, wrapped
//! in `multipart/mixed` when there are attachments. lettre encodes Chinese subjects and display
//! names as RFC 2047 UTF-8 and attachment names as RFC 2231 UTF-8, and picks the transfer
//! encoding of each body.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, MultiPart, SinglePart};

use super::{MailAttachment, MailError, Mailbox};

/// One mail to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// The message id answered, without `<>`.
    pub in_reply_to: Option<String>,
    /// The thread, without `<>`, oldest first.
    pub references: Vec<String>,
    /// Without `<>`. The caller makes it stable (see [`new_message_id`]) so a resend after a crash
    /// is recognisably the same mail.
    pub message_id: String,
    pub attachments: Vec<MailAttachment>,
    /// Adds `Auto-Submitted: auto-replied` (when answering a mail) or `auto-generated`, and
    /// `X-Auto-Response-Suppress: All`, so auto-responders and Exchange do not answer back.
    pub auto_submitted: bool,
    /// The `Date` header; `None` means now.
    pub date: Option<jiff::Timestamp>,
}

/// The subject tag of a ticket, `【工单 20261124-007】`: the one place for the format that
/// [`ticket_in_subject`](super::ticket_in_subject) reads back.
pub fn subject_tag(ticket: &str) -> String {
    format!("【工单 {}】", ticket.trim())
}

/// A message id (without `<>`) that depends only on `seed` and `domain`: the same seed (say
/// `ticket:20261124-007:reply:3`) gives the same id, so a resend is deduplicated downstream.
pub fn new_message_id(domain: &str, seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(seed.as_bytes());
    let domain: String = domain
        .trim()
        .trim_start_matches('@')
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        .collect::<String>()
        .to_ascii_lowercase();
    let domain = if domain.is_empty() { "zhiban.invalid".to_owned() } else { domain };
    format!("zhiban.{}@{domain}", hex::encode(&digest[..16]))
}

/// Builds the message. Fails on an unusable address, message id, or an empty recipient list.
pub fn compose(mail: &OutgoingMail) -> Result<lettre::Message, MailError> {
    if mail.to.is_empty() && mail.cc.is_empty() {
        return Err(MailError::Compose("no recipients: To and Cc are both empty".into()));
    }
    let mut builder = lettre::Message::builder()
        .from(lettre_mailbox(&mail.from)?)
        .subject(one_line(&mail.subject))
        .message_id(Some(angle_id(&mail.message_id, "Message-ID")?))
        .date(mail.date.map_or_else(SystemTime::now, system_time));
    for to in &mail.to {
        builder = builder.to(lettre_mailbox(to)?);
    }
    for cc in &mail.cc {
        builder = builder.cc(lettre_mailbox(cc)?);
    }
    if let Some(id) = &mail.in_reply_to {
        builder = builder.in_reply_to(angle_id(id, "In-Reply-To")?);
    }
    if !mail.references.is_empty() {
        let refs =
            mail.references.iter().map(|r| angle_id(r, "References")).collect::<Result<Vec<_>, _>>()?;
        builder = builder.references(refs.join(" "));
    }
    if mail.auto_submitted {
        let value = if mail.in_reply_to.is_some() { "auto-replied" } else { "auto-generated" };
        builder = builder
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), value.to_owned()))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
                "All".to_owned(),
            ));
    }

    let text = mail.text.replace("\r\n", "\n");
    let body = match &mail.html {
        Some(html) => Body::Multi(MultiPart::alternative_plain_html(text, html.clone())),
        None => Body::Single(SinglePart::plain(text)),
    };
    let message = if mail.attachments.is_empty() {
        match body {
            Body::Multi(m) => builder.multipart(m),
            Body::Single(s) => builder.singlepart(s),
        }
    } else {
        let mut mixed = match body {
            Body::Multi(m) => MultiPart::mixed().multipart(m),
            Body::Single(s) => MultiPart::mixed().singlepart(s),
        };
        for a in &mail.attachments {
            let content_type = ContentType::parse(&a.mime)
                .or_else(|_| ContentType::parse("application/octet-stream"))
                .map_err(|e| MailError::Compose(format!("content type of {}: {e}", a.name)))?;
            let name = one_line(&a.name);
            let name = if name.trim().is_empty() { "attachment".to_owned() } else { name };
            mixed = mixed.singlepart(Attachment::new(name).body(a.data.clone(), content_type));
        }
        builder.multipart(mixed)
    };
    message.map_err(|e| MailError::Compose(e.to_string()))
}

fn system_time(ts: jiff::Timestamp) -> SystemTime {
    let secs = ts.as_second();
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

enum Body {
    Single(SinglePart),
    Multi(MultiPart),
}

fn lettre_mailbox(m: &Mailbox) -> Result<lettre::message::Mailbox, MailError> {
    let address = m
        .address
        .trim()
        .parse::<lettre::Address>()
        .map_err(|e| MailError::Compose(format!("invalid address {:?}: {e}", m.address)))?;
    let name = m.name.as_deref().map(one_line).filter(|n| !n.trim().is_empty());
    Ok(lettre::message::Mailbox::new(name, address))
}

/// `<id>` after checking the id is a plain `left@right` token.
fn angle_id(id: &str, header: &str) -> Result<String, MailError> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let ok = !id.is_empty()
        && id.contains('@')
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\' | b'(' | b')' | b','));
    if ok {
        Ok(format!("<{id}>"))
    } else {
        Err(MailError::Compose(format!(
            "{header}: {id:?} is not a message id (ascii `left@right`, no spaces)"
        )))
    }
}

/// Header text on one line: CR, LF and other controls become spaces.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}
