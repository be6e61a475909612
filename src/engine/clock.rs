//! The engine's notion of now. Production uses the system clock; tests may substitute their own.

use jiff::Timestamp;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Millisecond precision: what the store keeps, so an instant reads back equal to itself.
    fn now(&self) -> Timestamp {
        Timestamp::from_millisecond(Timestamp::now().as_millisecond())
            .expect("the present is a valid instant")
    }
}

/// A clock that moves only when told to: for tests and simulated drills. Loops that sleep "until
/// the next due time" wake at least every poll interval, so advancing it takes effect promptly.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now_ms: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock { now_ms: std::sync::Arc::new(std::sync::atomic::AtomicI64::new(start.as_millisecond())) }
    }

    pub fn advance(&self, by: jiff::SignedDuration) {
        self.now_ms.fetch_add(by.as_millis() as i64, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millisecond(self.now_ms.load(std::sync::atomic::Ordering::SeqCst))
            .expect("the manual clock stays within jiff's range")
    }
}
