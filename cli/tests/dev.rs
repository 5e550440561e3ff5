//! `switchyard dev`, the README's first command, run as a new user runs it: with nothing
//! configured it serves every service on one port, sets up the demo tenant, and the `curl` it
//! prints sends a webhook that is verified, delivered to the demo endpoint and searchable.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt as _, BufReader},
    process::{Child, Command},
};

const BINARY: &str = env!("CARGO_BIN_EXE_switchyard");
/// From start to the banner: the demo's first webhook has been delivered by then.
const STARTUP: Duration = Duration::from_secs(60);

struct Dev {
    child: Child,
    banner: Vec<String>,
}

impl Dev {
    /// Starts `switchyard dev` on a free port with nothing configured but `env` and reads
    /// its banner.
    async fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BINARY);
        command
            .arg("dev")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SWITCHYARD__HTTP__BIND", "127.0.0.1:0")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = command.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut banner = Vec::new();
        let started = Instant::now();
        let read = async {
            while let Some(line) = lines.next_line().await.unwrap() {
                let done = line.trim_start().starts_with("switchyard tail");
                banner.push(line);
                if done {
                    return;
                }
            }
            panic!("switchyard dev exited before its banner: {banner:#?}");
        };
        tokio::time::timeout(STARTUP, read)
            .await
            .unwrap_or_else(|_| panic!("no banner within {STARTUP:?}"));
        eprintln!("banner after {:?}", started.elapsed());
        // Keep draining stdout so the process never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, banner }
    }

    fn line_starting(&self, prefix: &str) -> String {
        self.banner
            .iter()
            .map(|line| line.trim())
            .find(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting {prefix:?} in {:#?}", self.banner))
            .to_owned()
    }

    fn base_url(&self) -> String {
        let console = self.line_starting("http://");
        console[..console.find("/console/").unwrap()].to_owned()
    }

    fn token(&self) -> String {
        let export = self.line_starting("export SWITCHYARD_API=");
        export
            .split_once("SWITCHYARD_TOKEN=")
            .unwrap()
            .1
            .trim()
            .to_owned()
    }
}

async fn get(url: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// Polls `check` until it is true, for at most 30 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} did not happen within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_printed_curl_sends_a_webhook_that_reaches_the_demo_endpoint_and_the_store() {
    let mut dev = Dev::start(&[], &[]).await;
    let (base, token) = (dev.base_url(), dev.token());

    // The demo webhook of the start-up was delivered, verified, to the loopback endpoint.
    let (status, received) = get(&format!("{base}/dev/loopback"), None).await;
    assert_eq!(status, 200);
    assert_eq!(received.as_array().unwrap().len(), 1, "{received}");
    assert_eq!(received[0]["event_type"], "razorpay.payment.captured");

    // Every service is ready behind one /readyz.
    let (status, ready) = get(&format!("{base}/readyz"), None).await;
    assert_eq!(status, 200, "{ready}");
    let checks: Vec<&str> = ready["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for service in [
        "gateway/",
        "ingest/",
        "processor/",
        "outbox-relay/",
        "webhook-dispatcher/",
        "audit-writer/",
        "websocket-gateway/",
    ] {
        assert!(
            checks.iter().any(|c| c.starts_with(service)),
            "no {service} check in {checks:?}"
        );
    }

    // The printed curl, pasted into a shell, is accepted...
    let curl = dev.line_starting("curl -i ");
    let out = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{curl} --silent --show-error --fail"))
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{curl}\n{out:?}");

    // ... delivered to the demo endpoint (the delivery's `webhook-id` is the event's id) and
    // stored, with its succeeded delivery attempt.
    let loopback = format!("{base}/dev/loopback");
    eventually("the second delivery", || async {
        get(&loopback, None).await.1.as_array().unwrap().len() == 2
    })
    .await;
    let (_, received) = get(&loopback, None).await;
    let id = received[1]["id"].as_str().unwrap().to_owned();
    let event_url = format!("{base}/v1/events/{id}");
    eventually("the event in the store", || async {
        get(&event_url, Some(&token)).await.0 == 200
    })
    .await;
    let (_, event) = get(&event_url, Some(&token)).await;
    assert_eq!(event["type"], "razorpay.payment.captured", "{event}");
    let deliveries_url = format!("{event_url}/deliveries");
    eventually("the delivery attempt in the store", || async {
        get(&deliveries_url, Some(&token))
            .await
            .1
            .as_array()
            .is_some_and(|attempts| attempts.iter().any(|a| a["outcome"] == "succeeded"))
    })
    .await;
    let search = format!("{base}/v1/events?type=razorpay.payment.*");
    let (status, found) = get(&search, Some(&token)).await;
    assert_eq!(status, 200, "{found}");
    assert!(
        found["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == id.as_str()),
        "{found}"
    );

    // A forged token is refused, the console is served, and SIGTERM stops it cleanly.
    let (status, _) = get(&search, Some("not.a.token")).await;
    assert_eq!(status, 401);
    let console = reqwest::get(format!("{base}/console/")).await.unwrap();
    assert_eq!(console.status(), 200);
    let pid = dev.child.id().unwrap();
    std::process::Command::new("kill")
        .arg(pid.to_string())
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), dev.child.wait())
        .await
        .expect("switchyard dev did not stop within 30 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "switchyard dev stopped with {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_bus_kafka_the_same_demo_runs_on_a_real_broker() {
    let brokers = switchyard_testkit::infra::kafka_brokers();
    let first = brokers.split(',').next().unwrap_or_default().to_owned();
    if let Err(error) = tokio::net::TcpStream::connect(&first).await {
        switchyard_testkit::infra::unavailable("Kafka-protocol broker", &brokers, &error);
    }
    // Topics of their own, so an earlier run's records are not this run's.
    let prefix = format!("dev{}", std::process::id());
    let mut dev = Dev::start(
        &["--bus", "kafka"],
        &[
            ("SWITCHYARD__BUS__KAFKA__BROKERS", &brokers),
            ("SWITCHYARD__BUS__TOPIC_PREFIX", &prefix),
        ],
    )
    .await;
    assert!(
        dev.banner.iter().any(|line| line.contains("bus: kafka")),
        "{:#?}",
        dev.banner
    );
    let (status, received) = get(&format!("{}/dev/loopback", dev.base_url()), None).await;
    assert_eq!(status, 200);
    assert_eq!(received.as_array().unwrap().len(), 1, "{received}");
    dev.child.kill().await.unwrap();
}
