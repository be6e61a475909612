//! 定级 end to end: reasons on the incident, correlation across reports, and the CLI.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;
use serde_json::json;

async fn reasons_are_shown_and_many_reporters_raise_the_level(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db, &Knobs::default()).await;
    let mut levels = Vec::new();
    for n in 0..3 {
        // Three staff, three separate reports of the same slowness.
        let body = json!({"title": "统一业务有点慢", "dedup_key": format!("staff-{n}")});
        let (status, answer) = app.webhook("generic", GENERIC_TOKEN, &body.to_string()).await;
        assert_eq!(status, 200, "{answer}");
        let incident = app.incident(answer["incidents"][0]["ticket"].as_str().unwrap()).await;
        levels.push(incident["severity"].as_u64().unwrap());
        let reasons: Vec<String> = incident["timeline"][0]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect();
        assert!(reasons.iter().any(|r| r.contains("慢")), "{reasons:?}");
        if n == 2 {
            assert!(
                reasons.iter().any(|r| r.contains('3')),
                "the third report says why it was raised: {reasons:?}"
            );
        }
    }
    assert_eq!(levels, [3, 3, 2], "the third reporter within the window raises the level");
    app.stop().await;
}

on_both_backends!(reasons_are_shown_and_many_reporters_raise_the_level);

fn zhiban(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zhiban"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn classify_jsonl_answers_line_by_line() {
    let input = "{\"text\":\"全院都打不开审判系统了\"}\n{\"text\":\"没有宕机，只是有点慢\",\"channel\":\"wecom\"}\nnot json\n{\"text\":\"请问签章证书怎么更新\"}\n";
    let (code, out, err) =
        zhiban(&["classify", "--config", "config/zhiban.example.toml", "--jsonl"], Some(input));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(
        (lines[0]["level"].as_u64(), lines[0]["system"].as_str()),
        (Some(1), Some("审判流程管理软件"))
    );
    assert_eq!(lines[1]["level"], 3, "a negated outage is not 一级: {}", lines[1]);
    assert!(lines[2]["error"].as_str().unwrap().contains("line 3"));
    assert_eq!((lines[3]["level"].as_u64(), lines[3]["system"].as_str()), (Some(4), Some("电子签章系统")));
}

#[test]
fn classify_eval_reports_accuracy_on_the_labelled_set() {
    let (code, out, err) = zhiban(
        &["classify", "--config", "config/zhiban.example.toml", "--eval", "tests/data/classify.jsonl"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("exact level") && out.contains("confusion"), "{out}");
}

#[test]
fn check_config_names_file_key_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[sla]\ndefault_policy = \"Z\"\n[server]\nlisten = \"nowhere\"\n").unwrap();
    let (code, _, err) = zhiban(&["check-config", file.to_str().unwrap()], None);
    assert_eq!(code, 2);
    assert!(err.contains("bad.toml: server.listen:"), "{err}");
    assert!(err.contains("bad.toml: sla.default_policy:"), "{err}");
    let (code, out, err) = zhiban(&["check-config", "config/zhiban.example.toml"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("OK"), "{out}");
}
