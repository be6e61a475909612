//! Measuring the classifier against a labelled set (`tests/data/classify.jsonl`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::Severity;

use super::{Classifier, ClassifyInput, zh_level};

/// One labelled report, one JSON object per line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledCase {
    pub text: String,
    /// The right level, 1 (一级) ..= 4.
    pub level: u8,
    /// The catalogue NAME of the system the report is about (e.g. "统一业务应用系统"), or null.
    #[serde(default)]
    pub system: Option<String>,
    /// How it arrived (chat, email, phone, alertmanager, zabbix …); informational.
    #[serde(default)]
    pub channel: Option<String>,
}

impl LabelledCase {
    /// Parses JSON lines; blank lines and lines starting with `//` or `#` are skipped.
    pub fn parse_jsonl(text: &str) -> Result<Vec<LabelledCase>, String> {
        text.lines()
            .enumerate()
            .filter(|(_, l)| {
                let t = l.trim();
                !t.is_empty() && !t.starts_with("//") && !t.starts_with('#')
            })
            .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
            .collect()
    }
}

/// A case the classifier got wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    pub text: String,
    pub expected: u8,
    pub got: Severity,
    pub expected_system: Option<String>,
    pub got_system: Option<String>,
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    pub cases: usize,
    /// Cases whose level was exactly right.
    pub exact: usize,
    /// Cases whose label names a system.
    pub with_system: usize,
    /// Of those, the ones where the classifier found that system.
    pub system_right: usize,
    /// Cases without a labelled system where the classifier still found one.
    pub system_spurious: usize,
    /// `confusion[labelled - 1][classified - 1]`.
    pub confusion: [[usize; 4]; 4],
    /// 一级 cases classified below 二级 (三级 or 四级): the misses that must not happen.
    pub severe_missed: Vec<Miss>,
    /// Every case with a wrong level.
    pub level_misses: Vec<Miss>,
    /// Every case with a wrong or missing system (where one is labelled).
    pub system_misses: Vec<Miss>,
    /// Cases whose label is not a level 1..=4 (skipped).
    pub invalid: usize,
}

impl Evaluation {
    pub fn level_accuracy(&self) -> f64 {
        ratio(self.exact, self.cases)
    }

    pub fn system_accuracy(&self) -> f64 {
        ratio(self.system_right, self.with_system)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// Classifies every case (text only: no sender severity, no hints) and compares.
pub fn evaluate(cases: &[LabelledCase], classifier: &Classifier) -> Evaluation {
    let mut ev = Evaluation::default();
    for case in cases {
        let Some(expected) = Severity::from_level(i64::from(case.level)) else {
            ev.invalid += 1;
            continue;
        };
        let got = classifier.classify(&ClassifyInput { text: &case.text, ..ClassifyInput::default() });
        let got_name = got.system.as_deref().and_then(|id| classifier.system_name(id)).map(str::to_string);
        ev.cases += 1;
        ev.confusion[usize::from(expected.level() - 1)][usize::from(got.severity.level() - 1)] += 1;
        let miss = || Miss {
            text: case.text.clone(),
            expected: case.level,
            got: got.severity,
            expected_system: case.system.clone(),
            got_system: got_name.clone(),
        };
        if got.severity == expected {
            ev.exact += 1;
        } else {
            ev.level_misses.push(miss());
            if expected == Severity::One && got.severity > Severity::Two {
                ev.severe_missed.push(miss());
            }
        }
        match &case.system {
            Some(name) => {
                ev.with_system += 1;
                if got_name.as_deref() == Some(name.as_str()) {
                    ev.system_right += 1;
                } else {
                    ev.system_misses.push(miss());
                }
            }
            None if got.system.is_some() => ev.system_spurious += 1,
            None => {}
        }
    }
    ev
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "定级评估 / classifier evaluation: {} cases", self.cases)?;
        writeln!(
            f,
            "  exact level:     {}/{} = {:.1}%",
            self.exact,
            self.cases,
            100.0 * self.level_accuracy()
        )?;
        writeln!(
            f,
            "  system named:    {}/{} = {:.1}%  (found a system where none is labelled: {})",
            self.system_right,
            self.with_system,
            100.0 * self.system_accuracy(),
            self.system_spurious
        )?;
        writeln!(f, "  一级 classified below 二级: {}", self.severe_missed.len())?;
        if self.invalid > 0 {
            writeln!(f, "  skipped (label not 1-4): {}", self.invalid)?;
        }
        writeln!(f, "  confusion (rows: labelled, columns: classified)")?;
        writeln!(f, "           一级  二级  三级  四级")?;
        for (i, row) in self.confusion.iter().enumerate() {
            let label = zh_level(Severity::from_level(i as i64 + 1).unwrap_or(Severity::Four));
            writeln!(f, "    {label}  {:>5} {:>5} {:>5} {:>5}", row[0], row[1], row[2], row[3])?;
        }
        if !self.level_misses.is_empty() {
            writeln!(f, "  level misses:")?;
            for m in &self.level_misses {
                writeln!(f, "    expected {} got {}: {}", m.expected, m.got.level(), m.text)?;
            }
        }
        if !self.system_misses.is_empty() {
            writeln!(f, "  system misses:")?;
            for m in &self.system_misses {
                writeln!(
                    f,
                    "    expected {} got {}: {}",
                    m.expected_system.as_deref().unwrap_or("-"),
                    m.got_system.as_deref().unwrap_or("-"),
                    m.text
                )?;
            }
        }
        Ok(())
    }
}
