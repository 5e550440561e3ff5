//! NATS JetStream through `async-nats`.
//!
//! **Layout.** A stream per topic, a subject per partition (`switchyard_events.3`; the name
//! mapping is in `names.rs`). A publish hashes the key with
//! [`partition_for`](crate::partitioner::partition_for), publishes to the partition's subject
//! and returns once the stream's `PubAck` says the record is stored. NATS has no record key,
//! so the key travels in the `Sy-Key` header; header names and values are percent-encoded
//! where NATS could not carry them byte for byte (`codec.rs`). Each publish call gets its own
//! `Nats-Msg-Id`, reused when the publisher resends after a reconnect, so a resend of a record
//! the server already stored is dropped by the stream's duplicate window.
//!
//! **Consumer groups.** Each (group, topic, partition) has a durable pull consumer filtered
//! on the partition's subject: explicit acks, `max_ack_pending` = one fetch batch, `ack_wait`
//! and `max_deliver` from the settings. Which member reads which partition is agreed in a
//! key-value bucket whose `max_age` is the lease TTL, so a key nobody renews disappears
//! (`group.rs`, `membership.rs`):
//! - every member keeps a member key per topic, renewed every third of the TTL;
//! - a partition's owner key is its lease: taken with `create` (only if absent), renewed with
//!   a revision-checked `update`, released with a revision-checked `delete`. A renewal refused
//!   for its revision means the lease was lost, and the partition's worker stops at once;
//! - each member watches the group's keys and wants partition `p` when it is the `p mod n`-th
//!   of the sorted live members reading the topic. A member gives a partition up after its
//!   worker finished the record in hand; the member that wants it takes it as soon as the
//!   deletion reaches its watch, or once a dead owner's key has expired;
//! - a worker pulls only while its lease is fresh: every pull expires before the lease could
//!   (last renewal sent + TTL, on the local monotonic clock), so a member cut off from the
//!   server stops reading before another member may take over.
//!
//! **Takeover.** A partition's new owner, or the same owner after a reconnect, opens the
//! consumer and looks at it (`consumer.rs`). Deliveries nobody acknowledged (an old owner's,
//! or ones lost with a connection) or pull requests still waiting would come back only after
//! `ack_wait`, interleaved with newer records. So such a consumer is *rewound*: deleted and
//! created again at its ack floor + 1, which hands over exactly the unacknowledged records, at
//! once and in order. The start sequence is first written to a second bucket (no TTL), so a
//! crash between the delete and the create resumes from it rather than from the group's
//! `StartFrom`. A member also skips records at or below the last sequence it finished in
//! the partition (acknowledgements lost with a connection or a lease).
//!
//! **Stop and restart.** A graceful stop lets the record in hand finish, acknowledges it with
//! a confirmed (double) ack so the next owner sees it done, releases the leases and removes
//! the member keys. The client is built with `retry_on_initial_connect`, so connecting never
//! waits for the server, and it reconnects by itself. Every connect and disconnect bumps a
//! connection epoch: a publish waiting for its `PubAck` resends after a reconnect, every
//! publish ends within `publish_timeout_ms` (`Unavailable` while disconnected, `Timeout`
//! otherwise), workers end their session and reopen (rewinding if needed), and leases outlived
//! by an outage are taken again.
//!
//! **Seeking and lag.** `reset_group` creates a stopped group's consumers afresh, delivering
//! from the start, from now on, or from the first record stored at or after a time (JetStream
//! `All`, `New`, `ByStartTime`). Each partition reader exports `switchyard_bus_consumer_lag`,
//! the records the server has not delivered to the group yet.
//!
//! **Limits.** A topic's partition count is read from its stream; `ensure_topics` with more
//! `bus.partitions` adds partitions (never removes them), which moves keys, as in Kafka, and
//! running members read the new partitions after they restart. A `publish_batch` cut by a
//! reconnect may be stored out of order: the client sends what it buffered during the outage
//! on the new connection, while what was written to the dead one is resent after it. Works
//! with servers from 2.9 on (the group buckets are created as plain streams for that).

mod admin;
mod buckets;
mod codec;
mod consumer;
mod group;
mod membership;
mod names;
mod partition;
mod publisher;
mod subscriber;
mod topology;

use std::{fmt::Display, sync::Arc, time::Duration};

use async_nats::{ConnectOptions, Event, jetstream};
use switchyard_runtime::settings::BusSettings;
use tokio::sync::watch;

use crate::{Bus, BusError, BusPublisher};

const BACKEND: &str = "nats";
/// Deadline of one JetStream API request (stream, consumer and bucket management).
const API_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the client pings the server; bounds how long a silently dead connection goes
/// unnoticed.
const PING_INTERVAL: Duration = Duration::from_secs(10);

/// Connects to `settings.nats.url`. The connection is made in the background: an unreachable
/// server makes publishes fail within their timeout and `ping` report it, never this call hang.
pub async fn connect(settings: &BusSettings) -> Result<Bus, BusError> {
    let config = Arc::new(Config::new(settings)?);
    let connection = Connection::open(&settings.nats.url, &config).await?;
    let topology = Arc::new(topology::Topology::new(
        connection.js.clone(),
        config.clone(),
    ));
    let publisher = Arc::new(publisher::NatsPublisher::new(
        connection.clone(),
        topology.clone(),
        config.publish_timeout,
    ));
    let limited = Arc::new(BusPublisher::new(publisher, settings));
    Ok(Bus {
        subscriber: Arc::new(subscriber::NatsSubscriber::new(
            connection.clone(),
            topology.clone(),
            config.clone(),
            limited.clone(),
        )),
        admin: Arc::new(admin::NatsAdmin::new(connection, topology, config)),
        publisher: limited,
    })
}

