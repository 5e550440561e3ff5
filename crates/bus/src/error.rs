use std::time::Duration;

/// What went wrong talking to the bus, split by what the caller should do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BusError {
    /// The broker cannot be reached or refused for now; retry later (ingest answers 503).
    #[error("{backend} unavailable: {reason}")]
    Unavailable {
        /// Backend name.
        backend: &'static str,
        /// Cause, for logs.
        reason: String,
    },
    /// No acknowledgement within the deadline; the record may or may not be stored, so a
    /// retry may duplicate it (consumers are idempotent by event id).
    #[error("{backend} did not acknowledge within {after:?}")]
    Timeout {
        /// Backend name.
        backend: &'static str,
        /// How long we waited.
        after: Duration,
    },
    /// The broker will never take this record as it is (too large, unknown topic, ...).
    #[error("{backend} rejected the record: {reason}")]
    Rejected {
        /// Backend name.
        backend: &'static str,
        /// Cause.
        reason: String,
    },
    /// The bus is misconfigured; fix the settings.
    #[error("{backend} configuration: {reason}")]
    Config {
        /// Backend name.
        backend: &'static str,
        /// Cause.
        reason: String,
    },
    /// The publisher or subscriber was shut down.
    #[error("the bus is shutting down")]
    Closed,
}

impl BusError {
    /// Whether trying again later can succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::Timeout { .. })
    }
}
