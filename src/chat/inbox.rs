//! The chat inbox worker: handles the updates that webhooks and long polling committed, oldest
//! first, one at a time (a person's messages are answered in the order they were written). An
//! update whose handling failed (the database was away) is tried again; a worker that dies leaves
//! its updates to the next one when their lease runs out.

use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::handler::ChatHandler;
use crate::engine::Clock;
use crate::engine::timers::sleep_or_cancel;
use crate::store::SharedStore;

/// Few at a time, with a long lease: the batch is handled one by one (downloads included), and
/// an update whose lease ran out would be handled by a second instance too.
const BATCH: u32 = 4;
const LEASE: SignedDuration = SignedDuration::from_secs(300);
/// Attempts before an update is set aside with its error (a bug, not an outage).
const MAX_ATTEMPTS: u32 = 20;

pub struct InboxWorker {
    pub store: SharedStore,
    pub clock: Arc<dyn Clock>,
    pub handler: Arc<ChatHandler>,
    pub worker: String,
}

impl InboxWorker {
    pub async fn run(self, wake: Arc<Notify>, poll: Duration, cancel: CancellationToken) {
        loop {
            if cancel.is_cancelled() {
                return;
            }
            let now = self.clock.now();
            let batch = match self.store.inbox_claim(&self.worker, now, LEASE, BATCH).await {
                Ok(b) => b,
                Err(e) => {
                    warn!("claiming chat updates failed: {e}");
                    if sleep_or_cancel(Duration::from_secs(1), &cancel).await {
                        return;
                    }
                    continue;
                }
            };
            if batch.is_empty() {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(poll) => {}
                }
                continue;
            }
            for item in batch {
                let now = self.clock.now();
                let Some(update) = item.update else {
                    let _ =
                        self.store.inbox_done(item.id, &self.worker, now, Some("unreadable update")).await;
                    continue;
                };
                let result = self.handler.handle(item.provider, &update).await;
                let recorded = match result {
                    Ok(()) => self.store.inbox_done(item.id, &self.worker, self.clock.now(), None).await,
                    Err(e) if item.attempts >= MAX_ATTEMPTS => {
                        warn!(
                            update = update.id,
                            "a chat update failed {} times and is set aside: {e}", item.attempts
                        );
                        self.store
                            .inbox_done(item.id, &self.worker, self.clock.now(), Some(&e.to_string()))
                            .await
                    }
                    Err(e) => {
                        warn!(update = update.id, "a chat update could not be handled now: {e}");
                        let backoff = SignedDuration::from_secs(i64::from(item.attempts.min(6)) * 5);
                        self.store
                            .inbox_retry(item.id, &self.worker, self.clock.now() + backoff, &e.to_string())
                            .await
                    }
                };
                if let Err(e) = recorded {
                    warn!("recording a chat update's result failed: {e}");
                }
            }
        }
    }
}
