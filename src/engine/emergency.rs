//! Emergency plans for real major incidents (应急预案): when a matching incident opens (or its
//! level is raised), the plan is activated (or offered in its channels with a button); activation
//! calls the emergency group (应急小组) and posts the checklist, whose steps are ticked in chat or
//! through the API (by whom, when); every action is written to the incident's timeline, which is
//! the process record (应急处理过程记录); at the end the evaluation (应急流程评估单) is captured.
//! Counts, causes and durations feed the reports.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use minijinja::context;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use zhiban_integrations::chat::Button;

use super::incidents::{ActError, IncidentService};
use super::timers::sleep_or_cancel;
use crate::domain::emergency::{Emergency, EmergencyEvaluation, EmergencyPlan, EmergencyStatus, FollowUp};
use crate::domain::{Action, Actor, Channel, Incident, PersonId, Status};
use crate::store::{IncidentFilter, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum EmergencyError {
    #[error("no emergency plan '{0}'")]
    UnknownPlan(String),
    #[error("no emergency {0}")]
    Unknown(i64),
    #[error("the plan has no step {0}")]
    UnknownStep(u32),
    #[error("emergency {0} is {1}")]
    NotAllowed(i64, &'static str),
    #[error(transparent)]
    Act(#[from] ActError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn plan_of<'a>(service: &'a IncidentService, e: &Emergency) -> Result<&'a EmergencyPlan, EmergencyError> {
    service.config().emergency_plans.get(&e.plan).ok_or_else(|| EmergencyError::UnknownPlan(e.plan.clone()))
}

/// A text (with buttons) to each of the plan's channels, threaded with the incident.
async fn post(
    service: &IncidentService,
    plan: &EmergencyPlan,
    incident: &Incident,
    key: &str,
    text: String,
    buttons: Vec<Vec<Button>>,
) -> Result<(), StoreError> {
    crate::chat::channels::post(service, &plan.channels, key, text, buttons, Some(incident.id)).await
}

/// Write an action into the process record (the incident's timeline); a finished incident
/// takes no more entries, which is fine for a record written after the fact.
async fn record(
    service: &IncidentService,
    incident: &Incident,
    actor: Actor,
    text: String,
) -> Result<(), EmergencyError> {
    match service.act(incident.ticket, Action::Comment { text }, actor, Channel::Api).await {
        Ok(_) | Err(ActError::Transition(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The checklist as posted, with what is done.
pub fn checklist_text(
    service: &IncidentService,
    plan: &EmergencyPlan,
    e: &Emergency,
    ticket: &str,
) -> String {
    let steps: Vec<minijinja::Value> = plan
        .checklist
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let done = e.steps.iter().find(|s| s.step as usize == i + 1);
            context! {
                n => i + 1,
                text,
                by => done.map(|d| service.person_name(&PersonId(d.by.clone()))),
                at => done.map(|d| d.at.to_string()),
            }
        })
        .collect();
    service.messages().emergency("checklist", context! { name => &plan.name, ticket, steps })
}

/// Buttons for the steps not done yet.
pub fn checklist_buttons(plan: &EmergencyPlan, e: &Emergency) -> Vec<Vec<Button>> {
    plan.checklist
        .iter()
        .enumerate()
        .filter(|(i, _)| !e.steps.iter().any(|s| s.step as usize == i + 1))
        .map(|(i, text)| {
            let label: String = format!("✅ {} {}", i + 1, text).chars().take(30).collect();
            vec![Button { label, data: format!("em:s:{}:{}", e.id, i + 1) }]
        })
        .collect()
}

/// What activation does: call the group, write the record, post the checklist.
async fn activated(
    service: &IncidentService,
    plan: &EmergencyPlan,
    e: &Emergency,
    actor: Actor,
) -> Result<(), EmergencyError> {
    let Some(incident) = service.store().incident(e.incident).await? else { return Ok(()) };
    let m = service.messages();
    if !plan.group.is_empty() {
        let call = Action::CallGroup {
            name: m.emergency("group_name", context! { name => &plan.name }),
            targets: plan.group.clone(),
        };
        match service.act(incident.ticket, call, actor.clone(), Channel::Api).await {
            Ok(_) | Err(ActError::Transition(_)) => {}
            Err(err) => return Err(err.into()),
        }
    }
    let who = service.actor_name(&actor);
    record(service, &incident, actor, m.emergency("activated_record", context! { name => &plan.name, who }))
        .await?;
    let ticket = incident.ticket.to_string();
    post(
        service,
        plan,
        &incident,
        &format!("emergency:{}:checklist", e.id),
        checklist_text(service, plan, e, &ticket),
        checklist_buttons(plan, e),
    )
    .await?;
    info!(emergency = e.id, plan = %plan.id, incident = %incident.ticket, "emergency plan activated");
    Ok(())
}

/// Activate a plan for an incident by hand (API, a leader's decision).
pub async fn activate_for(
    service: &IncidentService,
    incident: &Incident,
    plan_id: &str,
    by: &PersonId,
) -> Result<Emergency, EmergencyError> {
    let plan = service
        .config()
        .emergency_plans
        .get(plan_id)
        .ok_or_else(|| EmergencyError::UnknownPlan(plan_id.into()))?;
    let now = service.now();
    if let Some(existing) =
        service.store().emergencies_of(incident.id).await?.into_iter().find(|e| e.plan == plan.id)
    {
        if existing.status == EmergencyStatus::Offered {
            return activate(service, existing.id, by).await;
        }
        return Ok(existing);
    }
    let e = service
        .store()
        .create_emergency(&plan.id, incident.id, EmergencyStatus::Active, Some(&by.0), now)
        .await?
        .ok_or(EmergencyError::NotAllowed(0, "taken"))?;
    carry_out(service, &e, Actor::Person(by.clone())).await?;
    Ok(e)
}

/// Activate an offered plan (the 启动预案 button, the API).
pub async fn activate(
    service: &IncidentService,
    id: i64,
    by: &PersonId,
) -> Result<Emergency, EmergencyError> {
    let e = service.store().emergency(id).await?.ok_or(EmergencyError::Unknown(id))?;
    plan_of(service, &e)?;
    if !service.store().activate_emergency(id, &by.0, service.now()).await? {
        return Err(EmergencyError::NotAllowed(id, e.status.as_str()));
    }
    let e = service.store().emergency(id).await?.ok_or(EmergencyError::Unknown(id))?;
    carry_out(service, &e, Actor::Person(by.clone())).await?;
    Ok(e)
}

/// A checklist step done; returns the emergency as it is now.
pub async fn step_done(
    service: &IncidentService,
    id: i64,
    step: u32,
    by: &PersonId,
) -> Result<(Emergency, bool), EmergencyError> {
    let e = service.store().emergency(id).await?.ok_or(EmergencyError::Unknown(id))?;
    let plan = plan_of(service, &e)?;
    let Some(text) = plan.checklist.get((step as usize).wrapping_sub(1)) else {
        return Err(EmergencyError::UnknownStep(step));
    };
    if e.status != EmergencyStatus::Active {
        return Err(EmergencyError::NotAllowed(id, e.status.as_str()));
    }
    let newly = service.store().emergency_step_done(id, step, &by.0, service.now()).await?;
    if newly && let Some(incident) = service.store().incident(e.incident).await? {
        let who = service.person_name(by);
        let line = service.messages().emergency("step_record", context! { n => step, text, who });
        record(service, &incident, Actor::Person(by.clone()), line).await?;
    }
    let e = service.store().emergency(id).await?.ok_or(EmergencyError::Unknown(id))?;
    Ok((e, newly))
}

/// 应急流程评估单: end the emergency with its evaluation.
pub async fn end(
    service: &IncidentService,
    id: i64,
    by: &PersonId,
    objectives_met: bool,
    follow_up: FollowUp,
    text: &str,
) -> Result<Emergency, EmergencyError> {
    let e = service.store().emergency(id).await?.ok_or(EmergencyError::Unknown(id))?;
    let evaluation = EmergencyEvaluation {
        by: by.clone(),
        at: service.now(),
        objectives_met,
        follow_up,
        text: text.trim().to_string(),
    };
    if !service.store().end_emergency(id, &evaluation).await? {
        return Err(EmergencyError::NotAllowed(id, e.status.as_str()));
    }
    if let Some(incident) = service.store().incident(e.incident).await? {
        let m = service.messages();
        let line = m.emergency(
            "ended_record",
            context! {
                met => objectives_met,
                follow_up => m.emergency(&format!("follow_up_{}", follow_up_key(follow_up)), context! {}),
                text => &evaluation.text,
            },
        );
        record(service, &incident, Actor::Person(by.clone()), line).await?;
    }
    service.store().emergency(id).await?.ok_or(EmergencyError::Unknown(id))
}

pub fn follow_up_key(f: FollowUp) -> &'static str {
    match f {
        FollowUp::None => "none",
        FollowUp::Problem => "problem",
        FollowUp::Change => "change",
    }
}

/// Counts for the monthly and quarterly reports: how many emergencies, of which plans, for
/// which systems (causes), how long they took, objectives met and what followed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EmergencyStats {
    pub activations: usize,
    pub by_plan: BTreeMap<String, usize>,
    pub by_system: BTreeMap<String, usize>,
    /// From activation to the incident's recovery, for those recovered.
    pub durations_minutes: Vec<i64>,
    pub objectives_met: usize,
    pub evaluated: usize,
    pub problems: usize,
    pub changes: usize,
}

pub async fn stats(
    service: &IncidentService,
    from: Timestamp,
    until: Timestamp,
) -> Result<EmergencyStats, StoreError> {
    let mut s = EmergencyStats::default();
    for e in service.store().emergencies_between(from, until).await? {
        s.activations += 1;
        *s.by_plan.entry(e.plan.clone()).or_default() += 1;
        if let Some(incident) = service.store().incident(e.incident).await? {
            let system = service.system_name(&incident).unwrap_or("—").to_string();
            *s.by_system.entry(system).or_default() += 1;
            if let (Some(start), Some(end)) = (e.activated_at, incident.resolved_at) {
                s.durations_minutes.push(end.duration_since(start).as_mins());
            }
        }
        if let Some(ev) = &e.evaluation {
            s.evaluated += 1;
            s.objectives_met += usize::from(ev.objectives_met);
            s.problems += usize::from(ev.follow_up == FollowUp::Problem);
            s.changes += usize::from(ev.follow_up == FollowUp::Change);
        }
    }
    Ok(s)
}

/// Look for open incidents that a plan matches and have not had it yet: activate (auto) or
/// offer; then carry out what was decided and not yet done (after a crash or a failure).
pub async fn tick(service: &IncidentService) -> Result<(), EmergencyError> {
    let plans = &service.config().emergency_plans;
    if plans.is_empty() {
        return Ok(());
    }
    // Only the levels some plan is for (一级, usually): the loop runs every poll interval.
    let mut severities: Vec<_> = plans.values().flat_map(|p| p.levels.iter().copied()).collect();
    severities.sort();
    severities.dedup();
    let filter = IncidentFilter {
        statuses: Status::OPEN.to_vec(),
        severities,
        limit: 200,
        ..IncidentFilter::default()
    };
    for incident in service.store().incidents(&filter).await? {
        let matching: Vec<&EmergencyPlan> = plans.values().filter(|p| p.matches(&incident)).collect();
        if matching.is_empty() {
            continue;
        }
        let known = service.store().emergencies_of(incident.id).await?;
        for plan in matching {
            if known.iter().any(|e| e.plan == plan.id) {
                continue;
            }
            let status = if plan.auto { EmergencyStatus::Active } else { EmergencyStatus::Offered };
            service.store().create_emergency(&plan.id, incident.id, status, None, service.now()).await?;
        }
    }
    for e in service.store().unposted_emergencies().await? {
        let actor = match &e.activated_by {
            Some(by) => Actor::Person(PersonId(by.clone())),
            None => Actor::System,
        };
        carry_out(service, &e, actor).await?;
    }
    Ok(())
}

/// Do what an emergency's state asks once: an offer is posted with its button; an activation
/// calls the group and posts the checklist. Marked done afterwards, so a failure in between is
/// carried out again by the next round (posts are keyed and never repeat).
async fn carry_out(service: &IncidentService, e: &Emergency, actor: Actor) -> Result<(), EmergencyError> {
    let plan = plan_of(service, e)?;
    match e.status {
        EmergencyStatus::Active => activated(service, plan, e, actor).await?,
        EmergencyStatus::Offered => {
            let Some(incident) = service.store().incident(e.incident).await? else { return Ok(()) };
            let m = service.messages();
            let text = m.emergency(
                "offer",
                context! { name => &plan.name, ticket => incident.ticket.to_string(), title => &incident.title },
            );
            let button =
                Button { label: m.emergency("button_activate", context! {}), data: format!("em:a:{}", e.id) };
            post(service, plan, &incident, &format!("emergency:{}:offer", e.id), text, vec![vec![button]])
                .await?;
        }
        EmergencyStatus::Ended => {}
    }
    service.store().emergency_posted(e.id, service.now()).await?;
    Ok(())
}

pub async fn run(service: std::sync::Arc<IncidentService>, poll: Duration, cancel: CancellationToken) {
    loop {
        if let Err(e) = tick(&service).await {
            warn!("the emergency plan loop failed a round: {e}");
        }
        if sleep_or_cancel(poll.max(Duration::from_millis(200)), &cancel).await {
            return;
        }
    }
}
