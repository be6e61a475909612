//! What went wrong, said so that the sender can fix it.
//!
//! Every error names the command it is about (when one was recognised) and its message ends with that
//! command's usage line, because the person reading it is on a phone and will retype the command
//! rather than look anything up.

use crate::lexer::clip;
use crate::spec::{CommandKind, Lang};
use crate::ticket::TicketProblem;

/// A message that looks like a command but cannot be carried out as written.
///
/// `Display` gives the Chinese message; use [`ParseError::message`] for English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message(Lang::Zh))]
pub struct ParseError {
    /// The command, when the verb was recognised (`None` for an unknown `/word`).
    pub kind: Option<CommandKind>,
    pub reason: Reason,
}

/// An argument a command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// 报障's fault description.
    Description,
    /// 进展's progress text.
    Progress,
    /// The person who takes over (换班, 交班).
    Person,
    /// 换班's date or shift.
    When,
    /// 演练's plan name.
    Plan,
    /// 定级's level.
    Level,
    /// 演练 评估's evaluation.
    Evaluation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// `/foo`: the word after the slash names no command. Holds the word as typed, clipped.
    UnknownCommand(String),
    /// The command acts on a ticket, the text names none and the message replies to no ticket.
    MissingTicket,
    /// A ticket-shaped word that is not a valid ticket number.
    BadTicket {
        raw: String,
        problem: TicketProblem,
    },
    MissingArgument(Arg),
    /// 定级 with a level other than 一级–四级.
    BadLevel(String),
    /// 演练 with an action other than 开始, 结束, 状态.
    BadDrillAction(String),
    /// 帮助 with a topic that names no command.
    UnknownHelpTopic(String),
}

impl ParseError {
    pub(crate) fn new(kind: CommandKind, reason: Reason) -> ParseError {
        ParseError { kind: Some(kind), reason }
    }

    pub(crate) fn unknown(word: &str) -> ParseError {
        ParseError { kind: None, reason: Reason::UnknownCommand(clip(word, 32)) }
    }

    /// The message for the sender: the problem, then the usage of the command (or, for an unknown
    /// command, how to list the commands).
    pub fn message(&self, lang: Lang) -> String {
        let Some(kind) = self.kind else {
            return self.reason.describe(None, lang);
        };
        let spec = kind.spec();
        let problem = self.reason.describe(Some(kind), lang);
        match lang {
            Lang::Zh => format!("{problem}\n用法：{}", spec.usage_zh),
            Lang::En => format!("{problem}\nUsage: {}", spec.usage_en),
        }
    }
}

impl Reason {
    fn describe(&self, kind: Option<CommandKind>, lang: Lang) -> String {
        let zh = lang == Lang::Zh;
        match self {
            Reason::UnknownCommand(word) if zh => format!("未知命令 {word}；发送 帮助 查看所有命令"),
            Reason::UnknownCommand(word) => format!("Unknown command {word}; send /help to see all commands"),
            Reason::MissingTicket => {
                let name = kind.map_or_else(|| "确认".to_owned(), |k| k.spec().name(lang));
                if zh {
                    format!("请带上工单号，例如：{name} 20261124-007，或回复该工单的消息")
                } else {
                    format!(
                        "Please give a ticket number, e.g. {name} 20261124-007, or reply to the ticket's message"
                    )
                }
            }
            Reason::BadTicket { raw, problem } => {
                let why = match (problem, zh) {
                    (TicketProblem::ZeroSequence, true) => "序号从 1 开始",
                    (TicketProblem::ZeroSequence, false) => "numbers start at 1",
                    (TicketProblem::SequenceTooLarge, true) => "序号最大为 9999",
                    (TicketProblem::SequenceTooLarge, false) => "the number is at most 9999",
                    (TicketProblem::BadDate, true) => "日期不存在",
                    (TicketProblem::BadDate, false) => "there is no such date",
                    (TicketProblem::Unrecognised, true) => "应写作 007 或 20261124-007",
                    (TicketProblem::Unrecognised, false) => "write it as 007 or 20261124-007",
                };
                if zh {
                    format!("工单号 {raw} 有误：{why}")
                } else {
                    format!("Ticket number {raw} is wrong: {why}")
                }
            }
            Reason::MissingArgument(arg) => {
                let (what_zh, what_en) = match arg {
                    Arg::Description => ("故障描述", "a description of the fault"),
                    Arg::Progress => ("进展内容", "the progress text"),
                    Arg::Person => ("人员姓名", "the person's name"),
                    Arg::When => ("日期或班次", "the date or shift"),
                    Arg::Plan => ("演练预案名称", "the drill plan"),
                    Arg::Evaluation => ("评估意见", "the evaluation"),
                    Arg::Level => ("故障级别", "the severity level"),
                };
                if zh { format!("缺少{what_zh}") } else { format!("Missing {what_en}") }
            }
            Reason::BadLevel(raw) if zh => format!("无法识别的级别 {raw}，应为 一级、二级、三级 或 四级"),
            Reason::BadLevel(raw) => format!("Unknown severity {raw}; use 1, 2, 3 or 4 (1 is the highest)"),
            Reason::BadDrillAction(raw) if zh => {
                format!("无法识别的演练操作 {raw}，应为 开始、暂停、继续、结束、评估 或 状态")
            }
            Reason::BadDrillAction(raw) => {
                format!("Unknown drill action {raw}; use start, pause, resume, stop, evaluate or status")
            }
            Reason::UnknownHelpTopic(raw) if zh => format!("没有名为 {raw} 的命令；发送 帮助 查看所有命令"),
            Reason::UnknownHelpTopic(raw) => {
                format!("There is no command {raw}; send /help to see all commands")
            }
        }
    }
}
