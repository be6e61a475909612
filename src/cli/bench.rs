//! `zhiban bench ingest`: drive the real webhook endpoint on loopback and print accepted alerts/s,
//! latency percentiles and memory. Every accepted alert is committed before its response, exactly
//! as in production (the server is the real one, started in this process on a fresh database).
//! `zhiban bench classify`: time per report of the classifier. `zhiban bench escalation`: see
//! [`super::bench_escalation`].

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchWhat,
}

#[derive(Debug, clap::Subcommand)]
enum BenchWhat {
    /// Webhook intake: alerts/s and latency, SQLite or PostgreSQL.
    Ingest(IngestArgs),
    /// The classifier (定级): time per report over a labelled set.
    Classify(ClassifyBenchArgs),
    /// Escalation timers: lag, memory and cold start with many open incidents waiting to escalate.
    Escalation(super::bench_escalation::EscalationArgs),
    /// Chat: the command and mail parsers, and whole chat updates through the handler.
    Chat(super::bench_chat::ChatBenchArgs),
}

#[derive(Debug, clap::Args)]
struct ClassifyBenchArgs {
    /// The configuration whose catalogue and rules are used.
    #[arg(long, short, default_value = "config/zhiban.example.toml")]
    config: std::path::PathBuf,
    /// JSON lines with a `text` field.
    #[arg(long, default_value = "tests/data/classify.jsonl")]
    input: std::path::PathBuf,
    /// Passes over the input.
    #[arg(long, default_value_t = 200)]
    rounds: usize,
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
        BenchWhat::Classify(a) => classify(a)?,
        BenchWhat::Escalation(a) => super::bench_escalation::run(a).await?,
        BenchWhat::Chat(a) => super::bench_chat::run(a).await?,
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn classify(a: ClassifyBenchArgs) -> anyhow::Result<()> {
    let config = crate::config::Config::load(&a.config, &|k| std::env::var(k).ok())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = std::fs::read_to_string(&a.input).with_context(|| format!("reading {}", a.input.display()))?;
    let cases =
        crate::domain::classify::LabelledCase::parse_jsonl(&text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let classifier = &config.classifier;
    let mut checksum = 0usize;
    let started = Instant::now();
    for _ in 0..a.rounds {
        for case in &cases {
            let c = classifier
                .classify(&crate::domain::classify::ClassifyInput { text: &case.text, ..Default::default() });
            checksum += c.severity.level() as usize + c.reasons.len();
        }
    }
    let elapsed = started.elapsed();
    let n = (cases.len() * a.rounds) as f64;
    println!("zhiban bench classify: {} reports × {} rounds", cases.len(), a.rounds);
    println!("per report  {:.2} µs", elapsed.as_secs_f64() * 1e6 / n);
    println!("reports/s   {:.0} on one core  (checksum {checksum})", n / elapsed.as_secs_f64());
    Ok(())
}

const TOKEN: &str = "bench-generic-token-0123456789";

fn bench_config(database_url: &str, listen: &str) -> String {
    format!(
        r#"
[server]
listen = "{listen}"
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
    )
}

/// Resident memory of a process, in MiB.
pub(super) fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
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

/// The server under test: this same binary running `serve` in a child process, so that its
/// figures (and its memory) are its own and not the load generator's.
struct Server {
    child: tokio::process::Child,
    addr: SocketAddr,
}

impl Server {
    async fn start(config_path: &Path, addr: SocketAddr) -> anyhow::Result<Server> {
        let child = tokio::process::Command::new(std::env::current_exe()?)
            .args(["serve", "--config"])
            .arg(config_path)
            .env("ZHIBAN_LOG", "warn")
            .env_remove("ZHIBAN_DATABASE_URL")
            .env_remove("ZHIBAN_LISTEN")
            .kill_on_drop(true)
            .spawn()
            .context("starting the server")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut stream) = TcpStream::connect(addr).await {
                stream.write_all(b"GET /readyz HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n").await?;
                let mut answer = Vec::new();
                let _ = stream.read_to_end(&mut answer).await;
                if answer.starts_with(b"HTTP/1.1 200") {
                    return Ok(Server { child, addr });
                }
            }
            if Instant::now() > deadline {
                bail!("the server did not become ready");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SIGTERM: the graceful path, as systemd would stop it.
            let _ = std::process::Command::new("kill").arg(pid.to_string()).status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
    }
}

async fn ingest(a: IngestArgs) -> anyhow::Result<()> {
    let db = FreshDb::create(&a.backend, &a.postgres_url).await?;
    let addr: SocketAddr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        probe.local_addr()?
    };
    let config_path = db.dir.join("bench.toml");
    std::fs::write(&config_path, bench_config(&db.url, &addr.to_string()))?;
    let result = measure(&a, &config_path, addr).await;
    db.remove().await;
    result
}

/// A fresh database for one run: a SQLite file in a temporary folder, or a database created on
/// the PostgreSQL server for the run. [`FreshDb::remove`] deletes both.
pub(super) struct FreshDb {
    pub url: String,
    /// The run's temporary folder (the SQLite file lives here).
    pub dir: std::path::PathBuf,
    pg: Option<(sqlx::PgPool, String)>,
}

impl FreshDb {
    pub async fn create(backend: &str, postgres_url: &str) -> anyhow::Result<FreshDb> {
        let dir = std::env::temp_dir().join(format!("zhiban-bench-{:08x}", rand::random::<u32>()));
        std::fs::create_dir_all(&dir)?;
        let (url, pg) = match backend {
            "sqlite" => (format!("sqlite://{}", dir.join("bench.db").display()), None),
            "postgres" => {
                let name = format!("zhiban_bench_{:08x}", rand::random::<u32>());
                let admin = sqlx::PgPool::connect(postgres_url).await.context("connecting to PostgreSQL")?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await?;
                (crate::store::url_with_database(postgres_url, &name), Some((admin, name)))
            }
            other => {
                let _ = std::fs::remove_dir_all(&dir);
                bail!("unknown backend '{other}'; use sqlite or postgres")
            }
        };
        Ok(FreshDb { url, dir, pg })
    }

