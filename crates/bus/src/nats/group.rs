//! One member of a consumer group: its presence, partition leases and readers in the group
//! bucket (see the module documentation of `nats` for the protocol).

use std::{collections::HashMap, panic::AssertUnwindSafe, sync::Arc, time::Duration};

use async_nats::jetstream::kv::{self, CreateErrorKind, UpdateErrorKind, Watch};
use bytes::Bytes;
use futures::{FutureExt as _, StreamExt as _, future::join_all};
use tokio::{sync::watch, task::JoinSet, time::Instant};
use tokio_util::sync::CancellationToken;

use super::{
    membership::{GroupTopic, PartitionKey, View},
    names::GroupKeys,
    partition::{Reader, Shared, lag_gauge},
    within,
};

/// This member, its leases and its partition readers.
pub(super) struct Member {
    pub(super) id: String,
    pub(super) group: String,
    pub(super) bucket: kv::Store,
    pub(super) ttl: Duration,
    pub(super) topics: Vec<GroupTopic>,
    pub(super) shared: Arc<Shared>,
}

/// A partition lease this member holds.
struct Lease {
    revision: u64,
    fresh_until: watch::Sender<Instant>,
    stop: CancellationToken,
    state: LeaseState,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum LeaseState {
    Reading,
    /// Wanted by another member: released once the reader finished its record.
    Releasing,
    /// Taken over or expired: the reader stops and the key is someone else's.
    Lost,
}

impl Member {
    fn op_timeout(&self) -> Duration {
        self.shared.op_timeout
    }

    /// Takes part in the group until `shutdown`, then hands everything back.
    pub(super) async fn run(self, shutdown: CancellationToken) {
        let mut leases: HashMap<PartitionKey, Lease> = HashMap::new();
        let mut readers: JoinSet<PartitionKey> = JoinSet::new();
        let mut view = View::new(self.topics.len());
        let mut watch = None;
        let mut tick = tokio::time::interval(self.ttl / 3);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Our own renewals come back through the watch; silence means it is broken.
            if watch.is_none() || view.last_event().elapsed() > self.ttl {
                watch = self.watch(&mut view, &shutdown).await;
            }
            if watch.is_some() {
                self.reconcile(&view, &mut leases, &mut readers, &shutdown)
                    .await;
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                Some(done) = readers.join_next() => {
                    if let Ok(key) = done {
                        self.reader_done(key, &mut leases).await;
                    }
                }
                _ = tick.tick() => self.renew(&mut leases).await,
                entry = next_entry(&mut watch) => match entry {
                    Some(entry) => view.apply(&self.topics, &entry, Duration::ZERO),
                    None => watch = None,
                },
            }
        }
        self.leave(leases, readers).await;
    }

