//! The audit event store in memory: per tenant, events by id and a `(time, id)` index in the
//! order listings walk, at the microsecond precision PostgreSQL orders by.

use std::{
    collections::{BTreeSet, HashMap, VecDeque},
    ops::Bound,
};

use chrono::{DateTime, Utc};
use switchyard_domain::{Event, EventId, TenantId};

use super::{MAX_EVENTS, enforce_cap, prune_before};
use crate::{Cursor, EventFilter, EventPage, Order, events::to_micros};

/// A listing's key: the event's time floored to the microsecond, then its id.
type TimeKey = (DateTime<Utc>, EventId);

#[derive(Default)]
struct TenantEvents {
    by_id: HashMap<EventId, Event>,
    by_time: BTreeSet<TimeKey>,
}

#[derive(Default)]
pub(super) struct Events {
    tenants: HashMap<TenantId, TenantEvents>,
    /// Insertion order with the time stored, for retention and the cap.
    stored: VecDeque<(DateTime<Utc>, (TenantId, EventId))>,
}

impl Events {
    /// Stores the events not stored yet; the first copy of an id wins.
    pub(super) fn insert(&mut self, events: &[Event]) -> u64 {
        let now = Utc::now();
        let mut inserted = 0;
        for event in events {
            let tenant = self.tenants.entry(event.tenant().clone()).or_default();
            if tenant.by_id.contains_key(event.id()) {
                continue;
            }
            tenant
                .by_time
                .insert((to_micros(event.time()), event.id().clone()));
            tenant.by_id.insert(event.id().clone(), event.clone());
            self.stored
                .push_back((now, (event.tenant().clone(), event.id().clone())));
            inserted += 1;
        }
        let tenants = &mut self.tenants;
        enforce_cap(&mut self.stored, MAX_EVENTS, |key| remove(tenants, &key));
        inserted
    }

    pub(super) fn get(&self, tenant: &TenantId, id: &EventId) -> Option<Event> {
        self.tenants.get(tenant)?.by_id.get(id).cloned()
    }

    /// One page, the same rows PostgreSQL's listing returns: bounds and cursor compared at
    /// microsecond precision, ties ordered by id.
    pub(super) fn list(
        &self,
        tenant: &TenantId,
        filter: &EventFilter,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> EventPage {
        let limit = limit as usize;
        let Some(events) = self.tenants.get(tenant) else {
            return EventPage {
                events: Vec::new(),
                next_cursor: None,
            };
        };
        let since = filter.since.map(to_micros);
        let until = filter.until.map(to_micros);
        let after = cursor.map(|c| (c.time, c.id.clone()));
        let keys: Box<dyn Iterator<Item = &TimeKey>> = match filter.order {
            Order::OldestFirst => {
                let from = after.map_or(Bound::Unbounded, Bound::Excluded);
                Box::new(
                    events
                        .by_time
                        .range((from, Bound::Unbounded))
                        .take_while(move |(time, _)| until.is_none_or(|until| *time < until)),
                )
            }
            Order::NewestFirst => {
                let to = after.map_or(Bound::Unbounded, Bound::Excluded);
                Box::new(
                    events
                        .by_time
                        .range((Bound::Unbounded, to))
                        .rev()
                        .take_while(move |(time, _)| since.is_none_or(|since| *time >= since)),
                )
            }
        };
        let mut page: Vec<(&TimeKey, &Event)> = keys
            .filter(|(time, _)| since.is_none_or(|since| *time >= since))
            .filter(|(time, _)| until.is_none_or(|until| *time < until))
            .filter_map(|key| events.by_id.get(&key.1).map(|event| (key, event)))
            .filter(|(_, event)| matches(filter, event))
            // One more than asked tells whether another page exists.
            .take(limit + 1)
            .collect();
        let more = page.len() > limit;
        page.truncate(limit);
        let next_cursor = match page.last() {
            Some(((time, id), _)) if more => Some(Cursor {
                time: *time,
                id: id.clone(),
            }),
            _ => None,
        };
        EventPage {
            events: page.into_iter().map(|(_, event)| event.clone()).collect(),
            next_cursor,
        }
    }

    pub(super) fn prune(&mut self, cutoff: DateTime<Utc>) -> u64 {
        let tenants = &mut self.tenants;
        prune_before(&mut self.stored, cutoff, |key| remove(tenants, &key))
    }
}

fn matches(filter: &EventFilter, event: &Event) -> bool {
    filter
        .event_type
        .as_ref()
        .is_none_or(|pattern| pattern.matches(event.event_type()))
        && filter
            .subject
            .as_deref()
            .is_none_or(|subject| event.subject() == Some(subject))
}

fn remove(tenants: &mut HashMap<TenantId, TenantEvents>, (tenant, id): &(TenantId, EventId)) {
    let Some(events) = tenants.get_mut(tenant) else {
        return;
    };
    if let Some(event) = events.by_id.remove(id) {
        events
            .by_time
            .remove(&(to_micros(event.time()), id.clone()));
    }
    if events.by_id.is_empty() {
        tenants.remove(tenant);
    }
}
