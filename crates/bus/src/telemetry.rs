//! The bus's metrics, as typed events so names and labels live in one place.

use std::time::Duration;

/// A publish finished (acknowledged or failed).
pub(crate) struct Published<'a> {
    pub backend: &'static str,
    pub topic: &'a str,
    pub ok: bool,
    pub elapsed: Duration,
}

impl Published<'_> {
    pub(crate) fn emit(&self) {
        let outcome = if self.ok { "acked" } else { "failed" };
        metrics::counter!(
            "switchyard_bus_published_total",
            "backend" => self.backend, "topic" => self.topic.to_owned(), "outcome" => outcome
        )
        .increment(1);
        metrics::histogram!("switchyard_bus_publish_duration_seconds", "backend" => self.backend)
            .record(self.elapsed.as_secs_f64());
    }
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

impl Consumed {
    pub(crate) fn emit(self, backend: &'static str, topic: &str, group: &str) {
        let name = match self {
            Self::Received => "switchyard_bus_consumed_total",
            Self::Acked => "switchyard_bus_acked_total",
            Self::Retried => "switchyard_bus_retried_total",
            Self::DeadLettered => "switchyard_bus_dead_lettered_total",
        };
        metrics::counter!(name, "backend" => backend, "topic" => topic.to_owned(), "group" => group.to_owned())
            .increment(1);
    }
}
