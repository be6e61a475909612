//! The audit log: people's actions are recorded in a hash chain that shows any tampering.

mod common;

use std::process::Command;

use common::*;
use serde_json::json;

fn verify(config: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_zhiban"))
        .args(["audit", "verify", "--config"])
        .arg(config)
        .env("ZHIBAN_LOG", "warn")
        .env_remove("ZHIBAN_DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

async fn tamper(db: &TestDb, sql: &'static str) {
    match db.backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
}

async fn actions_are_chained_and_tampering_is_found(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db, &Knobs::default()).await;
    let (_, answer) =
        app.webhook("generic", GENERIC_TOKEN, r#"{"title":"签章服务异常","dedup_key":"seal"}"#).await;
    let ticket = answer["incidents"][0]["ticket"].as_str().unwrap().to_string();
    // A person's report is audited (a monitoring sender's is not), with the person as the actor.
    let (status, created) = app.post("/api/v1/incidents", ENGINEER, json!({"title": "OA无法登录"})).await;
    assert_eq!(status, 201, "{created}");
    let reported = app.incident(created["ticket"].as_str().unwrap()).await;
    assert_eq!(reported["timeline"][0]["actor"]["id"], "zhangwei");
    assert_eq!(reported["timeline"][0]["channel"], "api");
    for (verb, body) in [
        ("acknowledge", json!({})),
        ("severity", json!({"severity": 1, "reason": "全省无法签章"})),
        ("resolve", json!({"note": "更换证书"})),
    ] {
        let (status, answer) = app.post(&format!("/api/v1/incidents/{ticket}/{verb}"), ENGINEER, body).await;
        assert_eq!(status, 200, "{answer}");
    }
    // A refused action changes nothing, in the log too.
    let (status, _) = app.post(&format!("/api/v1/incidents/{ticket}/acknowledge"), ENGINEER, json!({})).await;
    assert_eq!(status, 409);

    let (status, log) = app.get("/api/v1/audit", ADMIN).await;
    assert_eq!(status, 200, "{log}");
    let records = log["records"].as_array().unwrap();
    let actions: Vec<&str> = records.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["report", "acknowledge", "set_severity", "resolve"]);
    assert_eq!(records[2]["actor"]["id"], "zhangwei");
    assert_eq!(records[2]["detail"]["reason"], "全省无法签章");
    assert_eq!(records[2]["subject"], format!("incident:{ticket}"));
    assert_eq!(records[2]["prev_hash"], records[1]["hash"]);
    let (status, _) = app.get("/api/v1/audit", ENGINEER).await;
    assert_eq!(status, 403, "the audit log is for admins");
    app.stop().await;

    let config = config_file(db.dir.path(), &db.url, &Knobs::default());
    let (ok, out) = verify(&config);
    assert!(ok && out.contains("4 records"), "{out}");
    tamper(&db, "UPDATE audit_log SET detail = '{\"to\":4,\"reason\":\"改小\"}' WHERE seq = 3").await;
    let (ok, out) = verify(&config);
    assert!(!ok && out.contains("record 3"), "{out}");
}

on_both_backends!(actions_are_chained_and_tampering_is_found);
