//! The control plane (DESIGN §5 "gateway"): applications publish events through the outbox,
//! operators and tenants manage sources and endpoints, search the event store and redrive the DLQ.
//!
//! Status: the shared lifecycle (health, readiness on the bus, metrics, graceful shutdown);
//! the service's own work lands with step 8 of the roadmap.
//!
//! This crate holds the service's logic so tests can start it in-process on port 0;
//! `main.rs` only hands [`build`] to the shared runtime.

use switchyard_bus::Bus;
use switchyard_runtime::{Service, ServiceInfo, Settings};

/// This service's identity: names, default listen address, version.
pub static SERVICE: ServiceInfo = ServiceInfo {
    name: "gateway",
    binary: "switchyard-gateway",
    about: "REST and GraphQL API: publish through the outbox, search events, manage sources and endpoints",
    default_bind: "0.0.0.0:8080",
    version: env!("CARGO_PKG_VERSION"),
};

/// Builds the service from validated settings, bound to `http.bind`; `/readyz` follows the
/// bus.
pub async fn build(settings: Settings) -> anyhow::Result<Service> {
    let bus = Bus::connect(&settings.bus).await?;
    Ok(Service::builder(&SERVICE, settings)
        .readiness_check(bus.readiness_check())
        .build()?)
}
