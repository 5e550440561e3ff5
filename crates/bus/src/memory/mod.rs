//! The in-process backend for `switchyard dev` and unit tests. It keeps the semantics of the
//! real brokers: partitions by key, consumer groups that split partitions and rebalance when
//! members come and go, committed positions, at-least-once redelivery. What it cannot give is
//! durability: everything is gone when the process exits, and each partition keeps only the
//! newest `RETENTION` records.

mod group;
mod log;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use async_trait::async_trait;
use switchyard_domain::Message;
use tokio_util::sync::CancellationToken;

use crate::{
    Ack, Admin, BusError, Handler, Position, Publisher, SeekTo, Subscriber, Subscription,
    partitioner::partition_for, process::Processor, timed,
};

const BACKEND: &str = "memory";
/// Records kept per partition; older ones are dropped (a laptop must not run out of memory).
pub const RETENTION: usize = 100_000;

/// An in-process broker. Clones share the same topics and groups.
#[derive(Clone)]
pub struct MemoryBroker {
    inner: Arc<Inner>,
}

struct Inner {
    partitions: u32,
    topics: Mutex<HashMap<String, Arc<log::TopicLog>>>,
    groups: Mutex<HashMap<String, Arc<group::Group>>>,
    /// Simulated outage: while false, publishes fail as a broker outage would.
    available: AtomicBool,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain maps in a usable state.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MemoryBroker {
    /// A broker whose topics have `partitions` partitions.
    #[must_use]
    pub fn new(partitions: u32) -> Self {
        Self {
            inner: Arc::new(Inner {
                partitions: partitions.max(1),
                topics: Mutex::default(),
                groups: Mutex::default(),
                available: AtomicBool::new(true),
            }),
        }
    }

    /// The process's broker, created with `partitions` by the first caller: every
    /// [`crate::Bus::connect`] to the memory backend in one process reaches it.
    #[must_use]
    pub fn process_wide(partitions: u32) -> Self {
        static PROCESS: std::sync::OnceLock<MemoryBroker> = std::sync::OnceLock::new();
        PROCESS.get_or_init(|| Self::new(partitions)).clone()
    }

    /// Simulates a broker outage (`false`) and recovery (`true`), for tests.
    pub fn set_available(&self, available: bool) {
        self.inner.available.store(available, Ordering::SeqCst);
    }

    /// The record at `offset` of `topic`'s `partition`, waiting until it exists.
    #[cfg(test)]
    pub(crate) async fn read_for_test(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> (u64, Message) {
        self.topic(topic).read(partition, offset).await
    }

    /// A publisher on this broker.
    #[must_use]
    pub fn publisher(&self) -> MemoryPublisher {
        MemoryPublisher {
            broker: self.clone(),
        }
    }

    /// A subscriber on this broker; dead-lettered records go through `dlq`.
    #[must_use]
    pub fn subscriber(&self, dlq: Arc<dyn Publisher>) -> MemorySubscriber {
        MemorySubscriber {
            broker: self.clone(),
            dlq,
        }
    }

    fn topic(&self, name: &str) -> Arc<log::TopicLog> {
        let mut topics = lock(&self.inner.topics);
        // Look up by `&str` first: publishing must not allocate the name on every record.
        if let Some(log) = topics.get(name) {
            return log.clone();
        }
        topics
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(log::TopicLog::new(self.inner.partitions)))
            .clone()
    }

    fn group(&self, name: &str) -> Arc<group::Group> {
        lock(&self.inner.groups)
            .entry(name.to_owned())
            .or_default()
            .clone()
    }
}

/// Publishes to a [`MemoryBroker`].
pub struct MemoryPublisher {
    broker: MemoryBroker,
}

#[async_trait]
impl Publisher for MemoryPublisher {
    async fn publish(&self, topic: &str, message: Message) -> Result<Ack, BusError> {
        timed(BACKEND, topic, async {
            if !self.broker.inner.available.load(Ordering::SeqCst) {
                return Err(BusError::Unavailable {
                    backend: BACKEND,
                    reason: "broker stopped".into(),
                });
            }
            let log = self.broker.topic(topic);
            let partition = partition_for(message.key.as_deref(), log.partitions());
            let offset = log.append(partition, message);
            Ok(Ack {
                partition,
                position: Position::Offset(offset),
            })
        })
        .await
    }
}

#[async_trait]
impl Admin for MemoryBroker {
    async fn ensure_topics(&self, topics: &[String]) -> Result<(), BusError> {
        for topic in topics {
            self.topic(topic);
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), BusError> {
        if self.inner.available.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(BusError::Unavailable {
                backend: BACKEND,
                reason: "broker stopped".into(),
            })
        }
    }

    async fn reset_group(
        &self,
        group: &str,
        topics: &[String],
        to: SeekTo,
    ) -> Result<(), BusError> {
        let group = self.group(group);
        for name in topics {
            let log = self.topic(name);
            for partition in 0..log.partitions() {
                let next = match to {
                    SeekTo::Earliest => 0,
                    SeekTo::Latest => log.end(partition),
                    SeekTo::Time(time) => log.offset_at(partition, time),
                };
                group.reset(&(name.clone(), partition), next);
            }
        }
        Ok(())
    }
}

/// Consumer groups on a [`MemoryBroker`].
pub struct MemorySubscriber {
    broker: MemoryBroker,
    dlq: Arc<dyn Publisher>,
}

#[async_trait]
impl Subscriber for MemorySubscriber {
    async fn run(
        &self,
        subscription: Subscription,
        handler: Arc<dyn Handler>,
        shutdown: CancellationToken,
    ) -> Result<(), BusError> {
        let group = self.broker.group(&subscription.group);
        let topics: Vec<Arc<log::TopicLog>> = subscription
            .topics
            .iter()
            .map(|t| self.broker.topic(t))
            .collect();
        let processor = Arc::new(Processor::new(
            BACKEND,
            subscription,
            handler,
            self.dlq.clone(),
        ));
        group::Member::join(group, topics, processor)
            .run(shutdown)
            .await;
        Ok(())
    }
}
