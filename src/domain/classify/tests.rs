use std::sync::OnceLock;

use super::*;
use crate::config::catalogue::{System, Unit, UnitLevel};

const DEFAULT_RULES: &str = include_str!("../../../config/rules/default.toml");
const EXAMPLE_CONFIG: &str = include_str!("../../../config/zhiban.example.toml");
const LABELLED: &str = include_str!("../../../tests/data/classify.jsonl");

fn example_catalogue() -> Catalogue {
    // The real path: the example's schedules name roster files relative to it.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/zhiban.example.toml");
    crate::config::Config::parse(&path, EXAMPLE_CONFIG, &|_| None)
        .expect("the example configuration parses")
        .catalogue
}

fn shipped() -> &'static Classifier {
    static C: OnceLock<Classifier> = OnceLock::new();
    C.get_or_init(|| {
        Classifier::new(RuleSet::from_toml(DEFAULT_RULES).expect("rules parse"), &example_catalogue())
            .expect("rules compile")
    })
}

fn text(t: &str) -> Classification {
    shipped().classify(&ClassifyInput { text: t, ..ClassifyInput::default() })
}

fn level(t: &str) -> Severity {
    text(t).severity
}

fn has_rule(c: &Classification, rule: &str) -> bool {
    c.reasons.iter().any(|r| matches!(&r.kind, ReasonKind::Keyword { rule: name, .. } if name == rule))
}

/// A tiny hand-built rule set and catalogue, for the mechanics independent of the shipped words.
fn small() -> Classifier {
    let rules = RuleSet::from_toml(
        r#"
        default_level = 3
        [negation]
        words = ["没有", "没", "无", "不是", "not", "no"]
        exceptions = ["无线"]
        breaks = ["只是"]
        window = 4
        [scope]
        user = ["我"]
        office = ["科室"]
        unit = ["全院"]
        province = ["全省"]
        neutral = ["我们"]
        [criticality]
        low = { shift = 1, cap = 2 }
        [[rule]]
        name = "outage"
        level = 1
        any = ["宕机", "down"]
        [[rule]]
        name = "unreachable"
        level = 2
        scope_levels = { user = 3, unit = 1 }
        any = ["无法访问", "打不开"]
        [[rule]]
        name = "wide_login"
        level = 1
        requires_scope = "unit"
        any = ["登不上"]
        [[rule]]
        name = "sync"
        level = 2
        any = ["同步"]
        all = ["失败"]
        [[rule]]
        name = "slow"
        level = 3
        any = ["慢", "slow"]
        unless = ["打印机"]
        [[rule]]
        name = "ask"
        level = 4
        any = ["请问", "如何"]
        "#,
    )
    .unwrap();
    let catalogue = Catalogue {
        units: vec![Unit {
            id: "sgy".into(),
            name: "某省高级人民法院".into(),
            level: UnitLevel::Provincial,
            parent: None,
            aliases: vec!["省院".into(), "高院".into()],
        }],
        systems: vec![
            System {
                id: "tyyw".into(),
                name: "统一业务应用系统".into(),
                aliases: vec!["统一业务".into(), "业务应用".into()],
                criticality: Criticality::Critical,
                team: "t".into(),
                units: vec![],
            },
            System {
                id: "xtoa".into(),
                name: "协同OA".into(),
                aliases: vec!["OA".into()],
                criticality: Criticality::High,
                team: "t".into(),
                units: vec![],
            },
            System {
                id: "fgzsk".into(),
                name: "法律法规知识库".into(),
                aliases: vec!["知识库".into()],
                criticality: Criticality::Low,
                team: "t".into(),
                units: vec![],
            },
        ],
        people: vec![],
        teams: vec![],
    };
    Classifier::new(rules, &catalogue).unwrap()
}

fn small_level(t: &str) -> Severity {
    small().classify(&ClassifyInput { text: t, ..ClassifyInput::default() }).severity
}

#[test]
fn shipped_rules_compile() {
    let c = shipped();
    assert_eq!(c.correlation_steps().len(), 2);
}

#[test]
fn any_rule_matches_and_reason_names_it() {
    let c = small().classify(&ClassifyInput { text: "统一业务宕机了", ..Default::default() });
    assert_eq!(c.severity, Severity::One);
    assert_eq!(c.system.as_deref(), Some("tyyw"));
    let r = c.reasons.iter().find(|r| matches!(r.kind, ReasonKind::Keyword { .. })).unwrap();
    assert_eq!(r.text_zh, "关键词“宕机”（规则 outage）→ 一级");
    assert_eq!(r.text_en, "keyword “宕机” (rule outage) → level 1");
    assert!(c.reasons.iter().any(|r| r.text_zh == "业务系统：统一业务应用系统（重要程度：关键）"));
}

