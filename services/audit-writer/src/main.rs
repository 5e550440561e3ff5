//! `switchyard-audit-writer`: loads configuration, starts telemetry, serves until SIGTERM.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    switchyard_runtime::run(
        &switchyard_audit_writer::SERVICE,
        switchyard_audit_writer::build,
    )
    .await
}
