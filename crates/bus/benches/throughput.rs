//! Bus throughput and latency against the raw client of each backend, in the same run on the
//! same broker, so the figures are ratios (the test broker's own ceiling cancels out).
//!
//! Run: `cargo bench -p switchyard-bus --bench throughput [-- BACKEND...]` with backends from
//! `memory redis nats kafka` (default: all). Brokers come from the usual `SWITCHYARD__BUS__*` variables.
//!
//! For each backend:
//! - publish: N records of 1 KiB over 64 keys, in batches, until every one is acknowledged;
//! - publish → consume: a consumer group drains the N records (handler does nothing);
//! - p99 publish latency: single records, one at a time, acknowledgement round trip.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_precision_loss
)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures::StreamExt as _;
use rdkafka::{
    ClientConfig, Message as _,
    consumer::{Consumer as _, StreamConsumer},
    producer::{FutureProducer, FutureRecord},
};
use switchyard_bus::{
    Bus, Delivery, HandlerError, RetryPolicy, StartFrom, Subscription, memory::MemoryBroker,
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

#[derive(Default, Clone, Copy)]
struct Figures {
    publish_per_sec: f64,
    pipeline_per_sec: f64,
    p99_publish: Duration,
    p50_publish: Duration,
}

fn median(mut runs: Vec<Figures>) -> Figures {
    let mid = runs.len() / 2;
    runs.sort_by(|a, b| a.publish_per_sec.total_cmp(&b.publish_per_sec));
    let publish = runs[mid].publish_per_sec;
    runs.sort_by(|a, b| a.pipeline_per_sec.total_cmp(&b.pipeline_per_sec));
    let pipeline = runs[mid].pipeline_per_sec;
    runs.sort_by_key(|f| f.p99_publish);
    let p99_publish = runs[mid].p99_publish;
    runs.sort_by_key(|f| f.p50_publish);
    Figures {
        publish_per_sec: publish,
        pipeline_per_sec: pipeline,
        p99_publish,
        p50_publish: runs[mid].p50_publish,
    }
}

/// (p50, p99) of the samples.
fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
    )
}

// --- the bus --------------------------------------------------------------------------------

async fn bus_run(bus: &Bus) -> Figures {
    let topic = unique_name("bench");
    bus.admin
        .ensure_topics(&[topic.clone(), format!("{topic}.dlq")])
        .await
        .unwrap();
    let messages: Vec<Message> = (0..RECORDS)
        .map(|i| Message {
            key: Some(Bytes::from(key(i))),
            headers: Headers::new(),
            payload: payload(),
        })
        .collect();

    let started = Instant::now();
    for chunk in messages.chunks(BATCH) {
        bus.publisher
            .publish_batch(&topic, chunk.to_vec())
            .await
            .unwrap();
    }
    let publish_per_sec = RECORDS as f64 / started.elapsed().as_secs_f64();

    let consumed = Arc::new(AtomicUsize::new(0));
    let counter = consumed.clone();
    let handler = move |_: Delivery| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::Relaxed);
            Ok::<(), HandlerError>(())
        }
    };
    let shutdown = CancellationToken::new();
    let subscription = Subscription {
        group: unique_name("bench"),
        topics: vec![topic.clone()],
        retry: RetryPolicy::default(),
        dlq_topic: format!("{topic}.dlq"),
        start: StartFrom::Earliest,
    };
    let started = Instant::now();
    let subscriber = bus.subscriber.clone();
    let token = shutdown.clone();
    let task =
        tokio::spawn(async move { subscriber.run(subscription, Arc::new(handler), token).await });
    while consumed.load(Ordering::Relaxed) < RECORDS {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let pipeline_per_sec = RECORDS as f64 / started.elapsed().as_secs_f64();
    shutdown.cancel();
    task.await.unwrap().unwrap();

    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for i in 0..LATENCY_SAMPLES {
        let message = Message {
            key: Some(Bytes::from(key(i))),
            headers: Headers::new(),
            payload: payload(),
        };
        let sent = Instant::now();
        bus.publisher.publish(&topic, message).await.unwrap();
        samples.push(sent.elapsed());
    }
    let (p50_publish, p99_publish) = percentiles(samples);
    Figures {
        publish_per_sec,
        pipeline_per_sec,
        p99_publish,
        p50_publish,
    }
}

// --- raw clients ----------------------------------------------------------------------------

