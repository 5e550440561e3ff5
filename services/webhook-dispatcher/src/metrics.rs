//! The dispatcher's metrics, per endpoint (`tenant`, `endpoint` labels; endpoints are
//! configured objects, so the label sets stay bounded).

use std::time::Duration;

use metrics::{Counter, Histogram, Label};
use switchyard_domain::TenantId;

use crate::{
    catalog::Catalog,
    sender::{Failure, Outcome},
};

/// One endpoint's counters, registered once when the endpoint is configured: an attempt
/// costs no label formatting or registry lookup.
#[derive(Debug)]
pub struct EndpointMetrics {
    succeeded: Counter,
    /// Indexed like [`Failure::ALL`].
    failed: [Counter; Failure::ALL.len()],
    duration: Histogram,
    delivered: Counter,
    exhausted: Counter,
    skipped: Counter,
    retries_scheduled: Counter,
    retries_taken: Counter,
    deferred_busy: Counter,
    deferred_slow: Counter,
}

impl EndpointMetrics {
    /// The counters of endpoint `endpoint` of `tenant`.
    #[must_use]
    pub fn new(tenant: &TenantId, endpoint: &str) -> Self {
        let labels = [
            Label::new("tenant", tenant.as_str().to_owned()),
            Label::new("endpoint", endpoint.to_owned()),
        ];
        let with = |name: &'static str, value: &'static str| {
            let mut all = labels.to_vec();
            all.push(Label::new(name, value));
            all
        };
        let attempts = |result: &'static str, class: &'static str| {
            let mut all = with("result", result);
            all.push(Label::new("class", class));
            metrics::counter!("switchyard_dispatcher_attempts_total", all)
        };
        Self {
            succeeded: attempts("success", "none"),
            failed: Failure::ALL.map(|f| attempts("failure", f.as_str())),
            duration: metrics::histogram!(
                "switchyard_dispatcher_attempt_duration_seconds",
                labels.to_vec()
            ),
            delivered: delivery(&with, "succeeded"),
            exhausted: delivery(&with, "exhausted"),
            skipped: delivery(&with, "skipped"),
            retries_scheduled: metrics::counter!(
                "switchyard_dispatcher_retries_scheduled_total",
                labels.to_vec()
            ),
            retries_taken: metrics::counter!(
                "switchyard_dispatcher_retries_taken_total",
                labels.to_vec()
            ),
            deferred_busy: deferral(&with, "busy"),
            deferred_slow: deferral(&with, "slow"),
        }
    }

    /// One HTTP attempt (or a refusal by the circuit): counted by result and failure class,
    /// timed when a request was made.
    pub fn attempted(&self, outcome: &Outcome) {
        match &outcome.failure {
            None => self.succeeded.increment(1),
            Some((failure, _)) => {
                let index = Failure::ALL.iter().position(|f| f == failure).unwrap_or(0);
                if let Some(counter) = self.failed.get(index) {
                    counter.increment(1);
                }
            }
        }
        if outcome.duration > Duration::ZERO {
            self.duration.record(outcome.duration.as_secs_f64());
        }
    }

    /// A delivery reached a terminal state.
    pub fn finished(&self, state: Terminal) {
        match state {
            Terminal::Succeeded => &self.delivered,
            Terminal::Exhausted => &self.exhausted,
            Terminal::Skipped => &self.skipped,
        }
        .increment(1);
    }

    /// A delivery was written to a retry topic. With the retries taken, summed over
    /// replicas, the difference is the endpoint's retry backlog.
    pub fn retry_scheduled(&self) {
        self.retries_scheduled.increment(1);
    }

    /// A retry record was read back.
    pub fn retry_taken(&self) {
        self.retries_taken.increment(1);
    }

    /// A partition stopped waiting: no free slot (`busy`) or the attempt was handed over to
    /// finish in the background (`slow`).
    pub fn deferred(&self, busy: bool) {
        if busy {
            self.deferred_busy.increment(1);
        } else {
            self.deferred_slow.increment(1);
        }
    }
}

/// A delivery's terminal state, for `switchyard_dispatcher_deliveries_total{state}`.
#[derive(Debug, Clone, Copy)]
pub enum Terminal {
    /// Delivered.
    Succeeded,
    /// Dead-lettered after the schedule.
    Exhausted,
    /// Stopped: its endpoint was disabled, paused or deleted.
    Skipped,
}

fn delivery(
    with: &dyn Fn(&'static str, &'static str) -> Vec<Label>,
    state: &'static str,
) -> Counter {
    metrics::counter!(
        "switchyard_dispatcher_deliveries_total",
        with("state", state)
    )
}

fn deferral(
    with: &dyn Fn(&'static str, &'static str) -> Vec<Label>,
    reason: &'static str,
) -> Counter {
    metrics::counter!(
        "switchyard_dispatcher_deferred_total",
        with("reason", reason)
    )
}

/// A retry record read back for an endpoint that no longer exists.
pub fn retry_taken_for_deleted(tenant: &TenantId, endpoint: &str) {
    metrics::counter!(
        "switchyard_dispatcher_retries_taken_total",
        "tenant" => tenant.as_str().to_owned(),
        "endpoint" => endpoint.to_owned(),
    )
    .increment(1);
}

/// A delivery for an endpoint that no longer exists ended as skipped.
pub fn skipped_for_deleted(tenant: &TenantId, endpoint: &str) {
    metrics::counter!(
        "switchyard_dispatcher_deliveries_total",
        "tenant" => tenant.as_str().to_owned(),
        "endpoint" => endpoint.to_owned(),
        "state" => "skipped",
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
