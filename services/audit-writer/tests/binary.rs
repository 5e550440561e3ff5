//! The real `switchyard-audit-writer` binary, started the way an operator starts it.

const BINARY: &str = env!("CARGO_BIN_EXE_switchyard-audit-writer");

#[tokio::test]
async fn starts_on_defaults_serves_health_and_exits_0_on_sigterm() {
    switchyard_testkit::binary::assert_service_lifecycle(BINARY, "audit-writer").await;
}

#[tokio::test]
async fn a_bad_config_value_stops_start_up_naming_the_key() {
    switchyard_testkit::binary::assert_bad_config_is_refused(BINARY).await;
}

#[tokio::test]
async fn readyz_answers_503_while_the_broker_is_unreachable() {
    switchyard_testkit::binary::assert_readiness_follows_the_broker(BINARY).await;
}
