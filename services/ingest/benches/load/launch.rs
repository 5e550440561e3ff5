//! Starting the two servers under test: the bare ceiling (this bench re-executed in its
//! server role) and `switchyard-ingest` configured for one Razorpay source on Kafka.

use std::{io::Write as _, sync::Arc, time::Duration};

use bytes::Bytes;
use switchyard_testkit::unique_name;
use tempfile::NamedTempFile;
use tokio::process::Command;

use crate::{
    bare,
    http_load::{self, Target},
    raw_producer::PARTITIONS,
    server::ServerProcess,
};

/// Environment variable that turns this executable into the bare server.
pub const ROLE_VAR: &str = "INGEST_BENCH_ROLE";
/// Its value for the bare server.
pub const BARE_ROLE: &str = "bare";
/// The Razorpay webhook secret of the bench source.
pub const SECRET: &str = "bench-secret";

const SOURCES: &str = r#"
[[sources]]
tenant = "acme"
id = "razorpay"
provider = "razorpay"
secrets = ["bench-secret"]
rate_limit_per_sec = 1000000
max_body_bytes = 65536
"#;

/// How long the service may take to create its topic and publish a first record.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The bare actix-web server, in a process of its own.
pub async fn bare() -> ServerProcess {
    let exe = std::env::current_exe()
        .unwrap_or_else(|e| panic!("cannot find this bench's own executable: {e}"));
    let mut command = Command::new(exe);
    command.env(ROLE_VAR, BARE_ROLE);
    ServerProcess::start(command, "bare").await
}

/// A running ingest service and the configuration file it was started with.
pub struct Ingest {
    /// The process.
    pub server: ServerProcess,
    _config: NamedTempFile,
}

/// Starts `switchyard-ingest` on `brokers` with a fresh topic prefix and budgets that never
/// throttle, and waits until it accepts a signed webhook.
pub async fn ingest(brokers: &str, body: &Bytes) -> Ingest {
    let config = config_file();
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard-ingest"));
    command
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env("SWITCHYARD_CONFIG", config.path())
        .env("SWITCHYARD__HTTP__BIND", "127.0.0.1:0")
        .env("SWITCHYARD__HTTP__WORKERS", bare::WORKERS.to_string())
        .env("SWITCHYARD__TELEMETRY__LOG_FORMAT", "json")
        // Warnings only, so request logging costs nothing; the `listening` line is still
        // needed to learn the port.
        .env(
            "SWITCHYARD__TELEMETRY__LOG_LEVEL",
            "warn,switchyard_runtime::service=info",
        )
        .env("SWITCHYARD__BUS__BACKEND", "kafka")
        .env("SWITCHYARD__BUS__KAFKA__BROKERS", brokers)
        .env("SWITCHYARD__BUS__TOPIC_PREFIX", unique_name("bench"))
        .env("SWITCHYARD__BUS__PARTITIONS", PARTITIONS.to_string())
        .env("SWITCHYARD__INGEST__RATE_LIMIT_PER_IP", "1000000")
        .env("SWITCHYARD__INGEST__RATE_LIMIT_PER_TENANT", "1000000");
    let server = ServerProcess::start(command, "ingest").await;
    wait_until_accepting(&Target::new(&server.base_url, body.clone(), SECRET)).await;
    Ingest {
        server,
        _config: config,
    }
}

fn config_file() -> NamedTempFile {
    let mut file = tempfile::Builder::new()
        .prefix("ingest-bench")
        .suffix(".toml")
        .tempfile()
        .unwrap_or_else(|e| panic!("cannot create the service's config file: {e}"));
    file.write_all(SOURCES.as_bytes())
        .unwrap_or_else(|e| panic!("cannot write the service's config file: {e}"));
    file
}

/// Until the service has its topic and a broker connection, it answers 503.
async fn wait_until_accepting(target: &Target) {
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    let connection = http_load::connection();
    loop {
        match target.post(&connection).await {
            Some(202) => return,
            Some(503) | None if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Some(503) | None => panic!(
                "ingest did not accept a webhook within 60 s: is the Kafka-protocol broker \
                 (tansu) healthy? Its warnings are above."
            ),
            Some(status) => panic!("ingest answered {status} to a valid signed webhook"),
        }
    }
}

/// The bench's webhook source on `server`.
pub fn target(server: &ServerProcess, body: &Bytes) -> Arc<Target> {
    Arc::new(Target::new(&server.base_url, body.clone(), SECRET))
}
