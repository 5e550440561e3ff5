//! Live events for browsers (DESIGN §5 "websocket-gateway"): `GET /v1/ws` and `GET /v1/sse`,
//! scoped by the JWT's tenant, with replay after reconnects and bounded per-client queues.
//!
//! Status: the shared lifecycle (health, readiness on the bus, metrics, graceful shutdown);
//! the service's own work lands with step 7 of the roadmap.
//!
//! This crate holds the service's logic so tests can start it in-process on port 0;
//! `main.rs` only hands [`build`] to the shared runtime.

use switchyard_bus::Bus;
use switchyard_runtime::{Service, ServiceInfo, Settings};

/// This service's identity: names, default listen address, version.
pub static SERVICE: ServiceInfo = ServiceInfo {
    name: "websocket-gateway",
    binary: "switchyard-websocket-gateway",
    about: "Streams live events to browsers over WebSocket and SSE",
    default_bind: "0.0.0.0:8082",
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
