//! The incident's side of escalation: which pages each step of its lifecycle asks for.
//!
//! The escalation state lives on the incident, so paging moves in the same transaction as the
//! acknowledgement that stops it: a page can never be planned for an incident already taken.

use jiff::Timestamp;

use super::{Action, Effect, Incident, LifecyclePolicy, TimerKind};
use crate::domain::calendar::Calendar;
use crate::domain::escalation::{
    EscalationBook, EscalationState, EscalationStatus, Hold, Next, PageReason, Reminder, next_repeat,
    next_step,
};
use crate::domain::incident::PersonId;
use crate::domain::severity::Severity;
use crate::domain::timeline::EventKind;

/// Timers that belong to the escalation.
const ESCALATION_TIMERS: [TimerKind; 3] =
    [TimerKind::Escalate, TimerKind::RepeatPage, TimerKind::StartPaging];

/// How an escalation ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EscalationEnd {
    Acknowledged,
    Stopped,
}

impl Incident {
    /// Begin paging for a new incident.
    pub(super) fn start_escalation(
        &mut self,
        policy_id: Option<&str>,
        hold: Option<Hold>,
        at: Timestamp,
        policy: &LifecyclePolicy,
        effects: &mut Vec<Effect>,
    ) {
        let (Some(book), Some(id)) = (policy.escalation.as_deref(), policy_id) else { return };
        // A policy gone from the configuration leaves the incident unpaged rather than failing it.
        if book.policy(id).is_none() {
            return;
        }
        if let Some(hold) = hold {
            self.escalation = Some(EscalationState::new(id, EscalationStatus::Held { hold: hold.clone() }));
            effects.push(Effect::Record(EventKind::PagingHeld { hold }));
            return;
        }
        self.escalation = Some(EscalationState::new(id, EscalationStatus::Active));
        self.begin_paging(book, at, policy, effects);
    }

    /// The fault is back: escalate again from the first tier.
    pub(super) fn restart_escalation(
        &mut self,
        at: Timestamp,
        policy: &LifecyclePolicy,
        effects: &mut Vec<Effect>,
    ) {
        let Some(book) = policy.escalation.as_deref() else { return };
        let Some(state) = self.escalation.as_mut() else { return };
        if book.policy(&state.policy).is_none() {
            return;
        }
        state.run += 1;
        state.tier = 0;
        state.cycle = 0;
        state.round = 0;
        state.status = EscalationStatus::Active;
        self.begin_paging(book, at, policy, effects);
    }

    fn begin_paging(
        &mut self,
        book: &EscalationBook,
        at: Timestamp,
        policy: &LifecyclePolicy,
        effects: &mut Vec<Effect>,
    ) {
        self.page_at_once(at, policy, effects);
        if let Some(until) = self.wait_for_working_time(book, at, policy) {
            if let Some(state) = self.escalation.as_mut() {
                state.status = EscalationStatus::Waiting { until };
            }
            effects.push(Effect::ArmTimer { kind: TimerKind::StartPaging, due: until });
            effects.push(Effect::Record(EventKind::PagingDeferred { until }));
            return;
        }
        self.page_tier(book, 0, 0, at, effects);
    }

    /// When paging should wait: the level may wait, its SLA respond clock runs on a working
    /// calendar, and `at` is outside working time.
    fn wait_for_working_time(
        &self,
        book: &EscalationBook,
        at: Timestamp,
        policy: &LifecyclePolicy,
    ) -> Option<Timestamp> {
        let escalation = book.policy(&self.escalation.as_ref()?.policy)?;
        if !escalation.wait_for_working_hours.contains(&self.severity) {
            return None;
        }
        let (sla_book, sla) = (policy.sla.as_deref()?, self.sla.as_ref()?);
        let targets = sla_book.targets(&sla.policy, self.severity).ok()?;
        let calendar = sla_book.calendars.get(&targets.respond.calendar)?;
        match calendar.as_ref() {
            Calendar::Working(_) if !calendar.is_working_instant(at) => {
                Some(calendar.next_working_instant(at))
            }
            _ => None,
        }
    }

