//! The bus contract on NATS JetStream (`SWITCHYARD__BUS__NATS__URL`, default
//! nats://127.0.0.1:4222, JetStream enabled; `scripts/test.sh` starts one).

mod contract;

use std::{path::PathBuf, sync::Arc, time::Duration};

use async_trait::async_trait;
use switchyard_bus::{Bus, Publisher};
use switchyard_runtime::settings::{BusBackend, BusSettings};
use switchyard_testkit::{daemon, infra};

struct Nats;

fn settings(url: String, partitions: u32) -> BusSettings {
    let mut settings = BusSettings {
        backend: BusBackend::Nats,
        partitions,
        ..BusSettings::default()
    };
    settings.nats.url = url;
    // A dead member's partitions move within seconds, not the production 10 s; the tests'
    // own bucket keeps these short leases away from anything else on the server.
    settings.nats.lease_ttl_ms = 3_000;
    settings.nats.group_bucket = "switchyard_contract_groups".into();
    settings.nats.ack_wait_ms = 5_000;
    // Test topics are unique per run: let the server forget them within the hour.
    settings.nats.retention_secs = 3_600;
    settings.nats.group_retention_secs = 3_600;
    settings
}

#[async_trait]
impl contract::Harness for Nats {
    async fn bus(&self, partitions: u32) -> Bus {
        let url = infra::nats_url();
        let bus = Bus::connect(&settings(url.clone(), partitions))
            .await
            .unwrap_or_else(|e| infra::unavailable("NATS server with JetStream", &url, &e));
        if let Err(e) = bus.admin.ping().await {
            infra::unavailable("NATS server with JetStream", &url, &e);
        }
        bus
    }

    async fn stopped_publisher(&self) -> Arc<dyn Publisher> {
        // Nothing listens on port 1: the server is down from the client's point of view.
        let mut settings = settings("nats://127.0.0.1:1".into(), 1);
        settings.publish_timeout_ms = 3_000;
        match tokio::time::timeout(Duration::from_secs(5), Bus::connect(&settings)).await {
            Ok(Ok(bus)) => bus.publisher,
            Ok(Err(e)) => panic!("a client for an unreachable server still builds: {e}"),
            Err(_) => panic!("building a client for an unreachable server hangs"),
        }
    }

    fn settle(&self) -> Duration {
        Duration::from_secs(3)
    }

    async fn private_broker(&self) -> Box<dyn contract::PrivateBroker> {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("scratch dir: {e}"));
        let port = daemon::free_port();
        let nats_server = daemon::find_binary(
            "nats-server",
            &[PathBuf::from("/usr/sbin")],
            "apt-get install nats-server, or see https://docs.nats.io/running-a-nats-service/introduction/installation",
        );
        let store = dir.path().join("jetstream");
        let args = vec![
            "-a".to_owned(),
            "127.0.0.1".to_owned(),
            "-p".to_owned(),
            port.to_string(),
            "-js".to_owned(),
            "-sd".to_owned(),
            store.display().to_string(),
        ];
        let daemon = daemon::Daemon::start(nats_server, args, dir.path(), port).await;
        Box::new(PrivateNats { daemon, _dir: dir })
    }
}

/// A nats-server of the test's own, with a file store that survives its restart.
struct PrivateNats {
    daemon: daemon::Daemon,
    _dir: tempfile::TempDir,
}

#[async_trait]
impl contract::PrivateBroker for PrivateNats {
    async fn bus(&self, partitions: u32) -> Bus {
        let url = format!("nats://127.0.0.1:{}", self.daemon.port());
        let bus = Bus::connect(&settings(url.clone(), partitions))
            .await
            .unwrap_or_else(|e| infra::unavailable("private nats-server", &url, &e));
        if let Err(e) = bus.admin.ping().await {
            infra::unavailable("private nats-server", &url, &e);
        }
        bus
    }

    async fn restart(&mut self) {
        self.daemon.restart().await;
    }
}

contract_tests!(Nats);
seek_tests!(Nats);
