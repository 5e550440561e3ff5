use switchyard_runtime::health::ReadinessCheck;
use switchyard_store::{Store, StoreError};
use switchyard_testkit::postgres::TestDatabase;

use crate::{connect, count, migrated, settings};

const MIGRATION_COUNT: i64 = 5;

#[tokio::test]
async fn migrate_applies_everything_once_and_then_nothing() {
    let db = TestDatabase::create().await;
    let store = connect(&db).await;
    let first = store.migrate().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.len() as i64, MIGRATION_COUNT);
    assert_eq!(first.first().map(|m| m.name), Some("events"));
    let second = store.migrate().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(second.is_empty(), "re-run applied {second:?}");
    assert_eq!(
        count(&db, "SELECT count(*) FROM schema_migrations").await,
        MIGRATION_COUNT
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM schema_migrations WHERE length(checksum) = 64 AND applied_at <= now()"
        )
        .await,
        MIGRATION_COUNT
    );
    db.drop_database().await;
}

#[tokio::test]
async fn replicas_migrating_a_fresh_database_together_apply_each_migration_once() {
    let db = TestDatabase::create().await;
    // Separate stores, so separate connections: two replicas starting at the same moment.
    let (a, b) = (connect(&db).await, connect(&db).await);
    let (ran_a, ran_b) = tokio::join!(
        tokio::spawn(async move { a.migrate().await }),
        tokio::spawn(async move { b.migrate().await }),
    );
    let ran_a = ran_a
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("replica a: {e}"));
    let ran_b = ran_b
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("replica b: {e}"));
    assert_eq!((ran_a.len() + ran_b.len()) as i64, MIGRATION_COUNT);
    assert!(
        ran_a.is_empty() || ran_b.is_empty(),
        "both replicas applied migrations: {ran_a:?} / {ran_b:?}"
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM schema_migrations").await,
        MIGRATION_COUNT
    );
    db.drop_database().await;
}

#[tokio::test]
async fn an_applied_migration_that_changed_stops_start_up() {
    let (db, store) = migrated().await;
    db.client()
        .await
        .execute(
            "UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = 2",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let error = store.migrate().await.err();
    match &error {
        Some(StoreError::MigrationChecksum { version, name, .. }) => {
            assert_eq!((*version, name.as_str()), (2, "delivery_attempts"));
        }
        other => panic!("expected a checksum mismatch, got {other:?}"),
    }
    assert!(error.is_some_and(|e| !e.is_transient()));
    db.drop_database().await;
}

#[tokio::test]
async fn a_missing_database_is_named_in_the_connect_error() {
    let db = TestDatabase::create().await;
    let missing = format!("{}_absent", db.name);
    let url = db.url.replace(&db.name, &missing);
    let error = Store::connect(&settings(&url)).await.err();
    match &error {
        Some(StoreError::DatabaseMissing { name }) => assert_eq!(name, &missing),
        other => panic!("expected DatabaseMissing, got {other:?}"),
    }
    let message = error.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains(&missing), "{message}");
    db.drop_database().await;
}

#[tokio::test]
async fn settings_that_cannot_work_are_refused_with_the_key_named() {
    let mut bad = settings("postgres://postgres@127.0.0.1:5432/x");
    bad.pool_size = 0;
    let error = Store::connect(&bad).await.err().map(|e| e.to_string());
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("database.pool_size")),
        "{error:?}"
    );
    let error = Store::connect(&settings("mysql://nope"))
        .await
        .err()
        .map(|e| e.to_string());
    assert!(
        error.as_deref().is_some_and(|e| e.contains("database.url")),
        "{error:?}"
    );
}

#[tokio::test]
async fn readiness_is_green_while_the_database_answers_and_red_once_it_is_gone() {
    let db = TestDatabase::create().await;
    let store = connect(&db).await;
    let check = store.readiness_check();
    assert_eq!(check.name(), "postgres");
    assert_eq!(check.check().await, Ok(()));
    db.drop_database().await;
    let failed = check.check().await;
    assert!(failed.is_err(), "readiness stayed green: {failed:?}");
}
