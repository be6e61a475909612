//! Inbound mail: raw RFC 5322 bytes to an [`InboundMail`], the ticket tag of a subject, and the new
//! part of a reply.
//!
//! mail-parser 0.11.9 (with `full_encoding`) does the MIME work. Around it:
//!
//! - **What counts as malformed.** mail-parser accepts almost anything, so [`parse_mail`] decides
//!   first: empty or whitespace-only input; over [`MAX_RAW_BYTES`]; a first line that is not a
//!   header field (`Name: value`; a leading mbox `From ` line is skipped); a header section that
//!   never ends (no blank line: truncated, or headers only); neither a From address nor a
//!   Message-ID; a multipart body without a boundary parameter, or whose closing boundary
//!   `--boundary--` never comes (truncated in transit). Each is a [`MailError`] saying which.
//! - **Charsets without a label.** A text part with no charset (or an unknown one, or `us-ascii`)
//!   whose bytes are not UTF-8 is decoded as GB18030 (HTML first looks for `<meta charset>`); a
//!   top-level header line in raw 8-bit that is not UTF-8 is read as GB18030 too, and so are raw
//!   8-bit attachment names. Mainland Chinese mail systems are the ones that do this.
//! - **HTML-only mail** becomes text with [`html_to_text`].

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};

use encoding_rs::{Encoding as Charset, GB18030};
use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{
    Address, Encoding, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType,
};

use super::html::html_to_text;
use super::loops::{self, Automatic};
use super::{MAX_RAW_BYTES, MailAttachment, MailError, Mailbox};

/// One inbound mail, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMail {
    /// Without the angle brackets.
    pub message_id: Option<String>,
    /// Without the angle brackets.
    pub in_reply_to: Vec<String>,
    /// Without the angle brackets, oldest first as written.
    pub references: Vec<String>,
    pub from: Option<Mailbox>,
    pub reply_to: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    /// Decoded (RFC 2047, any charset), trimmed; empty when absent.
    pub subject: String,
    pub date: Option<jiff::Timestamp>,
    /// The text/plain body if there is one, else the HTML body as text; `\n` line ends.
    pub text: String,
    pub html: Option<String>,
    /// Attachments and inline images, in MIME order.
    pub attachments: Vec<MailAttachment>,
    /// Set when a machine wrote this mail: never answer it.
    pub automatic: Option<Automatic>,
}

/// Parses one raw message (as fetched with IMAP `BODY[]`). Never panics.
pub fn parse_mail(raw: &[u8]) -> Result<InboundMail, MailError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(MailError::Empty);
    }
    if raw.len() > MAX_RAW_BYTES {
        return Err(MailError::TooLarge { size: raw.len(), max: MAX_RAW_BYTES });
    }
    let raw = skip_preamble(raw);
    let body_start = check_header_section(raw)?;
    let prepared = transcode_8bit_headers(raw, body_start);

    // mail-parser promises not to panic; a panic is still caught so one hostile mail cannot take the
    // mail loop down with it.
    let parsed = catch_unwind(AssertUnwindSafe(|| MessageParser::default().parse(prepared.as_ref())))
        .map_err(|_| MailError::Malformed("the MIME parser gave up on this message".into()))?;
    let msg = parsed.ok_or_else(|| MailError::NoHeaders("no header fields found".into()))?;

    let from = mailboxes(msg.from()).into_iter().next();
    let message_id = msg.message_id().map(clean_id).filter(|id| !id.is_empty());
    if from.is_none() && message_id.is_none() {
        return Err(MailError::Malformed("neither a From address nor a Message-ID".into()));
    }
    check_multipart_complete(&msg)?;

    let subject = msg.subject().map(|s| s.trim().to_owned()).unwrap_or_default();
    let date =
        msg.date().filter(|d| d.is_valid()).and_then(|d| jiff::Timestamp::from_second(d.to_timestamp()).ok());

    let mut texts = Vec::new();
    let mut htmls = Vec::new();
    for part in msg.html_body.iter().filter_map(|&id| msg.parts.get(id as usize)) {
        if let PartType::Html(_) = part.body {
            htmls.push(part_text(&msg, part, true));
        }
    }
    for part in msg.text_body.iter().filter_map(|&id| msg.parts.get(id as usize)) {
        match part.body {
            PartType::Text(_) => texts.push(part_text(&msg, part, false)),
            PartType::Html(_) => texts.push(html_to_text(&part_text(&msg, part, true))),
            _ => {}
        }
    }
    if texts.is_empty() && !htmls.is_empty() {
        texts = htmls.iter().map(|h| html_to_text(h)).collect();
    }
    let text = tidy_text(&texts.join("\n"));
    let html = (!htmls.is_empty()).then(|| htmls.join("\n"));

    let attachments = msg.attachments().enumerate().map(|(n, part)| attachment(&msg, part, n + 1)).collect();
    let automatic = loops::detect(&msg, from.as_ref(), &subject);

    Ok(InboundMail {
        message_id,
        in_reply_to: id_list(msg.in_reply_to()),
        references: id_list(msg.references()),
        reply_to: mailboxes(msg.reply_to()).into_iter().next(),
        to: mailboxes(msg.to()),
        cc: mailboxes(msg.cc()),
        from,
        subject,
        date,
        text,
        html,
        attachments,
        automatic,
    })
}

