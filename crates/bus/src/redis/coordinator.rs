//! A member's control loop: heartbeats, computes its assignment, takes and renews leases, and
//! starts or stops one reader per partition it holds.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use tokio::{
    task::{Id, JoinError, JoinSet},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use super::{
    BACKEND, PartitionKey,
    connection::Failure,
    keys,
    membership::{self, LeaseClock, LeaseRequest, Member},
    reader,
};

pub(super) struct Coordinator {
    member: Arc<Member>,
    /// The subscription's topics with their partition counts.
    topics: Vec<(String, u32)>,
    shutdown: CancellationToken,
    /// Partitions with a running reader (including revoked ones still finishing a record).
    owned: HashMap<PartitionKey, Owned>,
    readers: JoinSet<PartitionKey>,
    tasks: HashMap<Id, PartitionKey>,
    /// Partitions read during this run, whose consumer entry is removed on leaving.
    touched: BTreeSet<PartitionKey>,
}

struct Owned {
    lease: Arc<LeaseClock>,
    stop: CancellationToken,
}

impl Coordinator {
    pub(super) fn new(
        member: Arc<Member>,
        topics: Vec<(String, u32)>,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            member,
            topics,
            shutdown,
            owned: HashMap::new(),
            readers: JoinSet::new(),
            tasks: HashMap::new(),
            touched: BTreeSet::new(),
        }
    }

    /// Runs until `shutdown`, then lets the readers finish their record, and leaves.
    pub(super) async fn run(mut self) {
        let heartbeat = self.member.tuning.heartbeat();
        let shutdown = self.shutdown.clone();
        let mut next_tick = Instant::now();
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                Some(joined) = self.readers.join_next_with_id() => self.reader_ended(joined),
                () = tokio::time::sleep_until(next_tick) => {
                    // A tick waits on Redis, which may be down: shutting down must not wait
                    // for it. (A lease taken by an interrupted tick expires by itself.)
                    let settled = tokio::select! {
                        settled = self.tick() => settled,
                        () = shutdown.cancelled() => break,
                    };
                    // Unsettled (a partition still leased to its previous owner, or Redis did
                    // not answer): look again soon rather than a whole heartbeat later.
                    let wait = if settled { heartbeat } else { heartbeat / 4 };
                    next_tick = Instant::now() + wait;
                }
            }
        }
        self.drain().await;
        self.leave().await;
    }

    /// One round: renew what we hold, then rebalance each topic. Returns whether this member
    /// reads everything assigned to it.
    async fn tick(&mut self) -> bool {
        // Deadlines count from before the requests are sent, so they never outlast Redis's.
        let started = Instant::now();
        self.renew(started).await;
        self.report_lag().await;
        let mut settled = true;
        for index in 0..self.topics.len() {
            let (topic, partitions) = self.topics[index].clone();
            settled &= self.balance(&topic, partitions, started).await;
        }
        settled
    }

    async fn balance(&mut self, topic: &str, partitions: u32, started: Instant) -> bool {
        let live = match self.member.heartbeat(topic).await {
            Ok(live) => live,
            Err(error) => {
                tracing::warn!(topic, %error, "heartbeat failed");
                return false;
            }
        };
        let assigned = membership::assigned(&live, &self.member.id, partitions);
        for ((owned_topic, partition), owned) in &self.owned {
            if owned_topic == topic && !assigned.contains(partition) && !owned.stop.is_cancelled() {
                // The reader finishes its record, then releases the lease for the new owner.
                tracing::info!(topic, partition, "partition revoked");
                owned.stop.cancel();
            }
        }
        let wanted: Vec<u32> = assigned
            .into_iter()
            .filter(|p| !self.owned.contains_key(&(topic.to_owned(), *p)))
            .collect();
        if wanted.is_empty() {
            return true;
        }
        let leases: Vec<String> = wanted
            .iter()
            .map(|p| keys::owner(topic, *p, self.member.group()))
            .collect();
        match self.member.leases(&leases, LeaseRequest::Acquire).await {
            Ok(held) => {
                let mut all = true;
                for (partition, held) in wanted.into_iter().zip(held) {
                    if held {
                        self.start_reader(topic, partition, started);
                    } else {
                        all = false;
                    }
                }
                all
            }
            Err(error) => {
                tracing::warn!(topic, %error, "cannot take partition leases");
                false
            }
        }
    }

    /// Renews every lease held; a reader whose lease went to someone else is stopped.
    async fn renew(&mut self, started: Instant) {
        if self.owned.is_empty() {
            return;
        }
        let held: Vec<PartitionKey> = self.owned.keys().cloned().collect();
        let leases: Vec<String> = held
            .iter()
            .map(|(topic, p)| keys::owner(topic, *p, self.member.group()))
            .collect();
        match self.member.leases(&leases, LeaseRequest::Renew).await {
            Ok(flags) => {
                let until = started + self.member.tuning.session;
                for (key, kept) in held.iter().zip(flags) {
                    let Some(owned) = self.owned.get(key) else {
                        continue;
                    };
                    if kept {
                        owned.lease.extend_to(until);
                    } else if !owned.stop.is_cancelled() {
                        tracing::warn!(topic = %key.0, partition = key.1, "partition lease lost");
                        owned.stop.cancel();
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot renew leases; readers stop when they expire");
            }
        }
    }

    /// Exports how far behind the group is on each partition this member reads.
    async fn report_lag(&self) {
        if self.owned.is_empty() {
            return;
        }
        let owned: Vec<PartitionKey> = self.owned.keys().cloned().collect();
        match self.member.lags(&owned).await {
            Ok(lags) => {
                for ((topic, partition), lag) in owned.into_iter().zip(lags) {
                    let Some(lag) = lag else {
                        continue;
                    };
                    #[allow(clippy::cast_precision_loss)]
                    metrics::gauge!(
                        "switchyard_bus_consumer_lag",
                        "backend" => BACKEND,
                        "topic" => topic,
                        "partition" => partition.to_string(),
                        "group" => self.member.group().to_owned()
                    )
                    .set(lag as f64);
                }
            }
            Err(error) => tracing::debug!(%error, "consumer lag unknown"),
        }
    }

    fn start_reader(&mut self, topic: &str, partition: u32, started: Instant) {
        let key = (topic.to_owned(), partition);
        let lease = Arc::new(LeaseClock::until(started + self.member.tuning.session));
        let stop = self.shutdown.child_token();
        let task = self.readers.spawn(reader::read_partition(
            self.member.clone(),
            key.clone(),
            lease.clone(),
            stop.clone(),
        ));
        tracing::info!(topic, partition, member = %self.member.id, "partition assigned");
        self.tasks.insert(task.id(), key.clone());
        self.owned.insert(key.clone(), Owned { lease, stop });
        self.touched.insert(key);
    }

    fn reader_ended(&mut self, joined: Result<(Id, PartitionKey), JoinError>) {
        let id = match joined {
            Ok((id, _)) => id,
            Err(error) => {
                // A panicking handler: the lease expires, the record stays pending.
                tracing::error!(%error, "partition reader failed");
                error.id()
            }
        };
        if let Some(key) = self.tasks.remove(&id) {
            self.owned.remove(&key);
        }
    }

    /// Waits for the readers (stopped by the shutdown token) to finish their record, renewing
    /// their leases meanwhile.
    async fn drain(&mut self) {
        let heartbeat = self.member.tuning.heartbeat();
        let mut next_renewal = Instant::now() + heartbeat;
        while !self.readers.is_empty() {
            tokio::select! {
                Some(joined) = self.readers.join_next_with_id() => self.reader_ended(joined),
                () = tokio::time::sleep_until(next_renewal) => {
                    self.renew(Instant::now()).await;
                    next_renewal = Instant::now() + heartbeat;
                }
            }
        }
    }

    /// Leaves at once, so the others rebalance now rather than after the session timeout.
    async fn leave(&self) {
        let leave = async {
            for (topic, _) in &self.topics {
                self.member.leave(topic).await?;
            }
            for (topic, partition) in &self.touched {
                self.member.prune_consumers(topic, *partition).await?;
            }
            Ok::<(), Failure>(())
        };
        match tokio::time::timeout(self.member.tuning.command_timeout, leave).await {
            Ok(Ok(())) => tracing::info!(member = %self.member.id, "left the group"),
            Ok(Err(error)) => {
                tracing::warn!(%error, "could not leave cleanly; membership expires by itself");
            }
            Err(_) => tracing::warn!("leaving timed out; membership expires by itself"),
        }
    }
}
