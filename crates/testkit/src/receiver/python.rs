//! [`PyReceiver`]: `tests/receiver/receiver.py`, verifying with the `standardwebhooks` package.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    process::Stdio,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use anyhow::{Context as _, bail};
use serde::Deserialize;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines},
    process::{Child, ChildStdin, ChildStdout, Command},
    task::JoinHandle,
    time::{Instant, sleep, timeout},
};

use super::POLL_EVERY;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/receiver/receiver.py");
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// receiver.py's exit status when `import standardwebhooks` fails.
const EXIT_MISSING_VERIFIER: i32 = 3;
const INSTALL_HINT: &str =
    "the independent Standard Webhooks verifier needs `pip install standardwebhooks==1.1.0`";
/// The tail of the receiver's stderr kept for failure messages.
const STDERR_KEEP: usize = 16 * 1024;

/// One request as `receiver.py` recorded it.
#[derive(Debug, Clone, Deserialize)]
pub struct Received {
    /// Arrival order across the whole receiver, from 0.
    pub seq: u64,
    /// The endpoint name, the last path segment (`""` for a path no mode matches).
    pub name: String,
    /// The request path without its query.
    pub path: String,
    /// `webhook-id`, if sent.
    pub webhook_id: Option<String>,
    /// `webhook-timestamp`, if sent, as received.
    pub webhook_timestamp: Option<String>,
    /// `webhook-signature`, if sent, as received.
    pub signature: Option<String>,
    /// Whether `standardwebhooks` verified the request against one of the secrets.
    pub verified: bool,
    /// The verifier's error for each secret when `verified` is false.
    pub error: Option<String>,
    /// Index (in the `secrets` given to [`PyReceiver::start`]) of the secret that verified.
    pub matched_secret: Option<usize>,
    /// Every request header, names lower-cased.
    pub headers: BTreeMap<String, String>,
    /// The body parsed as JSON (the CloudEvent); `Null` when it is not JSON.
    pub body: serde_json::Value,
    /// The body as text (invalid UTF-8 replaced).
    pub raw_body: String,
    /// Arrival time, unix seconds.
    pub received_at: f64,
    /// The status answered; `None` while a `/hang` or `/slow` request is still waiting.
    pub status: Option<u16>,
}

impl Received {
    /// A request header by lower-case name.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The `v1,<base64>` entries of `webhook-signature`.
    #[must_use]
    pub fn signatures(&self) -> Vec<&str> {
        self.signature
            .as_deref()
            .map(|s| s.split(' ').filter(|e| !e.is_empty()).collect())
            .unwrap_or_default()
    }

    /// `webhook-timestamp` as unix seconds, if present and numeric.
    #[must_use]
    pub fn timestamp(&self) -> Option<i64> {
        self.webhook_timestamp.as_deref()?.parse().ok()
    }

    fn summary(&self) -> String {
        format!(
            "#{} {} id={:?} status={:?} verified={} error={:?}",
            self.seq, self.path, self.webhook_id, self.status, self.verified, self.error
        )
    }
}

