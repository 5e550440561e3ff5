//! A Kafka-protocol broker of the test's own (tansu, sqlite-backed so records survive a
//! restart), for tests that stop and start the broker under a running client.

use std::path::PathBuf;

use crate::daemon::{self, Daemon};

/// A private tansu broker on a free port; killed when dropped.
pub struct PrivateTansu {
    daemon: Daemon,
    _dir: tempfile::TempDir,
}

impl PrivateTansu {
    /// Starts one in a scratch directory and waits until it listens. Fails the test, naming
    /// the binary, when tansu is not installed.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("scratch dir: {e}"));
        let port = daemon::free_port();
        let cargo_bin = std::env::var_os("CARGO_HOME")
            .map_or_else(
                || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"),
                Into::into,
            )
            .join("bin");
        let tansu = daemon::find_binary("tansu", &[cargo_bin], "scripts/test.sh installs it");
        let url = format!("tcp://127.0.0.1:{port}");
        let args = [
            "broker",
            "--storage-engine",
            "sqlite://tansu.db",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ]
        .map(str::to_owned)
        .to_vec();
        let daemon = Daemon::start(tansu, args, dir.path(), port).await;
        add_header_index(&dir.path().join("tansu.db")).await;
        Self { daemon, _dir: dir }
    }

    /// `host:port` for `bus.kafka.brokers`.
    #[must_use]
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.daemon.port())
    }

    /// Stops the broker (SIGTERM); its data stays.
    pub async fn stop(&mut self) {
        self.daemon.stop().await;
    }

    /// Kills the broker at once (SIGKILL), as a crash or a lost machine would; its data stays.
    /// tansu 0.6 panics in its group coordinator when stopped gracefully while a consumer
    /// group has members, and takes 7–15 s to exit; an outage test of a service that holds a
    /// group (every one that follows the config topic) should kill it.
    pub async fn kill(&mut self) {
        self.daemon.kill().await;
    }

    /// Starts it again (after [`PrivateTansu::stop`], or stops it first) with the same data.
    pub async fn restart(&mut self) {
        self.daemon.restart().await;
    }
}

/// Runs `scripts/tansu-tune.py` on a broker's database: tansu 0.6 scans every stored header
/// for each record it fetches unless the header table has this index (the script says more).
async fn add_header_index(db: &std::path::Path) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/tansu-tune.py");
    let status = tokio::process::Command::new("python3")
        .arg(script)
        .arg(db)
        .status()
        .await
        .unwrap_or_else(|e| panic!("python3 {script}: {e} (python3 is needed to tune tansu)"));
    assert!(status.success(), "{script} {} failed", db.display());
}
