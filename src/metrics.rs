//! Counters for `/metrics` (Prometheus text format). Gauges that the database knows (open incidents,
//! outbox backlog, pending timers) are read from the store when scraped.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::SignedDuration;

use crate::store::StoreStats;

#[derive(Default)]
pub struct Metrics {
    /// (source, result) → count of webhook requests.
    requests: Mutex<BTreeMap<(String, String), u64>>,
    /// (source, disposition) → count of alerts.
    alerts: Mutex<BTreeMap<(String, String), u64>>,
    /// result → count of outbox delivery attempts.
    deliveries: Mutex<BTreeMap<String, u64>>,
    timers_fired: AtomicU64,
    timer_lag_ms_sum: AtomicU64,
    timer_lag_ms_max: AtomicU64,
}

impl Metrics {
    pub fn webhook_request(&self, source: &str, result: &str) {
        *self.requests.lock().expect("metrics lock").entry((source.into(), result.into())).or_default() += 1;
    }

    pub fn alert(&self, source: &str, disposition: &str) {
        *self.alerts.lock().expect("metrics lock").entry((source.into(), disposition.into())).or_default() +=
            1;
    }

    pub fn outbox_result(&self, result: &str) {
        *self.deliveries.lock().expect("metrics lock").entry(result.into()).or_default() += 1;
    }

    pub fn timer_fired(&self, lag: SignedDuration) {
        let ms = lag.as_millis().max(0) as u64;
        self.timers_fired.fetch_add(1, Ordering::Relaxed);
        self.timer_lag_ms_sum.fetch_add(ms, Ordering::Relaxed);
        self.timer_lag_ms_max.fetch_max(ms, Ordering::Relaxed);
    }

    pub fn render(&self, stats: &StoreStats, now_ms: i64) -> String {
        let mut out = String::new();
        header(
            &mut out,
            "zhiban_webhook_requests_total",
            "counter",
            "Webhook requests by source and result.",
        );
        for ((source, result), n) in self.requests.lock().expect("metrics lock").iter() {
            let _ =
                writeln!(out, "zhiban_webhook_requests_total{{source=\"{source}\",result=\"{result}\"}} {n}");
        }
        header(&mut out, "zhiban_alerts_total", "counter", "Alerts taken in, by source and what intake did.");
        for ((source, disposition), n) in self.alerts.lock().expect("metrics lock").iter() {
            let _ =
                writeln!(out, "zhiban_alerts_total{{source=\"{source}\",disposition=\"{disposition}\"}} {n}");
        }
        header(&mut out, "zhiban_open_incidents", "gauge", "Open incidents by severity level (1 = 一级).");
        for (level, n) in &stats.open_by_severity {
            let _ = writeln!(out, "zhiban_open_incidents{{severity=\"{level}\"}} {n}");
        }
        header(&mut out, "zhiban_incidents", "gauge", "Incidents in the store.");
        let _ = writeln!(out, "zhiban_incidents {}", stats.incidents_total);
        header(&mut out, "zhiban_outbox_backlog", "gauge", "Outbox messages waiting to be sent.");
        let _ = writeln!(out, "zhiban_outbox_backlog {}", stats.outbox_pending);
        header(&mut out, "zhiban_outbox_dead", "gauge", "Outbox messages given up (dead letters).");
        let _ = writeln!(out, "zhiban_outbox_dead {}", stats.outbox_dead);
        header(&mut out, "zhiban_outbox_deliveries_total", "counter", "Delivery attempts by result.");
        for (result, n) in self.deliveries.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "zhiban_outbox_deliveries_total{{result=\"{result}\"}} {n}");
        }
        header(&mut out, "zhiban_pages", "gauge", "Pages (呼叫) by status; watch failed and queued.");
        for (status, n) in &stats.pages_by_status {
            let _ = writeln!(out, "zhiban_pages{{status=\"{status}\"}} {n}");
        }
        header(&mut out, "zhiban_chat_inbox_backlog", "gauge", "Chat updates taken but not handled yet.");
        let _ = writeln!(out, "zhiban_chat_inbox_backlog {}", stats.chat_inbox_pending);
        header(&mut out, "zhiban_timers_pending", "gauge", "Durable timers armed.");
        let _ = writeln!(out, "zhiban_timers_pending {}", stats.timers_pending);
        header(
            &mut out,
            "zhiban_timer_lag_seconds",
            "gauge",
            "How overdue the most overdue unfired timer is.",
        );
        let lag = stats.oldest_overdue_timer.map(|t| (now_ms - t.as_millisecond()).max(0)).unwrap_or(0);
        let _ = writeln!(out, "zhiban_timer_lag_seconds {:.3}", lag as f64 / 1000.0);
        header(&mut out, "zhiban_timers_fired_total", "counter", "Timers fired by this instance.");
        let _ = writeln!(out, "zhiban_timers_fired_total {}", self.timers_fired.load(Ordering::Relaxed));
        header(
            &mut out,
            "zhiban_timer_fire_lag_seconds_sum",
            "counter",
            "Sum of (fired − due) over fired timers.",
        );
        let _ = writeln!(
            out,
            "zhiban_timer_fire_lag_seconds_sum {:.3}",
            self.timer_lag_ms_sum.load(Ordering::Relaxed) as f64 / 1000.0
        );
        header(&mut out, "zhiban_timer_fire_lag_seconds_max", "gauge", "Largest (fired − due) seen.");
        let _ = writeln!(
            out,
            "zhiban_timer_fire_lag_seconds_max {:.3}",
            self.timer_lag_ms_max.load(Ordering::Relaxed) as f64 / 1000.0
        );
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}
