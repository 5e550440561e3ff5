//! The control plane end to end: the real gateway, outbox relay, ingest, processor, webhook
//! dispatcher and audit writer as separate processes on the Kafka-protocol broker and
//! PostgreSQL. A source and an endpoint created through the API take effect within seconds
//! (through the outbox and the config topic, no restart), a signed webhook and a published
//! event reach the endpoint (signatures checked by an independent verifier) and the event
//! store, and a delivery that exhausted its retries is redriven from the DLQ to its endpoint.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac as _};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::Sha256;
use switchyard_auth::{Scope, Scopes, TokenSpec, mint_hs256};
use switchyard_domain::TenantId;
use switchyard_integration_tests::service_binary;
use switchyard_testkit::{
    binary::RunningBinary, postgres::TestDatabase, receiver::PyReceiver, unique_name,
};
use switchyard_testkit_bus::KafkaStage;

const JWT_SECRET: &str = "an end-to-end test secret of 32+ bytes";
const SEALING_KEY: &str = "ZW5kLXRvLWVuZCBzZWFsaW5nIGtleSAzMiBieXRlcyE=";
const WAIT: Duration = Duration::from_secs(60);

struct Cluster {
    gateway: RunningBinary,
    ingest: RunningBinary,
    stream: RunningBinary,
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
            ("SWITCHYARD__DISPATCHER__RETRY_SCHEDULE", "1s"),
            ("SWITCHYARD__DISPATCHER__RETRY_JITTER", "0"),
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
        // The gateway first: it migrates the database the relay and the audit writer use.
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
        let stream = start("switchyard-websocket-gateway").await;
        Self {
            gateway,
            ingest,
            stream,
            _workers: workers,
            _database: database,
            http: reqwest::Client::new(),
        }
    }

    async fn api(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.gateway.base_url))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Polls `GET path` until `done` holds for the body.
    async fn poll(
        &self,
        path: &str,
        token: &str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let (status, body) = self.api(Method::GET, path, token, None).await;
            if status == 200 && done(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: last answer {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
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

/// Runs the `switchyard` tool against the cluster's gateway with `token`; its JSON output.
fn cli(cluster: &Cluster, token: &str, args: &[&str]) -> Value {
    let out = std::process::Command::new(service_binary("switchyard"))
        .args(args)
        .args([
            "--api",
            &cluster.gateway.base_url,
            "--token",
            token,
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "switchyard {args:?}: {out:?}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("switchyard {args:?}: {e}: {out:?}"))
}

fn razorpay_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_made_through_the_api_takes_effect_and_events_flow_end_to_end() {
    let stage = KafkaStage::new("e2e-ctl", 2).await;
    let cluster = Cluster::start(&stage).await;
    let acme = unique_name("acme");
    let ops = admin_token(&acme);
    // `switchyard tail` follows the tenant's invoices from now on (read at the end).
    let mut tail = tokio::process::Command::new(service_binary("switchyard"))
        .args(["tail", "--types", "invoice.*", "--json", "--token", &ops])
        .args([
            "--stream",
            &cluster.stream.base_url.replace("http://", "ws://"),
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut tailed =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(tail.stdout.take().unwrap()));

    // An endpoint, paused until its receiver (which must know the generated secret) is up.
    let (status, created) = cluster
        .api(
            Method::POST,
            "/v1/endpoints",
            &ops,
            Some(json!({ "id": "orders", "url": "http://127.0.0.1:9/unused", "paused": true })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    let receiver = PyReceiver::start(&[&secret]).await.unwrap();
    let (status, body) = cluster
        .api(
            Method::PUT,
            "/v1/endpoints/orders",
            &ops,
            Some(json!({ "url": receiver.url("/ok/orders") })),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // A source: ingest takes its webhooks within seconds of the create.
    let rzp_secret = "razorpay webhook secret";
    let (status, body) = cluster
        .api(
            Method::POST,
            "/v1/sources",
            &ops,
            Some(json!({ "id": "razorpay", "provider": "razorpay", "secret": rzp_secret })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let created_at = Instant::now();
    let webhook = json!({
        "event": "payment.captured", "contains": ["payment"], "created_at": 1_767_225_600,
        "payload": { "payment": { "entity": { "id": "pay_e2e_1", "amount": 500 } } }
    })
    .to_string();
    let url = format!("{}/webhooks/{acme}/razorpay", cluster.ingest.base_url);
    let accepted = loop {
        let response = cluster
            .http
            .post(&url)
            .header(
                "x-razorpay-signature",
                razorpay_signature(rzp_secret, webhook.as_bytes()),
            )
            .header("x-razorpay-event-id", "evt_rzp_e2e_1")
            .body(webhook.clone())
            .send()
            .await
            .unwrap();
        if response.status() == 202 {
            break response.json::<Value>().await.unwrap();
        }
        assert!(
            created_at.elapsed() < Duration::from_secs(5),
            "ingest still answers {} 5 s after the source was created",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let webhook_event = accepted["id"].as_str().unwrap().to_owned();
    // The CLI's own signing is what ingest accepts too.
    let sent = std::process::Command::new(service_binary("switchyard"))
        .args([
            "send",
            &url,
            "--provider",
            "razorpay",
            "--secret",
            rzp_secret,
            "--json",
        ])
        .output()
        .unwrap();
    assert!(sent.status.success(), "switchyard send: {sent:?}");
    let sent: Value = serde_json::from_slice(&sent.stdout).unwrap();
    assert_eq!(sent["status"], 202, "{sent}");

    // An application publish through the API.
    let (status, published) = cluster
        .api(
            Method::POST,
            "/v1/events",
            &ops,
            Some(json!({ "type": "order.created", "subject": "ord_1", "data": { "total": 42 } })),
        )
        .await;
    assert_eq!(status, 202, "{published}");
    let published_event = published["id"].as_str().unwrap().to_owned();

    // Both reach the endpoint, signed with its secret (checked by `standardwebhooks`).
    let got = receiver
        .wait_for(
            "orders",
            |log| {
                [&webhook_event, &published_event].iter().all(|id| {
                    log.iter()
                        .any(|r| r.webhook_id.as_deref() == Some(id.as_str()))
                })
            },
            WAIT,
        )
        .await
        .unwrap();
    assert!(got.iter().all(|r| r.verified), "{got:#?}");
    let delivered = got
        .iter()
        .find(|r| r.webhook_id.as_deref() == Some(webhook_event.as_str()))
        .unwrap();
    assert_eq!(delivered.body["type"], "razorpay.payment.captured");
    assert_eq!(delivered.body["subject"], "pay_e2e_1");

    // Both are in the event store, with their delivery attempts.
    for id in [&webhook_event, &published_event] {
        cluster
            .poll(
                &format!("/v1/events/{id}/deliveries"),
                &ops,
                "a stored, delivered event",
                |b| {
                    b.as_array()
                        .is_some_and(|a| a.iter().any(|d| d["outcome"] == "succeeded"))
                },
            )
            .await;
    }
    let search = cluster
        .poll(
            "/v1/events?type=order.*",
            &ops,
            "the published event in search",
            |b| b["data"].as_array().is_some_and(|a| !a.is_empty()),
        )
        .await;
    assert_eq!(search["data"][0]["id"], published_event.as_str());
    assert_eq!(search["data"][0]["data"]["total"], 42);
    // The operator's view through the CLI is the same.
    let listed = cli(&cluster, &ops, &["events", "--type", "order.*"]);
    assert_eq!(listed["data"][0]["id"], published_event.as_str());
    let attempts = cli(&cluster, &ops, &["deliveries", &published_event]);
    assert!(
        attempts
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["outcome"] == "succeeded"),
        "{attempts}"
    );

    // A failing endpoint exhausts its one retry; redriven from the DLQ once it works, it
    // gets the event (and only it does).
    let (status, flaky) = cluster
        .api(
            Method::POST,
            "/v1/endpoints",
            &ops,
            Some(json!({ "id": "flaky", "url": "http://127.0.0.1:9/unused", "paused": true, "event_types": ["invoice.*"] })),
        )
        .await;
    assert_eq!(status, 201, "{flaky}");
    let flaky_receiver = PyReceiver::start(&[flaky["secret"].as_str().unwrap()])
        .await
        .unwrap();
    cluster
        .api(
            Method::PUT,
            "/v1/endpoints/flaky",
            &ops,
            Some(json!({ "url": flaky_receiver.url("/status/500/flaky"), "event_types": ["invoice.*"] })),
        )
        .await;
    // The dispatcher must have the new URL before the event comes: wait for the change to
    // reach it, seen as the version the config follower applied (probe with a throwaway).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, invoice) = cluster
        .api(
            Method::POST,
            "/v1/events",
            &ops,
            Some(json!({ "type": "invoice.paid", "data": { "n": 1 } })),
        )
        .await;
    let invoice = invoice["id"].as_str().unwrap().to_owned();
    let dead = cluster
        .poll(
            "/v1/dlq?endpoint=flaky",
            &ops,
            "the exhausted delivery in the DLQ",
            |b| b["data"].as_array().is_some_and(|a| !a.is_empty()),
        )
        .await;
    assert_eq!(dead["data"][0]["event_id"], invoice.as_str());
    assert_eq!(
        flaky_receiver.log(Some("flaky")).await.unwrap().len(),
        2,
        "first attempt and one retry"
    );
    cluster
        .api(
            Method::PUT,
            "/v1/endpoints/flaky",
            &ops,
            Some(json!({ "url": flaky_receiver.url("/ok/flaky"), "event_types": ["invoice.*"] })),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let listed = cli(&cluster, &ops, &["dlq", "list", "--endpoint", "flaky"]);
    let id = listed["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(id, dead["data"][0]["id"].as_str().unwrap());
    let redriven = cli(&cluster, &ops, &["dlq", "redrive", &id]);
    assert_eq!(redriven["redrive_count"], 1, "{redriven}");
    let redelivered = flaky_receiver
        .wait_for(
            "flaky",
            |log| log.iter().any(|r| r.status == Some(200)),
            WAIT,
        )
        .await
        .unwrap();
    let ok = redelivered.iter().find(|r| r.status == Some(200)).unwrap();
    assert!(ok.verified);
    assert_eq!(ok.webhook_id.as_deref(), Some(invoice.as_str()));
    assert!(
        receiver
            .log(Some("orders"))
            .await
            .unwrap()
            .iter()
            .filter(|r| r.webhook_id.as_deref() == Some(invoice.as_str()))
            .count()
            == 1,
        "the redrive went to the flaky endpoint only"
    );

    // The live stream showed the invoice to `switchyard tail`, and nothing else it filtered out.
    let line = tokio::time::timeout(WAIT, tailed.next_line())
        .await
        .expect("switchyard tail printed nothing")
        .unwrap()
        .expect("switchyard tail ended");
    let live: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(live["id"], invoice.as_str(), "{live}");
    assert_eq!(live["tenant"], acme.as_str());
}