/// Skips leading blank lines and an mbox `From ` separator line.
fn skip_preamble(mut raw: &[u8]) -> &[u8] {
    loop {
        let line_end = raw.iter().position(|&b| b == b'\n').map_or(raw.len(), |i| i + 1);
        let line = &raw[..line_end];
        if line.iter().all(u8::is_ascii_whitespace) || line.starts_with(b"From ") {
            if line_end == raw.len() {
                return raw;
            }
            raw = &raw[line_end..];
        } else {
            return raw;
        }
    }
}

/// Checks the shape of the header section and returns where the body starts.
fn check_header_section(raw: &[u8]) -> Result<usize, MailError> {
    let first_end = raw.iter().position(|&b| b == b'\n').unwrap_or(raw.len());
    let first = &raw[..first_end];
    let name_len = first.iter().position(|&b| !(33..=126).contains(&b) || b == b':').unwrap_or(first.len());
    let after_name = first[name_len..].iter().position(|&b| b != b' ' && b != b'\t').map(|i| name_len + i);
    if name_len == 0 || after_name.is_none_or(|i| first[i] != b':') {
        return Err(MailError::NoHeaders(format!(
            "the first line is not a header field (\"Name: value\"): {}",
            preview(first)
        )));
    }
    let mut pos = 0;
    while pos < raw.len() {
        let end = raw[pos..].iter().position(|&b| b == b'\n').map_or(raw.len(), |i| pos + i + 1);
        let line = &raw[pos..end];
        if line == b"\n" || line == b"\r\n" {
            return Ok(end);
        }
        pos = end;
    }
    Err(MailError::Malformed(
        "the header section never ends: no blank line before a body (truncated, or headers only)".into(),
    ))
}

fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(60)]);
    let text: String = text.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect();
    format!("{text:?}")
}

/// Top-level header lines that are raw 8-bit and not UTF-8 are re-encoded from GB18030 to UTF-8
/// (RFC 6532 style), which mail-parser reads.
fn transcode_8bit_headers(raw: &[u8], body_start: usize) -> Cow<'_, [u8]> {
    let head = &raw[..body_start];
    if std::str::from_utf8(head).is_ok() {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len() + head.len() / 2);
    for line in head.split_inclusive(|&b| b == b'\n') {
        if std::str::from_utf8(line).is_ok() {
            out.extend_from_slice(line);
        } else {
            out.extend_from_slice(GB18030.decode_without_bom_handling(line).0.as_bytes());
        }
    }
    out.extend_from_slice(&raw[body_start..]);
    Cow::Owned(out)
}

