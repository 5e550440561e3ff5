//! The gateway's metrics, one function per thing that happens. Labels stay bounded: tenant,
//! transport, and fixed reason strings.

use std::time::Duration;

use switchyard_domain::TenantId;

use crate::{hub::QueueStats, link::CloseReason};

/// How a client is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `GET /v1/ws`.
    WebSocket,
    /// `GET /v1/sse`.
    Sse,
}

impl Transport {
    /// The label value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WebSocket => "ws",
            Self::Sse => "sse",
        }
    }
}

/// `switchyard_websocket_gateway_connections{tenant,transport}` goes up.
pub fn connection_opened(tenant: &TenantId, transport: Transport) {
    metrics::gauge!(
        "switchyard_websocket_gateway_connections",
        "tenant" => tenant.as_str().to_owned(),
        "transport" => transport.as_str(),
    )
    .increment(1.0);
    metrics::counter!(
        "switchyard_websocket_gateway_connections_opened_total",
        "transport" => transport.as_str(),
    )
    .increment(1);
}

/// `switchyard_websocket_gateway_connections{tenant,transport}` goes down.
pub fn connection_closed(tenant: &TenantId, transport: Transport) {
    metrics::gauge!(
        "switchyard_websocket_gateway_connections",
        "tenant" => tenant.as_str().to_owned(),
        "transport" => transport.as_str(),
    )
    .decrement(1.0);
}

/// A connection ended, and why (`slow` counts are the drops of clients that fell behind).
pub fn connection_ended(transport: Transport, reason: CloseReason) {
    metrics::counter!(
        "switchyard_websocket_gateway_disconnects_total",
        "transport" => transport.as_str(),
        "reason" => reason.label(),
    )
    .increment(1);
}

/// A connection was refused before it opened (`unauthorized`, `forbidden`, `bad_request`,
/// `tenant_limit`, `replica_limit`, `draining`).
pub fn refused(reason: &'static str) {
    metrics::counter!(
        "switchyard_websocket_gateway_refused_total",
        "reason" => reason,
    )
    .increment(1);
}

/// Messages written to clients.
pub fn sent(transport: Transport, messages: u64) {
    metrics::counter!(
        "switchyard_websocket_gateway_messages_sent_total",
        "transport" => transport.as_str(),
    )
    .increment(messages);
}

/// An event's fan-out: how many connections it was queued for and how many overflowed,
/// and its lag (from the event's `time` to the fan-out).
pub fn fanned_out(tenant: &TenantId, queued: usize, overflowed: usize, lag: Duration) {
    metrics::counter!(
        "switchyard_websocket_gateway_events_total",
        "tenant" => tenant.as_str().to_owned(),
    )
    .increment(1);
    metrics::counter!("switchyard_websocket_gateway_messages_queued_total")
        .increment(queued as u64);
    if overflowed > 0 {
        metrics::counter!("switchyard_websocket_gateway_slow_drops_total")
            .increment(overflowed as u64);
    }
    metrics::histogram!("switchyard_websocket_gateway_event_lag_seconds").record(lag.as_secs_f64());
}

/// A record of the events topic that is not an event (skipped: the processor dead-letters
/// such records; this replica's private group does not).
pub fn undecodable() {
    metrics::counter!("switchyard_websocket_gateway_undecodable_records_total").increment(1);
}

/// Queue depths, sampled.
#[allow(clippy::cast_precision_loss)]
pub fn queues(stats: QueueStats) {
    metrics::gauge!("switchyard_websocket_gateway_queued_messages").set(stats.queued as f64);
    metrics::gauge!("switchyard_websocket_gateway_queue_depth_max").set(stats.deepest as f64);
}
