//! Replies to a page sent by SMS: `1 007` (acknowledge ticket 007), `确认 007`, `3 007 张三`.
//!
//! The page text carries [`reply_hint`], and [`parse_reply`] accepts exactly what the hint shows
//! plus the variants phones produce: full-width digits and punctuation from Chinese input methods
//! (`１ ００７`, `1，007`), the word instead of the number (`确认 007`, `到场007`), the full ticket
//! number (`1 20261125-007`), a copied hint (`1 007 确认`) and a leading `回复`.
//!
//! The number and the ticket must be separated (`1 007`, not `1007`): glued together they are
//! ambiguous (`1007` could be action 1 for 007 or ticket 1007), and a wrong guess acknowledges
//! someone else's fault.

use std::fmt;

/// What the engineer wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyAction {
    /// 1 / 确认: I have seen the page and own it.
    Acknowledge,
    /// 2 / 到场: I am on site.
    Arrive,
    /// 3 / 转派: hand the ticket over, to a named person if given.
    Reassign { to: Option<String> },
}

/// The ticket a reply is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketRef {
    /// Today's sequence number (`007` → 7); the core resolves it against the pages it sent to
    /// this phone.
    Seq(u16),
    /// A full ticket number, normalised to `20261125-007`.
    Full(String),
}

/// A parsed reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub action: ReplyAction,
    pub ticket: TicketRef,
}

/// How to reply, in the words the engineer sees (zh-CN).
pub const USAGE: &str = "用法：回复 1 007 确认，2 007 到场，3 007 转派（可加姓名，如 3 007 张三）；也可写 确认 007、到场 007、转派 007 张三。";

/// Why a reply was not understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyErrorKind {
    Empty,
    UnknownAction,
    /// `1007`: action and ticket not separated.
    NoSeparator,
    MissingTicket,
    BadTicket,
    TrailingText,
}

/// A reply that is not understood; its `Display` is the answer to send back, usage included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("无法识别的回复：{}。{USAGE}", self.reason())]
pub struct ReplyError {
    pub kind: ReplyErrorKind,
}

impl ReplyError {
    /// The reason alone, in Chinese.
    pub fn reason(&self) -> &'static str {
        match self.kind {
            ReplyErrorKind::Empty => "内容为空",
            ReplyErrorKind::UnknownAction => "开头应为 1、2、3 或 确认、到场、转派",
            ReplyErrorKind::NoSeparator => "操作编号和单号之间要有空格或逗号，如 1 007",
            ReplyErrorKind::MissingTicket => "缺少单号",
            ReplyErrorKind::BadTicket => "单号格式不对，应为 007 或 20261125-007",
            ReplyErrorKind::TrailingText => "单号后有多余内容",
        }
    }

    pub fn usage(&self) -> &'static str {
        USAGE
    }
}

/// The line a page prints so the engineer knows what to send: `回复 1 007 确认 / 2 007 到场 / 3 007 转派`.
/// Every form in it is accepted by [`parse_reply`].
pub fn reply_hint(seq: &str) -> String {
    format!("回复 1 {seq} 确认 / 2 {seq} 到场 / 3 {seq} 转派")
}

const WORDS: [(&str, u8); 3] = [("确认", 1), ("到场", 2), ("转派", 3)];
const MAX_NAME_CHARS: usize = 32;

