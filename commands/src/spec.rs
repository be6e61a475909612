//! The one table of commands: names in both languages, usage and examples.
//!
//! The parser looks names up here and the help texts and error messages are printed from here, so a
//! command's spelling and its documentation cannot drift apart.

use std::fmt;

/// The language of a help text or error message. Chinese is the default: most users are court staff
/// on phones who read no English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

/// Which command, without its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CommandKind {
    Report,
    Ack,
    Arrive,
    Update,
    Resolve,
    Close,
    Severity,
    Escalate,
    Oncall,
    Swap,
    Handover,
    Status,
    Drill,
    Inspect,
    Help,
}

/// One row of the table.
#[derive(Debug)]
pub struct CommandSpec {
    pub kind: CommandKind,
    /// Chinese names, the canonical one first. Accepted at the start of a message or after `/`.
    pub zh: &'static [&'static str],
    /// English names, the canonical one first. Accepted only after `/`, case-insensitively: a
    /// sentence that begins with "update" is chat, not a command.
    pub en: &'static [&'static str],
    pub summary_zh: &'static str,
    pub summary_en: &'static str,
    pub usage_zh: &'static str,
    pub usage_en: &'static str,
    /// Messages that parse to this command (checked by a test), shown in the help text.
    pub examples: &'static [&'static str],
}

impl CommandSpec {
    pub fn usage(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Zh => self.usage_zh,
            Lang::En => self.usage_en,
        }
    }

    pub fn summary(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Zh => self.summary_zh,
            Lang::En => self.summary_en,
        }
    }

    /// The name a user types in `lang`: `确认` or `/ack`.
    pub fn name(&self, lang: Lang) -> String {
        match lang {
            Lang::Zh => self.zh[0].to_owned(),
            Lang::En => format!("/{}", self.en[0]),
        }
    }
}

impl CommandKind {
    pub fn spec(self) -> &'static CommandSpec {
        // The table is in declaration order; a test checks that.
        &COMMANDS[self as usize]
    }

    /// Every kind, in table order.
    pub fn all() -> impl Iterator<Item = CommandKind> {
        COMMANDS.iter().map(|spec| spec.kind)
    }
}

impl fmt::Display for CommandKind {
    /// The canonical Chinese name, as the bot speaks Chinese by default.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec().zh[0])
    }
}

/// The command table, in [`CommandKind`] order.
pub static COMMANDS: [CommandSpec; 15] = [
    CommandSpec {
        kind: CommandKind::Report,
        zh: &["报障", "报修"],
        en: &["report"],
        summary_zh: "报告故障，立即得到工单号",
        summary_en: "report a fault and get a ticket number at once",
        usage_zh: "报障 <故障描述>",
        usage_en: "/report <description>",
        examples: &["报障 三楼第二法庭庭审录像无法启动", "/report e-filing portal returns 502"],
    },
    CommandSpec {
        kind: CommandKind::Ack,
        zh: &["确认", "接单"],
        en: &["ack", "acknowledge"],
        summary_zh: "确认接单，停止继续呼叫",
        summary_en: "acknowledge a ticket and stop the paging",
        usage_zh: "确认 [工单号]",
        usage_en: "/ack [ticket]",
        examples: &["确认 20261124-007", "确认：007", "/ack 7"],
    },
    CommandSpec {
        kind: CommandKind::Arrive,
        zh: &["到场", "已到场"],
        en: &["arrive", "onsite"],
        summary_zh: "报告已到达现场",
        summary_en: "report arrival on site",
        usage_zh: "到场 [工单号]",
        usage_en: "/arrive [ticket]",
        examples: &["到场 007", "/arrive 20261124-007"],
    },
    CommandSpec {
        kind: CommandKind::Update,
        zh: &["进展", "进度"],
        en: &["update", "progress"],
        summary_zh: "报告处理进展",
        summary_en: "post progress on a ticket",
        usage_zh: "进展 [工单号] <进展内容>",
        usage_en: "/update [ticket] <text>",
        examples: &["进展 007 已联系厂商，预计两小时内到场", "/update 7 vendor engineer on the way"],
    },
    CommandSpec {
        kind: CommandKind::Resolve,
        zh: &["恢复", "已恢复", "解决"],
        en: &["resolve", "resolved", "fixed"],
        summary_zh: "报告故障已恢复",
        summary_en: "report that the fault is fixed",
        usage_zh: "恢复 [工单号] [处理说明]",
        usage_en: "/resolve [ticket] [note]",
        examples: &["恢复 007 重启录像服务后恢复", "/resolve 20261124-007"],
    },
    CommandSpec {
        kind: CommandKind::Close,
        zh: &["关闭", "结单"],
        en: &["close"],
        summary_zh: "关闭工单（闭环）",
        summary_en: "close a ticket",
        usage_zh: "关闭 [工单号] [说明]",
        usage_en: "/close [ticket] [note]",
        examples: &["关闭 007 报障人已确认", "/close 7"],
    },
    CommandSpec {
        kind: CommandKind::Severity,
        zh: &["定级"],
        en: &["sev", "severity"],
        summary_zh: "确定故障级别（一级最高）",
        summary_en: "set the severity (1 is the highest)",
        usage_zh: "定级 [工单号] <一级|二级|三级|四级> [原因]",
        usage_en: "/sev [ticket] <1|2|3|4> [reason]",
        examples: &["定级 007 一级 全院无法登录办案系统", "定级 二级", "/sev 7 2 one courtroom affected"],
    },
    CommandSpec {
        kind: CommandKind::Escalate,
        zh: &["升级"],
        en: &["escalate", "esc"],
        summary_zh: "升级给下一级处理人",
        summary_en: "escalate to the next level",
        usage_zh: "升级 [工单号] [原因]",
        usage_en: "/escalate [ticket] [reason]",
        examples: &["升级 007 需要厂商二线支持", "/escalate 7"],
    },
    CommandSpec {
        kind: CommandKind::Oncall,
        zh: &["值班"],
        en: &["oncall"],
        summary_zh: "查看当前值班人员",
        summary_en: "show who is on call",
        usage_zh: "值班 [值班表]",
        usage_en: "/oncall [schedule]",
        examples: &["值班", "值班 二线", "/oncall"],
    },
    CommandSpec {
        kind: CommandKind::Swap,
        zh: &["换班", "替班"],
        en: &["swap"],
        summary_zh: "请人替你值班",
        summary_en: "have someone cover your shift",
        usage_zh: "换班 <接替人> <日期或班次> [原因]",
        usage_en: "/swap <person> <date or shift> [reason]",
        examples: &["换班 李娜 11月26日夜班 家中有事", "/swap lina tomorrow"],
    },
    CommandSpec {
        kind: CommandKind::Handover,
        zh: &["交班"],
        en: &["handover"],
        summary_zh: "交班给下一位值班人员",
        summary_en: "hand over to the next person on call",
        usage_zh: "交班 <接班人> [备注]",
        usage_en: "/handover <person> [note]",
        examples: &["交班 李娜 007 仍在等厂商备件", "/handover lina"],
    },
    CommandSpec {
        kind: CommandKind::Status,
        zh: &["状态", "查询"],
        en: &["status"],
        summary_zh: "查看工单或当前总体状态",
        summary_en: "show a ticket, or the overall state",
        usage_zh: "状态 [工单号]",
        usage_en: "/status [ticket]",
        examples: &["状态", "状态 007", "/status 20261124-007"],
    },
    CommandSpec {
        kind: CommandKind::Drill,
        zh: &["演练"],
        en: &["drill"],
        summary_zh: "开始、暂停、继续、结束、评估或查看应急演练",
        summary_en: "start, pause, resume, stop, evaluate or show an emergency drill",
        usage_zh: "演练 开始 <预案> | 演练 暂停 | 演练 继续 | 演练 结束 [预案] | 演练 评估 <意见> | 演练 状态",
        usage_en: "/drill start <plan> | /drill pause | /drill resume | /drill stop [plan] | /drill evaluate <text> | /drill status",
        examples: &["演练 开始 机房断电", "演练 暂停", "演练 评估 响应及时，备份恢复超时", "/drill status"],
    },
    CommandSpec {
        kind: CommandKind::Inspect,
        zh: &["巡检"],
        en: &["inspect"],
        summary_zh: "巡检登记",
        summary_en: "log an inspection",
        usage_zh: "巡检 [内容]",
        usage_en: "/inspect [text]",
        examples: &["巡检", "巡检 机房 温湿度正常"],
    },
    CommandSpec {
        kind: CommandKind::Help,
        zh: &["帮助"],
        en: &["help", "start"],
        summary_zh: "查看命令说明",
        summary_en: "show how to use the commands",
        usage_zh: "帮助 [命令]",
        usage_en: "/help [command]",
        examples: &["帮助", "帮助 定级", "/help sev"],
    },
];

