//! 交接班: at each shift change of a schedule, the open incidents go to the team's channels and to
//! the incoming engineer. Assignments do not move by themselves — the contract says work in hand
//! stays with the outgoing engineer until handed over (`POST /api/v1/handover`, or 交班 in chat);
//! unacknowledged incidents already page whoever is on call when their escalation next pages.
//!
//! Each shift change is announced once, by whichever instance claims its row first; after an
//! outage only the latest missed change is announced (older ones are stale news).

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info_span, warn};

use super::incidents::IncidentService;
use super::paging::PAGING_SINK;
use super::timers::sleep_or_cancel;
use crate::domain::schedule::Schedule;
use crate::domain::{PersonId, Status};
use crate::messages::{HandoverItem, HandoverView};
use crate::store::{IncidentFilter, NewOutboxMessage, StoreError};

/// The notice name sinks subscribe to (`events = ["handover", …]`).
pub const HANDOVER_EVENT: &str = "handover";
/// Open incidents listed in a notice; the rest are counted.
const LISTED: u32 = 20;
/// Shift changes looked at per schedule and round (a schedule changing more often than this
/// between two rounds is misconfigured; its older changes are skipped).
const MAX_CHANGES: usize = 1000;

pub async fn run(service: Arc<IncidentService>, poll: Duration, cancel: CancellationToken) {
    loop {
        if cancel.is_cancelled() {
            return;
        }
        // Swaps recorded by other instances (none can exist without schedules).
        if !service.config().schedules.is_empty()
            && let Err(e) = super::swaps::reload(&service).await
        {
            warn!("reloading shift swaps failed: {e}");
        }
        let now = service.now();
        let mut wake = now + SignedDuration::try_from(poll).unwrap_or(SignedDuration::from_secs(2));
        for (id, schedule) in service.config().on_call.snapshot().iter() {
            match check(&service, id, schedule, now).await {
                Ok(Some(next)) => wake = wake.min(next),
                Ok(None) => {}
                Err(e) => warn!(schedule = %id, "announcing the shift change failed: {e}"),
            }
        }
        let ms = (wake.as_millisecond() - service.now().as_millisecond()).clamp(10, poll.as_millis() as i64);
        if sleep_or_cancel(Duration::from_millis(ms as u64), &cancel).await {
            return;
        }
    }
}

/// Announce the latest shift change due by `now`, if not yet done; returns the next change.
async fn check(
    service: &IncidentService,
    id: &str,
    schedule: &Schedule,
    now: Timestamp,
) -> Result<Option<Timestamp>, StoreError> {
    let Some(since) = service.store().last_handover(id).await? else {
        // First start: changes before now are history, not news.
        let mut tx = service.store().begin().await?;
        tx.record_handover(id, now, now).await?;
        tx.commit().await?;
        return Ok(schedule.next_handoff_after(now));
    };
    let (mut at, mut due) = (since, None);
    for _ in 0..MAX_CHANGES {
        match schedule.next_handoff_after(at) {
            Some(next) if next <= now => {
                due = Some(next);
                at = next;
            }
            other => {
                if let Some(change) = due {
                    announce(service, id, schedule, change).await?;
                }
                return Ok(other);
            }
        }
    }
    if let Some(change) = due {
        announce(service, id, schedule, change).await?;
    }
    Ok(schedule.next_handoff_after(now))
}

/// Queue the notices of one shift change, once.
pub async fn announce(
    service: &IncidentService,
    id: &str,
    schedule: &Schedule,
    at: Timestamp,
) -> Result<(), StoreError> {
    announce_inner(service, id, schedule, at).instrument(info_span!("handover", schedule = %id, %at)).await
}

async fn announce_inner(
    service: &IncidentService,
    id: &str,
    schedule: &Schedule,
    at: Timestamp,
) -> Result<(), StoreError> {
    let config = service.config();
    let messages = service.messages();
    let open: Vec<Status> = Status::OPEN.to_vec();
    let filter =
        IncidentFilter { statuses: open, limit: LISTED + 1, most_severe_first: true, ..Default::default() };
    let mut incidents = service.store().incidents(&filter).await?;
    let more = if incidents.len() > LISTED as usize {
        incidents.truncate(LISTED as usize);
        // Counted (not loaded) only when the list overflows: the common case costs one query.
        let open_total: i64 = service.store().stats(service.now()).await?.open_by_severity.values().sum();
        usize::try_from(open_total).unwrap_or(0).saturating_sub(LISTED as usize)
    } else {
        0
    };
    let names = |people: Vec<String>| -> Vec<String> {
        people.into_iter().map(|p| service.person_name(&PersonId(p))).collect()
    };
    let incoming_ids = schedule.people_at(at);
    let view = HandoverView {
        schedule: schedule.name().to_string(),
        at,
        outgoing: names(schedule.people_at(at - SignedDuration::from_millis(1))),
        incoming: names(incoming_ids.clone()),
        incidents: incidents
            .iter()
            .map(|i| HandoverItem {
                ticket: i.ticket.to_string(),
                sev: messages.severity(i.severity).to_string(),
                title: i.title.clone(),
                status: messages.status(i.status).to_string(),
                assignee: i.assignee.as_ref().map(|p| service.person_name(p)),
            })
            .collect(),
        more,
    };
    let (subject, text) = messages.handover_text(&view);
    let key = format!("handover:{id}:{}", at.as_millisecond());
    let now = service.now();
    let mut outbox = Vec::new();
    let named = config.handover_sinks.get(id);
    let wanted = |s: &&crate::config::SinkConfig| match named {
        Some(names) => names.contains(&s.name),
        None => s.events.iter().any(|e| e == HANDOVER_EVENT),
    };
    for sink in config.sinks.iter().filter(wanted) {
        outbox.push(NewOutboxMessage {
            idempotency_key: format!("{key}:sink:{}", sink.name),
            incident_id: None,
            sink: sink.name.clone(),
            payload: serde_json::json!({
                "event": HANDOVER_EVENT,
                "schedule": id,
                "at": at,
                "subject": subject,
                "text": text,
            }),
            not_before: now,
        });
    }
    if config.paging.book.is_some() {
        for person in incoming_ids {
            outbox.push(NewOutboxMessage {
                idempotency_key: format!("{key}:person:{person}"),
                incident_id: None,
                sink: PAGING_SINK.to_string(),
                payload: serde_json::json!({ "notice": { "person": person, "subject": subject, "text": text } }),
                not_before: now,
            });
        }
    }
    let mut tx = service.store().begin().await?;
    if !tx.record_handover(id, at, now).await? {
        return Ok(());
    }
    tx.enqueue(&outbox).await?;
    tx.commit().await?;
    service.wake_outbox();
    Ok(())
}
