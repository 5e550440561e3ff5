//! Test support shared by every crate's tests; never a dependency of production code.
//!
//! - [`infra`]: where PostgreSQL, Redis, NATS and the Kafka-protocol broker are, read from the
//!   same `SWITCHYARD__*` variables the services use, and a clear failure naming the service
//!   when one is unreachable (a test never skips silently).
//! - [`unique_name`]: per-test topic prefixes, consumer groups and database names.
//! - [`postgres::TestDatabase`]: a fresh database per test.
//! - [`daemon`]: broker processes a test owns and may restart; [`tansu::PrivateTansu`] is
//!   the Kafka-protocol one; [`private_postgres::PrivatePostgres`] is a PostgreSQL server
//!   a test may stop and start.
//! - [`binary`]: start a real service binary, talk to it over HTTP, read its JSON logs, stop it
//!   with SIGTERM.
//! - [`jwt`]: forged, unsigned and wrong-algorithm tokens for the refusal tests.
//! - [`receiver`]: webhook receivers to deliver to: one that checks every signature with an
//!   independent Standard Webhooks implementation (PyPI `standardwebhooks`), and a fast one
//!   that only counts.

#![allow(clippy::missing_panics_doc)]

pub mod bench;
pub mod binary;
pub mod daemon;
pub mod infra;
pub mod jwt;
pub mod postgres;
pub mod private_postgres;
pub mod receiver;
pub mod tansu;

/// A name no other test run uses: `prefix` plus a random suffix, valid as a topic, group,
/// tenant or database name.
#[must_use]
pub fn unique_name(prefix: &str) -> String {
    let id = uuid::Uuid::now_v7().simple().to_string();
    // The tail of a v7 UUID is random; the head is the timestamp and alike between tests.
    format!("{prefix}_{}", &id[id.len() - 16..])
}