    /// Announces this member and opens a watch on the group's keys, reading the current state
    /// first so the first assignment already sees the other members.
    async fn watch(&self, view: &mut View, shutdown: &CancellationToken) -> Option<Watch> {
        let op = self.op_timeout();
        if shutdown.is_cancelled() {
            return None;
        }
        for topic in &self.topics {
            let put = self.bucket.put(topic.keys.member(&self.id), self.value());
            if !matches!(within(op, put).await, Ok(Ok(_))) {
                tracing::debug!(group = %self.group, "cannot announce the member yet");
                return None;
            }
        }
        let filter = GroupKeys::group_filter(&self.group);
        let mut watch = match within(op, self.bucket.watch_with_history(&filter)).await {
            Ok(Ok(watch)) => watch,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, group = %self.group, "cannot watch the group yet");
                return None;
            }
            Err(_) => return None,
        };
        // The snapshot holds at least our own key, just written: its server time is "now",
        // so every other key's age is measured on the server's clock alone.
        let mut snapshot = Vec::new();
        let deadline = Instant::now() + op;
        while let Ok(Some(Ok(entry))) = tokio::time::timeout_at(deadline, watch.next()).await {
            let last = entry.delta == 0;
            snapshot.push(entry);
            if last {
                break;
            }
        }
        let now = snapshot.iter().map(|e| e.created).max()?;
        for entry in &snapshot {
            let age = (now - entry.created).whole_milliseconds();
            let age = Duration::from_millis(u64::try_from(age).unwrap_or(0));
            view.apply(&self.topics, entry, age);
        }
        Some(watch)
    }

    fn value(&self) -> Bytes {
        Bytes::from(self.id.clone())
    }

    /// Gives up the partitions another member should read and takes the free ones this
    /// member should read.
    async fn reconcile(
        &self,
        view: &View,
        leases: &mut HashMap<PartitionKey, Lease>,
        readers: &mut JoinSet<PartitionKey>,
        shutdown: &CancellationToken,
    ) {
        for (t, topic) in self.topics.iter().enumerate() {
            let wanted = view.assignment(t, topic.partitions, &self.id, self.ttl);
            for (partition, wanted) in (0..topic.partitions).zip(wanted) {
                let key = (t, partition);
                match leases.get_mut(&key) {
                    Some(lease) if !wanted && lease.state == LeaseState::Reading => {
                        tracing::info!(group = %self.group, topic = %topic.name, partition, "giving the partition up");
                        lease.state = LeaseState::Releasing;
                        lease.stop.cancel();
                    }
                    None if wanted && view.free(key, &self.id, self.ttl) => {
                        if let Some(lease) = self.acquire(key, readers, shutdown).await {
                            leases.insert(key, lease);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    async fn acquire(
        &self,
        (t, partition): PartitionKey,
        readers: &mut JoinSet<PartitionKey>,
        shutdown: &CancellationToken,
    ) -> Option<Lease> {
        let topic = &self.topics[t];
        let sent = Instant::now();
        let created = self
            .bucket
            .create(topic.keys.owner(partition), self.value());
        let revision = match within(self.op_timeout(), created).await {
            Ok(Ok(revision)) => revision,
            Ok(Err(e)) if e.kind() == CreateErrorKind::AlreadyExists => return None,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, partition, "cannot take the partition lease");
                return None;
            }
            Err(_) => return None,
        };
        tracing::info!(group = %self.group, topic = %topic.name, partition, "partition assigned");
        let (fresh_until, lease) = watch::channel(sent + self.ttl);
        let stop = shutdown.child_token();
        let reader = Reader {
            shared: self.shared.clone(),
            topic: topic.name.clone(),
            partition,
            cursor_key: topic.keys.cursor(partition),
            lease,
            stop: stop.clone(),
            finished: topic.finished[partition as usize].clone(),
            lag: lag_gauge(&self.group, &topic.name, partition),
        };
        readers.spawn(async move {
            // A panicking handler must not take the lease down with it: log, back off, and
            // read again (the record is redelivered).
            while !reader.stop.is_cancelled() {
                if AssertUnwindSafe(reader.run()).catch_unwind().await.is_ok() {
                    break;
                }
                tracing::error!(topic = %reader.topic, partition, "partition reader panicked; restarting it");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = reader.stop.cancelled() => {}
                }
            }
            (t, partition)
        });
        Some(Lease {
            revision,
            fresh_until,
            stop,
            state: LeaseState::Reading,
        })
    }

    /// Renews the member keys and every lease held, all at once.
    async fn renew(&self, leases: &mut HashMap<PartitionKey, Lease>) {
        let op = self.op_timeout();
        let sent = Instant::now();
        let members = join_all(self.topics.iter().map(|topic| {
            within(
                op,
                self.bucket.put(topic.keys.member(&self.id), self.value()),
            )
        }));
        let held: Vec<(PartitionKey, u64)> = leases
            .iter()
            .filter(|(_, lease)| lease.state != LeaseState::Lost)
            .map(|(key, lease)| (*key, lease.revision))
            .collect();
        let renewals = join_all(held.iter().map(|((t, p), revision)| {
            let key = self.topics[*t].keys.owner(*p);
            within(op, self.bucket.update(key, self.value(), *revision))
        }));
        let (members, renewals) = tokio::join!(members, renewals);
        if members.iter().any(|r| !matches!(r, Ok(Ok(_)))) {
            tracing::debug!(group = %self.group, "member key not renewed");
        }
        for ((key, _), renewed) in held.iter().zip(renewals) {
            let Some(lease) = leases.get_mut(key) else {
                continue;
            };
            match renewed {
                Ok(Ok(revision)) => {
                    lease.revision = revision;
                    lease.fresh_until.send_replace(sent + self.ttl);
                }
                Ok(Err(e)) if e.kind() == UpdateErrorKind::WrongLastRevision => {
                    tracing::warn!(group = %self.group, topic = %self.topics[key.0].name, partition = key.1, "partition lease lost");
                    lease.state = LeaseState::Lost;
                    lease.stop.cancel();
                }
                // Not renewed this time; the reader stops pulling if it stays that way.
                Ok(Err(_)) | Err(_) => {}
            }
        }
    }

    /// A reader finished: its lease goes back to the group unless it was lost.
    async fn reader_done(&self, key: PartitionKey, leases: &mut HashMap<PartitionKey, Lease>) {
        let Some(lease) = leases.remove(&key) else {
            return;
        };
        if lease.state == LeaseState::Lost {
            return;
        }
        let owner = self.topics[key.0].keys.owner(key.1);
        let released = self
            .bucket
            .delete_expect_revision(owner, Some(lease.revision));
        if !matches!(within(self.op_timeout(), released).await, Ok(Ok(()))) {
            // It expires by itself within the TTL.
            tracing::debug!(partition = key.1, "lease not released");
        }
    }

    /// Lets every reader finish its record (renewing the leases meanwhile), releases the
    /// leases and leaves the group.
    async fn leave(
        &self,
        mut leases: HashMap<PartitionKey, Lease>,
        mut readers: JoinSet<PartitionKey>,
    ) {
        for lease in leases.values() {
            lease.stop.cancel();
        }
        let mut tick = tokio::time::interval(self.ttl / 3);
        loop {
            tokio::select! {
                done = readers.join_next() => match done {
                    Some(Ok(key)) => self.reader_done(key, &mut leases).await,
                    Some(Err(_)) => {}
                    None => break,
                },
                _ = tick.tick() => self.renew(&mut leases).await,
            }
        }
        let op = self.op_timeout();
        let goodbyes = join_all(
            self.topics
                .iter()
                .map(|topic| within(op, self.bucket.delete(topic.keys.member(&self.id)))),
        );
        goodbyes.await;
        tracing::info!(group = %self.group, member = %self.id, "left the group");
    }
}

/// The next change the watch reports; `None` when it broke. Waits forever without a watch.
async fn next_entry(watch: &mut Option<Watch>) -> Option<kv::Entry> {
    match watch {
        Some(watch) => match watch.next().await {
            Some(Ok(entry)) => Some(entry),
            Some(Err(e)) => {
                tracing::debug!(error = %e, "group watch failed; reopening it");
                None
            }
            None => None,
        },
        None => std::future::pending().await,
    }
}
