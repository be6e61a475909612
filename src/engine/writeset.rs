//! Everything one transaction will write, collected from the domain's effects and flushed as sets
//! of rows: a batch of a thousand reports costs the same dozen statements as a batch of one.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use crate::domain::escalation::PagePlan;
use crate::domain::{Actor, Context, DedupKey, Effect, Incident, IncidentId, TimelineEntry, TimerKind};
use crate::store::{NewOutboxMessage, NewPage, PageStop, ReceiptKey, StoreError, Tx};

/// The outbox sink that delivers pages (through the page's own channel).
pub const PAGING_SINK: &str = "paging";

#[derive(Default)]
pub struct WriteSet {
    /// Working copies of every incident the transaction touches, loaded or new.
    incidents: BTreeMap<IncidentId, Incident>,
    new: BTreeSet<IncidentId>,
    changed: BTreeSet<IncidentId>,
    timeline: Vec<(IncidentId, u32, TimelineEntry)>,
    /// The last word per timer: `Some(due)` arms it, `None` cancels it.
    timers: BTreeMap<(IncidentId, TimerKind), Option<Timestamp>>,
    releases: Vec<(DedupKey, IncidentId)>,
    /// Keys new incidents take; another holder would be a bug, so they must succeed.
    claims: Vec<(DedupKey, IncidentId)>,
    /// Keys reopened incidents take back if still free.
    reclaims: Vec<(DedupKey, IncidentId)>,
    outbox: Vec<NewOutboxMessage>,
    receipts: Vec<(ReceiptKey, Option<IncidentId>)>,
    pages: Vec<(IncidentId, PagePlan)>,
    page_stops: Vec<PageStop>,
}

impl WriteSet {
    /// Track incidents loaded (and locked) from the store.
    pub fn load(&mut self, incidents: Vec<Incident>) {
        for i in incidents {
            self.incidents.entry(i.id).or_insert(i);
        }
    }

    pub fn get(&self, id: IncidentId) -> Option<&Incident> {
        self.incidents.get(&id)
    }

    pub fn get_mut(&mut self, id: IncidentId) -> Option<&mut Incident> {
        self.incidents.get_mut(&id)
    }

    /// A new incident, which takes its dedup key.
    pub fn insert(&mut self, incident: Incident) {
        self.claims.push((incident.dedup_key.clone(), incident.id));
        self.new.insert(incident.id);
        self.incidents.insert(incident.id, incident);
    }

    pub fn release_stale_key(&mut self, key: DedupKey, holder: IncidentId) {
        self.releases.push((key, holder));
    }

    pub fn receipt(&mut self, key: ReceiptKey, incident: Option<IncidentId>) {
        self.receipts.push((key, incident));
    }

    pub fn enqueue(&mut self, message: NewOutboxMessage) {
        self.outbox.push(message);
    }

    /// Record the effects of an action on incident `id` (its working copy is already updated).
    /// Returns the timeline entries recorded, with their sequence numbers, for announcing.
    pub fn apply_effects(
        &mut self,
        id: IncidentId,
        effects: Vec<Effect>,
        ctx: &Context,
    ) -> Vec<(u32, TimelineEntry)> {
        let incident = self.incidents.get_mut(&id).expect("effects belong to a tracked incident");
        let mut recorded = Vec::new();
        for effect in effects {
            match effect {
                Effect::Record(event) => {
                    incident.event_count += 1;
                    let entry =
                        TimelineEntry { at: ctx.at, actor: ctx.actor.clone(), channel: ctx.channel, event };
                    self.timeline.push((id, incident.event_count, entry.clone()));
                    recorded.push((incident.event_count, entry));
                }
                Effect::ArmTimer { kind, due } => {
                    self.timers.insert((id, kind), Some(due));
                }
                Effect::CancelTimer(kind) => {
                    self.timers.insert((id, kind), None);
                }
                Effect::ReleaseDedup => self.releases.push((incident.dedup_key.clone(), id)),
                Effect::ClaimDedup => self.reclaims.push((incident.dedup_key.clone(), id)),
                Effect::Page(plan) => self.pages.push((id, plan)),
                Effect::StopPages { person } => {
                    // Whoever stopped everyone's pages answered the ones they received.
                    let answered_by = match (&person, &ctx.actor) {
                        (None, Actor::Person(p)) => Some(p.clone()),
                        _ => None,
                    };
                    self.page_stops.push(PageStop { incident_id: id, person, answered_by });
                }
            }
        }
        if !self.new.contains(&id) {
            self.changed.insert(id);
        }
        recorded
    }