/// A multipart root must declare a boundary and close it: a missing `--boundary--` means the
/// message was cut off.
fn check_multipart_complete(msg: &Message<'_>) -> Result<(), MailError> {
    let Some(ct) = msg.content_type() else { return Ok(()) };
    if !ct.ctype().eq_ignore_ascii_case("multipart") {
        return Ok(());
    }
    let subtype = ct.subtype().unwrap_or("");
    let Some(boundary) = ct.attribute("boundary").filter(|b| !b.is_empty()) else {
        return Err(MailError::Malformed(format!(
            "Content-Type multipart/{subtype} without a boundary parameter"
        )));
    };
    let close = format!("--{boundary}--");
    let raw = msg.raw_message();
    let body = raw.get(msg.root_part().offset_body as usize..).unwrap_or_default();
    if !contains(body, format!("--{boundary}").as_bytes()) {
        return Err(MailError::Malformed(format!(
            "truncated MIME: multipart/{subtype} body has no part delimited by \"--{boundary}\""
        )));
    }
    if !contains(body, close.as_bytes()) {
        return Err(MailError::Malformed(format!(
            "truncated MIME: the closing boundary \"{close}\" of the multipart/{subtype} body is missing"
        )));
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn clean_id(id: &str) -> String {
    id.trim().trim_start_matches('<').trim_end_matches('>').trim().to_owned()
}

fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    let items: Vec<&str> = match value {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(list) => list.iter().map(|t| t.as_ref()).collect(),
        _ => Vec::new(),
    };
    items.into_iter().flat_map(|s| s.split_whitespace()).map(clean_id).filter(|id| !id.is_empty()).collect()
}

fn mailboxes(address: Option<&Address<'_>>) -> Vec<Mailbox> {
    let addrs: Vec<&mail_parser::Addr<'_>> = match address {
        Some(Address::List(list)) => list.iter().collect(),
        Some(Address::Group(groups)) => groups.iter().flat_map(|g| g.addresses.iter()).collect(),
        None => Vec::new(),
    };
    addrs
        .into_iter()
        .filter_map(|a| {
            let address = a.address.as_deref()?.trim();
            (!address.is_empty()).then(|| Mailbox::new(a.name.as_deref(), address))
        })
        .collect()
}

/// The text of a header of the top-level part, by name (any case), unfolded; `None` when absent.
pub(crate) fn header_text(msg: &Message<'_>, name: &str) -> Option<String> {
    let raw = msg.raw_message();
    let header = msg.parts.first()?.headers.iter().find(|h| h.name().eq_ignore_ascii_case(name))?;
    let bytes = raw.get(header.offset_start as usize..header.offset_end as usize)?;
    let text = String::from_utf8_lossy(bytes);
    let unfolded: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    Some(unfolded.join(" "))
}

const ASCII_LABELS: &[&str] = &["us-ascii", "ascii", "us_ascii", "ansi_x3.4-1968", "iso646-us"];

/// The decoded text of a text part. Parts with a usable charset label are mail-parser's work;
/// without one (or with an unknown or ASCII label), valid UTF-8 stays UTF-8 and anything else is
/// read as GB18030 (or the `<meta charset>` of an HTML part).
fn part_text(msg: &Message<'_>, part: &MessagePart<'_>, is_html: bool) -> String {
    let decoded = part.text_contents().unwrap_or_default();
    let label =
        part.content_type().and_then(|ct| ct.attribute("charset")).map(|c| c.trim().to_ascii_lowercase());
    let trusted = label.as_deref().is_some_and(|l| {
        !l.is_empty() && !ASCII_LABELS.contains(&l) && charset_decoder(l.as_bytes()).is_some()
    });
    if trusted || part.is_encoding_problem {
        return decoded.to_owned();
    }
    let Some(bytes) = transfer_decoded(msg, part) else { return decoded.to_owned() };
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let bytes = e.into_bytes();
            let charset = if is_html { sniff_meta_charset(&bytes) } else { None }.unwrap_or(GB18030);
            charset.decode_without_bom_handling(&bytes).0.into_owned()
        }
    }
}

/// The bytes of a part with the transfer encoding removed, straight from the raw message.
fn transfer_decoded(msg: &Message<'_>, part: &MessagePart<'_>) -> Option<Vec<u8>> {
    let raw = msg.raw_message().get(part.offset_body as usize..part.offset_end as usize)?;
    match part.encoding {
        Encoding::None => Some(raw.to_vec()),
        Encoding::Base64 => {
            let clean: Vec<u8> = raw.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
            base64_decode(&clean)
        }
        Encoding::QuotedPrintable => quoted_printable_decode(raw),
    }
}

