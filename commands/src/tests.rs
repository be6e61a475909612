//! Parser tests over whole messages: the forms people really type, and every error.

use proptest::prelude::*;

use crate::*;

const NONE: ParseContext<'static> = ParseContext { replying_to: None, bot_username: None };
const REPLY: ParseContext<'static> =
    ParseContext { replying_to: Some(TicketRef::Seq(42)), bot_username: None };
const BOT: ParseContext<'static> = ParseContext { replying_to: None, bot_username: Some("zhiban_bot") };

fn ok(text: &str, ctx: &ParseContext<'_>) -> Command {
    match parse(text, ctx) {
        Ok(Some(command)) => command,
        other => panic!("{text:?} → {other:?}"),
    }
}

fn err(text: &str, ctx: &ParseContext<'_>) -> ParseError {
    match parse(text, ctx) {
        Err(error) => error,
        other => panic!("{text:?} → {other:?}"),
    }
}

fn seq(n: u16) -> TicketRef {
    TicketRef::Seq(n)
}

fn full(seq: u16) -> TicketRef {
    TicketRef::Full { date: TicketDate::new(2026, 11, 24).unwrap(), seq }
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

#[test]
fn every_example_in_the_table_parses_to_its_command() {
    for spec in &COMMANDS {
        for example in spec.examples {
            assert_eq!(ok(example, &REPLY).kind(), spec.kind, "{example}");
        }
    }
}

/// The kind a message is recognised as, whether its arguments are right or not.
fn recognised(text: &str, ctx: &ParseContext<'_>) -> Option<CommandKind> {
    match parse(text, ctx) {
        Ok(command) => command.map(|c| c.kind()),
        Err(error) => error.kind,
    }
}

#[test]
fn every_name_in_both_forms() {
    for spec in &COMMANDS {
        for name in spec.zh {
            for text in [format!("{name} 7 x"), format!("/{name} 7 x"), format!("{name}：7 x")] {
                assert_eq!(recognised(&text, &REPLY), Some(spec.kind), "{text}");
            }
        }
        for name in spec.en {
            for text in [
                format!("/{name} 7 x"),
                format!("/{} 7 x", name.to_uppercase()),
                format!("/{name}@zhiban_bot 7 x"),
            ] {
                assert_eq!(recognised(&text, &REPLY), Some(spec.kind), "{text}");
            }
        }
    }
}

#[test]
fn ack_in_the_forms_people_type() {
    let ack = |ticket| Command::Ack { ticket };
    for text in [
        "确认 007",
        "确认：007",
        "确认:007",
        "确认，007",
        "确认007",
        "确认 7",
        "确认 #007",
        "确认 007号",
        "  确认   007  ",
        "确认\u{3000}００７",
        "确认：００７",
        "接单 007",
        "/确认 007",
        "/ack 007",
        "/ACK 7",
        "/Ack:007",
        "／ａｃｋ　７",
        "/ack@zhiban_bot 007",
        "/ack@ZHIBAN_BOT 007",
        "/acknowledge 007",
        "确认 007，马上到",
        "确认 007 马上到",
    ] {
        assert_eq!(ok(text, &NONE), ack(seq(7)), "{text}");
    }
    for text in [
        "确认 20261124-007",
        "确认20261124-007",
        "确认 20261124007",
        "/ack 20261124-7",
        "确认：２０２６１１２４－００７",
    ] {
        assert_eq!(ok(text, &NONE), ack(full(7)), "{text}");
    }
}

#[test]
fn a_ticket_falls_back_to_the_message_replied_to() {
    assert_eq!(ok("确认", &REPLY), Command::Ack { ticket: seq(42) });
    assert_eq!(ok("/ack", &REPLY), Command::Ack { ticket: seq(42) });
    assert_eq!(ok("确认 收到", &REPLY), Command::Ack { ticket: seq(42) });
    assert_eq!(ok("到场", &REPLY), Command::Arrive { ticket: seq(42) });
    // A ticket in the text wins over the reply.
    assert_eq!(ok("确认 007", &REPLY), Command::Ack { ticket: seq(7) });
    // Digits glued to words are text, not a ticket.
    assert_eq!(ok("进展 3楼已断电", &REPLY), Command::Update { ticket: seq(42), text: "3楼已断电".into() });
    assert_eq!(ok("恢复", &REPLY), Command::Resolve { ticket: seq(42), note: None });
    assert_eq!(ok("状态", &REPLY), Command::Status { ticket: Some(seq(42)) });
}

#[test]
fn report() {
    assert_eq!(
        ok("报障 三楼法庭录像无法启动", &NONE),
        Command::Report { text: "三楼法庭录像无法启动".into() }
    );
    assert_eq!(ok("报障：打印机卡纸", &NONE), Command::Report { text: "打印机卡纸".into() });
    assert_eq!(ok("报修 网络断了\n全楼都断", &NONE), Command::Report { text: "网络断了\n全楼都断".into() });
    assert_eq!(ok("/report portal 502", &NONE), Command::Report { text: "portal 502".into() });
}

#[test]
fn update_resolve_close_escalate() {
    assert_eq!(
        ok("进展 007 已联系厂商", &NONE),
        Command::Update { ticket: seq(7), text: "已联系厂商".into() }
    );
    assert_eq!(
        ok("进度：007，已联系厂商", &NONE),
        Command::Update { ticket: seq(7), text: "已联系厂商".into() }
    );
    assert_eq!(
        ok("/update 7 on the way", &NONE),
        Command::Update { ticket: seq(7), text: "on the way".into() }
    );
    assert_eq!(ok("恢复 007 重启服务", &NONE), Command::Resolve { ticket: seq(7), note: some("重启服务") });
    assert_eq!(ok("已恢复 007", &NONE), Command::Resolve { ticket: seq(7), note: None });
    assert_eq!(ok("/fixed 20261124-007", &NONE), Command::Resolve { ticket: full(7), note: None });
    assert_eq!(
        ok("关闭 007 报障人已确认", &NONE),
        Command::Close { ticket: seq(7), note: some("报障人已确认") }
    );
    assert_eq!(ok("结单", &REPLY), Command::Close { ticket: seq(42), note: None });
    assert_eq!(
        ok("升级 007 需要二线", &NONE),
        Command::Escalate { ticket: seq(7), reason: some("需要二线") }
    );
    assert_eq!(ok("/esc", &REPLY), Command::Escalate { ticket: seq(42), reason: None });
}

#[test]
fn severity() {
    let sev = |ticket, level, reason: Option<&str>| Command::Severity {
        ticket,
        level: Level::new(level).unwrap(),
        reason: reason.map(str::to_owned),
    };
    assert_eq!(ok("定级 007 一级 全院无法登录", &NONE), sev(seq(7), 1, Some("全院无法登录")));
    assert_eq!(ok("定级：007，二级", &NONE), sev(seq(7), 2, None));
    assert_eq!(ok("定级 007 3级", &NONE), sev(seq(7), 3, None));
    assert_eq!(ok("定级 20261124-007 IV", &NONE), sev(full(7), 4, None));
    assert_eq!(ok("/sev 7 1 whole court down", &NONE), sev(seq(7), 1, Some("whole court down")));
    assert_eq!(ok("/severity 7 p2", &NONE), sev(seq(7), 2, None));
    // Replying: the level alone, and a lone small number is the level.
    assert_eq!(ok("定级 一级", &REPLY), sev(seq(42), 1, None));
    assert_eq!(ok("/sev 1 whole court down", &REPLY), sev(seq(42), 1, Some("whole court down")));
    assert_eq!(ok("/sev 2", &REPLY), sev(seq(42), 2, None));
    // Two numbers: ticket, then level.
    assert_eq!(ok("/sev 1 2", &REPLY), sev(seq(1), 2, None));
    assert_eq!(ok("定级 三 影响一个法庭", &REPLY), sev(seq(42), 3, Some("影响一个法庭")));
}

#[test]
fn oncall_swap_handover() {
    assert_eq!(ok("值班", &NONE), Command::Oncall { schedule: None });
    assert_eq!(ok("值班 二线", &NONE), Command::Oncall { schedule: some("二线") });
    assert_eq!(ok("/oncall", &NONE), Command::Oncall { schedule: None });
    assert_eq!(
        ok("换班 李娜 11月26日夜班 家中有事", &NONE),
        Command::Swap { person: "李娜".into(), when: "11月26日夜班 家中有事".into() }
    );
    assert_eq!(
        ok("/swap lina tomorrow", &NONE),
        Command::Swap { person: "lina".into(), when: "tomorrow".into() }
    );
    assert_eq!(ok("交班 李娜", &NONE), Command::Handover { to: "李娜".into(), note: None });
    assert_eq!(
        ok("交班：李娜，007 等备件", &NONE),
        Command::Handover { to: "李娜".into(), note: some("007 等备件") }
    );
}

#[test]
fn status_drill_inspect_help() {
    assert_eq!(ok("状态", &NONE), Command::Status { ticket: None });
    assert_eq!(ok("状态 007", &NONE), Command::Status { ticket: Some(seq(7)) });
    assert_eq!(ok("查询 20261124-007", &NONE), Command::Status { ticket: Some(full(7)) });
    assert_eq!(
        ok("演练 开始 机房断电", &NONE),
        Command::Drill(DrillAction::Start { plan: "机房断电".into() })
    );
    assert_eq!(
        ok("/drill START ups failure", &NONE),
        Command::Drill(DrillAction::Start { plan: "ups failure".into() })
    );
    assert_eq!(ok("演练 结束", &NONE), Command::Drill(DrillAction::Stop { plan: None }));
    assert_eq!(
        ok("演练：停止 机房断电", &NONE),
        Command::Drill(DrillAction::Stop { plan: some("机房断电") })
    );
    assert_eq!(ok("演练", &NONE), Command::Drill(DrillAction::Status));
    assert_eq!(ok("/drill status", &NONE), Command::Drill(DrillAction::Status));
    assert_eq!(ok("巡检", &NONE), Command::Inspect { rest: String::new() });
    assert_eq!(ok("巡检 机房 温湿度正常", &NONE), Command::Inspect { rest: "机房 温湿度正常".into() });
    assert_eq!(ok("帮助", &NONE), Command::Help { topic: None });
    assert_eq!(ok("/help", &NONE), Command::Help { topic: None });
    assert_eq!(ok("/start", &NONE), Command::Help { topic: None });
    assert_eq!(ok("帮助 定级", &NONE), Command::Help { topic: Some(CommandKind::Severity) });
    assert_eq!(ok("/help /SEV", &NONE), Command::Help { topic: Some(CommandKind::Severity) });
    assert_eq!(ok("帮助 ack", &NONE), Command::Help { topic: Some(CommandKind::Ack) });
}

#[test]
fn chat_is_not_a_command() {
    for text in [
        "",
        "   ",
        "打印机又卡纸了",
        "ack 007",
        "update the printer driver",
        "恢复了",
        "值班表在哪",
        "确认一下",
        "状态不好",
        "/",
        "/ 路径",
        "请确认 007",
        "/ack@other_bot 007",
        "/确认@other_bot 007",
    ] {
        assert_eq!(parse(text, &BOT), Ok(None), "{text:?}");
    }
    // Addressed to us, it is ours.
    assert_eq!(parse("/ack@zhiban_bot 007", &BOT), Ok(Some(Command::Ack { ticket: seq(7) })));
    assert_eq!(
        parse("/ack@zhiban_bot 007", &ParseContext { bot_username: Some("@zhiban_bot"), ..NONE }),
        Ok(Some(Command::Ack { ticket: seq(7) }))
    );
}

#[test]
fn unknown_command() {
    let error = err("/foo 007", &NONE);
    assert_eq!(error.kind, None);
    assert_eq!(error.message(Lang::Zh), "未知命令 /foo；发送 帮助 查看所有命令");
    assert_eq!(error.message(Lang::En), "Unknown command /foo; send /help to see all commands");
    assert_eq!(error.to_string(), error.message(Lang::Zh));
    assert_eq!(err("/ack007", &NONE).reason, Reason::UnknownCommand("/ack007".into()));
    let long = format!("/{}", "x".repeat(500));
    assert!(err(&long, &NONE).message(Lang::Zh).chars().count() < 80);
}

#[test]
fn missing_ticket_says_how_to_give_one() {
    let error = err("确认", &NONE);
    assert_eq!(error, ParseError { kind: Some(CommandKind::Ack), reason: Reason::MissingTicket });
    assert_eq!(
        error.message(Lang::Zh),
        "请带上工单号，例如：确认 20261124-007，或回复该工单的消息\n用法：确认 [工单号]"
    );
    assert_eq!(
        error.message(Lang::En),
        "Please give a ticket number, e.g. /ack 20261124-007, or reply to the ticket's message\nUsage: /ack [ticket]"
    );
    assert!(err("/resolve", &NONE).message(Lang::Zh).starts_with("请带上工单号，例如：恢复 20261124-007"));
    assert_eq!(err("定级 一级", &NONE).reason, Reason::MissingTicket);
}

#[test]
fn every_error_ends_with_the_right_usage() {
    let cases: &[(&str, CommandKind)] = &[
        ("报障", CommandKind::Report),
        ("报障：", CommandKind::Report),
        ("/report", CommandKind::Report),
        ("确认 000", CommandKind::Ack),
        ("确认 12345", CommandKind::Ack),
        ("确认 20261332-007", CommandKind::Ack),
        ("到场", CommandKind::Arrive),
        ("进展 007", CommandKind::Update),
        ("进展", CommandKind::Update),
        ("恢复 2026-11-24", CommandKind::Resolve),
        ("关闭", CommandKind::Close),
        ("定级 007", CommandKind::Severity),
        ("定级 007 五级", CommandKind::Severity),
        ("/sev 7 high", CommandKind::Severity),
        ("升级", CommandKind::Escalate),
        ("换班", CommandKind::Swap),
        ("换班 李娜", CommandKind::Swap),
        ("交班", CommandKind::Handover),
        ("状态 000", CommandKind::Status),
        ("演练 开始", CommandKind::Drill),
        ("演练 跳舞", CommandKind::Drill),
        ("帮助 吃饭", CommandKind::Help),
    ];
    for &(text, kind) in cases {
        let error = err(text, &NONE);
        assert_eq!(error.kind, Some(kind), "{text}");
        let spec = kind.spec();
        let zh = error.message(Lang::Zh);
        let en = error.message(Lang::En);
        assert!(zh.ends_with(&format!("\n用法：{}", spec.usage_zh)), "{text}: {zh}");
        assert!(en.ends_with(&format!("\nUsage: {}", spec.usage_en)), "{text}: {en}");
        assert!(!zh.starts_with('\n') && !en.starts_with('\n'), "{text}");
    }
}

#[test]
fn error_messages_name_the_problem() {
    let zh = |text| err(text, &NONE).message(Lang::Zh);
    assert!(zh("确认 000").starts_with("工单号 000 有误：序号从 1 开始"));
    assert!(zh("确认 20261332-007").starts_with("工单号 20261332-007 有误：日期不存在"));
    assert!(zh("报障").starts_with("缺少故障描述"));
    assert!(zh("定级 007 五级").starts_with("无法识别的级别 五级"));
    assert!(zh("演练 跳舞").starts_with("无法识别的演练操作 跳舞"));
    assert!(zh("帮助 吃饭").starts_with("没有名为 吃饭 的命令"));
    assert!(err("进展 007", &NONE).message(Lang::En).starts_with("Missing the progress text"));
    // A bad ticket is an error even when replying: a typo must not act on another ticket.
    assert!(matches!(err("确认 000", &REPLY).reason, Reason::BadTicket { .. }));
}

fn any_text() -> impl Strategy<Value = String> {
    let names: Vec<String> = COMMANDS
        .iter()
        .flat_map(|s| s.zh.iter().map(|n| (*n).to_owned()).chain(s.en.iter().map(|n| format!("/{n}"))))
        .collect();
    let pieces = prop::sample::select(vec![
        " ",
        "\u{3000}",
        "：",
        ":",
        "，",
        "#",
        "号",
        "@",
        "@zhiban_bot",
        "-",
        "0",
        "007",
        "20261124",
        "一级",
        "级",
        "\n",
        "\u{0}",
        "\u{200B}",
        "\u{FEFF}",
        "开始",
        "确",
        "/",
        "ＡＢＣ",
        "９",
        "é",
        "𝄞",
        "\u{FF5E}",
        "\u{FF01}",
    ]);
    prop_oneof![
        any::<String>(),
        (prop::sample::select(names), prop::collection::vec(pieces.clone(), 0..8), any::<String>())
            .prop_map(|(name, pieces, tail)| format!("{name}{}{tail}", pieces.concat())),
        prop::collection::vec(pieces, 0..12).prop_map(|pieces| pieces.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics_and_errors_always_explain(text in any_text(), reply in any::<bool>()) {
        let ctx = if reply { REPLY } else { BOT };
        if let Err(error) = parse(&text, &ctx) {
            for lang in [Lang::Zh, Lang::En] {
                let message = error.message(lang);
                prop_assert!(!message.trim().is_empty());
                if let Some(kind) = error.kind {
                    prop_assert!(message.ends_with(kind.spec().usage(lang)));
                }
            }
        }
    }

    #[test]
    fn full_width_spelling_parses_the_same(text in any_text()) {
        let widened: String = text
            .chars()
            .map(|c| match c {
                '!'..='~' => char::from_u32(u32::from(c) + 0xFEE0).unwrap_or(c),
                ' ' => '\u{3000}',
                c => c,
            })
            .collect();
        prop_assert_eq!(parse(&widened, &REPLY), parse(&text, &REPLY));
    }
}

#[test]
fn drill_actions() {
    let ctx = ParseContext::default();
    assert_eq!(parse("演练 暂停", &ctx), Ok(Some(Command::Drill(DrillAction::Pause))));
    assert_eq!(parse("/drill resume", &ctx), Ok(Some(Command::Drill(DrillAction::Resume))));
    assert_eq!(
        parse("演练 评估：响应及时，备份恢复超时", &ctx),
        Ok(Some(Command::Drill(DrillAction::Evaluate { text: "响应及时,备份恢复超时".into() })))
    );
    let e = parse("演练 评估", &ctx).unwrap_err();
    assert!(e.message(Lang::Zh).contains("评估意见"), "{}", e.message(Lang::Zh));
}
