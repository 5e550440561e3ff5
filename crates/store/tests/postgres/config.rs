//! Sources and endpoints: versions that only rise (across delete and re-create), optimistic
//! concurrency, create-only, tenant isolation, and writes that commit or roll back with the
//! configuration event enqueued beside them.

use std::time::Duration;

use serde_json::json;
use switchyard_domain::{EndpointId, SourceId};
use switchyard_store::{
    ConfigRow, Store, StoreError, config,
    outbox::{self, Route},
};

use crate::{count, migrated, tenant};

fn source(id: &str) -> SourceId {
    SourceId::parse(id).unwrap_or_else(|e| panic!("{e}"))
}

fn endpoint(id: &str) -> EndpointId {
    EndpointId::parse(id).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs one write of an endpoint in its own committed transaction.
async fn upsert(
    store: &Store,
    id: &str,
    spec: serde_json::Value,
    expected: Option<i64>,
) -> Result<ConfigRow, StoreError> {
    let mut client = store.client().await.unwrap_or_else(|e| panic!("{e}"));
    let tx = client.transaction().await.unwrap_or_else(|e| panic!("{e}"));
    let row = config::upsert_endpoint(&tx, &tenant("acme"), &endpoint(id), &spec, expected).await;
    if row.is_ok() {
        tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    }
    row
}

async fn delete(store: &Store, id: &str) -> Option<i64> {
    let mut client = store.client().await.unwrap_or_else(|e| panic!("{e}"));
    let tx = client.transaction().await.unwrap_or_else(|e| panic!("{e}"));
    let deleted = config::delete_endpoint(&tx, &tenant("acme"), &endpoint(id))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    deleted
}

#[tokio::test]
async fn versions_rise_with_every_write_and_keep_rising_across_delete_and_recreate() {
    let (db, store) = migrated().await;
    let first = upsert(&store, "orders", json!({"url": "https://a"}), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.version, 1);
    assert_eq!(first.created_at, first.updated_at, "created by this write");
    assert_eq!(
        (first.tenant.as_str(), first.id.as_str()),
        ("acme", "orders")
    );
    let second = upsert(&store, "orders", json!({"url": "https://b"}), Some(1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(second.version, 2);
    assert_eq!(second.created_at, first.created_at);
    assert!(
        second.updated_at > second.created_at,
        "updated by this write"
    );

    assert_eq!(
        delete(&store, "orders").await,
        Some(3),
        "the deletion's own version"
    );
    assert_eq!(
        delete(&store, "orders").await,
        None,
        "nothing left to delete"
    );
    let got = store
        .get_endpoint(&tenant("acme"), &endpoint("orders"))
        .await;
    assert!(matches!(got, Ok(None)), "{got:?}");

    let again = upsert(&store, "orders", json!({"url": "https://c"}), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        again.version, 4,
        "a follower that applied the deletion applies this"
    );
    assert_eq!(again.spec, json!({"url": "https://c"}));
    let stored = store
        .get_endpoint(&tenant("acme"), &endpoint("orders"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored, Some(again));
    db.drop_database().await;
}

#[tokio::test]
async fn a_write_expecting_another_version_is_refused_and_changes_nothing() {
    let (db, store) = migrated().await;
    upsert(&store, "orders", json!({"v": 1}), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    upsert(&store, "orders", json!({"v": 2}), Some(1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let stale = upsert(&store, "orders", json!({"v": "stale"}), Some(1)).await;
    match &stale {
        Err(StoreError::VersionConflict {
            kind,
            expected,
            actual,
            ..
        }) => assert_eq!((*kind, *expected, *actual), ("endpoint", 1, Some(2))),
        other => panic!("expected a version conflict, got {other:?}"),
    }
    assert!(stale.is_err_and(|e| !e.is_transient()));
    let missing = upsert(&store, "absent", json!({}), Some(1)).await;
    assert!(
        matches!(
            missing,
            Err(StoreError::VersionConflict { actual: None, .. })
        ),
        "{missing:?}"
    );
    let stored = store
        .get_endpoint(&tenant("acme"), &endpoint("orders"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        stored.map(|row| (row.version, row.spec)),
        Some((2, json!({"v": 2})))
    );
    assert_eq!(
        upsert(&store, "orders", json!({"v": 3}), None)
            .await
            .map(|row| row.version)
            .ok(),
        Some(3),
        "refused writes took no version"
    );
    db.drop_database().await;
}

#[tokio::test]
async fn create_refuses_an_existing_id_but_not_a_deleted_one() {
    let (db, store) = migrated().await;
    let acme = tenant("acme");
    let razorpay = source("razorpay");
    let spec = json!({"provider": "razorpay", "secrets": ["sealed:v1:abc"]});
    let mut client = store.client().await.unwrap_or_else(|e| panic!("{e}"));

    let tx = client.transaction().await.unwrap_or_else(|e| panic!("{e}"));
    let created = config::create_source(&tx, &acme, &razorpay, &spec)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(created.version, 1);
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));

    let tx = client.transaction().await.unwrap_or_else(|e| panic!("{e}"));
    let again = config::create_source(&tx, &acme, &razorpay, &json!({})).await;
    match &again {
        Err(StoreError::AlreadyExists {
            kind, id, version, ..
        }) => {
            assert_eq!((*kind, id.as_str(), *version), ("source", "razorpay", 1));
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    tx.rollback().await.unwrap_or_else(|e| panic!("{e}"));

    let tx = client.transaction().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config::delete_source(&tx, &acme, &razorpay).await.ok(),
        Some(Some(2))
    );
    let recreated = config::create_source(&tx, &acme, &razorpay, &spec)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(recreated.version, 3);
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    // Sources and endpoints are separate: the same id is free among endpoints.
    let tx = client.transaction().await.unwrap_or_else(|e| panic!("{e}"));
    let endpoint = config::create_endpoint(&tx, &acme, &endpoint("razorpay"), &spec).await;
    assert_eq!(endpoint.map(|row| row.version).ok(), Some(1));
    db.drop_database().await;
}

#[tokio::test]
async fn concurrent_writers_of_one_entity_queue_and_the_second_sees_the_first() {
    let (db, store) = migrated().await;
    upsert(&store, "orders", json!({"v": 1}), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // A holds the entity, uncommitted.
    let mut a_client = store.client().await.unwrap_or_else(|e| panic!("{e}"));
    let a = a_client
        .transaction()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let a_row = config::upsert_endpoint(
        &a,
        &tenant("acme"),
        &endpoint("orders"),
        &json!({"v": "a"}),
        Some(1),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a_row.version, 2);
    // B read version 1 too and writes expecting it: it must wait for A...
    let b_store = store.clone();
    let b =
        tokio::spawn(async move { upsert(&b_store, "orders", json!({"v": "b"}), Some(1)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!b.is_finished(), "B did not wait for A's transaction");
    a.commit().await.unwrap_or_else(|e| panic!("{e}"));
    // ...and then find version 2, not overwrite it.
    let b = b.await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(
            b,
            Err(StoreError::VersionConflict {
                actual: Some(2),
                ..
            })
        ),
        "{b:?}"
    );
    // Two unconditional writers both succeed, one after the other, with distinct versions.
    let (x, y) = tokio::join!(
        upsert(&store, "orders", json!({"v": "x"}), None),
        upsert(&store, "orders", json!({"v": "y"}), None),
    );
    let mut versions = [
        x.map(|row| row.version).unwrap_or_default(),
        y.map(|row| row.version).unwrap_or_default(),
    ];
    versions.sort_unstable();
    assert_eq!(versions, [3, 4]);
    db.drop_database().await;
}

#[tokio::test]
async fn a_rolled_back_write_leaves_neither_the_row_nor_its_event_nor_a_version() {
    let (db, store) = migrated().await;
    let mut client = store.client().await.unwrap_or_else(|e| panic!("{e}"));
    let tx = client.transaction().await.unwrap_or_else(|e| panic!("{e}"));
    let row = config::create_endpoint(&tx, &tenant("acme"), &endpoint("orders"), &json!({}))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let change = crate::event(
        "acme",
        "cfg_endpoint_orders_1",
        "switchyard.config.endpoint.created",
        crate::at(0),
    );
    outbox::enqueue_routed(&tx, &change, &Route::config("endpoint/acme/orders"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(row.version, 1);
    tx.rollback().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(count(&db, "SELECT count(*) FROM endpoints").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM outbox").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM config_versions").await, 0);
    let row = upsert(&store, "orders", json!({}), None).await;
    assert_eq!(row.map(|row| row.version).ok(), Some(1));
    db.drop_database().await;
}

#[tokio::test]
async fn listing_pages_by_id_within_one_tenant() {
    let (db, store) = migrated().await;
    let mut client = store.client().await.unwrap_or_else(|e| panic!("{e}"));
    let tx = client.transaction().await.unwrap_or_else(|e| panic!("{e}"));
    for (t, id) in [
        ("acme", "s3"),
        ("acme", "s1"),
        ("globex", "s0"),
        ("acme", "s2"),
        ("acme", "S9"),
        ("globex", "s4"),
    ] {
        config::upsert_source(&tx, &tenant(t), &source(id), &json!({"id": id}), None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    let acme = tenant("acme");
    let ids = |rows: Vec<ConfigRow>| rows.into_iter().map(|row| row.id).collect::<Vec<_>>();
    let first = store
        .list_sources(&acme, 2, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ids(first), ["S9", "s1"], "byte order: upper case first");
    let rest = store
        .list_sources(&acme, 2, Some(&source("s1")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ids(rest), ["s2", "s3"]);
    let end = store
        .list_sources(&acme, 2, Some(&source("s3")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(end.is_empty());
    let other = store
        .get_source(&tenant("globex"), &source("s1"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(other, None, "another tenant's id is not visible");
    assert!(
        store
            .list_endpoints(&acme, 10, None)
            .await
            .is_ok_and(|rows| rows.is_empty())
    );
    db.drop_database().await;
}

#[tokio::test]
async fn a_spec_jsonb_cannot_hold_is_refused_before_anything_is_written() {
    let (db, store) = migrated().await;
    let result = upsert(&store, "orders", json!({"url": "nul\u{0}"}), None).await;
    assert!(
        matches!(&result, Err(StoreError::Unstorable { id, .. }) if id == "orders"),
        "{result:?}"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM endpoints").await, 0);
    db.drop_database().await;
}
