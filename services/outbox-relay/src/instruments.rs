//! What the relay reports, as typed values: each one both counts and, where an operator needs
//! it, logs, so the names live in one place.

use std::time::Duration;

use chrono::{DateTime, Utc};
use switchyard_store::outbox::UndecodableRow;

use crate::relay::Stage;

/// Events published and marked (counted when the batch's transaction committed).
pub const PUBLISHED_TOTAL: &str = "switchyard_outbox_relay_published_total";
/// Seconds from claim to commit of one batch, by outcome (`published`, `failed`).
pub const BATCH_SECONDS: &str = "switchyard_outbox_relay_batch_duration_seconds";
/// Seconds from enqueue (the row's `created_at`) to the broker's acknowledgement.
pub const LAG_SECONDS: &str = "switchyard_outbox_relay_enqueue_to_publish_seconds";
/// Batches that failed, by stage (`claim`, `dead_letter`, `publish`, `mark`, `commit`).
pub const FAILURES_TOTAL: &str = "switchyard_outbox_relay_batch_failures_total";
/// Rows waiting to be published (counted up to [`crate::upkeep::BACKLOG_COUNT_CAP`]).
pub const PENDING: &str = "switchyard_outbox_relay_pending";
/// Age of the oldest pending row, 0 when none is pending.
pub const OLDEST_PENDING_SECONDS: &str = "switchyard_outbox_relay_oldest_pending_seconds";
/// Rows that did not decode into an event, dead-lettered and moved to `outbox_failed`.
pub const FAILED_TOTAL: &str = "switchyard_outbox_relay_failed_total";
/// Rows in `outbox_failed`, waiting for an operator (counted up to
/// [`crate::upkeep::BACKLOG_COUNT_CAP`]); not part of [`PENDING`].
pub const FAILED: &str = "switchyard_outbox_relay_failed";
/// Published rows deleted by pruning.
pub const PRUNED_TOTAL: &str = "switchyard_outbox_relay_pruned_total";

/// One batch published and committed.
pub(crate) struct BatchPublished<'a> {
    /// When each published row was enqueued.
    pub created: &'a [DateTime<Utc>],
    /// When the broker acknowledged the last record.
    pub acked: DateTime<Utc>,
    /// Claim to commit.
    pub took: Duration,
}

impl BatchPublished<'_> {
    pub(crate) fn record(&self) {
        metrics::counter!(PUBLISHED_TOTAL).increment(self.created.len() as u64);
        metrics::histogram!(BATCH_SECONDS, "outcome" => "published")
            .record(self.took.as_secs_f64());
        let lag = metrics::histogram!(LAG_SECONDS);
        for created in self.created {
            // A clock step between enqueue and ack can make this negative; such a sample
            // says nothing, so it is dropped rather than clamped to zero.
            if let Ok(waited) = (self.acked - *created).to_std() {
                lag.record(waited.as_secs_f64());
            }
        }
        tracing::debug!(
            events = self.created.len(),
            took_ms = self.took.as_millis(),
            "outbox batch published"
        );
    }
}

/// One batch that failed and was rolled back.
pub(crate) struct BatchFailed<'a> {
    pub stage: Stage,
    pub took: Duration,
    pub error: &'a dyn std::error::Error,
    /// Consecutive failures, this one included.
    pub attempt: u32,
    /// Until the next try.
    pub retry_in: Duration,
}

impl BatchFailed<'_> {
    pub(crate) fn record(&self) {
        metrics::counter!(FAILURES_TOTAL, "stage" => self.stage.as_str()).increment(1);
        metrics::histogram!(BATCH_SECONDS, "outcome" => "failed").record(self.took.as_secs_f64());
        tracing::warn!(
            stage = self.stage.as_str(),
            attempt = self.attempt,
            retry_in_ms = self.retry_in.as_millis(),
            error = %self.error,
            "outbox batch rolled back; its rows stay pending"
        );
    }
}

/// A row that does not decode, dead-lettered and set aside (recorded once its batch
/// committed). An operator has to look at it, so it is logged at `error`.
pub(crate) struct RowSetAside<'a> {
    pub row: &'a UndecodableRow,
    pub dlq_topic: &'a str,
}

impl RowSetAside<'_> {
    pub(crate) fn record(&self) {
        metrics::counter!(FAILED_TOTAL).increment(1);
        // Not the key: a routed row's key is its route's, not the tenant.
        let tenant = self
            .row
            .record
            .headers
            .get_str("ce_tenant")
            .unwrap_or_default();
        tracing::error!(
            seq = self.row.seq,
            %tenant,
            error = %self.row.error,
            dlq = self.dlq_topic,
            "outbox row does not decode into an event: dead-lettered and moved to \
             outbox_failed; the tenant's later rows go on"
        );
    }
}

/// A backlog measurement.
pub(crate) struct Backlog {
    pub pending: i64,
    pub oldest_age: Duration,
    pub failed: i64,
}

impl Backlog {
    // Precision loss above 2^53 rows is irrelevant for a gauge.
    #[allow(clippy::cast_precision_loss)]
    pub(crate) fn record(&self) {
        metrics::gauge!(PENDING).set(self.pending as f64);
        metrics::gauge!(OLDEST_PENDING_SECONDS).set(self.oldest_age.as_secs_f64());
        metrics::gauge!(FAILED).set(self.failed as f64);
    }
}

/// A pruning run.
pub(crate) struct Pruned {
    pub rows: u64,
    pub took: Duration,
}

impl Pruned {
    pub(crate) fn record(&self) {
        metrics::counter!(PRUNED_TOTAL).increment(self.rows);
        if self.rows > 0 {
            tracing::info!(
                rows = self.rows,
                took_ms = self.took.as_millis(),
                "pruned published outbox rows"
            );
        }
    }
}