/// Parses one SMS reply. Never panics, whatever the input.
pub fn parse_reply(text: &str) -> Result<Reply, ReplyError> {
    let err = |kind| ReplyError { kind };
    let normalised = normalise(text);
    let mut rest = normalised.trim_matches(is_separator_or_end_punct);
    if let Some(after) = rest.strip_prefix("回复") {
        rest = after.trim_start_matches(is_separator);
    }
    if rest.is_empty() {
        return Err(err(ReplyErrorKind::Empty));
    }

    // The action: a single digit 1-3 followed by a separator, or a word.
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let code = if digits > 0 {
        let next = rest[digits..].chars().next();
        match (&rest[..digits], next) {
            ("1" | "2" | "3", Some(c)) if is_separator(c) => {}
            ("1" | "2" | "3", None) => return Err(err(ReplyErrorKind::MissingTicket)),
            (d, _) if d.len() > 1 && matches!(d.as_bytes()[0], b'1'..=b'3') => {
                return Err(err(ReplyErrorKind::NoSeparator));
            }
            _ => return Err(err(ReplyErrorKind::UnknownAction)),
        }
        let code = rest.as_bytes()[0] - b'0';
        rest = &rest[digits..];
        code
    } else {
        let Some((word, code)) = WORDS.iter().find(|(w, _)| rest.starts_with(w)) else {
            return Err(err(ReplyErrorKind::UnknownAction));
        };
        rest = &rest[word.len()..];
        *code
    };
    rest = rest.trim_start_matches(is_separator);

    // The ticket: `007` or `20261125-007`.
    let head = rest.bytes().take_while(u8::is_ascii_digit).count();
    if head == 0 {
        return Err(err(if rest.is_empty() {
            ReplyErrorKind::MissingTicket
        } else {
            ReplyErrorKind::BadTicket
        }));
    }
    let (ticket, after) = match rest[head..].strip_prefix('-') {
        Some(tail) => {
            let seq_len = tail.bytes().take_while(u8::is_ascii_digit).count();
            let seq = parse_seq(&tail[..seq_len]).ok_or(err(ReplyErrorKind::BadTicket))?;
            if head != 8 {
                return Err(err(ReplyErrorKind::BadTicket));
            }
            (TicketRef::Full(format!("{}-{seq:03}", &rest[..head])), &tail[seq_len..])
        }
        None => {
            (TicketRef::Seq(parse_seq(&rest[..head]).ok_or(err(ReplyErrorKind::BadTicket))?), &rest[head..])
        }
    };
    if after.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(err(ReplyErrorKind::BadTicket));
    }
    let tail = after.trim_matches(is_separator);

    let action = match code {
        1 | 2 => {
            let own_word = if code == 1 { "确认" } else { "到场" };
            if !tail.is_empty() && tail != own_word {
                return Err(err(ReplyErrorKind::TrailingText));
            }
            if code == 1 { ReplyAction::Acknowledge } else { ReplyAction::Arrive }
        }
        _ => {
            let name = tail.strip_prefix("转派").unwrap_or(tail).trim_start_matches(is_separator);
            let name = name.strip_prefix('给').unwrap_or(name).trim_matches(is_separator);
            if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
                return Err(err(ReplyErrorKind::TrailingText));
            }
            ReplyAction::Reassign { to: (!name.is_empty()).then(|| name.to_string()) }
        }
    };
    Ok(Reply { action, ticket })
}

/// 1 to 4 digits, not zero: the daily sequence of a ticket.
fn parse_seq(digits: &str) -> Option<u16> {
    if digits.is_empty() || digits.len() > 4 {
        return None;
    }
    digits.parse().ok().filter(|&n| n > 0)
}

/// Full-width ASCII (`０-９`, `，`, `：`, `－`) to ASCII, the ideographic space to a space and `、`
/// to a comma, so Chinese input methods' output reads like ASCII.
fn normalise(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            '、' => ',',
            _ => c,
        })
        .collect()
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | ':' | ';' | '/')
}

fn is_separator_or_end_punct(c: char) -> bool {
    is_separator(c) || matches!(c, '。' | '.' | '!' | '?')
}

