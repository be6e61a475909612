//! The rule set (定级规则) as configuration: plain serde types, read from TOML by the caller
//! (the shipped set is `config/rules/default.toml`). See that file for the documented shape.

use serde::{Deserialize, Serialize};

use crate::domain::Severity;

use super::{ClassifyError, Scope};

/// A whole rule set: settings plus the ordered rules.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    /// Level when no rule matches and the sender gave none (default 三级).
    #[serde(default = "default_level")]
    pub default_level: Severity,
    #[serde(default)]
    pub negation: NegationSettings,
    #[serde(default)]
    pub scope: ScopeWords,
    #[serde(default)]
    pub criticality: CriticalityTable,
    /// Steps of correlation: `reporters` distinct reporters of one fault raise it to `raise_to`.
    #[serde(default)]
    pub correlation: Vec<CorrelationStep>,
    /// Phrases that look like a system or unit name but are not one (最高院 contains 高院 …);
    /// they are matched together with the names, so the longest match wins and swallows them.
    #[serde(default)]
    pub name_blockers: Vec<String>,
    /// The rules, evaluated in order (`[[rule]]` in TOML).
    #[serde(rename = "rule", default)]
    pub rules: Vec<Rule>,
}

fn default_level() -> Severity {
    Severity::Three
}

/// Negation (否定): "没有宕机" does not report an outage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NegationSettings {
    /// Negation tokens. A keyword preceded by one of these within `window` characters, in the
    /// same clause, does not count.
    #[serde(default)]
    pub words: Vec<String>,
    /// Words that contain a negation character but negate nothing (无线, 未知, 无纸化 …).
    /// Keywords that begin with a negation character (无法访问, 没反应) need not be listed: they
    /// are matched whole and win over the bare negation.
    #[serde(default)]
    pub exceptions: Vec<String>,
    /// Words that start a new clause for negation purposes (但是, 只是, 就是 …), in addition to
    /// punctuation (，。；,;!?！？ and line breaks) and spaces between Chinese characters.
    #[serde(default)]
    pub breaks: Vec<String>,
    /// Most characters allowed between the end of the negation and the keyword.
    #[serde(default = "default_window")]
    pub window: usize,
}

fn default_window() -> usize {
    4
}

impl Default for NegationSettings {
    fn default() -> Self {
        NegationSettings {
            words: Vec::new(),
            exceptions: Vec::new(),
            breaks: Vec::new(),
            window: default_window(),
        }
    }
}

/// Words that tell how widely a fault is felt (影响范围). The widest one found wins.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeWords {
    #[serde(default)]
    pub user: Vec<String>,
    #[serde(default)]
    pub office: Vec<String>,
    #[serde(default)]
    pub unit: Vec<String>,
    #[serde(default)]
    pub province: Vec<String>,
    /// Words that would otherwise contain a scope word but tell nothing (我们 contains 我).
    #[serde(default)]
    pub neutral: Vec<String>,
}

/// How a system's criticality (重要程度) adjusts the level found in the text.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CriticalityTable {
    #[serde(default)]
    pub critical: CriticalityAdjust,
    #[serde(default)]
    pub high: CriticalityAdjust,
    #[serde(default)]
    pub normal: CriticalityAdjust,
    #[serde(default)]
    pub low: CriticalityAdjust,
}

/// Applied to a fault level (a rule level 一级..三级, rules not marked `fixed`) when the scope is
/// narrower than a whole unit: first `shift` levels milder (never past 三级), then no more
/// severe than `cap`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CriticalityAdjust {
    #[serde(default)]
    pub shift: u8,
    #[serde(default = "default_cap")]
    pub cap: Severity,
}

fn default_cap() -> Severity {
    Severity::One
}

impl Default for CriticalityAdjust {
    fn default() -> Self {
        CriticalityAdjust { shift: 0, cap: Severity::One }
    }
}

/// One correlation step for the caller: see [`super::correlate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CorrelationStep {
    pub reporters: usize,
    pub raise_to: Severity,
}

/// The level of a rule per scope, overriding `level` when the scope is known.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeLevels {
    pub user: Option<Severity>,
    pub office: Option<Severity>,
    pub unit: Option<Severity>,
    pub province: Option<Severity>,
}

impl ScopeLevels {
    pub fn get(&self, scope: Scope) -> Option<Severity> {
        match scope {
            Scope::Unknown => None,
            Scope::User => self.user,
            Scope::Office => self.office,
            Scope::Unit => self.unit,
            Scope::Province => self.province,
        }
    }
}

/// One rule: it matches when one of `any` appears (not negated), every one of `all` appears
/// (not negated), none of `unless` appears (not negated), and the scope is at least
/// `requires_scope`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    pub level: Severity,
    pub any: Vec<String>,
    #[serde(default)]
    pub all: Vec<String>,
    #[serde(default)]
    pub unless: Vec<String>,
    pub requires_scope: Option<Scope>,
    /// The level at a known scope, e.g. `{ user = 3, unit = 1 }`.
    #[serde(default)]
    pub scope_levels: ScopeLevels,
    /// When true, the system's criticality does not adjust this rule's level (security events,
    /// device faults).
    #[serde(default)]
    pub fixed: bool,
}

impl RuleSet {
    /// Parses a rule set from TOML text (the caller reads the file).
    pub fn from_toml(text: &str) -> Result<RuleSet, ClassifyError> {
        toml::from_str(text).map_err(|e| ClassifyError::Syntax(e.to_string()))
    }
}
