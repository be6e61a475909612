//! 定级: classifying a fault report into a severity level (一级..四级), finding the business system
//! (业务系统) and unit (单位) it names, and how widely it is felt (影响范围).
//!
//! Pure: the rules ([`RuleSet`], shipped as `config/rules/default.toml`) and the [`Catalogue`] come
//! in as values; nothing here reads files, clocks or the store.
//!
//! # How text is read
//!
//! Reports are short, colloquial Chinese with some English ("统一业务又登不上了，急！！",
//! "OA down 了"). There is no word segmenter; instead:
//!
//! * **Folding.** Reports and every pattern are folded the same way: full-width ASCII to
//!   half-width, lower case (so "ＯＡ", "oa" and "OA" meet). Names are matched on the text with
//!   whitespace removed, as [`fold_name`] does.
//! * **Leftmost-longest over everything at once.** All keywords, negation words, negation
//!   exceptions and clause-break words of the rule set are compiled into one Aho-Corasick
//!   automaton with [`aho_corasick::MatchKind::LeftmostLongest`]. At each position the longest
//!   pattern wins, so "无法访问" is a keyword and never "无" (a negation) followed by "法访问",
//!   and "卡纸" wins over nothing at all. Scope words, system names and unit names each have
//!   their own automaton (a name must not swallow a keyword, nor a keyword a name:
//!   "无法签章" is both the keyword and the system 签章).
//! * **English words** (patterns beginning or ending with an ASCII letter or digit) only match
//!   on ASCII word boundaries: "no" is not found in "node", "down" not in "download".
//! * **Negation** comes only from explicit negation tokens (没有, 没, 不是, 未, 无, not, …). A
//!   keyword or scope word counts as negated when the nearest preceding token of interest is a
//!   negation, at most `negation.window` characters before it, in the same clause. Clauses break
//!   at ，。；！？,.;!? and line breaks, at a space between two Chinese characters, and at the
//!   rule set's break words (但是, 只是, 就是 …). So "没有宕机，只是慢" gives the 慢 rule's level.
//!
//! * **Names** (systems, units) are searched leftmost-longest from every position, so that
//!   "电子卷宗深度应用" yields both 电子卷宗 and 卷宗深度应用; a name lying inside a longer one
//!   (or inside a blocker such as 全省法院) does not count. The longest name wins; among equally
//!   long names the more critical system ("电脑上OA打不开" is about OA), then the first. Other
//!   systems mentioned are listed in the reason. A sender's hint is looked up first.
//!
//! # How the level is decided
//!
//! 1. **Rules.** Every rule whose condition holds contributes its level, or its
//!    `scope_levels` entry for the scope found (e.g. "打不开": 二级, but 三级 for one user and
//!    一级 for a whole unit).
//! 2. **Criticality.** When the scope is narrower than a whole unit, the named system's
//!    criticality adjusts each fault level (rules of level 一级..三级 not marked `fixed`): first
//!    `shift` levels milder (but never past 三级: a fault stays a fault), then no more severe
//!    than `cap`. The shipped set makes faults of
//!    `low` systems (知识库, 打印机…) one level milder and never 一级. A wide scope wins over
//!    criticality: when a whole unit is affected, the system's weight no longer matters.
//! 3. **Text level** = the most severe of the contributions.
//! 4. **Sender severity** (a monitoring tool's own level, mapped by the caller) is a strong
//!    signal: the final level is the more severe of the sender's and the text's. Alerts often
//!    carry little text, so the sender's level stands unless the text is clearly worse.
//! 5. **Default.** With no rule and no sender severity, `default_level` (三级 shipped): a
//!    report nobody understood still gets a 30-minute response in every contract, without paging
//!    leaders at night for a "你好".
//!
//! Correlation (several reporters of one fault) needs the store, so the caller applies it with
//! [`correlate`] / [`correlate_steps`].

mod evaluate;
mod rules;
mod text;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::catalogue::{Catalogue, Criticality, fold_name};
use crate::domain::Severity;

pub use evaluate::{Evaluation, LabelledCase, Miss, evaluate};
pub use rules::{
    CorrelationStep, CriticalityAdjust, CriticalityTable, NegationSettings, Rule, RuleSet, ScopeLevels,
    ScopeWords,
};

