//! Moves rows that applications committed to the PostgreSQL outbox onto `<prefix>.events`
//! (DESIGN §1), so publishing is atomic with the application's own writes.
//!
//! Status: the shared lifecycle (health, readiness on the bus, metrics, graceful shutdown);
//! the service's own work lands with step 5 of the roadmap.
//!
//! This crate holds the service's logic so tests can start it in-process on port 0;
//! `main.rs` only hands [`build`] to the shared runtime.

use switchyard_bus::Bus;
use switchyard_runtime::{Service, ServiceInfo, Settings};

/// This service's identity: names, default listen address, version.
pub static SERVICE: ServiceInfo = ServiceInfo {
    name: "outbox-relay",
    binary: "switchyard-outbox-relay",
    about: "Publishes committed outbox rows from PostgreSQL to the bus",
    default_bind: "0.0.0.0:9090",
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
