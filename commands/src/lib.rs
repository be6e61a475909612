//! The chat command language of zhiban (值班).
//!
//! This crate turns the text a person types into a [`Command`]; it does no I/O and knows nothing of
//! the core, which decides what a command does (and who may do it). Every command has a Chinese and
//! an English form:
//!
//! | 中文 | English | arguments |
//! | --- | --- | --- |
//! | 报障 | `/report` | `描述` |
//! | 确认 | `/ack` | `[工单号]` |
//! | 到场 | `/arrive` | `[工单号]` |
//! | 进展 | `/update` | `[工单号] 内容` |
//! | 恢复 | `/resolve` | `[工单号] [说明]` |
//! | 关闭 | `/close` | `[工单号] [说明]` |
//! | 定级 | `/sev` | `[工单号] 一级…四级 [原因]` |
//! | 升级 | `/escalate` | `[工单号] [原因]` |
//! | 值班 | `/oncall` | `[值班表]` |
//! | 换班 | `/swap` | `接替人 日期或班次 [原因]` |
//! | 交班 | `/handover` | `接班人 [备注]` |
//! | 状态 | `/status` | `[工单号]` |
//! | 演练 | `/drill` | `开始 预案 / 结束 [预案] / 状态` |
//! | 巡检 | `/inspect` | `[内容]` |
//! | 帮助 | `/help` | `[命令]` |
//!
//! The names, aliases, usage lines and examples live in one table ([`COMMANDS`]), read by the parser,
//! the help texts ([`help`]) and the error messages ([`ParseError::message`]), which always end with
//! the usage of the command concerned. Where a ticket is meant it may be left out when the message
//! replies to the ticket's message ([`ParseContext::replying_to`]); see [`ticket`] for the accepted
//! spellings and [`parse`] for what makes a message a command.
//!
//! ```
//! use zhiban_commands::{Command, ParseContext, TicketRef, parse};
//!
//! let ctx = ParseContext::default();
//! assert_eq!(parse("确认：００７", &ctx), Ok(Some(Command::Ack { ticket: TicketRef::Seq(7) })));
//! assert_eq!(parse("打印机又卡纸了", &ctx), Ok(None));
//! let error = parse("/ack", &ctx).unwrap_err();
//! assert!(error.to_string().ends_with("用法：确认 [工单号]"));
//! ```
//!
//! # Fuzzing
//!
//! The parser must never panic, whatever arrives from a chat. Besides the property tests, a
//! cargo-fuzz target lives in `commands/fuzz` (its own workspace, so normal builds ignore it):
//!
//! ```text
//! cd commands && cargo +nightly fuzz run parse
//! ```

mod command;
mod error;
mod help;
mod lexer;
mod parse;
mod spec;
pub mod ticket;

pub use command::{Command, DrillAction, Level};
pub use error::{Arg, ParseError, Reason};
pub use help::help;
pub use parse::{ParseContext, parse};
pub use spec::{COMMANDS, CommandKind, CommandSpec, Lang};
pub use ticket::{TicketDate, TicketProblem, TicketRef};

#[cfg(test)]
mod tests;
