//! The same-run baseline: a plain rdkafka (the crate's bundled librdkafka) producer and
//! consumer on the pipeline's broker, moving 1 KiB records through a fresh topic with the
//! pipeline's partition count, keyed by the same tenant names. The producer is configured
//! like the bus's (idempotent, `acks=all`, murmur2, `linger.ms` 5), the consumer like the
//! bus's where latency is concerned (`fetch.wait.max.ms` 100). Each record carries its due
//! instant; the consumer records arrival − due.
//!
//! Run at the broker's maximum (up to 1,000 records in flight: what one hop can move) and at
//! the pipeline's offered rate on a fixed timetable (what one hop costs in latency at that
//! rate), the latter also with a short fetch wait (what the services would see with one).

use std::time::Duration;

use futures::{StreamExt as _, stream::FuturesUnordered};
use rdkafka::{
    ClientConfig, Message as _,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    consumer::{Consumer as _, StreamConsumer},
    error::{KafkaError, RDKafkaErrorCode},
    producer::{FutureProducer, FutureRecord},
};
use switchyard_testkit::unique_name;
use tokio::{sync::watch, time::Instant};

use crate::{Latencies, now_ns};

const RECORD_BYTES: usize = 1024;
const MAX_IN_FLIGHT: usize = 1000;
/// A probe record's sequence number: read only to learn that the consumer is live.
const PROBE: u64 = u64::MAX;
const STALL: Duration = Duration::from_secs(30);

/// What one run of the raw client achieved.
pub struct RawFigures {
    /// Offered rate (records/s), `None` for the maximum.
    pub rate: Option<f64>,
    /// The consumer's `fetch.wait.max.ms`.
    pub fetch_wait_ms: u32,
    /// Records acknowledged to the producer.
    pub produced: u64,
    /// Acknowledged records per second, over the producing time.
    pub produced_per_sec: f64,
    /// Records read.
    pub consumed: u64,
    /// Records read per second, from the first due instant to the last read.
    pub consumed_per_sec: f64,
    /// Produce (due) → consume.
    pub latency: Latencies,
}