    pub async fn remove(self) {
        if let Some((admin, name)) = self.pg {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&admin)
                .await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn measure(a: &IngestArgs, config_path: &Path, addr: SocketAddr) -> anyhow::Result<()> {
    let server = Server::start(config_path, addr).await?;
    println!(
        "zhiban bench ingest: backend={} connections={} alerts/request={} rate={} measure={}s (server pid {})",
        a.backend,
        a.connections,
        a.alerts_per_request,
        a.rate.map(|r| format!("{r}/s")).unwrap_or_else(|| "max".into()),
        a.seconds,
        server.pid()
    );
    // Warm-up: connections, statement caches, the first pages of the database.
    let warm =
        drive(server.addr, a.connections, a.alerts_per_request, a.rate, Duration::from_secs(2), "warm")
            .await?;
    let rss_before = rss_mib(server.pid());
    let half = Duration::from_secs(a.seconds).div_f64(2.0);
    let first = drive(server.addr, a.connections, a.alerts_per_request, a.rate, half, "run1").await?;
    let rss_middle = rss_mib(server.pid());
    let second = drive(server.addr, a.connections, a.alerts_per_request, a.rate, half, "run2").await?;
    let rss_after = rss_mib(server.pid());
    server.stop().await;

    let mut lat = first.latencies_us;
    lat.extend(second.latencies_us);
    lat.sort_unstable();
    let (alerts, errors) = (first.alerts + second.alerts, first.errors + second.errors);
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied().unwrap_or(0)
    };
    let secs = a.seconds as f64;
    println!("warm-up    {} requests", warm.latencies_us.len());
    println!("requests   {} ok, {} failed", lat.len(), errors);
    println!("requests/s {:>10.0}", lat.len() as f64 / secs);
    println!("alerts/s   {:>10.0}", alerts as f64 / secs);
    println!(
        "latency    p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
        pct(0.50) as f64 / 1000.0,
        pct(0.99) as f64 / 1000.0,
        lat.last().copied().unwrap_or(0) as f64 / 1000.0
    );
    println!(
        "server rss {rss_before:.1} MiB after warm-up → {rss_middle:.1} MiB half-way → {rss_after:.1} MiB at the end ({} distinct alerts stored)",
        alerts + warm.alerts
    );
    if errors > 0 {
        bail!("{errors} requests failed");
    }
    Ok(())
}

/// Drive load from one OS thread with a single-threaded runtime (like `wrk -t1`): the load
/// generator takes at most one core and leaves the rest to the server.
async fn drive(
    addr: SocketAddr,
    connections: usize,
    per_request: usize,
    rate: Option<f64>,
    length: Duration,
    phase: &'static str,
) -> anyhow::Result<Stats> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        let result = match runtime {
            Ok(rt) => {
                let local = tokio::task::LocalSet::new();
                local.block_on(&rt, drive_here(addr, connections, per_request, rate, length, phase))
            }
            Err(e) => Err(e.into()),
        };
        let _ = tx.send(result);
    });
    rx.await.context("the load generator thread died")?
}

