//! The web console in a real browser: the gateway, outbox relay, ingest, processor, webhook
//! dispatcher and audit writer run as separate processes on the Kafka-protocol broker and
//! PostgreSQL; `console/console.spec.mjs` drives Debian's Chromium (headless, through
//! playwright-core) against the gateway's `/console/`. It signs in from a `#token=` link,
//! sees the live stream connected, posts a signed Razorpay webhook to ingest, sees the event
//! appear live, opens it and finds its payload and its successful delivery, manages an
//! endpoint, and checks that a bad token is refused on the sign-in form.
//!
//! Needs node, the npm packages of `console/` (`npm ci --prefix integration-tests/console`)
//! and `/usr/bin/chromium`; scripts/test.sh installs them. A missing one fails the test with
//! what to install: it never skips.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use futures::{SinkExt as _, StreamExt as _};
use hmac::{Hmac, Mac as _};
use reqwest::{Method, header};
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::Sha256;
use switchyard_auth::{Scope, Scopes, TokenSpec, mint_hs256};
use switchyard_domain::TenantId;
use switchyard_integration_tests::service_binary;
use switchyard_testkit::{
    binary::RunningBinary, postgres::TestDatabase, receiver::FastReceiver, unique_name,
};
use switchyard_testkit_bus::KafkaStage;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest as _};

const JWT_SECRET: &str = "a console test secret of 32 bytes or more";
const SEALING_KEY: &str = "Y29uc29sZSB0ZXN0IHNlYWxpbmcga2V5IDMyIGJ5dGU=";
const CHROMIUM: &str = "/usr/bin/chromium";
const WAIT: Duration = Duration::from_secs(60);
/// The whole browser script; its own steps have shorter deadlines.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(240);

/// The console test's directory (the script and its npm packages) once node, the packages
/// and Chromium are known to be there; otherwise the test fails saying what to install.
fn browser_prerequisites() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
    let node = std::process::Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|out| out.status.success()),
        "the console test runs a Node script, and `node --version` failed ({node:?}): install \
         Node.js 20 or newer (Debian: apt-get install nodejs npm)"
    );
    for package in ["playwright-core", "typescript"] {
        let manifest = dir.join("node_modules").join(package).join("package.json");
        assert!(
            manifest.is_file(),
            "the npm package {package} is not installed in {}: run `npm ci --prefix \
             integration-tests/console` (scripts/test.sh does)",
            dir.display()
        );
    }
    assert!(
        Path::new(CHROMIUM).is_file(),
        "the console test drives Debian's Chromium at {CHROMIUM}, which is missing: \
         apt-get install -y chromium (scripts/test.sh does)"
    );
    dir
}

struct Cluster {
    gateway: RunningBinary,
    ingest: RunningBinary,
    _workers: Vec<RunningBinary>,
    _database: TestDatabase,
    http: reqwest::Client,
}

impl Cluster {
    async fn start(stage: &KafkaStage) -> Self {
        let database = TestDatabase::create().await;
        let env = [
            ("SWITCHYARD__AUTH__JWT_HS256_SECRET", JWT_SECRET),
            ("SWITCHYARD__SECRETS__KEYS", SEALING_KEY),
            ("SWITCHYARD__DATABASE__URL", database.url.as_str()),
            ("SWITCHYARD__GATEWAY__ALLOW_HTTP_ENDPOINTS", "true"),
            ("SWITCHYARD__DISPATCHER__ALLOW_PRIVATE_NETWORKS", "true"),
            ("SWITCHYARD__OUTBOX__POLL_INTERVAL_MS", "200"),
            ("SWITCHYARD__SHUTDOWN__DRAIN_TIMEOUT_SECS", "5"),
            (
                "SWITCHYARD__TELEMETRY__LOG_LEVEL",
                "info,switchyard::http=warn",
            ),
        ];
        let start = |name: &str| {
            let path = service_binary(name);
            async move { stage.start_binary(path.to_str().unwrap(), &env).await }
        };
        // The gateway first: it migrates the database the others use.
        let gateway = start("switchyard-gateway").await;
        let mut workers = Vec::new();
        for name in [
            "switchyard-outbox-relay",
            "switchyard-processor",
            "switchyard-webhook-dispatcher",
            "switchyard-audit-writer",
        ] {
            workers.push(start(name).await);
        }
        let ingest = start("switchyard-ingest").await;
        Self {
            gateway,
            ingest,
            _workers: workers,
            _database: database,
            http: reqwest::Client::new(),
        }
    }