    /// Page tier `tier` of loop `cycle`; a tier with nobody to page passes on to the next at once.
    fn page_tier(
        &mut self,
        book: &EscalationBook,
        tier: u32,
        cycle: u32,
        at: Timestamp,
        effects: &mut Vec<Effect>,
    ) {
        let Some(state) = self.escalation.as_mut() else { return };
        let Some(policy) = book.policy(&state.policy) else { return };
        let (mut tier, mut cycle) = (tier, cycle);
        // Each (tier, cycle) is visited at most once, so this ends.
        for _ in 0..policy.tiers.len() * (policy.loops as usize + 1) {
            let Some(step) = policy.tiers.get(tier as usize) else { break };
            let people = book.resolve(&step.targets, at);
            if people.is_empty() {
                effects.push(Effect::Record(EventKind::NobodyToPage { tier }));
                match next_step(&policy, tier, cycle) {
                    Next::Tier { tier: t, cycle: c } => {
                        (tier, cycle) = (t, c);
                        continue;
                    }
                    Next::Exhausted => break,
                }
            }
            state.status = EscalationStatus::Active;
            state.tier = tier;
            state.cycle = cycle;
            state.round = 0;
            state.tier_paged_at = Some(at);
            let reason = PageReason::Tier { run: state.run, tier, cycle, round: 0 };
            page_people(book, people, self.severity, reason, at, effects);
            effects.push(Effect::ArmTimer { kind: TimerKind::Escalate, due: at + step.ack_timeout });
            match next_repeat(&policy, tier, at, 0) {
                Some(due) => effects.push(Effect::ArmTimer { kind: TimerKind::RepeatPage, due }),
                None => effects.push(Effect::CancelTimer(TimerKind::RepeatPage)),
            }
            return;
        }
        self.exhaust(effects);
    }

    /// Every tier (and loop) timed out: recorded once, nothing more is armed.
    fn exhaust(&mut self, effects: &mut Vec<Effect>) {
        if let Some(state) = self.escalation.as_mut() {
            state.status = EscalationStatus::Exhausted;
        }
        effects.push(Effect::CancelTimer(TimerKind::Escalate));
        effects.push(Effect::CancelTimer(TimerKind::RepeatPage));
        effects.push(Effect::Record(EventKind::EscalationExhausted));
    }

    /// The current tier timed out or declined: the next tier, a new loop, or the end.
    pub(super) fn escalate_next(
        &mut self,
        at: Timestamp,
        policy: &LifecyclePolicy,
        effects: &mut Vec<Effect>,
    ) {
        let Some(book) = policy.escalation.as_deref() else { return };
        let Some(state) = self.escalation.as_ref() else { return };
        let Some(escalation) = book.policy(&state.policy) else { return };
        match next_step(&escalation, state.tier, state.cycle) {
            Next::Tier { tier, cycle } => self.page_tier(book, tier, cycle, at, effects),
            Next::Exhausted => self.exhaust(effects),
        }
    }

    pub(super) fn escalation_is_active(&self) -> bool {
        matches!(self.escalation.as_ref().map(|s| &s.status), Some(EscalationStatus::Active))
    }

    /// A timer of the escalation fired; false when it is stale (nothing to do).
    pub(super) fn escalation_timer(
        &mut self,
        action: &Action,
        at: Timestamp,
        policy: &LifecyclePolicy,
        effects: &mut Vec<Effect>,
    ) -> bool {
        let Some(book) = policy.escalation.as_deref() else { return false };
        let Some(state) = self.escalation.as_mut() else { return false };
        match (action, &state.status) {
            (Action::StartPaging, EscalationStatus::Waiting { .. }) => {
                state.status = EscalationStatus::Active;
                self.page_tier(book, 0, 0, at, effects);
                true
            }
            (Action::EscalationDue, EscalationStatus::Active) => {
                self.escalate_next(at, policy, effects);
                true
            }
            (Action::RepeatPage, EscalationStatus::Active) => {
                let Some(escalation) = book.policy(&state.policy) else { return false };
                let Some(step) = escalation.tiers.get(state.tier as usize) else { return false };
                let paged_at = state.tier_paged_at.unwrap_or(at);
                state.round += 1;
                // On-call may have changed since the first page: resolve the targets again.
                let people = book.resolve(&step.targets, at);
                let reason = PageReason::Tier {
                    run: state.run,
                    tier: state.tier,
                    cycle: state.cycle,
                    round: state.round,
                };
                if let Some(due) = next_repeat(&escalation, state.tier, paged_at, state.round) {
                    effects.push(Effect::ArmTimer { kind: TimerKind::RepeatPage, due });
                }
                if people.is_empty() {
                    effects.push(Effect::Record(EventKind::NobodyToPage { tier: state.tier }));
                } else {
                    page_people(book, people, self.severity, reason, at, effects);
                }
                true
            }
            _ => false,
        }
    }

