//! Runs a service binary the way an operator does: real process, real port, real signals.

use std::{process::Stdio, time::Duration};

use nix::{sys::signal::Signal, unistd::Pid};
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader},
    process::{Child, Command},
    sync::mpsc,
    time::timeout,
};

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running service binary whose stdout (JSON log lines) the test reads.
pub struct RunningBinary {
    child: Child,
    logs: mpsc::Receiver<Value>,
    /// Base URL of its HTTP listener, e.g. `http://127.0.0.1:41234`.
    pub base_url: String,
}

impl RunningBinary {
    /// Starts `path` on a free loopback port with `env` added to the environment, and waits
    /// for its `listening` log line.
    pub async fn start(path: &str, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(path);
        command
            .env("SWITCHYARD__HTTP__BIND", "127.0.0.1:0")
            .env("SWITCHYARD__HTTP__WORKERS", "1")
            .env("SWITCHYARD__TELEMETRY__LOG_FORMAT", "json")
            .env("SWITCHYARD__TELEMETRY__LOG_LEVEL", "info")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {path}: {e}"));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("{path}: no stdout"));
        let (tx, logs) = mpsc::channel(1024);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let parsed = serde_json::from_str::<Value>(&line)
                    .unwrap_or_else(|_| Value::String(format!("NOT JSON: {line}")));
                if tx.send(parsed).await.is_err() {
                    break;
                }
            }
        });
        let mut running = Self {
            child,
            logs,
            base_url: String::new(),
        };
        let listening = running
            .expect_log("a `listening` line", |l| l["message"] == "listening")
            .await;
        let addr = listening["addr"]
            .as_str()
            .unwrap_or_else(|| panic!("no addr in {listening}"));
        running.base_url = format!("http://{addr}");
        running
    }

    /// Waits for the next log line matching `predicate`; every line must be JSON.
    pub async fn expect_log(&mut self, what: &str, predicate: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            let line = tokio::time::timeout_at(deadline, self.logs.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                .unwrap_or_else(|| panic!("process exited before logging {what}"));
            assert!(
                line.is_object(),
                "every log line must be a JSON object, got {line}"
            );
            if predicate(&line) {
                return line;
            }
        }
    }

    /// The log lines written since the last read, without waiting: for failure messages
    /// that show what the process was doing.
    pub fn logs_so_far(&mut self) -> Vec<Value> {
        let mut lines = Vec::new();
        while let Ok(line) = self.logs.try_recv() {
            lines.push(line);
        }
        lines
    }

    /// `GET path` → (status, body).
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("{}{path}", self.base_url))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// Sends SIGTERM, as Kubernetes does before stopping a pod.
    pub fn terminate(&self) {
        let pid = self
            .child
            .id()
            .unwrap_or_else(|| panic!("process already reaped"));
        let pid =
            Pid::from_raw(i32::try_from(pid).unwrap_or_else(|_| panic!("pid {pid} out of range")));
        nix::sys::signal::kill(pid, Signal::SIGTERM).unwrap_or_else(|e| panic!("kill: {e}"));
    }

    /// Sends SIGKILL: the process gets no chance to drain, flush or commit, as when a node
    /// dies or the OOM killer strikes. Waits until it is gone.
    pub async fn kill(&mut self) {
        self.child
            .kill()
            .await
            .unwrap_or_else(|e| panic!("SIGKILL: {e}"));
    }

    /// Waits up to `deadline` for the process to exit and returns its exit code.
    pub async fn exit_code(&mut self, deadline: Duration) -> Option<i32> {
        let status = timeout(deadline, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("did not exit within {deadline:?}"))
            .unwrap_or_else(|e| panic!("wait: {e}"));
        status.code()
    }
}

/// The life of every service binary: it starts on defaults, answers `/healthz`, `/readyz`
/// and `/metrics`, logs one JSON line per request, and exits 0 within its drain deadline on
/// SIGTERM.
pub async fn assert_service_lifecycle(path: &str, service: &str) {
    assert_service_lifecycle_with(path, service, &[]).await;
}

