//! The loop that keeps a service's catalog in step with `<prefix>.config`.
//!
//! **Groups.** Every replica must apply every change, so each reads the topic in a consumer
//! group of its own, `<service>.config.<instance>` (random per start), from the earliest
//! retained record: a replica rebuilds the whole run-time configuration on start. The cost is
//! the websocket-gateway's: a dead replica's group lingers on the broker until its offsets
//! expire (`offsets.retention.minutes`), and nothing reads it.
//!
//! **Order.** Records are keyed per entity, so one entity's changes arrive in order; each
//! carries a version, and a change whose version is not above the one applied (static
//! entries count as 0) is ignored, so a replayed or compacted-away-and-back record cannot
//! undo a newer one.
//!
//! **Readiness.** The bus has no "end of topic" query, so the follower finds out by itself:
//! after joining, it publishes a marker record (`switchyard.config.sync`, its instance id as
//! the subject) to every partition, and it is caught up once it has read its own marker back
//! on each — everything published to a partition before the marker has then been applied.
//! `/readyz` reports `config` until then, so a restarted ingest is not sent webhooks for
//! sources it has not learnt yet. The marker keys (`sync/<n>`) are fixed per partition, so
//! compaction keeps one marker per partition however often replicas restart.
//!
//! A record that cannot be applied (no `[secrets]` key opens it, it breaks a rule) is logged
//! and counted, and the follower moves on: one bad record must not stop a replica from
//! learning every later change, and each replica dead-lettering it would multiply it.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchyard_bus::{
    BatchHandler, Bus, Delivery, HandlerError, RetryPolicy, StartFrom, Subscription,
    partitioner::partition_for,
};
use switchyard_domain::{Event, EventId, EventType, Message, TenantId};
use switchyard_runtime::{
    Settings, Shutdown,
    health::{CheckFuture, ReadinessCheck},
};
use tokio::sync::Notify;

use crate::{ConfigChange, ControlError, Kind, Sealer};

/// Changes handled, by `kind` (`source`, `endpoint`, `unknown`) and `result` (`applied`,
/// `stale`, `failed`, `undecodable`).
pub const METRIC_CHANGES_APPLIED: &str = "switchyard_config_changes_applied_total";

/// The type of the follower's own catch-up markers; see the module documentation.
const SYNC_TYPE: &str = "switchyard.config.sync";
/// The tenant marker records are filed under (they concern no tenant).
const SYNC_TENANT: &str = "switchyard";
/// Records of the config topic handed to the handler at once.
const MAX_BATCH: usize = 256;
/// How often previous endpoint secrets are checked for expiry.
const EXPIRY_TICK: Duration = Duration::from_secs(5);

/// How a service takes a change into its catalog.
pub trait Apply: Send + Sync + 'static {
    /// The entities this service keeps; changes of the other kind are passed over.
    fn kind(&self) -> Kind;

    /// Applies `change` (of [`Apply::kind`]) at `now`, unsealing secrets with `sealer`.
    /// An error leaves the catalog as it was; it is logged and counted by the follower.
    fn apply(
        &self,
        change: &ConfigChange,
        sealer: &Sealer,
        now: DateTime<Utc>,
    ) -> Result<(), ControlError>;

    /// Applies `change` again because time changed its settings (a previous endpoint secret
    /// expired), not because the entity changed: a service that treats a change as a repair
    /// (the dispatcher re-enables an endpoint) keeps its state here. Defaults to `apply`.
    fn refresh(
        &self,
        change: &ConfigChange,
        sealer: &Sealer,
        now: DateTime<Utc>,
    ) -> Result<(), ControlError> {
        self.apply(change, sealer, now)
    }
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Applied,
    Stale,
    Failed,
    Undecodable,
}

impl Outcome {
    fn record(self, kind: &'static str) {
        let result = match self {
            Self::Applied => "applied",
            Self::Stale => "stale",
            Self::Failed => "failed",
            Self::Undecodable => "undecodable",
        };
        metrics::counter!(METRIC_CHANGES_APPLIED, "kind" => kind, "result" => result).increment(1);
    }
}

