//! The real `switchyard-outbox-relay` binary, started the way an operator starts it.

const BINARY: &str = env!("CARGO_BIN_EXE_switchyard-outbox-relay");

#[tokio::test]
async fn starts_serves_health_and_exits_0_on_sigterm() {
    // A database of the test's own: the default `database.url` names a `switchyard`
    // database the test server does not have, and readiness includes the database.
    let db = switchyard_testkit::postgres::TestDatabase::create().await;
    switchyard_testkit::binary::assert_service_lifecycle_with(
        BINARY,
        "outbox-relay",
        &[("SWITCHYARD__DATABASE__URL", &db.url)],
    )
    .await;
    db.drop_database().await;
}

#[tokio::test]
async fn a_bad_config_value_stops_start_up_naming_the_key() {
    switchyard_testkit::binary::assert_bad_config_is_refused(BINARY).await;
}

#[tokio::test]
async fn readyz_answers_503_while_the_broker_is_unreachable() {
    switchyard_testkit::binary::assert_readiness_follows_the_broker(BINARY).await;
}

/// A relay whose database does not exist yet starts, says so on `/readyz`, and becomes ready
/// by itself once the database is created: no crash loop while an operator provisions it.
#[tokio::test]
async fn readyz_names_a_missing_database_and_turns_green_once_it_is_created() {
    use std::time::Duration;

    use switchyard_testkit::{binary::RunningBinary, infra, unique_name};

    let server = infra::postgres_url();
    let server = server.split('?').next().unwrap_or_default();
    let server = &server[..server.rfind('/').unwrap_or(server.len())];
    let name = unique_name("relay_missing");
    let url = format!("{server}/{name}");
    let admin_url = format!("{server}/postgres");
    let binary = RunningBinary::start(BINARY, &[("SWITCHYARD__DATABASE__URL", url.as_str())]).await;

    let (status, body) = binary.get("/readyz").await;
    assert_eq!(status, 503, "/readyz without its database: {body}");
    assert!(body.contains(r#""name":"postgres""#), "{body}");
    assert_eq!(binary.get("/healthz").await.0, 200, "alive while not ready");

    let (admin, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| infra::unavailable("PostgreSQL", &admin_url, &e));
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE: {e}"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut last = binary.get("/readyz").await;
    while last.0 != 200 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        last = binary.get("/readyz").await;
    }
    assert_eq!(last.0, 200, "ready once the database exists: {}", last.1);
    drop(binary);
    admin
        .batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await
        .unwrap_or_else(|e| panic!("DROP DATABASE: {e}"));
}