/// The command whose Chinese name starts `text` (the longest, so `已恢复` beats nothing and `恢复`
/// never eats a longer name), with the text after it — provided the name ends at a word boundary:
/// end of text, a separator, a digit (`确认007`), `#` or `@`. So `值班表在哪` and `恢复了` are chat.
pub(crate) fn match_zh(text: &str) -> Option<(CommandKind, &str)> {
    let (kind, name) = COMMANDS
        .iter()
        .flat_map(|spec| spec.zh.iter().map(move |name| (spec.kind, *name)))
        .filter(|(_, name)| text.starts_with(name))
        .max_by_key(|(_, name)| name.len())?;
    let rest = &text[name.len()..];
    let boundary = rest
        .chars()
        .next()
        .is_none_or(|c| crate::lexer::is_sep(c) || c.is_ascii_digit() || c == '#' || c == '@');
    boundary.then_some((kind, rest))
}

/// The command named `word` exactly, in either language, ignoring ASCII case: `ACK`, `确认`.
pub(crate) fn by_name(word: &str) -> Option<CommandKind> {
    COMMANDS
        .iter()
        .find(|spec| spec.en.iter().chain(spec.zh).any(|name| name.eq_ignore_ascii_case(word)))
        .map(|spec| spec.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_kind_order_and_names_are_unique() {
        for (i, spec) in COMMANDS.iter().enumerate() {
            assert_eq!(spec.kind as usize, i, "{:?}", spec.kind);
        }
        let mut names: Vec<String> =
            COMMANDS.iter().flat_map(|s| s.zh.iter().chain(s.en)).map(|n| n.to_lowercase()).collect();
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count, "a name is used twice");
    }

    #[test]
    fn english_names_are_plain_lowercase_words() {
        for name in COMMANDS.iter().flat_map(|s| s.en) {
            assert!(name.bytes().all(|b| b.is_ascii_lowercase()), "{name}");
        }
    }

    #[test]
    fn chinese_names_need_a_boundary() {
        assert_eq!(match_zh("确认007"), Some((CommandKind::Ack, "007")));
        assert_eq!(match_zh("已恢复 007"), Some((CommandKind::Resolve, " 007")));
        assert_eq!(match_zh("值班"), Some((CommandKind::Oncall, "")));
        assert_eq!(match_zh("值班表在哪"), None);
        assert_eq!(match_zh("恢复了"), None);
    }
}