/// What the follower has applied.
#[derive(Default)]
struct Applied {
    /// Entity key → version applied.
    versions: HashMap<String, i64>,
    /// Endpoints whose settings change when a previous secret expires: key → (when, change).
    expiring: HashMap<String, (DateTime<Utc>, ConfigChange)>,
}

/// Progress towards "caught up".
#[derive(Default)]
struct CatchUp {
    /// Partitions our markers went to; `None` until every marker is acknowledged.
    awaited: Option<HashSet<u32>>,
    /// Partitions on which we read our own marker back.
    seen: HashSet<u32>,
}

struct Inner {
    service: &'static str,
    instance: String,
    apply: Arc<dyn Apply>,
    sealer: Sealer,
    applied: Mutex<Applied>,
    sync: Mutex<CatchUp>,
    ready: AtomicBool,
    /// Woken once `ready` turns true.
    caught_up: Notify,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Follows `<prefix>.config` for one service; see the module documentation.
pub struct Follower {
    inner: Arc<Inner>,
    subscription: Subscription,
    topic: String,
    partitions: u32,
}

impl Follower {
    /// A follower for `service` (its name, e.g. `ingest`) applying changes through `apply`,
    /// unsealing with the keys of `[secrets]`.
    pub fn new(
        service: &'static str,
        settings: &Settings,
        apply: Arc<dyn Apply>,
    ) -> Result<Self, ControlError> {
        let sealer = Sealer::from_settings(&settings.secrets)?;
        if sealer.is_empty() {
            tracing::warn!(
                service,
                "no [secrets] keys: run-time configured entities with secrets cannot be applied"
            );
        }
        let id = uuid::Uuid::now_v7().simple().to_string();
        let instance = id[id.len() - 12..].to_owned();
        let topics = settings.bus.topics();
        let topic = topics.config();
        let subscription = Subscription {
            group: settings.bus.group(&format!("{service}.config.{instance}")),
            topics: vec![topic.clone()],
            // The handler never fails a record; the policy only matters for the contract.
            retry: RetryPolicy::default(),
            dlq_topic: topics.dlq(),
            start: StartFrom::Earliest,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                service,
                instance,
                apply,
                sealer,
                applied: Mutex::default(),
                sync: Mutex::default(),
                ready: AtomicBool::new(false),
                caught_up: Notify::new(),
            }),
            subscription,
            topic,
            partitions: settings.bus.partitions.max(1),
        })
    }

    /// The consumer group this replica reads in.
    #[must_use]
    pub fn group(&self) -> &str {
        &self.subscription.group
    }

    /// A `/readyz` check that fails until the follower has caught up with the topic.
    #[must_use]
    pub fn readiness_check(&self) -> ConfigReady {
        ConfigReady {
            inner: self.inner.clone(),
            topic: self.topic.clone(),
        }
    }

    /// Completes once the follower has caught up with the topic (as `/readyz` sees it). A
    /// service must not act on its own input before: an event read by a dispatcher that does
    /// not know its endpoints yet matches none and is done with, lost to them.
    #[must_use]
    pub fn caught_up(&self) -> CaughtUp {
        CaughtUp {
            inner: self.inner.clone(),
        }
    }

    /// Follows the topic until `shutdown`: consumes, publishes the catch-up markers, and
    /// re-applies endpoints whose previous secrets expire.
    pub async fn run(self, bus: Bus, shutdown: Shutdown) {
        tracing::info!(
            service = self.inner.service,
            group = %self.subscription.group,
            topic = %self.topic,
            "following run-time configuration"
        );
        let topics = vec![self.topic.clone(), self.subscription.dlq_topic.clone()];
        let handler = Arc::new(Handler(self.inner.clone()));
        let consume = bus.consume_until_shutdown(
            &topics,
            self.subscription.clone(),
            handler,
            MAX_BATCH,
            &shutdown,
        );
        let mark = publish_markers(&self.inner, &bus, &self.topic, self.partitions, &shutdown);
        let expire = expire_previous_secrets(&self.inner, &shutdown);
        tokio::join!(consume, mark, expire);
    }
}

