//! The real `switchyard-audit-writer` binary, started the way an operator starts it.
//!
//! The shared lifecycle checks run with a database of the test's own: the writer's default
//! `database.url` names a `switchyard` database the test server does not have, and its
//! readiness includes the database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use support::BINARY;
use switchyard_testkit::{binary::RunningBinary, postgres::TestDatabase};

#[tokio::test]
async fn starts_serves_health_and_exits_0_on_sigterm() {
    let db = TestDatabase::create().await;
    switchyard_testkit::binary::assert_service_lifecycle_with(
        BINARY,
        "audit-writer",
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
    let db = TestDatabase::create().await;
    switchyard_testkit::binary::assert_readiness_follows_the_broker_with(
        BINARY,
        &[("SWITCHYARD__DATABASE__URL", &db.url)],
    )
    .await;
    db.drop_database().await;
}

#[tokio::test]
async fn starts_without_postgres_reports_it_not_ready_and_still_exits_0() {
    let mut binary = RunningBinary::start(
        BINARY,
        &[
            // Nothing listens on port 1.
            (
                "SWITCHYARD__DATABASE__URL",
                "postgres://postgres@127.0.0.1:1/switchyard",
            ),
            ("SWITCHYARD__DATABASE__CONNECT_TIMEOUT_SECS", "1"),
        ],
    )
    .await;
    let (status, body) = binary.get("/readyz").await;
    assert_eq!(status, 503, "/readyz with PostgreSQL down: {body}");
    assert!(
        body.contains(r#""name":"postgres""#),
        "the failing check is named: {body}"
    );
    assert_eq!(binary.get("/healthz").await.0, 200, "alive while not ready");
    binary.terminate();
    assert_eq!(binary.exit_code(Duration::from_secs(15)).await, Some(0));
}

/// A database not created yet is an operator's next step, not a reason to crash-loop: the
/// writer starts, names the database on `/readyz`, and still exits 0 on SIGTERM.
#[tokio::test]
async fn a_missing_database_is_named_on_readyz() {
    let url = support::with_database(
        &switchyard_testkit::infra::postgres_url(),
        "no_such_db_for_audit",
    );
    let mut binary = RunningBinary::start(BINARY, &[("SWITCHYARD__DATABASE__URL", &url)]).await;
    let (status, body) = binary.get("/readyz").await;
    assert_eq!(status, 503, "/readyz without its database: {body}");
    assert!(body.contains(r#""name":"postgres""#), "{body}");
    assert!(
        body.contains("no_such_db_for_audit"),
        "the database is named: {body}"
    );
    binary.terminate();
    assert_eq!(binary.exit_code(Duration::from_secs(15)).await, Some(0));
}
