//! The outbox dispatcher: leases due messages, delivers them through their sink, and records the
//! result — sent, retry later (exponential backoff with jitter, or the receiver's `Retry-After`),
//! or dead-lettered. A message leased by an instance that dies is due again when its lease ends.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use jiff::SignedDuration;
use rand::RngExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info_span, warn};

use super::clock::Clock;
use super::paging::PAGING_SINK;
use super::sinks::{DeliveryError, Sink};
use super::timers::sleep_or_cancel;
use crate::config::OutboxConfig;
use crate::domain::AfterFailure;
use crate::metrics::Metrics;
use crate::store::{OutboxMessage, SharedStore};

const BATCH: u32 = 16;

pub struct Dispatcher {
    pub store: SharedStore,
    pub clock: Arc<dyn Clock>,
    pub sinks: HashMap<String, Box<dyn Sink>>,
    pub config: OutboxConfig,
    /// This instance's name in leases.
    pub worker: String,
    pub metrics: Arc<Metrics>,
}

impl Dispatcher {
    pub async fn run(self, wake: Arc<Notify>, poll: Duration, cancel: CancellationToken) {
        loop {
            if cancel.is_cancelled() {
                return;
            }
            let now = self.clock.now();
            let batch = match self.store.claim_outbox(&self.worker, now, self.config.lease, BATCH).await {
                Ok(batch) => batch,
                Err(e) => {
                    warn!("claiming outbox messages failed: {e}");
                    if sleep_or_cancel(Duration::from_secs(1), &cancel).await {
                        return;
                    }
                    continue;
                }
            };
            if !batch.is_empty() {
                // Messages about one incident to one sink go out in order ("resolved" before
                // "closed"); different incidents and sinks go out side by side. Deliveries already
                // started are finished even when shutting down: the lease would otherwise hold
                // them back for its full length.
                let mut lanes: Vec<Vec<&OutboxMessage>> = Vec::new();
                for m in &batch {
                    // Pages need no order among themselves: each goes out on its own, so that a
                    // failing SMS gateway never holds back the next tier's IM page.
                    let ordered = m.sink != PAGING_SINK;
                    match lanes
                        .iter_mut()
                        .find(|l| ordered && l[0].sink == m.sink && l[0].incident_id == m.incident_id)
                    {
                        Some(lane) => lane.push(m),
                        None => lanes.push(vec![m]),
                    }
                }
                let this = &self;
                join_all(lanes.into_iter().map(|lane| async move {
                    for m in lane {
                        if !this.deliver(m).await {
                            // A failed message holds back the rest of its lane until it is retried.
                            break;
                        }
                    }
                }))
                .await;
                continue;
            }
            let wait = match self.store.next_outbox_due().await {
                Ok(Some(due)) => {
                    let ms = due.as_millisecond() - self.clock.now().as_millisecond();
                    Duration::from_millis(ms.clamp(0, poll.as_millis() as i64) as u64)
                }
                Ok(None) => poll,
                Err(_) => Duration::from_secs(1),
            };
            if wait.is_zero() {
                // Due, but leased by another instance right now: look again shortly.
                if sleep_or_cancel(Duration::from_millis(200), &cancel).await {
                    return;
                }
                continue;
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Deliver one message and record the result; true when it was delivered.
    async fn deliver(&self, m: &OutboxMessage) -> bool {
        let span = info_span!("deliver", incident = ?m.incident_id, sink = %m.sink, key = %m.idempotency_key);
        async {
            let result = match self.sinks.get(&m.sink) {
                None => Err(DeliveryError::permanent(format!("sink '{}' is no longer configured", m.sink))),
                Some(sink) => {
                    let timeout = Duration::from_millis(self.config.send_timeout.as_millis().max(1) as u64);
                    match tokio::time::timeout(timeout, sink.deliver(m)).await {
                        Ok(r) => r,
                        Err(_) => Err(DeliveryError::transient("timed out")),
                    }
                }
            };
            let now = self.clock.now();
            let delivered = result.is_ok();
            let recorded = match result {
                Ok(()) => {
                    self.metrics.outbox_result("sent");
                    self.store.outbox_sent(m.id, &self.worker, now).await
                }
                Err(e) if e.throttled => {
                    let wait = e.retry_after.unwrap_or(SignedDuration::from_secs(1));
                    debug!("delivery put off by {wait:#}: {e}");
                    self.metrics.outbox_result("throttled");
                    self.store.outbox_defer(m.id, &self.worker, now + wait, &e.message).await
                }
                Err(e) => {
                    let jitter: f64 = rand::rng().random();
                    match self.config.retry.after_failure(m.attempts, jitter, e.retry_after, e.permanent) {
                        AfterFailure::RetryIn(delay) => {
                            warn!("delivery attempt {} failed, retrying in {delay:#}: {e}", m.attempts);
                            self.metrics.outbox_result("retry");
                            self.store.outbox_retry(m.id, &self.worker, now + delay, &e.message).await
                        }
                        AfterFailure::DeadLetter => {
                            warn!("delivery failed for good after {} attempts: {e}", m.attempts);
                            self.metrics.outbox_result("dead");
                            let recorded = self.store.outbox_dead(m.id, &self.worker, &e.message).await;
                            if let Some(sink) = self.sinks.get(&m.sink)
                                && matches!(recorded, Ok(true))
                            {
                                sink.gave_up(m, &e.message).await;
                            }
                            recorded
                        }
                    }
                }
            };
            match recorded {
                Ok(true) => {}
                Ok(false) => warn!("the lease on this message ran out before its result was recorded"),
                Err(e) => warn!("recording the delivery result failed: {e}"),
            }
            delivered
        }
        .instrument(span)
        .await
    }
}
