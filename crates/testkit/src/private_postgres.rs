//! A PostgreSQL server of the test's own, for tests that stop and start the database under a
//! running service. The machine's shared server is never restarted: other tests use it.
//!
//! `initdb` in a scratch directory (trust authentication, loopback only, a free port), then
//! `postgres` itself as the child process, so [`PrivatePostgres::stop`] and
//! [`PrivatePostgres::start`] act on the server directly and the data stays between them.
//! PostgreSQL refuses to run as root, so under root both run as the `postgres` user (through
//! `setpriv`) in a directory handed to that user.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use nix::{sys::signal::Signal, unistd::Pid};
use tokio::process::{Child, Command};
use tokio_postgres::NoTls;

use crate::daemon;

const START_TIMEOUT: Duration = Duration::from_secs(60);
const INSTALL_HINT: &str = "apt-get install postgresql; its binaries are looked for in \
     /usr/lib/postgresql/<version>/bin and on PATH";

/// A private PostgreSQL server on a free loopback port; shut down when dropped.
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
    child: Option<Child>,
}

impl PrivatePostgres {
    /// Creates a cluster in a scratch directory and starts it. Fails the test, naming what
    /// is missing, when the PostgreSQL server binaries are not installed.
    pub async fn init() -> Self {
        let bin = server_bin_dir();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("scratch dir: {e}"));
        let as_postgres = running_as_root();
        if as_postgres {
            run_checked(Command::new("chown").arg("postgres:").arg(dir.path())).await;
        }
        let mut server = Self {
            bin,
            dir,
            port: daemon::free_port(),
            as_postgres,
            child: None,
        };
        let data = server.data_dir();
        let mut initdb = server.command("initdb");
        initdb
            .arg("--pgdata")
            .arg(&data)
            .args(["--username=postgres", "--auth=trust", "--encoding=UTF8"])
            .args(["--no-sync", "--no-instructions"]);
        run_checked(&mut initdb).await;
        server.start().await;
        server
    }

    /// The port it listens on.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for `database` as the superuser `postgres`.
    #[must_use]
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates an empty database and returns its URL.
    pub async fn create_database(&self, name: &str) -> String {
        let admin = connect(&self.url("postgres")).await.unwrap_or_else(|e| {
            panic!("private PostgreSQL on port {}: {e}", self.port);
        });
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        self.url(name)
    }

    /// Starts the server (again) on the same port and data, and waits until it accepts
    /// connections. Does nothing if it is running.
    pub async fn start(&mut self) {
        if self.child.is_some() {
            return;
        }
        let data = self.data_dir();
        let mut postgres = self.command("postgres");
        postgres
            .arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.dir.path().display()
            ))
            // A test cluster: durability against power loss is not what is being tested, and
            // a clean shutdown (what `stop` does) still writes everything.
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = postgres.spawn().unwrap_or_else(|e| {
            panic!("cannot start {}: {e}", self.bin.join("postgres").display())
        });
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        let url = self.url("postgres");
        loop {
            match connect(&url).await {
                Ok(_) => return,
                Err(error) => {
                    if let Some(child) = self.child.as_mut()
                        && let Ok(Some(status)) = child.try_wait()
                    {
                        panic!("private PostgreSQL exited during start-up ({status}): {error}");
                    }
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "private PostgreSQL did not accept connections on port {} within \
                         {START_TIMEOUT:?}: {error}",
                        self.port
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Stops the server with a fast shutdown (open sessions are ended, everything committed
    /// is written), as an operator restarting it does, and waits until it is gone. The data
    /// stays for [`PrivatePostgres::start`].
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        signal(&child, Signal::SIGINT);
        if tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .is_err()
        {
            signal(&child, Signal::SIGQUIT);
            let _ = child.wait().await;
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `program` from the server's bin directory, as the `postgres` user when we are root.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("setpriv");
            command
                .args([
                    "--reuid=postgres",
                    "--regid=postgres",
                    "--init-groups",
                    "--",
                ])
                .arg(program);
            command
        } else {
            Command::new(program)
        };
        command
            .current_dir(self.dir.path())
            .env_remove("PGDATA")
            .env("LC_ALL", "C");
        command
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // Immediate shutdown: the postmaster ends its backends itself, so none outlive it.
        if let Some(child) = &self.child {
            signal(child, Signal::SIGQUIT);
        }
    }
}

/// Whether this process runs as root (`/proc/self` belongs to the effective user).
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn signal(child: &Child, signal: Signal) {
    if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), signal);
    }
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, String> {
    let (client, connection) =
        tokio::time::timeout(Duration::from_secs(5), tokio_postgres::connect(url, NoTls))
            .await
            .map_err(|_| "connection timed out".to_owned())?
            .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    Ok(client)
}

async fn run_checked(command: &mut Command) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The directory holding `initdb` and `postgres` of one installation: the newest
/// `/usr/lib/postgresql/<version>/bin`, else wherever `initdb` on `PATH` really lives (so
/// both binaries come from the same version).
fn server_bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_server(bin))
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    let initdb = daemon::find_binary("initdb", &[], INSTALL_HINT);
    let bin = std::fs::canonicalize(&initdb)
        .ok()
        .and_then(|real| real.parent().map(Path::to_owned))
        .unwrap_or_else(|| panic!("cannot resolve {}", initdb.display()));
    assert!(
        has_server(&bin),
        "PostgreSQL server binaries (initdb and postgres) are required by this test but \
         {} lacks postgres ({INSTALL_HINT})",
        bin.display()
    );
    bin
}

fn has_server(bin: &Path) -> bool {
    bin.join("initdb").is_file() && bin.join("postgres").is_file()
}
