//! The incident service: applies the domain's decisions durably. Each public operation is one
//! write transaction: load, decide (pure domain code), persist the incident and every effect —
//! timeline entries, timers, dedup keys and the outbox messages that announce the change.

use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::Notify;
use tracing::{Instrument, debug, info_span};

use super::classify::Report;
use super::clock::Clock;
use crate::config::Config;
use crate::domain::{
    Action, Actor, Channel, Context, DedupKey, Effect, Incident, IncidentId, NewIncident, TicketNo,
    TimelineEntry, TransitionError,
};
use crate::messages::Messages;
use crate::metrics::Metrics;
use crate::store::{DedupClaim, NewOutboxMessage, Receipt, SharedStore, StoreError, Tx};

/// What intake did with one report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// A new incident was opened.
    Created,
    /// Joined the open incident of the same fault.
    Attached,
    /// The fault came back before the resolved incident was closed: it is open again.
    Reopened,
    /// The sender reported recovery; the incident is resolved.
    Resolved,
    /// This exact delivery was taken before; nothing changed.
    Duplicate,
    /// A recovery for a fault with no open incident (or one already resolved): nothing to do.
    Ignored,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Created => "created",
            Disposition::Attached => "attached",
            Disposition::Reopened => "reopened",
            Disposition::Resolved => "resolved",
            Disposition::Duplicate => "duplicate",
            Disposition::Ignored => "ignored",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngestOutcome {
    pub disposition: Disposition,
    pub ticket: Option<TicketNo>,
    #[serde(skip)]
    pub incident: Option<IncidentId>,
}

