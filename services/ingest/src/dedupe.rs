//! Remembers which provider deliveries were already accepted, so a provider's retry of a
//! delivery we acknowledged is answered `202 duplicate` instead of being published again.
//!
//! A delivery is *claimed* before its record is published and *confirmed* once the broker
//! acknowledged it; a failed publish *releases* the claim so the provider's retry goes
//! through. A repeat that arrives while the first copy is still being published is told to
//! retry (it must not get a 202 before anything is durable).
//!
//! Memory: each replica keeps the last `window` of ids, at most `max_entries` of them
//! (oldest forgotten first). With `[dedupe] redis_url` the claim is also taken in Redis
//! (`SET NX` with a TTL) so replicas share it and it survives restarts; if Redis does not
//! answer, the replica falls back to its own memory and says so in a metric. Dedupe here is
//! an optimisation: a duplicate that slips through (memory lost in a restart without Redis, a
//! retry on another replica, a publish that timed out yet landed) carries the same event id,
//! and every consumer is idempotent on that id.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use redis::{Script, aio::ConnectionManager};
use switchyard_domain::EventId;

/// Redis answers within this or the replica decides alone: a slow Redis must not slow every
/// webhook.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// What the memory says about a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Not seen: the caller owns it and must [`Dedupe::confirm`] or [`Dedupe::release`].
    New,
    /// Accepted before: answer with the same id.
    Duplicate,
    /// Another request is publishing it right now.
    InFlight,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Accepted,
}

struct Window {
    // Each id's state and the sequence number of its slot in `order`.
    entries: HashMap<Arc<str>, (State, u64)>,
    // Ids in the order they were claimed; one window is one constant duration, so the front
    // is always the first to expire.
    order: VecDeque<Slot>,
    next_seq: u64,
}

struct Slot {
    id: Arc<str>,
    at: Instant,
    seq: u64,
}

/// Delivery memory of one replica, optionally shared through Redis.
pub struct Dedupe {
    window: Duration,
    max_entries: usize,
    local: Mutex<Window>,
    shared: Option<Shared>,
}

struct Shared {
    connection: ConnectionManager,
    claim: Script,
    prefix: String,
}

impl Dedupe {
    /// A memory of `window` holding at most `max_entries` ids in this replica.
    #[must_use]
    pub fn new(window: Duration, max_entries: usize) -> Self {
        Self {
            window,
            max_entries,
            local: Mutex::new(Window {
                entries: HashMap::new(),
                order: VecDeque::new(),
                next_seq: 0,
            }),
            shared: None,
        }
    }

    /// Also shares claims through Redis under keys `<prefix>:dedupe:<event id>`.
    #[must_use]
    pub fn with_redis(mut self, connection: ConnectionManager, prefix: &str) -> Self {
        // Claim if absent; otherwise say what is there. One round trip, atomic.
        let claim = Script::new(
            r"if redis.call('SET', KEYS[1], 'pending', 'NX', 'PX', ARGV[1]) then return 'new' end
              return redis.call('GET', KEYS[1]) or 'new'",
        );
        self.shared = Some(Shared {
            connection,
            claim,
            prefix: format!("{prefix}:dedupe:"),
        });
        self
    }

    /// Claims `id` for publishing.
    pub async fn claim(&self, id: &EventId, pending_for: Duration) -> Claim {
        let local = self.claim_local(id.as_str());
        if local != Claim::New {
            return local;
        }
        let Some(shared) = &self.shared else {
            return Claim::New;
        };
        let key = format!("{}{id}", shared.prefix);
        let ttl = pending_for.as_millis().max(1).to_string();
        let mut connection = shared.connection.clone();
        let answer = tokio::time::timeout(
            REDIS_TIMEOUT,
            shared
                .claim
                .key(&key)
                .arg(ttl)
                .invoke_async::<String>(&mut connection),
        )
        .await;
        match answer {
            Ok(Ok(state)) if state == "new" => Claim::New,
            Ok(Ok(state)) => {
                let claim = if state == "accepted" {
                    Claim::Duplicate
                } else {
                    Claim::InFlight
                };
                self.settle_local(id.as_str(), claim == Claim::Duplicate);
                claim
            }
            Ok(Err(error)) => {
                shared_unavailable(&error.to_string());
                Claim::New
            }
            Err(_) => {
                shared_unavailable("timed out");
                Claim::New
            }
        }
    }

