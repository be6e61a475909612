//! `zhiban oncall`: who is on call (值班) now or at a time, and schedule exports (iCalendar, CSV).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::config::Config;
use crate::domain::schedule::ical::render_ical;
use crate::domain::schedule::{OnCall, Schedule, Shift, Why, parse_instant};

#[derive(Debug, clap::Args)]
pub struct OncallArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Who is on call now, per schedule.
    Now(Query),
    /// Who is on call at a time: "2026-10-01T09:00" (the server's time zone) or RFC 3339 with an offset.
    At {
        /// The time.
        time: String,
        #[command(flatten)]
        query: Query,
    },
    /// Print a schedule's shifts as iCalendar (to subscribe to) or CSV (for a spreadsheet).
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
struct Query {
    /// Only this schedule (its id); default: every schedule.
    #[arg(long)]
    schedule: Option<String>,
    /// The configuration file.
    #[arg(long, short, default_value = "config/zhiban.toml", env = "ZHIBAN_CONFIG")]
    config: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Ics,
    Csv,
}

#[derive(Debug, clap::Args)]
struct ExportArgs {
    /// The schedule's id.
    #[arg(long)]
    schedule: String,
    /// The first day, YYYY-MM-DD in the schedule's time zone; default: today.
    #[arg(long)]
    from: Option<Date>,
    /// How many days (1 to 366).
    #[arg(long, default_value_t = 31, value_parser = clap::value_parser!(u16).range(1..=366))]
    days: u16,
    /// ics (iCalendar, RFC 5545) or csv.
    #[arg(long, value_enum, default_value_t = Format::Ics)]
    format: Format,
    /// Only this person's shifts (a person id).
    #[arg(long)]
    person: Option<String>,
    /// The configuration file.
    #[arg(long, short, default_value = "config/zhiban.toml", env = "ZHIBAN_CONFIG")]
    config: PathBuf,
}

async fn load(path: &std::path::Path) -> Result<Config, ExitCode> {
    let config = Config::load(path, &|k| std::env::var(k).ok()).map_err(|e| {
        eprint!("{e}");
        ExitCode::from(2)
    })?;
    // Shift swaps recorded at runtime live in the database; show them too when it is there.
    if let Err(e) = merge_swaps(&config).await {
        eprintln!(
            "zhiban: warning: shift swaps recorded at runtime were not read ({e}); showing the configured schedules"
        );
    }
    Ok(config)
}

async fn merge_swaps(config: &Config) -> anyhow::Result<()> {
    let url = std::env::var("ZHIBAN_DATABASE_URL").unwrap_or_else(|_| config.database_url.clone());
    if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        let file = path.split('?').next().unwrap_or(path);
        if !std::path::Path::new(file).exists() {
            // No database yet: nothing was recorded (and a CLI lookup must not create one).
            return Ok(());
        }
    }
    let store = crate::store::connect(&url).await?;
    crate::engine::swaps::load_into(store.as_ref(), &config.on_call, Timestamp::now()).await?;
    Ok(())
}

pub async fn run(args: OncallArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        What::Now(query) => show(&query, None).await,
        What::At { time, query } => show(&query, Some(&time)).await,
        What::Export(export) => export_shifts(&export).await,
    }
}

/// The schedules asked for, or an error naming the ones there are.
fn pick<'c>(
    schedules: &'c BTreeMap<String, Schedule>,
    id: Option<&str>,
) -> Result<Vec<&'c Schedule>, String> {
    match id {
        None => Ok(schedules.values().collect()),
        Some(id) => schedules.get(id).map(|s| vec![s]).ok_or_else(|| {
            let known: Vec<&str> = schedules.keys().map(String::as_str).collect();
            format!(
                "no schedule '{id}' (schedules: {})",
                if known.is_empty() { "none".into() } else { known.join(", ") }
            )
        }),
    }
}

