//! Consumer group `webhook-dispatcher` (DESIGN §5): POSTs each event of `<prefix>.events` to
//! every matching endpoint of its tenant as a structured-mode CloudEvent with Standard
//! Webhooks signatures, retries failures through `<prefix>.deliveries.retry.<n>`, dead-letters
//! what never succeeds, and records every attempt on `<prefix>.deliveries`.
//!
//! - [`catalog`]: endpoints and their health, changeable at run time.
//! - [`dispatch`]: the delivery engine and its terminal states.
//! - [`retry`]: the retry topics' records and the schedule.
//! - [`sender`]: the HTTP attempt; [`ssrf`]: the address guard under it; [`breaker`].
//!
//! This crate holds the service's logic so tests can start it in-process on port 0;
//! `main.rs` only hands [`build`] to the shared runtime.

pub mod breaker;
pub mod catalog;
pub mod dispatch;
pub mod metrics;
pub mod retry;
pub mod sender;
pub mod ssrf;

use std::{sync::Arc, time::Duration};

use anyhow::Context as _;
use async_trait::async_trait;
use switchyard_bus::{
    BatchHandler, Bus, Delivery, HandlerError, RetryPolicy, StartFrom, Subscription,
};
use switchyard_control::Follower;
use switchyard_runtime::{Service, ServiceBuilder, ServiceInfo, Settings};

use crate::{
    catalog::{Catalog, FollowEndpoints},
    dispatch::Dispatcher,
    sender::Sender,
    ssrf::AddressPolicy,
};

/// This service's identity: names, default listen address, version.
pub static SERVICE: ServiceInfo = ServiceInfo {
    name: "webhook-dispatcher",
    binary: "switchyard-webhook-dispatcher",
    about: "Delivers events to subscriber endpoints, signed, retried and dead-lettered",
    default_bind: "0.0.0.0:9090",
    version: env!("CARGO_PKG_VERSION"),
};

/// The consumer group.
pub const GROUP: &str = "webhook-dispatcher";

/// Seconds between samples of the per-endpoint gauges.
const GAUGE_INTERVAL: Duration = Duration::from_secs(5);

struct Deliver(Arc<Dispatcher>);

#[async_trait]
impl BatchHandler for Deliver {
    async fn handle_batch(&self, batch: &[Delivery]) -> Result<Vec<(usize, String)>, HandlerError> {
        self.0.handle(batch).await
    }
}

/// Builds the service and binds `http.bind`; see [`assemble`].
pub async fn build(settings: Settings) -> anyhow::Result<Service> {
    Ok(assemble(settings).await?.build()?)
}

/// Builds the service from validated settings: joins the `webhook-dispatcher` group on the
/// events topic and the retry topics in the background, and follows the config topic for
/// endpoints created or changed at run time; `/readyz` follows the bus and the config topic.
///
/// Unbound: [`build`] serves it alone, `switchyard dev` beside the other services.
pub async fn assemble(settings: Settings) -> anyhow::Result<ServiceBuilder> {
    let bus = Bus::connect(&settings.bus).await?;
    let config = settings.dispatcher.clone();
    let catalog = Arc::new(
        Catalog::from_settings(&settings.endpoints, &config)
            .map_err(|(endpoint, error)| anyhow::anyhow!("endpoint {endpoint}: {error}"))?,
    );
    let sender = Sender::new(
        AddressPolicy {
            allow_private_networks: config.allow_private_networks,
        },
        Duration::from_millis(config.timeout_ms),
        usize::try_from(config.endpoint_concurrency).unwrap_or(1),
        &format!("Switchyard-Webhooks/{}", SERVICE.version),
    )
    .context("webhook-dispatcher HTTP client")?;
    let follower = Follower::new(
        SERVICE.name,
        &settings,
        Arc::new(FollowEndpoints(catalog.clone())),
    )?;
    let topics = settings.bus.topics();
    let builder = Service::builder(&SERVICE, settings.clone())
        .readiness_check(bus.readiness_check())
        .readiness_check(follower.readiness_check());
    let shutdown = builder.shutdown().clone();
    let caught_up = follower.caught_up();
    shutdown.spawn(follower.run(bus.clone(), shutdown.clone()));
    let dispatcher = Arc::new(Dispatcher::new(
        catalog.clone(),
        sender,
        &config,
        bus.publisher.clone(),
        topics.clone(),
        shutdown.clone(),
    ));
    tracing::info!(
        endpoints = catalog.all().len(),
        retries = dispatcher.retry_topics().len(),
        "webhook-dispatcher configured"
    );
    let mut read = vec![topics.events()];
    read.extend(dispatcher.retry_topics());
    let mut ensure = read.clone();
    ensure.extend([topics.deliveries(), topics.dlq()]);
    let subscription = Subscription {
        group: settings.bus.group(GROUP),
        topics: read,
        // Handler errors mean the broker is away (records are published before offsets are
        // stored), never a bad record: hold the partition and keep trying.
        retry: RetryPolicy::UNTIL_BACK,
        dlq_topic: topics.dlq(),
        // Retry topics must be read from their start: a delivery scheduled before the group
        // first committed there would otherwise be skipped.
        start: StartFrom::Earliest,
    };
    let drain = Duration::from_secs(settings.shutdown.drain_timeout_secs);
    let stopping = shutdown.clone();
    let handler = Arc::new(Deliver(dispatcher.clone()));
    shutdown.spawn(async move {
        // An event read before the run-time endpoints are known matches none of them and is
        // done with: lost to them. Consume only once caught up with the config topic.
        tokio::select! {
            () = caught_up.wait() => {}
            () = stopping.triggered() => return,
        }
        bus.consume_until_shutdown(&ensure, subscription, handler, config.max_batch, &stopping)
            .await;
        dispatcher.drain(drain).await;
    });
    let sampling = shutdown.clone();
    shutdown.spawn(async move {
        loop {
            metrics::sample(&catalog, config.endpoint_concurrency);
            tokio::select! {
                () = tokio::time::sleep(GAUGE_INTERVAL) => {}
                () = sampling.triggered() => return,
            }
        }
    });
    Ok(builder)
}
