//! Every query is timed into one histogram, labelled by query and outcome.

use std::{future::Future, time::Instant};

use crate::error::StoreError;

/// Runs `work` (one named query or one short sequence of them) and records how long it took
/// as `switchyard_store_query_duration_seconds{query, outcome}`.
pub(crate) async fn timed<T>(
    query: &'static str,
    work: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = work.await;
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::histogram!(
        "switchyard_store_query_duration_seconds",
        "query" => query,
        "outcome" => outcome,
    )
    .record(started.elapsed().as_secs_f64());
    result
}
