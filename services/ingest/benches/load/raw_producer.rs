//! The broker's ceiling for this workload: a plain rdkafka producer, configured like the
//! service's (idempotent, `acks=all`, murmur2, `linger.ms=5`), keeping a bounded number of
//! records in flight into a fresh topic.

use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt as _, stream::FuturesUnordered};
use rdkafka::{
    ClientConfig,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    error::{KafkaError, RDKafkaErrorCode},
    producer::{FutureProducer, FutureRecord},
};
use switchyard_testkit::{infra, unique_name};
use tokio::time::Instant;

use crate::http_load::Window;

/// Partitions of every topic in this bench, as in the service's settings.
pub const PARTITIONS: i32 = 6;
/// The key of every record: ingest keys raw webhooks by tenant.
const KEY: &str = "acme";
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);
const BROKER: &str = "Kafka-protocol broker (tansu)";

/// What the producer achieved in the measured window.
#[derive(Debug, Clone, Copy)]
pub struct RawFigures {
    /// Acknowledged records per second.
    pub acked_per_sec: f64,
    /// Records the broker failed.
    pub failed: u64,
}

/// Fails the bench, naming the broker, unless something accepts connections at the first
/// address of `brokers`.
pub async fn require_broker(brokers: &str) {
    let first = brokers.split(',').next().unwrap_or(brokers).trim();
    match tokio::time::timeout(
        infra::CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect(first),
    )
    .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => infra::unavailable(BROKER, brokers, &error),
        Err(_) => infra::unavailable(BROKER, brokers, &"no answer within 5 s"),
    }
}

/// Pushes `payload` keyed `acme` with at most `in_flight` unacknowledged records, for the
/// whole window; counts acknowledgements that arrive inside the measured part.
pub async fn measure(
    brokers: &str,
    payload: &Bytes,
    in_flight: usize,
    window: Window,
) -> RawFigures {
    let topic = create_topic(brokers).await;
    let producer = producer(brokers);
    let measure_from = Instant::now() + window.warmup;
    let until = measure_from + window.measure;
    let mut pending = FuturesUnordered::new();
    let (mut acked, mut failed) = (0_u64, 0_u64);
    loop {
        if Instant::now() < until && pending.len() < in_flight {
            let record = FutureRecord::to(&topic).key(KEY).payload(payload.as_ref());
            match producer.send_result(record) {
                Ok(delivery) => {
                    pending.push(delivery);
                    continue;
                }
                // librdkafka's own queue is full: wait for an acknowledgement below.
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {}
                Err((error, _)) => panic!("the {BROKER} refused a record on {topic}: {error}"),
            }
        }
        let Some(delivery) = pending.next().await else {
            break;
        };
        let at = Instant::now();
        if (measure_from..until).contains(&at) {
            match delivery {
                Ok(Ok(_)) => acked += 1,
                Ok(Err(_)) | Err(_) => failed += 1,
            }
        }
    }
    RawFigures {
        acked_per_sec: acked as f64 / window.measure.as_secs_f64(),
        failed,
    }
}

fn producer(brokers: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("client.id", "switchyard-bench")
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("partitioner", "murmur2_random")
        .set("message.timeout.ms", "5000")
        .set("linger.ms", "5")
        .create()
        .unwrap_or_else(|e| panic!("cannot create an rdkafka producer for {brokers}: {e}"))
}

/// A fresh topic with [`PARTITIONS`] partitions.
async fn create_topic(brokers: &str) -> String {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap_or_else(|e| panic!("cannot create an rdkafka admin client for {brokers}: {e}"));
    let topic = unique_name("bench_raw");
    let options = AdminOptions::new()
        .operation_timeout(Some(ADMIN_TIMEOUT))
        .request_timeout(Some(ADMIN_TIMEOUT));
    let new = NewTopic::new(&topic, PARTITIONS, TopicReplication::Fixed(1));
    let results = admin
        .create_topics([&new], &options)
        .await
        .unwrap_or_else(|e| infra::unavailable(BROKER, brokers, &e));
    for result in results {
        if let Err((name, code)) = result {
            panic!("the {BROKER} at {brokers} did not create topic {name}: {code}");
        }
    }
    topic
}
