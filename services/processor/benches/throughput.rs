//! Records/s through the processor (raw webhook → validated canonical event) on the Kafka
//! backend, with schema validation on and off, against a plain rdkafka consume→produce pipe
//! over the same broker in the same run (the baseline: what the broker allows for a job of
//! this shape).
//!
//! Input: `--records` raw Razorpay `payment.captured` webhooks of 1 KiB (the documented sample,
//! minified: 1,029 bytes), spread over 64 tenants on a 6-partition raw topic,
//! published once before the runs. Every contender reads all of them with a consumer group of
//! its own and writes one record per input to an output topic of its own; its figure is input
//! records ÷ seconds from its first record read to its last output acknowledged.
//!
//! - **pipe** (baseline): rdkafka configured like the bus (idempotent `acks=all` producer with
//!   `linger.ms=5`, consumer storing offsets after the acknowledgement and committing them
//!   every second), forwarding key, headers and value untouched, in batches of up to
//!   `--batch` records;
//! - **processor**: the service's own handler (`RawToEvents`: decode, map, validate, build the
//!   CloudEvent, publish the batch) on the bus's batched Kafka consumer, with the shipped
//!   schemas (`validation on`) or without (`validation off`).
//!
//! Run: `cargo bench -p switchyard-processor --bench throughput [-- --records 50000 --runs 3
//! --batch 500]`. With `SWITCHYARD__BUS__KAFKA__BROKERS` set it uses that broker; otherwise it
//! starts a fresh tansu (sqlite engine) of its own, as the tests do. Each cell is the median
//! of the runs; the bench process's CPU per record is reported beside it.

#![allow(clippy::expect_used, clippy::print_stdout, clippy::print_stderr)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use bytes::Bytes;
use prost::Message as _;
use rdkafka::{
    ClientConfig, Message as _, Offset, TopicPartitionList,
    consumer::{CommitMode, Consumer, StreamConsumer},
    message::{Header, Headers as _, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
};
use switchyard_bus::{
    BatchHandler, Bus, Delivery, HandlerError, Position, RetryPolicy, StartFrom, Subscription,
};
use switchyard_domain::{
    Headers, Message,
    wire::{self, HttpHeader, RawWebhook},
};
use switchyard_processor::{handler::RawToEvents, pipeline::Pipeline};
use switchyard_runtime::settings::{BusBackend, BusSettings};
use switchyard_schema_registry::SchemaRegistry;
use switchyard_testkit::{
    bench::{self, cpu_seconds},
    unique_name,
};
use tokio_util::sync::CancellationToken;

const TENANTS: usize = 64;
const PARTITIONS: u32 = 6;

struct Options {
    records: usize,
    runs: usize,
    batch: usize,
}

impl Options {
    fn parse() -> Self {
        let args =
            bench::Options::from_args(&["--records", "--runs", "--batch"], "benches/throughput.rs");
        Self {
            records: args.get("--records", 50_000),
            runs: args.get("--runs", 3),
            batch: args.get("--batch", 500),
        }
    }
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    let (brokers, _private) = bench::kafka_brokers().await;
    let mut settings = BusSettings {
        backend: BusBackend::Kafka,
        partitions: PARTITIONS,
        ..BusSettings::default()
    };
    settings.kafka.brokers.clone_from(&brokers);
    settings.topic_prefix = unique_name("bench-processor").parse().expect("prefix");
    let bus = Bus::connect(&settings)
        .await
        .unwrap_or_else(|e| panic!("Kafka-protocol broker at {brokers}: {e}"));
    let topics = settings.topics();
    let raw_topic = topics.ingest_raw();
    bus.admin
        .ensure_topics(&[raw_topic.clone(), topics.dlq()])
        .await
        .unwrap_or_else(|e| panic!("Kafka-protocol broker at {brokers}: {e}"));

    let body = body();
    println!(
        "filling {raw_topic}: {} raw webhooks, body {} bytes, {TENANTS} tenants, {PARTITIONS} partitions",
        options.records,
        body.len()
    );
    let sample = fill(&bus, &raw_topic, &body, options.records).await;
    // The headers of the event the processor makes of a raw record: the second baseline
    // writes them too, so the broker's cost per header is in both.
    let event_headers = Pipeline::new(&[], SchemaRegistry::empty(), false)
        .process(&Delivery {
            topic: raw_topic.clone(),
            partition: 0,
            position: Position::Offset(0),
            message: sample,
            attempt: 1,
        })
        .map_err(|e| e.to_string())
        .expect("the bench input is a valid webhook")
        .event
        .to_binary()
        .headers;
    println!("an event carries {} headers", event_headers.len());

    let schemas = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas");
    let mut results: Vec<(&str, Vec<Figure>)> = vec![
        ("pipe", vec![]),
        ("pipe + event headers", vec![]),
        ("validation on", vec![]),
        ("validation off", vec![]),
    ];
    for run in 1..=options.runs {
        for (slot, extra) in [(0, &Headers::new()), (1, &event_headers)] {
            let figure = pipe(&bus, &brokers, &raw_topic, extra, &options).await;
            println!("run {run}: {:<22} {figure}", results[slot].0);
            results[slot].1.push(figure);
        }
        for (slot, validate) in [(2, true), (3, false)] {
            let registry = if validate {
                SchemaRegistry::load(std::path::Path::new(schemas)).expect("schemas")
            } else {
                SchemaRegistry::empty()
            };
            let figure = processor(
                &bus,
                &settings,
                Pipeline::new(&[], registry, validate),
                options.records,
                options.batch,
            )
            .await;
            println!("run {run}: {:<22} {figure}", results[slot].0);
            results[slot].1.push(figure);
        }
    }

    println!(
        "\n| contender | records/s (median of {}) | vs pipe | bench process CPU per record |",
        options.runs
    );
    println!("|---|---|---|---|");
    let baseline = median(&results[0].1).per_sec;
    for (name, figures) in &results {
        let m = median(figures);
        println!(
            "| {name} | {:.0} | {:.1}% | {:.1} µs |",
            m.per_sec,
            m.per_sec / baseline * 100.0,
            m.cpu_us_per_record
        );
    }
}

/// The documented `payment.captured` sample, minified: 1,029 bytes.
fn body() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/fixtures/razorpay/razorpay.payment.captured.json"
    );
    let value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("fixture JSON");
    serde_json::to_vec(&value).expect("JSON")
}

