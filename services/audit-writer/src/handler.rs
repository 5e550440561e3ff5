//! The consumer-group side: one batch of one partition becomes one `INSERT … ON CONFLICT DO
//! NOTHING` statement, and the handler returns only after it committed, so the bus stores
//! the batch's offsets only for rows that are durable (DESIGN §6).
//!
//! A database that is away or refusing is never the records' fault: the batch is retried
//! (the subscription never gives up), so the partition waits and nothing good is
//! dead-lettered. Only a record that can never be stored — it does not decode, or
//! PostgreSQL cannot hold it — goes to the DLQ, with the reason.

use std::{ops::Range, time::Instant};

use async_trait::async_trait;
use switchyard_bus::{BatchHandler, Delivery, HandlerError};
use switchyard_domain::{Event, wire::DeliveryAttempt};
use switchyard_store::{Store, StoreError};

use crate::{
    decode::{self, Decoded},
    metrics::{self, RejectKind, Table},
};

/// Writes batches of `<prefix>.events` and `<prefix>.deliveries` to the audit store.
pub struct AuditWriter {
    /// The audit store.
    pub store: Store,
    /// `<prefix>.events`.
    pub events_topic: String,
    /// `<prefix>.deliveries`.
    pub deliveries_topic: String,
}

#[async_trait]
impl BatchHandler for AuditWriter {
    async fn handle_batch(&self, batch: &[Delivery]) -> Result<Vec<(usize, String)>, HandlerError> {
        // A batch holds records of one partition, so of one topic.
        let Some(first) = batch.first() else {
            return Ok(Vec::new());
        };
        if first.topic == self.events_topic {
            self.write(Table::Events, decode::events(batch)).await
        } else if first.topic == self.deliveries_topic {
            self.write(Table::DeliveryAttempts, decode::delivery_attempts(batch))
                .await
        } else {
            Ok(batch
                .iter()
                .enumerate()
                .map(|(index, delivery)| {
                    metrics::rejected(Table::Events, RejectKind::UnknownTopic);
                    (
                        index,
                        format!("audit-writer does not store {}", delivery.topic),
                    )
                })
                .collect())
        }
    }
}

impl AuditWriter {
    #[tracing::instrument(skip_all, fields(table = table.as_str(), records = decoded.rows.len()))]
    async fn write<T: Row>(
        &self,
        table: Table,
        decoded: Decoded<T>,
    ) -> Result<Vec<(usize, String)>, HandlerError> {
        let Decoded {
            rows,
            origin,
            mut rejected,
        } = decoded;
        for (_, reason) in &rejected {
            metrics::rejected(table, RejectKind::Undecodable);
            tracing::warn!(table = table.as_str(), %reason, "record cannot be decoded; dead-lettering it");
        }
        let started = Instant::now();
        match insert_isolating(&self.store, &rows).await {
            Ok((written, unstorable)) => {
                metrics::batch_written(
                    table,
                    rows.len() - unstorable.len(),
                    written,
                    started.elapsed(),
                );
                for (index, reason) in unstorable {
                    metrics::rejected(table, RejectKind::Unstorable);
                    tracing::warn!(table = table.as_str(), %reason, "record cannot be stored; dead-lettering it");
                    rejected.push((origin[index], reason));
                }
                Ok(rejected)
            }
            Err(error) => {
                let transient = error.is_transient();
                metrics::batch_failed(table, transient, started.elapsed());
                if transient {
                    tracing::warn!(%error, "audit store unavailable; the batch will be retried");
                } else {
                    // Not the records' fault either (a schema or permission problem): hold
                    // the partition until an operator fixes the database.
                    tracing::error!(%error, "audit store refused the batch; retrying until fixed");
                }
                Err(HandlerError::Retry(format!(
                    "{} not stored: {error}",
                    table.as_str()
                )))
            }
        }
    }
}

/// A row type the store inserts in batches.
pub trait Row: Send + Sync + 'static {
    /// Inserts `rows` in one statement; returns how many were new.
    fn insert(store: &Store, rows: &[Self]) -> impl Future<Output = Result<u64, StoreError>> + Send
    where
        Self: Sized;
}

impl Row for Event {
    fn insert(
        store: &Store,
        rows: &[Self],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        store.insert_events(rows)
    }
}

impl Row for DeliveryAttempt {
    fn insert(
        store: &Store,
        rows: &[Self],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        store.insert_delivery_attempts(rows)
    }
}

/// Inserts `rows` in one statement; when the store refuses the batch because some row can
/// never be stored, splits it in halves until each such row stands alone, so the others are
/// still written with few statements (about `k·log n` for `k` bad rows). Returns the rows
/// written and the `(index, reason)` of each unstorable row. The store refuses unstorable
/// batches before sending anything, so the splitting costs no round trips of its own.
///
/// Any other error ends the call; rows already inserted by then are inserted again by the
/// retry, which `ON CONFLICT DO NOTHING` makes harmless.
pub async fn insert_isolating<T: Row>(
    store: &Store,
    rows: &[T],
) -> Result<(u64, Vec<(usize, String)>), StoreError> {
    let mut written = 0;
    let mut unstorable = Vec::new();
    let mut pending: Vec<Range<usize>> = Vec::with_capacity(8);
    pending.push(0..rows.len());
    while let Some(range) = pending.pop() {
        if range.is_empty() {
            continue;
        }
        match T::insert(store, &rows[range.clone()]).await {
            Ok(new) => written += new,
            Err(error @ StoreError::Unstorable { .. }) if range.len() == 1 => {
                unstorable.push((range.start, error.to_string()));
            }
            Err(StoreError::Unstorable { .. }) => {
                let middle = range.start + range.len() / 2;
                // Second half pushed first so the first half is written first.
                pending.push(middle..range.end);
                pending.push(range.start..middle);
            }
            Err(error) => return Err(error),
        }
    }
    unstorable.sort_unstable_by_key(|(index, _)| *index);
    Ok((written, unstorable))
}
