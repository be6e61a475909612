//! Email as raw bytes in, neutral values out, and back: parsing inbound mail, composing outbound mail.
//!
//! Everything here is pure (no I/O); the IMAP/SMTP transports live next to it and hand bytes in and
//! out. Chinese mail systems are the norm, not the exception: GBK/GB2312/GB18030/Big5 bodies, RFC 2047
//! subjects, RFC 2231 attachment names, 8-bit headers without any label, Foxmail/QQ/Outlook/网易 quote
//! headers. The crates behind it are documented in `/work/shared/specs/rust-crates.md` §2.
//!
//! - [`parse_mail`] turns the bytes of one message into an [`InboundMail`], or a [`MailError`] whose
//!   text says what is wrong (the caller quarantines such mail with that reason).
//! - [`loops`] decides whether a mail was written by a machine ([`Automatic`]: auto-reply, bounce,
//!   bulk) so zhiban never answers it, and [`is_own_address`] recognises zhiban's own mail.
//! - [`ticket_in_subject`] / [`subject_tag`] read and write the `【工单 20261124-007】` subject tag;
//!   [`strip_quoted`] keeps only the new part of a reply.
//! - [`compose()`] builds a `lettre::Message` from an [`OutgoingMail`].
//!
//! ```
//! use zhiban_integrations::email::{parse_mail, strip_quoted, ticket_in_subject};
//!
//! let raw = "From: 张三 <zhangsan@Court.GOV.cn>\r\n\
//!            Message-ID: <r1@court.gov.cn>\r\n\
//!            Subject: =?UTF-8?B?UmU6IOOAkOW3peWNlSAyMDI2MTEyNS0wMDPjgJE=?=\r\n\
//!            \r\n\
//!            已经恢复，谢谢。\r\n\
//!            \r\n\
//!            在 2026年11月25日 10:00，值班 <duty@court.gov.cn> 写道：\r\n\
//!            > 请确认\r\n";
//! let mail = parse_mail(raw.as_bytes()).unwrap();
//! assert_eq!(mail.from.as_ref().unwrap().address, "zhangsan@court.gov.cn");
//! assert_eq!(ticket_in_subject(&mail.subject).as_deref(), Some("20261125-003"));
//! assert_eq!(strip_quoted(&mail.text), "已经恢复，谢谢。");
//! assert!(mail.automatic.is_none());
//! ```

pub mod compose;
pub mod html;
pub mod loops;
pub mod parse;

#[cfg(test)]
mod tests;

use std::fmt;

pub use compose::{OutgoingMail, compose, new_message_id, subject_tag};
pub use loops::{Automatic, is_own_address};
pub use parse::{InboundMail, parse_mail, strip_quoted, ticket_in_subject};

/// Raw messages above this size are refused with [`MailError::TooLarge`] before any parsing.
pub const MAX_RAW_BYTES: usize = 25 * 1024 * 1024;

/// One address with its optional display name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// The display name, decoded (RFC 2047, any charset); `None` when absent or blank.
    pub name: Option<String>,
    /// `local@domain`, the domain lowercased; the local part is kept as written.
    pub address: String,
}

impl Mailbox {
    /// A mailbox with the domain of `address` lowercased and a blank name dropped.
    pub fn new(name: Option<&str>, address: &str) -> Mailbox {
        let name = name.map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
        Mailbox { name, address: normalize_address(address) }
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} <{}>", self.address),
            None => f.write_str(&self.address),
        }
    }
}

/// Trims, strips one pair of angle brackets and lowercases the domain.
pub(crate) fn normalize_address(address: &str) -> String {
    let a = address.trim();
    let a = a.strip_prefix('<').and_then(|a| a.strip_suffix('>')).unwrap_or(a).trim();
    match a.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => a.to_owned(),
    }
}

/// A file carried by a mail, inbound or outbound. Inline images count as attachments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAttachment {
    /// The file name, decoded (RFC 2047 and RFC 2231, any charset). An attachment without a name
    /// gets `attachment-N` plus an extension guessed from its type.
    pub name: String,
    /// `type/subtype`, lowercased, without parameters (`application/octet-stream` when unknown).
    pub mime: String,
    /// The decoded bytes (transfer encoding removed; text attachments keep their original charset).
    pub data: Vec<u8>,
}

/// Why a mail could not be parsed or composed. The `Display` text is the quarantine reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// Zero bytes, or only whitespace.
    #[error("empty message: the input has no bytes other than whitespace")]
    Empty,
    /// Over [`MAX_RAW_BYTES`].
    #[error("message too large: {size} bytes, the limit is {max} bytes")]
    TooLarge { size: usize, max: usize },
    /// The input does not start with an RFC 5322 header section.
    #[error("not an email message: {0}")]
    NoHeaders(String),
    /// A header section is there, but the message is unusable (truncated, no sender and no id...).
    #[error("malformed email message: {0}")]
    Malformed(String),
    /// An [`OutgoingMail`] that cannot be turned into a message (bad address, bad message id...).
    #[error("cannot compose mail: {0}")]
    Compose(String),
}

impl MailError {
    /// A short stable code for metrics and the quarantine table.
    pub fn code(&self) -> &'static str {
        match self {
            MailError::Empty => "empty",
            MailError::TooLarge { .. } => "too_large",
            MailError::NoHeaders(_) => "no_headers",
            MailError::Malformed(_) => "malformed",
            MailError::Compose(_) => "compose",
        }
    }
}
pub mod imap;
pub mod smtp;