    /// Records that `id` is durable: repeats within the window are duplicates.
    pub async fn confirm(&self, id: &EventId) {
        self.settle_local(id.as_str(), true);
        if let Some(shared) = &self.shared {
            let key = format!("{}{id}", shared.prefix);
            let mut connection = shared.connection.clone();
            let window_ms = u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX);
            let mut set = redis::cmd("SET");
            set.arg(&key).arg("accepted").arg("PX").arg(window_ms);
            match tokio::time::timeout(REDIS_TIMEOUT, set.exec_async(&mut connection)).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => shared_unavailable(&error.to_string()),
                Err(_) => shared_unavailable("timed out"),
            }
        }
    }

    /// Gives up a claim whose publish failed, so the provider's retry is accepted.
    pub async fn release(&self, id: &EventId) {
        self.settle_local(id.as_str(), false);
        if let Some(shared) = &self.shared {
            let key = format!("{}{id}", shared.prefix);
            let mut connection = shared.connection.clone();
            let mut del = redis::cmd("DEL");
            del.arg(&key);
            match tokio::time::timeout(REDIS_TIMEOUT, del.exec_async(&mut connection)).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => shared_unavailable(&error.to_string()),
                Err(_) => shared_unavailable("timed out"),
            }
        }
    }

    /// Ids this replica remembers.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether this replica remembers nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        // The window holds no invariant a panicking holder could break halfway.
        self.local.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn claim_local(&self, id: &str) -> Claim {
        let now = Instant::now();
        let mut window = self.lock();
        window.expire(now, self.window, self.max_entries);
        match window.entries.get(id) {
            Some((State::Accepted, _)) => Claim::Duplicate,
            Some((State::Pending, _)) => Claim::InFlight,
            None => {
                window.remember(id, State::Pending, now);
                Claim::New
            }
        }
    }

    fn settle_local(&self, id: &str, accepted: bool) {
        let now = Instant::now();
        let mut window = self.lock();
        if accepted {
            match window.entries.get_mut(id) {
                Some(entry) => entry.0 = State::Accepted,
                None => {
                    window.remember(id, State::Accepted, now);
                    window.expire(now, self.window, self.max_entries);
                }
            }
        } else {
            // Its slot in `order` stays until it expires; `expire` skips ids no longer held.
            window.entries.remove(id);
        }
    }
}

impl Window {
    fn remember(&mut self, id: &str, state: State, now: Instant) {
        let id: Arc<str> = Arc::from(id);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.insert(id.clone(), (state, seq));
        self.order.push_back(Slot { id, at: now, seq });
    }

    fn expire(&mut self, now: Instant, window: Duration, max_entries: usize) {
        while let Some(slot) = self.order.front() {
            let expired = now.duration_since(slot.at) >= window;
            let over = self.order.len() > max_entries;
            if !expired && !over {
                break;
            }
            // Only drop the entry if this slot is its latest (a released and re-claimed id
            // has a newer slot further back).
            if self
                .entries
                .get(&slot.id)
                .is_some_and(|(_, seq)| *seq == slot.seq)
            {
                self.entries.remove(&slot.id);
            }
            self.order.pop_front();
        }
    }
}

fn shared_unavailable(reason: &str) {
    metrics::counter!("switchyard_ingest_dedupe_shared_errors_total").increment(1);
    tracing::warn!(
        reason,
        "shared dedupe memory (Redis) unavailable; deciding from this replica's memory"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> EventId {
        EventId::derive(&[s.as_bytes()])
    }

    #[tokio::test]
    async fn a_confirmed_delivery_is_a_duplicate_and_a_released_one_is_new_again() {
        let dedupe = Dedupe::new(Duration::from_secs(60), 100);
        let pending = Duration::from_secs(5);
        assert_eq!(dedupe.claim(&id("a"), pending).await, Claim::New);
        assert_eq!(dedupe.claim(&id("a"), pending).await, Claim::InFlight);
        dedupe.confirm(&id("a")).await;
        assert_eq!(dedupe.claim(&id("a"), pending).await, Claim::Duplicate);

        assert_eq!(dedupe.claim(&id("b"), pending).await, Claim::New);
        dedupe.release(&id("b")).await;
        assert_eq!(dedupe.claim(&id("b"), pending).await, Claim::New);
    }

    #[tokio::test]
    async fn ids_are_forgotten_after_the_window() {
        let dedupe = Dedupe::new(Duration::from_millis(30), 100);
        assert_eq!(
            dedupe.claim(&id("a"), Duration::from_secs(1)).await,
            Claim::New
        );
        dedupe.confirm(&id("a")).await;
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(
            dedupe.claim(&id("a"), Duration::from_secs(1)).await,
            Claim::New
        );
    }

    #[tokio::test]
    async fn memory_is_bounded_and_the_oldest_go_first() {
        let dedupe = Dedupe::new(Duration::from_secs(60), 10);
        for i in 0..100 {
            let id = id(&i.to_string());
            assert_eq!(dedupe.claim(&id, Duration::from_secs(1)).await, Claim::New);
            dedupe.confirm(&id).await;
        }
        assert!(dedupe.len() <= 11, "{} remembered", dedupe.len());
        assert_eq!(
            dedupe.claim(&id("99"), Duration::from_secs(1)).await,
            Claim::Duplicate
        );
        assert_eq!(
            dedupe.claim(&id("0"), Duration::from_secs(1)).await,
            Claim::New
        );
    }

    #[tokio::test]
    async fn released_and_reclaimed_ids_keep_their_newer_slot() {
        let dedupe = Dedupe::new(Duration::from_secs(60), 3);
        assert_eq!(
            dedupe.claim(&id("a"), Duration::from_secs(1)).await,
            Claim::New
        );
        dedupe.release(&id("a")).await;
        assert_eq!(
            dedupe.claim(&id("a"), Duration::from_secs(1)).await,
            Claim::New
        );
        dedupe.confirm(&id("a")).await;
        // Pushing the old slot of "a" out must not forget the newer acceptance.
        assert_eq!(
            dedupe.claim(&id("b"), Duration::from_secs(1)).await,
            Claim::New
        );
        assert_eq!(
            dedupe.claim(&id("c"), Duration::from_secs(1)).await,
            Claim::New
        );
        assert_eq!(
            dedupe.claim(&id("a"), Duration::from_secs(1)).await,
            Claim::Duplicate
        );
    }
}
