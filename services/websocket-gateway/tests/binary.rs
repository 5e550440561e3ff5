//! The real `switchyard-websocket-gateway` binary, started the way an operator starts it.

const BINARY: &str = env!("CARGO_BIN_EXE_switchyard-websocket-gateway");

/// It authenticates every client, so it needs `[auth]` to start at all.
const AUTH: (&str, &str) = (
    "SWITCHYARD__AUTH__JWT_HS256_SECRET",
    "a websocket-gateway test secret of 32+ bytes",
);

#[tokio::test]
async fn starts_with_auth_configured_serves_health_and_exits_0_on_sigterm() {
    switchyard_testkit::binary::assert_service_lifecycle_with(BINARY, "websocket-gateway", &[AUTH])
        .await;
}

#[tokio::test]
async fn a_bad_config_value_stops_start_up_naming_the_key() {
    switchyard_testkit::binary::assert_bad_config_is_refused(BINARY).await;
}

#[tokio::test]
async fn readyz_answers_503_while_the_broker_is_unreachable() {
    switchyard_testkit::binary::assert_readiness_follows_the_broker_with(BINARY, &[AUTH]).await;
}

#[tokio::test]
async fn refuses_to_start_without_auth() {
    let output = tokio::process::Command::new(BINARY)
        .env("SWITCHYARD__HTTP__BIND", "127.0.0.1:0")
        .env("SWITCHYARD__BUS__BACKEND", "memory")
        .env_remove("SWITCHYARD__AUTH__JWT_HS256_SECRET")
        .env_remove("SWITCHYARD__AUTH__JWKS_URL")
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot start {BINARY}: {e}"));
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("[auth]"), "names the section: {stdout}");
}