/// `tests/receiver/receiver.py` on a free loopback port; killed on drop (and it exits by
/// itself when this process dies, as it watches its stdin).
pub struct PyReceiver {
    port: u16,
    http: reqwest::Client,
    stderr: Arc<Mutex<String>>,
    stderr_task: JoinHandle<()>,
    _child: Child,
    _stdin: ChildStdin,
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl PyReceiver {
    /// Starts the receiver accepting signatures made with any of `secrets` (`whsec_<base64>`).
    ///
    /// # Errors
    /// When python3 or the `standardwebhooks` package is missing (naming what to install), or
    /// the script does not report its port within 10 s.
    pub async fn start(secrets: &[&str]) -> anyhow::Result<Self> {
        if secrets.is_empty() {
            bail!("PyReceiver::start needs at least one whsec_ secret");
        }
        let mut command = Command::new("python3");
        command.arg(SCRIPT).args(["--port", "0", "--watch-stdin"]);
        for secret in secrets {
            command.args(["--secret", secret]);
        }
        let mut child = command
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    anyhow::anyhow!("python3 is not on PATH: {SCRIPT} needs it, and {INSTALL_HINT}")
                }
                _ => anyhow::Error::new(e).context(format!("cannot start python3 {SCRIPT}")),
            })?;
        let (Some(stdin), Some(stdout), Some(stderr_pipe)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            bail!("python3 {SCRIPT} started without the piped stdio asked for");
        };

        // Drained for the whole run: a full pipe would block the receiver's threads.
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut stderr_task = tokio::spawn(drain(stderr_pipe, Arc::clone(&stderr)));
        let mut stdout = BufReader::new(stdout).lines();

        let first = timeout(START_TIMEOUT, stdout.next_line()).await;
        let Ok(Ok(Some(line))) = first else {
            if first.is_err() {
                bail!(
                    "{SCRIPT} did not print `LISTENING <port>` within {START_TIMEOUT:?}; \
                     stderr: {}",
                    text(&stderr)
                );
            }
            let status = timeout(Duration::from_secs(5), child.wait()).await;
            let _ = timeout(Duration::from_secs(2), &mut stderr_task).await;
            if let Ok(Ok(status)) = &status
                && status.code() == Some(EXIT_MISSING_VERIFIER)
            {
                bail!("{INSTALL_HINT}; python3 said: {}", text(&stderr));
            }
            bail!(
                "{SCRIPT} exited before listening ({status:?}); stderr: {}",
                text(&stderr)
            );
        };
        let port = line
            .strip_prefix("LISTENING ")
            .and_then(|p| p.trim().parse::<u16>().ok())
            .with_context(|| format!("{SCRIPT} printed {line:?}, not `LISTENING <port>`"))?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .context("cannot build the HTTP client for the receiver's log")?;
        Ok(Self {
            port,
            http,
            stderr,
            stderr_task,
            _child: child,
            _stdin: stdin,
            _stdout: stdout,
        })
    }

    /// The receiver's port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port><path>`, e.g. `url("/fail/2/orders")`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        let slash = if path.starts_with('/') { "" } else { "/" };
        format!("http://127.0.0.1:{}{slash}{path}", self.port)
    }

    /// What the receiver wrote to stderr so far (its tail), for failure messages.
    #[must_use]
    pub fn stderr(&self) -> String {
        text(&self.stderr)
    }

    /// Every request recorded, oldest first; only endpoint `name`'s when given.
    ///
    /// # Errors
    /// When the receiver does not answer.
    pub async fn log(&self, name: Option<&str>) -> anyhow::Result<Vec<Received>> {
        let mut url = reqwest::Url::parse(&self.url("/_log"))?;
        if let Some(name) = name {
            url.query_pairs_mut().append_pair("name", name);
        }
        let response = self
            .http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("receiver log unavailable; stderr: {}", self.stderr()))?;
        response
            .json()
            .await
            .context("receiver log is not the expected JSON")
    }

    /// Polls `name`'s log until `predicate` holds and returns that log, or fails after
    /// `within` with the log in the message.
    ///
    /// # Errors
    /// On time-out, or when the receiver does not answer.
    pub async fn wait_for(
        &self,
        name: &str,
        predicate: impl Fn(&[Received]) -> bool,
        within: Duration,
    ) -> anyhow::Result<Vec<Received>> {
        let deadline = Instant::now() + within;
        loop {
            let log = self.log(Some(name)).await?;
            if predicate(&log) {
                return Ok(log);
            }
            if Instant::now() >= deadline {
                let mut message = format!(
                    "receiver endpoint `{name}`: condition not met within {within:?}; \
                     {} request(s):",
                    log.len()
                );
                for entry in &log {
                    let _ = write!(message, "\n  {}", entry.summary());
                }
                bail!(message);
            }
            sleep(POLL_EVERY).await;
        }
    }

    /// Waits until `name` has received at least `count` requests.
    ///
    /// # Errors
    /// As [`PyReceiver::wait_for`].
    pub async fn wait_for_count(
        &self,
        name: &str,
        count: usize,
        within: Duration,
    ) -> anyhow::Result<Vec<Received>> {
        self.wait_for(name, |log| log.len() >= count, within).await
    }

    /// Forgets every recorded request and the `/fail` counters.
    ///
    /// # Errors
    /// When the receiver does not answer.
    pub async fn reset(&self) -> anyhow::Result<()> {
        self.http
            .post(self.url("/_reset"))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .context("receiver reset failed")?;
        Ok(())
    }
}

impl Drop for PyReceiver {
    fn drop(&mut self) {
        self.stderr_task.abort();
    }
}

async fn drain(mut pipe: tokio::process::ChildStderr, into: Arc<Mutex<String>>) {
    let mut chunk = [0_u8; 4096];
    while let Ok(n @ 1..) = pipe.read(&mut chunk).await {
        let mut text = into.lock().unwrap_or_else(PoisonError::into_inner);
        text.push_str(&String::from_utf8_lossy(&chunk[..n]));
        if text.len() > STDERR_KEEP {
            let mut cut = text.len() - STDERR_KEEP;
            while !text.is_char_boundary(cut) {
                cut += 1;
            }
            text.drain(..cut);
        }
    }
}

fn text(buffer: &Mutex<String>) -> String {
    buffer
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .trim()
        .to_owned()
}
