use std::time::Duration;

use async_trait::async_trait;

use crate::Delivery;

/// Where a group with no committed position starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartFrom {
    /// The oldest retained record (what a new audit or replay consumer wants).
    #[default]
    Earliest,
    /// Only records published after the group first joined.
    Latest,
}

/// How a failing handler is retried before its record goes to the DLQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Handler attempts per record, counting the first; at least 1.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles each time, with jitter.
    pub initial_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// For failures that say a dependency is away (the broker, a database), never that the
    /// record is bad: keep trying, from 200 ms up to 10 s apart, and never dead-letter a good
    /// record for an outage.
    pub const UNTIL_BACK: Self = Self {
        max_attempts: u32::MAX,
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(10),
    };

    /// The wait after failed attempt `attempt` (1-based): exponential, capped, with "equal
    /// jitter" (half fixed, half random) so a fleet of consumers does not retry in lockstep.
    #[must_use]
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let capped = exp.min(self.max_backoff);
        let half = capped / 2;
        half + half.mul_f64(rand::random::<f64>())
    }
}

/// A consumer group's subscription.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Consumer group: members of one group share the partitions; each group gets every record.
    pub group: String,
    /// Topics to read.
    pub topics: Vec<String>,
    /// Retries before dead-lettering.
    pub retry: RetryPolicy,
    /// Where records go that the handler rejects or keeps failing.
    pub dlq_topic: String,
    /// Starting point for a group with no committed position.
    pub start: StartFrom,
}

/// Why a handler did not finish a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Might work later (a dependency is down): retried per the policy, then dead-lettered.
    #[error("{0}")]
    Retry(String),
    /// Will never work (malformed record): dead-lettered at once.
    #[error("{0}")]
    Reject(String),
}

/// Processes one record. Returning `Ok` acknowledges it: it will not be delivered to this
/// group again (barring a crash before the acknowledgement is stored).
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Handles `delivery`.
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError>;
}

#[async_trait]
impl<F, Fut> Handler for F
where
    F: Fn(Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        self(delivery.clone()).await
    }
}

/// Handles a run of consecutive records of one partition at once, in order. A handler that
/// publishes can then pipeline its publishes (one acknowledgement wait per batch instead of
/// one per record) without giving up order or commit-after-durable.
#[async_trait]
pub trait BatchHandler: Send + Sync + 'static {
    /// Handles `batch`. `Ok(rejected)` finishes it: the records at the listed indexes are
    /// dead-lettered with their reason, the others are acknowledged. `Err(Retry)` runs the
    /// whole batch again after a backoff (records a retry repeats must be idempotent, as they
    /// are for every consumer); when attempts run out, or on `Err(Reject)`, every record of
    /// the batch is dead-lettered.
    async fn handle_batch(&self, batch: &[Delivery]) -> Result<Vec<(usize, String)>, HandlerError>;
}

/// A batch handler fed one record at a time, for backends without native batches.
pub(crate) struct OneByOne(pub(crate) std::sync::Arc<dyn BatchHandler>);

#[async_trait]
impl Handler for OneByOne {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let mut rejected = self.0.handle_batch(std::slice::from_ref(delivery)).await?;
        match rejected.pop() {
            Some((_, reason)) => Err(HandlerError::Reject(reason)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered_within_bounds() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        for _ in 0..100 {
            let first = policy.backoff(1);
            assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first));
            let third = policy.backoff(3);
            assert!((Duration::from_millis(200)..=Duration::from_millis(400)).contains(&third));
            let late = policy.backoff(30);
            assert!((Duration::from_millis(500)..=Duration::from_secs(1)).contains(&late));
        }
    }
}