async fn show(query: &Query, time: Option<&str>) -> anyhow::Result<ExitCode> {
    let config = match load(&query.config).await {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let tz = &config.server.timezone;
    let t = match time.map(|text| parse_instant(text, tz)).transpose() {
        Ok(t) => t.unwrap_or_else(Timestamp::now),
        Err(e) => {
            eprintln!("zhiban: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let live = config.on_call.snapshot();
    let schedules = match pick(&live, query.schedule.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("zhiban: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if schedules.is_empty() {
        println!("没有配置值班表（no [[schedules]] in {}）", config.file.display());
    }
    let mut out = std::io::stdout().lock();
    for schedule in schedules {
        let on = schedule.on_call_at(t);
        if on.is_empty() {
            writeln!(out, "{}\t（无人值班）", schedule.name())?;
        }
        for o in &on {
            writeln!(out, "{}", line(&config, schedule, o))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One tab-separated line: schedule, name, phone, why, until (`驻场值班 张伟 138-0013-8001 轮值：工作日白班
/// 至 2026-10-02 08:30`).
fn line(config: &Config, schedule: &Schedule, on: &OnCall) -> String {
    let person = config.catalogue.person(&on.person);
    let name = person.map_or(on.person.as_str(), |p| p.name.as_str());
    let phone = person.and_then(|p| p.phone.as_deref()).unwrap_or("-");
    let until = match on.end {
        Some(end) => format!("至 {}", civil(end, schedule.time_zone())),
        None => "（未排定交班）".to_owned(),
    };
    format!("{}\t{name}\t{phone}\t{}\t{until}", schedule.name(), why_text(config, &on.why))
}

fn civil(t: Timestamp, tz: &TimeZone) -> String {
    tz.to_datetime(t).strftime("%Y-%m-%d %H:%M").to_string()
}

/// Like [`Why`]'s own text, with names instead of ids.
fn why_text(config: &Config, why: &Why) -> String {
    match why {
        Why::Override { replaces: Some(r), reason, .. } => {
            let name = config.catalogue.person(r).map_or(r.as_str(), |p| p.name.as_str());
            match reason {
                Some(reason) => format!("换班（代 {name}）：{reason}"),
                None => format!("换班（代 {name}）"),
            }
        }
        other => other.to_string(),
    }
}

async fn export_shifts(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let config = match load(&args.config).await {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let live = config.on_call.snapshot();
    let schedule = match pick(&live, Some(&args.schedule)) {
        Ok(s) => s[0],
        Err(e) => {
            eprintln!("zhiban: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if let Some(p) = &args.person
        && config.catalogue.person(p).is_none()
    {
        eprintln!("zhiban: no person has the id '{p}'");
        return Ok(ExitCode::from(2));
    }
    let tz = schedule.time_zone();
    let now = Timestamp::now();
    let first = args.from.unwrap_or_else(|| tz.to_datetime(now).date());
    let from = tz.to_timestamp(first.to_datetime(jiff::civil::Time::midnight())).context("the first day")?;
    let until = from
        .checked_add(SignedDuration::from_hours(24 * i64::from(args.days)))
        .context("the last day is out of range")?;
    let shifts = schedule.shifts(from, until);
    let names = |id: &str| config.catalogue.person(id).map_or_else(|| id.to_owned(), |p| p.name.clone());
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Ics => {
            out.write_all(render_ical(schedule, &shifts, &names, args.person.as_deref(), now).as_bytes())?
        }
        Format::Csv => write_csv(&mut out, &config, schedule, &shifts, args.person.as_deref())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// 开始, 结束, 姓名, 电话, 人员, 原因 — times in the schedule's time zone.
fn write_csv(
    out: &mut dyn std::io::Write,
    config: &Config,
    schedule: &Schedule,
    shifts: &[Shift],
    only: Option<&str>,
) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["开始", "结束", "姓名", "电话", "人员", "原因"])?;
    for s in shifts.iter().filter(|s| only.is_none_or(|p| p == s.person)) {
        let person = config.catalogue.person(&s.person);
        w.write_record([
            civil(s.start, schedule.time_zone()),
            civil(s.end, schedule.time_zone()),
            person.map_or_else(|| s.person.clone(), |p| p.name.clone()),
            person.and_then(|p| p.phone.clone()).unwrap_or_default(),
            s.person.clone(),
            why_text(config, &s.why),
        ])?;
    }
    w.flush()?;
    Ok(())
}
