//! The durable timer loop. Timers are rows; this loop sleeps until the earliest is due (or until it
//! is woken because a new one was armed, or a poll interval passes so that timers armed by other
//! instances are seen), then fires the due ones. Nothing lives only in memory: after a restart the
//! loop simply reads the next due time again.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::incidents::IncidentService;

/// Timers fired per transaction.
pub const BATCH: u32 = 100;

pub async fn run(
    service: Arc<IncidentService>,
    wake: Arc<Notify>,
    poll: Duration,
    cancel: CancellationToken,
) {
    loop {
        if cancel.is_cancelled() {
            return;
        }
        match service.fire_due_timers(BATCH).await {
            Ok(n) if n as u32 == BATCH => continue,
            Ok(_) => {}
            Err(e) => {
                warn!("firing timers failed: {e}");
                if sleep_or_cancel(Duration::from_secs(1), &cancel).await {
                    return;
                }
                continue;
            }
        }
        let wait = match service.store().next_timer_due().await {
            Ok(Some(due)) => {
                let ms = due.as_millisecond() - service.now().as_millisecond();
                Duration::from_millis(ms.clamp(0, poll.as_millis() as i64) as u64)
            }
            Ok(None) => poll,
            Err(e) => {
                warn!("reading the next timer failed: {e}");
                Duration::from_secs(1)
            }
        };
        if wait.is_zero() {
            continue;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// True when cancelled.
pub(crate) async fn sleep_or_cancel(d: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}
