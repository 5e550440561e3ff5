//! Bus throughput and latency against the raw client of each backend, in the same run on the
//! same broker, so the figures are ratios (the test broker's own ceiling cancels out).
//!
//! Run: `cargo bench -p switchyard-bus --bench throughput [-- BACKEND...]` with backends from
//! `memory redis nats kafka` (default: all). Brokers come from the usual `SWITCHYARD__BUS__*`
//! variables.
//!
//! Every contender (the bus, or a hand-written raw client doing the same job with the same
//! guarantees) is measured by one function, [`measure`]:
//! - publish: N records of 1 KiB over 64 keys, in batches, until every one is acknowledged;
//! - publish → consume, steady state: a consumer group already running (joined and warmed up
//!   before the clock starts) drains N records as they are published;
//! - publish ack latency: single records, one at a time, p50 and p99.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_precision_loss
)]

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt as _;
use rdkafka::{
    ClientConfig, Message as _,
    consumer::{Consumer as _, StreamConsumer},
    producer::{FutureProducer, FutureRecord},
};
use switchyard_bus::{
    Bus, Delivery, HandlerError, RetryPolicy, StartFrom, Subscription, memory::MemoryBroker,
    partitioner::partition_for,
};
use switchyard_domain::{Headers, Message};
use switchyard_runtime::settings::{BusBackend, BusSettings};
use switchyard_testkit::{infra, unique_name};
use tokio_util::sync::CancellationToken;

const RECORDS: usize = 20_000;
const BATCH: usize = 500;
const KEYS: usize = 64;
const LATENCY_SAMPLES: usize = 1_000;
const PARTITIONS: u32 = 6;
const RUNS: usize = 3;

fn payload() -> Bytes {
    Bytes::from(vec![b'x'; 1024])
}

fn key(i: usize) -> String {
    format!("tenant-{}", i % KEYS)
}

fn message(i: usize) -> Message {
    Message {
        key: Some(Bytes::from(key(i))),
        headers: Headers::new(),
        payload: payload(),
    }
}

fn partition(i: usize) -> u32 {
    partition_for(Some(key(i).as_bytes()), PARTITIONS)
}

/// One side of a comparison.
#[async_trait]
trait Contender: Send + Sync {
    /// A fresh topic with `PARTITIONS` partitions.
    async fn topic(&self) -> String;
    /// Publishes records `ids` and waits for every acknowledgement.
    async fn publish_batch(&self, topic: &str, ids: &[usize]);
    /// Publishes one record and waits for its acknowledgement.
    async fn publish_one(&self, topic: &str, id: usize);
    /// Starts a consumer group on `topic` that counts what it has handled into `seen`; it
    /// stops when `stop` fires.
    async fn consume(&self, topic: &str, seen: Arc<AtomicUsize>, stop: CancellationToken);
}

#[derive(Clone, Copy)]
struct Figures {
    publish_per_sec: f64,
    pipeline_per_sec: f64,
    p50_publish: Duration,
    p99_publish: Duration,
}

async fn wait_for(seen: &AtomicUsize, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen.load(Ordering::Relaxed) < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} consumed",
            seen.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn measure(contender: &dyn Contender) -> Figures {
    let ids: Vec<usize> = (0..RECORDS).collect();

    let topic = contender.topic().await;
    let started = Instant::now();
    for chunk in ids.chunks(BATCH) {
        contender.publish_batch(&topic, chunk).await;
    }
    let publish_per_sec = RECORDS as f64 / started.elapsed().as_secs_f64();

    let pipeline = contender.topic().await;
    let seen = Arc::new(AtomicUsize::new(0));
    let stop = CancellationToken::new();
    contender
        .consume(&pipeline, seen.clone(), stop.clone())
        .await;
    contender.publish_one(&pipeline, 0).await;
    wait_for(&seen, 1).await; // joined and warm
    let started = Instant::now();
    for chunk in ids.chunks(BATCH) {
        contender.publish_batch(&pipeline, chunk).await;
    }
    wait_for(&seen, RECORDS + 1).await;
    let pipeline_per_sec = RECORDS as f64 / started.elapsed().as_secs_f64();
    stop.cancel();

    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for id in 0..LATENCY_SAMPLES {
        let sent = Instant::now();
        contender.publish_one(&topic, id).await;
        samples.push(sent.elapsed());
    }
    samples.sort();
    Figures {
        publish_per_sec,
        pipeline_per_sec,
        p50_publish: samples[samples.len() / 2],
        p99_publish: samples[samples.len() * 99 / 100],
    }
}

