//! The real `switchyard-gateway` binary, started the way an operator starts it.

#![allow(clippy::unwrap_used)]

use switchyard_testkit::postgres::TestDatabase;

const BINARY: &str = env!("CARGO_BIN_EXE_switchyard-gateway");
const SECRET: &str = "a gateway test secret of at least 32 bytes";
const SEALING_KEY: &str = "Z2F0ZXdheSB0ZXN0IHNlYWxpbmcga2V5IDMyIGJ5dGU=";

#[tokio::test]
async fn starts_serves_health_and_exits_0_on_sigterm() {
    let database = TestDatabase::create().await;
    switchyard_testkit::binary::assert_service_lifecycle_with(
        BINARY,
        "gateway",
        &[
            ("SWITCHYARD__AUTH__JWT_HS256_SECRET", SECRET),
            ("SWITCHYARD__SECRETS__KEYS", SEALING_KEY),
            ("SWITCHYARD__DATABASE__URL", &database.url),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_bad_config_value_stops_start_up_naming_the_key() {
    switchyard_testkit::binary::assert_bad_config_is_refused(BINARY).await;
}

#[tokio::test]
async fn readyz_answers_503_while_the_broker_is_unreachable() {
    let database = TestDatabase::create().await;
    switchyard_testkit::binary::assert_readiness_follows_the_broker_with(
        BINARY,
        &[
            ("SWITCHYARD__AUTH__JWT_HS256_SECRET", SECRET),
            ("SWITCHYARD__SECRETS__KEYS", SEALING_KEY),
            ("SWITCHYARD__DATABASE__URL", &database.url),
        ],
    )
    .await;
}
