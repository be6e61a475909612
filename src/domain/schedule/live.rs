//! The schedules as they stand now: the configured ones with the shift swaps (换班) recorded at
//! runtime merged in. Readers take a snapshot (an `Arc`), so a lookup never waits for a writer
//! and never sees half an update; a change replaces the whole set.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use super::{Override, Schedule};

#[derive(Debug)]
pub struct LiveSchedules {
    base: BTreeMap<String, Schedule>,
    current: RwLock<Arc<BTreeMap<String, Schedule>>>,
}

impl LiveSchedules {
    pub fn new(base: BTreeMap<String, Schedule>) -> LiveSchedules {
        let current = RwLock::new(Arc::new(base.clone()));
        LiveSchedules { base, current }
    }

    pub fn snapshot(&self) -> Arc<BTreeMap<String, Schedule>> {
        // A poisoned lock still holds a complete map: writers replace it in one assignment.
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replace the runtime swaps: schedule id → its swaps (those of unknown schedules are ignored).
    pub fn set_overrides(&self, swaps: &BTreeMap<String, Vec<Override>>) {
        let merged: BTreeMap<String, Schedule> = self
            .base
            .iter()
            .map(|(id, schedule)| {
                let merged = match swaps.get(id) {
                    Some(extra) if !extra.is_empty() => schedule.with_overrides(extra),
                    _ => schedule.clone(),
                };
                (id.clone(), merged)
            })
            .collect();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(merged);
    }
}
