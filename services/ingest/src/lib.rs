//! The front door for external systems (DESIGN §5 "ingest"): verifies each webhook's signature,
//! source IP and rate, and answers 2xx only once the raw record is acknowledged on
//! `<prefix>.ingest.raw`.
//!
//! Status: the shared lifecycle (health, readiness on the bus, metrics, graceful shutdown);
//! the service's own work lands with step 3 of the roadmap.
//!
//! This crate holds the service's logic so tests can start it in-process on port 0;
//! `main.rs` only hands [`build`] to the shared runtime.

use switchyard_bus::Bus;
use switchyard_runtime::{Service, ServiceInfo, Settings};

/// This service's identity: names, default listen address, version.
pub static SERVICE: ServiceInfo = ServiceInfo {
    name: "ingest",
    binary: "switchyard-ingest",
    about: "Receives provider webhooks and makes them durable on the bus before answering 2xx",
    default_bind: "0.0.0.0:8081",
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
