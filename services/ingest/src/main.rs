//! `switchyard-ingest`: loads configuration, starts telemetry, serves until SIGTERM.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    switchyard_runtime::run(&switchyard_ingest::SERVICE, switchyard_ingest::build).await
}
