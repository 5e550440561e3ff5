//! The front door for external systems (DESIGN §5 "ingest"): `POST /webhooks/{tenant}/{source}`
//! verifies each webhook's signature, source address and rate, and answers `202` only once
//! the raw record is acknowledged on `<prefix>.ingest.raw`.
//!
//! The flow lives in [`webhook`]; each check is its own module ([`client_ip`], [`limits`],
//! [`body`], signatures in `switchyard-signatures`, [`dedupe`]) and [`delivery`] builds the
//! record. Sources sit in a [`sources::SourceCatalog`] that can change while serving.
//!
//! This crate holds the service's logic so tests can start it in-process on port 0;
//! `main.rs` only hands [`build`] to the shared runtime.

pub mod body;
pub mod client_ip;
pub mod dedupe;
pub mod delivery;
pub mod limits;
mod outcome;
pub mod rejection;
pub mod sources;
pub mod webhook;

use std::{sync::Arc, time::Duration};

use actix_web::web;
use anyhow::Context as _;
use switchyard_bus::{Bus, RetryPolicy};
use switchyard_control::Follower;
use switchyard_runtime::{Service, ServiceBuilder, ServiceInfo, Settings, Shutdown};

use crate::{
    client_ip::ClientIpResolver,
    dedupe::Dedupe,
    limits::RateLimits,
    sources::{FollowSources, SourceCatalog},
    webhook::Ingest,
};

/// This service's identity: names, default listen address, version.
pub static SERVICE: ServiceInfo = ServiceInfo {
    name: "ingest",
    binary: "switchyard-ingest",
    about: "Receives provider webhooks and makes them durable on the bus before answering 2xx",
    default_bind: "0.0.0.0:8081",
    version: env!("CARGO_PKG_VERSION"),
};

/// How often idle clients are swept from the rate limiter.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Builds the service and binds `http.bind`; see [`assemble`].
pub async fn build(settings: Settings) -> anyhow::Result<Service> {
    Ok(assemble(settings).await?.build()?)
}

/// Assembles the service from validated settings: the static
/// `[[sources]]`, then the run-time ones of the config topic as they come; `/readyz` follows
/// the bus and the config topic (not ready until caught up, so a restarted replica does not
/// answer 404 for a source created through the API).
///
/// Unbound: [`build`] serves it alone, `switchyard dev` beside the other services.
pub async fn assemble(settings: Settings) -> anyhow::Result<ServiceBuilder> {
    let bus = Bus::connect(&settings.bus).await?;
    let ingest = &settings.ingest;
    let catalog = SourceCatalog::from_settings(
        &settings.sources,
        Duration::from_secs(ingest.signature_tolerance_secs),
    )?;
    let mut dedupe = Dedupe::new(
        Duration::from_secs(settings.dedupe.window_secs),
        settings.dedupe.max_entries,
    );
    if !settings.dedupe.redis_url.is_empty() {
        let connection = connect_redis(&settings.dedupe.redis_url).await?;
        dedupe = dedupe.with_redis(connection, settings.bus.topic_prefix.as_str());
    }
    let follower = Follower::new(
        SERVICE.name,
        &settings,
        Arc::new(FollowSources(catalog.clone())),
    )?;
    let topic = settings.bus.topics().ingest_raw();
    let state = web::Data::new(Ingest {
        catalog,
        clients: ClientIpResolver::new(ingest.trusted_proxies.clone()),
        limits: RateLimits::new(
            ingest.rate_limit_per_ip,
            ingest.rate_limit_per_tenant,
            ingest.rate_limit_max_clients,
        ),
        dedupe,
        publisher: bus.publisher.clone(),
        topic: topic.clone(),
        body_timeout: Duration::from_secs(ingest.body_timeout_secs),
        publish_timeout: Duration::from_millis(ingest.publish_timeout_ms),
        config: follower.caught_up(),
    });

    let routes_state = state.clone();
    let builder = Service::builder(&SERVICE, settings)
        .readiness_check(bus.readiness_check())
        .readiness_check(follower.readiness_check())
        .routes(move |config| webhook::routes(config, routes_state.clone()));
    let shutdown = builder.shutdown().clone();
    shutdown.spawn(follower.run(bus.clone(), shutdown.clone()));
    shutdown.spawn(ensure_topic(bus, topic, shutdown.clone()));
    shutdown.spawn(sweep_limits(state, shutdown.clone()));
    Ok(builder)
}

async fn connect_redis(url: &str) -> anyhow::Result<redis::aio::ConnectionManager> {
    let client = redis::Client::open(url).context("dedupe.redis_url is not a valid Redis URL")?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(1)));
    tokio::time::timeout(
        Duration::from_secs(5),
        redis::aio::ConnectionManager::new_with_config(client, config),
    )
    .await
    .context("dedupe.redis_url: Redis did not answer within 5 s")?
    .context("dedupe.redis_url: cannot connect to Redis")
}

/// Creates `<prefix>.ingest.raw` if it is missing, retrying while the broker is away: start-up
/// does not wait for the broker (`/readyz` reports it), and a publish before the topic exists
/// fails with 503 like any other broker outage.
async fn ensure_topic(bus: Bus, topic: String, shutdown: Shutdown) {
    let backoff = RetryPolicy::default();
    for attempt in 1.. {
        match bus.admin.ensure_topics(std::slice::from_ref(&topic)).await {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(%error, %topic, "cannot create the raw webhook topic yet; retrying");
            }
        }
        tokio::select! {
            () = shutdown.triggered() => return,
            () = tokio::time::sleep(backoff.backoff(attempt)) => {}
        }
    }
}

async fn sweep_limits(state: web::Data<Ingest>, shutdown: Shutdown) {
    loop {
        tokio::select! {
            () = shutdown.triggered() => return,
            () = tokio::time::sleep(SWEEP_EVERY) => state.limits.sweep(),
        }
    }
}
