//! The bus contract: every scenario written once, run on every backend by the
//! `contract_tests!` macro (see `memory.rs`, `kafka.rs`, ...). A backend passes only if all of
//! them pass; none is skipped.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc
)]

use std::{
    collections::{BTreeMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use bytes::Bytes;
use switchyard_bus::{
    BatchHandler, Bus, DLQ_ATTEMPTS, DLQ_REASON, DLQ_TOPIC, Delivery, Handler, HandlerError,
    Publisher, RetryPolicy, SeekTo, StartFrom, Subscription, partitioner::partition_for,
};
use switchyard_domain::{Headers, Message};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What a backend provides to the scenarios.
#[async_trait]
pub trait Harness: Send + Sync {
    /// A bus with `partitions` partitions per topic, isolated from other tests by name.
    async fn bus(&self, partitions: u32) -> Bus;
    /// A publisher whose broker is stopped or unreachable.
    async fn stopped_publisher(&self) -> Arc<dyn Publisher>;
    /// How long a group takes to settle after a member joins or leaves.
    fn settle(&self) -> Duration;
    /// The longest a record may take to arrive in these tests.
    fn patience(&self) -> Duration {
        Duration::from_secs(30)
    }
    /// A broker of this test's own (its own process, address and data directory), so
    /// restarting it disturbs no other test.
    async fn private_broker(&self) -> Box<dyn PrivateBroker>;
}

/// A broker the test may restart.
#[async_trait]
pub trait PrivateBroker: Send + Sync {
    /// A bus connected to this broker.
    async fn bus(&self, partitions: u32) -> Bus;
    /// Stops the broker and starts it again at the same address with the same data.
    async fn restart(&mut self);
}

/// Records what a handler received, and fails or hangs on demand.
#[derive(Clone, Default)]
pub struct Collector {
    received: Arc<Mutex<Vec<Delivery>>>,
    /// Never finishes a record: a member stuck mid-record until it is killed.
    hang: bool,
}

impl Collector {
    pub fn hanging() -> Self {
        Self {
            hang: true,
            ..Self::default()
        }
    }

    pub fn all(&self) -> Vec<Delivery> {
        self.received.lock().unwrap().clone()
    }

    pub fn payloads(&self) -> Vec<String> {
        self.all()
            .iter()
            .map(|d| String::from_utf8_lossy(&d.message.payload).into_owned())
            .collect()
    }

    pub async fn wait_for(&self, n: usize, patience: Duration) -> Vec<Delivery> {
        let deadline = Instant::now() + patience;
        loop {
            let all = self.all();
            if all.len() >= n {
                return all;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} records arrived in {patience:?}",
                all.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[async_trait]
impl Handler for Collector {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        if delivery.message.headers.get("poison").is_some() {
            return Err(HandlerError::Retry("poisoned record".into()));
        }
        if self.hang {
            std::future::pending::<()>().await;
        }
        self.received.lock().unwrap().push(delivery.clone());
        Ok(())
    }
}

pub fn message(key: &str, payload: impl Into<Bytes>) -> Message {
    Message {
        key: Some(Bytes::from(key.to_owned())),
        headers: Headers::new(),
        payload: payload.into(),
    }
}

pub struct Topics {
    pub main: String,
    pub dlq: String,
}

pub async fn topics(bus: &Bus) -> Topics {
    let prefix = switchyard_testkit::unique_name("contract");
    let topics = Topics {
        main: format!("{prefix}.events"),
        dlq: format!("{prefix}.dlq"),
    };
    bus.admin
        .ensure_topics(&[topics.main.clone(), topics.dlq.clone()])
        .await
        .unwrap();
    topics
}

pub fn subscription(group: &str, topics: &Topics) -> Subscription {
    Subscription {
        group: group.to_owned(),
        topics: vec![topics.main.clone()],
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
        },
        dlq_topic: topics.dlq.clone(),
        start: StartFrom::Earliest,
    }
}

pub struct Running {
    pub shutdown: CancellationToken,
    pub task: JoinHandle<()>,
}

impl Running {
    /// Graceful stop: the record in hand finishes, positions are committed.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("consumer stops")
            .unwrap();
    }
    /// A crash: the task is dropped wherever it is, nothing is finished or committed.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

pub fn run(bus: &Bus, subscription: Subscription, handler: Collector) -> Running {
    run_handler(bus, subscription, Arc::new(handler))
}

pub fn run_handler(bus: &Bus, subscription: Subscription, handler: Arc<dyn Handler>) -> Running {
    let shutdown = CancellationToken::new();
    let subscriber = bus.subscriber.clone();
    let token = shutdown.clone();
    let task = tokio::spawn(async move {
        subscriber
            .run(subscription, handler, token)
            .await
            .expect("subscriber runs");
    });
    Running { shutdown, task }
}

// ---------------------------------------------------------------------------------------------

pub async fn round_trip_keeps_key_headers_and_bytes(h: &impl Harness) {
    let bus = h.bus(3).await;
    let t = topics(&bus).await;
    let payload: Vec<u8> = (0..=255u8).collect();
    let mut sent = message("acme", payload.clone());
    sent.headers.append("ce_type", "razorpay.payment.captured");
    sent.headers
        .append("binary", Bytes::from_static(&[0, 159, 146, 150]));
    bus.publisher.publish(&t.main, sent).await.unwrap();

    let collector = Collector::default();
    let consumer = run(
        &bus,
        subscription(&switchyard_testkit::unique_name("g"), &t),
        collector.clone(),
    );
    let got = collector.wait_for(1, h.patience()).await.remove(0);
    consumer.stop().await;
    assert_eq!(got.topic, t.main);
    assert_eq!(got.message.key.as_deref(), Some(&b"acme"[..]));
    assert_eq!(got.message.payload.as_ref(), payload.as_slice());
    assert_eq!(
        got.message.headers.get_str("ce_type"),
        Some("razorpay.payment.captured")
    );
    assert_eq!(
        got.message.headers.get("binary").map(|v| v.to_vec()),
        Some(vec![0, 159, 146, 150])
    );
    assert_eq!(got.attempt, 1);
}

pub async fn records_of_one_key_arrive_in_order_under_concurrency(h: &impl Harness) {
    let bus = h.bus(4).await;
    let t = topics(&bus).await;
    const KEYS: usize = 6;
    const PER_KEY: usize = 40;
    let mut producers = Vec::new();
    for k in 0..KEYS {
        let publisher = bus.publisher.clone();
        let topic = t.main.clone();
        producers.push(tokio::spawn(async move {
            for i in 0..PER_KEY {
                publisher
                    .publish(&topic, message(&format!("tenant-{k}"), format!("{k}:{i}")))
                    .await
                    .unwrap();
            }
        }));
    }
    for p in producers {
        p.await.unwrap();
    }
    let collector = Collector::default();
    let consumer = run(
        &bus,
        subscription(&switchyard_testkit::unique_name("g"), &t),
        collector.clone(),
    );
    collector.wait_for(KEYS * PER_KEY, h.patience()).await;
    consumer.stop().await;
    let mut per_key: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for payload in collector.payloads() {
        let (k, i) = payload.split_once(':').unwrap();
        per_key
            .entry(k.parse().unwrap())
            .or_default()
            .push(i.parse().unwrap());
    }
    for (k, seq) in per_key {
        assert_eq!(
            seq,
            (0..PER_KEY).collect::<Vec<_>>(),
            "key {k} out of order or incomplete"
        );
    }
}

pub async fn two_members_of_a_group_split_partitions_and_get_each_record_once(h: &impl Harness) {
    let bus = h.bus(4).await;
    let t = topics(&bus).await;
    let group = switchyard_testkit::unique_name("g");
    let (a, b) = (Collector::default(), Collector::default());
    let member_a = run(&bus, subscription(&group, &t), a.clone());
    let member_b = run(&bus, subscription(&group, &t), b.clone());
    tokio::time::sleep(h.settle()).await;

    let total = 120;
    for i in 0..total {
        bus.publisher
            .publish(
                &t.main,
                message(&format!("tenant-{}", i % 24), format!("{i}")),
            )
            .await
            .unwrap();
    }
    let deadline = Instant::now() + h.patience();
    while a.all().len() + b.all().len() < total {
        assert!(
            Instant::now() < deadline,
            "{} + {} of {total} arrived",
            a.all().len(),
            b.all().len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await; // room for a duplicate to show up
    member_a.stop().await;
    member_b.stop().await;

    let (from_a, from_b) = (a.payloads(), b.payloads());
    assert!(
        !from_a.is_empty() && !from_b.is_empty(),
        "both members got work: {} / {}",
        from_a.len(),
        from_b.len()
    );
    let mut all: Vec<String> = from_a.iter().chain(&from_b).cloned().collect();
    all.sort();
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), total, "each record exactly once in steady state");
    assert_eq!(unique.len(), total);
    let partitions_a: HashSet<u32> = a.all().iter().map(|d| d.partition).collect();
    let partitions_b: HashSet<u32> = b.all().iter().map(|d| d.partition).collect();
    assert!(
        partitions_a.is_disjoint(&partitions_b),
        "partitions split: {partitions_a:?} / {partitions_b:?}"
    );
}

pub async fn member_killed_before_ack_redelivers_to_survivor(h: &impl Harness) {
    let bus = h.bus(1).await;
    let t = topics(&bus).await;
    let group = switchyard_testkit::unique_name("g");
    for i in 0..10 {
        bus.publisher
            .publish(&t.main, message("acme", format!("{i}")))
            .await
            .unwrap();
    }
    // The first member takes the partition and dies holding record 0, unacknowledged.
    let doomed = run(&bus, subscription(&group, &t), Collector::hanging());
    tokio::time::sleep(h.settle()).await;
    doomed.kill().await;

    let survivor = Collector::default();
    let running = run(&bus, subscription(&group, &t), survivor.clone());
    survivor.wait_for(10, h.patience()).await;
    running.stop().await;
    assert_eq!(
        survivor.payloads(),
        (0..10).map(|i| i.to_string()).collect::<Vec<_>>(),
        "nothing lost, in order"
    );
}

pub async fn a_poison_record_is_dead_lettered_with_headers_and_later_records_flow(
    h: &impl Harness,
) {
    let bus = h.bus(1).await;
    let t = topics(&bus).await;
    let mut poison = message("acme", "poison");
    poison.headers.append("poison", "1");
    bus.publisher.publish(&t.main, poison).await.unwrap();
    for i in 0..5 {
        bus.publisher
            .publish(&t.main, message("acme", format!("ok-{i}")))
            .await
            .unwrap();
    }
    let collector = Collector::default();
    let consumer = run(
        &bus,
        subscription(&switchyard_testkit::unique_name("g"), &t),
        collector.clone(),
    );
    collector.wait_for(5, h.patience()).await;
    consumer.stop().await;
    assert_eq!(
        collector.payloads(),
        (0..5).map(|i| format!("ok-{i}")).collect::<Vec<_>>()
    );

    // Read the DLQ as an operator would: a group of its own on the DLQ topic.
    let record = read_one_raw(&bus, &t.dlq, h.patience()).await;
    assert_eq!(record.message.payload.as_ref(), b"poison");
    assert_eq!(record.message.key.as_deref(), Some(&b"acme"[..]));
    assert_eq!(
        record.message.headers.get_str(DLQ_TOPIC),
        Some(t.main.as_str())
    );
    assert_eq!(record.message.headers.get_str(DLQ_ATTEMPTS), Some("3"));
    assert_eq!(
        record.message.headers.get_str(DLQ_REASON),
        Some("poisoned record")
    );
}

/// Reads the first record of `topic` with a handler that accepts anything.
async fn read_one_raw(bus: &Bus, topic: &str, patience: Duration) -> Delivery {
    #[derive(Clone, Default)]
    struct Raw(Arc<Mutex<Vec<Delivery>>>);
    #[async_trait]
    impl Handler for Raw {
        async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
            self.0.lock().unwrap().push(delivery.clone());
            Ok(())
        }
    }
    let raw = Raw::default();
    let shutdown = CancellationToken::new();
    let subscription = Subscription {
        group: switchyard_testkit::unique_name("raw"),
        topics: vec![topic.to_owned()],
        retry: RetryPolicy::default(),
        dlq_topic: format!("{topic}.unused"),
        start: StartFrom::Earliest,
    };
    let subscriber = bus.subscriber.clone();
    let (handler, token) = (Arc::new(raw.clone()), shutdown.clone());
    let task = tokio::spawn(async move { subscriber.run(subscription, handler, token).await });
    let deadline = Instant::now() + patience;
    let first = loop {
        if let Some(first) = raw.0.lock().unwrap().first().cloned() {
            break first;
        }
        assert!(Instant::now() < deadline, "nothing arrived on {topic}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    shutdown.cancel();
    let _ = task.await;
    first
}

pub async fn two_groups_each_get_every_record(h: &impl Harness) {
    let bus = h.bus(3).await;
    let t = topics(&bus).await;
    for i in 0..30 {
        bus.publisher
            .publish(
                &t.main,
                message(&format!("tenant-{}", i % 5), format!("{i}")),
            )
            .await
            .unwrap();
    }
    let (one, two) = (Collector::default(), Collector::default());
    let g1 = run(
        &bus,
        subscription(&switchyard_testkit::unique_name("g1"), &t),
        one.clone(),
    );
    let g2 = run(
        &bus,
        subscription(&switchyard_testkit::unique_name("g2"), &t),
        two.clone(),
    );
    one.wait_for(30, h.patience()).await;
    two.wait_for(30, h.patience()).await;
    g1.stop().await;
    g2.stop().await;
    let sorted = |c: &Collector| {
        let mut p = c.payloads();
        p.sort();
        p
    };
    assert_eq!(sorted(&one), sorted(&two));
    assert_eq!(sorted(&one).len(), 30);
}

pub async fn a_restarted_consumer_resumes_after_its_last_acknowledged_record(h: &impl Harness) {
    let bus = h.bus(2).await;
    let t = topics(&bus).await;
    let group = switchyard_testkit::unique_name("g");
    for i in 0..10 {
        bus.publisher
            .publish(
                &t.main,
                message(&format!("tenant-{}", i % 3), format!("first-{i}")),
            )
            .await
            .unwrap();
    }
    let before = Collector::default();
    let consumer = run(&bus, subscription(&group, &t), before.clone());
    before.wait_for(10, h.patience()).await;
    consumer.stop().await;

    for i in 0..10 {
        bus.publisher
            .publish(
                &t.main,
                message(&format!("tenant-{}", i % 3), format!("second-{i}")),
            )
            .await
            .unwrap();
    }
    let after = Collector::default();
    let consumer = run(&bus, subscription(&group, &t), after.clone());
    after.wait_for(10, h.patience()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    consumer.stop().await;
    let mut payloads = after.payloads();
    payloads.sort();
    let mut expected: Vec<String> = (0..10).map(|i| format!("second-{i}")).collect();
    expected.sort();
    assert_eq!(
        payloads, expected,
        "resumed after the last acknowledged record, no replay"
    );
}

pub async fn publishing_to_a_stopped_broker_fails_retryably_in_bounded_time(h: &impl Harness) {
    let publisher = h.stopped_publisher().await;
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(60),
        publisher.publish("contract.outage", message("acme", "x")),
    )
    .await
    .expect("publish must not hang");
    let error = result.expect_err("a stopped broker cannot acknowledge");
    assert!(
        error.is_retryable(),
        "{error} must tell the caller to retry later"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "failed after {:?}",
        started.elapsed()
    );
}

pub async fn a_broker_restart_under_a_running_group_loses_nothing(h: &impl Harness) {
    let mut broker = h.private_broker().await;
    let bus = broker.bus(2).await;
    let t = topics(&bus).await;
    let collector = Collector::default();
    let consumer = run(
        &bus,
        subscription(&switchyard_testkit::unique_name("g"), &t),
        collector.clone(),
    );
    for i in 0..10 {
        bus.publisher
            .publish(
                &t.main,
                message(&format!("tenant-{}", i % 3), format!("before-{i}")),
            )
            .await
            .unwrap();
    }
    collector.wait_for(10, h.patience()).await;

    broker.restart().await;

    // The same publisher and consumer must recover by themselves: a publish may fail while the
    // broker comes back (retryably), then succeed without a new client.
    let deadline = Instant::now() + h.patience();
    for i in 0..10 {
        let message = message(&format!("tenant-{}", i % 3), format!("after-{i}"));
        loop {
            match bus.publisher.publish(&t.main, message.clone()).await {
                Ok(_) => break,
                Err(error) => {
                    assert!(error.is_retryable(), "outage errors are retryable: {error}");
                    assert!(
                        Instant::now() < deadline,
                        "publisher did not recover: {error}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
    let deadline = Instant::now() + h.patience();
    loop {
        let seen: HashSet<String> = collector.payloads().into_iter().collect();
        let missing: Vec<String> = (0..10)
            .flat_map(|i| [format!("before-{i}"), format!("after-{i}")])
            .filter(|p| !seen.contains(p))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "consumer did not recover; missing {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    consumer.stop().await;
}

/// Holds records until `open` fires, as a handler waiting for a retry to be due does: those of
/// one key, or every record.
#[derive(Clone)]
pub struct Gate {
    /// `None` holds every record.
    key: Option<Bytes>,
    pub open: CancellationToken,
    /// Fires when the first held record reaches the handler.
    pub holding: CancellationToken,
    /// What got through, in the order it did.
    pub passed: Collector,
}

impl Gate {
    pub fn new(key: Option<&str>) -> Self {
        Self {
            key: key.map(|key| Bytes::from(key.to_owned())),
            open: CancellationToken::new(),
            holding: CancellationToken::new(),
            passed: Collector::default(),
        }
    }
}

#[async_trait]
impl Handler for Gate {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        if self.key.is_none() || delivery.message.key == self.key {
            self.holding.cancel();
            self.open.cancelled().await;
        }
        self.passed.handle(delivery).await
    }
}

/// The first `{prefix}-N` key that lands on `partition`.
pub fn key_on(prefix: &str, partition: u32, partitions: u32) -> String {
    (0..)
        .map(|i| format!("{prefix}-{i}"))
        .find(|key| partition_for(Some(key.as_bytes()), partitions) == partition)
        .unwrap()
}

pub async fn a_partition_whose_handler_waits_does_not_hold_up_the_others(h: &impl Harness) {
    // Far more than the Kafka subscriber keeps for a partition before pausing it (a buffer of
    // 256 records plus 1,024 held), so the pause and resume are exercised there.
    const HELD: usize = 2_000;
    const FLOWING: usize = 100;
    let bus = h.bus(2).await;
    let t = topics(&bus).await;
    let (held_key, flowing_key) = (key_on("held", 0, 2), key_on("flowing", 1, 2));
    let held: Vec<Message> = (0..HELD)
        .map(|i| message(&held_key, format!("held-{i}")))
        .collect();
    let acks = bus.publisher.publish_batch(&t.main, held).await.unwrap();
    assert!(acks.iter().all(|ack| ack.partition == 0), "{held_key} on 0");

    let gate = Gate::new(Some(&held_key));
    let consumer = run_handler(
        &bus,
        subscription(&switchyard_testkit::unique_name("g"), &t),
        Arc::new(gate.clone()),
    );
    tokio::time::timeout(h.patience(), gate.holding.cancelled())
        .await
        .expect("the held partition's first record reaches the handler");
    // Meanwhile the rest of the held partition piles up behind its first record. Records on
    // the other partition must still be handled while it waits.
    let flowing: Vec<Message> = (0..FLOWING)
        .map(|i| message(&flowing_key, format!("flowing-{i}")))
        .collect();
    let acks = bus.publisher.publish_batch(&t.main, flowing).await.unwrap();
    assert!(
        acks.iter().all(|ack| ack.partition == 1),
        "{flowing_key} on 1"
    );
    gate.passed.wait_for(FLOWING, h.patience()).await;
    assert_eq!(
        gate.passed.payloads(),
        (0..FLOWING)
            .map(|i| format!("flowing-{i}"))
            .collect::<Vec<_>>(),
        "the other partition flows, in order, while the held one waits"
    );

    gate.open.cancel();
    gate.passed.wait_for(FLOWING + HELD, h.patience()).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // room for a duplicate to show up
    consumer.stop().await;
    let released: Vec<String> = gate.passed.payloads().split_off(FLOWING);
    assert_eq!(
        released,
        (0..HELD).map(|i| format!("held-{i}")).collect::<Vec<_>>(),
        "every held record once, in order"
    );
}

// --- seeking (backends that can move a group's position) ---------------------------------

/// A batch handler that rejects records carrying a `poison` header and fails its first call.
#[derive(Clone, Default)]
struct Batches {
    seen: Arc<Mutex<Vec<Vec<String>>>>,
    failed_once: Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait]
impl BatchHandler for Batches {
    async fn handle_batch(&self, batch: &[Delivery]) -> Result<Vec<(usize, String)>, HandlerError> {
        if !self
            .failed_once
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(HandlerError::Retry("first call fails".into()));
        }
        let payloads = batch
            .iter()
            .map(|d| String::from_utf8_lossy(&d.message.payload).into_owned())
            .collect();
        self.seen.lock().unwrap().push(payloads);
        Ok(batch
            .iter()
            .enumerate()
            .filter(|(_, d)| d.message.headers.get("poison").is_some())
            .map(|(i, _)| (i, "poisoned in a batch".to_owned()))
            .collect())
    }
}

pub async fn a_batched_group_keeps_order_retries_and_dead_letters_rejected_records(
    h: &impl Harness,
) {
    let bus = h.bus(1).await;
    let t = topics(&bus).await;
    for i in 0..200 {
        let mut record = message("acme", format!("r-{i:03}"));
        if i == 150 {
            record.headers.append("poison", "1");
        }
        bus.publisher.publish(&t.main, record).await.unwrap();
    }
    let batches = Batches::default();
    let shutdown = CancellationToken::new();
    let subscriber = bus.subscriber.clone();
    let (handler, token) = (Arc::new(batches.clone()), shutdown.clone());
    let group = switchyard_testkit::unique_name("batched");
    let subscription = subscription(&group, &t);
    let task = tokio::spawn(async move {
        subscriber
            .run_batched(subscription, handler, 64, token)
            .await
    });
    let deadline = Instant::now() + h.patience();
    let flat = loop {
        let flat: Vec<String> = batches.seen.lock().unwrap().concat();
        if flat.len() >= 200 {
            break flat;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of 200 records handled",
            flat.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    shutdown.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(
        flat,
        (0..200).map(|i| format!("r-{i:03}")).collect::<Vec<_>>(),
        "in order, each once after the retry"
    );
    let sizes: Vec<usize> = batches.seen.lock().unwrap().iter().map(Vec::len).collect();
    assert!(
        sizes.iter().all(|&n| (1..=64).contains(&n)),
        "batch sizes {sizes:?}"
    );

    let record = read_one_raw(&bus, &t.dlq, h.patience()).await;
    assert_eq!(record.message.payload.as_ref(), b"r-150");
    assert_eq!(
        record.message.headers.get_str(DLQ_REASON),
        Some("poisoned in a batch")
    );

    // Everything was acknowledged: the group resumes with nothing left.
    bus.publisher
        .publish(&t.main, message("acme", "after"))
        .await
        .unwrap();
    let after = drain(&bus, &group, &t, 1, h.patience()).await;
    assert_eq!(after, vec!["after".to_owned()]);
}

async fn publish_batch(bus: &Bus, topic: &str, label: &str, n: usize) {
    for i in 0..n {
        bus.publisher
            .publish(
                topic,
                message(&format!("tenant-{}", i % 3), format!("{label}-{i}")),
            )
            .await
            .unwrap();
    }
}

async fn drain(
    bus: &Bus,
    group: &str,
    t: &Topics,
    expected: usize,
    patience: Duration,
) -> Vec<String> {
    let collector = Collector::default();
    let consumer = run(bus, subscription(group, t), collector.clone());
    collector.wait_for(expected, patience).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // room for extra records to show up
    consumer.stop().await;
    let mut payloads = collector.payloads();
    payloads.sort();
    payloads
}

fn labels(label: &str, n: usize) -> Vec<String> {
    let mut all: Vec<String> = (0..n).map(|i| format!("{label}-{i}")).collect();
    all.sort();
    all
}

pub async fn a_group_reset_to_earliest_replays_every_record(h: &impl Harness) {
    let bus = h.bus(2).await;
    let t = topics(&bus).await;
    let group = switchyard_testkit::unique_name("g");
    publish_batch(&bus, &t.main, "r", 6).await;
    assert_eq!(
        drain(&bus, &group, &t, 6, h.patience()).await,
        labels("r", 6)
    );
    bus.admin
        .reset_group(&group, std::slice::from_ref(&t.main), SeekTo::Earliest)
        .await
        .unwrap();
    assert_eq!(
        drain(&bus, &group, &t, 6, h.patience()).await,
        labels("r", 6),
        "replayed from the start"
    );
}

pub async fn a_group_reset_to_latest_skips_the_backlog(h: &impl Harness) {
    let bus = h.bus(2).await;
    let t = topics(&bus).await;
    let group = switchyard_testkit::unique_name("g");
    publish_batch(&bus, &t.main, "backlog", 6).await;
    bus.admin
        .reset_group(&group, std::slice::from_ref(&t.main), SeekTo::Latest)
        .await
        .unwrap();
    publish_batch(&bus, &t.main, "fresh", 4).await;
    assert_eq!(
        drain(&bus, &group, &t, 4, h.patience()).await,
        labels("fresh", 4)
    );
}

pub async fn a_group_reset_to_a_time_starts_at_the_first_record_after_it(h: &impl Harness) {
    let bus = h.bus(2).await;
    let t = topics(&bus).await;
    let group = switchyard_testkit::unique_name("g");
    publish_batch(&bus, &t.main, "old", 5).await;
    // Broker timestamps have millisecond resolution; keep clear of the boundary.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cut = std::time::SystemTime::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    publish_batch(&bus, &t.main, "new", 5).await;
    bus.admin
        .reset_group(&group, std::slice::from_ref(&t.main), SeekTo::Time(cut))
        .await
        .unwrap();
    assert_eq!(
        drain(&bus, &group, &t, 5, h.patience()).await,
        labels("new", 5)
    );
}

/// Instantiates the seek scenarios, for backends that can move a group's position.
#[macro_export]
macro_rules! seek_tests {
    ($harness:expr) => {
        $crate::contract_tests!(@each $harness;
            a_group_reset_to_earliest_replays_every_record,
            a_group_reset_to_latest_skips_the_backlog,
            a_group_reset_to_a_time_starts_at_the_first_record_after_it,
        );
    };
}

/// Instantiates every scenario as a test named `<scenario>` in the calling module.
#[macro_export]
macro_rules! contract_tests {
    ($harness:expr) => {
        $crate::contract_tests!(@each $harness;
            round_trip_keeps_key_headers_and_bytes,
            records_of_one_key_arrive_in_order_under_concurrency,
            two_members_of_a_group_split_partitions_and_get_each_record_once,
            member_killed_before_ack_redelivers_to_survivor,
            a_poison_record_is_dead_lettered_with_headers_and_later_records_flow,
            two_groups_each_get_every_record,
            a_restarted_consumer_resumes_after_its_last_acknowledged_record,
            publishing_to_a_stopped_broker_fails_retryably_in_bounded_time,
            a_broker_restart_under_a_running_group_loses_nothing,
            a_partition_whose_handler_waits_does_not_hold_up_the_others,
            a_batched_group_keeps_order_retries_and_dead_letters_rejected_records,
        );
    };
    (@each $harness:expr; $($scenario:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                contract::$scenario(&$harness).await;
            }
        )+
    };
}