    /// Someone took the incident, or it ended: no more pages.
    pub(super) fn stop_escalation(&mut self, end: EscalationEnd, effects: &mut Vec<Effect>) {
        let Some(state) = self.escalation.as_mut() else { return };
        if matches!(state.status, EscalationStatus::Acknowledged | EscalationStatus::Stopped) {
            // Pages after the acknowledgement (a reassignment, a call for help) may still wait
            // for their time; an incident that ends needs none of them.
            if end == EscalationEnd::Stopped {
                effects.push(Effect::StopPages { person: None });
            }
            return;
        }
        state.status = match end {
            EscalationEnd::Acknowledged => EscalationStatus::Acknowledged,
            EscalationEnd::Stopped => EscalationStatus::Stopped,
        };
        for kind in ESCALATION_TIMERS {
            effects.push(Effect::CancelTimer(kind));
        }
        effects.push(Effect::StopPages { person: None });
    }

    /// Hold paging by hand: false when there is no escalation going on to hold.
    pub(super) fn hold_paging(&mut self, reason: &str, effects: &mut Vec<Effect>) -> bool {
        let Some(state) = self.escalation.as_mut() else { return false };
        if !matches!(state.status, EscalationStatus::Active | EscalationStatus::Waiting { .. }) {
            return false;
        }
        let hold = Hold::Paused { reason: reason.to_string() };
        state.status = EscalationStatus::Held { hold: hold.clone() };
        for kind in ESCALATION_TIMERS {
            effects.push(Effect::CancelTimer(kind));
        }
        effects.push(Effect::StopPages { person: None });
        effects.push(Effect::Record(EventKind::PagingHeld { hold }));
        true
    }

    /// Page again from the tier that was held by hand: false when paging was not held so.
    pub(super) fn resume_paging(
        &mut self,
        at: Timestamp,
        policy: &LifecyclePolicy,
        effects: &mut Vec<Effect>,
    ) -> bool {
        let Some(book) = policy.escalation.as_deref() else { return false };
        let Some(state) = self.escalation.as_mut() else { return false };
        if !matches!(state.status, EscalationStatus::Held { hold: Hold::Paused { .. } }) {
            return false;
        }
        state.status = EscalationStatus::Active;
        // A new run: the held tier's pages were sent (or cancelled) under the old one.
        state.run += 1;
        state.round = 0;
        let (tier, cycle) = (state.tier, state.cycle);
        effects.push(Effect::Record(EventKind::PagingResumed));
        if self.status.awaits_ack() {
            self.page_tier(book, tier, cycle, at, effects);
        }
        true
    }

    /// Call a group together: page everyone its targets name now, whatever the escalation does.
    pub(super) fn call_group(
        &mut self,
        name: &str,
        targets: &[crate::domain::escalation::Target],
        at: Timestamp,
        policy: &LifecyclePolicy,
        effects: &mut Vec<Effect>,
    ) {
        let Some(book) = policy.escalation.as_deref() else { return };
        let people = book.resolve(targets, at);
        if people.is_empty() {
            return;
        }
        page_people(
            book,
            people,
            self.severity,
            PageReason::Group { name: name.to_string(), at },
            at,
            effects,
        );
    }

    /// A level change may end a wait for working time: a 四级 raised to 二级 at night pages now.
    pub(super) fn page_if_no_longer_waiting(
        &mut self,
        at: Timestamp,
        policy: &LifecyclePolicy,
        effects: &mut Vec<Effect>,
    ) {
        let Some(book) = policy.escalation.as_deref() else { return };
        let Some(state) = self.escalation.as_ref() else { return };
        if !matches!(state.status, EscalationStatus::Waiting { .. }) || !self.status.awaits_ack() {
            return;
        }
        if self.wait_for_working_time(book, at, policy).is_none() {
            effects.push(Effect::CancelTimer(TimerKind::StartPaging));
            self.page_tier(book, 0, 0, at, effects);
        }
    }

