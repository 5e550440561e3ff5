//! Redis Streams (Redis 6.2 or newer; 7 recommended). Not for Redis Cluster: the fenced reads
//! below touch a lease and a stream in one script, and those keys live in different slots.
//! Redis must run with `maxmemory-policy noeviction` and, to survive its own restarts, with an
//! append-only file: an evicted stream loses records, an evicted lease lets two members read
//! one partition.
//!
//! # Layout
//! Every key of a topic starts with the topic name, so `SCAN 0 MATCH <topic>:*` shows all of it:
//! - `<topic>:<p>`: the stream of partition `p` (key → partition by [`partition_for`]), one
//!   entry per record, trimmed with `XADD MAXLEN ~` (`bus.redis.max_len`).
//! - `<topic>:meta`: a hash whose `partitions` field is fixed by the first client to use the
//!   topic; every client reads it from there, so all agree on a key's partition even if their
//!   `bus.partitions` differ.
//! - `<topic>:members:<group>`: the group's live members, a sorted set scored by expiry.
//! - `<topic>:<p>:owner:<group>`: the partition's lease: the id of the member that reads it.
//!
//! An entry's fields, values as raw bytes: `key` (absent when the record has none), one
//! `h:<name>` per header (in order, repeats kept), then `payload`.
//!
//! # Consumer groups
//! Each stream carries a Redis consumer group named after the subscription's group; each member
//! is one Redis consumer. Redis would hand a stream's entries to whichever consumer reads next,
//! which breaks per-key order, so members split the partitions among themselves:
//! 1. **Membership.** Every third of `session_timeout_ms` a member adds itself to the members
//!    set with score = Redis time + session timeout; the same script drops expired members and
//!    returns the live ones. Redis's clock is the only one that matters.
//! 2. **Assignment.** Partition `p` goes to the `p mod n`-th of the `n` live members sorted by
//!    id. Each member computes it alone; members that briefly disagree are kept apart by:
//! 3. **Leases.** A member reads a partition only while it holds the partition's lease
//!    (`SET NX PX`, renewed with each heartbeat). A partition no longer assigned to a member is
//!    given up: the record in hand finishes and is acknowledged, then the lease is deleted. The
//!    new owner retries taking the lease until then, so a partition is never processed by two
//!    members at once.
//! 4. **Fencing.** Reads (`XREADGROUP`) and claims (`XAUTOCLAIM`) run in Lua scripts that first
//!    check the lease, so a member that lost its lease (paused, cut off) cannot take entries the
//!    new owner is responsible for. Before each record of a fetched batch a member also checks
//!    its local lease deadline (the send time of its last successful renewal + the session
//!    timeout, never later than Redis's expiry).
//!
//! `StartFrom::Earliest` and `Latest` create the groups at `0` and `$` when a member first
//! joins; after that the group's own position decides. At each heartbeat a member exports
//! `switchyard_bus_consumer_lag` for the partitions it reads (`XINFO GROUPS`'s `lag`).
//!
//! # Takeover
//! A member that stops heartbeating drops out of the set after the session timeout and its
//! leases expire; the survivors' assignment then covers its partitions. Every new owner of a
//! partition first claims all of the stream's pending entries (`XAUTOCLAIM` with min-idle 0: the
//! lease proves nobody else works on them) and processes them in id order, then reads new
//! entries with `XREADGROUP >`. Pending entries all precede the group's last delivered id, so
//! records of one key keep their order across owners. Consumers left with nothing pending are
//! deleted, so dead members do not pile up in `XINFO CONSUMERS`.
//!
//! # Admin
//! `ensure_topics` records each topic's partition count and creates its streams, empty, where
//! missing. `reset_group` sets a stopped group's last delivered id on every partition
//! (`XGROUP SETID`, creating the group if needed) and drops its pending entries; stream ids are
//! Redis's clock in milliseconds, which is what `SeekTo::Time` compares with.
//!
//! # Outages
//! Every command has a timeout. The shared connection reconnects by itself, and is replaced
//! after a timeout (a vanished host sends no reset). Members keep heartbeating and readers keep
//! retrying with capped backoff; a reader that finds its group gone (`NOGROUP`: Redis came back
//! without its data) recreates it just after the last record it acknowledged, so nothing it had
//! not finished is skipped. A record is acknowledged only after its handler succeeded or it was
//! dead-lettered: delivery is at least once.
//!
//! [`partition_for`]: crate::partitioner::partition_for

mod admin;
mod codec;
mod connection;
mod coordinator;
mod keys;
mod membership;
mod publisher;
mod reader;
mod scripts;
mod subscriber;
mod topics;

use std::{sync::Arc, time::Duration};

use switchyard_runtime::settings::BusSettings;

use crate::{Bus, BusError, BusPublisher, RetryPolicy};

const BACKEND: &str = "redis";

/// Backoff between attempts while Redis fails: from 50 ms, doubling, capped at 2 s.
const OUTAGE_BACKOFF: RetryPolicy = RetryPolicy {
    max_attempts: u32::MAX,
    initial_backoff: Duration::from_millis(50),
    max_backoff: Duration::from_secs(2),
};

/// `(topic, partition)`.
type PartitionKey = (String, u32);

/// Connects to `settings.redis.url`. Nothing is sent yet: the first command connects, so a bus
/// can be built while Redis is down (publishes then fail retryably until it is back).
pub async fn connect(settings: &BusSettings) -> Result<Bus, BusError> {
    let tuning = Tuning::new(settings);
    let redis = Arc::new(connection::Redis::open(
        &settings.redis.url,
        tuning.command_timeout,
    )?);
    let topics = Arc::new(topics::TopicRegistry::new(
        redis.clone(),
        settings.partitions,
    ));
    let publisher = Arc::new(publisher::RedisPublisher::new(
        redis.clone(),
        topics.clone(),
        &tuning,
        Duration::from_millis(settings.publish_timeout_ms),
    ));
    let limited = Arc::new(BusPublisher::new(publisher, settings));
    Ok(Bus {
        subscriber: Arc::new(subscriber::RedisSubscriber::new(
            redis.clone(),
            topics.clone(),
            tuning,
            limited.clone(),
        )),
        admin: Arc::new(admin::RedisAdmin::new(redis, topics)),
        publisher: limited,
    })
}

/// `[bus.redis]` as durations, with floors that keep the protocol sane.
#[derive(Debug, Clone, Copy)]
struct Tuning {
    /// How long a silent member keeps its membership and leases.
    session: Duration,
    /// One blocking wait of an idle reader.
    block: Duration,
    /// Entries per read.
    read_count: usize,
    /// Timeout of every command other than a publish.
    command_timeout: Duration,
    /// Approximate length of each stream.
    max_len: u64,
}

impl Tuning {
    fn new(settings: &BusSettings) -> Self {
        let redis = &settings.redis;
        Self {
            session: Duration::from_millis(redis.session_timeout_ms.max(300)),
            block: Duration::from_millis(redis.block_ms.max(10)),
            read_count: redis.read_count.max(1),
            command_timeout: Duration::from_millis(redis.command_timeout_ms.max(50)),
            max_len: redis.max_len.max(1),
        }
    }

    /// How often members heartbeat and renew their leases: three chances before expiry.
    fn heartbeat(&self) -> Duration {
        self.session / 3
    }
}
