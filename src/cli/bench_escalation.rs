//! `zhiban bench escalation`: many open incidents, each waiting on its escalation timer (升级计时器).
//! It answers three questions about the durable timers:
//!
//! - **lag**: how late does the real timer loop fire them (p50/p90/p99/max of fired − due)?
//! - **memory**: what does a pending timer cost, in the process (RSS) and in the database?
//! - **cold start**: how long does a new engine take to re-arm from the database, and how fast does
//!   it fire everything that fell due while it was down?
//!
//! One fresh database, four phases:
//!
//! 1. *load* — N incidents are opened through [`IncidentService::ingest`] (the path webhooks take,
//!    without HTTP), in batches, on a manual clock moved forward between batches so that the first
//!    tier's acknowledgement timeouts fall due evenly over `--window` seconds. Each incident pages
//!    its first tier and arms its `escalate` timer.
//! 2. *memory* — process RSS and database size before and after the load; the `timers` table and
//!    its indexes on their own (SQLite's `dbstat`, PostgreSQL's `pg_total_relation_size`).
//! 3. *lag* — the real timer loop ([`timers::run`]) on the system clock, shifted so that the first
//!    timer falls due two seconds after the loop starts. Each timer pages the second tier; its lag
//!    is the time the engine recorded on that page minus the timer's due time.
//! 4. *cold start* — that engine stops; a new store, service and timer loop start on the same
//!    database (as `serve` does) with the clock moved past every second-tier timeout, as after an
//!    outage. Measured: start to the first `next_timer_due` answered (the whole re-arm: timers are
//!    rows, nothing is loaded into memory), and start to the last overdue timer fired.
//!
//! The outbox dispatcher does not run: pages stay queued, so only the timers are measured.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use jiff::Timestamp;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::bench::{FreshDb, rss_mib};
use crate::config::Config;
use crate::domain::Severity;
use crate::engine::{Clock, IncidentService, ManualClock, Report, SystemClock, Wakeups, timers};
use crate::messages::Messages;
use crate::metrics::Metrics;
use crate::store::SharedStore;

/// The policy's tiers: who is paged and after how long without acknowledgement the next tier is.
const TIERS: [(&str, &str, &str); 3] =
    [("onsite", "驻场工程师", "15m"), ("second", "二线工程师", "15m"), ("vendor", "厂商专家", "30m")];
/// The first tier's timeout, in minutes: the lag window must fit in it.
const FIRST_TIMEOUT_MINS: u64 = 15;
/// How often the loop looks for timers armed elsewhere (the default of `serve`).
const POLL: Duration = Duration::from_secs(2);
/// The first timer falls due this long after the timer loop starts.
const LEAD: Duration = Duration::from_secs(2);

#[derive(Debug, clap::Args)]
pub struct EscalationArgs {
    /// sqlite (a fresh file in a temporary folder) or postgres (a fresh database on --postgres-url).
    #[arg(long, default_value = "sqlite")]
    backend: String,
    /// Server for the postgres backend; a database is created for the run and dropped after.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres", env = "ZHIBAN_BENCH_PG_URL")]
    postgres_url: String,
    /// Open incidents, each with one pending escalation timer.
    #[arg(long, default_value_t = 100_000)]
    incidents: u32,
    /// The timers fall due evenly over this many seconds (at most 600).
    #[arg(long, default_value_t = 60)]
    window: u64,
    /// Reports per intake transaction while loading; the timers of one batch share a due time.
    #[arg(long, default_value_t = 100)]
    load_batch: u32,
}

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct EscalationFigures {
    pub incidents: u32,
    pub load: Duration,
    pub rss_before_mib: f64,
    pub rss_loaded_mib: f64,
    pub db_bytes_before: i64,
    pub db_bytes_loaded: i64,
    /// The `timers` table and its indexes, when the backend can tell.
    pub timer_bytes: Option<i64>,
    /// Fired − due of every timer, in milliseconds, sorted.
    pub lags_ms: Vec<i64>,
    /// From the loop's start until the last timer of the window fired.
    pub lag_phase: Duration,
    /// Cold start: connect and migrate.
    pub open: Duration,
    /// Cold start: until the first `next_timer_due` was answered.
    pub armed: Duration,
    pub rss_restart_mib: (f64, f64),
    /// Timers overdue when the new engine started.
    pub overdue: usize,
    /// Cold start: until the last overdue timer fired.
    pub drained: Duration,
}

