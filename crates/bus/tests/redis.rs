//! The bus contract on Redis Streams (`SWITCHYARD__BUS__REDIS__URL`, default
//! redis://127.0.0.1:6379; `scripts/test.sh` starts one). The restart scenario starts a
//! `redis-server` of its own.

mod contract;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use switchyard_bus::{Bus, Publisher};
use switchyard_runtime::settings::{BusBackend, BusSettings};
use switchyard_testkit::{daemon, infra};

struct Redis;

fn settings(url: String, partitions: u32) -> BusSettings {
    let mut settings = BusSettings {
        backend: BusBackend::Redis,
        partitions,
        ..BusSettings::default()
    };
    settings.redis.url = url;
    // A killed member's partitions move within about two seconds, not the production ten.
    settings.redis.session_timeout_ms = 2_000;
    settings.redis.block_ms = 500;
    settings.redis.command_timeout_ms = 2_000;
    settings
}

#[async_trait]
impl contract::Harness for Redis {
    async fn bus(&self, partitions: u32) -> Bus {
        let url = infra::redis_url();
        let bus = Bus::connect(&settings(url.clone(), partitions))
            .await
            .unwrap_or_else(|e| infra::unavailable("Redis", &url, &e));
        if let Err(e) = bus.admin.ping().await {
            infra::unavailable("Redis", &url, &e);
        }
        bus
    }

    async fn stopped_publisher(&self) -> Arc<dyn Publisher> {
        // Nothing listens on port 1: Redis is down from the client's point of view.
        let mut settings = settings("redis://127.0.0.1:1".into(), 1);
        settings.publish_timeout_ms = 3_000;
        match Bus::connect(&settings).await {
            Ok(bus) => bus.publisher,
            Err(e) => panic!("a client for an unreachable Redis still builds: {e}"),
        }
    }

    fn settle(&self) -> Duration {
        // Two heartbeats (a third of the session timeout each) and a lease hand-over.
        Duration::from_secs(3)
    }

    async fn private_broker(&self) -> Box<dyn contract::PrivateBroker> {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("scratch dir: {e}"));
        let port = daemon::free_port();
        let server = daemon::find_binary("redis-server", &[], "scripts/test.sh installs it");
        let args = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--dir",
            &dir.path().display().to_string(),
            // Every write on disk before it is acknowledged, so a restart keeps everything.
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ]
        .map(str::to_owned)
        .to_vec();
        let daemon = daemon::Daemon::start(server, args, dir.path(), port).await;
        Box::new(PrivateRedis { daemon, _dir: dir })
    }
}

/// A redis-server of the test's own, with an append-only file so its data survives a restart.
struct PrivateRedis {
    daemon: daemon::Daemon,
    _dir: tempfile::TempDir,
}

#[async_trait]
impl contract::PrivateBroker for PrivateRedis {
    async fn bus(&self, partitions: u32) -> Bus {
        let url = format!("redis://127.0.0.1:{}", self.daemon.port());
        Bus::connect(&settings(url.clone(), partitions))
            .await
            .unwrap_or_else(|e| infra::unavailable("private redis-server", &url, &e))
    }

    async fn restart(&mut self) {
        self.daemon.restart().await;
    }
}

contract_tests!(Redis);
seek_tests!(Redis);
