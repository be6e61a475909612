//! Ticket numbers as people type them.
//!
//! The core numbers tickets per day: `20261124-007` is the 7th ticket of 24 November 2026. On the
//! phone people say only "007", meaning today's; the parser keeps the two forms apart
//! ([`TicketRef::Seq`] and [`TicketRef::Full`]) and leaves "which day is today" to the core, which
//! knows the clock and the time zone.
//!
//! Accepted spellings (after full-width folding):
//! - `7`, `07`, `007`, `0007` — a sequence number of today, 1 to [`MAX_SEQ`];
//! - `20261124-007` — the full number as the bot prints it;
//! - `20261124007` / `202611240007` — the same without the dash (11 or 12 digits), as people copy it
//!   out of a message when the dash is lost;
//! - any of these with a leading `#` (`#007`) or a trailing `号` (`007号`).
//!
//! A run of digits glued to other text (`3楼`, `10分钟`) is not a ticket number, so "进展 3楼已断电"
//! in reply to an incident is progress text, not ticket 3.

use std::fmt;

use crate::lexer::is_sep;

/// The largest sequence number of one day. Four digits are still short enough to read aloud.
pub const MAX_SEQ: u16 = 9999;

/// A calendar day as written in a full ticket number, checked to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TicketDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl TicketDate {
    /// The day, if it exists and lies in 2000–2099 (a typo such as `20621124` is an error, not a
    /// ticket forty years ahead).
    pub fn new(year: u16, month: u8, day: u8) -> Option<TicketDate> {
        let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        ((2000..=2099).contains(&year) && (1..=days).contains(&day)).then_some(TicketDate {
            year,
            month,
            day,
        })
    }
}

/// A ticket named in a message: either today's sequence number or a full, dated number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TicketRef {
    /// `007`: the 7th ticket of the day the core considers today.
    Seq(u16),
    /// `20261124-007`.
    Full { date: TicketDate, seq: u16 },
}

impl TicketRef {
    pub fn seq(&self) -> u16 {
        match *self {
            TicketRef::Seq(seq) | TicketRef::Full { seq, .. } => seq,
        }
    }
}

impl fmt::Display for TicketRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TicketRef::Seq(seq) => write!(f, "{seq:03}"),
            TicketRef::Full { date, seq } => {
                write!(f, "{:04}{:02}{:02}-{seq:03}", date.year, date.month, date.day)
            }
        }
    }
}

/// Why something that looks like a ticket number is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketProblem {
    /// `000`: numbering starts at 1.
    ZeroSequence,
    /// More than four digits of sequence.
    SequenceTooLarge,
    /// `20261332-007`: no such day (or outside 2000–2099).
    BadDate,
    /// Digits and dashes in a shape we do not know (`12345`, `2026-11-24`).
    Unrecognised,
}

/// A ticket-shaped word that failed to parse, with the word as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadTicket {
    pub raw: String,
    pub problem: TicketProblem,
}

/// Takes a ticket number off the front of `args`, returning it and the text after it.
///
/// `Ok((None, args))` when `args` does not start with a ticket-shaped word; an error when it does but
/// the word is not a valid number — a typo in a ticket number must never silently act on the ticket
/// being replied to.
pub(crate) fn take_ticket(args: &str) -> Result<(Option<TicketRef>, &str), BadTicket> {
    let s = crate::lexer::skip_seps(args);
    let body = s.strip_prefix('#').unwrap_or(s);
    let end = body.find(|c: char| !(c.is_ascii_digit() || c == '-')).unwrap_or(body.len());
    let (token, after) = body.split_at(end);
    if !token.starts_with(|c: char| c.is_ascii_digit()) || looks_like_phone(token) {
        return Ok((None, args));
    }
    let after = after.strip_prefix('号').unwrap_or(after);
    if after.chars().next().is_some_and(|c| !is_sep(c)) {
        return Ok((None, args));
    }
    let bad = |problem| BadTicket { raw: crate::lexer::clip(token, 24), problem };
    let ticket = parse_token(token).map_err(bad)?;
    Ok((Some(ticket), after))
}

/// Mainland mobile numbers are 11 digits starting with 1, like an undashed ticket number; tickets
/// of this century start with 20, so "进展 13812345678 已联系" is text, not a bad ticket.
fn looks_like_phone(token: &str) -> bool {
    token.len() >= 11 && !token.contains('-') && !token.starts_with("20")
}

