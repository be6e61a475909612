//! The `zhiban` command line: `serve`, `migrate`, `check-config`, `bench`, `oncall`, `people`.

mod bench;
mod bench_chat;
mod bench_escalation;
mod classify;
mod drill;
mod oncall;
mod people;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::app::{self, StartOptions};
use crate::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "zhiban",
    version,
    about = "值班 — on-call, paging and incident reports for court and procuratorate IT operations"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct ConfigArgs {
    /// The configuration file.
    #[arg(long, short, default_value = "config/zhiban.toml", env = "ZHIBAN_CONFIG")]
    config: PathBuf,
    /// Database URL (sqlite://PATH or postgres://…); overrides `database.url`.
    #[arg(long, env = "ZHIBAN_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: webhooks, API, dashboard and the engine.
    Serve {
        #[command(flatten)]
        config: ConfigArgs,
        /// Address to listen on; overrides `server.listen`.
        #[arg(long, env = "ZHIBAN_LISTEN")]
        listen: Option<std::net::SocketAddr>,
        /// Log as JSON lines (for log collectors).
        #[arg(long, env = "ZHIBAN_LOG_JSON")]
        log_json: bool,
    },
    /// Apply database migrations and exit (serve also does this at start-up).
    Migrate {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Validate a configuration file and report every problem.
    CheckConfig {
        /// The file to check.
        #[arg(default_value = "config/zhiban.toml")]
        file: PathBuf,
    },
    /// The audit log (审计日志): `verify` checks that no record was changed, removed or inserted.
    Audit {
        #[command(subcommand)]
        what: AuditWhat,
    },
    /// Classify a report's text (定级): level, system and reasons.
    Classify(classify::ClassifyArgs),
    /// Benchmarks: webhook intake, the classifier, escalation timers.
    Bench(bench::BenchArgs),
    /// 值班: who is on call now or at a time; export a schedule as iCalendar or CSV.
    Oncall(oncall::OncallArgs),
    /// People: `bind` prints a one-time code that binds a person's IM account.
    People(people::PeopleArgs),
    /// 应急演练: list plans and runs, start a plan, print a run's record.
    Drill(drill::DrillArgs),
}

#[derive(Debug, Subcommand)]
enum AuditWhat {
    /// Check the whole hash chain.
    Verify {
        #[command(flatten)]
        config: ConfigArgs,
    },
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn load(args: &ConfigArgs) -> Result<Config, crate::config::ConfigError> {
    let mut config = Config::load(&args.config, &env_var)?;
    if let Some(url) = &args.database_url {
        config.database_url = url.clone();
    }
    Ok(config)
}

fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_env("ZHIBAN_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("the tokio runtime starts");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("zhiban: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::CheckConfig { file } => match Config::load(&file, &env_var) {
            Ok(config) => {
                println!(
                    "{}: OK — {} units, {} systems, {} people, {} teams, {} schedules, {} escalation policies, paging channels: {}, sources: {}",
                    file.display(),
                    config.catalogue.units.len(),
                    config.catalogue.systems.len(),
                    config.catalogue.people.len(),
                    config.catalogue.teams.len(),
                    config.schedules.len(),
                    config.paging.book.as_ref().map_or(0, |b| b.policies.len()),
                    config.paging.channels.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "),
                    config.sources.keys().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                );
                for warning in &config.warnings {
                    println!("{}: warning: {warning}", file.display());
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprint!("{e}");
                Ok(ExitCode::from(2))
            }
        },
        Command::Migrate { config } => {
            init_logging(false);
            let config = match load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprint!("{e}");
                    return Ok(ExitCode::from(2));
                }
            };
            app::open_store(&config).await?;
            println!("migrations applied to {}", crate::store::redact_url(&config.database_url));
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { config, listen, log_json } => {
            init_logging(log_json);
            let mut config = match load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprint!("{e}");
                    return Ok(ExitCode::from(2));
                }
            };
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            for warning in &config.warnings {
                tracing::warn!("{}: {warning}", config.file.display());
            }
            let running =
                app::start(config, StartOptions::default()).await.context("zhiban could not start")?;
            shutdown_signal().await;
            running.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => bench::run(args).await,
        Command::Classify(args) => classify::run(args),
        Command::Oncall(args) => oncall::run(args).await,
        Command::People(args) => people::run(args).await,
        Command::Drill(args) => drill::run(args).await,
        Command::Audit { what: AuditWhat::Verify { config } } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprint!("{e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let store = app::open_store(&config).await?;
            let mut records = Vec::new();
            loop {
                let page = store
                    .audit_log(records.last().map_or(0, |r: &crate::domain::audit::AuditRecord| r.seq), 1000)
                    .await?;
                if page.is_empty() {
                    break;
                }
                records.extend(page);
            }
            match crate::domain::audit::verify(&records) {
                Ok(n) => {
                    println!("audit log: {n} records, the chain is intact");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("audit log: BROKEN at {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