/// [`assert_service_lifecycle`] with `env` added, e.g. the URL of a test database for the
/// services whose readiness includes PostgreSQL. Readiness may take a moment to turn green
/// (a database is opened in the background), so `/readyz` is polled for up to 30 s.
pub async fn assert_service_lifecycle_with(path: &str, service: &str, env: &[(&str, &str)]) {
    let mut all = vec![("SWITCHYARD__SHUTDOWN__DRAIN_TIMEOUT_SECS", "5")];
    all.extend_from_slice(env);
    let mut binary = RunningBinary::start(path, &all).await;

    let (status, body) = binary.get("/healthz").await;
    assert_eq!(status, 200, "/healthz: {body}");
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    let (mut status, mut body) = binary.get("/readyz").await;
    while status != 200 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        (status, body) = binary.get("/readyz").await;
    }
    assert_eq!(status, 200, "/readyz: {body}");
    let (status, metrics) = binary.get("/metrics").await;
    assert_eq!(status, 200);
    let build_info = format!("switchyard_build_info{{service=\"{service}\"");
    assert!(
        metrics.contains(&build_info),
        "/metrics lacks {build_info}: {metrics}"
    );

    let logged = binary
        .expect_log("a request log line for /healthz", |l| {
            l["path"] == "/healthz"
        })
        .await;
    assert_eq!(logged["status"], 200, "{logged}");
    assert_eq!(logged["method"], "GET", "{logged}");
    assert_eq!(logged["service"], service, "{logged}");
    assert!(logged["duration_ms"].is_number(), "{logged}");

    binary.terminate();
    binary
        .expect_log("the drain starting", |l| l["message"] == "draining")
        .await;
    assert_eq!(
        binary.exit_code(Duration::from_secs(10)).await,
        Some(0),
        "exit code after SIGTERM"
    );
}

/// A bad configuration value stops start-up with exit code 2 and one stderr line that names
/// the key, the accepted values and the variable it came from.
pub async fn assert_bad_config_is_refused(path: &str) {
    let mut child = Command::new(path)
        .env("SWITCHYARD__BUS__BACKEND", "kafak")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {path}: {e}"));
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr).await;
    }
    let status = timeout(START_TIMEOUT, child.wait())
        .await
        .unwrap_or_else(|_| panic!("{path} did not exit on a bad configuration"))
        .unwrap_or_else(|e| panic!("wait: {e}"));
    assert_eq!(status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    for needle in [
        "bus.backend",
        "kafak",
        "kafka",
        "redis",
        "nats",
        "memory",
        "SWITCHYARD__BUS__BACKEND",
    ] {
        assert!(stderr.contains(needle), "stderr lacks {needle:?}: {stderr}");
    }
}

/// With its broker unreachable a service still starts (no crash loop while Kafka is down),
/// stays alive, reports not ready naming the bus, and still drains and exits 0.
pub async fn assert_readiness_follows_the_broker(path: &str) {
    assert_readiness_follows_the_broker_with(path, &[]).await;
}

/// [`assert_readiness_follows_the_broker`] with `env` added.
pub async fn assert_readiness_follows_the_broker_with(path: &str, env: &[(&str, &str)]) {
    let mut all = vec![
        ("SWITCHYARD__BUS__BACKEND", "kafka"),
        // Nothing listens on port 1.
        ("SWITCHYARD__BUS__KAFKA__BROKERS", "127.0.0.1:1"),
    ];
    all.extend_from_slice(env);
    let mut binary = RunningBinary::start(path, &all).await;
    let (status, body) = binary.get("/readyz").await;
    assert_eq!(status, 503, "/readyz with the broker down: {body}");
    assert!(
        body.contains(r#""name":"bus""#),
        "the failing check is named: {body}"
    );
    assert_eq!(binary.get("/healthz").await.0, 200, "alive while not ready");
    binary.terminate();
    assert_eq!(
        binary.exit_code(Duration::from_secs(15)).await,
        Some(0),
        "exit code after SIGTERM"
    );
}
