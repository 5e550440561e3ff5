//! The Prometheus recorder behind every service's `/metrics`.
//!
//! The `metrics` facade has one recorder per process, so the handle lives in a `OnceLock`:
//! several services started in one test process (or in `switchyard dev`) share it.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds: 1 ms to 30 s, dense where HTTP and broker acks live.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus handle, installing the recorder on first use.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Fails only if something else installed a recorder first; /metrics then renders our
        // (empty) recorder instead of crashing the service.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Renders every metric in the Prometheus text format.
#[must_use]
pub fn render() -> String {
    handle().render()
}

/// Records that `service` at `version` is running, so `/metrics` always identifies the
/// process and dashboards can count replicas per version.
pub fn record_build_info(service: &'static str, version: &'static str) {
    handle();
    metrics::gauge!("switchyard_build_info", "service" => service, "version" => version).set(1.0);
}
