//! `zhiban drill list | start PLAN | report RUN`: drills from the command line, against the same
//! database as the server (which delivers the announcements and pages the CLI queues).

use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;

use super::{ConfigArgs, load};
use crate::engine::drills;
use crate::engine::{IncidentService, SystemClock, Wakeups};
use crate::messages::Messages;
use crate::metrics::Metrics;

#[derive(Debug, clap::Args)]
pub struct DrillArgs {
    #[command(subcommand)]
    what: DrillWhat,
}

#[derive(Debug, Subcommand)]
enum DrillWhat {
    /// The plans and the latest runs.
    List {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Start a plan now (by id or name).
    Start {
        plan: String,
        /// Who starts it (a person's id, for the record).
        #[arg(long, default_value = "cli")]
        by: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// A run's record, as Markdown (default) or HTML.
    Report {
        run: i64,
        #[arg(long, default_value = "md")]
        format: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

pub async fn run(args: DrillArgs) -> anyhow::Result<ExitCode> {
    let config_args = match &args.what {
        DrillWhat::List { config } | DrillWhat::Start { config, .. } | DrillWhat::Report { config, .. } => {
            config
        }
    };
    let config = match load(config_args) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let config = Arc::new(config);
    let store = crate::app::open_store(&config).await?;
    let messages = Arc::new(Messages::load(config.server.language, config.server.timezone.clone())?);
    let service = IncidentService::new(
        store,
        Arc::new(SystemClock),
        config.clone(),
        messages,
        Arc::new(Metrics::default()),
        Wakeups::default(),
    );
    drills::reload(&service).await?;
    match args.what {
        DrillWhat::List { .. } => {
            for plan in config.drills.all() {
                println!("{}\t{}\t{}", plan.id, plan.name, plan.schedule.as_deref().unwrap_or("-"));
            }
            for run in service.store().drill_runs(20).await? {
                println!("run {}\t{}\t{}\t{}", run.id, run.plan, run.status.as_str(), run.starts_at);
            }
            Ok(ExitCode::SUCCESS)
        }
        DrillWhat::Start { plan, by, .. } => match drills::start(&service, &plan, &by).await {
            Ok(run) => {
                println!(
                    "drill run {} of '{}' started; the server announces it and pages the participants",
                    run.id, run.plan
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("zhiban: {e}");
                Ok(ExitCode::from(2))
            }
        },
        DrillWhat::Report { run, format, .. } => {
            let Some(run) = service.store().drill_run(run).await? else {
                eprintln!("zhiban: no drill run {run}");
                return Ok(ExitCode::from(2));
            };
            let record = drills::record(&service, &run).await?;
            print!("{}", drills::render(&service, &record, format == "html"));
            Ok(ExitCode::SUCCESS)
        }
    }
}
