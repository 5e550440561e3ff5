//! A server under test in its own process.
//!
//! `switchyard_testkit::binary::RunningBinary` does most of this for tests; the bench needs two
//! things it does not offer: the child's pid, to account its CPU time, and a reader that never
//! stops draining stdout, so a chatty server cannot block on a full pipe mid-measurement.

use std::{process::Stdio, time::Duration};

use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt as _, BufReader, Lines},
    process::{Child, ChildStdout, Command},
    task::JoinHandle,
};

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running server; killed when dropped.
pub struct ServerProcess {
    child: Child,
    pid: u32,
    logs: JoinHandle<()>,
    /// e.g. `http://127.0.0.1:41234`.
    pub base_url: String,
}

impl ServerProcess {
    /// Spawns `command` and waits for its `listening` log line. `name` prefixes the lines it
    /// logs afterwards, which go to stderr.
    pub async fn start(mut command: Command, name: &'static str) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {name} server: {e}"));
        let pid = child
            .id()
            .unwrap_or_else(|| panic!("the {name} server exited at once"));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("the {name} server has no stdout"));
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(START_TIMEOUT, listening_addr(&mut lines, name))
            .await
            .unwrap_or_else(|_| panic!("the {name} server did not log `listening` within 30 s"));
        Self {
            child,
            pid,
            logs: tokio::spawn(forward(lines, name)),
            base_url: format!("http://{addr}"),
        }
    }

    /// Its process id, for CPU accounting.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Kills it and waits until it is gone, so it costs nothing during the next phase.
    pub async fn stop(mut self) {
        self.logs.abort();
        // An error here means it has already exited, which is what we want.
        let _ = self.child.kill().await;
    }
}

async fn listening_addr(lines: &mut Lines<BufReader<ChildStdout>>, name: &str) -> String {
    loop {
        let line = lines
            .next_line()
            .await
            .unwrap_or_else(|e| panic!("reading the {name} server's stdout: {e}"))
            .unwrap_or_else(|| panic!("the {name} server exited before listening"));
        let Ok(entry) = serde_json::from_str::<Value>(&line) else {
            eprintln!("[{name}] {line}");
            continue;
        };
        if entry["message"] == "listening" {
            return entry["addr"]
                .as_str()
                .unwrap_or_else(|| panic!("no addr in the {name} server's {line}"))
                .to_owned();
        }
        eprintln!("[{name}] {line}");
    }
}

/// Passes the server's remaining log lines (warnings and errors only, at the bench's log
/// level) to stderr until it exits.
async fn forward(mut lines: Lines<BufReader<ChildStdout>>, name: &'static str) {
    while let Ok(Some(line)) = lines.next_line().await {
        eprintln!("[{name}] {line}");
    }
}