/// Publishes the input; returns its first record.
async fn fill(bus: &Bus, topic: &str, body: &[u8], records: usize) -> Message {
    let mut first = None;
    let body = Bytes::copy_from_slice(body);
    let mut messages = Vec::with_capacity(1000);
    for i in 0..records {
        let tenant = format!("tenant-{}", i % TENANTS);
        let raw = RawWebhook {
            tenant: tenant.clone(),
            source: "razorpay".into(),
            provider: "razorpay".into(),
            body: body.clone(),
            headers: vec![HttpHeader {
                name: "content-type".into(),
                value: Bytes::from_static(b"application/json"),
            }],
            received_at: Some(prost_types::Timestamp {
                seconds: 1_764_000_000,
                nanos: 0,
            }),
            delivery_id: format!("delivery-{i}"),
            remote_ip: "203.0.113.7".into(),
            traceparent: String::new(),
            event_id: switchyard_domain::EventId::derive(&[
                tenant.as_bytes(),
                format!("{i}").as_bytes(),
            ])
            .to_string(),
        };
        let mut headers = Headers::with_capacity(1);
        headers.insert("content-type", wire::RAW_WEBHOOK_CONTENT_TYPE);
        let message = Message {
            key: Some(Bytes::from(tenant)),
            headers,
            payload: raw.encode_to_vec().into(),
        };
        first.get_or_insert_with(|| message.clone());
        messages.push(message);
        if messages.len() == 1000 || i + 1 == records {
            bus.publisher
                .publish_batch(topic, std::mem::take(&mut messages))
                .await
                .expect("fill the raw topic");
        }
    }
    first.expect("at least one record")
}

/// One contender's result.
#[derive(Clone, Copy)]
struct Figure {
    per_sec: f64,
    cpu_us_per_record: f64,
}

impl std::fmt::Display for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>8.0} records/s, {:.1} µs CPU per record",
            self.per_sec, self.cpu_us_per_record
        )
    }
}

fn median(figures: &[Figure]) -> Figure {
    let mut sorted = figures.to_vec();
    sorted.sort_by(|a, b| a.per_sec.total_cmp(&b.per_sec));
    sorted[sorted.len() / 2]
}

fn figure(records: usize, elapsed: Duration, cpu: f64) -> Figure {
    Figure {
        per_sec: records as f64 / elapsed.as_secs_f64(),
        cpu_us_per_record: cpu * 1e6 / records as f64,
    }
}

