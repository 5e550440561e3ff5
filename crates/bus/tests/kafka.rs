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
