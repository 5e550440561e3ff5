//! The bus's metrics, as typed events so names and labels live in one place.

use std::{
    collections::HashMap,
    sync::{Arc, OnceLock, RwLock},
    time::Duration,
};

/// Publish metrics of one (backend, topic), registered once and reused: publishing is the
/// hottest path, and registering a metric allocates its labels and hashes them every time.
struct PublishMetrics {
    acked: metrics::Counter,
    failed: metrics::Counter,
    duration: metrics::Histogram,
}

type PublishMetricsByTopic = HashMap<&'static str, HashMap<String, Arc<PublishMetrics>>>;

static PUBLISH_METRICS: OnceLock<RwLock<PublishMetricsByTopic>> = OnceLock::new();

fn publish_metrics(backend: &'static str, topic: &str) -> Arc<PublishMetrics> {
    let cache = PUBLISH_METRICS.get_or_init(RwLock::default);
    let found = cache
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(backend)
        .and_then(|topics| topics.get(topic))
        .cloned();
    if let Some(found) = found {
        return found;
    }
    let counter = |outcome: &'static str| {
        metrics::counter!(
            "switchyard_bus_published_total",
            "backend" => backend, "topic" => topic.to_owned(), "outcome" => outcome
        )
    };
    let created = Arc::new(PublishMetrics {
        acked: counter("acked"),
        failed: counter("failed"),
        duration: metrics::histogram!("switchyard_bus_publish_duration_seconds", "backend" => backend),
    });
    cache
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(backend)
        .or_default()
        .entry(topic.to_owned())
        .or_insert(created)
        .clone()
}

/// Records one finished publish (acknowledged or failed).
pub(crate) fn published(backend: &'static str, topic: &str, ok: bool, elapsed: Duration) {
    let metrics = publish_metrics(backend, topic);
    if ok { &metrics.acked } else { &metrics.failed }.increment(1);
    metrics.duration.record(elapsed.as_secs_f64());
}

/// What happened to one consumed record.
#[derive(Clone, Copy)]
pub(crate) enum Consumed {
    /// Handed to the handler.
    Received,
    /// Handler succeeded; acknowledged.
    Acked,
    /// Handler failed; will be tried again.
    Retried,
    /// Sent to the DLQ.
    DeadLettered,
}

/// The consume counters of one (backend, topic, group), registered once so the per-record
/// path neither allocates label strings nor looks the metric up again.
pub(crate) struct ConsumeCounters {
    received: metrics::Counter,
    acked: metrics::Counter,
    retried: metrics::Counter,
    dead_lettered: metrics::Counter,
}

impl ConsumeCounters {
    pub(crate) fn new(backend: &'static str, topic: &str, group: &str) -> Self {
        let counter = |name: &'static str| metrics::counter!(name, "backend" => backend, "topic" => topic.to_owned(), "group" => group.to_owned());
        Self {
            received: counter("switchyard_bus_consumed_total"),
            acked: counter("switchyard_bus_acked_total"),
            retried: counter("switchyard_bus_retried_total"),
            dead_lettered: counter("switchyard_bus_dead_lettered_total"),
        }
    }

    pub(crate) fn record(&self, what: Consumed) {
        match what {
            Consumed::Received => &self.received,
            Consumed::Acked => &self.acked,
            Consumed::Retried => &self.retried,
            Consumed::DeadLettered => &self.dead_lettered,
        }
        .increment(1);
    }
}
