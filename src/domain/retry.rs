//! Retry policy for outbound messages: exponential backoff with full jitter, then dead letter.

use jiff::SignedDuration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub initial: SignedDuration,
    pub max_delay: SignedDuration,
    /// Attempts in all (the first included) before a message is dead-lettered.
    pub max_attempts: u32,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryIn(SignedDuration),
    DeadLetter,
}

impl RetryPolicy {
    /// `attempts` is how many attempts have been made so far (≥ 1); `jitter` is a uniform sample in
    /// [0, 1). A provider's own `retry_after` wins when it asks for longer.
    pub fn after_failure(
        &self,
        attempts: u32,
        jitter: f64,
        retry_after: Option<SignedDuration>,
        permanent: bool,
    ) -> AfterFailure {
        if permanent || attempts >= self.max_attempts {
            return AfterFailure::DeadLetter;
        }
        let exp = attempts.saturating_sub(1).min(30);
        let ceiling_ms =
            (self.initial.as_millis() as f64 * 2f64.powi(exp as i32)).min(self.max_delay.as_millis() as f64);
        // Half fixed, half random ("equal jitter"): spreads retries without collapsing to zero.
        let jitter = jitter.clamp(0.0, 1.0);
        let delay_ms = ceiling_ms / 2.0 + ceiling_ms / 2.0 * jitter;
        let mut delay = SignedDuration::from_millis(delay_ms.round() as i64);
        if let Some(asked) = retry_after
            && asked > delay
        {
            delay = asked;
        }
        AfterFailure::RetryIn(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            initial: SignedDuration::from_secs(2),
            max_delay: SignedDuration::from_secs(60),
            max_attempts: 5,
        }
    }

    #[test]
    fn grows_exponentially_within_jitter_bounds() {
        let p = policy();
        for attempts in 1..5u32 {
            let ceiling = (2_000i64 << (attempts - 1)).min(60_000);
            for jitter in [0.0, 0.5, 0.999] {
                let AfterFailure::RetryIn(d) = p.after_failure(attempts, jitter, None, false) else {
                    panic!("dead too early")
                };
                assert!(d.as_millis() as i64 >= ceiling / 2, "{attempts} {jitter} {d:?}");
                assert!(d.as_millis() as i64 <= ceiling, "{attempts} {jitter} {d:?}");
            }
        }
    }

    #[test]
    fn caps_at_max_delay() {
        let p = RetryPolicy { max_attempts: 100, ..policy() };
        let AfterFailure::RetryIn(d) = p.after_failure(40, 0.999, None, false) else { panic!() };
        assert!(d <= SignedDuration::from_secs(60));
    }

    #[test]
    fn dead_letters_after_the_limit_or_a_permanent_error() {
        let p = policy();
        assert_eq!(p.after_failure(5, 0.3, None, false), AfterFailure::DeadLetter);
        assert_eq!(p.after_failure(1, 0.3, None, true), AfterFailure::DeadLetter);
    }

    #[test]
    fn honours_a_longer_retry_after() {
        let p = policy();
        let asked = SignedDuration::from_secs(7);
        assert_eq!(p.after_failure(1, 0.0, Some(asked), false), AfterFailure::RetryIn(asked));
    }
}
