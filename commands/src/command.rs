//! The values the parser produces.

use crate::spec::CommandKind;
use crate::ticket::TicketRef;

/// A parsed chat command. Free text is kept as typed (after full-width folding and trimming); the
/// core decides what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `报障 <描述>`
    Report { text: String },
    /// `确认 [工单号]` — anything after the ticket ("确认 007 马上到") is chat and dropped.
    Ack { ticket: TicketRef },
    /// `到场 [工单号]`
    Arrive { ticket: TicketRef },
    /// `进展 [工单号] <内容>`
    Update { ticket: TicketRef, text: String },
    /// `恢复 [工单号] [说明]`
    Resolve { ticket: TicketRef, note: Option<String> },
    /// `关闭 [工单号] [说明]`
    Close { ticket: TicketRef, note: Option<String> },
    /// `定级 [工单号] <级别> [原因]`
    Severity { ticket: TicketRef, level: Level, reason: Option<String> },
    /// `升级 [工单号] [原因]`
    Escalate { ticket: TicketRef, reason: Option<String> },
    /// `值班 [值班表]` — the schedule's name as typed (`二线`), `None` for everyone on call now.
    Oncall { schedule: Option<String> },
    /// `换班 <接替人> <日期或班次> [原因]` — `when` is everything after the person, raw ("11月26日夜班
    /// 家中有事"): dates, shifts and reasons are the core's business, with its calendar and clock.
    Swap { person: String, when: String },
    /// `交班 <接班人> [备注]`
    Handover { to: String, note: Option<String> },
    /// `状态 [工单号]` — `None` asks for the overall state.
    Status { ticket: Option<TicketRef> },
    /// `演练 开始|结束|状态`
    Drill(DrillAction),
    /// `巡检 [内容]` — kept raw until inspections get their own language.
    Inspect { rest: String },
    /// `帮助 [命令]`
    Help { topic: Option<CommandKind> },
}

impl Command {
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::Report { .. } => CommandKind::Report,
            Command::Ack { .. } => CommandKind::Ack,
            Command::Arrive { .. } => CommandKind::Arrive,
            Command::Update { .. } => CommandKind::Update,
            Command::Resolve { .. } => CommandKind::Resolve,
            Command::Close { .. } => CommandKind::Close,
            Command::Severity { .. } => CommandKind::Severity,
            Command::Escalate { .. } => CommandKind::Escalate,
            Command::Oncall { .. } => CommandKind::Oncall,
            Command::Swap { .. } => CommandKind::Swap,
            Command::Handover { .. } => CommandKind::Handover,
            Command::Status { .. } => CommandKind::Status,
            Command::Drill(_) => CommandKind::Drill,
            Command::Inspect { .. } => CommandKind::Inspect,
            Command::Help { .. } => CommandKind::Help,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrillAction {
    /// `演练 开始 <预案>`
    Start { plan: String },
    /// `演练 结束 [预案]`
    Stop { plan: Option<String> },
    /// 演练 暂停: hold the drill's paging.
    Pause,
    /// 演练 继续: page again.
    Resume,
    /// 演练 评估 <评估意见>: the drill lead's evaluation.
    Evaluate { text: String },
    /// 演练 状态, or 演练 alone.
    Status,
}

/// A severity level, 1 (一级, the highest) to 4 (四级).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Level(u8);

impl Level {
    pub fn new(level: u8) -> Option<Level> {
        (1..=4).contains(&level).then_some(Level(level))
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// A level as people write it: `一级`, `1级`, `1`, `一`, `I`–`IV`, `P1`, `sev1` (any case).
    pub(crate) fn parse(word: &str) -> Option<Level> {
        let lower = word.to_ascii_lowercase();
        let bare = lower.strip_suffix('级').unwrap_or(&lower);
        let bare = bare.strip_prefix("sev").or_else(|| bare.strip_prefix('p')).unwrap_or(bare);
        let level = match bare {
            "1" | "一" | "i" => 1,
            "2" | "二" | "ii" => 2,
            "3" | "三" | "iii" => 3,
            "4" | "四" | "iv" => 4,
            _ => return None,
        };
        Some(Level(level))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_in_every_spelling() {
        for (word, level) in [("一级", 1), ("1级", 1), ("1", 1), ("一", 1), ("I", 1), ("P1", 1), ("sev1", 1)]
        {
            assert_eq!(Level::parse(word).map(Level::get), Some(level), "{word}");
        }
        for (word, level) in
            [("二级", 2), ("ii", 2), ("三", 3), ("III级", 3), ("四级", 4), ("IV", 4), ("p4", 4)]
        {
            assert_eq!(Level::parse(word).map(Level::get), Some(level), "{word}");
        }
        for word in ["", "0", "5", "五级", "级", "v", "p", "sev", "一二"] {
            assert_eq!(Level::parse(word), None, "{word}");
        }
    }
}