async fn drive_here(
    addr: SocketAddr,
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
        tasks.push(tokio::task::spawn_local(async move {
            let mut conn = Connection::open(addr).await?;
            let mut stats = Stats { latencies_us: Vec::new(), alerts: 0, errors: 0 };
            let mut n = 0u64;
            let start = Instant::now();
            let mut body = String::new();
            while Instant::now() < deadline {
                if let Some(iv) = interval {
                    // Open loop: requests leave on schedule, whatever the previous one took.
                    let due = start + iv.mul_f64(n as f64) + iv.mul_f64(c as f64 / connections as f64);
                    tokio::time::sleep_until(due.into()).await;
                }
                body.clear();
                body.push_str(r#"{"alerts":["#);
                for k in 0..per_request {
                    if k > 0 {
                        body.push(',');
                    }
                    use std::fmt::Write as _;
                    let _ = write!(
                        body,
                        r#"{{"title":"基准测试告警 {n}-{k}","system":"统一业务","severity":"三级","dedup_key":"{run_id}-{c}-{n}-{k}"}}"#
                    );
                }
                body.push_str("]}");
                let sent = Instant::now();
                let status = conn.post("/api/v1/webhooks/generic", TOKEN, body.as_bytes()).await?;
                if (200..300).contains(&status) {
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

/// A keep-alive HTTP/1.1 connection that writes requests and reads responses with as little work
/// as possible, as wrk does: the load generator must not be what is measured.
struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
    request: Vec<u8>,
}

impl Connection {
    async fn open(addr: SocketAddr) -> anyhow::Result<Connection> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection { stream, buf: Vec::with_capacity(4096), request: Vec::with_capacity(4096) })
    }

    /// POST and return the status code once the whole response has been read.
    async fn post(&mut self, path: &str, token: &str, body: &[u8]) -> anyhow::Result<u16> {
        use std::io::Write as _;
        self.request.clear();
        write!(
            self.request,
            "POST {path} HTTP/1.1\r\nhost: bench\r\nauthorization: Bearer {token}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )?;
        self.request.extend_from_slice(body);
        self.stream.write_all(&self.request).await?;
        self.buf.clear();
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end])?;
                let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).context("no status line")?;
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
                    })
                    .context("no content-length")?;
                while self.buf.len() < end + 4 + length {
                    self.read_more().await?;
                }
                return Ok(status);
            }
            self.read_more().await?;
        }
    }

    async fn read_more(&mut self) -> anyhow::Result<()> {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
