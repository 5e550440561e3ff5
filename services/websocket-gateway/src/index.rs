//! A tenant's connections indexed by what they asked for, so an event reaches its matching
//! connections without a scan of the tenant's others: subject or owner (exact) → event type
//! (exact hash lookup) or pattern (one test per distinct pattern, however many connections
//! share it).

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use switchyard_domain::{EventType, EventTypePattern};

use crate::{filter::Filter, link::Link};

/// A connection's id, unique within the replica.
pub type ConnId = u64;

/// A connection as the index holds it.
#[derive(Debug, Clone)]
pub struct Subscriber {
    /// Its id.
    pub id: ConnId,
    /// What it asked for.
    pub filter: Filter,
    /// Where its messages go.
    pub link: Arc<Link>,
}

#[derive(Debug, Default)]
struct TypeIndex {
    everything: HashSet<ConnId>,
    exact: HashMap<EventType, HashSet<ConnId>>,
    patterns: HashMap<EventTypePattern, HashSet<ConnId>>,
}

impl TypeIndex {
    fn insert(&mut self, id: ConnId, types: &[EventTypePattern]) {
        if types.is_empty() {
            self.everything.insert(id);
        }
        for pattern in types {
            match exact_type(pattern) {
                Some(event_type) => self.exact.entry(event_type).or_default().insert(id),
                None => self.patterns.entry(pattern.clone()).or_default().insert(id),
            };
        }
    }

    fn remove(&mut self, id: ConnId, types: &[EventTypePattern]) {
        self.everything.remove(&id);
        for pattern in types {
            match exact_type(pattern) {
                Some(event_type) => remove_from(&mut self.exact, &event_type, id),
                None => remove_from(&mut self.patterns, pattern, id),
            }
        }
    }

    fn collect(&self, event_type: &EventType, into: &mut Vec<ConnId>) {
        into.extend(&self.everything);
        if let Some(ids) = self.exact.get(event_type) {
            into.extend(ids);
        }
        for (pattern, ids) in &self.patterns {
            if pattern.matches(event_type) {
                into.extend(ids);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.everything.is_empty() && self.exact.is_empty() && self.patterns.is_empty()
    }
}

fn exact_type(pattern: &EventTypePattern) -> Option<EventType> {
    pattern
        .is_exact()
        .then(|| EventType::parse(pattern.as_str()).ok())
        .flatten()
}

fn remove_from<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, HashSet<ConnId>>,
    key: &K,
    id: ConnId,
) {
    if let Some(ids) = map.get_mut(key) {
        ids.remove(&id);
        if ids.is_empty() {
            map.remove(key);
        }
    }
}

/// One tenant's connections.
#[derive(Debug, Default)]
pub struct Index {
    subscribers: HashMap<ConnId, Subscriber>,
    any_subject: TypeIndex,
    by_subject: HashMap<String, TypeIndex>,
    /// Connections asking for their own events: reached by an event's subject or owner.
    by_owner: HashMap<String, TypeIndex>,
}

/// Which of an index's maps a filter lives in.
enum Slot<'a> {
    Any,
    Subject(&'a str),
    Owner(&'a str),
}

fn slot(filter: &Filter) -> Slot<'_> {
    match (filter.subject(), filter.owner()) {
        (_, Some(owner)) => Slot::Owner(owner),
        (Some(subject), None) => Slot::Subject(subject),
        (None, None) => Slot::Any,
    }
}

fn remove_keyed(
    map: &mut HashMap<String, TypeIndex>,
    key: &str,
    id: ConnId,
    types: &[EventTypePattern],
) {
    if let Some(index) = map.get_mut(key) {
        index.remove(id, types);
        if index.is_empty() {
            map.remove(key);
        }
    }
}

impl Index {
    /// Adds `subscriber`, replacing an entry of the same id (a subscription change).
    pub fn insert(&mut self, subscriber: Subscriber) {
        self.remove(subscriber.id);
        let types = subscriber.filter.types();
        let index = match slot(&subscriber.filter) {
            Slot::Any => &mut self.any_subject,
            Slot::Subject(key) => self.by_subject.entry(key.to_owned()).or_default(),
            Slot::Owner(key) => self.by_owner.entry(key.to_owned()).or_default(),
        };
        index.insert(subscriber.id, types);
        self.subscribers.insert(subscriber.id, subscriber);
    }

    /// Removes connection `id`.
    pub fn remove(&mut self, id: ConnId) -> Option<Subscriber> {
        let subscriber = self.subscribers.remove(&id)?;
        let types = subscriber.filter.types();
        match slot(&subscriber.filter) {
            Slot::Any => self.any_subject.remove(id, types),
            Slot::Subject(key) => remove_keyed(&mut self.by_subject, key, id, types),
            Slot::Owner(key) => remove_keyed(&mut self.by_owner, key, id, types),
        }
        Some(subscriber)
    }

