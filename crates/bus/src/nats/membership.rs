//! What a member knows of its group: the topics it reads and, from the watch on the group's
//! keys, the live members and the partition owners; and the assignment that follows.

use std::{
    collections::HashMap,
    sync::{Arc, atomic::AtomicU64},
    time::Duration,
};

use async_nats::jetstream::kv::{self, Operation};
use tokio::time::Instant;

use super::names::{GroupKey, GroupKeys};

/// (topic index, partition).
pub(super) type PartitionKey = (usize, u32);

/// A topic as the group sees it.
pub(super) struct GroupTopic {
    pub(super) name: String,
    pub(super) partitions: u32,
    pub(super) keys: GroupKeys,
    /// Per partition, the last stream sequence this member finished.
    pub(super) finished: Vec<Arc<AtomicU64>>,
}

impl GroupTopic {
    pub(super) fn new(group: &str, name: &str, partitions: u32) -> Self {
        Self {
            name: name.to_owned(),
            partitions,
            keys: GroupKeys::new(group, name),
            finished: (0..partitions).map(|_| Arc::default()).collect(),
        }
    }
}

/// What the watch has shown of the group, with the local time each key was last written.
pub(super) struct View {
    members: Vec<HashMap<String, Instant>>,
    owners: HashMap<PartitionKey, (String, Instant)>,
    last_event: Instant,
}

impl View {
    pub(super) fn new(topics: usize) -> Self {
        Self {
            members: (0..topics).map(|_| HashMap::new()).collect(),
            owners: HashMap::new(),
            last_event: Instant::now(),
        }
    }

    /// When the watch last reported anything.
    pub(super) fn last_event(&self) -> Instant {
        self.last_event
    }

    /// Applies one key change; `age` is how old the write already was when seen.
    pub(super) fn apply(&mut self, topics: &[GroupTopic], entry: &kv::Entry, age: Duration) {
        let now = Instant::now();
        self.last_event = now;
        let seen = now.checked_sub(age).unwrap_or(now);
        let put = entry.operation == Operation::Put;
        for (t, topic) in topics.iter().enumerate() {
            match topic.keys.parse(&entry.key) {
                Some(GroupKey::Member(id)) if put => {
                    self.members[t].insert(id.to_owned(), seen);
                }
                Some(GroupKey::Member(id)) => {
                    self.members[t].remove(id);
                }
                Some(GroupKey::Owner(p)) if put => {
                    let owner = String::from_utf8_lossy(&entry.value).into_owned();
                    self.owners.insert((t, p), (owner, seen));
                }
                Some(GroupKey::Owner(p)) => {
                    self.owners.remove(&(t, p));
                }
                None => {}
            }
        }
    }

    /// Which of topic `t`'s partitions `me` should read: partition `p` goes to the
    /// `p mod n`-th of the `n` live members reading the topic (keys younger than `ttl`, and
    /// `me`), sorted by id, so every member that sees the same members agrees.
    pub(super) fn assignment(
        &self,
        t: usize,
        partitions: u32,
        me: &str,
        ttl: Duration,
    ) -> Vec<bool> {
        let mut live: Vec<&str> = self.members[t]
            .iter()
            .filter(|(id, seen)| *id != me && seen.elapsed() < ttl)
            .map(|(id, _)| id.as_str())
            .chain([me])
            .collect();
        live.sort_unstable();
        let index = live.iter().position(|id| *id == me).unwrap_or(0);
        (0..partitions)
            .map(|p| p as usize % live.len() == index)
            .collect()
    }

    /// Whether nobody else holds the lease of `key` as far as the watch shows.
    pub(super) fn free(&self, key: PartitionKey, me: &str, ttl: Duration) -> bool {
        self.owners
            .get(&key)
            .is_none_or(|(owner, seen)| owner == me || seen.elapsed() >= ttl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_members_split_the_partitions_and_silent_ones_are_left_out() {
        let ttl = Duration::from_secs(3);
        let mut view = View::new(1);
        let now = Instant::now();
        view.members[0].insert("a".into(), now);
        view.members[0].insert("b".into(), now);
        let silent = now.checked_sub(Duration::from_secs(10)).unwrap_or(now);
        view.members[0].insert("c".into(), silent);
        let a = view.assignment(0, 5, "a", ttl);
        let b = view.assignment(0, 5, "b", ttl);
        assert_eq!(a, [true, false, true, false, true]);
        assert!(a.iter().zip(&b).all(|(a, b)| a != b), "{a:?} / {b:?}");
        // A member that does not see itself in the view yet still counts itself.
        assert_eq!(View::new(1).assignment(0, 3, "z", ttl), [true; 3]);
    }

    #[test]
    fn an_owner_silent_for_a_ttl_no_longer_holds_its_partition() {
        let ttl = Duration::from_secs(3);
        let mut view = View::new(1);
        let now = Instant::now();
        view.owners.insert((0, 0), ("a".into(), now));
        let silent = now.checked_sub(Duration::from_secs(10)).unwrap_or(now);
        view.owners.insert((0, 1), ("a".into(), silent));
        assert!(!view.free((0, 0), "b", ttl));
        assert!(view.free((0, 0), "a", ttl), "our own lease");
        assert!(view.free((0, 1), "b", ttl));
        assert!(view.free((0, 2), "b", ttl));
    }
}
