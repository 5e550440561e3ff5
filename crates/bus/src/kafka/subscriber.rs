use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use bytes::Bytes;
use rdkafka::{
    ClientContext, Message as _, Statistics, TopicPartitionList,
    consumer::{
        BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance, StreamConsumer,
    },
    message::{BorrowedMessage, Headers as _},
};
use switchyard_domain::{Headers, Message};
use switchyard_runtime::settings::BusSettings;
use tokio::{sync::mpsc, task::JoinSet};
use tokio_util::sync::CancellationToken;

use self::lanes::Lanes;
use super::{BACKEND, base_config};
use crate::{
    BatchHandler, BusError, Delivery, Handler, Position, Publisher, StartFrom, Subscriber,
    Subscription,
    process::{Processor, Work},
};

mod lanes;

pub(super) struct KafkaSubscriber {
    settings: BusSettings,
    dlq: Arc<dyn Publisher>,
}

impl KafkaSubscriber {
    pub(super) fn new(settings: &BusSettings, dlq: Arc<dyn Publisher>) -> Self {
        Self {
            settings: settings.clone(),
            dlq,
        }
    }
}

type PartitionKey = (String, i32);

/// Cancels the workers of partitions taken away in a rebalance, so they stop taking records
/// the next owner will also read.
#[derive(Default)]
struct Revocations {
    workers: Mutex<HashMap<PartitionKey, CancellationToken>>,
}

struct Context {
    revocations: Arc<Revocations>,
    group: String,
}

impl ClientContext for Context {
    /// librdkafka's periodic statistics carry each assigned partition's lag (high watermark
    /// minus committed offset); export it so dashboards show how far each group is behind.
    fn stats(&self, statistics: Statistics) {
        for (topic, stats) in &statistics.topics {
            for (partition, partition_stats) in &stats.partitions {
                // -1 is librdkafka's "internal UA partition"; negative lag means "unknown".
                if *partition < 0 || partition_stats.consumer_lag < 0 {
                    continue;
                }
                #[allow(clippy::cast_precision_loss)]
                let lag = partition_stats.consumer_lag as f64;
                metrics::gauge!(
                    "switchyard_bus_consumer_lag",
                    "backend" => BACKEND,
                    "topic" => topic.clone(),
                    "partition" => partition.to_string(),
                    "group" => self.group.clone()
                )
                .set(lag);
            }
        }
    }
}

impl ConsumerContext for Context {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            let mut workers = self
                .revocations
                .workers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for element in partitions.elements() {
                if let Some(token) =
                    workers.remove(&(element.topic().to_owned(), element.partition()))
                {
                    token.cancel();
                }
            }
            drop(workers);
            // librdkafka keeps an application's pause through unassign and a later assign: a
            // partition paused for a slow worker would come back paused, with no lane left to
            // resume it. Here, before the unassign, the resume stays clear of a later assign (a
            // pause or resume just after an assign can make librdkafka drop the assign's start
            // position, librdkafka#2190). Partitions that are not paused are left alone.
            if let Err(error) = consumer.resume(partitions) {
                tracing::warn!(%error, "cannot lift the pause of revoked partitions");
            }
            tracing::info!(revoked = partitions.count(), "partitions revoked");
        }
    }
}

fn to_delivery(message: &BorrowedMessage<'_>) -> Delivery {
    let mut headers = Headers::new();
    if let Some(borrowed) = message.headers() {
        for header in borrowed.iter() {
            headers.append(
                header.key,
                Bytes::copy_from_slice(header.value.unwrap_or_default()),
            );
        }
    }
    Delivery {
        topic: message.topic().to_owned(),
        partition: u32::try_from(message.partition()).unwrap_or_default(),
        position: Position::Offset(u64::try_from(message.offset()).unwrap_or_default()),
        message: Message {
            key: message.key().map(Bytes::copy_from_slice),
            headers,
            payload: message
                .payload()
                .map(Bytes::copy_from_slice)
                .unwrap_or_default(),
        },
        attempt: 1,
    }
}

#[async_trait]
impl Subscriber for KafkaSubscriber {
    async fn run(
        &self,
        subscription: Subscription,
        handler: Arc<dyn Handler>,
        shutdown: CancellationToken,
    ) -> Result<(), BusError> {
        self.run_work(subscription, Work::One(handler), shutdown)
            .await
    }

    async fn run_batched(
        &self,
        subscription: Subscription,
        handler: Arc<dyn BatchHandler>,
        max_batch: usize,
        shutdown: CancellationToken,
    ) -> Result<(), BusError> {
        self.run_work(subscription, Work::Batch(handler, max_batch), shutdown)
            .await
    }
}