fn median(mut runs: Vec<Figures>) -> Figures {
    let mid = runs.len() / 2;
    let mut pick = |by: fn(&Figures) -> f64| {
        runs.sort_by(|a, b| by(a).total_cmp(&by(b)));
        runs[mid]
    };
    Figures {
        publish_per_sec: pick(|f| f.publish_per_sec).publish_per_sec,
        pipeline_per_sec: pick(|f| f.pipeline_per_sec).pipeline_per_sec,
        p50_publish: pick(|f| f.p50_publish.as_secs_f64()).p50_publish,
        p99_publish: pick(|f| f.p99_publish.as_secs_f64()).p99_publish,
    }
}

// --- the bus --------------------------------------------------------------------------------

struct OnBus(Bus);

#[async_trait]
impl Contender for OnBus {
    async fn topic(&self) -> String {
        let topic = unique_name("bench");
        self.0
            .admin
            .ensure_topics(&[topic.clone(), format!("{topic}.dlq")])
            .await
            .unwrap();
        topic
    }

    async fn publish_batch(&self, topic: &str, ids: &[usize]) {
        self.0
            .publisher
            .publish_batch(topic, ids.iter().map(|i| message(*i)).collect())
            .await
            .unwrap();
    }

    async fn publish_one(&self, topic: &str, id: usize) {
        self.0.publisher.publish(topic, message(id)).await.unwrap();
    }

    async fn consume(&self, topic: &str, seen: Arc<AtomicUsize>, stop: CancellationToken) {
        let handler = move |_: Delivery| {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::Relaxed);
                Ok::<(), HandlerError>(())
            }
        };
        let subscription = Subscription {
            group: unique_name("bench"),
            topics: vec![topic.to_owned()],
            retry: RetryPolicy::default(),
            dlq_topic: format!("{topic}.dlq"),
            start: StartFrom::Earliest,
        };
        let subscriber = self.0.subscriber.clone();
        tokio::spawn(async move { subscriber.run(subscription, Arc::new(handler), stop).await });
    }
}

// --- raw clients ----------------------------------------------------------------------------

/// rdkafka configured like the bus: idempotent, `acks=all`, murmur2; consumer storing offsets
/// after each record with auto-commit, as the bus does.
struct RawKafka {
    brokers: String,
    producer: FutureProducer,
    admin: Bus,
}

#[async_trait]
impl Contender for RawKafka {
    async fn topic(&self) -> String {
        let topic = unique_name("bench-raw");
        self.admin
            .admin
            .ensure_topics(std::slice::from_ref(&topic))
            .await
            .unwrap();
        topic
    }

    async fn publish_batch(&self, topic: &str, ids: &[usize]) {
        let body = payload();
        let keys: Vec<String> = ids.iter().map(|i| key(*i)).collect();
        let pending: Vec<_> = keys
            .iter()
            .map(|k| {
                self.producer
                    .send_result(FutureRecord::to(topic).key(k).payload(body.as_ref()))
                    .unwrap()
            })
            .collect();
        for delivery in pending {
            delivery.await.unwrap().unwrap();
        }
    }

    async fn publish_one(&self, topic: &str, id: usize) {
        let (k, body) = (key(id), payload());
        let record = FutureRecord::to(topic).key(&k).payload(body.as_ref());
        self.producer
            .send(record, Duration::from_secs(10))
            .await
            .unwrap();
    }

