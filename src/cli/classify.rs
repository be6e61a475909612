//! `zhiban classify`: 定级 from the command line — one text, JSON lines, or an evaluation of a
//! labelled set.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use serde::Deserialize;
use serde_json::json;

use crate::config::Config;
use crate::domain::classify::{ClassifyInput, LabelledCase, evaluate};

#[derive(Debug, clap::Args)]
pub struct ClassifyArgs {
    /// The configuration (its catalogue and rules are used).
    #[arg(long, short, default_value = "config/zhiban.toml", env = "ZHIBAN_CONFIG")]
    config: PathBuf,
    /// Read JSON lines with a `text` field (and optional `channel`) from standard input and
    /// write one JSON object per line: `level` (1–4), `system` (the catalogue name or null), `reasons`.
    #[arg(long, conflicts_with_all = ["eval", "text"])]
    jsonl: bool,
    /// Evaluate against a labelled JSON-lines file (fields `text`, `level`, `system`): exact-level
    /// accuracy, system accuracy and a confusion matrix.
    #[arg(long, value_name = "FILE.jsonl", conflicts_with = "text")]
    eval: Option<PathBuf>,
    /// The text of a report.
    text: Vec<String>,
}

#[derive(Deserialize)]
struct Line {
    text: String,
    #[allow(dead_code)]
    channel: Option<String>,
}

pub fn run(args: ClassifyArgs) -> anyhow::Result<ExitCode> {
    let config = match Config::load(&args.config, &|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let classifier = &config.classifier;
    if let Some(file) = &args.eval {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let cases =
            LabelledCase::parse_jsonl(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        let report = evaluate(&cases, classifier);
        println!("{report}");
        return Ok(ExitCode::SUCCESS);
    }
    if args.jsonl {
        let stdin = std::io::stdin();
        let mut out = std::io::stdout().lock();
        for (n, line) in stdin.lock().lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let answer = match serde_json::from_str::<Line>(&line) {
                Ok(input) => {
                    let c = classifier.classify(&ClassifyInput { text: &input.text, ..Default::default() });
                    json!({
                        "level": c.severity.level(),
                        "system": c.system.as_deref().and_then(|id| classifier.system_name(id)),
                        "reasons": c.reasons.iter().map(|r| r.text_zh.as_str()).collect::<Vec<_>>(),
                    })
                }
                // One bad line must not stop a batch: say what was wrong, on that line.
                Err(e) => json!({ "error": format!("line {}: {e}", n + 1) }),
            };
            writeln!(out, "{answer}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.text.is_empty() {
        anyhow::bail!("give a text to classify, or --jsonl, or --eval FILE");
    }
    let text = args.text.join(" ");
    let c = classifier.classify(&ClassifyInput { text: &text, ..Default::default() });
    let system = c.system.as_deref().and_then(|id| classifier.system_name(id)).unwrap_or("—");
    println!(
        "{}  业务系统：{system}  影响范围：{}",
        crate::domain::classify::zh_level(c.severity),
        c.scope.zh()
    );
    for r in &c.reasons {
        println!("  - {}", r.text_zh);
    }
    Ok(ExitCode::SUCCESS)
}