/// `<meta charset="gbk">` or `<meta http-equiv="Content-Type" content="text/html; charset=gb2312">`
/// in the first 2 KiB.
fn sniff_meta_charset(bytes: &[u8]) -> Option<&'static Charset> {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]).to_ascii_lowercase();
    let mut rest = head.as_str();
    while let Some(i) = rest.find("charset=") {
        rest = &rest[i + "charset=".len()..];
        let label: String = rest
            .trim_start_matches(['"', '\'', ' '])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
            .collect();
        if let Some(charset) = Charset::for_label(label.as_bytes()) {
            // A UTF-8 label on bytes that are not UTF-8 is a lie: keep the GB18030 default.
            return (charset != encoding_rs::UTF_8).then_some(charset);
        }
    }
    None
}

/// `\n` line ends, no trailing whitespace on lines, no blank lines at either end.
fn tidy_text(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let start = lines.iter().position(|l| !l.is_empty()).unwrap_or(lines.len());
    let end = lines.iter().rposition(|l| !l.is_empty()).map_or(start, |i| i + 1);
    lines[start..end].join("\n")
}

fn attachment(msg: &Message<'_>, part: &MessagePart<'_>, n: usize) -> MailAttachment {
    let mime = match (part.content_type(), &part.body) {
        (_, PartType::Message(_)) => "message/rfc822".to_owned(),
        (Some(ct), _) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        (None, PartType::Text(_)) => "text/plain".to_owned(),
        (None, _) => "application/octet-stream".to_owned(),
    };
    let name = attachment_name(msg, part)
        .map(|n| sanitize_file_name(&n))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("attachment-{n}{}", extension_for(&mime)));
    let data = match part.body {
        // mail-parser turned text into UTF-8; a file keeps its own bytes.
        PartType::Text(_) | PartType::Html(_) if !part.is_encoding_problem => {
            transfer_decoded(msg, part).unwrap_or_else(|| part.contents().to_vec())
        }
        _ => part.contents().to_vec(),
    };
    MailAttachment { name, mime, data }
}

/// The decoded file name; a raw 8-bit (GBK) name is re-read as GB18030.
fn attachment_name(msg: &Message<'_>, part: &MessagePart<'_>) -> Option<String> {
    let name = part.attachment_name()?;
    if !name.contains('\u{fffd}') {
        return Some(name.to_owned());
    }
    for header_name in ["Content-Disposition", "Content-Type"] {
        let Some(h) = part.headers.iter().find(|h| h.name().eq_ignore_ascii_case(header_name)) else {
            continue;
        };
        let Some(raw) = msg.raw_message().get(h.offset_start as usize..h.offset_end as usize) else {
            continue;
        };
        if std::str::from_utf8(raw).is_ok() {
            continue;
        }
        let value = GB18030.decode_without_bom_handling(raw).0;
        let mini = format!("Content-Type: application/octet-stream\r\n{header_name}:{value}\r\n\r\n");
        let reparsed = catch_unwind(AssertUnwindSafe(|| {
            MessageParser::default()
                .parse(mini.as_bytes())
                .and_then(|m| m.attachment_name().map(str::to_owned))
        }));
        if let Ok(Some(name)) = reparsed
            && !name.contains('\u{fffd}')
        {
            return Some(name);
        }
    }
    Some(name.to_owned())
}

/// The last path component, control characters removed, trimmed.
fn sanitize_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = last.chars().filter(|c| !c.is_control()).collect();
    clean.trim().trim_matches('.').trim().to_owned()
}

fn extension_for(mime: &str) -> &'static str {
    match mime {
        "image/png" => ".png",
        "image/jpeg" | "image/jpg" => ".jpg",
        "image/gif" => ".gif",
        "image/bmp" => ".bmp",
        "image/webp" => ".webp",
        "text/plain" => ".txt",
        "text/html" => ".html",
        "text/calendar" => ".ics",
        "application/pdf" => ".pdf",
        "message/rfc822" => ".eml",
        "message/delivery-status" => ".txt",
        _ => ".bin",
    }
}

// ---------------------------------------------------------------------------------------------
// Ticket tags in subjects.