#[test]
fn all_rule_needs_every_word() {
    assert_eq!(small_level("数据同步"), Severity::Three, "default without 失败");
    assert_eq!(small_level("数据同步失败"), Severity::Two);
    assert_eq!(small_level("数据同步没有失败"), Severity::Three, "a negated `all` word does not count");
}

#[test]
fn unless_cancels_a_rule() {
    assert_eq!(small_level("很慢"), Severity::Three);
    let c = small().classify(&ClassifyInput { text: "打印机很慢", ..Default::default() });
    assert!(!has_rule(&c, "slow"));
    assert_eq!(c.severity, Severity::Three);
    assert!(matches!(c.reasons.last().unwrap().kind, ReasonKind::Default));
}

#[test]
fn requires_scope_only_when_wide_enough() {
    assert_eq!(small_level("OA 登不上"), Severity::Three, "no scope: the rule does not apply");
    assert_eq!(small_level("科室登不上OA"), Severity::Three);
    assert_eq!(small_level("全院登不上OA"), Severity::One);
    assert_eq!(small_level("全省登不上OA"), Severity::One);
}

#[test]
fn scope_levels_replace_the_level() {
    assert_eq!(small_level("OA打不开"), Severity::Two);
    assert_eq!(small_level("我的OA打不开"), Severity::Three);
    assert_eq!(small_level("全院OA打不开"), Severity::One);
    // 我们 is neutral: it contains 我 but says nothing about width.
    let c = small().classify(&ClassifyInput { text: "我们OA打不开", ..Default::default() });
    assert_eq!((c.severity, c.scope), (Severity::Two, Scope::Unknown));
    // The widest scope wins.
    let c = small().classify(&ClassifyInput { text: "我这里和全院都打不开", ..Default::default() });
    assert_eq!((c.severity, c.scope), (Severity::One, Scope::Unit));
    assert!(c.reasons.iter().any(|r| r.kind == ReasonKind::Scope && r.text_zh == "影响范围：全院（“全院”）"));
}

#[test]
fn negation_needs_a_negation_token_in_the_same_clause() {
    assert_eq!(small_level("没有宕机，只是慢"), Severity::Three);
    assert_eq!(small_level("没有宕机只是慢"), Severity::Three, "只是 breaks the clause");
    assert_eq!(small_level("没宕机 就是慢"), Severity::Three, "a space between Chinese words breaks");
    assert_eq!(small_level("没有，宕机了"), Severity::One, "the comma ends the negation");
    assert_eq!(small_level("没有发现任何问题宕机"), Severity::One, "beyond the window");
    assert_eq!(small_level("it is not down, just slow"), Severity::Three);
    assert_eq!(small_level("node down"), Severity::One, "'no' is not found inside 'node'");
    let c = small().classify(&ClassifyInput { text: "没有宕机，只是慢", ..Default::default() });
    assert!(c.reasons.iter().any(|r| r.kind == ReasonKind::Negated { keyword: "宕机".into() }));
}

#[test]
fn keywords_starting_with_a_negation_char_are_whole_words() {
    // 无法访问 contains 无, but the longest match wins: it is a keyword, not a negation.
    assert_eq!(small_level("统一业务无法访问"), Severity::Two);
    assert_eq!(small_level("无线网络很慢"), Severity::Three, "无线 is an exception, 慢 still counts");
    // The negation scope words too: 不是全院 is not a unit-wide fault.
    let c = small().classify(&ClassifyInput { text: "不是全院，我打不开", ..Default::default() });
    assert_eq!((c.scope, c.severity), (Scope::User, Severity::Three));
}

#[test]
fn shipped_negations() {
    assert_eq!(level("没有宕机，只是慢"), Severity::Three);
    assert_eq!(level("没有宕机，就是有点慢"), Severity::Three);
    assert_eq!(level("统一业务无法访问"), Severity::Two);
    assert!(has_rule(&text("统一业务无法访问"), "unreachable"));
    assert_eq!(level("不是全院，只是我一个人登不上统一业务"), Severity::Three);
    assert_eq!(level("数据没有丢失，但是同步失败"), Severity::Two);
}

#[test]
fn criticality_adjusts_narrow_faults_only() {
    // Low: one level milder, never 一级.
    assert_eq!(small_level("知识库宕机"), Severity::Two);
    assert_eq!(small_level("知识库打不开"), Severity::Three);
    // A whole unit: criticality does not matter any more.
    assert_eq!(small_level("全院知识库打不开"), Severity::One);
    // Requests are never adjusted.
    assert_eq!(small_level("请问知识库如何使用"), Severity::Four);
    let c = small().classify(&ClassifyInput { text: "知识库宕机", ..Default::default() });
    let r = c.reasons.iter().find(|r| matches!(r.kind, ReasonKind::System { .. })).unwrap();
    assert!(r.text_zh.contains("重要程度：低"), "{}", r.text_zh);
}

