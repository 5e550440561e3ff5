//! `switchyard-processor`: loads configuration, starts telemetry, serves until SIGTERM.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    switchyard_runtime::run(&switchyard_processor::SERVICE, switchyard_processor::build).await
}