impl EscalationFigures {
    /// The lag at percentile `p` (nearest rank), in milliseconds.
    pub fn lag_ms(&self, p: f64) -> i64 {
        let n = self.lags_ms.len();
        if n == 0 {
            return 0;
        }
        let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
        self.lags_ms[rank - 1]
    }
}

pub async fn run(a: EscalationArgs) -> anyhow::Result<()> {
    ensure!(a.incidents > 0, "--incidents must be at least 1");
    ensure!(a.load_batch > 0, "--load-batch must be at least 1");
    ensure!(
        a.window <= 600,
        "--window must be at most 600 s (the timers fall due within the first tier's {FIRST_TIMEOUT_MINS} minutes)"
    );
    let db = FreshDb::create(&a.backend, &a.postgres_url).await?;
    let result = measure(&a, &db.url).await;
    db.remove().await;
    result.map(|_| ())
}

/// Run the four phases on the (empty) database at `url`, printing as they finish.
pub async fn measure(a: &EscalationArgs, url: &str) -> anyhow::Result<EscalationFigures> {
    let n = a.incidents;
    let config = Arc::new(
        Config::parse(std::path::Path::new("bench-escalation.toml"), &config_text(url), &|_| None)
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    println!(
        "zhiban bench escalation: {n} open incidents, each waiting on its escalation timer — backend {}, {}",
        url.split(':').next().unwrap_or("?"),
        machine()
    );
    println!(
        "policy 驻场 → 二线 → 厂商 ({}), one person per tier on a log channel; timer loop batch {}, \
         poll {} s; the outbox does not run (pages stay queued): only timers are measured",
        TIERS.map(|t| t.2).join(", "),
        timers::BATCH,
        POLL.as_secs()
    );

    let mut f = EscalationFigures { incidents: n, ..EscalationFigures::default() };

    // 1. Load.
    let store = crate::app::open_store(&config).await?;
    let raw = Raw::connect(url).await?;
    f.rss_before_mib = rss_mib(std::process::id());
    f.db_bytes_before = raw.db_bytes().await?;
    let batches = n.div_ceil(a.load_batch);
    let step_ms = (a.window * 1000 / u64::from(batches)) as i64;
    let clock = ManualClock::new(SystemClock.now());
    let (loader, _) = engine(&config, store.clone(), Arc::new(clock.clone()))?;
    let started = Instant::now();
    for b in 0..batches {
        let reports: Vec<Report> = (b * a.load_batch..((b + 1) * a.load_batch).min(n)).map(report).collect();
        loader.ingest(&reports).await.context("loading incidents")?;
        clock.advance(jiff::SignedDuration::from_millis(step_ms));
    }
    f.load = started.elapsed();
    drop(loader);
    let due: HashMap<i64, i64> = raw.escalate_timers().await?.into_iter().collect();
    ensure!(due.len() == n as usize, "{} escalation timers armed for {n} incidents", due.len());
    println!(
        "load       {} incidents in {:.1} s ({:.0}/s; {} per intake transaction, {} due times {} ms apart)",
        f.incidents,
        f.load.as_secs_f64(),
        f64::from(n) / f.load.as_secs_f64(),
        a.load_batch,
        batches,
        step_ms
    );

    // 2. Memory.
    f.rss_loaded_mib = rss_mib(std::process::id());
    f.db_bytes_loaded = raw.db_bytes().await?;
    f.timer_bytes = raw.timer_bytes().await;
    let per = |bytes: f64| bytes / f64::from(n);
    let grown = (f.db_bytes_loaded - f.db_bytes_before) as f64;
    println!(
        "memory     process RSS {:.1} → {:.1} MiB: {:.0} B per pending timer \
         (the loop keeps nothing per timer; this is the store's caches and the allocator)",
        f.rss_before_mib,
        f.rss_loaded_mib,
        per((f.rss_loaded_mib - f.rss_before_mib) * 1024.0 * 1024.0)
    );
    match f.timer_bytes {
        Some(t) => println!(
            "disk       timers table with its indexes {:.1} MiB: {:.0} B per pending timer; whole database \
             +{:.1} MiB, {:.0} B per incident (incident, timeline, page, outbox row, timer)",
            t as f64 / MIB,
            per(t as f64),
            grown / MIB,
            per(grown)
        ),
        None => println!(
            "disk       whole database +{:.1} MiB, {:.0} B per incident (the timers table alone: not measurable here)",
            grown / MIB,
            per(grown)
        ),
    }

    // 3. Lag: the real loop on the system clock, shifted so that the first timer is due soon.
    let (first_due, last_due) =
        due.values().fold((i64::MAX, i64::MIN), |(lo, hi), &d| (lo.min(d), hi.max(d)));
    let offset_ms = first_due - SystemClock.now().as_millisecond() - LEAD.as_millis() as i64;
    let shifted = Arc::new(ShiftedClock { offset_ms });
    let (service, wakeups) = engine(&config, store.clone(), shifted.clone())?;
    let started = Instant::now();
    let running = TimerLoop::start(service, &wakeups);
    let timeout = LEAD + Duration::from_secs(a.window) + Duration::from_secs(600);
    wait_until_fired(&raw, shifted.as_ref(), last_due, started + timeout).await?;
    f.lag_phase = started.elapsed();
    running.stop().await;
    for (incident, fired) in raw.first_page_at(TIERS[1].0).await? {
        if let Some(d) = due.get(&incident) {
            f.lags_ms.push(fired - d);
        }
    }
    ensure!(f.lags_ms.len() == n as usize, "{} of {n} incidents paged their second tier", f.lags_ms.len());
    f.lags_ms.sort_unstable();
    drop(store);
    let ms = |v: i64| fmt_ms(v as f64);
    println!(
        "lag        {n} timers due over {} s, fired by the timer loop on the system clock in {:.1} s",
        a.window,
        f.lag_phase.saturating_sub(LEAD).as_secs_f64()
    );
    println!(
        "           p50 {}   p90 {}   p99 {}   max {}   (fired − due as the engine records it, when its \
         transaction starts; the commit follows one transaction later, see below; aim: p99 < 1 s)",
        ms(f.lag_ms(0.50)),
        ms(f.lag_ms(0.90)),
        ms(f.lag_ms(0.99)),
        ms(f.lags_ms.last().copied().unwrap_or(0))
    );

    // 4. Cold start after an outage: every second-tier timer fell due while the engine was down.
    let pending = raw.escalate_timers().await?;
    f.overdue = pending.len();
    let last_due = pending.iter().map(|(_, d)| *d).max().unwrap_or(0);
    let clock = Arc::new(ShiftedClock { offset_ms: last_due + 1000 - SystemClock.now().as_millisecond() });
    let rss_start = rss_mib(std::process::id());
    let started = Instant::now();
    let store = crate::app::open_store(&config).await?;
    f.open = started.elapsed();
    let (service, wakeups) = engine(&config, store.clone(), clock.clone())?;
    let next = store.next_timer_due().await?;
    f.armed = started.elapsed();
    f.rss_restart_mib = (rss_start, rss_mib(std::process::id()));
    ensure!(next.is_some(), "no timer pending after the restart");
    let running = TimerLoop::start(service, &wakeups);
    wait_until_fired(&raw, clock.as_ref(), last_due, Instant::now() + Duration::from_secs(1200)).await?;
    f.drained = started.elapsed();
    running.stop().await;
    let third = raw.first_page_at(TIERS[2].0).await?.len();
    ensure!(third == n as usize, "{third} of {n} incidents paged their third tier after the restart");
    println!(
        "cold start {} pending timers: store opened and migrated in {}, loop armed (first next_timer_due \
         answered) {} after start (aim: < 2 s); RSS {:.1} → {:.1} MiB",
        f.overdue,
        fmt_ms(f.open.as_secs_f64() * 1000.0),
        fmt_ms(f.armed.as_secs_f64() * 1000.0),
        f.rss_restart_mib.0,
        f.rss_restart_mib.1
    );
    let firing = f.drained.saturating_sub(f.armed).as_secs_f64();
    println!(
        "outage     all {} overdue at start: the last fired {:.1} s after start ({:.0} timers/s, \
         {:.1} ms per transaction of {}), every incident paged its third tier",
        f.overdue,
        f.drained.as_secs_f64(),
        f.overdue as f64 / firing.max(1e-9),
        firing * 1000.0 / (f.overdue as f64 / f64::from(timers::BATCH)).max(1.0),
        timers::BATCH
    );
    Ok(f)
}

const MIB: f64 = 1024.0 * 1024.0;

fn config_text(url: &str) -> String {
    let mut text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
[database]
url = "{url}"
[[people]]
id = "admin"
name = "管理员"
roles = ["admin"]
[paging]
default_policy = "bench"
default_rules = [{{ channel = "log" }}]
[[paging.channels]]
name = "log"
kind = "log"
[[paging.policies]]
id = "bench"
name = "驻场 → 二线 → 厂商"
"#
    );
    for (id, _, timeout) in TIERS {
        text.push_str(&format!(
            "[[paging.policies.tiers]]\ntargets = [\"person:{id}\"]\nack_timeout = \"{timeout}\"\n"
        ));
    }
    for (id, name, _) in TIERS {
        text.push_str(&format!("[[people]]\nid = \"{id}\"\nname = \"{name}\"\nroles = [\"engineer\"]\n"));
    }
    text
}