#[test]
fn sender_severity_combines_with_the_text() {
    let c = small();
    let with = |t: &str, s: Severity| {
        c.classify(&ClassifyInput { text: t, sender_severity: Some(s), ..Default::default() }).severity
    };
    // Sender wins over a milder text or no text rule at all.
    assert_eq!(with("CPU 使用率 96%", Severity::One), Severity::One);
    assert_eq!(with("很慢", Severity::Two), Severity::Two);
    // A more severe text wins over the sender.
    assert_eq!(with("统一业务宕机", Severity::Three), Severity::One);
    // No default reason when the sender decided.
    let r = c.classify(&ClassifyInput {
        text: "hello",
        sender_severity: Some(Severity::Four),
        ..Default::default()
    });
    assert_eq!(r.severity, Severity::Four);
    assert!(matches!(r.reasons[0].kind, ReasonKind::SenderSeverity));
    assert!(!r.reasons.iter().any(|r| r.kind == ReasonKind::Default));
}

#[test]
fn default_level_when_nothing_matches() {
    let c = small().classify(&ClassifyInput { text: "你好", ..Default::default() });
    assert_eq!(c.severity, Severity::Three);
    assert_eq!(c.reasons.len(), 1);
    assert_eq!(c.reasons[0].kind, ReasonKind::Default);
    assert_eq!(c.reasons[0].text_zh, "未匹配任何定级规则，按默认三级");
    assert_eq!(level("有个事跟你说一下"), Severity::Three);
}

#[test]
fn systems_by_alias_full_width_case_and_id() {
    let sys = |t: &str| text(t).system;
    assert_eq!(sys("统一业务又登不上了，急！！").as_deref(), Some("tyyw"));
    assert_eq!(sys("ＯＡ打不开").as_deref(), Some("xtoa"));
    assert_eq!(sys("oa 打不开").as_deref(), Some("xtoa"));
    assert_eq!(sys("Oracle 表空间 95%").as_deref(), Some("jcsjk"));
    assert_eq!(sys("goldengate 进程 abended").as_deref(), Some("sjjh"));
    assert_eq!(sys("tyyw 又卡了").as_deref(), Some("tyyw"), "the id is an alias, as a whole word");
    assert_eq!(sys("卷宗上传一直转圈").as_deref(), Some("dzjz"));
    // The longest name wins: 电子卷宗深度应用 over 卷宗; 统一业务 over 电脑.
    assert_eq!(sys("电子卷宗深度应用打不开").as_deref(), Some("jzsdyy"));
    assert_eq!(sys("我电脑上统一业务打不开").as_deref(), Some("tyyw"));
    assert_eq!(sys("今天天气不错"), None);
    // A name is not hidden by a keyword that contains it.
    assert_eq!(sys("无法签章").as_deref(), Some("dzqz"));
}

#[test]
fn ambiguous_names_are_explained() {
    let c = text("卷宗深度应用里签章报错");
    assert_eq!(c.system.as_deref(), Some("jzsdyy"));
    let r = c.reasons.iter().find(|r| matches!(r.kind, ReasonKind::System { .. })).unwrap();
    assert!(r.text_zh.contains("文中还提到：电子签章系统"), "{}", r.text_zh);
}

#[test]
fn hints_come_first() {
    let c = shipped().classify(&ClassifyInput {
        text: "HighCPU on app01",
        system_hint: Some("tyyw"),
        unit_hint: Some("省检"),
        ..Default::default()
    });
    assert_eq!(c.system.as_deref(), Some("tyyw"));
    assert_eq!(c.unit.as_deref(), Some("sjcy"));
    assert!(c.reasons.iter().any(|r| r.text_zh.contains("来自告警标签")));
    // A hint that is a sentence is scanned.
    let c = shipped().classify(&ClassifyInput {
        text: "x",
        system_hint: Some("统一业务-app"),
        ..Default::default()
    });
    assert_eq!(c.system.as_deref(), Some("tyyw"));
}

#[test]
fn units_from_text_without_scope_words() {
    assert_eq!(text("江北法院审判系统打不开").unit.as_deref(), Some("dj-jb"));
    assert_eq!(text("市中院 OA 很慢").unit.as_deref(), Some("mm-zy"));
    // 全省法院 is a scope, not the alias 省法院.
    let c = text("全省法院都登不上审判系统");
    assert_eq!(c.unit, None);
    assert_eq!(c.scope, Scope::Province);
    assert_eq!(c.severity, Severity::One);
    assert_eq!(text("最高院的通知").unit, None);
}

