//! Consumer group `webhook-dispatcher` (DESIGN §5): POSTs each event to every matching endpoint
//! of its tenant with Standard Webhooks signatures, retrying through
//! `<prefix>.deliveries.retry.<n>` and dead-lettering what never succeeds.
//!
//! Status: the shared lifecycle (health, readiness on the bus, metrics, graceful shutdown) and
//! the address guard its HTTP client will use ([`ssrf`]); delivery itself lands with step 6 of
//! the roadmap.
//!
//! This crate holds the service's logic so tests can start it in-process on port 0;
//! `main.rs` only hands [`build`] to the shared runtime.

pub mod ssrf;

use switchyard_bus::Bus;
use switchyard_runtime::{Service, ServiceInfo, Settings};

/// This service's identity: names, default listen address, version.
pub static SERVICE: ServiceInfo = ServiceInfo {
    name: "webhook-dispatcher",
    binary: "switchyard-webhook-dispatcher",
    about: "Delivers events to subscriber endpoints, signed, retried and dead-lettered",
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
