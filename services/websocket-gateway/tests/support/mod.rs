//! Support shared by the gateway's integration tests (`mod support;` in a test file): a topic
//! prefix of the test's own on the shared Kafka-protocol broker, the real binary started on
//! it, tokens, and real WebSocket and SSE clients.

// Every test binary compiles all of this and uses only part of it.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc
)]

pub mod clients;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::SecretString;
use switchyard_auth::{Scope, Scopes, TokenSpec, mint_hs256};
use switchyard_domain::{Event, EventId, EventType, TenantId};
use switchyard_testkit::{binary::RunningBinary, jwt::now};

use self::clients::{Auth, WsClient};
pub use switchyard_testkit_bus::KafkaStage;

pub const BINARY: &str = env!("CARGO_BIN_EXE_switchyard-websocket-gateway");
pub const SECRET: &str = "a websocket-gateway test secret of 32+ bytes";

/// The test's own topics, with gateways started on them.
pub struct Stage(KafkaStage);

impl std::ops::Deref for Stage {
    type Target = KafkaStage;
    fn deref(&self) -> &KafkaStage {
        &self.0
    }
}

impl Stage {
    /// A fresh prefix with `partitions` per topic.
    pub async fn new(partitions: u32) -> Self {
        let stage = KafkaStage::new("wsgw", partitions).await;
        stage.ensure(&[stage.topics().events()]).await;
        Self(stage)
    }

    /// Starts the gateway with `extra` environment (e.g. `SWITCHYARD__WEBSOCKET__*`) and waits
    /// until its consumer is live: a probe event published now reaches a probe client.
    pub async fn start(&self, extra: &[(&str, &str)]) -> Gateway {
        let mut env = vec![
            ("SWITCHYARD__AUTH__JWT_HS256_SECRET", SECRET),
            ("SWITCHYARD__SHUTDOWN__DRAIN_TIMEOUT_SECS", "5"),
            // A line per request and per connection would fill the log pipe of tests that open
            // thousands (the test reads logs only up to the `listening` line), and a full pipe
            // blocks the writer.
            (
                "SWITCHYARD__TELEMETRY__LOG_LEVEL",
                "info,switchyard::http=warn,switchyard_websocket_gateway=warn",
            ),
        ];
        env.extend_from_slice(extra);
        let binary = self.start_binary(BINARY, &env).await;
        let gateway = Gateway { binary };
        self.wait_until_live(&gateway).await;
        gateway
    }

    async fn wait_until_live(&self, gateway: &Gateway) {
        let tenant = "probe";
        let mut probe = gateway
            .ws(
                "",
                &Auth::Header(token(tenant, None, Duration::from_secs(600))),
            )
            .await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        for n in 0.. {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the gateway's consumer never went live"
            );
            self.publish_events(&[event(tenant, "probe.ping", n)]).await;
            if probe.next_json(Duration::from_millis(500)).await.is_some() {
                return;
            }
        }
    }
}

/// A running gateway.
pub struct Gateway {
    pub binary: RunningBinary,
}

impl Gateway {
    pub fn http_url(&self) -> &str {
        &self.binary.base_url
    }

    pub fn ws_url(&self, query: &str) -> String {
        let base = self.binary.base_url.replacen("http://", "ws://", 1);
        format!(
            "{base}/v1/ws{}{query}",
            if query.is_empty() { "" } else { "?" }
        )
    }

    /// A WebSocket client on `/v1/ws?query`; panics if refused.
    pub async fn ws(&self, query: &str, auth: &Auth) -> WsClient {
        WsClient::connect(&self.ws_url(query), auth)
            .await
            .unwrap_or_else(|(status, body)| panic!("refused with {status}: {body}"))
    }

    pub async fn metrics(&self) -> String {
        self.binary.get("/metrics").await.1
    }
}

/// The value of the first sample of `name` whose labels include every `key="value"` in
/// `labels` (comma-separated).
pub fn metric(metrics: &str, name: &str, labels: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && labels.split(',').all(|p| p.is_empty() || l.contains(p)))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

/// An `events:read` token for `tenant`, optionally with `sub`.
pub fn token(tenant: &str, subject: Option<&str>, ttl: Duration) -> String {
    token_with(tenant, subject, Scopes::from(Scope::EventsRead), ttl)
}

pub fn token_with(tenant: &str, subject: Option<&str>, scopes: Scopes, ttl: Duration) -> String {
    let mut spec = TokenSpec::new(TenantId::parse(tenant).unwrap(), scopes, ttl);
    if let Some(subject) = subject {
        spec = spec.subject(subject);
    }
    mint_hs256(&SecretString::from(SECRET), &spec).unwrap()
}

/// A token signed with `secret` and `header` over `claims`, as an attacker or a stale client
/// might send.
pub fn raw_token(
    header: &serde_json::Value,
    claims: &serde_json::Value,
    secret: Option<&str>,
) -> String {
    switchyard_testkit::jwt::forge(header, claims, secret)
}

/// Claims of an `events:read` token of `tenant` that expires `exp_in` seconds from now.
pub fn claims(tenant: &str, exp_in: i64) -> serde_json::Value {
    serde_json::json!({ "tenant": tenant, "scope": "events:read", "iat": now() - 600, "exp": now() + exp_in })
}

/// Event number `n` of `tenant`, of type `event_type`, about subject `sub_<n % 3>`.
pub fn event(tenant: &str, event_type: &str, n: usize) -> Event {
    sized_event(tenant, event_type, n, 32)
}

/// [`event`] with about `bytes` of data.
pub fn sized_event(tenant: &str, event_type: &str, n: usize, bytes: usize) -> Event {
    let sent_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let data = serde_json::json!({ "n": n, "sent_ms": sent_ms, "pad": "x".repeat(bytes) });
    Event::builder(
        TenantId::parse(tenant).unwrap(),
        EventId::parse(&format!("evt_{tenant}_{event_type}_{n}")).unwrap(),
        format!("/{tenant}/test"),
        EventType::parse(event_type).unwrap(),
    )
    .subject(Some(format!("sub_{}", n % 3)))
    .data(Some("application/json".into()), data.to_string())
    .build()
    .unwrap()
}
