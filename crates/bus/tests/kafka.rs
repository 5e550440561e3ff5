//! The bus contract on a Kafka-protocol broker (`SWITCHYARD__BUS__KAFKA__BROKERS`, default
//! 127.0.0.1:9092; `scripts/test.sh` starts one).

mod contract;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use switchyard_bus::{Bus, Publisher};
use switchyard_runtime::settings::{BusBackend, BusSettings};
use switchyard_testkit::{daemon, infra};

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
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("scratch dir: {e}"));
        let port = daemon::free_port();
        let cargo_bin = std::env::var_os("CARGO_HOME")
            .map_or_else(
                || {
                    std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                        .join(".cargo")
                },
                Into::into,
            )
            .join("bin");
        let tansu = daemon::find_binary("tansu", &[cargo_bin], "scripts/test.sh installs it");
        let url = format!("tcp://127.0.0.1:{port}");
        let args = [
            "broker",
            "--storage-engine",
            "sqlite://tansu.db",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ]
        .map(str::to_owned)
        .to_vec();
        let daemon = daemon::Daemon::start(tansu, args, dir.path(), port).await;
        Box::new(PrivateTansu { daemon, _dir: dir })
    }
}

/// A tansu broker of the test's own, sqlite-backed so its records survive a restart.
struct PrivateTansu {
    daemon: daemon::Daemon,
    _dir: tempfile::TempDir,
}

#[async_trait]
impl contract::PrivateBroker for PrivateTansu {
    async fn bus(&self, partitions: u32) -> Bus {
        let brokers = format!("127.0.0.1:{}", self.daemon.port());
        Bus::connect(&settings(brokers.clone(), partitions))
            .await
            .unwrap_or_else(|e| infra::unavailable("private tansu broker", &brokers, &e))
    }

    async fn restart(&mut self) {
        self.daemon.restart().await;
    }
}

contract_tests!(Kafka);
seek_tests!(Kafka);
