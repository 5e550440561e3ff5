//! Live events for browsers (DESIGN §5 "websocket-gateway"): `GET /v1/ws` (WebSocket) and
//! `GET /v1/sse` (Server-Sent Events), scoped by the JWT's tenant, with replay after
//! reconnects and bounded per-client queues. Not for: durable delivery (webhooks are), or
//! queries of the past beyond the short history (the gateway's `GET /v1/events` is).
//!
//! **Fan-out.** Every replica must see every event, because any replica may hold a tenant's
//! clients. So each replica reads `<prefix>.events` in a consumer group of its own,
//! `websocket-gateway.<instance>` (`websocket.instance_id`, random per start by default),
//! from the latest offset. The cost: N replicas read the topic N times (cheap next to the
//! fan-out to sockets), and the group of a replica that died stays on the broker until its
//! offsets expire under the broker's `offsets.retention.minutes` (7 days on Kafka by default;
//! nothing reads it). Records are never dead-lettered here: an undecodable one is counted and
//! skipped.
//!
//! **Dispatch.** [`hub::Hub`] keeps one room per tenant: an [`index::Index`] of its
//! connections (subject → exact type / patterns / everything) and its [`history::History`].
//! An event is offered only to the connections its tenant's index selects; offering never
//! waits ([`link::Link::offer`]). The tenant comes only from the token, so no filter a client
//! sends can reach another tenant.
//!
//! **Flow control.** Each connection has a queue of `websocket.queue_capacity` messages.
//! At half full the client gets `switchyard.lagging`; when full it is closed with 4008 (see
//! [`link::CloseReason`] for every close code). WebSocket clients are pinged every
//! `ping_interval_secs` and closed (4009) after `idle_timeout_secs` of silence; SSE streams get
//! keep-alive comments. Connections are limited per replica (`503`) and per tenant (`429`)
//! before the upgrade. At the token's `exp` the connection is closed (4001). On shutdown every
//! connection is closed with 1012 "service restart" (SSE: a `switchyard.closing` message), so
//! clients reconnect — to another replica — with their resume point.
//!
//! **Recovery.** Each tenant's last `history_size` events (none older than
//! `history_ttl_secs`) are kept in memory. `?since=<event id>` (WebSocket; SSE too) or
//! `Last-Event-ID` (SSE) replays what came after that event through the connection's filter,
//! atomically with joining the live stream (no loss, no duplicates). If the id is not in the
//! history — too old, or from before this replica started — the client gets a
//! `switchyard.gap` message and should refetch through the API.
//!
//! This crate holds the service's logic so tests can start it in-process on port 0;
//! `main.rs` only hands [`build`] to the shared runtime.

pub mod admission;
pub mod consumer;
pub mod filter;
pub mod frame;
pub mod history;
pub mod hub;
pub mod index;
pub mod limits;
pub mod link;
pub mod metrics;
pub mod sse;
pub mod streams;
pub mod ws;

use std::{sync::Arc, time::Duration};

use actix_web::web;
use anyhow::Context as _;
use switchyard_auth::Authenticator;
use switchyard_bus::{Bus, RetryPolicy, StartFrom, Subscription};
use switchyard_runtime::{Service, ServiceBuilder, ServiceInfo, Settings, Shutdown};
use tokio_util::task::TaskTracker;

use crate::{
    admission::Gatekeeper,
    consumer::FanOut,
    hub::Hub,
    limits::Limits,
    streams::{Policy, Streams},
};

/// This service's identity: names, default listen address, version.
pub static SERVICE: ServiceInfo = ServiceInfo {
    name: "websocket-gateway",
    binary: "switchyard-websocket-gateway",
    about: "Streams live events to browsers over WebSocket and SSE",
    default_bind: "0.0.0.0:8082",
    version: env!("CARGO_PKG_VERSION"),
};

/// The consumer group's name before the instance suffix.
pub const GROUP: &str = "websocket-gateway";

/// How often history is expired and queue depths are sampled.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(5);

/// Builds the service and binds `http.bind`; see [`assemble`].
pub async fn build(settings: Settings) -> anyhow::Result<Service> {
    Ok(assemble(settings).await?.build()?)
}

/// Builds the service from validated settings: verifies tokens with `[auth]` (required: it
/// refuses to start without), joins its own consumer group on the events topic in the
/// background, and serves `/v1/ws` and `/v1/sse`; `/readyz` follows the bus.
///
/// Unbound: [`build`] serves it alone, `switchyard dev` beside the other services.
pub async fn assemble(settings: Settings) -> anyhow::Result<ServiceBuilder> {
    let auth = Authenticator::new(&settings.auth)
        .await
        .context("websocket-gateway authenticates every client: configure [auth]")?;
    let bus = Bus::connect(&settings.bus).await?;
    let config = settings.websocket.clone();
    let hub = Hub::new(
        config.history_size,
        Duration::from_secs(config.history_ttl_secs),
        Some(config.owner_field.clone()).filter(|f| !f.is_empty()),
    );
    let instance = if config.instance_id.is_empty() {
        let id = uuid::Uuid::now_v7().simple().to_string();
        id[id.len() - 12..].to_owned()
    } else {
        config.instance_id.clone()
    };
    let topics = settings.bus.topics();
    let subscription = Subscription {
        group: settings.bus.group(&format!("{GROUP}.{instance}")),
        topics: vec![topics.events()],
        // The handler never fails; the policy only matters for the contract.
        retry: RetryPolicy::default(),
        dlq_topic: topics.dlq(),
        start: StartFrom::Latest,
    };
    tracing::info!(group = %subscription.group, "websocket-gateway joins its own consumer group");

    let builder = Service::builder(&SERVICE, settings).readiness_check(bus.readiness_check());
    let shutdown = builder.shutdown().clone();
    let connections = TaskTracker::new();
    let streams = web::Data::new(Streams {
        gate: Gatekeeper {
            auth: auth.clone(),
            limits: Limits::new(config.max_connections, config.max_connections_per_tenant),
            restrict_subject_tokens: config.restrict_subject_tokens,
            stopping: shutdown.token(),
        },
        hub: hub.clone(),
        policy: Policy::from_settings(&config),
        connections: connections.clone(),
        stopping: shutdown.token(),
    });
    let builder = builder.routes(move |routes| streams::routes(routes, streams.clone()));

    let stopping = shutdown.clone();
    let ensure = vec![topics.events()];
    let handler = Arc::new(FanOut(hub.clone()));
    shutdown.spawn(async move {
        bus.consume_until_shutdown(&ensure, subscription, handler, config.max_batch, &stopping)
            .await;
    });
    let keys = shutdown.token();
    shutdown.spawn(async move { auth.keep_keys_fresh(keys).await });
    shutdown.spawn(streams::drain(connections, shutdown.token()));
    shutdown.spawn(housekeeping(hub, shutdown.clone()));
    Ok(builder)
}

/// Expires history, forgets idle tenants and samples queue depths until shutdown.
async fn housekeeping(hub: Arc<Hub>, shutdown: Shutdown) {
    let mut tick = tokio::time::interval(HOUSEKEEPING_INTERVAL);
    loop {
        tokio::select! {
            () = shutdown.triggered() => return,
            _ = tick.tick() => {
                hub.sweep(tokio::time::Instant::now());
                metrics::queues(hub.queue_stats());
            }
        }
    }
}
