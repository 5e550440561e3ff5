//! Cross-service tests live in `tests/`; this crate holds what they share: where the service
//! binaries are ([`service_binary`]), a cluster of the seven services as processes that can
//! be killed and restarted ([`cluster`]), webhooks signed as each provider signs them
//! ([`providers`]) and a WebSocket client that resumes after a disconnect ([`ws`]).

pub mod cluster;
pub mod providers;
pub mod ws;

use std::path::PathBuf;

/// The path of service binary `name` (`switchyard-gateway`, ...) built by this workspace: the
/// directory above this test executable's (`target/<profile>/`). `cargo nextest run
/// --workspace` (scripts/test.sh) builds every service binary for the services' own tests.
///
/// # Panics
/// When it is not built, saying how to build it.
#[must_use]
pub fn service_binary(name: &str) -> PathBuf {
    let dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("target/debug"));
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build --workspace --bins` first (scripts/test.sh builds \
         every service binary)",
        path.display()
    );
    path
}
