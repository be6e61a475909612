//! Test harness: a fresh database per test (a SQLite file, or a PostgreSQL database created for the
//! test), the real server started in-process on port 0, and an HTTP client.
#![allow(dead_code)]

pub mod fake_dingtalk;
pub mod fake_feishu;
pub mod fake_telegram;
pub mod fake_wecom;
pub mod mail_server;
pub mod receiver;

use std::path::{Path, PathBuf};
use std::time::Duration;

use zhiban::app::{self, Running, StartOptions};
use zhiban::config::Config;

pub const ADMIN: &str = "test-admin-token-0001";
pub const ENGINEER: &str = "test-engineer-token-01";
pub const LEADER: &str = "test-leader-token-0001";
pub const AM_TOKEN: &str = "test-alertmanager-token";
pub const GENERIC_TOKEN: &str = "test-generic-token-0001";
pub const GRAFANA_SECRET: &str = "test-grafana-hmac-secret";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests use. It must be reachable: a test that needs it fails loudly.
pub fn pg_server_url() -> String {
    std::env::var("ZHIBAN_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database for one test; dropped (PostgreSQL) or deleted (SQLite) at the end.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pub dir: tempfile::TempDir,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let dir = tempfile::tempdir().expect("a temporary folder");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("zhiban.db").display());
                TestDb { backend, url, dir, pg_name: None }
            }
            Backend::Postgres => {
                let server = pg_server_url();
                let admin = sqlx::PgPool::connect(&server).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is required for this test and is not reachable at {server}: {e}\n\
                         start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n\
                         or point ZHIBAN_TEST_PG_URL at a server"
                    )
                });
                let name = format!("zhiban_test_{:016x}", rand::random::<u64>());
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&admin)
                    .await
                    .expect("CREATE DATABASE");
                admin.close().await;
                let url = zhiban::store::url_with_database(&server, &name);
                TestDb { backend, url, dir, pg_name: Some(name) }
            }
        }
    }

    /// Make the database refuse every connection (PostgreSQL) — to test "store unavailable".
    pub async fn make_unavailable(&self) {
        let name = self.pg_name.as_ref().expect("only PostgreSQL databases can be taken away");
        let admin = sqlx::PgPool::connect(&pg_server_url()).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")))
            .execute(&admin)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )))
        .execute(&admin)
        .await
        .unwrap();
    }

    pub async fn make_available(&self) {
        let name = self.pg_name.as_ref().unwrap();
        let admin = sqlx::PgPool::connect(&pg_server_url()).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")))
            .execute(&admin)
            .await
            .unwrap();
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Best effort, on a thread of its own: Drop may run inside a runtime.
            let server = pg_server_url();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    if let Ok(admin) = sqlx::PgPool::connect(&server).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&admin)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

/// Knobs a test may turn in the generated configuration.
#[derive(Debug, Clone)]
pub struct Knobs {
    /// A duration like "3s"; "0" = off.
    pub ack_reminder_after: &'static str,
    pub auto_close_after: &'static str,
    /// A webhook sink posting to this URL, with every event.
    pub sink_url: Option<String>,
    pub body_limit_bytes: usize,
    pub max_alerts_per_request: usize,
    pub lease_seconds: u64,
    pub send_timeout_seconds: u64,
    pub max_attempts: u32,
    pub initial_backoff_seconds: u64,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            ack_reminder_after: "0",
            auto_close_after: "0",
            sink_url: None,
            body_limit_bytes: 1024 * 1024,
            max_alerts_per_request: 1000,
            lease_seconds: 60,
            send_timeout_seconds: 15,
            max_attempts: 10,
            initial_backoff_seconds: 1,
        }
    }
}