/// The baseline: forward every raw record to a fresh topic, in batches, offsets stored after
/// the batch is acknowledged; `extra` headers are added to each record.
async fn pipe(
    bus: &Bus,
    brokers: &str,
    raw_topic: &str,
    extra: &Headers,
    options: &Options,
) -> Figure {
    let (records, batch) = (options.records, options.batch);
    let out = unique_name("bench-pipe");
    bus.admin
        .ensure_topics(std::slice::from_ref(&out))
        .await
        .expect("output topic");
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique_name("bench-pipe"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.offset.store", "false")
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .create()
        .expect("consumer");
    consumer.subscribe(&[raw_topic]).expect("subscribe");

    let mut done = 0;
    let mut started = None;
    let mut cpu_at_start = 0.0;
    while done < records {
        let first = consumer.recv().await.expect("consume").detach();
        if started.is_none() {
            started = Some(Instant::now());
            cpu_at_start = cpu_seconds("self");
        }
        let mut messages = vec![first];
        while messages.len() < batch {
            match tokio::time::timeout(Duration::ZERO, consumer.recv()).await {
                Ok(Ok(message)) => messages.push(message.detach()),
                _ => break,
            }
        }
        let mut pending = Vec::with_capacity(messages.len());
        for message in &messages {
            let mut headers = OwnedHeaders::new();
            if let Some(original) = message.headers() {
                for header in original.iter() {
                    headers = headers.insert(Header {
                        key: header.key,
                        value: header.value,
                    });
                }
            }
            for header in extra.iter() {
                headers = headers.insert(Header {
                    key: &header.name,
                    value: Some(header.value.as_ref()),
                });
            }
            let mut record = FutureRecord::to(&out)
                .payload(message.payload().unwrap_or_default())
                .headers(headers);
            if let Some(key) = message.key() {
                record = record.key(key);
            }
            pending.push(
                producer
                    .send_result(record)
                    .map_err(|(e, _)| e)
                    .expect("enqueue"),
            );
        }
        let mut offsets = TopicPartitionList::new();
        for (message, delivery) in messages.iter().zip(pending) {
            delivery
                .await
                .expect("delivery")
                .map_err(|(e, _)| e)
                .expect("ack");
            offsets
                .add_partition_offset(
                    message.topic(),
                    message.partition(),
                    Offset::Offset(message.offset() + 1),
                )
                .expect("offset");
        }
        consumer.store_offsets(&offsets).expect("store offsets");
        done += messages.len();
    }
    let elapsed = started.map_or(Duration::ZERO, |s| s.elapsed());
    let cpu = cpu_seconds("self") - cpu_at_start;
    let _ = consumer.commit_consumer_state(CommitMode::Sync);
    figure(records, elapsed, cpu)
}

/// Counts the records the processor's handler finished (their events acknowledged).
struct Counting {
    inner: RawToEvents,
    done: AtomicUsize,
    batches: AtomicUsize,
    busy_us: AtomicUsize,
    started: std::sync::OnceLock<(Instant, f64)>,
    all: tokio::sync::Notify,
    records: usize,
}

#[async_trait]
impl BatchHandler for Counting {
    async fn handle_batch(&self, batch: &[Delivery]) -> Result<Vec<(usize, String)>, HandlerError> {
        self.started
            .get_or_init(|| (Instant::now(), cpu_seconds("self")));
        let began = Instant::now();
        let rejected = self.inner.handle_batch(batch).await?;
        self.busy_us.fetch_add(
            usize::try_from(began.elapsed().as_micros()).unwrap_or(usize::MAX),
            Ordering::Relaxed,
        );
        self.batches.fetch_add(1, Ordering::Relaxed);
        assert!(
            rejected.is_empty(),
            "the bench input must all be valid: {rejected:?}"
        );
        if self.done.fetch_add(batch.len(), Ordering::AcqRel) + batch.len() >= self.records {
            self.all.notify_one();
        }
        Ok(rejected)
    }
}

async fn processor(
    bus: &Bus,
    settings: &BusSettings,
    pipeline: Pipeline,
    records: usize,
    batch: usize,
) -> Figure {
    let topics = settings.topics();
    let out = unique_name("bench-events");
    bus.admin
        .ensure_topics(std::slice::from_ref(&out))
        .await
        .expect("output topic");
    let handler = Arc::new(Counting {
        inner: RawToEvents {
            pipeline,
            publisher: bus.publisher.clone(),
            topic: out,
        },
        done: AtomicUsize::new(0),
        batches: AtomicUsize::new(0),
        busy_us: AtomicUsize::new(0),
        started: std::sync::OnceLock::new(),
        all: tokio::sync::Notify::new(),
        records,
    });
    let subscription = Subscription {
        group: unique_name("bench-processor"),
        topics: vec![topics.ingest_raw()],
        retry: RetryPolicy::UNTIL_BACK,
        dlq_topic: topics.dlq(),
        start: StartFrom::Earliest,
    };
    let stop = CancellationToken::new();
    let subscriber = bus.subscriber.clone();
    let running = {
        let handler = handler.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            subscriber
                .run_batched(subscription, handler, batch, stop)
                .await
        })
    };
    handler.all.notified().await;
    let (started, cpu_at_start) = *handler.started.get().expect("started");
    let result = figure(
        records,
        started.elapsed(),
        cpu_seconds("self") - cpu_at_start,
    );
    stop.cancel();
    let _ = running.await;
    let batches = handler.batches.load(Ordering::Relaxed).max(1);
    eprintln!(
        "  {batches} batches, {:.0} records and {:.1} ms in the handler each",
        records as f64 / batches as f64,
        handler.busy_us.load(Ordering::Relaxed) as f64 / batches as f64 / 1000.0
    );
    result
}
