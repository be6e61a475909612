//! Running drills (应急演练): announce to the plan's channels, open the simulated incident through
//! the real intake (marked 【演练】, paged by the plan's own policy), pause, resume and stop it,
//! start scheduled drills, and when a run ends post its record: the timeline, who acknowledged
//! and arrived when, each objective met or missed, the notes people added, the evaluation.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use minijinja::context;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::classify::Report;
use super::incidents::{ActError, IncidentService};
use super::timers::sleep_or_cancel;
use crate::domain::cron::CronSchedule;
use crate::domain::drill::{
    DRILL_LABEL, DrillPlan, DrillRun, Evaluation, Moments, ObjectiveResult, PLAN_LABEL, RUN_LABEL, RunStatus,
    evaluate,
};
use crate::domain::{Action, Actor, Channel, EventKind, Incident, PersonId, TimelineEntry};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error("no drill plan '{0}'")]
    UnknownPlan(String),
    #[error("drill plan '{0}' is running already (run {1})")]
    AlreadyRunning(String, i64),
    #[error("no drill is running")]
    NoneRunning,
    #[error("several drills are running ({0}); name the plan")]
    Ambiguous(String),
    #[error("drill run {0} is {1}, it cannot be {2}")]
    NotAllowed(i64, &'static str, &'static str),
    #[error("only the drill lead or an admin may evaluate a drill")]
    NotLead,
    #[error(transparent)]
    Act(#[from] ActError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A plan by id or by name as people type it.
pub fn find_plan(service: &IncidentService, text: &str) -> Option<std::sync::Arc<DrillPlan>> {
    let drills = &service.config().drills;
    let t = text.trim();
    drills
        .get(t)
        .or_else(|| drills.all().into_iter().find(|p| p.name == t || p.scenario == t || p.name.contains(t)))
}

/// Put the plans edited through the API over the configured ones (at start, and on every round
/// of the drill loop, so an edit on one instance reaches the others).
pub async fn reload(service: &IncidentService) -> Result<(), StoreError> {
    for (id, body) in service.store().drill_plans().await? {
        let plan = serde_json::from_str::<serde_json::Value>(&body)
            .map_err(|e| vec![e.to_string()])
            .and_then(|value| crate::config::drill::plan_from_json(service.config(), &id, &value));
        match plan {
            Ok(plan) => {
                if service.config().drills.get(&id).as_deref() != Some(&plan) {
                    service.config().drills.set(plan);
                }
            }
            // The catalogue changed under it (a person removed): the last good version stays.
            Err(problems) => {
                warn!(plan = %id, "a stored drill plan no longer fits the configuration: {}", problems.join("; "))
            }
        }
    }
    Ok(())
}

/// Create or change a plan through the API: checked like the configuration file, stored, and in
/// force at once. Errors are `key: reason` lines.
pub async fn save_plan(
    service: &IncidentService,
    id: &str,
    body: &serde_json::Value,
    by: &PersonId,
) -> Result<std::sync::Arc<DrillPlan>, Result<Vec<String>, StoreError>> {
    if !crate::config::catalogue::valid_id(id) {
        return Err(Ok(vec![format!("id: '{id}' is not an id (letters, digits, - and _)")]));
    }
    let plan = crate::config::drill::plan_from_json(service.config(), id, body).map_err(Ok)?;
    service.store().save_drill_plan(id, &body.to_string(), &by.0, service.now()).await.map_err(Err)?;
    service.config().drills.set(plan);
    Ok(service.config().drills.get(id).expect("just set"))
}

/// The one live run (of `plan`, when named).
pub async fn live_run(service: &IncidentService, plan: Option<&str>) -> Result<DrillRun, DrillError> {
    let plan_id = match plan {
        Some(p) => {
            Some(find_plan(service, p).ok_or_else(|| DrillError::UnknownPlan(p.to_string()))?.id.clone())
        }
        None => None,
    };
    let runs: Vec<DrillRun> = service
        .store()
        .live_drill_runs()
        .await?
        .into_iter()
        .filter(|r| plan_id.as_ref().is_none_or(|p| &r.plan == p))
        .collect();
    match runs.as_slice() {
        [] => Err(DrillError::NoneRunning),
        [one] => Ok(one.clone()),
        many => {
            Err(DrillError::Ambiguous(many.iter().map(|r| r.plan.clone()).collect::<Vec<_>>().join(", ")))
        }
    }
}

/// Start a drill now (by hand: 演练 开始, `zhiban drill start`, the API).
pub async fn start(service: &IncidentService, plan_text: &str, by: &str) -> Result<DrillRun, DrillError> {
    let plan = find_plan(service, plan_text).ok_or_else(|| DrillError::UnknownPlan(plan_text.to_string()))?;
    if let Some(run) = service.store().live_drill_runs().await?.into_iter().find(|r| r.plan == plan.id) {
        return Err(DrillError::AlreadyRunning(plan.id.clone(), run.id));
    }
    let now = service.now();
    let run = service
        .store()
        .create_drill_run(&plan.id, by, now, now)
        .await?
        .ok_or_else(|| DrillError::AlreadyRunning(plan.id.clone(), 0))?;
    announce(service, &plan, &run).await?;
    open(service, &plan, run).await
}

/// Tell the plan's channels that a drill is about to start.
async fn announce(service: &IncidentService, plan: &DrillPlan, run: &DrillRun) -> Result<(), StoreError> {
    let m = service.messages();
    let text = m.drill(
        "announce",
        context! {
            name => &plan.name,
            scenario => &plan.scenario,
            starts_at => run.starts_at.to_string(),
            objectives => objective_lines(service, plan),
        },
    );
    post(service, plan, &format!("drill:{}:announce", run.id), text).await
}

/// A text to every channel of the plan.
async fn post(
    service: &IncidentService,
    plan: &DrillPlan,
    key: &str,
    text: String,
) -> Result<(), StoreError> {
    crate::chat::channels::post(service, &plan.channels, key, text, Vec::new(), None).await
}

fn objective_lines(service: &IncidentService, plan: &DrillPlan) -> Vec<String> {
    let m = service.messages();
    plan.objectives
        .iter()
        .map(|o| {
            m.drill(&format!("objective_{}", o.kind.as_str()), context! { within => span(service, o.within) })
        })
        .collect()
}

/// A duration as people read it (`5分钟`, `1小时30分`).
fn span(service: &IncidentService, d: jiff::SignedDuration) -> String {
    crate::chat::cards::elapsed(d, service.config().server.language)
}

/// Open the run's incident through intake.
async fn open(service: &IncidentService, plan: &DrillPlan, run: DrillRun) -> Result<DrillRun, DrillError> {
    let sim = &plan.incident;
    let labels = BTreeMap::from([
        (DRILL_LABEL.to_string(), "true".to_string()),
        (PLAN_LABEL.to_string(), plan.id.clone()),
        (RUN_LABEL.to_string(), run.id.to_string()),
    ]);
    let report = Report {
        source: "drill".into(),
        fingerprint: format!("drill:{}", run.id),
        occurrence_id: Some(format!("drill-run:{}", run.id)),
        resolved: false,
        title: sim.title.clone(),
        description: sim.text.clone(),
        severity: sim.severity,
        reasons: vec![
            service.messages().drill("reason", context! { name => &plan.name, scenario => &plan.scenario }),
        ],
        system: sim.system.clone(),
        unit: sim.unit.clone(),
        labels,
        link: None,
        reporter: None,
    };
    let outcome = service.ingest(&[report]).await?.remove(0);
    let incident = outcome.incident;
    service
        .store()
        .set_drill_status(run.id, &[RunStatus::Announced], RunStatus::Running, incident, None)
        .await?;
    info!(run = run.id, plan = %plan.id, "drill started");
    Ok(service.store().drill_run(run.id).await?.unwrap_or(run))
}

/// 演练 暂停: hold its paging.
pub async fn pause(service: &IncidentService, run: &DrillRun, actor: Actor) -> Result<DrillRun, DrillError> {
    if run.status != RunStatus::Running {
        return Err(DrillError::NotAllowed(run.id, run.status.as_str(), "paused"));
    }
    if let Some(incident) = incident_of(service, run).await? {
        let reason = service.messages().drill("paused_reason", context! {});
        match service.act(incident.ticket, Action::HoldPaging { reason }, actor, Channel::Api).await {
            // Nothing left to hold (acknowledged already): the run is paused all the same.
            Ok(_) | Err(ActError::Transition(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    service.store().set_drill_status(run.id, &[RunStatus::Running], RunStatus::Paused, None, None).await?;
    Ok(service.store().drill_run(run.id).await?.unwrap_or_else(|| run.clone()))
}

/// 演练 继续.
pub async fn resume(service: &IncidentService, run: &DrillRun, actor: Actor) -> Result<DrillRun, DrillError> {
    if run.status != RunStatus::Paused {
        return Err(DrillError::NotAllowed(run.id, run.status.as_str(), "resumed"));
    }
    if let Some(incident) = incident_of(service, run).await? {
        match service.act(incident.ticket, Action::ResumePaging, actor, Channel::Api).await {
            Ok(_) | Err(ActError::Transition(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    service.store().set_drill_status(run.id, &[RunStatus::Paused], RunStatus::Running, None, None).await?;
    Ok(service.store().drill_run(run.id).await?.unwrap_or_else(|| run.clone()))
}

/// 演练 结束: close the drill's incident (every pending page stops) and post the record.
pub async fn stop(service: &IncidentService, run: &DrillRun, actor: Actor) -> Result<DrillRun, DrillError> {
    if !run.status.is_live() {
        return Err(DrillError::NotAllowed(run.id, run.status.as_str(), "stopped"));
    }
    let restored = match incident_of(service, run).await? {
        Some(incident) if incident.status.is_open() => {
            let reason = service.messages().drill("stopped_reason", context! {});
            match service.act(incident.ticket, Action::Cancel { reason }, actor, Channel::Api).await {
                Ok(_) | Err(ActError::Transition(_)) => {}
                Err(e) => return Err(e.into()),
            }
            false
        }
        Some(incident) => incident.resolved_at.is_some(),
        None => false,
    };
    let to = if restored { RunStatus::Finished } else { RunStatus::Stopped };
    service
        .store()
        .set_drill_status(
            run.id,
            &[RunStatus::Announced, RunStatus::Running, RunStatus::Paused],
            to,
            None,
            Some(service.now()),
        )
        .await?;
    let run = service.store().drill_run(run.id).await?.unwrap_or_else(|| run.clone());
    post_report(service, &run).await?;
    Ok(run)
}

/// 演练 评估: the lead's (or an admin's) evaluation, added to the record.
pub async fn evaluate_run(
    service: &IncidentService,
    run: &DrillRun,
    by: &PersonId,
    text: &str,
) -> Result<DrillRun, DrillError> {
    let plan =
        service.config().drills.get(&run.plan).ok_or_else(|| DrillError::UnknownPlan(run.plan.clone()))?;
    let admin =
        service.config().catalogue.person(&by.0).is_some_and(|p| p.may(crate::config::Permission::Admin));
    if plan.lead.as_ref() != Some(by) && !admin {
        return Err(DrillError::NotLead);
    }
    let evaluation = Evaluation { by: by.clone(), at: service.now(), text: text.trim().to_string() };
    service.store().evaluate_drill_run(run.id, &evaluation).await?;
    Ok(service.store().drill_run(run.id).await?.unwrap_or_else(|| run.clone()))
}

async fn incident_of(service: &IncidentService, run: &DrillRun) -> Result<Option<Incident>, StoreError> {
    match run.incident {
        Some(id) => service.store().incident(id).await,
        None => Ok(None),
    }
}

/// A run's record (演练记录).
#[derive(Debug, Clone, Serialize)]
pub struct DrillRecord {
    pub run: DrillRun,
    pub plan_name: String,
    pub scenario: String,
    pub ticket: Option<String>,
    pub objectives: Vec<ObjectiveResult>,
    /// Who acknowledged, arrived, restored — and when.
    pub steps: Vec<RecordStep>,
    /// What participants wrote (进展 …).
    pub notes: Vec<RecordStep>,
    pub timeline: Vec<RecordStep>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecordStep {
    pub at: Timestamp,
    pub who: String,
    pub text: String,
}

pub async fn record(service: &IncidentService, run: &DrillRun) -> Result<DrillRecord, StoreError> {
    let plan = service.config().drills.get(&run.plan);
    let mut moments = Moments::default();
    let (mut steps, mut notes, mut timeline_out) = (Vec::new(), Vec::new(), Vec::new());
    let mut ticket = None;
    if let Some(incident) = incident_of(service, run).await?
        && let Some((incident, timeline)) = service.store().incident_with_timeline(incident.ticket).await?
    {
        ticket = Some(incident.ticket.to_string());
        moments.opened = Some(incident.created_at);
        let url = service.incident_url(incident.ticket);
        for entry in &timeline {
            let who = service.actor_name(&entry.actor);
            let step = |text: String| RecordStep { at: entry.at, who: who.clone(), text };
            match &entry.event {
                EventKind::Acknowledged => {
                    moments.acknowledged.get_or_insert(entry.at);
                    steps.push(step(service.messages().drill("step_acknowledged", context! {})));
                }
                EventKind::ArrivedOnSite => {
                    moments.on_site.get_or_insert(entry.at);
                    steps.push(step(service.messages().drill("step_on_site", context! {})));
                }
                EventKind::Resolved { .. } => {
                    moments.restored.get_or_insert(entry.at);
                    steps.push(step(service.messages().drill("step_restored", context! {})));
                }
                EventKind::Commented { text } => notes.push(step(text.clone())),
                _ => {}
            }
            timeline_out.push(step(event_text(service, &incident, entry, &url)));
        }
    }
    Ok(DrillRecord {
        objectives: plan.as_ref().map(|p| evaluate(&p.objectives, &moments)).unwrap_or_default(),
        plan_name: plan.as_ref().map(|p| p.name.clone()).unwrap_or_else(|| run.plan.clone()),
        scenario: plan.as_ref().map(|p| p.scenario.clone()).unwrap_or_default(),
        run: run.clone(),
        ticket,
        steps,
        notes,
        timeline: timeline_out,
    })
}

fn event_text(service: &IncidentService, incident: &Incident, entry: &TimelineEntry, url: &str) -> String {
    service.messages().event_text(
        incident,
        service.system_name(incident),
        url,
        &entry.event,
        &service.actor_name(&entry.actor),
        &service.event_people(&entry.event),
    )
}

/// The record as Markdown or HTML, from the catalogue's templates.
pub fn render(service: &IncidentService, record: &DrillRecord, html: bool) -> String {
    let m = service.messages();
    let objectives: Vec<minijinja::Value> = record
        .objectives
        .iter()
        .map(|o| {
            context! {
                name => m.drill(&format!("objective_{}", o.kind.as_str()), context! { within => span(service, o.within) }),
                took => o.took.map(|t| span(service, t)),
                met => o.met,
            }
        })
        .collect();
    let who = |p: &PersonId| service.person_name(p);
    m.drill(
        if html { "report_html" } else { "report_md" },
        context! {
            name => &record.plan_name,
            scenario => &record.scenario,
            run => record.run.id,
            status => m.drill(&format!("status_{}", record.run.status.as_str()), context! {}),
            ticket => &record.ticket,
            started_at => record.run.starts_at.to_string(),
            ended_at => record.run.ended_at.map(|t| t.to_string()),
            objectives,
            steps => minijinja::Value::from(minijinja::value::Serde(&record.steps)),
            notes => minijinja::Value::from(minijinja::value::Serde(&record.notes)),
            timeline => minijinja::Value::from(minijinja::value::Serde(&record.timeline)),
            evaluation => record.run.evaluation.as_ref().map(|e| context! { by => who(&e.by), at => e.at.to_string(), text => &e.text }),
        },
    )
}

/// Post the record to the plan's channels, once per run.
pub async fn post_report(service: &IncidentService, run: &DrillRun) -> Result<(), StoreError> {
    let Some(plan) = service.config().drills.get(&run.plan) else { return Ok(()) };
    // Posted before it is marked: the outbox key makes a second post of the same run a no-op, so a
    // failure in between repeats nothing and loses nothing.
    let record = record(service, run).await?;
    let text = render(service, &record, false);
    post(service, &plan, &format!("drill:{}:report", run.id), text).await?;
    service.store().claim_drill_report(run.id, service.now()).await?;
    Ok(())
}

/// The drill loop: starts scheduled drills (announcing them ahead), opens announced runs when
/// their time comes, and ends runs whose incident was restored or closed, posting their record.
/// Every step is idempotent across instances (a run per plan and start instant; one report per
/// run), so each instance may run it.
pub async fn run(service: std::sync::Arc<IncidentService>, poll: Duration, cancel: CancellationToken) {
    // The stored plans are read again only when they changed (an edit on another instance).
    let mut seen = None;
    loop {
        match service.store().drill_plans_version().await {
            Ok(version) if seen != Some(version) => match reload(&service).await {
                Ok(()) => seen = Some(version),
                Err(e) => warn!("reloading drill plans failed: {e}"),
            },
            Ok(_) => {}
            Err(e) => warn!("reading the drill plans' version failed: {e}"),
        }
        if let Err(e) = tick(&service).await {
            warn!("the drill loop failed a round: {e}");
        }
        if sleep_or_cancel(poll.max(Duration::from_millis(200)), &cancel).await {
            return;
        }
    }
}

pub async fn tick(service: &IncidentService) -> Result<(), DrillError> {
    let now = service.now();
    let tz = service.config().server.timezone.clone();
    for plan in service.config().drills.all() {
        let Some(expr) = &plan.schedule else { continue };
        let Ok(cron) = CronSchedule::parse(expr, tz.clone()) else { continue };
        // The next start after the last one (or after now, for a plan never run): announce it
        // when its announcement time has come.
        let after = service.store().last_drill_start(&plan.id).await?.unwrap_or(now - plan.announce_before);
        let Some(starts_at) =
            cron.next_after(after.max(now - plan.announce_before - jiff::SignedDuration::from_secs(1)))
        else {
            continue;
        };
        if starts_at - plan.announce_before > now {
            continue;
        }
        if let Some(run) = service.store().create_drill_run(&plan.id, "schedule", now, starts_at).await? {
            announce(service, &plan, &run).await?;
        }
    }
    for run in service.store().live_drill_runs().await? {
        let Some(plan) = service.config().drills.get(&run.plan) else { continue };
        match run.status {
            RunStatus::Announced if run.starts_at <= now => {
                open(service, &plan, run).await?;
            }
            RunStatus::Running | RunStatus::Paused => {
                let Some(incident) = incident_of(service, &run).await? else { continue };
                if !incident.status.is_open() {
                    let to =
                        if incident.resolved_at.is_some() { RunStatus::Finished } else { RunStatus::Stopped };
                    service
                        .store()
                        .set_drill_status(
                            run.id,
                            &[RunStatus::Running, RunStatus::Paused],
                            to,
                            None,
                            Some(now),
                        )
                        .await?;
                }
            }
            _ => {}
        }
    }
    // Every ended run's record goes out once, whichever instance ended it and whatever failed.
    for run in service.store().unreported_drill_runs().await? {
        post_report(service, &run).await?;
    }
    Ok(())
}
