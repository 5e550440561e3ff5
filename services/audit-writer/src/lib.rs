//! Consumer group `audit-writer` (DESIGN §3, §6): writes `<prefix>.events` and
//! `<prefix>.deliveries` to PostgreSQL in batches and commits offsets only after the
//! transaction commits.
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
    name: "audit-writer",
    binary: "switchyard-audit-writer",
    about: "Stores every event and delivery attempt in the PostgreSQL audit store",
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
