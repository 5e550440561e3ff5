//! The recent events of one tenant, kept so a client that reconnects can get what it missed.
//!
//! Bounded twice: at most `capacity` events and none older than `ttl` (by arrival at this
//! replica). A resume point that is not found — evicted, expired, or from before this replica
//! started — is a gap: the client is told to refetch through the API.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::frame::EventFrame;

/// A tenant's recent events, oldest first.
#[derive(Debug)]
pub struct History {
    events: VecDeque<(Instant, Arc<EventFrame>)>,
    capacity: usize,
    ttl: Duration,
}

/// What a client resuming after an event id gets.
#[derive(Debug)]
pub enum Resume {
    /// The events after it, oldest first (possibly none).
    Missed(Vec<Arc<EventFrame>>),
    /// It is not in the history: events may have been missed that cannot be replayed.
    Gap {
        /// The time of the oldest event still held, if any.
        history_starts_at: Option<DateTime<Utc>>,
    },
}

impl History {
    /// An empty history of at most `capacity` events, each kept for `ttl`.
    #[must_use]
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            events: VecDeque::new(),
            capacity,
            ttl,
        }
    }

    /// Records `frame`, evicting the oldest beyond the capacity.
    pub fn push(&mut self, frame: Arc<EventFrame>, now: Instant) {
        if self.capacity == 0 {
            return;
        }
        while self.events.len() >= self.capacity {
            self.events.pop_front();
        }
        self.events.push_back((now, frame));
        self.expire(now);
    }

    /// Drops events older than the ttl.
    pub fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.events.front() {
            if now.saturating_duration_since(*at) <= self.ttl {
                break;
            }
            self.events.pop_front();
        }
    }

    /// Whether nothing is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The events after `last_event_id` that `keep` selects, or a gap.
    pub fn after(
        &mut self,
        last_event_id: &str,
        now: Instant,
        keep: impl Fn(&EventFrame) -> bool,
    ) -> Resume {
        self.expire(now);
        match self.events.iter().rposition(|(_, f)| f.id == last_event_id) {
            Some(at) => Resume::Missed(
                self.events
                    .range(at + 1..)
                    .map(|(_, f)| f)
                    .filter(|f| keep(f))
                    .cloned()
                    .collect(),
            ),
            None => Resume::Gap {
                history_starts_at: self.events.front().map(|(_, f)| f.time),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use switchyard_domain::{Event, EventId, EventType, TenantId};

    use super::*;

    fn frame(n: usize) -> Arc<EventFrame> {
        let event = Event::builder(
            TenantId::parse("acme").unwrap(),
            EventId::parse(&format!("evt_{n}")).unwrap(),
            "/acme/test",
            EventType::parse(if n.is_multiple_of(2) {
                "even.n"
            } else {
                "odd.n"
            })
            .unwrap(),
        )
        .build()
        .unwrap();
        EventFrame::new(&event, None)
    }

    fn ids(resume: Resume) -> Vec<String> {
        match resume {
            Resume::Missed(frames) => frames.iter().map(|f| f.id.clone()).collect(),
            Resume::Gap { .. } => vec!["GAP".into()],
        }
    }

    #[test]
    fn replays_what_came_after_the_last_seen_event_through_the_filter() {
        let now = Instant::now();
        let mut history = History::new(10, Duration::from_secs(60));
        for n in 0..5 {
            history.push(frame(n), now);
        }
        assert_eq!(
            ids(history.after("evt_1", now, |_| true)),
            ["evt_2", "evt_3", "evt_4"]
        );
        assert_eq!(
            ids(history.after("evt_1", now, |f| f.event_type.as_str() == "even.n")),
            ["evt_2", "evt_4"]
        );
        assert!(ids(history.after("evt_4", now, |_| true)).is_empty());
    }

    #[test]
    fn evicted_and_unknown_ids_are_gaps() {
        let now = Instant::now();
        let mut history = History::new(3, Duration::from_secs(60));
        for n in 0..5 {
            history.push(frame(n), now);
        }
        assert_eq!(ids(history.after("evt_1", now, |_| true)), ["GAP"]);
        assert_eq!(
            ids(history.after("evt_2", now, |_| true)),
            ["evt_3", "evt_4"]
        );
        assert_eq!(ids(history.after("nope", now, |_| true)), ["GAP"]);
    }

    #[test]
    fn expired_events_are_gaps() {
        let start = Instant::now();
        let mut history = History::new(10, Duration::from_secs(60));
        history.push(frame(0), start);
        history.push(frame(1), start + Duration::from_secs(50));
        let later = start + Duration::from_secs(61);
        assert_eq!(ids(history.after("evt_0", later, |_| true)), ["GAP"]);
        history.expire(start + Duration::from_secs(200));
        assert!(history.is_empty());
    }
}