#[test]
fn shipped_levels_by_kind() {
    assert_eq!(level("全院都打不开审判系统了"), Severity::One);
    assert_eq!(level("服务器 CPU 100% 告警"), Severity::Three);
    assert_eq!(level("请问签章怎么更新证书"), Severity::Four);
    assert_eq!(level("打印机卡纸"), Severity::Four);
    assert_eq!(level("全院的打印机都用不了"), Severity::Two);
    assert_eq!(level("电脑中了勒索病毒"), Severity::One);
    assert_eq!(level("无法立案，当事人在窗口等着"), Severity::Two);
}

#[test]
fn correlation_raises_only_when_it_is_more_severe() {
    assert_eq!(correlate(2, 3, Severity::Three, Severity::Two), None);
    let (s, r) = correlate(3, 3, Severity::Three, Severity::Two).unwrap();
    assert_eq!(s, Severity::Two);
    assert_eq!(r.kind, ReasonKind::Correlation { reporters: 3 });
    assert!(r.text_zh.contains("由三级升为二级"), "{}", r.text_zh);
    assert_eq!(correlate(9, 3, Severity::One, Severity::Two), None, "never lowers");
    assert_eq!(correlate(9, 0, Severity::Four, Severity::One), None, "threshold 0 is off");
    let steps = shipped().correlation_steps();
    assert_eq!(correlate_steps(steps, 2, Severity::Three), None);
    assert_eq!(correlate_steps(steps, 4, Severity::Three).map(|x| x.0), Some(Severity::Two));
    assert_eq!(correlate_steps(steps, 7, Severity::Three).map(|x| x.0), Some(Severity::One));
}

#[test]
fn bad_rules_are_named() {
    let cat = Catalogue::default();
    let build = |t: &str| Classifier::new(RuleSet::from_toml(t).unwrap(), &cat).unwrap_err();
    assert_eq!(
        build("[[rule]]\nname='a'\nlevel=1\nany=['x']\n[[rule]]\nname='a'\nlevel=2\nany=['y']"),
        ClassifyError::DuplicateRule("a".into())
    );
    assert_eq!(build("[[rule]]\nname='b'\nlevel=1\nany=[]"), ClassifyError::NoKeywords("b".into()));
    assert_eq!(
        build("[[rule]]\nname='c'\nlevel=1\nany=['x']\nunless=[' ']"),
        ClassifyError::EmptyWord { rule: "c".into(), list: "unless" }
    );
    let e = RuleSet::from_toml("[[rule]]\nname='d'\nlevel=5\nany=['x']").unwrap_err();
    assert!(e.to_string().contains("not a severity level") || e.to_string().contains("5"), "{e}");
    assert!(RuleSet::from_toml("[[rule]]\nname='e'\nlevel=1\nany=['x']\nbogus=1").is_err());
}

#[test]
fn classifying_is_fast() {
    let c = shipped();
    let texts = [
        "统一业务又登不上了，急！！全院都打不开，是不是服务器宕机了？麻烦尽快处理",
        "没有宕机，就是有点慢",
        "[PROBLEM] Oracle 表空间使用率 96% on db01",
    ];
    let n = 3000;
    let start = std::time::Instant::now();
    for i in 0..n {
        std::hint::black_box(c.classify(&ClassifyInput { text: texts[i % 3], ..Default::default() }));
    }
    let per = start.elapsed() / n as u32;
    // Generous for unoptimised test builds; release builds take a few microseconds.
    assert!(per < std::time::Duration::from_millis(1), "{per:?} per report");
}

#[test]
fn labelled_set_meets_the_aims() {
    let cases = LabelledCase::parse_jsonl(LABELLED).expect("the labelled set parses");
    assert!(cases.len() >= 170, "{} cases", cases.len());
    for l in 1..=4u8 {
        let n = cases.iter().filter(|c| c.level == l).count();
        assert!(n >= 25, "level {l}: {n} cases");
    }
    // Every labelled system name is a catalogue name.
    let catalogue = example_catalogue();
    for c in &cases {
        if let Some(name) = &c.system {
            assert!(catalogue.systems.iter().any(|s| &s.name == name), "unknown system name {name}");
        }
    }
    let ev = evaluate(&cases, shipped());
    println!("{ev}");
    assert!(ev.level_accuracy() >= 0.90, "exact level {:.3}", ev.level_accuracy());
    assert!(ev.severe_missed.is_empty(), "一级 below 二级: {:?}", ev.severe_missed);
    assert!(ev.system_accuracy() >= 0.95, "system {:.3}", ev.system_accuracy());
}