/// The ticket number in a subject tag — `【工单 20261124-007】`, `[工单 20261124-007]`,
/// `[工单#20261124-007]`, `【工单：20261124-007】`, `[Ticket 20261124-007]`, full-width digits and
/// brackets too — normalized to `YYYYMMDD-NNN` (the sequence kept as written, at least 3 digits).
/// The date must be a real date. The first valid tag wins.
pub fn ticket_in_subject(subject: &str) -> Option<String> {
    let chars: Vec<char> = subject.chars().collect();
    chars
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c, '【' | '[' | '［' | '〖' | '〔'))
        .find_map(|(i, _)| ticket_at(&chars[i + 1..]))
}

fn ticket_at(s: &[char]) -> Option<String> {
    let is_space = |c: char| c.is_whitespace();
    let mut i = s.iter().take_while(|c| is_space(**c)).count();
    let keyword_len = ["工单", "工單"]
        .iter()
        .find(|k| starts_with(s, i, k, false))
        .map(|k| k.chars().count())
        .or_else(|| starts_with(s, i, "ticket", true).then_some(6))?;
    i += keyword_len;
    i += s[i..]
        .iter()
        .take_while(|c| is_space(**c) || matches!(c, '#' | '＃' | ':' | '：' | '-' | '－'))
        .count();

    let digit = |c: char| match c {
        '0'..='9' => Some(c),
        '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32),
        _ => None,
    };
    let date: String = s[i..].iter().map_while(|&c| digit(c)).collect();
    if date.chars().count() != 8 {
        return None;
    }
    i += 8;
    if !matches!(s.get(i), Some('-' | '－' | '‐' | '‑' | '–' | '—' | '_')) {
        return None;
    }
    i += 1;
    let seq: String = s[i..].iter().map_while(|&c| digit(c)).collect();
    if seq.len() < 3 {
        return None;
    }
    i += seq.len();
    i += s[i..].iter().take_while(|c| is_space(**c)).count();
    if !matches!(s.get(i), Some('】' | ']' | '］' | '〗' | '〕')) {
        return None;
    }
    let year: i16 = date[..4].parse().ok()?;
    let month: i8 = date[4..6].parse().ok()?;
    let day: i8 = date[6..8].parse().ok()?;
    if year < 2000 || jiff::civil::Date::new(year, month, day).is_err() {
        return None;
    }
    Some(format!("{date}-{seq}"))
}

fn starts_with(s: &[char], at: usize, word: &str, ignore_case: bool) -> bool {
    let mut n = 0;
    for w in word.chars() {
        match s.get(at + n) {
            Some(&c) if c == w || (ignore_case && c.to_ascii_lowercase() == w) => n += 1,
            _ => return false,
        }
    }
    true
}

// ---------------------------------------------------------------------------------------------
// The new part of a reply.

/// The new part of a reply: cut at the first quote header (`在 … 写道：`, `… 于 … 写道：`,
/// `-----原始邮件-----`, Foxmail/QQ `------------------ 原始邮件 ------------------`, `---- 回复的原邮件 ----`,
/// `-----Original Message-----`, an Outlook `发件人:`/`From:` block followed by `发送时间`/`Sent`/`收件人`/
/// `To`/`主题`/`Subject` lines, `On … wrote:`), `>` quoted lines dropped, a `-- ` signature cut.
///
/// Conservative: when nothing would be left (bottom-posting, a bare forward), the text after the
/// quote header minus the `>` lines is kept, and failing that the whole text.
pub fn strip_quoted(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let lines: Vec<&str> = text.lines().collect();
    let cut = (0..lines.len()).find(|&i| quote_header_at(&lines, i));

    let is_quoted = |l: &&str| l.trim_start().starts_with('>');
    let head: Vec<&str> =
        lines[..cut.unwrap_or(lines.len())].iter().filter(|l| !is_quoted(l)).copied().collect();
    let mut kept = finish_reply(&head);
    if kept.is_empty()
        && let Some(cut) = cut
    {
        // Bottom-posting: the reply is below the quote header, between or after the `>` lines.
        let header_len = quote_header_len(&lines, cut);
        let last = lines[cut + header_len - 1].trim_end();
        let attribution = last.ends_with("wrote:") || WROTE.iter().any(|w| last.ends_with(w));
        let tail: Vec<&str> = lines[cut + header_len..].iter().filter(|l| !is_quoted(l)).copied().collect();
        // Only after an attribution line (`… wrote:`); below `-----原始邮件-----` or an Outlook
        // header block is the original mail, not a reply.
        if attribution && !tail.iter().any(|l| is_separator_line(l)) {
            kept = finish_reply(&tail);
        }
    }
    if kept.is_empty() { tidy_text(&text).trim().to_owned() } else { kept }
}