impl KafkaSubscriber {
    async fn run_work(
        &self,
        subscription: Subscription,
        handler: Work,
        shutdown: CancellationToken,
    ) -> Result<(), BusError> {
        let revocations = Arc::new(Revocations::default());
        let reset = match subscription.start {
            StartFrom::Earliest => "earliest",
            StartFrom::Latest => "latest",
        };
        let consumer: StreamConsumer<Context> = base_config(&self.settings)
            .set("group.id", &subscription.group)
            .set("auto.offset.reset", reset)
            // Offsets are stored by us after a record is finished, and committed by
            // librdkafka every second, on rebalance and on close.
            .set("enable.auto.offset.store", "false")
            .set("enable.auto.commit", "true")
            // Incremental rebalancing: a member joining or leaving moves only the partitions
            // that change owner; everyone else keeps working through the rebalance.
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("auto.commit.interval.ms", "1000")
            // How long the broker may hold a fetch open when it has less than fetch.min.bytes.
            // Kafka answers as soon as records are there; tansu 0.6 waits this out even then,
            // and librdkafka's 500 ms default became every record's latency floor there. 100 ms
            // costs an idle consumer ten fetch requests a second per broker.
            .set("fetch.wait.max.ms", "100")
            .set(
                "session.timeout.ms",
                self.settings.kafka.session_timeout_ms.to_string(),
            )
            // Statistics carry per-partition consumer lag (see `Context::stats`).
            .set("statistics.interval.ms", "5000")
            .create_with_context(Context {
                revocations: revocations.clone(),
                group: subscription.group.clone(),
            })
            .map_err(|e| BusError::Config {
                backend: BACKEND,
                reason: e.to_string(),
            })?;
        let topics: Vec<&str> = subscription.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(|e| BusError::Unavailable {
                backend: BACKEND,
                reason: e.to_string(),
            })?;
        let consumer = Arc::new(consumer);
        let processor = Arc::new(Processor::with_work(
            BACKEND,
            subscription,
            handler,
            self.dlq.clone(),
        ));

        let mut workers = JoinSet::new();
        let mut lanes = Lanes::default();
        // A partition revoked and assigned back gets a new worker while the old one may still
        // be finishing its record; the lock makes the new one wait, so a partition is never
        // processed twice at once.
        let mut owners: HashMap<PartitionKey, Arc<tokio::sync::Mutex<()>>> = HashMap::new();
        loop {
            let received = tokio::select! {
                received = consumer.recv() => received,
                Some((key, paused)) = lanes.next_drained() => {
                    lanes.resume(&consumer, &key, &paused);
                    continue;
                }
                () = shutdown.cancelled() => break,
            };
            let message = match received {
                Ok(message) => message,
                Err(error) => {
                    // librdkafka reconnects by itself; surface the error and keep polling.
                    tracing::warn!(%error, "kafka consumer error");
                    continue;
                }
            };
            let key = (message.topic().to_owned(), message.partition());
            let delivery = to_delivery(&message);
            drop(message);
            if !lanes.is_open(&key) {
                let stop = shutdown.child_token();
                revocations
                    .workers
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(key.clone(), stop.clone());
                let owner = owners.entry(key.clone()).or_default().clone();
                let records = lanes.open(key.clone(), stop.clone());
                workers.spawn(work(
                    consumer.clone(),
                    processor.clone(),
                    key.clone(),
                    records,
                    stop,
                    owner,
                ));
            }
            lanes.forward(&consumer, key, delivery).await;
        }
        drop(lanes);
        while workers.join_next().await.is_some() {}
        // Commit what the workers stored before leaving the group. A synchronous commit
        // blocks its thread until the broker answers, so it runs off the async workers.
        let committing =
            tokio::task::spawn_blocking(move || consumer.commit_consumer_state(CommitMode::Sync));
        match committing.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::debug!(%error, "final commit had nothing to do or failed"),
            Err(error) => tracing::warn!(%error, "final commit task failed"),
        }
        Ok(())
    }
}

/// Handles one partition's records in order; stores each offset once the record is done.
async fn work(
    consumer: Arc<StreamConsumer<Context>>,
    processor: Arc<Processor>,
    (topic, partition): PartitionKey,
    mut records: mpsc::Receiver<Delivery>,
    stop: CancellationToken,
    owner: Arc<tokio::sync::Mutex<()>>,
) {
    let _owner = tokio::select! {
        guard = owner.lock_owned() => guard,
        () = stop.cancelled() => return,
    };
    let max_batch = processor.max_batch();
    let mut batch = Vec::with_capacity(max_batch);
    loop {
        let first = tokio::select! {
            delivery = records.recv() => match delivery {
                Some(delivery) => delivery,
                None => return,
            },
            () = stop.cancelled() => return,
        };
        batch.push(first);
        // Whatever else of this partition is already waiting joins the batch; a batch never
        // waits for records that have not arrived.
        while batch.len() < max_batch {
            match records.try_recv() {
                Ok(delivery) => batch.push(delivery),
                Err(_) => break,
            }
        }
        let Some(&Position::Offset(last)) = batch.last().map(|d| &d.position) else {
            return;
        };
        let done = if max_batch == 1 {
            match batch.pop() {
                Some(delivery) => processor.process(delivery, &stop).await.map(|_| ()),
                None => Ok(()),
            }
        } else {
            processor
                .process_batch(std::mem::take(&mut batch), &stop)
                .await
        };
        if done.is_err() {
            return; // stopped mid-batch: not stored, so it is delivered again
        }
        if stop.is_cancelled() {
            // Revoked or shutting down while the handler ran: storing could move a new
            // owner's position; the records are simply seen again (at-least-once).
            if !consumer_owns(&consumer, &topic, partition) {
                return;
            }
        }
        let offset = i64::try_from(last).unwrap_or(i64::MAX);
        if let Err(error) = consumer.store_offset(&topic, partition, offset) {
            tracing::warn!(%error, topic, partition, offset, "cannot store offset; records will be redelivered");
        }
        if stop.is_cancelled() {
            return;
        }
    }
}

fn consumer_owns(consumer: &StreamConsumer<Context>, topic: &str, partition: i32) -> bool {
    consumer
        .assignment()
        .is_ok_and(|assigned: TopicPartitionList| {
            assigned
                .elements_for_topic(topic)
                .iter()
                .any(|e| e.partition() == partition)
        })
}