impl fmt::Display for TicketRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TicketRef::Seq(n) => write!(f, "{n:03}"),
            TicketRef::Full(s) => f.write_str(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> (ReplyAction, TicketRef) {
        let r = parse_reply(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        (r.action, r.ticket)
    }

    fn kind(text: &str) -> ReplyErrorKind {
        parse_reply(text).expect_err(text).kind
    }

    const ACK: ReplyAction = ReplyAction::Acknowledge;
    const SEQ7: TicketRef = TicketRef::Seq(7);

    #[test]
    fn accepted_forms() {
        for text in [
            "1 007",
            "1,007",
            "1，007",
            "１ ００７",
            "1　007",
            "1、007",
            " 1 007 ",
            "1 7",
            "1 007。",
            "1 007 确认",
            "回复 1 007",
            "回复1 007",
            "确认 007",
            "确认007",
            "确认，007",
            "1:007",
            "1：007",
            "1  007",
        ] {
            assert_eq!(ok(text), (ACK, SEQ7), "{text}");
        }
        assert_eq!(ok("2 007"), (ReplyAction::Arrive, SEQ7));
        assert_eq!(ok("到场 007"), (ReplyAction::Arrive, SEQ7));
        assert_eq!(ok("2 007 到场"), (ReplyAction::Arrive, SEQ7));
        assert_eq!(ok("1 20261125-007"), (ACK, TicketRef::Full("20261125-007".into())));
        assert_eq!(ok("1 ２０２６１１２５－７"), (ACK, TicketRef::Full("20261125-007".into())));
        assert_eq!(ok("1 1234"), (ACK, TicketRef::Seq(1234)));
    }

    #[test]
    fn reassign_forms() {
        let to = |name: &str| ReplyAction::Reassign { to: Some(name.into()) };
        assert_eq!(ok("3 007"), (ReplyAction::Reassign { to: None }, SEQ7));
        assert_eq!(ok("3 007 转派"), (ReplyAction::Reassign { to: None }, SEQ7));
        assert_eq!(ok("3 007 张三"), (to("张三"), SEQ7));
        assert_eq!(ok("3 007张三"), (to("张三"), SEQ7));
        assert_eq!(ok("转派 007 张三"), (to("张三"), SEQ7));
        assert_eq!(ok("转派007给李四"), (to("李四"), SEQ7));
        assert_eq!(ok("3，007，王 五"), (to("王 五"), SEQ7));
        assert_eq!(ok("3 20261125-007 张三"), (to("张三"), TicketRef::Full("20261125-007".into())));
    }

    #[test]
    fn rejected_forms() {
        assert_eq!(kind(""), ReplyErrorKind::Empty);
        assert_eq!(kind(" 。"), ReplyErrorKind::Empty);
        assert_eq!(kind("1007"), ReplyErrorKind::NoSeparator);
        assert_eq!(kind("３００７"), ReplyErrorKind::NoSeparator);
        assert_eq!(kind("4 007"), ReplyErrorKind::UnknownAction);
        assert_eq!(kind("好的"), ReplyErrorKind::UnknownAction);
        assert_eq!(kind("007"), ReplyErrorKind::UnknownAction);
        assert_eq!(kind("1"), ReplyErrorKind::MissingTicket);
        assert_eq!(kind("确认"), ReplyErrorKind::MissingTicket);
        assert_eq!(kind("1 abc"), ReplyErrorKind::BadTicket);
        assert_eq!(kind("1 0"), ReplyErrorKind::BadTicket);
        assert_eq!(kind("1 12345"), ReplyErrorKind::BadTicket);
        assert_eq!(kind("1 2026112-007"), ReplyErrorKind::BadTicket);
        assert_eq!(kind("1 20261125-"), ReplyErrorKind::BadTicket);
        assert_eq!(kind("1 007x"), ReplyErrorKind::BadTicket);
        assert_eq!(kind("1 007 好的"), ReplyErrorKind::TrailingText);
        assert_eq!(kind("2 007 确认"), ReplyErrorKind::TrailingText);
        assert_eq!(kind(&format!("3 007 {}", "长".repeat(40))), ReplyErrorKind::TrailingText);
        let message = parse_reply("1007").unwrap_err().to_string();
        assert!(message.starts_with("无法识别的回复：操作编号和单号之间要有空格"), "{message}");
        assert!(message.ends_with(USAGE));
    }

    #[test]
    fn hint_forms_parse() {
        let hint = reply_hint("007");
        assert_eq!(hint, "回复 1 007 确认 / 2 007 到场 / 3 007 转派");
        let body = hint.strip_prefix("回复 ").unwrap();
        let actions: Vec<ReplyAction> = body.split(" / ").map(|part| ok(part).0).collect();
        assert_eq!(actions, [ACK, ReplyAction::Arrive, ReplyAction::Reassign { to: None }]);
        for seq in 1..=9999u16 {
            let hint = reply_hint(&format!("{seq:03}"));
            let first = hint.strip_prefix("回复 ").and_then(|h| h.split(" / ").next()).unwrap();
            assert_eq!(ok(first), (ACK, TicketRef::Seq(seq)));
        }
        assert_eq!(TicketRef::Seq(7).to_string(), "007");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,40}") {
            let _ = parse_reply(&text);
        }

        #[test]
        fn never_panics_on_reply_like_text(text in "[123确认到场转派回复 ,，、0-9０-９\\-－给张三。]{0,24}") {
            let _ = parse_reply(&text);
        }
    }
}
