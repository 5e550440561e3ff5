//! Periodic work beside the relay: the backlog gauges (pending rows, and the rows set aside
//! in `outbox_failed` apart from them) and pruning of published rows.
//!
//! Every replica runs it. Two replicas pruning at once merely delete different chunks (or
//! wait briefly for each other's row locks); the backlog query reads only the index of
//! pending rows, so its cost follows the backlog, capped, not the table
//! (`Store::outbox_backlog`).

use std::time::{Duration, Instant};

use chrono::Utc;
use switchyard_runtime::{Shutdown, settings::OutboxSettings};
use switchyard_store::{Store, StoreError};

use crate::instruments::{Backlog, Pruned};

/// The backlog gauge counts at most this many pending rows (beyond it, the oldest row's age
/// says more than the count).
pub const BACKLOG_COUNT_CAP: i64 = 1_000_000;

/// How often the backlog gauges are refreshed.
const BACKLOG_EVERY: Duration = Duration::from_secs(10);

/// Runs until shutdown.
pub(crate) async fn run(store: Store, settings: OutboxSettings, shutdown: Shutdown) {
    let mut backlog = tokio::time::interval(BACKLOG_EVERY);
    let mut prune = tokio::time::interval(Duration::from_secs(settings.prune_interval_secs));
    backlog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let retain = Duration::from_secs(settings.retain_published_secs);
    loop {
        tokio::select! {
            () = shutdown.triggered() => return,
            _ = backlog.tick() => match measure_backlog(&store).await {
                Ok(measured) => measured.record(),
                Err(error) => tracing::warn!(%error, "cannot measure the outbox backlog"),
            },
            _ = prune.tick() => {
                let started = Instant::now();
                // A prune runs in short statements; letting the current one finish on
                // shutdown keeps the drain short anyway.
                match store.prune_published(retain, settings.prune_chunk).await {
                    Ok(rows) => Pruned { rows, took: started.elapsed() }.record(),
                    Err(error) => tracing::warn!(%error, "cannot prune published outbox rows"),
                }
            }
        }
    }
}

async fn measure_backlog(store: &Store) -> Result<Backlog, StoreError> {
    let backlog = store.outbox_backlog(BACKLOG_COUNT_CAP).await?;
    let oldest_age = backlog
        .oldest
        .and_then(|created| (Utc::now() - created).to_std().ok())
        .unwrap_or_default();
    Ok(Backlog {
        pending: backlog.pending,
        oldest_age,
        failed: backlog.failed,
    })
}
