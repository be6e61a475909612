//! Two instances on one PostgreSQL database, one killed with SIGKILL mid-run: every due timer fires
//! exactly once, and every outbox message is delivered (duplicates bounded by what the killed
//! instance had in flight, each carrying the same Idempotency-Key).

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::receiver::Receiver;
use common::*;
use serde_json::json;
use tokio::process::{Child, Command};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn spawn_instance(config: &std::path::Path, port: u16, log: &std::path::Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    Command::new(env!("CARGO_BIN_EXE_zhiban"))
        .args(["serve", "--config"])
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("ZHIBAN_LOG", "warn")
        .env_remove("ZHIBAN_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("the zhiban binary starts")
}

async fn wait_ready(http: &reqwest::Client, port: u16) {
    eventually(Duration::from_secs(30), "an instance to be ready", || async {
        matches!(http.get(format!("http://127.0.0.1:{port}/readyz")).send().await, Ok(r) if r.status() == 200)
    })
    .await;
}

struct Pair {
    a: Child,
    b: Child,
    port_a: u16,
    port_b: u16,
    http: reqwest::Client,
}

/// Two instances of the binary on one database, both ready.
async fn start_pair(db: &TestDb, config: &std::path::Path) -> Pair {
    let (port_a, port_b) = (free_port(), free_port());
    let a = spawn_instance(config, port_a, &db.dir.path().join("a.log"));
    let b = spawn_instance(config, port_b, &db.dir.path().join("b.log"));
    let http = reqwest::Client::new();
    wait_ready(&http, port_a).await;
    wait_ready(&http, port_b).await;
    Pair { a, b, port_a, port_b, http }
}

async fn report(http: &reqwest::Client, port: u16, n: usize) {
    let body = json!({"title": format!("基层院{n}号 审判系统无法登录"), "dedup_key": format!("cluster-{n}")});
    let r = http
        .post(format!("http://127.0.0.1:{port}/api/v1/webhooks/generic"))
        .bearer_auth(GENERIC_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_one_killed_lose_nothing_and_fire_timers_once() {
    let db = TestDb::new(Backend::Postgres).await;
    let receiver = Receiver::start().await;
    receiver.record.lock().unwrap().delay = Duration::from_millis(20);
    let knobs = Knobs {
        ack_reminder_after: "3s",
        sink_url: Some(receiver.url.clone()),
        lease_seconds: 3,
        send_timeout_seconds: 2,
        ..Default::default()
    };
    let file = config_file(db.dir.path(), &db.url, &knobs);
    let Pair { mut a, mut b, port_a, port_b, http } = start_pair(&db, &file).await;

    // 40 faults reported through both instances.
    for n in 0..40 {
        report(&http, if n % 2 == 0 { port_a } else { port_b }, n).await;
    }
    // Kill A as soon as the reminders start firing, while both are claiming timers and messages.
    eventually(Duration::from_secs(20), "the first reminder to be delivered", || async {
        receiver.bodies().iter().any(|b| b["event"] == "ack_overdue")
    })
    .await;
    a.kill().await.unwrap();
    // Work keeps arriving at the survivor.
    for n in 40..60 {
        report(&http, port_b, n).await;
    }

    let base = format!("http://127.0.0.1:{port_b}");
    let list = || async {
        let r =
            http.get(format!("{base}/api/v1/incidents?limit=500")).bearer_auth(ADMIN).send().await.unwrap();
        r.json::<serde_json::Value>().await.unwrap()["incidents"].as_array().unwrap().clone()
    };
    assert_eq!(list().await.len(), 60, "every accepted report became an incident");
    eventually(Duration::from_secs(60), "every reminder to fire and every message to be sent", || async {
        let r =
            http.get(format!("{base}/api/v1/outbox?status=pending")).bearer_auth(ADMIN).send().await.unwrap();
        let pending = r.json::<serde_json::Value>().await.unwrap()["messages"].as_array().unwrap().len();
        pending == 0 && receiver.distinct() == 120
    })
    .await;

    for incident in list().await {
        let ticket = incident["ticket"].as_str().unwrap();
        let r =
            http.get(format!("{base}/api/v1/incidents/{ticket}")).bearer_auth(ADMIN).send().await.unwrap();
        let detail: serde_json::Value = r.json().await.unwrap();
        let fired =
            detail["timeline"].as_array().unwrap().iter().filter(|e| e["kind"] == "ack_overdue").count();
        assert_eq!(fired, 1, "{ticket}: the reminder fired {fired} times");
    }
    let (total, distinct) = (receiver.total() as usize, receiver.distinct());
    let duplicates = total - distinct;
    println!("deliveries: {total} for {distinct} messages ({duplicates} repeated after the kill)");
    assert!(
        duplicates <= 16,
        "only messages in flight in the killed instance may arrive twice, got {duplicates}"
    );
    assert!(receiver.record.lock().unwrap().signatures_ok);
    b.kill().await.unwrap();
}

/// Paging on two instances, one killed while tiers escalate: every incident pages each tier once
/// (its Paged entries), and every page reaches the channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_escalate_each_tier_once() {
    let db = TestDb::new(Backend::Postgres).await;
    let channel = Receiver::start().await;
    channel.record.lock().unwrap().delay = Duration::from_millis(20);
    let knobs = Knobs { lease_seconds: 3, send_timeout_seconds: 2, ..Default::default() };
    let text = format!(
        r#"{base}
[paging]
default_policy = "fast"
default_rules = [{{ channel = "gw" }}]

[[paging.channels]]
name = "gw"
kind = "webhook"
url = "{url}"
secret = "test-sink-secret-0001"

[[paging.policies]]
id = "fast"
name = "快速升级"
[[paging.policies.tiers]]
targets = ["person:zhangwei"]
ack_timeout = "2s"
[[paging.policies.tiers]]
targets = ["person:leader"]
ack_timeout = "1h"
"#,
        base = config_text(&db.url, &knobs),
        url = channel.url,
    );
    let file = db.dir.path().join("paging.toml");
    std::fs::write(&file, text).unwrap();
    let Pair { mut a, mut b, port_a, port_b, http } = start_pair(&db, &file).await;

    for n in 0..30 {
        report(&http, if n % 2 == 0 { port_a } else { port_b }, n).await;
    }
    // Kill A once the second tier starts paging.
    eventually(Duration::from_secs(20), "the first tier-2 page", || async {
        channel.bodies().iter().any(|b| b["person"] == "leader")
    })
    .await;
    a.kill().await.unwrap();
    eventually(Duration::from_secs(60), "both tiers of every incident paged", || async {
        channel.distinct() == 60
    })
    .await;

    let base = format!("http://127.0.0.1:{port_b}");
    let r = http.get(format!("{base}/api/v1/incidents?limit=500")).bearer_auth(ADMIN).send().await.unwrap();
    let incidents = r.json::<serde_json::Value>().await.unwrap()["incidents"].as_array().unwrap().clone();
    assert_eq!(incidents.len(), 30);
    for incident in incidents {
        let ticket = incident["ticket"].as_str().unwrap();
        let r =
            http.get(format!("{base}/api/v1/incidents/{ticket}")).bearer_auth(ADMIN).send().await.unwrap();
        let detail: serde_json::Value = r.json().await.unwrap();
        let paged: Vec<u64> = detail["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "paged")
            .map(|e| e["reason"]["tier"].as_u64().unwrap())
            .collect();
        assert_eq!(paged, [0, 1], "{ticket}: each tier paged once");
    }
    let (total, distinct) = (channel.total() as usize, channel.distinct());
    println!("page deliveries: {total} for {distinct} pages");
    assert!(total - distinct <= 16, "only pages in flight in the killed instance may arrive twice");
    assert!(channel.record.lock().unwrap().signatures_ok);
    b.kill().await.unwrap();
}
