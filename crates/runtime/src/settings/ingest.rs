use ipnet::IpNet;
use serde::Deserialize;

/// `[ingest]`: limits of the webhook front door that are not per source.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct IngestSettings {
    /// Networks of the load balancers and proxies in front of ingest. Only a peer inside one
    /// of them is believed when it names the client in `X-Forwarded-For`; everyone else's
    /// header is ignored, so a client cannot pick the address the allowlist sees.
    pub trusted_proxies: Vec<IpNet>,
    /// Requests per second one client address may make across all sources (IPv6 clients
    /// count per /64, the block one subscriber usually holds).
    pub rate_limit_per_ip: u32,
    /// Requests per second one tenant may receive across its sources.
    pub rate_limit_per_tenant: u32,
    /// Most client addresses the per-address limiter remembers; idle ones are forgotten first.
    pub rate_limit_max_clients: usize,
    /// Seconds a sender may take to deliver the whole body; a slower one gets `408`.
    pub body_timeout_secs: u64,
    /// Milliseconds to wait for the broker's acknowledgement before answering `503`.
    pub publish_timeout_ms: u64,
    /// Seconds a Stripe or Standard Webhooks signature timestamp may be off our clock.
    pub signature_tolerance_secs: u64,
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            rate_limit_per_ip: 1_000,
            rate_limit_per_tenant: 5_000,
            rate_limit_max_clients: 100_000,
            body_timeout_secs: 10,
            publish_timeout_ms: 5_000,
            signature_tolerance_secs: 300,
        }
    }
}

impl IngestSettings {
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        let positive = [
            ("rate_limit_per_ip", self.rate_limit_per_ip as u64),
            ("rate_limit_per_tenant", self.rate_limit_per_tenant as u64),
            ("rate_limit_max_clients", self.rate_limit_max_clients as u64),
            ("body_timeout_secs", self.body_timeout_secs),
            ("signature_tolerance_secs", self.signature_tolerance_secs),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err((format!("ingest.{key}"), "must be at least 1".into()));
            }
        }
        if !(100..=60_000).contains(&self.publish_timeout_ms) {
            return Err((
                "ingest.publish_timeout_ms".into(),
                "must be between 100 and 60000".into(),
            ));
        }
        Ok(())
    }
}

/// `[dedupe]`: how long ingest remembers provider delivery ids.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DedupeSettings {
    /// Redis URL shared by every ingest replica; empty keeps the memory per replica.
    pub redis_url: String,
    /// Seconds a delivery id is remembered. Providers retry for up to three days (Stripe);
    /// one day covers Razorpay's and most retries.
    pub window_secs: u64,
    /// Most delivery ids one replica keeps in memory; the oldest go first.
    pub max_entries: usize,
}

impl Default for DedupeSettings {
    fn default() -> Self {
        Self {
            redis_url: String::new(),
            window_secs: 24 * 60 * 60,
            max_entries: 200_000,
        }
    }
}

impl DedupeSettings {
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        if self.window_secs == 0 {
            return Err(("dedupe.window_secs".into(), "must be at least 1".into()));
        }
        if self.max_entries == 0 {
            return Err(("dedupe.max_entries".into(), "must be at least 1".into()));
        }
        if !self.redis_url.is_empty()
            && !self.redis_url.starts_with("redis://")
            && !self.redis_url.starts_with("rediss://")
        {
            return Err((
                "dedupe.redis_url".into(),
                "must be empty or a redis:// or rediss:// URL".into(),
            ));
        }
        Ok(())
    }
}