impl IngestOutcome {
    fn of(disposition: Disposition, incident: Option<&Incident>) -> IngestOutcome {
        IngestOutcome { disposition, ticket: incident.map(|i| i.ticket), incident: incident.map(|i| i.id) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ActError {
    #[error("no incident {0}")]
    NotFound(TicketNo),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Wakes the loops that act on new rows, so a new timer or message is not left for the next poll.
#[derive(Debug, Default, Clone)]
pub struct Wakeups {
    pub timers: Arc<Notify>,
    pub outbox: Arc<Notify>,
}

pub struct IncidentService {
    store: SharedStore,
    clock: Arc<dyn Clock>,
    config: Arc<Config>,
    messages: Arc<Messages>,
    metrics: Arc<Metrics>,
    wakeups: Wakeups,
}

/// What a transaction touched, to wake the right loops after the commit.
#[derive(Default)]
struct Touched {
    timers: bool,
    outbox: bool,
}

impl IncidentService {
    pub fn new(
        store: SharedStore,
        clock: Arc<dyn Clock>,
        config: Arc<Config>,
        messages: Arc<Messages>,
        metrics: Arc<Metrics>,
        wakeups: Wakeups,
    ) -> IncidentService {
        IncidentService { store, clock, config, messages, metrics, wakeups }
    }

    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn incident_url(&self, ticket: TicketNo) -> String {
        format!("{}/incidents/{ticket}", self.config.server.public_url)
    }

    /// Take a batch of reports in one transaction (group commit). All or nothing.
    pub async fn ingest(&self, reports: &[Report]) -> Result<Vec<IngestOutcome>, StoreError> {
        let now = self.clock.now();
        let mut tx = self.store.begin_intake().await?;
        let mut touched = Touched::default();
        let mut outcomes = Vec::with_capacity(reports.len());
        for report in reports {
            outcomes.push(self.ingest_one(tx.as_mut(), report, now, &mut touched).await?);
        }
        tx.commit().await?;
        self.wake(touched);
        Ok(outcomes)
    }

    async fn ingest_one(
        &self,
        tx: &mut dyn Tx,
        report: &Report,
        now: Timestamp,
        touched: &mut Touched,
    ) -> Result<IngestOutcome, StoreError> {
        if let Some(occurrence) = &report.occurrence_id
            && let Receipt::Seen(incident) = tx.record_receipt(&report.source, occurrence, now).await?
        {
            let incident = match incident {
                Some(id) => Some(tx.lock_incident(id).await?),
                None => None,
            };
            return Ok(IngestOutcome::of(Disposition::Duplicate, incident.as_ref()));
        }
        let key = DedupKey::new(&report.source, &report.fingerprint);
        let ctx = Context { at: now, actor: Actor::Source(report.source.clone()), channel: Channel::Webhook };
        let outcome = if report.resolved {
            self.recover(tx, &key, &ctx, touched).await?
        } else {
            self.open_or_attach(tx, report, &key, &ctx, touched).await?
        };
        if let (Some(occurrence), Some(incident)) = (&report.occurrence_id, outcome.incident) {
            tx.link_receipt(&report.source, occurrence, incident).await?;
        }
        Ok(outcome)
    }

    async fn recover(
        &self,
        tx: &mut dyn Tx,
        key: &DedupKey,
        ctx: &Context,
        touched: &mut Touched,
    ) -> Result<IngestOutcome, StoreError> {
        let Some(id) = tx.dedup_holder(key).await? else {
            return Ok(IngestOutcome::of(Disposition::Ignored, None));
        };
        let mut incident = tx.lock_incident(id).await?;
        match incident.apply(Action::SourceRecovered, ctx, &self.config.incidents.lifecycle) {
            Ok(effects) => {
                tx.save_incident(&incident).await?;
                self.persist(tx, &incident, effects, ctx, touched).await?;
                Ok(IngestOutcome::of(Disposition::Resolved, Some(&incident)))
            }
            Err(_) => Ok(IngestOutcome::of(Disposition::Ignored, Some(&incident))),
        }
    }

    async fn open_or_attach(
        &self,
        tx: &mut dyn Tx,
        report: &Report,
        key: &DedupKey,
        ctx: &Context,
        touched: &mut Touched,
    ) -> Result<IngestOutcome, StoreError> {
        if let DedupClaim::HeldBy(id) = tx.claim_dedup(key).await? {
            let mut incident = tx.lock_incident(id).await?;
            let was_resolved = incident.status == crate::domain::Status::Resolved;
            match incident.apply(Action::Repeat, ctx, &self.config.incidents.lifecycle) {
                Ok(effects) => {
                    tx.save_incident(&incident).await?;
                    self.persist(tx, &incident, effects, ctx, touched).await?;
                    let disposition =
                        if was_resolved { Disposition::Reopened } else { Disposition::Attached };
                    return Ok(IngestOutcome::of(disposition, Some(&incident)));
                }
                Err(_) => {
                    // The key outlived its incident (it should have been released): take it over.
                    tx.release_dedup(key, id).await?;
                    if let DedupClaim::HeldBy(other) = tx.claim_dedup(key).await? {
                        return Err(StoreError::Corrupt(format!("dedup key '{key}' is held by {other}")));
                    }
                }
            }
        }
        let id = tx.next_incident_id().await?;
        let day = ctx.at.to_zoned_datetime(self.config.server.timezone.clone()).date();
        let ticket = TicketNo::new(day, tx.next_ticket_seq(day).await?)
            .map_err(|e| StoreError::Corrupt(format!("ticket counter: {e}")))?;
        let new = NewIncident {
            title: report.title.clone(),
            description: report.description.clone(),
            severity: report.severity,
            system: report.system.clone(),
            unit: report.unit.clone(),
            source: report.source.clone(),
            dedup_key: key.clone(),
            labels: report.labels.clone(),
            link: report.link.clone(),
        };
        let (incident, effects) = Incident::open(id, ticket, new, ctx.at, &self.config.incidents.lifecycle);
        tx.insert_incident(&incident).await?;
        tx.bind_dedup(key, id).await?;
        self.persist(tx, &incident, effects, ctx, touched).await?;
        Ok(IngestOutcome::of(Disposition::Created, Some(&incident)))
    }

    /// A person (or the CLI) acts on an incident.
    pub async fn act(
        &self,
        ticket: TicketNo,
        action: Action,
        actor: Actor,
        channel: Channel,
    ) -> Result<Incident, ActError> {
        let span = info_span!("act", incident = %ticket, action = action.name());
        async move {
            if let Action::MergeInto { target } = &action
                && *target != ticket
                && self.store.incident_by_ticket(*target).await?.is_none()
            {
                return Err(ActError::NotFound(*target));
            }
            let ctx = Context { at: self.clock.now(), actor, channel };
            let mut tx = self.store.begin().await?;
            let mut incident = tx.lock_incident_by_ticket(ticket).await?.ok_or(ActError::NotFound(ticket))?;
            let effects = incident.apply(action, &ctx, &self.config.incidents.lifecycle)?;
            let mut touched = Touched::default();
            tx.save_incident(&incident).await?;
            self.persist(tx.as_mut(), &incident, effects, &ctx, &mut touched).await?;
            tx.commit().await?;
            self.wake(touched);
            Ok(incident)
        }
        .instrument(span)
        .await
    }

    /// Fire up to `limit` due timers in one transaction; returns how many were taken.
    pub async fn fire_due_timers(&self, limit: u32) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let due = tx.take_due_timers(now, limit).await?;
        let mut touched = Touched::default();
        for timer in &due {
            let mut incident = tx.lock_incident(timer.incident_id).await?;
            let span = info_span!("timer", incident = %incident.ticket, kind = timer.kind.as_str());
            self.metrics.timer_fired(now.duration_since(timer.due_at));
            let ctx = Context { at: now, actor: Actor::System, channel: Channel::Timer };
            match incident.apply(timer.kind.action(), &ctx, &self.config.incidents.lifecycle) {
                Ok(effects) => {
                    tx.save_incident(&incident).instrument(span.clone()).await?;
                    self.persist(tx.as_mut(), &incident, effects, &ctx, &mut touched)
                        .instrument(span)
                        .await?;
                }
                // The incident moved on since the timer was armed (e.g. acknowledged meanwhile).
                Err(e) => span.in_scope(|| debug!("stale timer: {e}")),
            }
        }
        tx.commit().await?;
        self.wake(touched);
        Ok(due.len())
    }

    async fn persist(
        &self,
        tx: &mut dyn Tx,
        incident: &Incident,
        effects: Vec<Effect>,
        ctx: &Context,
        touched: &mut Touched,
    ) -> Result<(), StoreError> {
        for effect in effects {
            match effect {
                Effect::Record(event) => {
                    let entry =
                        TimelineEntry { at: ctx.at, actor: ctx.actor.clone(), channel: ctx.channel, event };
                    let entry_id = tx.append_timeline(incident.id, &entry).await?;
                    touched.outbox |= self.announce(tx, incident, entry_id, &entry).await?;
                }
                Effect::ArmTimer { kind, due } => {
                    tx.arm_timer(incident.id, kind, due, ctx.at).await?;
                    touched.timers = true;
                }
                Effect::CancelTimer(kind) => tx.cancel_timer(incident.id, kind).await?,
                Effect::ReleaseDedup => tx.release_dedup(&incident.dedup_key, incident.id).await?,
                Effect::ClaimDedup => {
                    if tx.claim_dedup(&incident.dedup_key).await? == DedupClaim::Claimed {
                        tx.bind_dedup(&incident.dedup_key, incident.id).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Queue the notifications a timeline entry causes, one per interested sink.
    async fn announce(
        &self,
        tx: &mut dyn Tx,
        incident: &Incident,
        entry_id: i64,
        entry: &TimelineEntry,
    ) -> Result<bool, StoreError> {
        let mut any = false;
        let url = self.incident_url(incident.ticket);
        for sink in self.config.sinks.iter().filter(|s| s.wants(&entry.event, incident.severity)) {
            let actor = self.actor_name(&entry.actor);
            let text =
                self.messages.event_text(incident, self.system_name(incident), &url, &entry.event, &actor);
            let payload = serde_json::json!({
                "event": entry.event.name(),
                "ticket": incident.ticket,
                "severity": incident.severity,
                "severity_label": self.messages.severity(incident.severity),
                "status": incident.status,
                "status_label": self.messages.status(incident.status),
                "title": incident.title,
                "system": incident.system,
                "unit": incident.unit,
                "assignee": incident.assignee,
                "actor": actor,
                "at": entry.at,
                "url": url,
                "text": text,
                "detail": entry.event,
            });
            any |= tx
                .enqueue(&NewOutboxMessage {
                    idempotency_key: format!("timeline:{entry_id}:sink:{}", sink.name),
                    incident_id: Some(incident.id),
                    sink: sink.name.clone(),
                    payload,
                    not_before: entry.at,
                })
                .await?;
        }
        Ok(any)
    }

    pub fn system_name(&self, incident: &Incident) -> Option<&str> {
        incident.system.as_deref().and_then(|id| self.config.catalogue.system(id)).map(|s| s.name.as_str())
    }

    pub fn actor_name(&self, actor: &Actor) -> String {
        match actor {
            Actor::Person(p) => {
                self.config.catalogue.person(&p.0).map(|x| x.name.clone()).unwrap_or_else(|| p.0.clone())
            }
            Actor::Source(s) => s.clone(),
            Actor::System => self.messages.system_actor().to_string(),
        }
    }

    fn wake(&self, touched: Touched) {
        if touched.timers {
            self.wakeups.timers.notify_one();
        }
        if touched.outbox {
            self.wakeups.outbox.notify_one();
        }
    }
}