pub fn config_text(db_url: &str, k: &Knobs) -> String {
    let sink = match &k.sink_url {
        Some(url) => format!(
            r#"
[[notify.sinks]]
name = "hook"
kind = "webhook"
url = "{url}"
secret = "test-sink-secret-0001"
events = ["opened", "repeated", "acknowledged", "in_progress", "arrived_on_site", "resolved", "closed", "reopened", "cancelled", "merged", "commented", "severity_changed", "ack_overdue", "handover"]
"#
        ),
        None => String::new(),
    };
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
public_url = "http://zhiban.test"
body_limit_bytes = {body_limit}
shutdown_grace_seconds = 10

[database]
url = "{db_url}"

[incidents]
default_severity = 3
ack_reminder_after = "{ack}"
auto_close_after = "{close}"

[outbox]
max_attempts = {max_attempts}
initial_backoff_seconds = {backoff}
max_backoff_seconds = 60
lease_seconds = {lease}
send_timeout_seconds = {send_timeout}

[intake]
max_batch = 512
max_alerts_per_request = {max_alerts}

[[api.tokens]]
person = "admin"
token = "{ADMIN}"
[[api.tokens]]
person = "zhangwei"
token = "{ENGINEER}"
[[api.tokens]]
person = "leader"
token = "{LEADER}"

[sources.alertmanager]
auth = "bearer"
token = "{AM_TOKEN}"
[sources.alertmanager.severity_map]
critical = 1
warning = 3

[sources.generic]
auth = "bearer"
token = "{GENERIC_TOKEN}"

[sources.grafana]
auth = "hmac"
secret = "{GRAFANA_SECRET}"

{sink}

[[units]]
id = "gy"
name = "某省高级人民法院"
level = "provincial"
aliases = ["省院"]

[[teams]]
id = "onsite"
name = "驻场运维组"
members = ["zhangwei"]

[[people]]
id = "admin"
name = "管理员"
roles = ["admin"]

[[people]]
id = "zhangwei"
name = "张伟"
phone = "13800138001"
roles = ["engineer"]

[[people]]
id = "leader"
name = "李主任"
roles = ["leader"]

[[systems]]
id = "tyyw"
name = "统一业务应用系统"
aliases = ["统一业务"]
criticality = "critical"
team = "onsite"
"#,
        body_limit = k.body_limit_bytes,
        ack = k.ack_reminder_after,
        close = k.auto_close_after,
        max_attempts = k.max_attempts,
        backoff = k.initial_backoff_seconds,
        lease = k.lease_seconds,
        send_timeout = k.send_timeout_seconds,
        max_alerts = k.max_alerts_per_request,
    )
}

pub fn config(db_url: &str, k: &Knobs) -> Config {
    Config::parse(Path::new("test.toml"), &config_text(db_url, k), &|_| None)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Write the configuration to a file (for tests that run the binary).
pub fn config_file(dir: &Path, db_url: &str, k: &Knobs) -> PathBuf {
    let path = dir.join("zhiban.toml");
    std::fs::write(&path, config_text(db_url, k)).unwrap();
    path
}

pub struct TestApp {
    pub running: Running,
    pub base: String,
    pub http: reqwest::Client,
}

impl TestApp {
    pub async fn start(db: &TestDb, k: &Knobs) -> TestApp {
        TestApp::start_with(config(&db.url, k)).await
    }

    pub async fn start_with(config: Config) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let options = StartOptions {
            listener: Some(listener),
            poll_interval: Duration::from_millis(200),
            ..Default::default()
        };
        let running = app::start(config, options).await.expect("zhiban starts");
        let base = format!("http://{}", running.addr);
        TestApp { running, base, http: reqwest::Client::new() }
    }

    pub async fn stop(self) {
        self.running.shutdown().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn webhook(&self, source: &str, token: &str, body: &str) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(self.url(&format!("/api/v1/webhooks/{source}")))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        let r = self.http.get(self.url(path)).bearer_auth(token).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn post(&self, path: &str, token: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let r = self.http.post(self.url(path)).bearer_auth(token).json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn incidents(&self) -> Vec<serde_json::Value> {
        let (status, body) = self.get("/api/v1/incidents?limit=500", ADMIN).await;
        assert_eq!(status, 200, "{body}");
        body["incidents"].as_array().unwrap().clone()
    }

    pub async fn incident(&self, ticket: &str) -> serde_json::Value {
        let (status, body) = self.get(&format!("/api/v1/incidents/{ticket}"), ADMIN).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// Poll `check` until it holds or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Generate one test per backend from an `async fn(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::common::Backend::Postgres).await
                }
            )*
        }
    };
}
