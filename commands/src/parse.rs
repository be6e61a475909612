//! From a chat message to a [`Command`].
//!
//! A message is a command when, after folding full-width characters and skipping leading spaces, it
//! starts with
//! - `/` and a name in either language (`/ack`, `/ACK`, `/确认`), optionally addressed to a bot as in
//!   Telegram groups (`/ack@zhiban_bot 007`), or
//! - a Chinese name, followed by the end, a separator (space, `:`, `,`, `、`, `。`) or a digit
//!   (`确认 007`, `确认：007`, `确认007`).
//!
//! English names without a slash are chat: "update the printer driver" is not a command. Chinese
//! names glued to other text are chat too (`恢复了`, `值班表在哪`).

use crate::command::{Command, DrillAction, Level};
use crate::error::{Arg, ParseError, Reason};
use crate::lexer::{clip, fold, rest_text, split_word};
use crate::spec::{self, CommandKind};
use crate::ticket::{TicketRef, take_ticket};

/// What the parser needs to know about where a message came from.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParseContext<'a> {
    /// The ticket of the message this one replies to, used when the text names no ticket: replying
    /// "确认" to the bot's page is the quickest way to acknowledge on a phone.
    pub replying_to: Option<TicketRef>,
    /// This bot's username (with or without `@`). When set, `/cmd@other_bot` is left alone as meant
    /// for another bot in the group; when `None`, any `@name` suffix is accepted.
    pub bot_username: Option<&'a str>,
}

/// Parses one chat message.
///
/// `Ok(None)`: the message is not a command — plain chat, which the caller may take as a free-text
/// report in a private chat, or a command addressed to another bot. `Err`: the message is meant as a
/// command but cannot be carried out as written; [`ParseError::message`] says why and how.
pub fn parse(text: &str, ctx: &ParseContext<'_>) -> Result<Option<Command>, ParseError> {
    let folded = fold(text);
    let Some((kind, args)) = head(folded.trim_start(), ctx)? else {
        return Ok(None);
    };
    arguments(kind, args, ctx).map(Some)
}

/// The command named at the start of `text` and the text after its name (and any `@bot`).
fn head<'t>(text: &'t str, ctx: &ParseContext<'_>) -> Result<Option<(CommandKind, &'t str)>, ParseError> {
    let Some(after_slash) = text.strip_prefix('/') else {
        return Ok(
            spec::match_zh(text).and_then(|(kind, rest)| addressed(rest, ctx).map(|rest| (kind, rest)))
        );
    };
    if let Some((kind, rest)) = spec::match_zh(after_slash) {
        return Ok(addressed(rest, ctx).map(|rest| (kind, rest)));
    }
    let end = after_slash.find(|c: char| crate::lexer::is_sep(c) || c == '@').unwrap_or(after_slash.len());
    let (word, rest) = after_slash.split_at(end);
    let Some(rest) = addressed(rest, ctx) else {
        return Ok(None);
    };
    if word.is_empty() {
        // A lone "/" or "/ something" is punctuation, not an attempt at a command.
        return Ok(None);
    }
    match spec::by_name(word) {
        Some(kind) => Ok(Some((kind, rest))),
        None => Err(ParseError::unknown(&format!("/{word}"))),
    }
}

/// Strips an `@bot` right after the command name; `None` when it names another bot.
fn addressed<'t>(rest: &'t str, ctx: &ParseContext<'_>) -> Option<&'t str> {
    let Some(mention) = rest.strip_prefix('@') else {
        return Some(rest);
    };
    let end = mention.find(crate::lexer::is_sep).unwrap_or(mention.len());
    let (name, rest) = mention.split_at(end);
    match ctx.bot_username {
        Some(bot) if !name.eq_ignore_ascii_case(bot.trim_start_matches('@')) => None,
        _ => Some(rest),
    }
}

