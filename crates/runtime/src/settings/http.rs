use std::net::SocketAddr;

use serde::Deserialize;

/// `[http]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct HttpSettings {
    /// Listen address. Each service has its own default (gateway 8080, ingest 8081,
    /// websocket-gateway 8082, workers 9090 for their admin endpoints).
    pub bind: SocketAddr,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// Seconds a client may take to send its request head before it is dropped.
    pub client_request_timeout_secs: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([0, 0, 0, 0], 8080)),
            workers: 0,
            client_request_timeout_secs: 5,
        }
    }
}

impl HttpSettings {
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        if self.workers > 256 {
            return Err((
                "http.workers".into(),
                "must be between 0 (one per core) and 256".into(),
            ));
        }
        Ok(())
    }
}
