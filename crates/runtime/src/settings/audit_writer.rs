use serde::Deserialize;

/// `[audit_writer]`: how events and delivery attempts reach the audit store.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AuditWriterSettings {
    /// Most records of one partition written to PostgreSQL in one statement. Larger batches
    /// cost fewer round trips; past about a thousand rows the gain is small and a retried
    /// batch repeats more work.
    pub max_batch: usize,
}

impl Default for AuditWriterSettings {
    fn default() -> Self {
        Self { max_batch: 1000 }
    }
}

impl AuditWriterSettings {
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        if !(1..=10_000).contains(&self.max_batch) {
            return Err((
                "audit_writer.max_batch".into(),
                "must be between 1 and 10000".into(),
            ));
        }
        Ok(())
    }
}