    /// The connections an event of `event_type` about `subject`, owned by `owner`, goes to,
    /// each once.
    #[must_use]
    pub fn matching(
        &self,
        event_type: &EventType,
        subject: Option<&str>,
        owner: Option<&str>,
    ) -> Vec<&Subscriber> {
        let mut ids = Vec::new();
        self.any_subject.collect(event_type, &mut ids);
        let keyed = [
            (&self.by_subject, subject),
            (&self.by_owner, subject),
            (&self.by_owner, owner.filter(|o| Some(*o) != subject)),
        ];
        for (map, key) in keyed {
            if let Some(index) = key.and_then(|k| map.get(k)) {
                index.collect(event_type, &mut ids);
            }
        }
        // A connection with overlapping patterns was collected once per pattern.
        ids.sort_unstable();
        ids.dedup();
        ids.iter()
            .filter_map(|id| self.subscribers.get(id))
            .collect()
    }

    /// Every connection.
    pub fn subscribers(&self) -> impl Iterator<Item = &Subscriber> {
        self.subscribers.values()
    }

    /// Whether no connection is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.subscribers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use tokio_util::sync::CancellationToken;

    use super::*;

    fn sub(id: ConnId, types: &str, subject: Option<&str>) -> Subscriber {
        let (link, _) = Link::new(4, CancellationToken::new());
        Subscriber {
            id,
            filter: Filter::parse(Some(types), subject).unwrap(),
            link,
        }
    }

    fn owner(id: ConnId, types: &str, owner: &str) -> Subscriber {
        let mut subscriber = sub(id, types, None);
        subscriber.filter = subscriber.filter.owned_by(owner.to_owned());
        subscriber
    }

    fn ids(index: &Index, event_type: &str, subject: Option<&str>) -> Vec<ConnId> {
        owned_ids(index, event_type, subject, None)
    }

    fn owned_ids(
        index: &Index,
        event_type: &str,
        subject: Option<&str>,
        owner: Option<&str>,
    ) -> Vec<ConnId> {
        let event_type = EventType::parse(event_type).unwrap();
        let mut ids: Vec<_> = index
            .matching(&event_type, subject, owner)
            .iter()
            .map(|s| s.id)
            .collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn events_reach_exact_pattern_and_catch_all_connections_once() {
        let mut index = Index::default();
        index.insert(sub(1, "a.b", None));
        index.insert(sub(2, "a.*", None));
        index.insert(sub(3, "", None));
        index.insert(sub(4, "a.b,a.*", None));
        index.insert(sub(5, "c.d", None));
        assert_eq!(ids(&index, "a.b", None), [1, 2, 3, 4]);
        assert_eq!(ids(&index, "a.c", Some("x")), [2, 3, 4]);
        assert_eq!(ids(&index, "c.d", None), [3, 5]);
    }

    #[test]
    fn subject_filters_only_see_their_subject() {
        let mut index = Index::default();
        index.insert(sub(1, "", Some("alice")));
        index.insert(sub(2, "a.*", Some("bob")));
        index.insert(sub(3, "", None));
        assert_eq!(ids(&index, "a.b", Some("alice")), [1, 3]);
        assert_eq!(ids(&index, "a.b", Some("bob")), [2, 3]);
        assert_eq!(ids(&index, "a.b", None), [3]);
    }

    #[test]
    fn owners_see_events_by_subject_or_owner_field_once() {
        let mut index = Index::default();
        index.insert(owner(1, "", "cust_1"));
        index.insert(owner(2, "a.*", "cust_2"));
        index.insert(sub(3, "", Some("cust_1")));
        assert_eq!(owned_ids(&index, "a.b", Some("cust_1"), None), [1, 3]);
        assert_eq!(owned_ids(&index, "a.b", Some("pay_1"), Some("cust_1")), [1]);
        assert_eq!(
            owned_ids(&index, "a.b", Some("cust_1"), Some("cust_1")),
            [1, 3]
        );
        assert_eq!(
            owned_ids(&index, "a.b", Some("cust_1"), Some("cust_2")),
            [1, 2, 3]
        );
        assert_eq!(
            owned_ids(&index, "c.d", Some("pay_1"), Some("cust_2")),
            Vec::<ConnId>::new()
        );
        assert!(index.remove(1).is_some());
        assert!(index.remove(2).is_some());
        assert!(index.by_owner.is_empty());
    }

    #[test]
    fn removal_and_resubscription_leave_no_stale_entries() {
        let mut index = Index::default();
        index.insert(sub(1, "a.b", Some("alice")));
        index.insert(sub(1, "c.*", None));
        assert_eq!(ids(&index, "a.b", Some("alice")), Vec::<ConnId>::new());
        assert_eq!(ids(&index, "c.x", None), [1]);
        assert!(index.remove(1).is_some());
        assert!(index.is_empty());
        assert!(index.any_subject.is_empty());
        assert!(index.by_subject.is_empty());
    }
}
