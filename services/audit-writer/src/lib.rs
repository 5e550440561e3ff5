//! Consumer group `audit-writer` (DESIGN §3, §6): keeps every event of `<prefix>.events`
//! and every delivery attempt of `<prefix>.deliveries` in the PostgreSQL audit store, once
//! each, so the gateway can search and replay them.
//!
//! How it works: the bus hands over up to `[audit_writer] max_batch` consecutive records of
//! one partition; [`handler::AuditWriter`] decodes them and writes them with one
//! `INSERT … ON CONFLICT DO NOTHING` (the store's batch insert); the bus stores the batch's
//! offsets only after that statement committed. So a writer killed at any moment resumes
//! from the last committed batch, and the rows it writes twice are skipped by their key
//! (`(tenant, id)` for events, `(tenant, attempt_id)` for attempts): at-least-once delivery,
//! exactly-once rows.
//!
//! When PostgreSQL is away the batch is retried with a capped backoff for as long as it
//! takes: the partition waits, nothing is dead-lettered, `/readyz` reports `postgres` red,
//! and writing resumes when the database is back. Records that can never be stored (they do
//! not decode, or PostgreSQL cannot hold a value) go to `<prefix>.dlq` with the reason, and
//! the partition moves on. Migrations run at start-up; when the database is unreachable, not
//! created yet or refuses its migrations, the writer starts anyway, says why on `/readyz`
//! and keeps trying in the background (`switchyard_store::Opening`).
//!
//! Not here: reading the store (the gateway) or retention (`Store::prune_events`).
//!
//! This crate holds the service's logic so tests can start it in-process on port 0;
//! `main.rs` only hands [`build`] to the shared runtime.

pub mod decode;
pub mod handler;
pub mod metrics;

use std::{sync::Arc, time::Duration};

use switchyard_bus::{Bus, RetryPolicy, StartFrom, Subscription};
use switchyard_runtime::{
    Service, ServiceBuilder, ServiceInfo, Settings, Shutdown, settings::DatabaseSettings,
};
use switchyard_store::{Opening, Store};

use crate::handler::AuditWriter;

/// This service's identity: names, default listen address, version.
pub static SERVICE: ServiceInfo = ServiceInfo {
    name: "audit-writer",
    binary: "switchyard-audit-writer",
    about: "Stores every event and delivery attempt in the PostgreSQL audit store",
    default_bind: "0.0.0.0:9090",
    version: env!("CARGO_PKG_VERSION"),
};

/// The consumer group.
pub const GROUP: &str = "audit-writer";

/// How a batch that could not be written is retried: forever (a database outage is not the
/// records' fault), backing off to at most a few seconds so writing resumes soon after the
/// database is back.
pub const WRITE_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: u32::MAX,
    initial_backoff: Duration::from_millis(200),
    max_backoff: Duration::from_secs(5),
};

/// Builds the service and binds `http.bind`; see [`assemble`].
pub async fn build(settings: Settings) -> anyhow::Result<Service> {
    Ok(assemble(settings).await?.build()?)
}

/// Builds the service from validated settings: opens the audit store and applies its
/// migrations (in the background if PostgreSQL is unreachable), then joins the
/// `audit-writer` group; `/readyz` follows the bus and the database.
///
/// # Errors
/// The bus or `[database]` settings cannot work (e.g. `database.url` is not a PostgreSQL
/// URL). A database that is unreachable, missing or refuses its migrations does not stop
/// start-up: `/readyz` says why while it is retried.
///
/// Unbound: [`build`] serves it alone, `switchyard dev` beside the other services.
pub async fn assemble(settings: Settings) -> anyhow::Result<ServiceBuilder> {
    let bus = Bus::connect(&settings.bus).await?;
    let opening = Opening::new();
    let store = opening.try_open(&settings.database).await?;
    let topics = settings.bus.topics();
    let subscription = Subscription {
        group: settings.bus.group(GROUP),
        topics: vec![topics.events(), topics.deliveries()],
        retry: WRITE_RETRY,
        dlq_topic: topics.dlq(),
        start: StartFrom::Earliest,
    };
    let worker = Worker {
        bus: bus.clone(),
        all_topics: vec![topics.events(), topics.deliveries(), topics.dlq()],
        subscription,
        max_batch: settings.audit_writer.max_batch,
        database: settings.database.clone(),
        opening: opening.clone(),
    };
    let builder = Service::builder(&SERVICE, settings)
        .readiness_check(opening.readiness_check())
        .readiness_check(bus.readiness_check());
    let shutdown = builder.shutdown().clone();
    shutdown.spawn(worker.run(store, shutdown.clone()));
    Ok(builder)
}

/// What the background work needs.
struct Worker {
    bus: Bus,
    all_topics: Vec<String>,
    subscription: Subscription,
    max_batch: usize,
    database: DatabaseSettings,
    opening: Opening,
}

impl Worker {
    /// Opens the store if start-up could not, then consumes until shutdown.
    async fn run(self, store: Option<Store>, shutdown: Shutdown) {
        let store = match store {
            Some(store) => store,
            None => match self.opening.open(&self.database, &shutdown).await {
                Some(store) => store,
                None => return,
            },
        };
        let handler = Arc::new(AuditWriter {
            store,
            events_topic: self.subscription.topics[0].clone(),
            deliveries_topic: self.subscription.topics[1].clone(),
        });
        self.bus
            .consume_until_shutdown(
                &self.all_topics,
                self.subscription,
                handler,
                self.max_batch,
                &shutdown,
            )
            .await;
    }
}