/// See [`Follower::caught_up`].
#[derive(Clone)]
pub struct CaughtUp {
    inner: Arc<Inner>,
}

impl CaughtUp {
    /// Whether the follower has caught up.
    #[must_use]
    pub fn is_caught_up(&self) -> bool {
        self.inner.ready.load(Ordering::Acquire)
    }

    /// Waits until the follower has caught up.
    pub async fn wait(&self) {
        loop {
            // Made before the check, so a notification between the two is not missed.
            let notified = self.inner.caught_up.notified();
            if self.is_caught_up() {
                return;
            }
            notified.await;
        }
    }
}

/// `/readyz` check `config`; see [`Follower::readiness_check`].
pub struct ConfigReady {
    inner: Arc<Inner>,
    topic: String,
}

impl ReadinessCheck for ConfigReady {
    fn name(&self) -> &str {
        "config"
    }

    fn check(&self) -> CheckFuture<'_> {
        let ready = self.inner.ready.load(Ordering::Acquire);
        let topic = self.topic.clone();
        Box::pin(async move {
            if ready {
                Ok(())
            } else {
                Err(format!("catching up with {topic}"))
            }
        })
    }
}

struct Handler(Arc<Inner>);

#[async_trait]
impl BatchHandler for Handler {
    async fn handle_batch(&self, batch: &[Delivery]) -> Result<Vec<(usize, String)>, HandlerError> {
        for delivery in batch {
            self.0.handle(delivery);
        }
        Ok(Vec::new())
    }
}

impl Inner {
    fn handle(&self, delivery: &Delivery) {
        if delivery.message.headers.get_str("ce_type") == Some(SYNC_TYPE) {
            self.marker(delivery);
            return;
        }
        let change = match ConfigChange::from_message(&delivery.message) {
            Ok(change) => change,
            Err(error) => {
                Outcome::Undecodable.record("unknown");
                tracing::warn!(
                    %error,
                    topic = %delivery.topic,
                    partition = delivery.partition,
                    position = %delivery.position,
                    "skipping a config record that is not a configuration change"
                );
                return;
            }
        };
        if change.kind() == self.apply.kind() {
            self.take(&change, Utc::now());
        }
    }

    /// Applies `change` unless a change as new or newer was applied.
    fn take(&self, change: &ConfigChange, now: DateTime<Utc>) {
        let kind = change.kind().as_str();
        let key = change.key();
        // Held across the apply: check, apply and record are one step per entity.
        let mut applied = lock(&self.applied);
        let current = applied.versions.get(&key).copied().unwrap_or(0);
        if change.version() <= current {
            Outcome::Stale.record(kind);
            tracing::debug!(%key, version = change.version(), current, "stale configuration change ignored");
            return;
        }
        match self.apply.apply(change, &self.sealer, now) {
            Ok(()) => {
                Outcome::Applied.record(kind);
                applied.versions.insert(key.clone(), change.version());
                match change {
                    ConfigChange::EndpointUpserted { spec, .. } => match spec.next_expiry(now) {
                        Some(at) => {
                            applied.expiring.insert(key, (at, change.clone()));
                        }
                        None => {
                            applied.expiring.remove(&key);
                        }
                    },
                    _ => {
                        applied.expiring.remove(&key);
                    }
                }
                tracing::info!(
                    change = change.event_type(),
                    tenant = %change.tenant(),
                    id = change.id(),
                    version = change.version(),
                    "configuration change applied"
                );
            }
            Err(error) => {
                Outcome::Failed.record(kind);
                tracing::error!(
                    %error,
                    change = change.event_type(),
                    tenant = %change.tenant(),
                    id = change.id(),
                    version = change.version(),
                    "configuration change not applied; the entity keeps its previous configuration"
                );
            }
        }
    }

    fn marker(&self, delivery: &Delivery) {
        let ours = Event::from_message(&delivery.message)
            .ok()
            .is_some_and(|event| event.subject() == Some(self.instance.as_str()));
        if !ours {
            return;
        }
        let mut sync = lock(&self.sync);
        sync.seen.insert(delivery.partition);
        self.check_caught_up(&sync);
    }