fn parse_token(token: &str) -> Result<TicketRef, TicketProblem> {
    let (date, seq) = match token.split_once('-') {
        Some((date, seq)) if date.len() == 8 => (Some(date), seq),
        Some(_) => return Err(TicketProblem::Unrecognised),
        None if token.len() >= 11 && token.len() <= 12 => (Some(&token[..8]), &token[8..]),
        None => (None, token),
    };
    let seq = parse_seq(seq)?;
    match date {
        None => Ok(TicketRef::Seq(seq)),
        Some(date) => Ok(TicketRef::Full { date: parse_date(date)?, seq }),
    }
}

fn parse_seq(digits: &str) -> Result<u16, TicketProblem> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TicketProblem::Unrecognised);
    }
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return Err(TicketProblem::ZeroSequence);
    }
    if significant.len() > 4 {
        // `12345` alone is most likely a phone extension or a mistyped date, not a ticket.
        return Err(if digits.len() > 5 {
            TicketProblem::Unrecognised
        } else {
            TicketProblem::SequenceTooLarge
        });
    }
    significant.parse().map_err(|_| TicketProblem::Unrecognised)
}

fn parse_date(digits: &str) -> Result<TicketDate, TicketProblem> {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TicketProblem::Unrecognised);
    }
    let num = |range: std::ops::Range<usize>| digits.get(range).and_then(|d| d.parse::<u16>().ok());
    let (Some(year), Some(month), Some(day)) = (num(0..4), num(4..6), num(6..8)) else {
        return Err(TicketProblem::Unrecognised);
    };
    let (Ok(month), Ok(day)) = (u8::try_from(month), u8::try_from(day)) else {
        return Err(TicketProblem::BadDate);
    };
    TicketDate::new(year, month, day).ok_or(TicketProblem::BadDate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(year: u16, month: u8, day: u8, seq: u16) -> TicketRef {
        TicketRef::Full { date: TicketDate::new(year, month, day).unwrap(), seq }
    }

    fn take(s: &str) -> Result<(Option<TicketRef>, &str), TicketProblem> {
        take_ticket(s).map_err(|e| e.problem)
    }

    #[test]
    fn accepts_every_documented_spelling() {
        for s in ["7", "07", "007", "0007", "#007", "007号", " :007"] {
            assert_eq!(take(s), Ok((Some(TicketRef::Seq(7)), "")), "{s}");
        }
        for s in ["20261124-007", "20261124007", "202611240007", "#20261124-7", "20261124-0007号"] {
            assert_eq!(take(s), Ok((Some(full(2026, 11, 24, 7)), "")), "{s}");
        }
        assert_eq!(take("9999"), Ok((Some(TicketRef::Seq(9999)), "")));
        assert_eq!(take("20240229-001"), Ok((Some(full(2024, 2, 29, 1)), "")));
    }

    #[test]
    fn keeps_the_rest() {
        assert_eq!(take("007 马上到"), Ok((Some(TicketRef::Seq(7)), " 马上到")));
        assert_eq!(take("007,马上到"), Ok((Some(TicketRef::Seq(7)), ",马上到")));
    }

    #[test]
    fn digits_glued_to_text_are_not_a_ticket() {
        for s in ["3楼已断电", "10分钟后到", "abc", "", "#", "-7", "2a", "13812345678 已联系"] {
            assert_eq!(take(s), Ok((None, s)), "{s}");
        }
    }

    #[test]
    fn rejects_malformed_numbers() {
        assert_eq!(take("000"), Err(TicketProblem::ZeroSequence));
        assert_eq!(take("20261124-000"), Err(TicketProblem::ZeroSequence));
        assert_eq!(take("12345"), Err(TicketProblem::SequenceTooLarge));
        assert_eq!(take("1234567"), Err(TicketProblem::Unrecognised));
        assert_eq!(take("2026-11-24"), Err(TicketProblem::Unrecognised));
        assert_eq!(take("20261124-"), Err(TicketProblem::Unrecognised));
        assert_eq!(take("20261124-12345"), Err(TicketProblem::SequenceTooLarge));
        assert_eq!(take("20261332-007"), Err(TicketProblem::BadDate));
        assert_eq!(take("20230229-007"), Err(TicketProblem::BadDate));
        assert_eq!(take("19991231-007"), Err(TicketProblem::BadDate));
        assert_eq!(take("7-7"), Err(TicketProblem::Unrecognised));
    }

    #[test]
    fn displays_as_the_bot_prints_it() {
        assert_eq!(TicketRef::Seq(7).to_string(), "007");
        assert_eq!(full(2026, 11, 24, 7).to_string(), "20261124-007");
        assert_eq!(full(2026, 11, 24, 1234).to_string(), "20261124-1234");
    }
}