/// Cuts a `-- ` signature and trailing separator lines, trims.
fn finish_reply(lines: &[&str]) -> String {
    let sig = lines.iter().position(|l| *l == "-- " || *l == "--");
    let mut lines = &lines[..sig.unwrap_or(lines.len())];
    while let Some((last, rest)) = lines.split_last() {
        let t = last.trim();
        if t.is_empty() || (t.len() >= 5 && t.chars().all(|c| matches!(c, '_' | '-' | '=' | '—'))) {
            lines = rest;
        } else {
            break;
        }
    }
    let mut out: Vec<&str> = Vec::with_capacity(lines.len());
    for line in lines.iter().map(|l| l.trim_end()) {
        // Mail clients pad replies with runs of empty lines: keep at most one.
        if !(line.is_empty() && out.last().is_some_and(|l| l.is_empty())) {
            out.push(line);
        }
    }
    out.join("\n").trim().to_owned()
}

/// `-----原始邮件-----` and friends.
fn is_separator_line(line: &str) -> bool {
    let t = line.trim().trim_start_matches('>').trim();
    let lower = t.to_lowercase();
    let marked = ["原始邮件", "原始郵件", "回复的原邮件", "original message", "original"]
        .iter()
        .any(|m| lower.trim_matches(|c: char| c == '-' || c.is_whitespace() || c == '—') == *m);
    marked && (t.starts_with('-') || t.starts_with('—'))
}

const WROTE: &[&str] = &["写道：", "写道:", "寫道：", "寫道:"];

fn quote_header_at(lines: &[&str], i: usize) -> bool {
    quote_header_len(lines, i) > 0
}

/// How many lines the quote header starting at `i` spans; 0 when there is none.
fn quote_header_len(lines: &[&str], i: usize) -> usize {
    let line = lines[i].trim();
    if line.is_empty() {
        return 0;
    }
    if is_separator_line(line) {
        return 1;
    }
    // `在 2026年11月24日 10:00，张三 <a@b> 写道：` (Foxmail, 网易, QQ), `张三 <a@b> 于2026年11月24日周二 10:00写道：`
    // (Gmail): possibly wrapped over up to three lines.
    if line.starts_with('在') || line.contains('于') || line.contains('於') {
        for (k, l) in lines[i..].iter().take(3).enumerate() {
            let l = l.trim();
            if WROTE.iter().any(|w| l.ends_with(w)) {
                let joined = lines[i..=i + k].join(" ");
                if joined.starts_with('在') || joined.contains('于') || joined.contains('於') {
                    return k + 1;
                }
            }
            if k > 0 && l.starts_with('>') {
                break;
            }
        }
    }
    // `On Tue, Nov 24, 2026 at 10:00 AM 张三 <a@b> wrote:`, maybe wrapped.
    if line.starts_with("On ") {
        for (k, l) in lines[i..].iter().take(3).enumerate() {
            if l.trim_end().ends_with("wrote:") {
                return k + 1;
            }
            if k > 0 && l.trim_start().starts_with('>') {
                break;
            }
        }
    }
    // Outlook: `发件人: …` then `发送时间:`, `收件人:`, `主题:` (or `From:`, `Sent:`, `To:`, `Subject:`).
    let field = |l: &str, names: &[&str]| {
        let l = l.trim().trim_start_matches('*');
        names.iter().any(|n| {
            l.strip_prefix(n).is_some_and(|r| r.trim_start_matches('*').trim_start().starts_with([':', '：']))
        })
    };
    if field(line, &["发件人", "寄件者", "From"]) {
        let following = lines[i + 1..]
            .iter()
            .take(6)
            .filter(|l| {
                field(
                    l,
                    &[
                        "发送时间",
                        "日期",
                        "时间",
                        "Sent",
                        "Date",
                        "收件人",
                        "To",
                        "抄送",
                        "Cc",
                        "主题",
                        "Subject",
                        "寄件日期",
                        "主旨",
                    ],
                )
            })
            .count();
        if following >= 2 {
            return 1;
        }
    }
    0
}
