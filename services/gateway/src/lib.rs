//! The control plane (DESIGN §5 "gateway"): applications publish events through the outbox,
//! tenants search the event store and see every delivery attempt, over REST (`/v1`, described
//! by `/openapi.json`) and GraphQL (`/graphql`).
//!
//! Layers, outside in: [`rest`] and [`graphql`] extract the caller ([`access`]: bearer JWT,
//! per-tenant budget) and the input, and call [`api::Api`], the one service layer, which
//! checks scopes, applies the caller's tenant to every read and write, and talks to the store
//! ([`publish`] batches publishes into shared commits). Errors become problem+json in one
//! place ([`error`]).
//!
//! This crate holds the service's logic so tests can start it in-process on port 0;
//! `main.rs` only hands [`build`] to the shared runtime.

pub mod access;
pub mod api;
pub mod error;
pub mod graphql;
pub mod live;
pub mod manage;
pub mod model;
pub mod openapi;
pub mod publish;
pub mod recovery;
pub mod rest;

use std::{sync::Arc, time::Duration};

use actix_web::web;
use anyhow::Context as _;
use switchyard_auth::Authenticator;
use switchyard_bus::{Bus, RetryPolicy, StartFrom, Subscription};
use switchyard_control::Sealer;
use switchyard_runtime::{Service, ServiceBuilder, ServiceInfo, Settings, Shutdown};
use switchyard_store::Opening;

use crate::{
    access::Access,
    api::{Api, Parts, StoreSlot},
    publish::Publisher,
};

/// This service's identity: names, default listen address, version.
pub static SERVICE: ServiceInfo = ServiceInfo {
    name: "gateway",
    binary: "switchyard-gateway",
    about: "REST and GraphQL API: publish through the outbox, search events, manage sources and endpoints",
    default_bind: "0.0.0.0:8080",
    version: env!("CARGO_PKG_VERSION"),
};

/// The live-events group's name before the replica's suffix: every replica reads every
/// event for its own subscribers.
const LIVE_GROUP: &str = "gateway.live";

/// Dead letters stored per statement.
const DLQ_BATCH: usize = 500;

/// How often idle tenants' budgets are forgotten.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Builds the service and binds `http.bind`; see [`assemble`].
pub async fn build(settings: Settings) -> anyhow::Result<Service> {
    Ok(assemble(settings).await?.build()?)
}

/// Builds the service from validated settings: verifies tokens with `[auth]` (required),
/// connects to PostgreSQL and migrates (in the background while it is not up yet) and serves
/// the API; `/readyz` follows the database and the bus.
///
/// Unbound: [`build`] serves it alone, `switchyard dev` beside the other services.
pub async fn assemble(settings: Settings) -> anyhow::Result<ServiceBuilder> {
    let auth = Authenticator::new(&settings.auth)
        .await
        .context("the gateway authenticates every request: configure [auth]")?;
    let sealer = Sealer::from_settings(&settings.secrets)?;
    anyhow::ensure!(
        !sealer.is_empty(),
        "the gateway seals the secrets of sources and endpoints: configure secrets.keys \
         (SWITCHYARD__SECRETS__KEYS; make a key with `openssl rand -base64 32`)"
    );
    let topics = settings.bus.topics();
    let config = settings.gateway.clone();
    let database = settings.database.clone();
    let dlq_settings = settings.bus.clone();
    let opening = Opening::new();
    let bus = Bus::connect(&settings.bus).await?;
    let builder = Service::builder(&SERVICE, settings)
        .readiness_check(opening.readiness_check())
        .readiness_check(bus.readiness_check());
    let shutdown = builder.shutdown().clone();
    let store = StoreSlot::default();
    match opening.try_open(&database).await? {
        Some(opened) => {
            let _ = store.set(opened);
        }
        // Serve meanwhile: probes work, `/readyz` says why, requests get 503 + Retry-After.
        None => {
            let (slot, stopping) = (store.clone(), shutdown.clone());
            shutdown.spawn(async move {
                if let Some(opened) = opening.open(&database, &stopping).await {
                    let _ = slot.set(opened);
                }
            });
        }
    }
    let (dlq_bus, dlq_store, dlq_topic) = (bus.clone(), store.clone(), topics.dlq());
    let events_topic = topics.events();
    // Made sure of with the DLQ's: where redrives and replays go.
    let dlq_topics = vec![
        dlq_topic.clone(),
        topics.delivery_retry(switchyard_domain::redelivery::FIRST_STAGE),
    ];
    let publisher = Publisher::start(
        &store,
        config.publish_queue,
        config.publish_batch,
        &shutdown,
    );
    let api = Arc::new(Api::new(Parts {
        access: Access::new(auth, &config),
        store,
        publisher,
        sealer,
        bus,
        topics,
        settings: config,
    }));
    let live = live::Live::default();
    let schema = web::Data::new(graphql::schema(api.clone(), live.clone()));
    let data = web::Data::from(api.clone());
    let builder = builder.routes(move |routes| {
        routes
            .app_data(data.clone())
            .app_data(schema.clone())
            .route("/openapi.json", web::get().to(openapi::document))
            .route("/graphql", web::post().to(graphql::execute))
            .route("/graphql/ws", web::get().to(graphql::subscribe))
            .route("/graphql", web::get().to(graphql::graphiql));
        rest::routes(routes, &data);
    });
    let keys = shutdown.token();
    let refresher = api.clone();
    shutdown.spawn(async move { refresher.access.authenticator().keep_keys_fresh(keys).await });
    shutdown.spawn(sweep(api, shutdown.clone()));
    let subscription = Subscription {
        group: dlq_settings.group(recovery::DLQ_GROUP),
        topics: vec![dlq_topic.clone()],
        // Storing only fails while the database is away: never give a record up for that.
        retry: RetryPolicy::UNTIL_BACK,
        dlq_topic: dlq_topic.clone(),
        start: StartFrom::Earliest,
    };
    let sink = Arc::new(recovery::DeadLetterSink { store: dlq_store });
    let live_subscription = Subscription {
        group: dlq_settings.group(&format!("{LIVE_GROUP}.{}", instance_suffix())),
        topics: vec![events_topic.clone()],
        // The feed never fails a record; the policy only matters for the contract.
        retry: RetryPolicy::default(),
        dlq_topic,
        start: StartFrom::Latest,
    };
    let (live_bus, stopping) = (dlq_bus.clone(), shutdown.clone());
    shutdown.spawn(async move {
        live_bus
            .consume_until_shutdown(
                &[events_topic],
                live_subscription,
                Arc::new(live::Feed(live)),
                DLQ_BATCH,
                &stopping,
            )
            .await;
    });
    let stopping = shutdown.clone();
    shutdown.spawn(async move {
        dlq_bus
            .consume_until_shutdown(&dlq_topics, subscription, sink, DLQ_BATCH, &stopping)
            .await;
    });
    Ok(builder)
}

/// A random suffix naming this replica's own consumer group.
fn instance_suffix() -> String {
    let id = uuid::Uuid::now_v7().simple().to_string();
    id[id.len() - 12..].to_owned()
}

async fn sweep(api: Arc<Api>, shutdown: Shutdown) {
    let mut tick = tokio::time::interval(SWEEP_INTERVAL);
    loop {
        tokio::select! {
            () = shutdown.triggered() => return,
            _ = tick.tick() => api.access.sweep(),
        }
    }
}
