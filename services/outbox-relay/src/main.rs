//! `switchyard-outbox-relay`: loads configuration, starts telemetry, serves until SIGTERM.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    switchyard_runtime::run(
        &switchyard_outbox_relay::SERVICE,
        switchyard_outbox_relay::build,
    )
    .await
}
