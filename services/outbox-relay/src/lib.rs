//! Moves rows that applications committed to the PostgreSQL outbox onto `<prefix>.events`
//! (DESIGN §1, §6), so publishing is atomic with the application's own writes: an event
//! enqueued in a transaction that commits is published at least once, in order per tenant;
//! one whose transaction rolls back never is. A row enqueued with a route (the gateway's
//! `switchyard.config.*` changes) goes to the topic the route names, `<prefix>.config`,
//! keyed by the route's key instead of the tenant ([`relay`] says how batches are split).
//!
//! The work is the protocol of `switchyard_store::outbox`, one transaction per batch
//! ([`relay::Relay::relay_once`]): claim up to `outbox.batch_size` rows (tenants are claimed
//! whole, under advisory locks, so several replicas never interleave one tenant), publish
//! them in seq order and wait for every acknowledgement, mark them, commit. A failure
//! anywhere rolls the batch back and leaves its rows pending; a replica killed between
//! publish and commit leaves duplicates with the same event ids, never a gap. Rows are
//! found by "not yet published", not "after the last seq published", so a slow transaction
//! that commits an older seq after a newer one went out is still picked up. A row that no
//! longer decodes into an event is dead-lettered to `<prefix>.dlq` and moved to the
//! `outbox_failed` table in its batch's transaction (counted in
//! `switchyard_outbox_relay_failed_total`), so its tenant's later rows are not held behind it.
//!
//! The relay wakes when the store says rows arrived (PostgreSQL: `LISTEN switchyard_outbox`
//! on a dedicated connection; memory: a watch; [`wakeup`]),
//! drains while batches come back full, and polls every `outbox.poll_interval_ms` as well,
//! because notifications sent while no relay listened are gone. Beside it, [`upkeep`]
//! prunes published rows older than `outbox.retain_published_secs` and refreshes the backlog
//! gauges. It connects to PostgreSQL and applies migrations in the background
//! (`switchyard_store::Opening`),
//! so it starts and reports why it is not ready while the database is unreachable. `/readyz`
//! follows the bus and the database. On SIGTERM the batch in hand is finished (or rolled
//! back by its own failure) before the process exits.
//!
//! Not here: what events mean, or who consumes them; the outbox table and its queries
//! belong to `switchyard-store`.
//!
//! This crate holds the service's logic so tests can start it in-process on port 0;
//! `main.rs` only hands [`build`] to the shared runtime.

pub mod instruments;
pub mod relay;
pub mod upkeep;
pub mod wakeup;

use std::{sync::Arc, time::Duration};

use switchyard_bus::{Bus, RetryPolicy};
use switchyard_domain::Topics;
use switchyard_runtime::{
    Service, ServiceBuilder, ServiceInfo, Settings, Shutdown,
    settings::{DatabaseSettings, OutboxSettings},
};
use switchyard_store::{Opening, Store};
use tokio::sync::Notify;

use crate::relay::Relay;

/// This service's identity: names, default listen address, version.
pub static SERVICE: ServiceInfo = ServiceInfo {
    name: "outbox-relay",
    binary: "switchyard-outbox-relay",
    about: "Publishes committed outbox rows from PostgreSQL to the bus",
    default_bind: "0.0.0.0:9090",
    version: env!("CARGO_PKG_VERSION"),
};

/// Builds the service and binds `http.bind`; see [`assemble`].
pub async fn build(settings: Settings) -> anyhow::Result<Service> {
    Ok(assemble(settings).await?.build()?)
}

/// Builds the service from validated settings, bound to `http.bind`, and starts relaying in
/// the background; `/readyz` follows the bus and the database. An invalid `database.url`
/// stops start-up; an unreachable or missing database does not.
///
/// Unbound: [`build`] serves it alone, `switchyard dev` beside the other services.
pub async fn assemble(settings: Settings) -> anyhow::Result<ServiceBuilder> {
    let bus = Bus::connect(&settings.bus).await?;
    let opening = Opening::new();
    let store = opening.try_open(&settings.database).await?;
    let parts = Parts {
        store,
        topics: settings.bus.topics(),
        database: settings.database.clone(),
        outbox: settings.outbox.clone(),
        opening: opening.clone(),
        bus: bus.clone(),
    };
    let builder = Service::builder(&SERVICE, settings)
        .readiness_check(bus.readiness_check())
        .readiness_check(opening.readiness_check());
    let shutdown = builder.shutdown().clone();
    shutdown.spawn(run(parts, shutdown.clone()));
    Ok(builder)
}

/// What the background work needs, taken from the settings.
struct Parts {
    /// Connected at start-up, or `None` to connect in the background.
    store: Option<Store>,
    bus: Bus,
    topics: Topics,
    database: DatabaseSettings,
    outbox: OutboxSettings,
    opening: Opening,
}

/// Connects, then listens, keeps up and relays until shutdown.
async fn run(parts: Parts, shutdown: Shutdown) {
    let store = match parts.store {
        Some(store) => store,
        None => match parts.opening.open(&parts.database, &shutdown).await {
            Some(store) => store,
            None => return,
        },
    };
    let wake = Arc::new(Notify::new());
    shutdown.spawn(wakeup::follow(
        store.clone(),
        wake.clone(),
        shutdown.clone(),
    ));
    shutdown.spawn(upkeep::run(
        store.clone(),
        parts.outbox.clone(),
        shutdown.clone(),
    ));
    let topics = Relay::topics_at_start(&parts.topics);
    if !ensure_topics(&parts.bus, &topics, &shutdown).await {
        return;
    }
    let relay = Relay::new(
        store,
        parts.bus.publisher.clone(),
        parts.bus.admin.clone(),
        parts.topics,
        parts.outbox.batch_size,
    );
    let poll = Duration::from_millis(parts.outbox.poll_interval_ms);
    for _ in 1..parts.outbox.workers {
        shutdown.spawn(relay.clone().run(wake.clone(), poll, shutdown.clone()));
    }
    relay.run(wake, poll, shutdown).await;
}

/// Makes sure the events, DLQ and config topics exist, retrying while the broker is away; `false`
/// when shutdown came first.
async fn ensure_topics(bus: &Bus, topics: &[String], shutdown: &Shutdown) -> bool {
    let backoff = RetryPolicy::default();
    for attempt in 1.. {
        match bus.admin.ensure_topics(topics).await {
            Ok(()) => return true,
            Err(error) => {
                tracing::warn!(%error, ?topics, "cannot create the relay's topics yet; retrying");
            }
        }
        tokio::select! {
            () = shutdown.triggered() => return false,
            () = tokio::time::sleep(backoff.backoff(attempt)) => {}
        }
    }
    false
}