    async fn api(&self, method: Method, path: &str, token: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .request(method, format!("{}{path}", self.gateway.base_url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Returns once the gateway's live feed delivers: its consumer group of its own joins in
    /// the background and starts at the latest record, so an event published before it has
    /// its partitions would never be shown live. Publishes probes (a type the browser never
    /// sees: it subscribes after) until one arrives on a subscription of our own.
    async fn wait_for_live_feed(&self, token: &str) {
        let url = self.gateway.base_url.replace("http://", "ws://") + "/graphql/ws";
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let mut send = async |message: Value| {
            socket
                .send(Message::text(message.to_string()))
                .await
                .unwrap();
        };
        send(json!({ "type": "connection_init", "payload": { "token": token } })).await;
        send(json!({
            "id": "probe", "type": "subscribe",
            "payload": { "query": "subscription { events(types: [\"console.probe\"]) { id } }" }
        }))
        .await;
        let deadline = Instant::now() + WAIT;
        loop {
            let (status, body) = self
                .api(
                    Method::POST,
                    "/v1/events",
                    token,
                    json!({ "type": "console.probe" }),
                )
                .await;
            assert_eq!(status, 202, "probe publish: {body}");
            let until = Instant::now() + Duration::from_secs(2);
            while let Ok(Some(Ok(message))) =
                tokio::time::timeout_at(until.into(), socket.next()).await
            {
                if let Message::Text(text) = message {
                    let message: Value = serde_json::from_str(&text).unwrap();
                    if message["type"] == "next" {
                        return;
                    }
                    assert!(
                        message["type"] == "connection_ack",
                        "the probe subscription got {message}"
                    );
                }
            }
            assert!(
                Instant::now() < deadline,
                "the gateway's live feed delivered no probe event within {WAIT:?}"
            );
        }
    }
}

fn admin_token(tenant: &str) -> String {
    mint_hs256(
        &SecretString::from(JWT_SECRET),
        &TokenSpec::new(
            TenantId::parse(tenant).unwrap(),
            Scopes::from(Scope::Admin),
            Duration::from_secs(3_600),
        ),
    )
    .unwrap()
}

fn razorpay_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_shows_a_webhook_live_with_its_payload_and_delivery_in_a_real_browser() {
    let script_dir = browser_prerequisites();
    let stage = KafkaStage::new("e2e-console", 2).await;
    let cluster = Cluster::start(&stage).await;
    let tenant = unique_name("acme");
    let token = admin_token(&tenant);

    // The page is public (the API it calls is not) and locked to its own origin.
    let page = cluster
        .http
        .get(format!("{}/console/", cluster.gateway.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("connect-src 'self'"), "{csp}");

    // An endpoint for the tenant's Razorpay events, and the Razorpay source.
    let receiver = FastReceiver::start().await.unwrap();
    let (status, body) = cluster
        .api(
            Method::POST,
            "/v1/endpoints",
            &token,
            json!({ "id": "payments", "url": receiver.url("/payments"), "event_types": ["razorpay.*"] }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let secret = "console razorpay webhook secret";
    let (status, body) = cluster
        .api(
            Method::POST,
            "/v1/sources",
            &token,
            json!({ "id": "razorpay", "provider": "razorpay", "secret": secret }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    cluster.wait_for_live_feed(&token).await;

    // The webhook the script posts once the browser shows the stream connected.
    let payment = unique_name("pay");
    let webhook = json!({
        "entity": "event", "event": "payment.captured", "contains": ["payment"],
        "created_at": 1_767_225_600,
        "payload": { "payment": { "entity": { "id": payment, "amount": 500, "currency": "INR" } } }
    })
    .to_string();
    let artifacts = std::env::temp_dir().join(unique_name("switchyard-console"));
    let console_url = format!("{}/console/", cluster.gateway.base_url);
    let webhook_url = format!("{}/webhooks/{tenant}/razorpay", cluster.ingest.base_url);
    let signature = razorpay_signature(secret, webhook.as_bytes());
    let event_id = unique_name("evt_console");
    let mut script = tokio::process::Command::new("node");
    script
        .arg("console.spec.mjs")
        .current_dir(&script_dir)
        .envs([
            ("CONSOLE_URL", console_url.as_str()),
            ("CONSOLE_TOKEN", token.as_str()),
            ("CONSOLE_TENANT", tenant.as_str()),
            ("WEBHOOK_URL", webhook_url.as_str()),
            ("WEBHOOK_BODY", webhook.as_str()),
            ("WEBHOOK_SIGNATURE", signature.as_str()),
            ("WEBHOOK_EVENT_ID", event_id.as_str()),
            ("WEBHOOK_SUBJECT", payment.as_str()),
            ("ENDPOINT_ID", "payments"),
            ("CHROMIUM", CHROMIUM),
            ("ARTIFACTS", artifacts.to_str().unwrap()),
        ])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(SCRIPT_DEADLINE, script.output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "console.spec.mjs did not finish within {SCRIPT_DEADLINE:?}; screenshots so far \
                 in {}",
                artifacts.display()
            )
        })
        .unwrap_or_else(|e| panic!("cannot run node console.spec.mjs: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the console's browser test failed ({}):\n{stderr}\n{stdout}\nscreenshots: {}",
        out.status,
        artifacts.display()
    );
    assert!(
        receiver.count("/payments") >= 1,
        "the endpoint got the webhook's event"
    );
    // Passed: the screenshots are of no further use.
    let _ = std::fs::remove_dir_all(&artifacts);
}