    async fn consume(&self, topic: &str, seen: Arc<AtomicUsize>, stop: CancellationToken) {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", unique_name("bench-raw"))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.offset.store", "false")
            .create()
            .unwrap();
        consumer.subscribe(&[topic]).unwrap();
        tokio::spawn(async move {
            let mut stream = consumer.stream();
            loop {
                let message = tokio::select! {
                    message = stream.next() => message.unwrap().unwrap(),
                    () = stop.cancelled() => return,
                };
                consumer
                    .store_offset(message.topic(), message.partition(), message.offset())
                    .unwrap();
                seen.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
}

/// The redis crate by hand: pipelined XADD of the same entry shape to the same partition
/// streams; one reader per partition with XREADGROUP batches and an XACK per handled record
/// (the bus's at-least-once granularity).
struct RawRedis {
    client: redis::Client,
    conn: redis::aio::MultiplexedConnection,
}

fn xadd(stream: &str, id: usize) -> redis::Cmd {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(stream)
        .arg("MAXLEN")
        .arg("~")
        .arg(1_000_000)
        .arg("*");
    cmd.arg("key")
        .arg(key(id).as_bytes())
        .arg("payload")
        .arg(payload().as_ref());
    cmd
}

#[async_trait]
impl Contender for RawRedis {
    async fn topic(&self) -> String {
        unique_name("bench-raw")
    }

    async fn publish_batch(&self, topic: &str, ids: &[usize]) {
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.add_command(xadd(&format!("{topic}:{}", partition(*id)), *id));
        }
        let _: Vec<String> = pipe.query_async(&mut self.conn.clone()).await.unwrap();
    }

    async fn publish_one(&self, topic: &str, id: usize) {
        let _: String = xadd(&format!("{topic}:{}", partition(id)), id)
            .query_async(&mut self.conn.clone())
            .await
            .unwrap();
    }

    async fn consume(&self, topic: &str, seen: Arc<AtomicUsize>, stop: CancellationToken) {
        let group = unique_name("bench-raw");
        for p in 0..PARTITIONS {
            let _: () = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(format!("{topic}:{p}"))
                .arg(&group)
                .arg("0")
                .arg("MKSTREAM")
                .query_async(&mut self.conn.clone())
                .await
                .unwrap();
        }
        for p in 0..PARTITIONS {
            let (client, stream, group, seen, stop) = (
                self.client.clone(),
                format!("{topic}:{p}"),
                group.clone(),
                seen.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let mut conn = client.get_multiplexed_async_connection().await.unwrap();
                while !stop.is_cancelled() {
                    let reply: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
                        .arg("GROUP")
                        .arg(&group)
                        .arg("c")
                        .arg("COUNT")
                        .arg(100)
                        .arg("BLOCK")
                        .arg(100)
                        .arg("STREAMS")
                        .arg(&stream)
                        .arg(">")
                        .query_async(&mut conn)
                        .await
                        .unwrap_or_default();
                    for entry in reply.keys.into_iter().flat_map(|k| k.ids) {
                        let _: i64 = redis::cmd("XACK")
                            .arg(&stream)
                            .arg(&group)
                            .arg(&entry.id)
                            .query_async(&mut conn)
                            .await
                            .unwrap();
                        seen.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    }
}

/// async-nats by hand: one stream per topic, one subject per partition, a `Nats-Msg-Id` per
/// record (the deduplication the bus relies on), publishes pipelined then all PubAcks awaited;
/// a durable pull consumer per partition fetching batches and confirming each ack.
struct RawNats {
    js: async_nats::jetstream::Context,
    streams: Mutex<HashMap<String, async_nats::jetstream::stream::Stream>>,
}

impl RawNats {
    fn headers(id: usize) -> async_nats::HeaderMap {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("key", key(id).as_str());
        headers.insert("Nats-Msg-Id", unique_name("m").as_str());
        headers
    }
}

#[async_trait]
impl Contender for RawNats {
    async fn topic(&self) -> String {
        let name = unique_name("bench-raw").replace('_', "-");
        let stream = self
            .js
            .create_stream(async_nats::jetstream::stream::Config {
                name: name.clone(),
                subjects: vec![format!("{name}.*")],
                ..Default::default()
            })
            .await
            .unwrap();
        self.streams.lock().unwrap().insert(name.clone(), stream);
        name
    }

    async fn publish_batch(&self, topic: &str, ids: &[usize]) {
        let mut pending = Vec::with_capacity(ids.len());
        for id in ids {
            let subject = format!("{topic}.{}", partition(*id));
            pending.push(
                self.js
                    .publish_with_headers(subject, Self::headers(*id), payload())
                    .await
                    .unwrap(),
            );
        }
        for ack in pending {
            ack.await.unwrap();
        }
    }

    async fn publish_one(&self, topic: &str, id: usize) {
        let subject = format!("{topic}.{}", partition(id));
        self.js
            .publish_with_headers(subject, Self::headers(id), payload())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    async fn consume(&self, topic: &str, seen: Arc<AtomicUsize>, stop: CancellationToken) {
        use async_nats::jetstream::consumer::{AckPolicy, pull};
        let stream = self.streams.lock().unwrap().get(topic).cloned().unwrap();
        for p in 0..PARTITIONS {
            let consumer = stream
                .create_consumer(pull::Config {
                    durable_name: Some(format!("raw-{p}")),
                    filter_subject: format!("{topic}.{p}"),
                    ack_policy: AckPolicy::Explicit,
                    ..Default::default()
                })
                .await
                .unwrap();
            let (seen, stop) = (seen.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.is_cancelled() {
                    let mut batch = consumer
                        .fetch()
                        .max_messages(64)
                        .expires(Duration::from_millis(100))
                        .messages()
                        .await
                        .unwrap();
                    while let Some(message) = batch.next().await {
                        message.unwrap().double_ack().await.unwrap();
                        seen.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    }
}

/// A topic's channel: the sender, and the receiver until a consumer takes it.
type Channel = (
    tokio::sync::mpsc::Sender<Message>,
    Option<tokio::sync::mpsc::Receiver<Message>>,
);

/// The floor of any in-process queue: a bounded tokio channel per topic.
#[derive(Default)]
struct RawChannel {
    channels: Mutex<HashMap<String, Channel>>,
}

impl RawChannel {
    fn sender(&self, topic: &str) -> tokio::sync::mpsc::Sender<Message> {
        self.channels.lock().unwrap()[topic].0.clone()
    }
}

#[async_trait]
impl Contender for RawChannel {
    async fn topic(&self) -> String {
        let topic = unique_name("bench-raw");
        let (tx, rx) = tokio::sync::mpsc::channel(2 * RECORDS);
        self.channels
            .lock()
            .unwrap()
            .insert(topic.clone(), (tx, Some(rx)));
        topic
    }

    async fn publish_batch(&self, topic: &str, ids: &[usize]) {
        let tx = self.sender(topic);
        for id in ids {
            tx.send(message(*id)).await.unwrap();
        }
    }

    async fn publish_one(&self, topic: &str, id: usize) {
        self.sender(topic).send(message(id)).await.unwrap();
    }

    async fn consume(&self, topic: &str, seen: Arc<AtomicUsize>, stop: CancellationToken) {
        let mut rx = self
            .channels
            .lock()
            .unwrap()
            .get_mut(topic)
            .unwrap()
            .1
            .take()
            .unwrap();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    message = rx.recv() => if message.is_none() { return },
                    () = stop.cancelled() => return,
                }
                seen.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
}

// --- report ---------------------------------------------------------------------------------

fn report(backend: &str, baseline: &str, raw: Figures, bus: Figures) {
    let more = |raw: f64, ours: f64| (raw / ours - 1.0) * 100.0;
    let rows = [
        (
            "publish, records/s",
            raw.publish_per_sec,
            bus.publish_per_sec,
            more(raw.publish_per_sec, bus.publish_per_sec),
        ),
        (
            "publish → consume, records/s",
            raw.pipeline_per_sec,
            bus.pipeline_per_sec,
            more(raw.pipeline_per_sec, bus.pipeline_per_sec),
        ),
    ];
    for (measure, raw, bus, overhead) in rows {
        println!("| {backend} | {baseline} | {measure} | {raw:.0} | {bus:.0} | {overhead:+.1}% |");
    }
    for (measure, raw, bus) in [
        ("p50 publish ack", raw.p50_publish, bus.p50_publish),
        ("p99 publish ack", raw.p99_publish, bus.p99_publish),
    ] {
        let (raw, bus) = (raw.as_secs_f64() * 1e6, bus.as_secs_f64() * 1e6);
        println!(
            "| {backend} | {baseline} | {measure} | {raw:.1} µs | {bus:.1} µs | {:+.1}% |",
            (bus / raw - 1.0) * 100.0
        );
    }
}

fn settings(backend: BusBackend) -> BusSettings {
    let mut settings = BusSettings {
        backend,
        partitions: PARTITIONS,
        ..BusSettings::default()
    };
    settings.kafka.brokers = infra::kafka_brokers();
    settings.redis.url = infra::redis_url();
    settings.nats.url = infra::nats_url();
    settings
}

async fn compare(backend: &str, baseline: &str, raw: &dyn Contender, bus: &dyn Contender) {
    let (mut raws, mut buses) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        raws.push(measure(raw).await);
        buses.push(measure(bus).await);
    }
    report(backend, baseline, median(raws), median(buses));
}

#[tokio::main]
async fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    println!(
        "{RECORDS} records of 1 KiB over {KEYS} keys, {PARTITIONS} partitions, batches of {BATCH}; median of {RUNS} runs"
    );
    println!("| backend | baseline | measure | raw client | bus | bus overhead |");
    println!("|---|---|---|---|---|---|");

    if run("memory") {
        let bus = Bus::memory(
            &MemoryBroker::new(PARTITIONS),
            &settings(BusBackend::Memory),
        );
        compare(
            "memory",
            "tokio mpsc channel",
            &RawChannel::default(),
            &OnBus(bus),
        )
        .await;
    }
    if run("redis") {
        let settings = settings(BusBackend::Redis);
        let client = redis::Client::open(settings.redis.url.as_str()).unwrap();
        let conn = client.get_multiplexed_async_connection().await.unwrap();
        let bus = Bus::connect(&settings).await.unwrap();
        compare(
            "redis",
            "redis crate: XADD, XREADGROUP, XACK",
            &RawRedis { client, conn },
            &OnBus(bus),
        )
        .await;
    }
    if run("nats") {
        let settings = settings(BusBackend::Nats);
        let js = async_nats::jetstream::new(
            async_nats::connect(settings.nats.url.as_str())
                .await
                .unwrap(),
        );
        let bus = Bus::connect(&settings).await.unwrap();
        let raw = RawNats {
            js,
            streams: Mutex::default(),
        };
        compare(
            "nats",
            "async-nats JetStream, pull consumers",
            &raw,
            &OnBus(bus),
        )
        .await;
    }
    if run("kafka") {
        let settings = settings(BusBackend::Kafka);
        let bus = Bus::connect(&settings).await.unwrap();
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &settings.kafka.brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "5")
            .create()
            .unwrap();
        let admin = Bus::connect(&settings).await.unwrap();
        let raw = RawKafka {
            brokers: settings.kafka.brokers.clone(),
            producer,
            admin,
        };
        // Both producers connect and fetch their idempotent producer id before the clock runs.
        let warm = raw.topic().await;
        raw.publish_one(&warm, 0).await;
        OnBus(bus.clone()).publish_one(&warm, 0).await;
        compare(
            "kafka (tansu)",
            "rdkafka, same producer and consumer settings",
            &raw,
            &OnBus(bus),
        )
        .await;
    }
}
