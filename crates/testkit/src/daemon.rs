//! Broker processes a test owns: started on a free port in a scratch directory, restartable
//! with their data, killed when the test ends.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use nix::{sys::signal::Signal, unistd::Pid};
use tokio::process::{Child, Command};

/// A free loopback port (bound, then released for the broker to take).
#[must_use]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// Finds an executable on `PATH` (or in the extra `dirs`), failing the test with an install
/// hint when it is missing.
#[must_use]
pub fn find_binary(name: &str, dirs: &[PathBuf], hint: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(dirs.iter().cloned())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{name} is required by this test but not installed ({hint})"))
}

/// A broker process; killed on drop.
pub struct Daemon {
    program: PathBuf,
    args: Vec<String>,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Daemon {
    /// Starts `program args` in `dir` and waits until it listens on `port`.
    pub async fn start(program: PathBuf, args: Vec<String>, dir: &Path, port: u16) -> Self {
        let mut daemon = Self {
            program,
            args,
            dir: dir.to_owned(),
            port,
            child: None,
        };
        daemon.spawn().await;
        daemon
    }

    async fn spawn(&mut self) {
        let child = Command::new(&self.program)
            .args(&self.args)
            .current_dir(&self.dir)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.program.display()));
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} did not listen on port {} within 30 s",
                self.program.display(),
                self.port
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The port it listens on.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the process gracefully (SIGTERM, then SIGKILL after 10 s).
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }

    /// Kills the process at once (SIGKILL), as a crash would; [`Daemon::restart`] brings it
    /// back.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Stops and starts the process again with the same arguments and data directory.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.spawn().await;
    }
}