fn arguments(kind: CommandKind, args: &str, ctx: &ParseContext<'_>) -> Result<Command, ParseError> {
    let missing = |arg| ParseError::new(kind, Reason::MissingArgument(arg));
    let command = match kind {
        CommandKind::Report => {
            Command::Report { text: rest_text(args).ok_or_else(|| missing(Arg::Description))? }
        }
        CommandKind::Ack => Command::Ack { ticket: ticket(kind, args, ctx)?.0 },
        CommandKind::Arrive => Command::Arrive { ticket: ticket(kind, args, ctx)?.0 },
        CommandKind::Update => {
            let (ticket, rest) = ticket(kind, args, ctx)?;
            Command::Update { ticket, text: rest_text(rest).ok_or_else(|| missing(Arg::Progress))? }
        }
        CommandKind::Resolve => {
            let (ticket, rest) = ticket(kind, args, ctx)?;
            Command::Resolve { ticket, note: rest_text(rest) }
        }
        CommandKind::Close => {
            let (ticket, rest) = ticket(kind, args, ctx)?;
            Command::Close { ticket, note: rest_text(rest) }
        }
        CommandKind::Severity => severity(args, ctx)?,
        CommandKind::Escalate => {
            let (ticket, rest) = ticket(kind, args, ctx)?;
            Command::Escalate { ticket, reason: rest_text(rest) }
        }
        CommandKind::Oncall => Command::Oncall { schedule: rest_text(args) },
        CommandKind::Swap => {
            let (person, rest) = split_word(args);
            if person.is_empty() {
                return Err(missing(Arg::Person));
            }
            Command::Swap {
                person: person.to_owned(),
                when: rest_text(rest).ok_or_else(|| missing(Arg::When))?,
            }
        }
        CommandKind::Handover => {
            let (to, rest) = split_word(args);
            if to.is_empty() {
                return Err(missing(Arg::Person));
            }
            Command::Handover { to: to.to_owned(), note: rest_text(rest) }
        }
        CommandKind::Status => {
            let (named, _) = take_ticket(args).map_err(|bad| bad_ticket(kind, bad))?;
            Command::Status { ticket: named.or(ctx.replying_to) }
        }
        CommandKind::Drill => Command::Drill(drill(args)?),
        CommandKind::Inspect => Command::Inspect { rest: rest_text(args).unwrap_or_default() },
        CommandKind::Help => {
            let (word, _) = split_word(args);
            let word = word.trim_start_matches('/');
            let topic = match word {
                "" => None,
                _ => Some(
                    spec::by_name(word)
                        .ok_or_else(|| ParseError::new(kind, Reason::UnknownHelpTopic(clip(word, 32))))?,
                ),
            };
            Command::Help { topic }
        }
    };
    Ok(command)
}

/// The ticket named at the start of `args`, else the one replied to, and the text after it.
fn ticket<'t>(
    kind: CommandKind,
    args: &'t str,
    ctx: &ParseContext<'_>,
) -> Result<(TicketRef, &'t str), ParseError> {
    match take_ticket(args).map_err(|bad| bad_ticket(kind, bad))? {
        (Some(ticket), rest) => Ok((ticket, rest)),
        (None, rest) => {
            let ticket = ctx.replying_to.ok_or_else(|| ParseError::new(kind, Reason::MissingTicket))?;
            Ok((ticket, rest))
        }
    }
}

fn bad_ticket(kind: CommandKind, bad: crate::ticket::BadTicket) -> ParseError {
    ParseError::new(kind, Reason::BadTicket { raw: bad.raw, problem: bad.problem })
}

/// `定级 [工单号] <级别> [原因]`. A lone small number is ambiguous: in `/sev 1 reason` sent as a reply,
/// "1" is the level (the ticket comes from the reply); in `/sev 1 2` the first number is the ticket.
fn severity(args: &str, ctx: &ParseContext<'_>) -> Result<Command, ParseError> {
    let kind = CommandKind::Severity;
    let (first, after_first) = split_word(args);
    let level_first = Level::parse(first).is_some() && Level::parse(split_word(after_first).0).is_none();
    let (ticket, rest) = if level_first {
        let ticket = ctx.replying_to.ok_or_else(|| ParseError::new(kind, Reason::MissingTicket))?;
        (ticket, args)
    } else {
        ticket(kind, args, ctx)?
    };
    let (word, rest) = split_word(rest);
    let level = match Level::parse(word) {
        Some(level) => level,
        None if word.is_empty() => return Err(ParseError::new(kind, Reason::MissingArgument(Arg::Level))),
        None => return Err(ParseError::new(kind, Reason::BadLevel(clip(word, 16)))),
    };
    Ok(Command::Severity { ticket, level, reason: rest_text(rest) })
}

/// `演练 开始 <预案> | 结束 [预案] | 状态`; `演练` alone asks for the status.
fn drill(args: &str) -> Result<DrillAction, ParseError> {
    let kind = CommandKind::Drill;
    let (word, rest) = split_word(args);
    match word.to_ascii_lowercase().as_str() {
        "开始" | "启动" | "start" | "begin" => {
            let plan = rest_text(rest).ok_or(ParseError::new(kind, Reason::MissingArgument(Arg::Plan)))?;
            Ok(DrillAction::Start { plan })
        }
        "结束" | "停止" | "stop" | "end" => Ok(DrillAction::Stop { plan: rest_text(rest) }),
        "暂停" | "pause" => Ok(DrillAction::Pause),
        "继续" | "恢复" | "resume" => Ok(DrillAction::Resume),
        "评估" | "evaluate" | "review" => {
            let text =
                rest_text(rest).ok_or(ParseError::new(kind, Reason::MissingArgument(Arg::Evaluation)))?;
            Ok(DrillAction::Evaluate { text })
        }
        "" | "状态" | "status" => Ok(DrillAction::Status),
        _ => Err(ParseError::new(kind, Reason::BadDrillAction(clip(word, 16)))),
    }
}