/// A distinct fault per incident, with no system (no correlation) and no reporter (no audit).
fn report(i: u32) -> Report {
    Report {
        source: "bench".into(),
        fingerprint: format!("escalation-{i}"),
        occurrence_id: None,
        resolved: false,
        title: format!("基准测试：待升级的故障 {i}"),
        description: String::new(),
        severity: Severity::Three,
        reasons: Vec::new(),
        system: None,
        unit: None,
        labels: Default::default(),
        link: None,
        reporter: None,
    }
}

/// A service as `serve` builds it.
fn engine(
    config: &Arc<Config>,
    store: SharedStore,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(Arc<IncidentService>, Wakeups)> {
    let messages = Arc::new(Messages::load(config.server.language, config.server.timezone.clone())?);
    let wakeups = Wakeups::default();
    let service = Arc::new(IncidentService::new(
        store,
        clock,
        config.clone(),
        messages,
        Arc::new(Metrics::default()),
        wakeups.clone(),
    ));
    Ok((service, wakeups))
}

/// The system clock moved by a constant: lateness measured on it is real lateness.
struct ShiftedClock {
    offset_ms: i64,
}

impl Clock for ShiftedClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millisecond(SystemClock.now().as_millisecond() + self.offset_ms)
            .expect("the shifted clock stays within jiff's range")
    }
}