use text::{Dictionary, compact, fold, same_clause_within};

/// What the classifier reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClassifyInput<'a> {
    /// The report or alert text (title and body).
    pub text: &'a str,
    /// The sender's own level, already mapped by the caller (source severity maps).
    pub sender_severity: Option<Severity>,
    /// A system named by the sender (webhook label `system`): id, name or alias.
    pub system_hint: Option<&'a str>,
    /// A unit named by the sender (webhook label `unit`, the reporter's unit): id, name or alias.
    pub unit_hint: Option<&'a str>,
}

/// How widely a fault is felt (影响范围), ordered by width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Unknown,
    /// One person (个别, 我, 本人).
    User,
    /// A few people, one office or tribunal (科室, 庭, 几个人).
    Office,
    /// A whole court or procuratorate (全院, 所有人, 大家).
    Unit,
    /// Several units (全省, 各院, 多家法院).
    Province,
}

impl Scope {
    pub fn zh(self) -> &'static str {
        match self {
            Scope::Unknown => "未知",
            Scope::User => "个人",
            Scope::Office => "部分人员/科室",
            Scope::Unit => "全院",
            Scope::Province => "多家单位/全省",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            Scope::Unknown => "unknown",
            Scope::User => "one user",
            Scope::Office => "several users / one office",
            Scope::Unit => "whole unit",
            Scope::Province => "several units / province",
        }
    }
}

/// Why a level was chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReasonKind {
    SenderSeverity,
    Keyword { rule: String, keyword: String },
    Negated { keyword: String },
    System { criticality: Criticality },
    Scope,
    Correlation { reporters: usize },
    Default,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub kind: ReasonKind,
    /// The level this reason argues for, if it argues for one.
    pub severity: Option<Severity>,
    pub text_zh: String,
    pub text_en: String,
}