    pub fn arms_timers(&self) -> bool {
        self.timers.values().any(Option::is_some)
    }

    pub fn has_messages(&self) -> bool {
        !self.outbox.is_empty() || !self.pages.is_empty()
    }

    /// Write everything, in an order that respects the foreign keys and the dedup keys' hand-over.
    pub async fn flush(self, tx: &mut dyn Tx, now: Timestamp) -> Result<(), StoreError> {
        if !self.releases.is_empty() {
            tx.release_dedups(&self.releases).await?;
        }
        let new: Vec<Incident> = self.new.iter().map(|id| self.incidents[id].clone()).collect();
        if !new.is_empty() {
            tx.insert_incidents(&new).await?;
        }
        if !self.claims.is_empty() {
            let held = tx.claim_dedups(&self.claims).await?;
            if let Some(key) = held.first() {
                // Writes run one at a time and holders were read inside this transaction.
                return Err(StoreError::Corrupt(format!("dedup key '{key}' was taken by another incident")));
            }
        }
        if !self.reclaims.is_empty() {
            // A newer incident may hold the key by now; then the reopened one simply does not.
            tx.claim_dedups(&self.reclaims).await?;
        }
        let changed: Vec<Incident> = self.changed.iter().map(|id| self.incidents[id].clone()).collect();
        if !changed.is_empty() {
            tx.save_incidents(&changed).await?;
        }
        if !self.timeline.is_empty() {
            tx.append_timeline(&self.timeline).await?;
        }
        let cancels: Vec<(IncidentId, TimerKind)> =
            self.timers.iter().filter(|(_, due)| due.is_none()).map(|(key, _)| *key).collect();
        if !cancels.is_empty() {
            tx.cancel_timers(&cancels).await?;
        }
        let arms: Vec<(IncidentId, TimerKind, Timestamp)> =
            self.timers.iter().filter_map(|((id, kind), due)| due.map(|d| (*id, *kind, d))).collect();
        if !arms.is_empty() {
            tx.arm_timers(&arms, now).await?;
        }
        if !self.page_stops.is_empty() {
            tx.stop_pages(&self.page_stops, now).await?;
        }
        let mut outbox = self.outbox;
        if !self.pages.is_empty() {
            let new: Vec<NewPage> = self
                .pages
                .iter()
                .map(|(id, plan)| NewPage {
                    incident_id: *id,
                    page_key: plan.key(),
                    person: plan.person.clone(),
                    channel: plan.channel.clone(),
                    reason: plan.reason.clone(),
                    due_at: plan.due,
                })
                .collect();
            let ids = tx.insert_pages(&new, now).await?;
            for (page, id) in new.iter().zip(ids) {
                let Some(id) = id else { continue };
                outbox.push(NewOutboxMessage {
                    idempotency_key: format!("page:{id}"),
                    incident_id: Some(page.incident_id),
                    sink: PAGING_SINK.to_string(),
                    payload: serde_json::json!({ "page": id }),
                    not_before: page.due_at,
                });
            }
        }
        if !outbox.is_empty() {
            tx.enqueue(&outbox).await?;
        }
        if !self.receipts.is_empty() {
            tx.insert_receipts(&self.receipts, now).await?;
        }
        Ok(())
    }
}
