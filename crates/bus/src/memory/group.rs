//! Consumer groups: membership, partition assignment, committed positions.
//!
//! Any change of membership starts a new generation; every member then stops its partition
//! workers (letting the record in hand finish) and starts workers for its new assignment. A
//! per-partition lock makes the new owner wait for the old one, so one partition is never
//! processed by two members at once.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use tokio::{sync::watch, task::JoinSet};
use tokio_util::sync::CancellationToken;

use super::{lock, log::TopicLog};
use crate::{Delivery, Position, StartFrom, process::Processor};

type PartitionKey = (String, u32);

/// One consumer group's shared state.
pub(crate) struct Group {
    state: Mutex<State>,
    generation: watch::Sender<u64>,
}

impl Default for Group {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            generation: watch::Sender::new(0),
        }
    }
}

#[derive(Default)]
struct State {
    next_member: u64,
    /// Member id → the topics it reads.
    members: BTreeMap<u64, Vec<String>>,
    /// Next offset to read, per partition.
    committed: HashMap<PartitionKey, u64>,
    locks: HashMap<PartitionKey, Arc<tokio::sync::Mutex<()>>>,
}

impl Group {
    fn join(&self, topics: Vec<String>) -> u64 {
        let mut state = lock(&self.state);
        let id = state.next_member;
        state.next_member += 1;
        state.members.insert(id, topics);
        drop(state);
        self.generation.send_modify(|g| *g += 1);
        id
    }

    fn leave(&self, id: u64) {
        lock(&self.state).members.remove(&id);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Round-robin over the members reading each topic, in join order.
    fn assignment(
        &self,
        id: u64,
        topics: &[(String, Arc<TopicLog>)],
    ) -> Vec<(String, Arc<TopicLog>, u32)> {
        let state = lock(&self.state);
        let mut assigned = Vec::new();
        for (name, log) in topics {
            let readers: Vec<u64> = state
                .members
                .iter()
                .filter(|(_, member_topics)| member_topics.contains(name))
                .map(|(member, _)| *member)
                .collect();
            let Some(index) = readers.iter().position(|member| *member == id) else {
                continue;
            };
            for partition in 0..log.partitions() {
                if partition as usize % readers.len() == index {
                    assigned.push((name.clone(), log.clone(), partition));
                }
            }
        }
        assigned
    }

    fn committed(&self, key: &PartitionKey) -> Option<u64> {
        lock(&self.state).committed.get(key).copied()
    }

    fn commit(&self, key: &PartitionKey, next: u64) {
        let mut state = lock(&self.state);
        match state.committed.get_mut(key) {
            Some(committed) => *committed = (*committed).max(next),
            None => {
                state.committed.insert(key.clone(), next);
            }
        }
    }

    /// Sets the committed position, backwards too (a replay).
    pub(super) fn reset(&self, key: &PartitionKey, next: u64) {
        lock(&self.state).committed.insert(key.clone(), next);
    }

    fn partition_lock(&self, key: &PartitionKey) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.state)
            .locks
            .entry(key.clone())
            .or_default()
            .clone()
    }
}

/// One member of a group; leaves the group when dropped, even if its task is aborted.
pub(super) struct Member {
    group: Arc<Group>,
    id: u64,
    topics: Vec<(String, Arc<TopicLog>)>,
    processor: Arc<Processor>,
}

impl Drop for Member {
    fn drop(&mut self) {
        self.group.leave(self.id);
    }
}

impl Member {
    pub(super) fn join(
        group: Arc<Group>,
        logs: Vec<Arc<TopicLog>>,
        processor: Arc<Processor>,
    ) -> Self {
        let names = processor.subscription().topics.clone();
        let id = group.join(names.clone());
        Self {
            group,
            id,
            topics: names.into_iter().zip(logs).collect(),
            processor,
        }
    }

    pub(super) async fn run(self, shutdown: CancellationToken) {
        let mut generation = self.group.generation.subscribe();
        loop {
            generation.borrow_and_update();
            let stop = shutdown.child_token();
            let mut workers = JoinSet::new();
            for (name, log, partition) in self.group.assignment(self.id, &self.topics) {
                workers.spawn(work(
                    self.group.clone(),
                    (name, partition),
                    log,
                    self.processor.clone(),
                    stop.clone(),
                ));
            }
            let rebalance = tokio::select! {
                changed = generation.changed() => changed.is_ok(),
                () = shutdown.cancelled() => false,
            };
            stop.cancel();
            while workers.join_next().await.is_some() {}
            if !rebalance {
                return;
            }
        }
    }
}

/// Reads one partition in order until `stop`, committing after each finished record.
async fn work(
    group: Arc<Group>,
    key: PartitionKey,
    log: Arc<TopicLog>,
    processor: Arc<Processor>,
    stop: CancellationToken,
) {
    let partition_lock = group.partition_lock(&key);
    let _owner = tokio::select! {
        guard = partition_lock.lock_owned() => guard,
        () = stop.cancelled() => return,
    };
    let partition = key.1;
    let mut next = match (group.committed(&key), processor.subscription().start) {
        (Some(next), _) => next,
        (None, StartFrom::Earliest) => 0,
        (None, StartFrom::Latest) => {
            let end = log.end(partition);
            group.commit(&key, end);
            end
        }
    };
    let lag = metrics::gauge!(
        "switchyard_bus_consumer_lag",
        "backend" => super::BACKEND,
        "topic" => key.0.clone(),
        "partition" => partition.to_string(),
        "group" => processor.subscription().group.clone()
    );
    loop {
        let (offset, message) = tokio::select! {
            record = log.read(partition, next) => record,
            () = stop.cancelled() => return,
        };
        let delivery = Delivery {
            topic: key.0.clone(),
            partition,
            position: Position::Offset(offset),
            message,
            attempt: 1,
        };
        if processor.process(delivery, &stop).await.is_err() {
            return; // stopped mid-record: not acknowledged, the next owner gets it again
        }
        next = offset + 1;
        group.commit(&key, next);
        #[allow(clippy::cast_precision_loss)]
        lag.set(log.end(partition).saturating_sub(next) as f64);
    }
}