struct TimerLoop {
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl TimerLoop {
    fn start(service: Arc<IncidentService>, wakeups: &Wakeups) -> TimerLoop {
        let cancel = CancellationToken::new();
        let task = tokio::spawn(timers::run(service, wakeups.timers.clone(), POLL, cancel.clone()));
        TimerLoop { cancel, task }
    }

    async fn stop(self) {
        self.cancel.cancel();
        let _ = self.task.await;
    }
}

/// Wait until `clock` has passed `last_due` and no escalation timer due by then is left.
async fn wait_until_fired(
    raw: &Raw,
    clock: &dyn Clock,
    last_due: i64,
    deadline: Instant,
) -> anyhow::Result<()> {
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if clock.now().as_millisecond() > last_due && raw.escalate_due_by(last_due).await? == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{} escalation timers still unfired at the deadline", raw.escalate_due_by(last_due).await?);
        }
    }
}

/// A plain connection to the benchmark's database, for what the store does not offer.
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// Run the same code on either pool.
macro_rules! on_pool {
    ($raw:expr, |$pool:ident| $body:expr) => {
        match $raw {
            Raw::Sqlite($pool) => $body,
            Raw::Postgres($pool) => $body,
        }
    };
}

impl Raw {
    async fn connect(url: &str) -> anyhow::Result<Raw> {
        Ok(if url.starts_with("sqlite:") {
            Raw::Sqlite(sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect(url).await?)
        } else {
            Raw::Postgres(sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(url).await?)
        })
    }

