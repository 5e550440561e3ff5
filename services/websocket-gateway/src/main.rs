//! `switchyard-websocket-gateway`: loads configuration, starts telemetry, serves until SIGTERM.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    switchyard_runtime::run(
        &switchyard_websocket_gateway::SERVICE,
        switchyard_websocket_gateway::build,
    )
    .await
}
