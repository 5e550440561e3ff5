use serde::Deserialize;

/// `[websocket]`: how websocket-gateway holds its browser connections.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct WebsocketSettings {
    /// This replica's name in its consumer group `websocket-gateway.<instance_id>`; empty
    /// means a random one per start. Every replica must have its own (each reads every event).
    pub instance_id: String,
    /// Messages queued per connection before it counts as fallen behind and is closed
    /// (WebSocket close code 4008). A warning is sent when half of it is used.
    pub queue_capacity: usize,
    /// Connections this replica holds at once; more are answered `503` with `Retry-After`.
    pub max_connections: usize,
    /// Connections one tenant may hold on this replica; more are answered `429`.
    pub max_connections_per_tenant: usize,
    /// Seconds between server pings (WebSocket) or keep-alive comments (SSE).
    pub ping_interval_secs: u64,
    /// Seconds a WebSocket client may stay silent (no pong, no message) before it is closed
    /// (close code 4009). Must exceed `ping_interval_secs`.
    pub idle_timeout_secs: u64,
    /// Events kept per tenant for clients that resume with `?since=` or `Last-Event-ID`.
    pub history_size: usize,
    /// Seconds an event stays resumable; older ones are dropped from the history.
    pub history_ttl_secs: u64,
    /// When true, a token with a `sub` claim only ever receives its own events (see
    /// `owner_field`); it may not ask for another subject. When false it may opt in with
    /// `?own=true`.
    pub restrict_subject_tokens: bool,
    /// JSON pointer into an event's data (e.g. `/payload/customer_id`) naming the `sub` it
    /// belongs to. A client asking for its own events gets those whose subject or this field
    /// is its token's `sub`. Empty: the subject alone decides.
    pub owner_field: String,
    /// Largest message a client may send (subscription changes), in bytes.
    pub max_client_message_bytes: usize,
    /// Most events handed to the fan-out at once per partition.
    pub max_batch: usize,
}

impl Default for WebsocketSettings {
    fn default() -> Self {
        Self {
            instance_id: String::new(),
            queue_capacity: 512,
            max_connections: 20_000,
            max_connections_per_tenant: 5_000,
            ping_interval_secs: 20,
            idle_timeout_secs: 60,
            history_size: 1_000,
            history_ttl_secs: 300,
            restrict_subject_tokens: false,
            owner_field: String::new(),
            max_client_message_bytes: 4_096,
            max_batch: 512,
        }
    }
}

impl WebsocketSettings {
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, what: &str| Err((format!("websocket.{key}"), what.to_owned()));
        let id_ok = self
            .instance_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if self.instance_id.len() > 64 || !id_ok {
            return bad(
                "instance_id",
                "at most 64 ASCII letters, digits, '-' and '_' (empty for a random one)",
            );
        }
        if !(4..=1_000_000).contains(&self.queue_capacity) {
            return bad("queue_capacity", "must be between 4 and 1000000");
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return bad("max_connections", "must be between 1 and 1000000");
        }
        if !(1..=self.max_connections).contains(&self.max_connections_per_tenant) {
            return bad(
                "max_connections_per_tenant",
                "must be between 1 and websocket.max_connections",
            );
        }
        if !(1..=3_600).contains(&self.ping_interval_secs) {
            return bad("ping_interval_secs", "must be between 1 and 3600");
        }
        if self.idle_timeout_secs <= self.ping_interval_secs || self.idle_timeout_secs > 86_400 {
            return bad(
                "idle_timeout_secs",
                "must be greater than websocket.ping_interval_secs and at most 86400",
            );
        }
        if self.history_size > 1_000_000 {
            return bad("history_size", "must be between 0 and 1000000");
        }
        if !(1..=86_400).contains(&self.history_ttl_secs) {
            return bad("history_ttl_secs", "must be between 1 and 86400");
        }
        if !(128..=1_048_576).contains(&self.max_client_message_bytes) {
            return bad(
                "max_client_message_bytes",
                "must be between 128 and 1048576",
            );
        }
        if !(1..=10_000).contains(&self.max_batch) {
            return bad("max_batch", "must be between 1 and 10000");
        }
        if !self.owner_field.is_empty() && !self.owner_field.starts_with('/') {
            return bad(
                "owner_field",
                "must be empty or a JSON pointer starting with '/', such as /payload/customer_id",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(WebsocketSettings::default().validate(), Ok(()));
    }

    #[test]
    fn bad_values_name_their_key() {
        let key = |settings: WebsocketSettings| settings.validate().err().map(|(key, _)| key);
        let base = WebsocketSettings::default;
        assert_eq!(
            key(WebsocketSettings {
                idle_timeout_secs: 20,
                ..base()
            }),
            Some("websocket.idle_timeout_secs".into())
        );
        assert_eq!(
            key(WebsocketSettings {
                max_connections_per_tenant: 30_000,
                ..base()
            }),
            Some("websocket.max_connections_per_tenant".into())
        );
        assert_eq!(
            key(WebsocketSettings {
                owner_field: "customer_id".into(),
                ..base()
            }),
            Some("websocket.owner_field".into())
        );
        assert_eq!(
            key(WebsocketSettings {
                instance_id: "pod/1".into(),
                ..base()
            }),
            Some("websocket.instance_id".into())
        );
        assert_eq!(
            key(WebsocketSettings {
                queue_capacity: 1,
                ..base()
            }),
            Some("websocket.queue_capacity".into())
        );
    }
}