    /// (incident, due) of every pending escalation timer.
    async fn escalate_timers(&self) -> anyhow::Result<Vec<(i64, i64)>> {
        let sql = "SELECT incident_id, due_at FROM timers WHERE kind = 'escalate'";
        Ok(on_pool!(self, |p| sqlx::query_as(sql).fetch_all(p).await?))
    }

    async fn escalate_due_by(&self, at: i64) -> anyhow::Result<i64> {
        let sql = "SELECT COUNT(*) FROM timers WHERE kind = 'escalate' AND due_at <= $1";
        Ok(on_pool!(self, |p| sqlx::query_scalar(sql).bind(at).fetch_one(p).await?))
    }

    /// (incident, when its first page to `person` was created).
    async fn first_page_at(&self, person: &str) -> anyhow::Result<Vec<(i64, i64)>> {
        let sql = "SELECT incident_id, MIN(created_at) FROM pages WHERE person = $1 GROUP BY incident_id";
        Ok(on_pool!(self, |p| sqlx::query_as(sql).bind(person).fetch_all(p).await?))
    }

    async fn db_bytes(&self) -> anyhow::Result<i64> {
        Ok(match self {
            Raw::Sqlite(p) => {
                sqlx::query_scalar(
                    "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                )
                .fetch_one(p)
                .await?
            }
            Raw::Postgres(p) => {
                sqlx::query_scalar("SELECT pg_database_size(current_database())").fetch_one(p).await?
            }
        })
    }

    async fn timer_bytes(&self) -> Option<i64> {
        let bytes: Result<Option<i64>, sqlx::Error> = match self {
            Raw::Sqlite(p) => {
                sqlx::query_scalar(
                    "SELECT SUM(pgsize) FROM dbstat WHERE name IN \
                     ('timers', 'timers_due_at', 'sqlite_autoindex_timers_1')",
                )
                .fetch_one(p)
                .await
            }
            Raw::Postgres(p) => {
                sqlx::query_scalar("SELECT pg_total_relation_size('timers')").fetch_one(p).await
            }
        };
        bytes.ok().flatten()
    }
}

fn fmt_ms(ms: f64) -> String {
    if ms >= 1000.0 { format!("{:.2} s", ms / 1000.0) } else { format!("{ms:.0} ms") }
}

/// What the figures were measured on.
fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!("{cpus} CPUs ({model})")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small run on SQLite: the benchmark keeps compiling and working. No timing is asserted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_run_reports_every_figure() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let args = EscalationArgs {
            backend: "sqlite".into(),
            postgres_url: String::new(),
            incidents: 200,
            window: 1,
            load_batch: 20,
        };
        let f = measure(&args, &url).await.unwrap();
        assert_eq!(f.incidents, 200);
        assert_eq!(f.lags_ms.len(), 200);
        assert_eq!(f.overdue, 200);
        assert!(f.lags_ms[0] >= 0, "no timer fires early: {:?}", &f.lags_ms[..5]);
        assert!(f.lag_ms(0.5) <= f.lag_ms(0.99));
        assert!(f.timer_bytes.is_some_and(|b| b > 0));
        assert!(f.db_bytes_loaded > f.db_bytes_before);
        assert!(f.armed >= f.open && f.drained >= f.armed);
    }
}
