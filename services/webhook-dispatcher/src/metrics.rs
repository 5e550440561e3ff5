//! The dispatcher's metrics, per endpoint (`tenant`, `endpoint` labels; endpoints are
//! configured objects, so the label sets stay bounded).

use std::time::Duration;

use switchyard_domain::TenantId;

use crate::{catalog::Catalog, sender::Outcome};

/// One HTTP attempt (or a refusal by the circuit): counted by result and failure class,
/// timed when a request was made.
pub fn attempted(tenant: &TenantId, endpoint: &str, outcome: &Outcome) {
    let class = outcome.failure.as_ref().map_or("none", |(f, _)| f.as_str());
    metrics::counter!(
        "switchyard_dispatcher_attempts_total",
        "tenant" => tenant.as_str().to_owned(),
        "endpoint" => endpoint.to_owned(),
        "result" => if outcome.failure.is_none() { "success" } else { "failure" },
        "class" => class,
    )
    .increment(1);
    if outcome.duration > Duration::ZERO {
        metrics::histogram!(
            "switchyard_dispatcher_attempt_duration_seconds",
            "tenant" => tenant.as_str().to_owned(),
            "endpoint" => endpoint.to_owned(),
        )
        .record(outcome.duration.as_secs_f64());
    }
}

/// A delivery reached a terminal state: `succeeded`, `exhausted` or `skipped`.
pub fn delivery(tenant: &TenantId, endpoint: &str, state: &'static str) {
    metrics::counter!(
        "switchyard_dispatcher_deliveries_total",
        "tenant" => tenant.as_str().to_owned(),
        "endpoint" => endpoint.to_owned(),
        "state" => state,
    )
    .increment(1);
}

/// A delivery was written to a retry topic. With [`retry_taken`], summed over replicas,
/// the difference is the endpoint's retry backlog.
pub fn retry_scheduled(tenant: &TenantId, endpoint: &str) {
    metrics::counter!(
        "switchyard_dispatcher_retries_scheduled_total",
        "tenant" => tenant.as_str().to_owned(),
        "endpoint" => endpoint.to_owned(),
    )
    .increment(1);
}

/// A retry record was read back.
pub fn retry_taken(tenant: &TenantId, endpoint: &str) {
    metrics::counter!(
        "switchyard_dispatcher_retries_taken_total",
        "tenant" => tenant.as_str().to_owned(),
        "endpoint" => endpoint.to_owned(),
    )
    .increment(1);
}

/// A partition stopped waiting for an endpoint: `busy` (no free slot) or `slow` (the
/// attempt was handed over to finish in the background).
pub fn deferred(tenant: &TenantId, endpoint: &str, reason: &'static str) {
    metrics::counter!(
        "switchyard_dispatcher_deferred_total",
        "tenant" => tenant.as_str().to_owned(),
        "endpoint" => endpoint.to_owned(),
        "reason" => reason,
    )
    .increment(1);
}

/// Sets the per-endpoint gauges: circuit state (0 closed, 1 open, 2 half-open), requests in
/// flight, disabled.
pub fn sample(catalog: &Catalog, concurrency: u32) {
    for endpoint in catalog.all() {
        let tenant = endpoint.config.tenant.as_str().to_owned();
        let id = endpoint.config.id.as_str().to_owned();
        metrics::gauge!(
            "switchyard_dispatcher_circuit_state",
            "tenant" => tenant.clone(),
            "endpoint" => id.clone(),
        )
        .set(endpoint.health.breaker.state().as_gauge());
        let free = endpoint.health.slots.available_permits();
        #[allow(clippy::cast_precision_loss)]
        let in_flight = (concurrency as usize).saturating_sub(free) as f64;
        metrics::gauge!(
            "switchyard_dispatcher_in_flight",
            "tenant" => tenant.clone(),
            "endpoint" => id.clone(),
        )
        .set(in_flight);
        metrics::gauge!(
            "switchyard_dispatcher_endpoint_disabled",
            "tenant" => tenant,
            "endpoint" => id,
        )
        .set(if endpoint.active() { 0.0 } else { 1.0 });
    }
}
