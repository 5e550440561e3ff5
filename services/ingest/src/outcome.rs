//! What happened to each webhook, counted and logged in one place.
//!
//! Labels stay low-cardinality: tenant and source come from our configuration (a request to
//! an unknown URL is labelled `unknown`, so a scanner cannot mint label values), outcome from
//! a fixed set.

use std::time::Duration;

use metrics::Label;
use switchyard_domain::EventId;

use crate::{rejection::Rejection, sources::Source};

/// Counter of webhooks by tenant, source and outcome (`accepted`, `duplicate`, or the
/// rejection reason).
pub const WEBHOOKS_TOTAL: &str = "switchyard_ingest_webhooks_total";
/// Histogram of the time from request to answer, by tenant and source.
pub const WEBHOOK_DURATION: &str = "switchyard_ingest_webhook_duration_seconds";

/// Labels of requests to URLs that name no configured source.
static UNKNOWN: [Label; 2] = [
    Label::from_static_parts("tenant", "unknown"),
    Label::from_static_parts("source", "unknown"),
];

/// Counts and logs one answered webhook.
pub fn record(
    source: Option<&Source>,
    result: &Result<(EventId, bool), Rejection>,
    elapsed: Duration,
) {
    let [tenant, source_id] = source.map_or(&UNKNOWN, Source::metric_labels);
    let outcome = match result {
        Ok((_, false)) => "accepted",
        Ok((_, true)) => "duplicate",
        Err(rejection) => rejection.reason(),
    };
    let with_outcome = vec![
        tenant.clone(),
        source_id.clone(),
        Label::from_static_parts("outcome", outcome),
    ];
    metrics::counter!(WEBHOOKS_TOTAL, with_outcome).increment(1);
    metrics::histogram!(WEBHOOK_DURATION, vec![tenant.clone(), source_id.clone()])
        .record(elapsed.as_secs_f64());
    match result {
        Ok((id, duplicate)) => tracing::debug!(event_id = %id, duplicate, "webhook accepted"),
        Err(rejection @ (Rejection::Unavailable | Rejection::Refused)) => {
            tracing::warn!(
                reason = rejection.reason(),
                "webhook not stored: {rejection}"
            );
        }
        Err(rejection) => {
            tracing::info!(reason = rejection.reason(), "webhook rejected: {rejection}");
        }
    }
}