/// The settings this backend runs on, checked once.
#[derive(Debug, Clone)]
struct Config {
    partitions: u32,
    publish_timeout: Duration,
    replicas: usize,
    retention: Duration,
    duplicate_window: Duration,
    ack_wait: Duration,
    fetch_batch: usize,
    max_deliver: i64,
    group_bucket: String,
    lease_ttl: Duration,
    group_retention: Duration,
}

impl Config {
    fn new(settings: &BusSettings) -> Result<Self, BusError> {
        let nats = &settings.nats;
        let invalid = |key: &str, rule: &str| BusError::Config {
            backend: BACKEND,
            reason: format!("bus.nats.{key} {rule}"),
        };
        let bucket_ok = !nats.group_bucket.is_empty()
            && nats
                .group_bucket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !bucket_ok {
            return Err(invalid("group_bucket", "must be letters, digits, - and _"));
        }
        if nats.lease_ttl_ms < 300 {
            return Err(invalid("lease_ttl_ms", "must be at least 300"));
        }
        if nats.ack_wait_ms < 1_000 {
            return Err(invalid("ack_wait_ms", "must be at least 1000"));
        }
        if nats.fetch_batch == 0 {
            return Err(invalid("fetch_batch", "must be at least 1"));
        }
        if nats.replicas == 0 || nats.replicas > 5 {
            return Err(invalid("replicas", "must be between 1 and 5"));
        }
        if nats.retention_secs != 0 && nats.duplicate_window_ms > nats.retention_secs * 1_000 {
            return Err(invalid(
                "duplicate_window_ms",
                "cannot exceed retention_secs",
            ));
        }
        Ok(Self {
            partitions: settings.partitions.max(1),
            publish_timeout: Duration::from_millis(settings.publish_timeout_ms),
            replicas: nats.replicas,
            retention: Duration::from_secs(nats.retention_secs),
            duplicate_window: Duration::from_millis(nats.duplicate_window_ms),
            ack_wait: Duration::from_millis(nats.ack_wait_ms),
            fetch_batch: nats.fetch_batch,
            max_deliver: nats.max_deliver,
            group_bucket: nats.group_bucket.clone(),
            lease_ttl: Duration::from_millis(nats.lease_ttl_ms),
            group_retention: Duration::from_secs(nats.group_retention_secs),
        })
    }
}

/// The client, its JetStream context and the connection epoch, shared by every part.
#[derive(Clone)]
struct Connection {
    client: async_nats::Client,
    js: jetstream::Context,
    /// Bumped on every connect and disconnect: work that spans a change of connection (a
    /// pending `PubAck`, a pull) may have lost messages and starts over.
    epoch: watch::Receiver<u64>,
}

impl Connection {
    async fn open(url: &str, config: &Config) -> Result<Self, BusError> {
        let (epoch_tx, epoch) = watch::channel(0u64);
        let epoch_tx = Arc::new(epoch_tx);
        let client = ConnectOptions::new()
            .name("switchyard")
            .retry_on_initial_connect()
            .connection_timeout(config.publish_timeout.min(API_TIMEOUT))
            .request_timeout(Some(API_TIMEOUT))
            .ping_interval(PING_INTERVAL)
            // Back to a restarted server within a second, without hammering a dead one.
            .reconnect_delay_callback(|attempts| {
                let exp = u32::try_from(attempts.min(5)).unwrap_or(5);
                Duration::from_millis(50 * 2u64.pow(exp)).min(Duration::from_secs(1))
            })
            .event_callback(move |event| {
                let epoch = epoch_tx.clone();
                async move {
                    if matches!(event, Event::Connected | Event::Disconnected) {
                        epoch.send_modify(|n| *n += 1);
                    }
                }
            })
            .connect(url)
            .await
            .map_err(|e| BusError::Config {
                backend: BACKEND,
                reason: format!("{url}: {e}"),
            })?;
        // The context's timeout also bounds the wait for a PubAck: the publish deadline
        // decides, and every other call has its own, shorter one.
        let js = jetstream::ContextBuilder::new()
            .timeout(config.publish_timeout.max(API_TIMEOUT))
            .ack_timeout(config.publish_timeout)
            .build(client.clone());
        Ok(Self { client, js, epoch })
    }

    fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }
}

/// A retry-later error with `what` and its cause.
fn unavailable(what: &str, error: impl Display) -> BusError {
    BusError::Unavailable {
        backend: BACKEND,
        reason: format!("{what}: {error}"),
    }
}

/// Runs one server call with a deadline; a late answer is a retryable timeout.
async fn within<T>(limit: Duration, call: impl Future<Output = T>) -> Result<T, BusError> {
    tokio::time::timeout(limit, call)
        .await
        .map_err(|_| BusError::Timeout {
            backend: BACKEND,
            after: limit,
        })
}
