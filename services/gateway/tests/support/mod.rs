//! Support shared by the gateway's integration tests: the real binary on a fresh database,
//! tokens, and a small HTTP client that returns status, headers and JSON.

// Every test binary compiles all of this and uses only part of it.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc
)]

use std::time::Duration;

use reqwest::{Method, header::HeaderMap};
use secrecy::SecretString;
use serde_json::Value;
use switchyard_auth::{Scope, Scopes, TokenSpec, mint_hs256};
use switchyard_domain::{Event, EventId, EventType, TenantId};
use switchyard_runtime::settings::DatabaseSettings;
use switchyard_store::Store;
use switchyard_testkit::{binary::RunningBinary, postgres::TestDatabase};
pub use switchyard_testkit_bus::{KafkaStage, TopicReader};

pub const BINARY: &str = env!("CARGO_BIN_EXE_switchyard-gateway");
pub const SECRET: &str = "a gateway test secret of at least 32 bytes";
/// The sealing key of secrets at rest (base64 of 32 bytes).
pub const SEALING_KEY: &str = "Z2F0ZXdheSB0ZXN0IHNlYWxpbmcga2V5IDMyIGJ5dGU=";

/// A gateway on a database of its own (memory bus: these tests need no broker).
pub struct Gateway {
    pub binary: RunningBinary,
    pub database: TestDatabase,
    pub store: Store,
    http: reqwest::Client,
    /// What it was started with besides the bus, to start it again.
    env: Vec<(String, String)>,
}

/// An answer: status, headers and the body as JSON (`Value::Null` when it is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json answer of `status` whose type ends with `slug`.
    pub fn assert_problem(&self, status: u16, slug: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        let kind = self.body["type"].as_str().unwrap_or_default();
        assert!(kind.ends_with(slug), "expected problem {slug}: {self:?}");
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{self:?}"
        );
    }
}

impl Gateway {
    /// Starts the gateway on the memory bus with `extra` environment.
    pub async fn start(extra: &[(&str, &str)]) -> Self {
        Self::start_with(None, extra).await
    }

    /// Starts the gateway on `stage`'s topics of the shared Kafka-protocol broker.
    pub async fn on_kafka(stage: &KafkaStage, extra: &[(&str, &str)]) -> Self {
        Self::start_with(Some(stage), extra).await
    }

    async fn start_with(stage: Option<&KafkaStage>, extra: &[(&str, &str)]) -> Self {
        let database = TestDatabase::create().await;
        let mut env = vec![
            ("SWITCHYARD__AUTH__JWT_HS256_SECRET", SECRET),
            ("SWITCHYARD__SECRETS__KEYS", SEALING_KEY),
            ("SWITCHYARD__DATABASE__URL", database.url.as_str()),
            ("SWITCHYARD__SHUTDOWN__DRAIN_TIMEOUT_SECS", "5"),
            (
                "SWITCHYARD__TELEMETRY__LOG_LEVEL",
                "info,switchyard::http=warn",
            ),
        ];
        env.extend_from_slice(extra);
        let owned: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let binary = match stage {
            Some(stage) => stage.start_binary(BINARY, &env).await,
            None => {
                env.push(("SWITCHYARD__BUS__BACKEND", "memory"));
                RunningBinary::start(BINARY, &env).await
            }
        };
        let store = Store::connect(&DatabaseSettings {
            url: SecretString::from(database.url.clone()),
            ..DatabaseSettings::default()
        })
        .await
        .unwrap();
        let gateway = Self {
            binary,
            database,
            store,
            http: reqwest::Client::new(),
            env: owned,
        };
        gateway.wait_ready().await;
        gateway
    }

    /// SIGKILLs the gateway and starts it again on the same database and `stage`.
    pub async fn kill_and_restart(&mut self, stage: &KafkaStage) {
        self.binary.kill().await;
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.binary = stage.start_binary(BINARY, &env).await;
        self.wait_ready().await;
    }

    async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = self.binary.get("/readyz").await;
            if status == 200 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gateway never ready: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends `method path` with `token` (if any), `body` (JSON, if any) and `headers`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.binary.base_url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request).await
    }

    /// Sends a raw body with a content type.
    pub async fn post_raw(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Answer {
        let request = self
            .http
            .post(format!("{}{path}", self.binary.base_url))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body);
        answer(request).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None, &[]).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(body), &[])
            .await
    }

    /// Runs a GraphQL query; the whole response.
    pub async fn graphql(&self, token: &str, query: &str, variables: Value) -> Answer {
        self.post(
            "/graphql",
            token,
            &serde_json::json!({ "query": query, "variables": variables }),
        )
        .await
    }

    /// The rows `tenant` has in the outbox for the config topic, oldest first: (type, key).
    pub async fn config_rows(&self, tenant: &str) -> Vec<(String, String)> {
        let client = self.database.client().await;
        client
            .query(
                "SELECT type, key FROM outbox WHERE tenant = $1 AND topic = 'config' ORDER BY seq",
                &[&tenant],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    }

    /// Stores `events` in the event store (as the audit-writer would).
    pub async fn store_events(&self, events: &[Event]) {
        self.store.insert_events(events).await.unwrap();
    }

    /// How many outbox rows `tenant` has.
    pub async fn outbox_rows(&self, tenant: &str) -> i64 {
        let client = self.database.client().await;
        client
            .query_one("SELECT count(*) FROM outbox WHERE tenant = $1", &[&tenant])
            .await
            .unwrap()
            .get(0)
    }
}

async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

/// A token of `tenant` with `scopes`, valid for an hour.
pub fn token(tenant: &str, scopes: &[Scope]) -> String {
    let scopes: Scopes = scopes.iter().copied().collect();
    let spec = TokenSpec::new(
        TenantId::parse(tenant).unwrap(),
        scopes,
        Duration::from_secs(3600),
    );
    mint_hs256(&SecretString::from(SECRET), &spec).unwrap()
}

/// A token with every scope.
pub fn admin(tenant: &str) -> String {
    token(
        tenant,
        &[Scope::EventsRead, Scope::EventsWrite, Scope::Admin],
    )
}

/// Event `n` of `tenant`, `seconds` after a fixed instant, of type `event_type`.
pub fn event(tenant: &str, event_type: &str, n: u32, seconds: i64) -> Event {
    let time = chrono::DateTime::from_timestamp(1_767_225_600 + seconds, 0).unwrap();
    Event::builder(
        TenantId::parse(tenant).unwrap(),
        EventId::parse(&format!("evt_{tenant}_{n}")).unwrap(),
        format!("/{tenant}/test"),
        EventType::parse(event_type).unwrap(),
    )
    .time(time)
    .subject(Some(format!("sub_{}", n % 3)))
    .data(Some("application/json".into()), format!(r#"{{"n":{n}}}"#))
    .build()
    .unwrap()
}
