//! The replica's fan-out: every event of the events topic goes to its tenant's room, where it
//! joins the tenant's history and is offered to the connections the index selects. Offering
//! never waits, so one slow connection cannot hold up the others or the consumer.
//!
//! Joining, resuming and changing a subscription happen under the same room lock as the
//! fan-out, so a resuming client gets each event exactly once: either from the history or
//! from the live stream, never both and never neither.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use switchyard_domain::{Event, TenantId};
use tokio::time::Instant;

use crate::{
    filter::Filter,
    frame::{EventFrame, Outbound},
    history::{History, Resume},
    index::{ConnId, Index, Subscriber},
    link::{Link, Offer},
};

#[derive(Debug)]
struct Room {
    index: Index,
    history: History,
}

/// Every tenant's connections and history on this replica.
#[derive(Debug)]
pub struct Hub {
    rooms: RwLock<HashMap<TenantId, Arc<Mutex<Room>>>>,
    next_id: AtomicU64,
    history_size: usize,
    history_ttl: Duration,
    owner_field: Option<String>,
}

/// What one event's fan-out did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Fanout {
    /// Connections it was queued for.
    pub queued: usize,
    /// Connections whose queue was full (now being closed with 4008).
    pub overflowed: usize,
}

/// Queue depths at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct QueueStats {
    /// Connections in the index.
    pub connections: usize,
    /// Messages queued over all of them.
    pub queued: usize,
    /// The deepest queue.
    pub deepest: usize,
}

impl Hub {
    /// An empty hub keeping `history_size` events per tenant for `history_ttl`, reading each
    /// event's owner from the JSON pointer `owner_field` when there is one.
    #[must_use]
    pub fn new(
        history_size: usize,
        history_ttl: Duration,
        owner_field: Option<String>,
    ) -> Arc<Self> {
        Arc::new(Self {
            rooms: RwLock::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            history_size,
            history_ttl,
            owner_field,
        })
    }

    /// Runs `f` on `tenant`'s room, creating it if needed. The map lock is held across, so
    /// [`Hub::sweep`] cannot drop a room between lookup and use.
    fn with_room<T>(&self, tenant: &TenantId, f: impl FnOnce(&Arc<Mutex<Room>>) -> T) -> T {
        {
            let rooms = self.rooms.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(room) = rooms.get(tenant) {
                return f(room);
            }
        }
        let mut rooms = self.rooms.write().unwrap_or_else(PoisonError::into_inner);
        let room = rooms.entry(tenant.clone()).or_insert_with(|| {
            Arc::new(Mutex::new(Room {
                index: Index::default(),
                history: History::new(self.history_size, self.history_ttl),
            }))
        });
        f(room)
    }

    /// Records `event` in its tenant's history and offers it to the matching connections.
    pub fn publish(&self, event: &Event, now: Instant) -> Fanout {
        let frame = EventFrame::new(event, self.owner_field.as_deref());
        self.with_room(event.tenant(), |room| {
            let mut room = room.lock().unwrap_or_else(PoisonError::into_inner);
            room.history.push(frame.clone(), now);
            let mut fanout = Fanout::default();
            let mut gone = Vec::new();
            for subscriber in room.index.matching(
                &frame.event_type,
                frame.subject.as_deref(),
                frame.owner.as_deref(),
            ) {
                match subscriber.link.offer(Outbound::Event(frame.clone())) {
                    Offer::Queued => fanout.queued += 1,
                    Offer::Overflowed => {
                        fanout.overflowed += 1;
                        gone.push(subscriber.id);
                    }
                    Offer::Gone => gone.push(subscriber.id),
                }
            }
            // A stopped connection gets nothing more; its task removes it too, harmlessly.
            for id in gone {
                room.index.remove(id);
            }
            fanout
        })
    }

    /// Adds a connection of `tenant` with `filter`. With `since`, also returns what it missed
    /// after that event id (or a gap), consistent with the live stream that follows.
    pub fn join(
        self: &Arc<Self>,
        tenant: &TenantId,
        filter: Filter,
        link: Arc<Link>,
        since: Option<&str>,
        now: Instant,
    ) -> (Membership, Option<Resume>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (room, resume) = self.with_room(tenant, |room_arc| {
            let mut room = room_arc.lock().unwrap_or_else(PoisonError::into_inner);
            let resume = since.map(|last| {
                room.history.after(last, now, |frame| {
                    filter.matches(
                        &frame.event_type,
                        frame.subject.as_deref(),
                        frame.owner.as_deref(),
                    )
                })
            });
            room.index.insert(Subscriber {
                id,
                filter,
                link: link.clone(),
            });
            (room_arc.clone(), resume)
        });
        (Membership { room, id, link }, resume)
    }

    /// Expires old history and forgets tenants with neither connections nor history.
    pub fn sweep(&self, now: Instant) {
        let mut rooms = self.rooms.write().unwrap_or_else(PoisonError::into_inner);
        rooms.retain(|_, room| {
            let mut room = room.lock().unwrap_or_else(PoisonError::into_inner);
            room.history.expire(now);
            !(room.index.is_empty() && room.history.is_empty())
        });
    }

    /// Queue depths now (a scan of every connection: for periodic sampling only).
    #[must_use]
    pub fn queue_stats(&self) -> QueueStats {
        let rooms = self.rooms.read().unwrap_or_else(PoisonError::into_inner);
        let mut stats = QueueStats::default();
        for room in rooms.values() {
            let room = room.lock().unwrap_or_else(PoisonError::into_inner);
            for subscriber in room.index.subscribers() {
                let queued = subscriber.link.queued();
                stats.connections += 1;
                stats.queued += queued;
                stats.deepest = stats.deepest.max(queued);
            }
        }
        stats
    }
}

