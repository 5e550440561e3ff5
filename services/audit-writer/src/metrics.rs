//! What the audit-writer counts, as named values: each metric is defined once here and
//! recorded through these functions, never by string literals in the handler.

use std::time::Duration;

/// Rows newly stored, by table (`events`, `delivery_attempts`).
pub const ROWS_WRITTEN_TOTAL: &str = "switchyard_audit_writer_rows_written_total";
/// Records already stored (a replay or a duplicate publish), by table.
pub const DUPLICATES_TOTAL: &str = "switchyard_audit_writer_duplicates_total";
/// Records dead-lettered because they can never be stored, by table and reason.
pub const REJECTED_TOTAL: &str = "switchyard_audit_writer_rejected_total";
/// Seconds to write one batch (decode, insert, commit), by table and outcome.
pub const BATCH_DURATION_SECONDS: &str = "switchyard_audit_writer_batch_duration_seconds";
/// Failed database writes, by table and kind (`transient`: retried after a backoff;
/// `permanent`: also retried, and needs an operator).
pub const DB_ERRORS_TOTAL: &str = "switchyard_audit_writer_db_errors_total";

/// The table a batch goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `events`, from `<prefix>.events`.
    Events,
    /// `delivery_attempts`, from `<prefix>.deliveries`.
    DeliveryAttempts,
}

impl Table {
    /// The table's name, as used in metric labels.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::DeliveryAttempts => "delivery_attempts",
        }
    }
}

/// Why a record was dead-lettered, as a low-cardinality label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectKind {
    /// The bytes are not a record of the topic's kind.
    Undecodable,
    /// It decoded, but PostgreSQL cannot hold it (e.g. a NUL in a text value).
    Unstorable,
    /// It came from a topic the writer does not store.
    UnknownTopic,
}

impl RejectKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Undecodable => "undecodable",
            Self::Unstorable => "unstorable",
            Self::UnknownTopic => "unknown_topic",
        }
    }
}

/// A finished write: `records` offered, `written` of them new.
pub(crate) fn batch_written(table: Table, records: usize, written: u64, took: Duration) {
    let records = u64::try_from(records).unwrap_or(u64::MAX);
    metrics::counter!(ROWS_WRITTEN_TOTAL, "table" => table.as_str()).increment(written);
    metrics::counter!(DUPLICATES_TOTAL, "table" => table.as_str())
        .increment(records.saturating_sub(written));
    metrics::histogram!(BATCH_DURATION_SECONDS, "table" => table.as_str(), "outcome" => "ok")
        .record(took.as_secs_f64());
}

/// A write that failed and will be retried.
pub(crate) fn batch_failed(table: Table, transient: bool, took: Duration) {
    let kind = if transient { "transient" } else { "permanent" };
    metrics::counter!(DB_ERRORS_TOTAL, "table" => table.as_str(), "kind" => kind).increment(1);
    metrics::histogram!(BATCH_DURATION_SECONDS, "table" => table.as_str(), "outcome" => "error")
        .record(took.as_secs_f64());
}

/// A record set aside for the DLQ.
pub(crate) fn rejected(table: Table, kind: RejectKind) {
    metrics::counter!(REJECTED_TOTAL, "table" => table.as_str(), "reason" => kind.as_str())
        .increment(1);
}
