//! Consumer group `processor` (DESIGN §3): reads `<prefix>.ingest.raw`, builds the canonical
//! CloudEvent of each raw webhook per provider ([`providers`]), applies the source's
//! declarative [`transform`], validates the data against the schema registry, and publishes
//! it to `<prefix>.events` in CloudEvents binary mode. Records that cannot become events are
//! dead-lettered with the reason and the partition moves on.
//!
//! Idempotent by construction: the event id comes from the raw record (ingest derives it from
//! the provider's delivery id), so a record processed twice — a crash between publishing and
//! committing — yields the same event, and every consumer downstream keeps one.
//!
//! This crate holds the service's logic so tests can start it in-process on port 0;
//! `main.rs` only hands [`build`] to the shared runtime.

pub mod handler;
pub mod pipeline;
pub mod providers;
pub mod transform;

use std::sync::Arc;

use anyhow::Context as _;
use switchyard_bus::{Bus, RetryPolicy, StartFrom, Subscription};
use switchyard_control::Follower;
use switchyard_runtime::{Service, ServiceBuilder, ServiceInfo, Settings};
use switchyard_schema_registry::SchemaRegistry;

use crate::{
    handler::RawToEvents,
    pipeline::{FollowRules, Pipeline},
};

/// This service's identity: names, default listen address, version.
pub static SERVICE: ServiceInfo = ServiceInfo {
    name: "processor",
    binary: "switchyard-processor",
    about: "Turns raw webhooks into validated canonical CloudEvents",
    default_bind: "0.0.0.0:9090",
    version: env!("CARGO_PKG_VERSION"),
};

/// The consumer group.
pub const GROUP: &str = "processor";

/// Builds the service and binds `http.bind`; see [`assemble`].
pub async fn build(settings: Settings) -> anyhow::Result<Service> {
    Ok(assemble(settings).await?.build()?)
}

/// Builds the service from validated settings: loads the schemas (a bad schema stops
/// start-up), joins the `processor` group in the background and follows the config topic
/// for sources' rules; `/readyz` follows the bus and the config topic.
///
/// Unbound: [`build`] serves it alone, `switchyard dev` beside the other services.
pub async fn assemble(settings: Settings) -> anyhow::Result<ServiceBuilder> {
    let bus = Bus::connect(&settings.bus).await?;
    let config = &settings.processor;
    let registry = if config.validate && !config.schemas_dir.as_os_str().is_empty() {
        SchemaRegistry::load(&config.schemas_dir)
            .with_context(|| format!("processor.schemas_dir {}", config.schemas_dir.display()))?
    } else {
        SchemaRegistry::empty()
    };
    tracing::info!(
        schemas = registry.len(),
        validate = config.validate,
        "schema registry loaded"
    );
    let topics = settings.bus.topics();
    let pipeline = Pipeline::new(&settings.sources, registry, config.validate);
    let follower = Follower::new(
        SERVICE.name,
        &settings,
        Arc::new(FollowRules(pipeline.rules())),
    )?;
    let handler = Arc::new(RawToEvents {
        pipeline,
        publisher: bus.publisher.clone(),
        topic: topics.events(),
    });
    let subscription = Subscription {
        group: settings.bus.group(GROUP),
        topics: vec![topics.ingest_raw()],
        // A publish that keeps failing means the broker is away, not that the record is bad:
        // hold the partition and keep trying rather than dead-letter good records.
        retry: RetryPolicy::UNTIL_BACK,
        dlq_topic: topics.dlq(),
        start: StartFrom::Earliest,
    };
    let max_batch = config.max_batch;
    let all_topics = vec![topics.ingest_raw(), topics.events(), topics.dlq()];
    let builder = Service::builder(&SERVICE, settings)
        .readiness_check(bus.readiness_check())
        .readiness_check(follower.readiness_check());
    let shutdown = builder.shutdown().clone();
    let caught_up = follower.caught_up();
    shutdown.spawn(follower.run(bus.clone(), shutdown.clone()));
    let stopping = shutdown.clone();
    shutdown.spawn(async move {
        // A webhook processed before its source's run-time rules are known would get the
        // wrong transform or strictness, for good: consume only once caught up.
        tokio::select! {
            () = caught_up.wait() => {}
            () = stopping.triggered() => return,
        }
        bus.consume_until_shutdown(&all_topics, subscription, handler, max_batch, &stopping)
            .await;
    });
    Ok(builder)
}
