//! 换班 at runtime: shift swaps recorded by a leader (with who asked and who approved), kept in
//! the database and merged over the configured schedules for paging, handover and feeds. Each
//! instance reloads them after its own changes and on every round of the handover loop, so a swap
//! made on one instance reaches the others within a poll interval.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use tracing::warn;

use super::incidents::IncidentService;
use crate::domain::Actor;
use crate::domain::audit::AuditEntry;
use crate::domain::schedule::{LiveSchedules, Override, ScheduleError};
use crate::store::{ShiftSwap, Store, StoreError};

/// Swaps that ended longer ago than this no longer matter (the feeds look two weeks back).
const KEEP: SignedDuration = SignedDuration::from_hours(24 * 15);

#[derive(Debug, thiserror::Error)]
pub enum SwapError {
    #[error("no schedule '{0}'")]
    UnknownSchedule(String),
    #[error("no person '{0}'")]
    UnknownPerson(String),
    #[error(transparent)]
    Invalid(#[from] ScheduleError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The domain's override for a stored swap.
pub fn to_override(swap: &ShiftSwap) -> Result<Override, ScheduleError> {
    let mut o = Override::new(swap.person.0.clone(), swap.from, swap.until)?;
    if let Some(replaces) = &swap.replaces {
        o = o.replacing(replaces.0.clone())?;
    }
    if let Some(requester) = &swap.requested_by {
        o = o.requested_by(requester.0.clone());
    }
    Ok(o.approved_by(swap.approved_by.0.clone()).because(swap.reason.clone()))
}

/// Read the swaps that still matter and merge them into the live schedules.
pub async fn load_into(store: &dyn Store, live: &LiveSchedules, now: Timestamp) -> Result<(), StoreError> {
    let swaps = store.shift_swaps(now - KEEP).await?;
    let mut by_schedule: BTreeMap<String, Vec<Override>> = BTreeMap::new();
    for swap in &swaps {
        match to_override(swap) {
            Ok(o) => by_schedule.entry(swap.schedule.clone()).or_default().push(o),
            Err(e) => warn!(swap = swap.id, "a stored shift swap is not valid: {e}"),
        }
    }
    live.set_overrides(&by_schedule);
    Ok(())
}

/// Reload the swaps (after a change here, or one made by another instance).
pub async fn reload(service: &IncidentService) -> Result<(), StoreError> {
    load_into(service.store().as_ref(), &service.config().on_call, service.now()).await
}

/// Record a swap approved by `by`; audited.
pub async fn record(service: &IncidentService, mut swap: ShiftSwap) -> Result<ShiftSwap, SwapError> {
    let config = service.config();
    if !config.schedules.contains_key(&swap.schedule) {
        return Err(SwapError::UnknownSchedule(swap.schedule));
    }
    for p in [Some(&swap.person), swap.replaces.as_ref(), swap.requested_by.as_ref()].into_iter().flatten() {
        if config.catalogue.person(&p.0).is_none() {
            return Err(SwapError::UnknownPerson(p.0.clone()));
        }
    }
    to_override(&swap)?;
    let now = service.now();
    swap.created_at = now;
    let mut tx = service.store().begin().await?;
    let stored = tx.insert_shift_swap(&swap).await?;
    let entry = AuditEntry {
        at: now,
        actor: Actor::Person(stored.approved_by.clone()),
        action: "shift_swap".into(),
        subject: format!("schedule:{}:swap:{}", stored.schedule, stored.id),
        detail: serde_json::to_value(&stored).unwrap_or_default(),
    };
    service.audit(tx.as_mut(), vec![entry]).await?;
    tx.commit().await?;
    reload(service).await?;
    Ok(stored)
}

/// Cancel a swap; false if there was none running. Audited.
pub async fn cancel(
    service: &IncidentService,
    schedule: &str,
    id: i64,
    by: &crate::domain::PersonId,
) -> Result<bool, StoreError> {
    let now = service.now();
    let mut tx = service.store().begin().await?;
    if !tx.cancel_shift_swap(schedule, id, now).await? {
        return Ok(false);
    }
    let entry = AuditEntry {
        at: now,
        actor: Actor::Person(by.clone()),
        action: "cancel_shift_swap".into(),
        subject: format!("schedule:{schedule}:swap:{id}"),
        detail: serde_json::json!({}),
    };
    service.audit(tx.as_mut(), vec![entry]).await?;
    tx.commit().await?;
    reload(service).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PersonId;

    #[test]
    fn a_stored_swap_becomes_an_override_with_its_people() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let swap = ShiftSwap {
            id: 1,
            schedule: "onsite".into(),
            person: PersonId("lina".into()),
            replaces: Some(PersonId("zhangwei".into())),
            from: t("2026-11-27T00:30:00Z"),
            until: t("2026-11-27T09:30:00Z"),
            requested_by: Some(PersonId("zhangwei".into())),
            approved_by: PersonId("sunli".into()),
            reason: "家中有事".into(),
            created_at: t("2026-11-25T00:00:00Z"),
            cancelled_at: None,
        };
        let o = to_override(&swap).unwrap();
        assert_eq!(
            (o.person(), o.replaces(), o.requester(), o.approver()),
            ("lina", Some("zhangwei"), Some("zhangwei"), Some("sunli"))
        );
        let backwards = ShiftSwap { until: swap.from, ..swap };
        assert!(to_override(&backwards).is_err());
    }
}
