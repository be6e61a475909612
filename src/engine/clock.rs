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