/// An idempotent, acks=all producer configured like the bus's, connected and warmed up so
/// neither side pays connection set-up inside the timed region.
async fn raw_kafka_producer(brokers: &str, topic: &str) -> FutureProducer {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    producer
        .send(
            FutureRecord::to(topic).key("warm-up").payload("x"),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    producer
}

async fn raw_kafka_run(brokers: &str, producer: &FutureProducer, admin_bus: &Bus) -> Figures {
    let topic = unique_name("bench-raw");
    admin_bus
        .admin
        .ensure_topics(std::slice::from_ref(&topic))
        .await
        .unwrap();
    let body = payload();
    let started = Instant::now();
    for chunk in (0..RECORDS).collect::<Vec<_>>().chunks(BATCH) {
        let keys: Vec<String> = chunk.iter().map(|i| key(*i)).collect();
        let pending: Vec<_> = keys
            .iter()
            .map(|k| {
                producer
                    .send_result(FutureRecord::to(&topic).key(k).payload(body.as_ref()))
                    .unwrap()
            })
            .collect();
        for delivery in pending {
            delivery.await.unwrap().unwrap();
        }
    }
    let publish_per_sec = RECORDS as f64 / started.elapsed().as_secs_f64();

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique_name("bench-raw"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.offset.store", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    let started = Instant::now();
    let mut stream = consumer.stream();
    let mut seen = 0;
    while seen < RECORDS {
        let message = stream.next().await.unwrap().unwrap();
        consumer
            .store_offset(message.topic(), message.partition(), message.offset())
            .unwrap();
        seen += 1;
    }
    let pipeline_per_sec = RECORDS as f64 / started.elapsed().as_secs_f64();
    drop(stream);

    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for i in 0..LATENCY_SAMPLES {
        let k = key(i);
        let sent = Instant::now();
        producer
            .send(
                FutureRecord::to(&topic).key(&k).payload(body.as_ref()),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
        samples.push(sent.elapsed());
    }
    let (p50_publish, p99_publish) = percentiles(samples);
    Figures {
        publish_per_sec,
        pipeline_per_sec,
        p99_publish,
        p50_publish,
    }
}

/// A hand-written Redis Streams client doing the same job: pipelined XADD of the same entry
/// shape to the same partition streams, then one reader per partition with XREADGROUP batches
/// and an XACK per handled record (the same at-least-once granularity as the bus).
async fn raw_redis_run(url: &str) -> Figures {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let topic = unique_name("bench-raw");
    let stream = |p: u32| format!("{topic}:{p}");
    let body = payload();
    let started = Instant::now();
    for chunk in (0..RECORDS).collect::<Vec<_>>().chunks(BATCH) {
        let mut pipe = redis::pipe();
        for i in chunk {
            let k = key(*i);
            let p = switchyard_bus::partitioner::partition_for(Some(k.as_bytes()), PARTITIONS);
            pipe.cmd("XADD")
                .arg(stream(p))
                .arg("MAXLEN")
                .arg("~")
                .arg(1_000_000)
                .arg("*")
                .arg("key")
                .arg(k.as_bytes())
                .arg("payload")
                .arg(body.as_ref());
        }
        let _: Vec<String> = pipe.query_async(&mut conn).await.unwrap();
    }
    let publish_per_sec = RECORDS as f64 / started.elapsed().as_secs_f64();

    let group = unique_name("bench-raw");
    for p in 0..PARTITIONS {
        let _: () = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(stream(p))
            .arg(&group)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let consumed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut readers = Vec::new();
    for p in 0..PARTITIONS {
        let (client, key, group, consumed) =
            (client.clone(), stream(p), group.clone(), consumed.clone());
        readers.push(tokio::spawn(async move {
            let mut conn = client.get_multiplexed_async_connection().await.unwrap();
            loop {
                let reply: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
                    .arg("GROUP")
                    .arg(&group)
                    .arg("c")
                    .arg("COUNT")
                    .arg(100)
                    .arg("BLOCK")
                    .arg(100)
                    .arg("STREAMS")
                    .arg(&key)
                    .arg(">")
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default();
                let ids: Vec<String> = reply
                    .keys
                    .into_iter()
                    .flat_map(|k| k.ids)
                    .map(|e| e.id)
                    .collect();
                if ids.is_empty() {
                    if consumed.load(Ordering::Relaxed) >= RECORDS {
                        return;
                    }
                    continue;
                }
                for id in ids {
                    let _: i64 = redis::cmd("XACK")
                        .arg(&key)
                        .arg(&group)
                        .arg(&id)
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                    consumed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    while consumed.load(Ordering::Relaxed) < RECORDS {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let pipeline_per_sec = RECORDS as f64 / started.elapsed().as_secs_f64();
    for reader in readers {
        reader.await.unwrap();
    }

    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for i in 0..LATENCY_SAMPLES {
        let k = key(i);
        let p = switchyard_bus::partitioner::partition_for(Some(k.as_bytes()), PARTITIONS);
        let sent = Instant::now();
        let _: String = redis::cmd("XADD")
            .arg(stream(p))
            .arg("MAXLEN")
            .arg("~")
            .arg(1_000_000)
            .arg("*")
            .arg("key")
            .arg(k.as_bytes())
            .arg("payload")
            .arg(body.as_ref())
            .query_async(&mut conn)
            .await
            .unwrap();
        samples.push(sent.elapsed());
    }
    let (p50_publish, p99_publish) = percentiles(samples);
    Figures {
        publish_per_sec,
        pipeline_per_sec,
        p99_publish,
        p50_publish,
    }
}

/// A hand-written JetStream client doing the same job: a stream with one subject per
/// partition, publishes pipelined on one connection then all PubAcks awaited, one durable pull
/// consumer per partition fetching batches and confirming each ack (`double_ack`, as the bus).
async fn raw_nats_run(url: &str) -> Figures {
    use async_nats::jetstream;
    let client = async_nats::connect(url).await.unwrap();
    let js = jetstream::new(client);
    let name = unique_name("bench-raw").replace('_', "-");
    let subject = |p: u32| format!("{name}.{p}");
    let stream = js
        .create_stream(jetstream::stream::Config {
            name: name.clone(),
            subjects: vec![format!("{name}.*")],
            ..Default::default()
        })
        .await
        .unwrap();
    let body = payload();
    let started = Instant::now();
    for chunk in (0..RECORDS).collect::<Vec<_>>().chunks(BATCH) {
        let mut pending = Vec::with_capacity(chunk.len());
        for i in chunk {
            let k = key(*i);
            let p = switchyard_bus::partitioner::partition_for(Some(k.as_bytes()), PARTITIONS);
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("key", k.as_str());
            pending.push(
                js.publish_with_headers(subject(p), headers, body.clone())
                    .await
                    .unwrap(),
            );
        }
        for ack in pending {
            ack.await.unwrap();
        }
    }
    let publish_per_sec = RECORDS as f64 / started.elapsed().as_secs_f64();

    let consumed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut readers = Vec::new();
    for p in 0..PARTITIONS {
        let consumer = stream
            .create_consumer(jetstream::consumer::pull::Config {
                durable_name: Some(format!("raw-{p}")),
                filter_subject: subject(p),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .unwrap();
        let consumed = consumed.clone();
        readers.push(tokio::spawn(async move {
            while consumed.load(Ordering::Relaxed) < RECORDS {
                let mut batch = consumer
                    .fetch()
                    .max_messages(64)
                    .expires(Duration::from_millis(100))
                    .messages()
                    .await
                    .unwrap();
                while let Some(message) = batch.next().await {
                    message.unwrap().double_ack().await.unwrap();
                    consumed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    while consumed.load(Ordering::Relaxed) < RECORDS {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let pipeline_per_sec = RECORDS as f64 / started.elapsed().as_secs_f64();
    for reader in readers {
        reader.await.unwrap();
    }

    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for i in 0..LATENCY_SAMPLES {
        let k = key(i);
        let p = switchyard_bus::partitioner::partition_for(Some(k.as_bytes()), PARTITIONS);
        let sent = Instant::now();
        js.publish(subject(p), body.clone())
            .await
            .unwrap()
            .await
            .unwrap();
        samples.push(sent.elapsed());
    }
    let (p50_publish, p99_publish) = percentiles(samples);
    Figures {
        publish_per_sec,
        pipeline_per_sec,
        p99_publish,
        p50_publish,
    }
}

/// The in-process baseline: a bounded tokio channel carrying the same records.
async fn raw_memory_run() -> Figures {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(RECORDS);
    let started = Instant::now();
    for i in 0..RECORDS {
        tx.send(Message {
            key: Some(Bytes::from(key(i))),
            headers: Headers::new(),
            payload: payload(),
        })
        .await
        .unwrap();
    }
    let publish_per_sec = RECORDS as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    for _ in 0..RECORDS {
        rx.recv().await.unwrap();
    }
    let pipeline_per_sec = RECORDS as f64 / started.elapsed().as_secs_f64();
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for i in 0..LATENCY_SAMPLES {
        let sent = Instant::now();
        tx.send(Message {
            key: Some(Bytes::from(key(i))),
            headers: Headers::new(),
            payload: payload(),
        })
        .await
        .unwrap();
        rx.recv().await.unwrap();
        samples.push(sent.elapsed());
    }
    let (p50_publish, p99_publish) = percentiles(samples);
    Figures {
        publish_per_sec,
        pipeline_per_sec,
        p99_publish,
        p50_publish,
    }
}

// --- report ---------------------------------------------------------------------------------

fn report(backend: &str, baseline: &str, raw: Figures, bus: Figures) {
    let overhead = |raw: f64, ours: f64| (raw / ours - 1.0) * 100.0;
    println!(
        "| {backend} | {baseline} | publish | {:.0} | {:.0} | {:+.1}% |",
        raw.publish_per_sec,
        bus.publish_per_sec,
        overhead(raw.publish_per_sec, bus.publish_per_sec)
    );
    println!(
        "| {backend} | {baseline} | publish → consume | {:.0} | {:.0} | {:+.1}% |",
        raw.pipeline_per_sec,
        bus.pipeline_per_sec,
        overhead(raw.pipeline_per_sec, bus.pipeline_per_sec)
    );
    println!(
        "| {backend} | {baseline} | p50 publish ack | {:.1} µs | {:.1} µs | {:+.1}% |",
        raw.p50_publish.as_secs_f64() * 1e6,
        bus.p50_publish.as_secs_f64() * 1e6,
        (bus.p50_publish.as_secs_f64() / raw.p50_publish.as_secs_f64() - 1.0) * 100.0
    );
    println!(
        "| {backend} | {baseline} | p99 publish ack | {:.1} µs | {:.1} µs | {:+.1}% |",
        raw.p99_publish.as_secs_f64() * 1e6,
        bus.p99_publish.as_secs_f64() * 1e6,
        (bus.p99_publish.as_secs_f64() / raw.p99_publish.as_secs_f64() - 1.0) * 100.0
    );
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

#[tokio::main]
async fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    println!(
        "{RECORDS} records of 1 KiB over {KEYS} keys, {PARTITIONS} partitions, batches of {BATCH}; median of {RUNS} runs; records/s"
    );
    println!("| backend | baseline | measure | raw client | bus | bus overhead |");
    println!("|---|---|---|---|---|---|");

    if run("memory") {
        let (mut raw, mut ours) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            raw.push(raw_memory_run().await);
            let bus = Bus::memory(
                &MemoryBroker::new(PARTITIONS),
                &settings(BusBackend::Memory),
            );
            ours.push(bus_run(&bus).await);
        }
        report("memory", "tokio mpsc", median(raw), median(ours));
    }
    if run("redis") {
        let settings = settings(BusBackend::Redis);
        let bus = Bus::connect(&settings).await.unwrap();
        let (mut raw, mut ours) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            raw.push(raw_redis_run(&settings.redis.url).await);
            ours.push(bus_run(&bus).await);
        }
        report(
            "redis",
            "redis crate, XADD/XREADGROUP/XACK",
            median(raw),
            median(ours),
        );
    }
    if run("nats") {
        let settings = settings(BusBackend::Nats);
        let bus = Bus::connect(&settings).await.unwrap();
        let (mut raw, mut ours) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            raw.push(raw_nats_run(&settings.nats.url).await);
            ours.push(bus_run(&bus).await);
        }
        report(
            "nats",
            "async-nats JetStream, pull consumers",
            median(raw),
            median(ours),
        );
    }
    if run("kafka") {
        let settings = settings(BusBackend::Kafka);
        let bus = Bus::connect(&settings).await.unwrap();
        let warm_up = unique_name("bench-warm-up");
        bus.admin
            .ensure_topics(std::slice::from_ref(&warm_up))
            .await
            .unwrap();
        bus.publisher
            .publish(
                &warm_up,
                Message {
                    key: None,
                    headers: Headers::new(),
                    payload: payload(),
                },
            )
            .await
            .unwrap();
        let producer = raw_kafka_producer(&settings.kafka.brokers, &warm_up).await;
        let (mut raw, mut ours) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            raw.push(raw_kafka_run(&settings.kafka.brokers, &producer, &bus).await);
            ours.push(bus_run(&bus).await);
        }
        report("kafka (tansu)", "rdkafka", median(raw), median(ours));
    }
}
