//! Waking the relay as soon as rows are committed to the outbox, instead of at the next
//! poll: `Store::watch_outbox`, a dedicated `LISTEN` connection on PostgreSQL and the
//! store's own signal in memory.
//!
//! Losing the PostgreSQL connection loses notifications, never rows: the relay also polls,
//! and every (re)connection wakes it once to pick up whatever committed while nobody
//! listened.

use std::sync::Arc;

use switchyard_runtime::Shutdown;
use switchyard_store::Store;
use tokio::sync::Notify;

/// Wakes the relay on every commit to `store`'s outbox until shutdown, whichever engine
/// holds it.
pub async fn follow(store: Store, wake: Arc<Notify>, shutdown: Shutdown) {
    store.watch_outbox(&wake, &shutdown).await;
}
