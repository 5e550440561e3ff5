use serde::Deserialize;

/// `[outbox]`: how the outbox relay moves committed outbox rows to `<prefix>.events`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OutboxSettings {
    /// Most rows claimed, published and marked in one transaction.
    pub batch_size: u32,
    /// Claim loops per relay process. Each holds one transaction (and one pooled
    /// connection) while its batch waits for the broker, so with several the next batch is
    /// claimed and published while the last one is still being acknowledged. Tenants are
    /// claimed whole under advisory locks, so loops never interleave a tenant's events.
    pub workers: u32,
    /// Milliseconds between polls when no `NOTIFY` arrives: the upper bound on the delay of
    /// a row whose notification was lost (no relay was listening when it committed).
    pub poll_interval_ms: u64,
    /// Seconds a published row is kept before pruning deletes it.
    pub retain_published_secs: u64,
    /// Seconds between pruning runs.
    pub prune_interval_secs: u64,
    /// Rows deleted per pruning statement, so a large backlog of old rows is removed in
    /// short transactions.
    pub prune_chunk: u32,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            batch_size: 500,
            workers: 2,
            poll_interval_ms: 1_000,
            retain_published_secs: 86_400,
            prune_interval_secs: 300,
            prune_chunk: 5_000,
        }
    }
}

impl OutboxSettings {
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        if !(1..=64).contains(&self.workers) {
            return Err(("outbox.workers".into(), "must be between 1 and 64".into()));
        }
        if !(1..=10_000).contains(&self.batch_size) {
            return Err((
                "outbox.batch_size".into(),
                "must be between 1 and 10000".into(),
            ));
        }
        if !(10..=3_600_000).contains(&self.poll_interval_ms) {
            return Err((
                "outbox.poll_interval_ms".into(),
                "must be between 10 and 3600000".into(),
            ));
        }
        if self.prune_interval_secs == 0 {
            return Err((
                "outbox.prune_interval_secs".into(),
                "must be at least 1".into(),
            ));
        }
        if !(1..=1_000_000).contains(&self.prune_chunk) {
            return Err((
                "outbox.prune_chunk".into(),
                "must be between 1 and 1000000".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::OutboxSettings;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(OutboxSettings::default().validate(), Ok(()));
    }

    #[test]
    fn a_zero_batch_is_refused_naming_the_key() {
        let settings = OutboxSettings {
            batch_size: 0,
            ..OutboxSettings::default()
        };
        let (key, message) = settings.validate().unwrap_err();
        assert_eq!(key, "outbox.batch_size");
        assert!(message.contains("between 1 and 10000"), "{message}");
    }
}
