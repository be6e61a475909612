//! The incident service: applies the domain's decisions durably. Each public operation is one
//! write transaction: load, decide (pure domain code), persist the incident and every effect —
//! timeline entries, timers, dedup keys and the outbox messages that announce the change.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::Notify;
use tracing::{Instrument, debug, info_span};

use super::classify::Report;
use super::clock::Clock;
use super::writeset::WriteSet;
use crate::config::{Config, Language};
use crate::domain::audit::{AuditEntry, AuditRecord, GENESIS, chain_hash};
use crate::domain::classify::correlate_steps;
use crate::domain::escalation::{EscalationStatus, Hold};
use crate::domain::silence::{self, Matcher, Silence, Subject};
use crate::domain::{
    Action, Actor, Channel, Context, DedupKey, EventKind, Incident, IncidentId, NewIncident, PersonId,
    Severity, Status, TicketNo, TimelineEntry, TransitionError,
};
use crate::messages::Messages;
use crate::metrics::Metrics;
use crate::store::{NewOutboxMessage, ReceiptKey, SharedStore, StoreError, Tx};

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

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn messages(&self) -> &Messages {
        &self.messages
    }

    /// Messages were queued outside this service's own transactions.
    pub fn wake_outbox(&self) {
        self.wakeups.outbox.notify_one();
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
        let policy = &self.config.incidents.lifecycle;
        let mut tx = self.store.begin().await?;

        // What the store already knows: earlier deliveries, live dedup keys, their incidents.
        let receipt_of = |r: &Report| {
            r.occurrence_id
                .as_ref()
                .map(|o| ReceiptKey { source: r.source.clone(), occurrence_id: o.clone() })
        };
        let receipt_keys: Vec<ReceiptKey> = reports.iter().filter_map(receipt_of).collect();
        let mut receipts =
            if receipt_keys.is_empty() { HashMap::new() } else { tx.find_receipts(&receipt_keys).await? };
        let keys: Vec<DedupKey> = reports.iter().map(|r| DedupKey::new(&r.source, &r.fingerprint)).collect();
        let mut unique_keys = keys.clone();
        unique_keys.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        unique_keys.dedup();
        let holders = tx.dedup_holders(&unique_keys).await?;
        let mut ws = WriteSet::default();
        let wanted: Vec<IncidentId> =
            holders.values().copied().chain(receipts.values().flatten().copied()).collect();
        if !wanted.is_empty() {
            ws.load(tx.lock_incidents(&wanted).await?);
        }
        // A key whose incident no longer holds it (it should have been released) is taken over.
        let mut holding: HashMap<DedupKey, IncidentId> = HashMap::new();
        for (key, id) in holders {
            match ws.get(id) {
                Some(i) if i.status.holds_dedup_key() => {
                    holding.insert(key, id);
                }
                _ => ws.release_stale_key(key, id),
            }
        }

        // Reserve exactly as many ids and ticket numbers as the batch opens incidents.
        let mut seen = receipts.keys().cloned().collect::<HashSet<_>>();
        let mut will_hold: HashSet<&DedupKey> = holding.keys().collect();
        let mut openings = 0u32;
        for (report, key) in reports.iter().zip(&keys) {
            if let Some(rk) = receipt_of(report)
                && !seen.insert(rk)
            {
                continue;
            }
            if !report.resolved && will_hold.insert(key) {
                openings += 1;
            }
        }
        let mut ids = Vec::new().into_iter();
        let (mut next_seq, day) = (0, now.to_zoned_datetime(self.config.server.timezone.clone()).date());
        if openings > 0 {
            ids = tx.next_incident_ids(openings).await?.into_iter();
            next_seq = tx.reserve_ticket_seqs(day, openings).await?;
        }

        // Correlation: separate reports of one system within the window, counted once per system
        // from the store and then as this batch opens more.
        let since = now - self.config.correlation_window;
        let mut opened_per_system: HashMap<String, usize> = HashMap::new();
        let ctx = |r: &Report| match &r.reporter {
            Some(person) => Context { at: now, actor: Actor::Person(person.clone()), channel: Channel::Api },
            None => Context { at: now, actor: Actor::Source(r.source.clone()), channel: Channel::Webhook },
        };
        let mut audited = Vec::new();
        let mut outcomes = Vec::with_capacity(reports.len());
        // Read once per batch, when first needed.
        let mut silences: Option<Vec<crate::domain::silence::Silence>> = None;
        let mut storm_opened: Option<usize> = None;
        let mut storm_lead: Option<Option<IncidentId>> = None;
        // Written after the incidents themselves (a storm names its lead incident).
        let mut storm_records: Vec<(IncidentId, u32)> = Vec::new();
        let mut storm_members: Vec<(IncidentId, IncidentId)> = Vec::new();
        for (report, key) in reports.iter().zip(keys) {
            let rk = receipt_of(report);
            if let Some(rk) = &rk
                && let Some(earlier) = receipts.get(rk)
            {
                let incident = earlier.and_then(|id| ws.get(id));
                outcomes.push(IngestOutcome::of(Disposition::Duplicate, incident));
                continue;
            }
            let ctx = ctx(report);
            let outcome = match (holding.get(&key).copied(), report.resolved) {
                (None, true) => IngestOutcome::of(Disposition::Ignored, None),
                (Some(id), resolved) => {
                    let incident = ws.get_mut(id).expect("holders are loaded");
                    let was_resolved = incident.status == Status::Resolved;
                    let action = if resolved { Action::SourceRecovered } else { Action::Repeat };
                    match incident.apply(action, &ctx, policy) {
                        Ok(effects) => {
                            let recorded = ws.apply_effects(id, effects, &ctx);
                            self.announce(&mut ws, id, recorded);
                            let disposition = match (resolved, was_resolved) {
                                (true, _) => Disposition::Resolved,
                                (false, true) => Disposition::Reopened,
                                (false, false) => Disposition::Attached,
                            };
                            IngestOutcome::of(disposition, ws.get(id))
                        }
                        // A recovery for an incident already resolved by hand.
                        Err(_) => IngestOutcome::of(Disposition::Ignored, ws.get(id)),
                    }
                }
                (None, false) => {
                    let id = ids
                        .next()
                        .ok_or_else(|| StoreError::Corrupt("fewer incident ids than openings".into()))?;
                    let ticket = TicketNo::new(day, next_seq)
                        .map_err(|e| StoreError::Corrupt(format!("ticket counter: {e}")))?;
                    next_seq += 1;
                    let mut new = self.new_incident(report, key.clone());
                    let mut leads_storm = None;
                    // A drill runs as planned: no silence or storm folds it away.
                    let drill = report.labels.contains_key(crate::domain::drill::PLAN_LABEL);
                    if new.escalation_policy.is_some() && !drill {
                        let subject = Subject {
                            dedup_key: key.as_str(),
                            system: new.system.as_deref(),
                            labels: &new.labels,
                        };
                        if silences.is_none() {
                            silences = Some(tx.active_silences(now).await?);
                        }
                        if let Some(s) =
                            silence::matching(silences.as_deref().unwrap_or_default(), subject, now)
                        {
                            new.hold = Some(Hold::Silence { id: s.id });
                        } else if let Some(rule) = self.config.paging.storm {
                            let opened = match storm_opened {
                                Some(n) => n,
                                None => tx.count_opened_since(now - rule.window).await?,
                            };
                            storm_opened = Some(opened + 1);
                            // A 一级 fault always pages on its own.
                            if silence::is_storm(rule.threshold, opened) && new.severity != Severity::One {
                                if storm_lead.is_none() {
                                    storm_lead = Some(tx.current_storm(now - rule.window).await?);
                                }
                                match storm_lead.flatten() {
                                    Some(lead) => {
                                        if ws.get(lead).is_none() {
                                            ws.load(tx.lock_incidents(&[lead]).await?);
                                        }
                                        if let Some(lead_incident) = ws.get_mut(lead) {
                                            new.hold =
                                                Some(Hold::Storm { lead: lead_incident.ticket.to_string() });
                                            if let Some(state) = lead_incident.escalation.as_mut() {
                                                state.storm = Some(state.storm.unwrap_or(1) + 1);
                                            }
                                            ws.apply_effects(lead, Vec::new(), &ctx);
                                            storm_records.push((lead, 1));
                                            storm_members.push((lead, id));
                                        }
                                    }
                                    None => leads_storm = Some(opened as u32 + 1),
                                }
                            }
                        }
                    }
                    // A drill's simulated fault says nothing about how many people see a real one.
                    if let Some(system) = report.system.clone().filter(|_| !drill) {
                        let opened = match opened_per_system.get(&system) {
                            Some(n) => *n,
                            None => tx.count_opened(&system, since).await?,
                        };
                        opened_per_system.insert(system, opened + 1);
                        let steps = self.config.classifier.correlation_steps();
                        if let Some((raised, reason)) = correlate_steps(steps, opened + 1, new.severity) {
                            new.severity = raised;
                            new.reasons.push(match self.config.server.language {
                                Language::ZhCn => reason.text_zh,
                                Language::En => reason.text_en,
                            });
                        }
                    }
                    let (mut incident, effects) = Incident::open(id, ticket, new, now, policy);
                    if let (Some(count), Some(state)) = (leads_storm, incident.escalation.as_mut()) {
                        state.storm = Some(count);
                        storm_records.push((id, count));
                        storm_lead = Some(Some(id));
                    }
                    ws.insert(incident);
                    holding.insert(key, id);
                    let recorded = ws.apply_effects(id, effects, &ctx);
                    self.announce(&mut ws, id, recorded);
                    IngestOutcome::of(Disposition::Created, ws.get(id))
                }
            };
            if let Some(rk) = rk {
                receipts.insert(rk.clone(), outcome.incident);
                ws.receipt(rk, outcome.incident);
            }
            // A person's report is an action of theirs: it goes into the audit log.
            if let (Some(person), Some(ticket)) = (&report.reporter, outcome.ticket) {
                audited.push(AuditEntry {
                    at: now,
                    actor: Actor::Person(person.clone()),
                    action: "report".into(),
                    subject: format!("incident:{ticket}"),
                    detail: serde_json::json!({
                        "title": report.title,
                        "severity": report.severity,
                        "disposition": outcome.disposition.as_str(),
                    }),
                });
            }
            outcomes.push(outcome);
        }
        let touched = Touched { timers: ws.arms_timers(), outbox: ws.has_messages() };
        ws.flush(tx.as_mut(), now).await?;
        for (lead, more) in storm_records {
            tx.record_storm(lead, now, more).await?;
        }
        if !storm_members.is_empty() {
            tx.add_storm_members(&storm_members).await?;
        }
        self.audit(tx.as_mut(), audited).await?;
        tx.commit().await?;
        self.wake(touched);
        Ok(outcomes)
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
            let incident = tx.lock_incident_by_ticket(ticket).await?.ok_or(ActError::NotFound(ticket))?;
            let id = incident.id;
            let mut ws = WriteSet::default();
            ws.load(vec![incident]);
            let audited = AuditEntry {
                at: ctx.at,
                actor: ctx.actor.clone(),
                action: action.name().to_string(),
                subject: format!("incident:{ticket}"),
                detail: action.detail(),
            };
            let action_name = action.name();
            let effects =
                ws.get_mut(id).expect("just loaded").apply(action, &ctx, &self.config.incidents.lifecycle)?;
            let recorded = ws.apply_effects(id, effects, &ctx);
            self.announce(&mut ws, id, recorded);
            // Acknowledging the page that summarised an alert storm acknowledges the storm.
            let leads_storm =
                ws.get(id).and_then(|i| i.escalation.as_ref()).is_some_and(|e| e.storm.is_some());
            if matches!(action_name, "acknowledge") && leads_storm {
                let members = tx.storm_members(id).await?;
                if !members.is_empty() {
                    ws.load(tx.lock_incidents(&members).await?);
                }
                for member in members {
                    let Some(incident) = ws.get_mut(member) else { continue };
                    if let Ok(effects) =
                        incident.apply(Action::Acknowledge, &ctx, &self.config.incidents.lifecycle)
                    {
                        let recorded = ws.apply_effects(member, effects, &ctx);
                        self.announce(&mut ws, member, recorded);
                    }
                }
            }
            let incident = ws.get(id).expect("tracked").clone();
            let touched = Touched { timers: ws.arms_timers(), outbox: ws.has_messages() };
            ws.flush(tx.as_mut(), ctx.at).await?;
            self.audit(tx.as_mut(), vec![audited]).await?;
            tx.commit().await?;
            self.wake(touched);
            Ok(incident)
        }
        .instrument(span)
        .await
    }

    /// 交班: hand every open incident assigned to `from` over to `to`; returns their tickets.
    pub async fn hand_over(
        &self,
        from: &PersonId,
        to: &PersonId,
        note: Option<String>,
        channel: Channel,
    ) -> Result<Vec<TicketNo>, ActError> {
        let reason = match note {
            Some(n) => format!("交接班：{n}"),
            None => "交接班".to_string(),
        };
        let filter = crate::store::IncidentFilter {
            statuses: Status::OPEN.to_vec(),
            limit: 500,
            ..Default::default()
        };
        let mine: Vec<Incident> = self
            .store
            .incidents(&filter)
            .await?
            .into_iter()
            .filter(|i| i.assignee.as_ref() == Some(from))
            .collect();
        let mut handed = Vec::new();
        for incident in mine {
            let action = Action::Reassign { to: to.clone(), reason: reason.clone() };
            self.act(incident.ticket, action, Actor::Person(from.clone()), channel).await?;
            handed.push(incident.ticket);
        }
        Ok(handed)
    }

    /// Fire up to `limit` due timers in one transaction; returns how many were taken.
    pub async fn fire_due_timers(&self, limit: u32) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let due = tx.take_due_timers(now, limit).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let mut ws = WriteSet::default();
        ws.load(tx.lock_incidents(&due.iter().map(|t| t.incident_id).collect::<Vec<_>>()).await?);
        let ctx = Context { at: now, actor: Actor::System, channel: Channel::Timer };
        for timer in &due {
            let Some(incident) = ws.get_mut(timer.incident_id) else { continue };
            let span = info_span!("timer", incident = %incident.ticket, kind = timer.kind.as_str());
            let _entered = span.enter();
            self.metrics.timer_fired(now.duration_since(timer.due_at));
            match incident.apply(timer.kind.action(), &ctx, &self.config.incidents.lifecycle) {
                Ok(effects) => {
                    let recorded = ws.apply_effects(timer.incident_id, effects, &ctx);
                    self.announce(&mut ws, timer.incident_id, recorded);
                }
                // The incident moved on since the timer was armed (e.g. acknowledged meanwhile).
                Err(e) => debug!("stale timer: {e}"),
            }
        }
        let touched = Touched { timers: ws.arms_timers(), outbox: ws.has_messages() };
        ws.flush(tx.as_mut(), now).await?;
        tx.commit().await?;
        self.wake(touched);
        Ok(due.len())
    }

    /// 静默: open matching incidents without paging for `duration`. Audited.
    pub async fn create_silence(
        &self,
        matcher: Matcher,
        reason: &str,
        by: &PersonId,
        duration: jiff::SignedDuration,
    ) -> Result<Silence, StoreError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let silence = tx.create_silence(&matcher, reason, by, now, now + duration).await?;
        let entry = AuditEntry {
            at: now,
            actor: Actor::Person(by.clone()),
            action: "silence".into(),
            subject: format!("silence:{}", silence.id),
            detail: serde_json::json!({ "matcher": matcher, "reason": reason, "ends_at": silence.ends_at }),
        };
        self.audit(tx.as_mut(), vec![entry]).await?;
        tx.commit().await?;
        Ok(silence)
    }

    /// End a silence early; false if it was not running. Audited.
    pub async fn end_silence(&self, id: i64, by: &PersonId) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tx.end_silence(id, now).await? {
            return Ok(false);
        }
        let entry = AuditEntry {
            at: now,
            actor: Actor::Person(by.clone()),
            action: "end_silence".into(),
            subject: format!("silence:{id}"),
            detail: serde_json::json!({}),
        };
        self.audit(tx.as_mut(), vec![entry]).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Append to the hash-chained audit log, in the transaction of the change itself. Write
    /// transactions run one at a time, so the chain cannot fork.
    pub(crate) async fn audit(&self, tx: &mut dyn Tx, entries: Vec<AuditEntry>) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let (mut seq, mut prev) = tx.last_audit().await?.unwrap_or((0, GENESIS.to_string()));
        let mut records = Vec::with_capacity(entries.len());
        for entry in entries {
            seq += 1;
            let hash = chain_hash(&prev, seq, &entry);
            records.push(AuditRecord {
                seq,
                entry,
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
            });
        }
        tx.append_audit(&records).await
    }

    /// Queue the notifications that new timeline entries cause, one per interested sink.
    fn announce(&self, ws: &mut WriteSet, id: IncidentId, recorded: Vec<(u32, TimelineEntry)>) {
        let Some(incident) = ws.get(id) else { return };
        let url = self.incident_url(incident.ticket);
        let mut messages = Vec::new();
        let held =
            matches!(incident.escalation.as_ref().map(|e| &e.status), Some(EscalationStatus::Held { .. }));
        let quiet = |event: &EventKind| {
            held && matches!(
                event,
                EventKind::Opened { .. } | EventKind::Repeated { .. } | EventKind::PagingHeld { .. }
            )
        };
        let posted: Vec<&(u32, TimelineEntry)> = recorded.iter().filter(|(_, e)| !quiet(&e.event)).collect();
        messages.extend(crate::chat::cards::channel_posts(self, incident, &posted));
        messages.extend(crate::email::notices::reporter_mails(self, incident, &posted));
        for (seq, entry) in recorded {
            // A silenced or storm-folded incident opens quietly: one card for the storm, none
            // for a silence. What people do with it later is announced as usual.
            if quiet(&entry.event) {
                continue;
            }
            for sink in self.config.sinks.iter().filter(|s| s.wants(&entry.event, incident.severity)) {
                let actor = self.actor_name(&entry.actor);
                let text = self.messages.event_text(
                    incident,
                    self.system_name(incident),
                    &url,
                    &entry.event,
                    &actor,
                    &self.event_people(&entry.event),
                );
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
                messages.push(NewOutboxMessage {
                    // The incident and its event number name the message: a retry or another
                    // instance can never queue it twice.
                    idempotency_key: format!("incident:{}:event:{seq}:sink:{}", incident.id, sink.name),
                    incident_id: Some(incident.id),
                    sink: sink.name.clone(),
                    payload,
                    not_before: entry.at,
                });
            }
        }
        for m in messages {
            ws.enqueue(m);
        }
    }

    pub fn system_name(&self, incident: &Incident) -> Option<&str> {
        incident.system.as_deref().and_then(|id| self.config.catalogue.system(id)).map(|s| s.name.as_str())
    }

    /// The names of the people an event is about (who was paged, who it was handed to).
    pub fn event_people(&self, event: &EventKind) -> Vec<String> {
        let people: Vec<&PersonId> = match event {
            EventKind::Paged { people, .. } => people.iter().collect(),
            EventKind::Reassigned { to, .. } => vec![to],
            _ => return Vec::new(),
        };
        people.into_iter().map(|p| self.person_name(p)).collect()
    }

    pub fn person_name(&self, person: &PersonId) -> String {
        self.config.catalogue.person(&person.0).map(|x| x.name.clone()).unwrap_or_else(|| person.0.clone())
    }

    pub fn actor_name(&self, actor: &Actor) -> String {
        match actor {
            Actor::Person(p) => self.person_name(p),
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

impl IncidentService {
    fn new_incident(&self, report: &Report, dedup_key: DedupKey) -> NewIncident {
        // A drill pages its plan's participants only, and counts in no SLA.
        if let Some(plan) = report.labels.get(crate::domain::drill::PLAN_LABEL)
            && self.config.drills.get(plan).is_some()
        {
            return NewIncident {
                escalation_policy: Some(format!("drill:{plan}")),
                ..new_incident(report, dedup_key)
            };
        }
        NewIncident {
            sla_policy: self.sla_policy_for(report.system.as_deref()),
            escalation_policy: self
                .config
                .paging
                .policy_for(&self.config.catalogue, report.system.as_deref()),
            ..new_incident(report, dedup_key)
        }
    }

    /// The SLA policy of a system: its own contract's, or the default.
    fn sla_policy_for(&self, system: Option<&str>) -> Option<String> {
        let book = self.config.incidents.lifecycle.sla.as_deref()?;
        system.and_then(|s| self.config.sla_systems.get(s)).cloned().or_else(|| book.default_policy.clone())
    }
}

fn new_incident(report: &Report, dedup_key: DedupKey) -> NewIncident {
    NewIncident {
        sla_policy: None,
        reasons: report.reasons.clone(),
        title: report.title.clone(),
        description: report.description.clone(),
        severity: report.severity,
        system: report.system.clone(),
        unit: report.unit.clone(),
        source: report.source.clone(),
        dedup_key,
        labels: report.labels.clone(),
        link: report.link.clone(),
        escalation_policy: None,
        hold: None,
    }
}
