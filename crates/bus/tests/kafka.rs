//! The bus contract on a Kafka-protocol broker (`SWITCHYARD__BUS__KAFKA__BROKERS`, default
//! 127.0.0.1:9092; `scripts/test.sh` starts one).

mod contract;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use switchyard_bus::{Bus, Publisher};
use switchyard_runtime::settings::{BusBackend, BusSettings};
use switchyard_testkit::{infra, tansu::PrivateTansu};

struct Kafka;

fn settings(brokers: String, partitions: u32) -> BusSettings {
    let mut settings = BusSettings {
        backend: BusBackend::Kafka,
        partitions,
        ..BusSettings::default()
    };
    settings.kafka.brokers = brokers;
    // A killed member is noticed within seconds, not the production 45 s.
    settings.kafka.session_timeout_ms = 6_000;
    settings
}

#[async_trait]
impl contract::Harness for Kafka {
    async fn bus(&self, partitions: u32) -> Bus {
        let brokers = infra::kafka_brokers();
        let bus = Bus::connect(&settings(brokers.clone(), partitions))
            .await
            .unwrap_or_else(|e| infra::unavailable("Kafka-protocol broker", &brokers, &e));
        if let Err(e) = bus.admin.ping().await {
            infra::unavailable("Kafka-protocol broker", &brokers, &e);
        }
        bus
    }

    async fn stopped_publisher(&self) -> Arc<dyn Publisher> {
        // Nothing listens on port 1: the broker is down from the client's point of view.
        let mut settings = settings("127.0.0.1:1".into(), 1);
        settings.publish_timeout_ms = 3_000;
        match Bus::connect(&settings).await {
            Ok(bus) => bus.publisher,
            Err(e) => panic!("a client for an unreachable broker still builds: {e}"),
        }
    }

    fn settle(&self) -> Duration {
        Duration::from_secs(8)
    }

    async fn private_broker(&self) -> Box<dyn contract::PrivateBroker> {
        Box::new(PrivateBroker(PrivateTansu::start().await))
    }
}

/// A tansu broker of the test's own, sqlite-backed so its records survive a restart.
struct PrivateBroker(PrivateTansu);

#[async_trait]
impl contract::PrivateBroker for PrivateBroker {
    async fn bus(&self, partitions: u32) -> Bus {
        let brokers = self.0.brokers();
        Bus::connect(&settings(brokers.clone(), partitions))
            .await
            .unwrap_or_else(|e| infra::unavailable("private tansu broker", &brokers, &e))
    }

    async fn restart(&mut self) {
        self.0.restart().await;
    }
}

contract_tests!(Kafka);
seek_tests!(Kafka);

/// librdkafka keeps an application's pause on a partition through unassign and assign: a
/// partition paused because its worker fell behind, then revoked and assigned back, must flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_partition_revoked_and_assigned_back_flows_again() {
    use contract::Harness as _;
    // Past what the subscriber keeps for a partition before pausing it (256 buffered plus
    // 1,024 held), so both partitions pause.
    const BACKLOG: usize = 2_000;
    const AFTER: usize = 10;
    let bus = Kafka.bus(2).await;
    let t = contract::topics(&bus).await;
    let group = switchyard_testkit::unique_name("g");
    let keys = [contract::key_on("p", 0, 2), contract::key_on("p", 1, 2)];
    for key in &keys {
        let backlog = (0..BACKLOG)
            .map(|i| contract::message(key, format!("{key}:backlog-{i}")))
            .collect();
        bus.publisher.publish_batch(&t.main, backlog).await.unwrap();
    }
    let a = contract::Gate::new(None);
    let member_a = contract::run_handler(
        &bus,
        contract::subscription(&group, &t),
        Arc::new(a.clone()),
    );
    tokio::time::timeout(Kafka.patience(), a.holding.cancelled())
        .await
        .expect("the first member takes the partitions");

    // A second member takes one partition over, reads it (the first acknowledged nothing) and
    // leaves again, which hands the partition back to the first.
    let b = contract::Collector::default();
    let member_b = contract::run(&bus, contract::subscription(&group, &t), b.clone());
    b.wait_for(BACKLOG, Kafka.patience()).await;
    member_b.stop().await;
    a.open.cancel();

    for key in &keys {
        let after = (0..AFTER)
            .map(|i| contract::message(key, format!("{key}:after-{i}")))
            .collect();
        bus.publisher.publish_batch(&t.main, after).await.unwrap();
    }
    let after_of = |key: &str| -> Vec<String> {
        let prefix = format!("{key}:after-");
        a.passed
            .payloads()
            .into_iter()
            .filter(|p| p.starts_with(&prefix))
            .collect()
    };
    let deadline = std::time::Instant::now() + Kafka.patience();
    while keys.iter().any(|key| after_of(key).len() < AFTER) {
        assert!(
            std::time::Instant::now() < deadline,
            "records after the hand-back did not reach the first member: {:?} / {:?}",
            after_of(&keys[0]).len(),
            after_of(&keys[1]).len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    member_a.stop().await;
    for key in &keys {
        assert_eq!(
            after_of(key),
            (0..AFTER)
                .map(|i| format!("{key}:after-{i}"))
                .collect::<Vec<_>>(),
            "both partitions flow, in order"
        );
    }
}
