//! Help texts, printed from the command table.

use std::fmt::Write;

use crate::spec::{COMMANDS, CommandKind, Lang};

/// All commands in one list, or one command's names, usage and examples.
pub fn help(lang: Lang, topic: Option<CommandKind>) -> String {
    match topic {
        None => overview(lang),
        Some(kind) => one(lang, kind),
    }
}

fn overview(lang: Lang) -> String {
    let mut out = String::from(match lang {
        Lang::Zh => "值班机器人命令（中文或 /英文 均可）：\n",
        Lang::En => "zhiban commands (Chinese or /English):\n",
    });
    for spec in &COMMANDS {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{} — {}", spec.usage(lang), spec.summary(lang));
    }
    out.push_str(match lang {
        Lang::Zh => "工单号写 007（当天的单）或 20261124-007；回复工单消息时可省略。发送“帮助 命令”查看详细说明，例如：帮助 定级",
        Lang::En => "A ticket is 007 (today's) or 20261124-007, and may be left out when replying to the ticket's message. Send /help <command> for details, e.g. /help sev",
    });
    out
}

fn one(lang: Lang, kind: CommandKind) -> String {
    let spec = kind.spec();
    let names: Vec<String> =
        spec.zh.iter().map(|n| (*n).to_owned()).chain(spec.en.iter().map(|n| format!("/{n}"))).collect();
    let (usage, examples, names_label, sep) = match lang {
        Lang::Zh => ("用法", "例如：", "命令名", "："),
        Lang::En => ("Usage", "Examples:", "Names", ": "),
    };
    let mut out = format!("{} — {}\n{usage}{sep}{}\n", spec.name(lang), spec.summary(lang), spec.usage(lang));
    let _ = writeln!(out, "{names_label}{sep}{}", names.join(" "));
    out.push_str(examples);
    for example in spec.examples {
        let _ = write!(out, "\n  {example}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overview_lists_every_command() {
        for lang in [Lang::Zh, Lang::En] {
            let text = help(lang, None);
            for spec in &COMMANDS {
                assert!(text.contains(spec.usage(lang)), "{lang:?} {:?}", spec.kind);
            }
        }
    }

    #[test]
    fn one_command_shows_usage_names_and_examples() {
        let text = help(Lang::Zh, Some(CommandKind::Severity));
        assert!(text.starts_with("定级 — 确定故障级别"), "{text}");
        assert!(text.contains("用法：定级 [工单号] <一级|二级|三级|四级> [原因]"), "{text}");
        assert!(text.contains("/sev /severity"), "{text}");
        assert!(text.contains("定级 007 一级 全院无法登录办案系统"), "{text}");
        let text = help(Lang::En, Some(CommandKind::Ack));
        assert!(text.starts_with("/ack — acknowledge"), "{text}");
        assert!(text.contains("Usage: /ack [ticket]"), "{text}");
        assert!(text.contains("Examples:\n  确认 20261124-007"), "{text}");
        assert!(!text.lines().any(|line| line.ends_with(' ')), "{text}");
    }
}
