use serde::Deserialize;

/// `[gateway]`: the REST and GraphQL API.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct GatewaySettings {
    /// Requests per second one tenant may make, over every route; more are answered `429`
    /// with `Retry-After`.
    pub rate_limit_per_sec: u32,
    /// Requests one tenant may make at once above the steady rate.
    pub rate_limit_burst: u32,
    /// Largest request body, in bytes (a published event with its data, a batch, a spec).
    pub max_body_bytes: usize,
    /// Most publishes committed in one database transaction. Concurrent requests share a
    /// commit, so the outbox takes thousands of publishes per second without one commit each.
    pub publish_batch: usize,
    /// Publish requests waiting for a commit at once; more are answered `503`.
    pub publish_queue: usize,
    /// Deepest GraphQL query accepted.
    pub graphql_max_depth: usize,
    /// Most complex GraphQL query accepted (one point per field; lists multiply).
    pub graphql_max_complexity: usize,
    /// Seconds a rotated-out secret keeps working beside the new one.
    pub secret_rotation_overlap_secs: u64,
    /// Most events one replay (`POST /v1/endpoints/{id}/replay`) schedules; a larger range
    /// is answered with where to continue.
    pub max_replay: u32,
    /// Whether endpoints may use plain `http://` URLs (tests and `switchyard dev`); https only
    /// otherwise.
    pub allow_http_endpoints: bool,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            rate_limit_per_sec: 200,
            rate_limit_burst: 400,
            max_body_bytes: 256 * 1024,
            publish_batch: 256,
            publish_queue: 4_096,
            graphql_max_depth: 12,
            graphql_max_complexity: 1_000,
            secret_rotation_overlap_secs: 24 * 3_600,
            max_replay: 10_000,
            allow_http_endpoints: false,
        }
    }
}

impl GatewaySettings {
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, what: &str| Err((format!("gateway.{key}"), what.to_owned()));
        if !(1..=1_000_000).contains(&self.rate_limit_per_sec) {
            return bad("rate_limit_per_sec", "must be between 1 and 1000000");
        }
        if !(1..=10_000_000).contains(&self.rate_limit_burst) {
            return bad("rate_limit_burst", "must be between 1 and 10000000");
        }
        if !(1_024..=64 * 1_024 * 1_024).contains(&self.max_body_bytes) {
            return bad("max_body_bytes", "must be between 1024 and 67108864");
        }
        if !(1..=10_000).contains(&self.publish_batch) {
            return bad("publish_batch", "must be between 1 and 10000");
        }
        if !(1..=1_000_000).contains(&self.publish_queue) {
            return bad("publish_queue", "must be between 1 and 1000000");
        }
        if !(2..=64).contains(&self.graphql_max_depth) {
            return bad("graphql_max_depth", "must be between 2 and 64");
        }
        if !(10..=1_000_000).contains(&self.graphql_max_complexity) {
            return bad("graphql_max_complexity", "must be between 10 and 1000000");
        }
        if !(1..=1_000_000).contains(&self.max_replay) {
            return bad("max_replay", "must be between 1 and 1000000");
        }
        if self.secret_rotation_overlap_secs > 30 * 86_400 {
            return bad(
                "secret_rotation_overlap_secs",
                "must be at most 2592000 (30 days)",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_key() {
        assert_eq!(GatewaySettings::default().validate(), Ok(()));
        let err = GatewaySettings {
            publish_batch: 0,
            ..GatewaySettings::default()
        }
        .validate();
        assert_eq!(err.map_err(|(k, _)| k), Err("gateway.publish_batch".into()));
    }
}