/// A connection's place in its tenant's room; leaving the room on drop.
#[derive(Debug)]
pub struct Membership {
    room: Arc<Mutex<Room>>,
    id: ConnId,
    link: Arc<Link>,
}

impl Membership {
    /// Replaces the connection's filter; the next event already follows the new one.
    pub fn resubscribe(&self, filter: Filter) {
        let mut room = self.room.lock().unwrap_or_else(PoisonError::into_inner);
        if self.link.is_stopped() {
            return;
        }
        room.index.insert(Subscriber {
            id: self.id,
            filter,
            link: self.link.clone(),
        });
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        let mut room = self.room.lock().unwrap_or_else(PoisonError::into_inner);
        room.index.remove(self.id);
    }
}

#[cfg(test)]
mod tests {
    use switchyard_domain::{EventId, EventType};
    use tokio::sync::mpsc;
    use tokio_util::sync::CancellationToken;

    use super::*;

    fn event(tenant: &str, event_type: &str, n: usize) -> Event {
        Event::builder(
            TenantId::parse(tenant).unwrap(),
            EventId::parse(&format!("evt_{tenant}_{n}")).unwrap(),
            "/test",
            EventType::parse(event_type).unwrap(),
        )
        .build()
        .unwrap()
    }

    fn received(rx: &mut mpsc::Receiver<Outbound>) -> Vec<String> {
        let mut ids = Vec::new();
        while let Ok(message) = rx.try_recv() {
            match message {
                Outbound::Event(frame) => ids.push(frame.id.clone()),
                Outbound::Control(_) => ids.push("CONTROL".into()),
            }
        }
        ids
    }

    fn tenant(name: &str) -> TenantId {
        TenantId::parse(name).unwrap()
    }

    #[tokio::test]
    async fn events_reach_only_their_tenant_and_matching_filters() {
        let hub = Hub::new(100, Duration::from_secs(60), None);
        let now = Instant::now();
        let (all, mut all_rx) = Link::new(16, CancellationToken::new());
        let (only_b, mut b_rx) = Link::new(16, CancellationToken::new());
        let (other, mut other_rx) = Link::new(16, CancellationToken::new());
        let _m1 = hub.join(&tenant("acme"), Filter::everything(), all, None, now);
        let _m2 = hub.join(
            &tenant("acme"),
            Filter::parse(Some("b.*"), None).unwrap(),
            only_b,
            None,
            now,
        );
        let _m3 = hub.join(&tenant("globex"), Filter::everything(), other, None, now);
        hub.publish(&event("acme", "a.x", 1), now);
        hub.publish(&event("acme", "b.x", 2), now);
        assert_eq!(received(&mut all_rx), ["evt_acme_1", "evt_acme_2"]);
        assert_eq!(received(&mut b_rx), ["evt_acme_2"]);
        assert!(received(&mut other_rx).is_empty());
    }

    #[tokio::test]
    async fn resume_replays_then_continues_live_without_duplicates() {
        let hub = Hub::new(100, Duration::from_secs(60), None);
        let now = Instant::now();
        for n in 1..=3 {
            hub.publish(&event("acme", "a.x", n), now);
        }
        let (link, mut rx) = Link::new(16, CancellationToken::new());
        let (_membership, resume) = hub.join(
            &tenant("acme"),
            Filter::everything(),
            link,
            Some("evt_acme_1"),
            now,
        );
        let Some(Resume::Missed(missed)) = resume else {
            panic!("expected a replay, got {resume:?}");
        };
        let missed: Vec<_> = missed.iter().map(|f| f.id.clone()).collect();
        assert_eq!(missed, ["evt_acme_2", "evt_acme_3"]);
        hub.publish(&event("acme", "a.x", 4), now);
        assert_eq!(received(&mut rx), ["evt_acme_4"]);
    }

    #[tokio::test]
    async fn a_full_queue_drops_only_that_connection() {
        let hub = Hub::new(100, Duration::from_secs(60), None);
        let now = Instant::now();
        let (slow, _slow_rx) = Link::new(4, CancellationToken::new());
        let (fast, mut fast_rx) = Link::new(64, CancellationToken::new());
        let _m1 = hub.join(
            &tenant("acme"),
            Filter::everything(),
            slow.clone(),
            None,
            now,
        );
        let _m2 = hub.join(&tenant("acme"), Filter::everything(), fast, None, now);
        let mut overflowed = 0;
        for n in 0..10 {
            overflowed += hub.publish(&event("acme", "a.x", n), now).overflowed;
        }
        assert_eq!(overflowed, 1, "dropped once, then out of the index");
        assert!(slow.is_stopped());
        let got = received(&mut fast_rx);
        assert_eq!(got.iter().filter(|id| id.as_str() != "CONTROL").count(), 10);
    }

    #[tokio::test]
    async fn dropping_a_membership_leaves_the_room_and_sweep_forgets_it() {
        let hub = Hub::new(0, Duration::from_secs(60), None);
        let now = Instant::now();
        let (link, _rx) = Link::new(4, CancellationToken::new());
        let (membership, _) = hub.join(&tenant("acme"), Filter::everything(), link, None, now);
        assert_eq!(hub.queue_stats().connections, 1);
        drop(membership);
        assert_eq!(hub.queue_stats().connections, 0);
        hub.sweep(now);
        assert!(hub.rooms.read().unwrap().is_empty());
    }
}
