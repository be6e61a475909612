//! `zhiban bench ingest`: drive the real webhook endpoint on loopback and print accepted alerts/s,
//! latency percentiles and memory. Every accepted alert is committed before its response, exactly
//! as in production (the server is the real one, started in this process on a fresh database).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use crate::app::{self, StartOptions};
use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchWhat,
}

#[derive(Debug, clap::Subcommand)]
enum BenchWhat {
    /// Webhook intake: alerts/s and latency, SQLite or PostgreSQL.
    Ingest(IngestArgs),
}

#[derive(Debug, clap::Args)]
struct IngestArgs {
    /// sqlite (a fresh file in a temporary folder) or postgres (a fresh database on --postgres-url).
    #[arg(long, default_value = "sqlite")]
    backend: String,
    /// Server for the postgres backend; a database is created for the run and dropped after.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres", env = "ZHIBAN_BENCH_PG_URL")]
    postgres_url: String,
    /// How long to measure, after a short warm-up.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Alerts in each request.
    #[arg(long, default_value_t = 1)]
    alerts_per_request: usize,
    /// Fixed request rate (requests/s over all connections); absent = as fast as possible.
    #[arg(long)]
    rate: Option<f64>,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<std::process::ExitCode> {
    match args.what {
        BenchWhat::Ingest(a) => ingest(a).await?,
    }
    Ok(std::process::ExitCode::SUCCESS)
}

const TOKEN: &str = "bench-generic-token-0123456789";

fn bench_config(database_url: &str, dir: &Path) -> anyhow::Result<Config> {
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
[database]
url = "{database_url}"
[incidents]
ack_reminder_after = "15m"
auto_close_after = "72h"
[intake]
max_batch = 1024
max_alerts_per_request = 1000
[sources.generic]
auth = "bearer"
token = "{TOKEN}"
[[people]]
id = "admin"
name = "admin"
roles = ["admin"]
"#
    );
    Config::parse(&dir.join("bench.toml"), &text, &|_| None).map_err(|e| anyhow::anyhow!("{e}"))
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

struct Stats {
    latencies_us: Vec<u64>,
    alerts: u64,
    errors: u64,
}

async fn ingest(a: IngestArgs) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let (database_url, pg_cleanup) = match a.backend.as_str() {
        "sqlite" => (format!("sqlite://{}", dir.join("bench.db").display()), None),
        "postgres" => {
            let name = format!("zhiban_bench_{:08x}", rand::random::<u32>());
            let admin = sqlx::PgPool::connect(&a.postgres_url).await.context("connecting to PostgreSQL")?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await?;
            let base = a.postgres_url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&a.postgres_url);
            (format!("{base}/{name}"), Some((admin, name)))
        }
        other => bail!("unknown backend '{other}'; use sqlite or postgres"),
    };
    let config = bench_config(&database_url, &dir)?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let running = app::start(config, StartOptions { listener: Some(listener), ..Default::default() }).await?;
    let addr = running.addr;

    println!(
        "zhiban bench ingest: backend={} connections={} alerts/request={} rate={} measure={}s",
        a.backend,
        a.connections,
        a.alerts_per_request,
        a.rate.map(|r| format!("{r}/s")).unwrap_or_else(|| "max".into()),
        a.seconds
    );
    // Warm-up: connections, statement caches, the first pages of the database.
    let warm =
        drive(addr, a.connections, a.alerts_per_request, a.rate, Duration::from_secs(2), "warm").await?;
    let rss_before = rss_mib();
    let stats =
        drive(addr, a.connections, a.alerts_per_request, a.rate, Duration::from_secs(a.seconds), "run")
            .await?;
    let rss_after = rss_mib();
    let mut lat = stats.latencies_us;
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied().unwrap_or(0)
    };
    let secs = a.seconds as f64;
    println!("warm-up:   {} requests", warm.latencies_us.len());
    println!("requests:  {} ok, {} failed", lat.len(), stats.errors);
    println!("requests/s {:>10.0}", lat.len() as f64 / secs);
    println!("alerts/s   {:>10.0}", stats.alerts as f64 / secs);
    println!(
        "latency    p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
        pct(0.50) as f64 / 1000.0,
        pct(0.99) as f64 / 1000.0,
        lat.last().copied().unwrap_or(0) as f64 / 1000.0
    );
    println!(
        "rss        {rss_before:.1} MiB after warm-up → {rss_after:.1} MiB after the run (server and client in one process)"
    );
    running.shutdown().await;
    if let Some((admin, name)) = pg_cleanup {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
            .execute(&admin)
            .await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    if stats.errors > 0 {
        bail!("{} requests failed", stats.errors);
    }
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("zhiban-bench-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

async fn drive(
    addr: std::net::SocketAddr,
    connections: usize,
    per_request: usize,
    rate: Option<f64>,
    length: Duration,
    phase: &'static str,
) -> anyhow::Result<Stats> {
    let run_id = format!("{phase}-{:08x}", rand::random::<u32>());
    let deadline = Instant::now() + length;
    let interval = rate.map(|r| Duration::from_secs_f64(connections as f64 / r));
    let mut tasks = Vec::new();
    for c in 0..connections {
        let run_id = run_id.clone();
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            let mut stats = Stats { latencies_us: Vec::new(), alerts: 0, errors: 0 };
            let mut n = 0u64;
            let start = Instant::now();
            while Instant::now() < deadline {
                if let Some(iv) = interval {
                    // Open loop: requests leave on schedule, whatever the previous one took.
                    let due = start + iv.mul_f64(n as f64) + iv.mul_f64(c as f64 / connections as f64);
                    tokio::time::sleep_until(due.into()).await;
                }
                let alerts: Vec<String> = (0..per_request)
                    .map(|k| {
                        format!(
                            r#"{{"title":"基准测试告警 {n}-{k}","system":"统一业务","severity":"三级","dedup_key":"{run_id}-{c}-{n}-{k}"}}"#
                        )
                    })
                    .collect();
                let body = format!(r#"{{"alerts":[{}]}}"#, alerts.join(","));
                let req = hyper::Request::post("/api/v1/webhooks/generic")
                    .header("host", "bench")
                    .header("content-type", "application/json")
                    .header("authorization", format!("Bearer {TOKEN}"))
                    .body(Full::new(Bytes::from(body)))?;
                let sent = Instant::now();
                let response = sender.send_request(req).await?;
                let status = response.status();
                let _ = response.into_body().collect().await?;
                if status.is_success() {
                    stats.latencies_us.push(sent.elapsed().as_micros() as u64);
                    stats.alerts += per_request as u64;
                } else {
                    stats.errors += 1;
                }
                n += 1;
            }
            anyhow::Ok(stats)
        }));
    }
    let mut total = Stats { latencies_us: Vec::new(), alerts: 0, errors: 0 };
    for t in tasks {
        let s = t.await??;
        total.latencies_us.extend(s.latencies_us);
        total.alerts += s.alerts;
        total.errors += s.errors;
    }
    Ok(total)
}