/// Moves records for `length` at `rate` per second (`None`: as fast as 1,000 in flight go),
/// the consumer asking the broker to answer fetches within `fetch_wait_ms`.
pub async fn measure(
    brokers: &str,
    partitions: i32,
    keys: &[String],
    rate: Option<f64>,
    fetch_wait_ms: u32,
    length: Duration,
) -> RawFigures {
    let topic = create_topic(brokers, partitions).await;
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique_name("bench-raw"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", fetch_wait_ms.to_string())
        .create()
        .unwrap_or_else(|e| panic!("rdkafka consumer: {e}"));
    consumer
        .subscribe(&[&topic])
        .unwrap_or_else(|e| panic!("subscribe {topic}: {e}"));
    let (stop_tx, mut stop) = watch::channel(false);
    let (count_tx, count) = watch::channel(0_u64);
    let reader = tokio::spawn(async move {
        let mut read = Vec::new();
        loop {
            let message = tokio::select! {
                message = consumer.recv() => message,
                _ = stop.wait_for(|s| *s) => return read,
            };
            let message = message.unwrap_or_else(|e| panic!("rdkafka consume: {e}"));
            let at = now_ns();
            let payload = message.payload().unwrap_or_default();
            let word = |i: usize| {
                payload
                    .get(i..i + 8)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, u64::from_le_bytes)
            };
            if word(8) != PROBE {
                read.push((at.saturating_sub(word(0)), at));
            }
            count_tx.send_modify(|c| *c += 1);
        }
    });
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("client.id", "switchyard-bench-raw")
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("partitioner", "murmur2_random")
        .set("message.timeout.ms", "10000")
        .set("linger.ms", "5")
        .create()
        .unwrap_or_else(|e| panic!("rdkafka producer: {e}"));

    // Live: the consumer has its partitions and reads what is produced now.
    let deadline = Instant::now() + Duration::from_secs(60);
    while *count.borrow() == 0 {
        assert!(
            Instant::now() < deadline,
            "the raw consumer never went live"
        );
        let payload = record(now_ns(), PROBE);
        let probe = FutureRecord::to(&topic).key(&keys[0]).payload(&payload[..]);
        let _ = producer.send(probe, Duration::from_secs(10)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let probes = *count.borrow();

    let start = Instant::now();
    let start_ns = now_ns();
    let until = start + length;
    let mut pending = FuturesUnordered::new();
    let (mut sent, mut acked, mut last_ack) = (0_u64, 0_u64, start);
    loop {
        let due = rate.map_or_else(Instant::now, |rate| {
            start + Duration::from_secs_f64(sent as f64 / rate)
        });
        if due >= until && pending.is_empty() {
            break;
        }
        let now = Instant::now();
        if due < until && due <= now && pending.len() < MAX_IN_FLIGHT {
            let due_ns = start_ns + (due - start).as_nanos() as u64;
            let payload = record(due_ns, sent);
            let key = &keys[(sent % keys.len() as u64) as usize];
            match producer.send_result(FutureRecord::to(&topic).key(key).payload(&payload[..])) {
                Ok(delivery) => {
                    pending.push(delivery);
                    sent += 1;
                    continue;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {}
                Err((error, _)) => panic!("rdkafka refused a record: {error}"),
            }
        }
        let can_send = due < until && pending.len() < MAX_IN_FLIGHT;
        tokio::select! {
            Some(done) = pending.next(), if !pending.is_empty() => {
                if matches!(done, Ok(Ok(_))) {
                    acked += 1;
                    last_ack = Instant::now();
                }
            }
            () = tokio::time::sleep_until(due), if can_send && due > now => {}
            // librdkafka's queue is full with nothing of ours pending: let it drain.
            else => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }
    let produced_secs = (last_ack - start).as_secs_f64();

    // Until every acknowledged record is read, or nothing more comes for a while.
    let target = probes + acked;
    let mut watching = count.clone();
    while *watching.borrow() < target {
        if tokio::time::timeout(STALL, watching.changed())
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = stop_tx.send(true);
    let read = reader.await.unwrap_or_else(|e| panic!("raw reader: {e}"));
    let last_read = read.iter().map(|&(_, at)| at).max().unwrap_or(start_ns);
    let consumed = read.len() as u64;
    RawFigures {
        rate,
        fetch_wait_ms,
        produced: acked,
        produced_per_sec: acked as f64 / produced_secs.max(1e-9),
        consumed,
        consumed_per_sec: consumed as f64 / ((last_read.saturating_sub(start_ns)) as f64 / 1e9),
        latency: Latencies::of(read.into_iter().map(|(latency, _)| latency).collect()),
    }
}

/// 1 KiB: the due instant, the sequence number, then filler.
fn record(due_ns: u64, seq: u64) -> Vec<u8> {
    let mut payload = vec![b'x'; RECORD_BYTES];
    payload[..8].copy_from_slice(&due_ns.to_le_bytes());
    payload[8..16].copy_from_slice(&seq.to_le_bytes());
    payload
}

async fn create_topic(brokers: &str, partitions: i32) -> String {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap_or_else(|e| panic!("rdkafka admin client: {e}"));
    let topic = unique_name("bench_raw");
    let timeout = Some(Duration::from_secs(10));
    let options = AdminOptions::new()
        .operation_timeout(timeout)
        .request_timeout(timeout);
    let results = admin
        .create_topics(
            [&NewTopic::new(
                &topic,
                partitions,
                TopicReplication::Fixed(1),
            )],
            &options,
        )
        .await
        .unwrap_or_else(|e| panic!("create topic {topic} on {brokers}: {e}"));
    for result in results {
        if let Err((name, code)) = result {
            panic!("the broker at {brokers} did not create topic {name}: {code}");
        }
    }
    topic
}
