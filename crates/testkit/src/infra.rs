//! Addresses of the real services tests talk to. Each reads the variable the services
//! themselves read, so pointing `SWITCHYARD__BUS__KAFKA__BROKERS` at a real Kafka runs the
//! same tests there.

use std::{env, time::Duration};

/// PostgreSQL URL (`SWITCHYARD__DATABASE__URL`); tests create their own databases on this
/// server.
#[must_use]
pub fn postgres_url() -> String {
    var(
        "SWITCHYARD__DATABASE__URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    )
}

/// Redis URL (`SWITCHYARD__BUS__REDIS__URL`).
#[must_use]
pub fn redis_url() -> String {
    var("SWITCHYARD__BUS__REDIS__URL", "redis://127.0.0.1:6379")
}

/// NATS URL (`SWITCHYARD__BUS__NATS__URL`).
#[must_use]
pub fn nats_url() -> String {
    var("SWITCHYARD__BUS__NATS__URL", "nats://127.0.0.1:4222")
}

/// Kafka bootstrap servers (`SWITCHYARD__BUS__KAFKA__BROKERS`).
#[must_use]
pub fn kafka_brokers() -> String {
    var("SWITCHYARD__BUS__KAFKA__BROKERS", "127.0.0.1:9092")
}

fn var(name: &str, default: &str) -> String {
    env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// Fails the test with a message that names the missing service and how to provide it.
///
/// # Panics
/// Always; that is its purpose.
#[track_caller]
pub fn unavailable(service: &str, address: &str, error: &dyn std::fmt::Display) -> ! {
    panic!(
        "{service} is required by this test but unreachable at {address}: {error}. \
         Run the suite through scripts/test.sh (it starts it), or point the matching \
         SWITCHYARD__* variable at a running {service}."
    )
}

/// Connect timeout used by the smoke checks: a local service answers in milliseconds.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
