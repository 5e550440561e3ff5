//! The in-memory engine, for `switchyard dev`: every service of one process on one store, no
//! database installed. Selected by `database.url = "memory://<name>"`.
//!
//! One mutex over all tables: each unit of work (a batch insert, a configuration write with
//! its change event, a relay's commit) runs under it, which is what makes it atomic and
//! isolated, and is cheap at a laptop's load. Growth is bounded (the crate documentation
//! lists the limits); nothing survives the process.

mod config;
mod engine;
mod events;
mod outbox;
mod records;

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError},
};

use tokio::sync::watch;

use crate::{backend::Backend, error::StoreError};

/// Events kept; beyond it, the oldest stored is dropped.
pub const MAX_EVENTS: usize = 100_000;
/// Delivery attempts kept; beyond it, the oldest stored is dropped.
pub const MAX_DELIVERY_ATTEMPTS: usize = 100_000;
/// Dead letters kept; beyond it, the oldest stored is dropped.
pub const MAX_DEAD_LETTERS: usize = 10_000;
/// Outbox rows waiting for a relay; an enqueue beyond it is refused with the transient
/// [`StoreError::Full`], as a database would push back on a writer.
pub const MAX_PENDING_OUTBOX: usize = 100_000;
/// Published outbox rows remembered for idempotency until pruned; beyond it, the oldest is
/// forgotten early.
pub const MAX_PUBLISHED_OUTBOX: usize = 100_000;

/// The stores of this process by name: `memory://dev` opened by two services is one store,
/// as one database would be. Entries live as long as the process, like a database outlives
/// the services that use it.
static STORES: LazyLock<Mutex<HashMap<String, Arc<MemoryStore>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Every table, behind the one lock.
#[derive(Default)]
struct State {
    events: events::Events,
    deliveries: records::Deliveries,
    dead_letters: records::DeadLetters,
    outbox: outbox::Outbox,
    config: config::Config,
}

/// What the store and its open claims share.
struct Shared {
    state: Mutex<State>,
    /// Counts enqueues that inserted rows; relays watch it to wake at once.
    outbox_changed: watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic under the lock leaves each table consistent (every unit checks before it
        // writes), so carrying on is safe.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn outbox_changed(&self) {
        self.outbox_changed.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// One in-memory store.
pub(crate) struct MemoryStore {
    shared: Arc<Shared>,
}

impl MemoryStore {
    /// The process's store called `name`, created on first use.
    pub(crate) fn named(name: &str) -> Result<Arc<dyn Backend>, StoreError> {
        let valid = !name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid {
            return Err(StoreError::Config {
                key: "database.url",
                reason: "memory://<name> needs a name of 1 to 128 ASCII letters, digits, '-', \
                         '_' or '.', e.g. memory://dev"
                    .into(),
            });
        }
        let mut stores = STORES.lock().unwrap_or_else(PoisonError::into_inner);
        let store = stores
            .entry(name.to_owned())
            .or_insert_with(|| {
                tracing::info!(name, "created in-memory store");
                Arc::new(Self {
                    shared: Arc::new(Shared {
                        state: Mutex::new(State::default()),
                        outbox_changed: watch::Sender::new(0),
                    }),
                })
            })
            .clone();
        Ok(store)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }
}

/// Drops the oldest entries of a retention queue until at most `cap` remain, removing each
/// from its table with `remove`.
fn enforce_cap<K>(
    queue: &mut std::collections::VecDeque<(chrono::DateTime<chrono::Utc>, K)>,
    cap: usize,
    mut remove: impl FnMut(K),
) {
    while queue.len() > cap {
        if let Some((_, key)) = queue.pop_front() {
            remove(key);
        }
    }
}

/// Removes every entry of a retention queue stored before `cutoff`; returns how many.
fn prune_before<K>(
    queue: &mut std::collections::VecDeque<(chrono::DateTime<chrono::Utc>, K)>,
    cutoff: chrono::DateTime<chrono::Utc>,
    mut remove: impl FnMut(K),
) -> u64 {
    let mut pruned = 0;
    while queue.front().is_some_and(|(at, _)| *at < cutoff) {
        if let Some((_, key)) = queue.pop_front() {
            remove(key);
            pruned += 1;
        }
    }
    pruned
}

/// `now - older_than`, saturating at the earliest representable time.
fn cutoff(older_than: std::time::Duration) -> chrono::DateTime<chrono::Utc> {
    let now = chrono::Utc::now();
    chrono::TimeDelta::from_std(older_than)
        .ok()
        .and_then(|age| now.checked_sub_signed(age))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
}