/// The classifier's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    pub severity: Severity,
    /// Catalogue id of the system found.
    pub system: Option<String>,
    /// Catalogue id of the unit found.
    pub unit: Option<String>,
    pub scope: Scope,
    pub reasons: Vec<Reason>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassifyError {
    #[error("rules: {0}")]
    Syntax(String),
    #[error("rule #{index}: the name is empty")]
    UnnamedRule { index: usize },
    #[error("rule '{0}': the name is used twice")]
    DuplicateRule(String),
    #[error("rule '{0}': `any` needs at least one keyword")]
    NoKeywords(String),
    #[error("rule '{rule}': `{list}` has an empty word")]
    EmptyWord { rule: String, list: &'static str },
    #[error("rule '{0}': `all` may hold at most 32 words")]
    TooManyAll(String),
    #[error("{list}: has an empty word")]
    EmptySetting { list: &'static str },
    #[error("criticality '{0}': shift must be 0..=3")]
    BadShift(&'static str),
    #[error("cannot build the matcher: {0}")]
    Automaton(String),
}

/// What a vocabulary pattern means (one pattern may mean several things).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    Any(usize),
    All(usize, u32),
    Unless(usize),
    Negation,
    Break,
    Exception,
}

#[derive(Debug, Clone)]
struct CompiledRule {
    name: String,
    level: Severity,
    scope_levels: ScopeLevels,
    requires_scope: Option<Scope>,
    fixed: bool,
    all_mask: u32,
}

#[derive(Debug, Clone)]
struct SystemInfo {
    id: String,
    name: String,
    criticality: Criticality,
}

#[derive(Debug, Clone)]
struct UnitInfo {
    id: String,
}

/// The compiled classifier: build once with [`Classifier::new`], then call
/// [`Classifier::classify`] per report.
#[derive(Debug, Clone)]
pub struct Classifier {
    rules: Vec<CompiledRule>,
    vocab: Dictionary<Vec<Meaning>>,
    scopes: Dictionary<Option<Scope>>,
    systems: Dictionary<Option<usize>>,
    units: Dictionary<Option<usize>>,
    system_info: Vec<SystemInfo>,
    unit_info: Vec<UnitInfo>,
    system_exact: HashMap<String, usize>,
    unit_exact: HashMap<String, usize>,
    default_level: Severity,
    window: usize,
    criticality: CriticalityTable,
    correlation: Vec<CorrelationStep>,
}

impl Classifier {
    /// Validates the rules and compiles every automaton once.
    pub fn new(rules: RuleSet, catalogue: &Catalogue) -> Result<Classifier, ClassifyError> {
        for (name, adj) in [
            ("critical", rules.criticality.critical),
            ("high", rules.criticality.high),
            ("normal", rules.criticality.normal),
            ("low", rules.criticality.low),
        ] {
            if adj.shift > 3 {
                return Err(ClassifyError::BadShift(name));
            }
        }

        // Vocabulary: keywords of every rule plus the negation settings, in one automaton.
        let mut vocab: Vec<(String, Vec<Meaning>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut add = |word: &str, meaning: Meaning| {
            let key = fold(word, true);
            let i = *index.entry(key.clone()).or_insert_with(|| {
                vocab.push((key, Vec::new()));
                vocab.len() - 1
            });
            if !vocab[i].1.contains(&meaning) {
                vocab[i].1.push(meaning);
            }
        };
        let mut compiled = Vec::with_capacity(rules.rules.len());
        let mut names = std::collections::HashSet::new();
        for (r, rule) in rules.rules.iter().enumerate() {
            let name = rule.name.trim();
            if name.is_empty() {
                return Err(ClassifyError::UnnamedRule { index: r });
            }
            if !names.insert(name.to_string()) {
                return Err(ClassifyError::DuplicateRule(name.to_string()));
            }
            if rule.any.is_empty() {
                return Err(ClassifyError::NoKeywords(name.to_string()));
            }
            if rule.all.len() > 32 {
                return Err(ClassifyError::TooManyAll(name.to_string()));
            }
            for (list, words) in [("any", &rule.any), ("all", &rule.all), ("unless", &rule.unless)] {
                if words.iter().any(|w| fold(w, true).is_empty()) {
                    return Err(ClassifyError::EmptyWord { rule: name.to_string(), list });
                }
            }
            for w in &rule.any {
                add(w, Meaning::Any(r));
            }
            for (bit, w) in rule.all.iter().enumerate() {
                add(w, Meaning::All(r, bit as u32));
            }
            for w in &rule.unless {
                add(w, Meaning::Unless(r));
            }
            let all_mask = if rule.all.is_empty() { 0 } else { (1u64 << rule.all.len()) as u32 - 1 };
            let all_mask = if rule.all.len() == 32 { u32::MAX } else { all_mask };
            compiled.push(CompiledRule {
                name: name.to_string(),
                level: rule.level,
                scope_levels: rule.scope_levels,
                requires_scope: rule.requires_scope,
                fixed: rule.fixed,
                all_mask,
            });
        }
        let neg = &rules.negation;
        for (list, words, meaning) in [
            ("negation.words", &neg.words, Meaning::Negation),
            ("negation.breaks", &neg.breaks, Meaning::Break),
            ("negation.exceptions", &neg.exceptions, Meaning::Exception),
        ] {
            for w in words {
                if fold(w, true).is_empty() {
                    return Err(ClassifyError::EmptySetting { list });
                }
                add(w, meaning);
            }
        }
        let vocab = Dictionary::build(vocab).map_err(ClassifyError::Automaton)?;

        // Scope words.
        let mut scope_words: Vec<(String, Option<Scope>)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let sw = &rules.scope;
        for (list, words, scope) in [
            ("scope.province", &sw.province, Some(Scope::Province)),
            ("scope.unit", &sw.unit, Some(Scope::Unit)),
            ("scope.office", &sw.office, Some(Scope::Office)),
            ("scope.user", &sw.user, Some(Scope::User)),
            ("scope.neutral", &sw.neutral, None),
        ] {
            for w in words {
                let key = fold(w, true);
                if key.is_empty() {
                    return Err(ClassifyError::EmptySetting { list });
                }
                if seen.insert(key.clone()) {
                    scope_words.push((key, scope));
                }
            }
        }
        let scopes = Dictionary::build(scope_words).map_err(ClassifyError::Automaton)?;

        // Names: systems and units, with blockers (and the wide scope words, so that "全省法院"
        // is not read as the alias "省法院").
        let mut blockers: Vec<String> = rules.name_blockers.iter().map(|b| fold_name(b)).collect();
        blockers.extend(sw.province.iter().chain(&sw.unit).map(|w| fold_name(w)));
        let system_info: Vec<SystemInfo> = catalogue
            .systems
            .iter()
            .map(|s| SystemInfo { id: s.id.clone(), name: s.name.clone(), criticality: s.criticality })
            .collect();
        let unit_info: Vec<UnitInfo> =
            catalogue.units.iter().map(|u| UnitInfo { id: u.id.clone() }).collect();
        let (systems, system_exact) = names_dictionary(
            catalogue.systems.iter().map(|s| (s.id.as_str(), s.name.as_str(), s.aliases.as_slice())),
            &blockers,
        )?;
        let (units, unit_exact) = names_dictionary(
            catalogue.units.iter().map(|u| (u.id.as_str(), u.name.as_str(), u.aliases.as_slice())),
            &blockers,
        )?;

        let mut correlation = rules.correlation.clone();
        correlation.sort_by_key(|s| s.reporters);

        Ok(Classifier {
            rules: compiled,
            vocab,
            scopes,
            systems,
            units,
            system_info,
            unit_info,
            system_exact,
            unit_exact,
            default_level: rules.default_level,
            window: neg.window,
            criticality: rules.criticality,
            correlation,
        })
    }

    /// The correlation steps of the rule set, fewest reporters first (for [`correlate_steps`]).
    pub fn correlation_steps(&self) -> &[CorrelationStep] {
        &self.correlation
    }

    /// The catalogue name of a system id known to this classifier.
    pub fn system_name(&self, id: &str) -> Option<&str> {
        self.system_info.iter().find(|s| s.id == id).map(|s| s.name.as_str())
    }

    /// Classifies one report.
    pub fn classify(&self, input: &ClassifyInput<'_>) -> Classification {
        let folded = fold(input.text, true);
        let mut reasons = Vec::new();

        // 1. Vocabulary pass: keywords, negations, breaks.
        #[derive(Clone, Copy, Default)]
        struct State<'p> {
            any: Option<&'p str>,
            all: u32,
            unless: bool,
        }
        let mut state = vec![State::default(); self.rules.len()];
        // Negation/break events in text order: (end, negation word or None for a break).
        let mut events: Vec<(usize, Option<&str>)> = Vec::new();
        let mut negated_words: Vec<(&str, &str)> = Vec::new();
        for hit in self.vocab.hits(&folded) {
            let meanings = &hit.entry.payload;
            let is_keyword =
                meanings.iter().any(|m| matches!(m, Meaning::Any(_) | Meaning::All(..) | Meaning::Unless(_)));
            if !is_keyword {
                if meanings.contains(&Meaning::Negation) {
                    events.push((hit.end, Some(hit.entry.pattern.as_str())));
                } else if meanings.contains(&Meaning::Break) {
                    events.push((hit.end, None));
                }
                continue;
            }
            let negation = self.negation_before(&folded, &events, hit.start);
            for m in meanings {
                match (*m, negation) {
                    (Meaning::Any(r), None) => {
                        state[r].any.get_or_insert(hit.entry.pattern.as_str());
                    }
                    (Meaning::All(r, bit), None) => state[r].all |= 1 << bit,
                    (Meaning::Unless(r), None) => state[r].unless = true,
                    (Meaning::Any(_), Some(neg))
                        if !negated_words.iter().any(|(k, _)| *k == hit.entry.pattern) =>
                    {
                        negated_words.push((hit.entry.pattern.as_str(), neg));
                    }
                    _ => {}
                }
            }
        }

        // 2. Scope: the widest scope word that is not negated.
        let mut scope = Scope::Unknown;
        let mut scope_word = "";
        for hit in self.scopes.hits(&folded) {
            if let Some(s) = hit.entry.payload
                && s > scope
                && self.negation_before(&folded, &events, hit.start).is_none()
            {
                scope = s;
                scope_word = hit.entry.pattern.as_str();
            }
        }

        // 3. System and unit.
        let compact = compact(input.text);
        // Equally long names: the more critical system is the likelier subject ("电脑上OA打不开").
        let criticality_weight = |i: usize| match self.system_info[i].criticality {
            Criticality::Critical => 3,
            Criticality::High => 2,
            Criticality::Normal => 1,
            Criticality::Low => 0,
        };
        let system = self.find_name(
            &self.systems,
            &self.system_exact,
            input.system_hint,
            &compact,
            &criticality_weight,
        );
        let unit = self.find_name(&self.units, &self.unit_exact, input.unit_hint, &compact, &|_| 0);

        // 4. Rules.
        let adjust = system.as_ref().map(|(i, _, _)| {
            let info = &self.system_info[*i];
            let adj = match info.criticality {
                Criticality::Critical => self.criticality.critical,
                Criticality::High => self.criticality.high,
                Criticality::Normal => self.criticality.normal,
                Criticality::Low => self.criticality.low,
            };
            (info, adj)
        });
        let mut text_level: Option<Severity> = None;
        let mut adjusted_any = false;
        for (r, rule) in self.rules.iter().enumerate() {
            let st = state[r];
            let Some(keyword) = st.any else { continue };
            if st.all & rule.all_mask != rule.all_mask || st.unless {
                continue;
            }
            if rule.requires_scope.is_some_and(|req| scope < req) {
                continue;
            }
            let scoped = rule.scope_levels.get(scope);
            let mut level = scoped.unwrap_or(rule.level);
            let before = level;
            if let Some((_, adj)) = adjust
                && scope < Scope::Unit
                && !rule.fixed
                && level < Severity::Four
            {
                // A fault stays a fault: the shift never goes past 三级.
                let shifted = (level.level() + adj.shift).min(3);
                level = Severity::from_level(i64::from(shifted)).unwrap_or(Severity::Four).max(adj.cap);
            }
            let changed = level != before;
            adjusted_any |= changed;
            let mut zh = format!("关键词“{keyword}”（规则 {}", rule.name);
            let mut en = format!("keyword “{keyword}” (rule {}", rule.name);
            if scoped.is_some() {
                zh += &format!("，影响范围：{}", scope.zh());
                en += &format!(", scope: {}", scope.en());
            }
            if changed {
                zh += &format!("，按系统重要程度由{}调整", zh_level(before));
                en += &format!(", adjusted from level {} for the system's criticality", before.level());
            }
            zh += &format!("）→ {}", zh_level(level));
            en += &format!(") → level {}", level.level());
            reasons.push(Reason {
                kind: ReasonKind::Keyword { rule: rule.name.clone(), keyword: keyword.to_string() },
                severity: Some(level),
                text_zh: zh,
                text_en: en,
            });
            text_level = Some(text_level.map_or(level, |t| t.min(level)));
        }
        for (keyword, neg) in &negated_words {
            reasons.push(Reason {
                kind: ReasonKind::Negated { keyword: keyword.to_string() },
                severity: None,
                text_zh: format!("关键词“{keyword}”前有否定词“{neg}”，不计"),
                text_en: format!("keyword “{keyword}” is negated by “{neg}”; not counted"),
            });
        }
        if scope != Scope::Unknown {
            reasons.push(Reason {
                kind: ReasonKind::Scope,
                severity: None,
                text_zh: format!("影响范围：{}（“{scope_word}”）", scope.zh()),
                text_en: format!("scope: {} (“{scope_word}”)", scope.en()),
            });
        }
        if let Some((i, how, others)) = &system {
            let info = &self.system_info[*i];
            let mut zh = format!("业务系统：{}（重要程度：{}", info.name, zh_criticality(info.criticality));
            let mut en = format!("system: {} (criticality: {}", info.name, en_criticality(info.criticality));
            if adjusted_any {
                zh += "，已据此调整定级";
                en += "; the level was adjusted for it";
            }
            zh += "）";
            en += ")";
            if *how == Found::Hint {
                zh += "，来自告警标签";
                en += ", from the sender's label";
            }
            if !others.is_empty() {
                let names: Vec<&str> = others.iter().map(|&o| self.system_info[o].name.as_str()).collect();
                zh += &format!("；文中还提到：{}，取最长的名称", names.join("、"));
                en += &format!("; also mentioned: {} — took the longest name", names.join(", "));
            }
            reasons.push(Reason {
                kind: ReasonKind::System { criticality: info.criticality },
                severity: None,
                text_zh: zh,
                text_en: en,
            });
        }

        // 5. Sender severity and default.
        let severity = match (input.sender_severity, text_level) {
            (Some(sender), text) => {
                let (zh, en) = match text {
                    Some(t) if t < sender => (
                        format!("来源定级：{}；文字规则更严重，取{}", zh_level(sender), zh_level(t)),
                        format!(
                            "sender's severity: level {}; the text is more severe, took level {}",
                            sender.level(),
                            t.level()
                        ),
                    ),
                    _ => (
                        format!("来源定级：{}", zh_level(sender)),
                        format!("sender's severity: level {}", sender.level()),
                    ),
                };
                reasons.insert(
                    0,
                    Reason {
                        kind: ReasonKind::SenderSeverity,
                        severity: Some(sender),
                        text_zh: zh,
                        text_en: en,
                    },
                );
                text.map_or(sender, |t| t.min(sender))
            }
            (None, Some(t)) => t,
            (None, None) => {
                let d = self.default_level;
                reasons.push(Reason {
                    kind: ReasonKind::Default,
                    severity: Some(d),
                    text_zh: format!("未匹配任何定级规则，按默认{}", zh_level(d)),
                    text_en: format!("no rule matched; default level {}", d.level()),
                });
                d
            }
        };

        Classification {
            severity,
            system: system.map(|(i, _, _)| self.system_info[i].id.clone()),
            unit: unit.map(|(i, _, _)| self.unit_info[i].id.clone()),
            scope,
            reasons,
        }
    }

    /// The negation word governing a keyword starting at `start`, if any: the nearest preceding
    /// negation or break event decides.
    fn negation_before<'e>(
        &self,
        folded: &str,
        events: &[(usize, Option<&'e str>)],
        start: usize,
    ) -> Option<&'e str> {
        let (end, word) = events.iter().rev().find(|(end, _)| *end <= start)?;
        let word = (*word)?;
        same_clause_within(folded, *end, start, self.window).then_some(word)
    }

    /// A name from the hint (exact lookup first, then a scan of the hint), else the longest name
    /// in the text; among equally long ones the heaviest (`weight`), then the first. Returns (index, how, other entries mentioned).
    fn find_name(
        &self,
        dict: &Dictionary<Option<usize>>,
        exact: &HashMap<String, usize>,
        hint: Option<&str>,
        compact: &str,
        weight: &dyn Fn(usize) -> u8,
    ) -> Option<(usize, Found, Vec<usize>)> {
        if let Some(hint) = hint {
            let key = fold_name(hint);
            if let Some(&i) = exact.get(&key) {
                return Some((i, Found::Hint, Vec::new()));
            }
            if let Some((i, _)) = longest(dict, &text::compact(hint), weight) {
                return Some((i, Found::Hint, Vec::new()));
            }
        }
        let (best, others) = longest(dict, compact, weight)?;
        Some((best, Found::Text, others))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Hint,
    Text,
}

fn longest(
    dict: &Dictionary<Option<usize>>,
    text: &str,
    weight: impl Fn(usize) -> u8,
) -> Option<(usize, Vec<usize>)> {
    let hits = dict.hits_at_every_start(text);
    // A hit lying inside a longer hit (a blocker such as 全省法院, or a longer name such as
    // 法院卷宗 around 卷宗) is not a mention of its own.
    let inside = |h: &text::Hit<'_, Option<usize>>| {
        hits.iter().any(|o| o.start <= h.start && h.end <= o.end && o.end - o.start > h.end - h.start)
    };
    let mut best: Option<((usize, u8), usize)> = None; // ((length in chars, weight), index)
    let mut all: Vec<usize> = Vec::new();
    for hit in hits.iter().filter(|h| !inside(h)) {
        let Some(i) = hit.entry.payload else { continue };
        let key = (hit.entry.pattern.chars().count(), weight(i));
        if best.is_none_or(|(k, _)| key > k) {
            best = Some((key, i));
        }
        if !all.contains(&i) {
            all.push(i);
        }
    }
    let (_, i) = best?;
    all.retain(|&o| o != i);
    Some((i, all))
}

type Names = (Dictionary<Option<usize>>, HashMap<String, usize>);

fn names_dictionary<'a>(
    entries: impl Iterator<Item = (&'a str, &'a str, &'a [String])>,
    blockers: &[String],
) -> Result<Names, ClassifyError> {
    let mut patterns: Vec<(String, Option<usize>)> = Vec::new();
    let mut exact: HashMap<String, usize> = HashMap::new();
    for (i, (id, name, aliases)) in entries.enumerate() {
        exact.entry(fold_name(id)).or_insert(i);
        for n in std::iter::once(name).chain(aliases.iter().map(String::as_str)) {
            let key = fold_name(n);
            if key.is_empty() || exact.contains_key(&key) && exact[&key] != i {
                continue;
            }
            exact.insert(key.clone(), i);
            if !patterns.iter().any(|(p, _)| *p == key) {
                patterns.push((key, Some(i)));
            }
        }
        // The id too (staff type pinyin abbreviations: tyyw, dzjz), as a whole word only when
        // it is ASCII, which the dictionary's word boundaries guarantee.
        let key = fold_name(id);
        if key.len() >= 2 && !patterns.iter().any(|(p, _)| *p == key) {
            patterns.push((key, Some(i)));
        }
    }
    for b in blockers {
        if !b.is_empty() && !patterns.iter().any(|(p, _)| p == b) {
            patterns.push((b.clone(), None));
        }
    }
    let dict = Dictionary::build(patterns).map_err(ClassifyError::Automaton)?;
    Ok((dict, exact))
}

/// 一级..四级.
pub fn zh_level(s: Severity) -> &'static str {
    match s {
        Severity::One => "一级",
        Severity::Two => "二级",
        Severity::Three => "三级",
        Severity::Four => "四级",
    }
}

fn zh_criticality(c: Criticality) -> &'static str {
    match c {
        Criticality::Critical => "关键",
        Criticality::High => "高",
        Criticality::Normal => "一般",
        Criticality::Low => "低",
    }
}