    fn check_caught_up(&self, sync: &CatchUp) {
        let Some(awaited) = &sync.awaited else {
            return;
        };
        if awaited.is_subset(&sync.seen) && !self.ready.swap(true, Ordering::AcqRel) {
            self.caught_up.notify_waiters();
            tracing::info!(
                service = self.service,
                partitions = awaited.len(),
                "caught up with run-time configuration"
            );
        }
    }
}

/// The marker record for partition `partition` of `partitions`.
fn marker(instance: &str, service: &str, partition: u32, partitions: u32) -> Option<Message> {
    // The first key of the form `sync/<n>` that hashes to the partition: the same for every
    // replica, so compaction keeps one marker per partition.
    let key = (0..u32::MAX)
        .map(|n| format!("sync/{n}"))
        .find(|key| partition_for(Some(key.as_bytes()), partitions) == partition)?;
    let event = Event::builder(
        TenantId::parse(SYNC_TENANT).ok()?,
        EventId::generate(),
        format!("/switchyard/{service}"),
        EventType::parse(SYNC_TYPE).ok()?,
    )
    .subject(Some(instance.to_owned()))
    .build()
    .ok()?;
    let mut message = event.to_binary();
    message.key = Some(key.into_bytes().into());
    Some(message)
}

/// Publishes one marker per partition, retrying while the broker is away, and records
/// where they went (the acknowledgements name the partitions actually used).
async fn publish_markers(
    inner: &Inner,
    bus: &Bus,
    topic: &str,
    partitions: u32,
    shutdown: &Shutdown,
) {
    let messages: Vec<Message> = (0..partitions)
        .filter_map(|p| marker(&inner.instance, inner.service, p, partitions))
        .collect();
    let backoff = RetryPolicy::default();
    for attempt in 1.. {
        match bus.publisher.publish_batch(topic, messages.clone()).await {
            Ok(acks) => {
                let mut sync = lock(&inner.sync);
                sync.awaited = Some(acks.iter().map(|ack| ack.partition).collect());
                inner.check_caught_up(&sync);
                return;
            }
            Err(error) => {
                tracing::warn!(%error, %topic, "cannot publish the configuration catch-up marker yet; retrying");
            }
        }
        tokio::select! {
            () = shutdown.triggered() => return,
            () = tokio::time::sleep(backoff.backoff(attempt)) => {}
        }
    }
}

/// Re-applies endpoints when a previous secret's overlap window ends, so it stops being
/// used then and not only at the next change or restart.
async fn expire_previous_secrets(inner: &Inner, shutdown: &Shutdown) {
    loop {
        tokio::select! {
            () = shutdown.triggered() => return,
            () = tokio::time::sleep(EXPIRY_TICK) => {}
        }
        let now = Utc::now();
        let due: Vec<ConfigChange> = lock(&inner.applied)
            .expiring
            .values()
            .filter(|(at, _)| *at <= now)
            .map(|(_, change)| change.clone())
            .collect();
        for change in due {
            inner.reapply(&change, now);
        }
    }
}

impl Inner {
    fn reapply(&self, change: &ConfigChange, now: DateTime<Utc>) {
        let key = change.key();
        let mut applied = lock(&self.applied);
        // A newer change may have replaced it meanwhile; that one is already current.
        let still_current = applied
            .expiring
            .get(&key)
            .is_some_and(|(_, c)| c.version() == change.version());
        if !still_current {
            return;
        }
        match self.apply.refresh(change, &self.sealer, now) {
            Ok(()) => {
                tracing::info!(tenant = %change.tenant(), id = change.id(), "a previous endpoint secret expired");
            }
            Err(error) => {
                tracing::error!(%error, tenant = %change.tenant(), id = change.id(), "cannot re-apply an endpoint after its previous secret expired");
            }
        }
        let next = match change {
            ConfigChange::EndpointUpserted { spec, .. } => spec.next_expiry(now),
            _ => None,
        };
        match next {
            Some(at) => {
                applied.expiring.insert(key, (at, change.clone()));
            }
            None => {
                applied.expiring.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests;