    /// The level pages some people at once (一级 → 主管部门领导), once per level per incident.
    pub(super) fn page_at_once(
        &mut self,
        at: Timestamp,
        policy: &LifecyclePolicy,
        effects: &mut Vec<Effect>,
    ) {
        let Some(book) = policy.escalation.as_deref() else { return };
        let severity = self.severity;
        let Some(state) = self.escalation.as_mut() else { return };
        if state.at_once_paged.contains(&severity) || matches!(state.status, EscalationStatus::Held { .. }) {
            return;
        }
        let Some(escalation) = book.policy(&state.policy) else { return };
        let targets: Vec<_> = escalation
            .at_once
            .iter()
            .filter(|rule| rule.severities.contains(&severity))
            .flat_map(|rule| rule.targets.iter().cloned())
            .collect();
        if targets.is_empty() {
            return;
        }
        state.at_once_paged.push(severity);
        let people = book.resolve(&targets, at);
        if people.is_empty() {
            return;
        }
        let reason = PageReason::AtOnce { severity };
        page_people(book, people, self.severity, reason, at, effects);
    }

    /// Remind the assignee of a deadline through their notification rules (the SLA event itself
    /// is on the timeline and goes to the channels).
    pub(super) fn remind_assignee(
        &mut self,
        about: Reminder,
        at: Timestamp,
        policy: &LifecyclePolicy,
        effects: &mut Vec<Effect>,
    ) {
        let (Some(book), Some(assignee)) = (policy.escalation.as_deref(), self.assignee.clone()) else {
            return;
        };
        if self.escalation.is_none() {
            return;
        }
        let reason = PageReason::Reminder { about, at };
        effects.extend(book.plan(&[assignee], self.severity, reason, at).into_iter().map(Effect::Page));
    }

    pub(super) fn page_reassigned(
        &mut self,
        to: &PersonId,
        at: Timestamp,
        policy: &LifecyclePolicy,
        effects: &mut Vec<Effect>,
    ) {
        let Some(book) = policy.escalation.as_deref() else { return };
        let reason = PageReason::Reassigned { at };
        let people = vec![to.clone()];
        page_people(book, people, self.severity, reason, at, effects);
    }

    /// 升级 by hand: page the tier above the current one. While nobody has acknowledged, the
    /// escalation simply moves on (with its timers); afterwards the tier is paged for help only.
    pub(super) fn escalate_by_hand(
        &mut self,
        reason: &str,
        at: Timestamp,
        policy: &LifecyclePolicy,
        effects: &mut Vec<Effect>,
    ) -> bool {
        let Some(book) = policy.escalation.as_deref() else { return false };
        let Some(state) = self.escalation.as_ref() else { return false };
        let Some(escalation) = book.policy(&state.policy) else { return false };
        let (tier, cycle) = (state.tier + 1, state.cycle);
        let Some(step) = escalation.tiers.get(tier as usize) else { return false };
        effects.push(Effect::Record(EventKind::EscalatedByHand { tier, reason: reason.to_string() }));
        if self.status.awaits_ack() && self.escalation_is_active() {
            self.page_tier(book, tier, cycle, at, effects);
            return true;
        }
        let people = book.resolve(&step.targets, at);
        if people.is_empty() {
            effects.push(Effect::Record(EventKind::NobodyToPage { tier }));
        } else {
            let reason = PageReason::Manual { tier, at };
            page_people(book, people, self.severity, reason, at, effects);
        }
        if let Some(state) = self.escalation.as_mut() {
            state.tier = tier;
        }
        true
    }
}

/// Record who is paged and why, and plan their pages by their notification rules.
fn page_people(
    book: &EscalationBook,
    people: Vec<PersonId>,
    severity: Severity,
    reason: PageReason,
    at: Timestamp,
    effects: &mut Vec<Effect>,
) {
    let plans = book.plan(&people, severity, reason.clone(), at);
    effects.push(Effect::Record(EventKind::Paged { reason, people }));
    effects.extend(plans.into_iter().map(Effect::Page));
}
