//! `switchyard-webhook-dispatcher`: loads configuration, starts telemetry, serves until SIGTERM.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    switchyard_runtime::run(
        &switchyard_webhook_dispatcher::SERVICE,
        switchyard_webhook_dispatcher::build,
    )
    .await
}