fn en_criticality(c: Criticality) -> &'static str {
    match c {
        Criticality::Critical => "critical",
        Criticality::High => "high",
        Criticality::Normal => "normal",
        Criticality::Low => "low",
    }
}

/// Correlation (关联): when `distinct_reporters` different people (or sources) have reported the
/// same fault and that is at least `threshold` (and `threshold` > 0), the fault is raised to
/// `raise_to` — if that is more severe than `current`. Returns the new level and a reason to
/// record, or `None` when nothing changes. The caller counts reporters in the store.
pub fn correlate(
    distinct_reporters: usize,
    threshold: usize,
    current: Severity,
    raise_to: Severity,
) -> Option<(Severity, Reason)> {
    if threshold == 0 || distinct_reporters < threshold || raise_to >= current {
        return None;
    }
    Some((
        raise_to,
        Reason {
            kind: ReasonKind::Correlation { reporters: distinct_reporters },
            severity: Some(raise_to),
            text_zh: format!(
                "{distinct_reporters} 人报告了同一故障（达到 {threshold} 人），由{}升为{}",
                zh_level(current),
                zh_level(raise_to)
            ),
            text_en: format!(
                "{distinct_reporters} people reported the same fault (threshold {threshold}); raised from level {} to {}",
                current.level(),
                raise_to.level()
            ),
        },
    ))
}

/// [`correlate`] over a rule set's steps: the most severe step that applies.
pub fn correlate_steps(
    steps: &[CorrelationStep],
    distinct_reporters: usize,
    current: Severity,
) -> Option<(Severity, Reason)> {
    steps
        .iter()
        .filter_map(|s| correlate(distinct_reporters, s.reporters, current, s.raise_to))
        .min_by_key(|(level, _)| *level)
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", zh_level(self.severity))?;
        if let Some(s) = &self.system {
            write!(f, " system={s}")?;
        }
        if let Some(u) = &self.unit {
            write!(f, " unit={u}")?;
        }
        write!(f, " scope={}", self.scope.en())?;
        for r in &self.reasons {
            write!(f, "\n  - {}", r.text_zh)?;
        }
        Ok(())
    }
}
