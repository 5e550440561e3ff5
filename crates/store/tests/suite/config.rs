//! Sources and endpoints: versions that only rise (across delete and re-create), optimistic
//! concurrency, create-only, tenant isolation, and writes that commit together with their
//! change event or not at all.

use serde_json::json;
use switchyard_domain::{EndpointId, Event, SourceId};
use switchyard_store::{
    ConfigRow, Store, StoreError,
    config::Precondition,
    outbox::{OutboxEntry, Route},
};

use crate::{
    at, event,
    outbox::{pending, publish_once},
    tenant,
};

fn source(id: &str) -> SourceId {
    SourceId::parse(id).unwrap_or_else(|e| panic!("{e}"))
}

fn endpoint(id: &str) -> EndpointId {
    EndpointId::parse(id).unwrap_or_else(|e| panic!("{e}"))
}

/// The change event of version `version` of `kind` `id`: its id and subject name both.
fn change(kind: &str, id: &str, version: i64) -> Result<(Event, Route), StoreError> {
    let event = event(
        "acme",
        &format!("cfg_{kind}_{id}_{version}"),
        &format!("switchyard.config.{kind}.changed"),
        at(0),
    );
    Ok((event, Route::config(format!("{kind}/acme/{id}"))))
}

/// Writes endpoint `id` of `acme` with its change event.
async fn upsert(
    store: &Store,
    id: &str,
    spec: serde_json::Value,
    expected: Option<i64>,
) -> Result<ConfigRow, StoreError> {
    let precondition = expected.map_or(Precondition::Any, Precondition::AtVersion);
    let announce = |version| change("endpoint", id, version);
    store
        .write_endpoint(
            &tenant("acme"),
            &endpoint(id),
            &spec,
            precondition,
            &announce,
        )
        .await
}

async fn delete(store: &Store, id: &str) -> Option<i64> {
    let announce = |version| change("endpoint", id, version);
    store
        .delete_endpoint(&tenant("acme"), &endpoint(id), &announce)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn change_ids(published: &[OutboxEntry]) -> Vec<&str> {
    published.iter().map(|e| e.event.id().as_str()).collect()
}

pub async fn versions_rise_with_every_write_and_keep_rising_across_delete_and_recreate(
    store: Store,
) {
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
}

pub async fn every_write_enqueues_its_change_with_the_version_it_produced(store: Store) {
    upsert(&store, "orders", json!({"v": 1}), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    upsert(&store, "orders", json!({"v": 2}), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(delete(&store, "orders").await, Some(3));
    let announce = |version| change("source", "razorpay", version);
    store
        .write_source(
            &tenant("acme"),
            &source("razorpay"),
            &json!({}),
            Precondition::Absent,
            &announce,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let published = publish_once(&store, 10).await;
    assert_eq!(
        change_ids(&published),
        [
            "cfg_endpoint_orders_1",
            "cfg_endpoint_orders_2",
            "cfg_endpoint_orders_3",
            "cfg_source_razorpay_1"
        ],
        "one change per write, in commit order"
    );
    assert_eq!(
        published[0].route,
        Some(Route::config("endpoint/acme/orders"))
    );
    assert_eq!(
        published[3].route,
        Some(Route::config("source/acme/razorpay"))
    );
}

pub async fn a_write_expecting_another_version_is_refused_and_changes_nothing(store: Store) {
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
    assert_eq!(pending(&store).await, 2, "refused writes announced nothing");
    assert_eq!(
        upsert(&store, "orders", json!({"v": 3}), None)
            .await
            .map(|row| row.version)
            .ok(),
        Some(3),
        "refused writes took no version"
    );
}

pub async fn create_refuses_an_existing_id_but_not_a_deleted_one(store: Store) {
    let acme = tenant("acme");
    let razorpay = source("razorpay");
    let spec = json!({"provider": "razorpay", "secrets": ["sealed:v1:abc"]});
    let announce = |version| change("source", "razorpay", version);
    let create = |spec: serde_json::Value| {
        let (store, acme, razorpay) = (store.clone(), acme.clone(), razorpay.clone());
        async move {
            store
                .write_source(&acme, &razorpay, &spec, Precondition::Absent, &announce)
                .await
        }
    };
    let created = create(spec.clone()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(created.version, 1);
    match &create(json!({})).await {
        Err(StoreError::AlreadyExists {
            kind, id, version, ..
        }) => {
            assert_eq!((*kind, id.as_str(), *version), ("source", "razorpay", 1));
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(
        store.delete_source(&acme, &razorpay, &announce).await.ok(),
        Some(Some(2))
    );
    let recreated = create(spec.clone()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(recreated.version, 3);
    // Sources and endpoints are separate: the same id is free among endpoints.
    let endpoint_announce = |version| change("endpoint", "razorpay", version);
    let endpoint = store
        .write_endpoint(
            &acme,
            &endpoint("razorpay"),
            &spec,
            Precondition::Absent,
            &endpoint_announce,
        )
        .await;
    assert_eq!(endpoint.map(|row| row.version).ok(), Some(1));
}

pub async fn concurrent_writers_of_one_entity_never_both_pass_one_version_check(store: Store) {
    upsert(&store, "orders", json!({"v": 1}), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Both read version 1 and write expecting it: exactly one may win.
    let (a, b) = tokio::join!(
        upsert(&store, "orders", json!({"v": "a"}), Some(1)),
        upsert(&store, "orders", json!({"v": "b"}), Some(1)),
    );
    let (won, lost) = match (a, b) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
        other => panic!("expected one winner and one conflict: {other:?}"),
    };
    assert_eq!(won.version, 2);
    assert!(
        matches!(
            lost,
            StoreError::VersionConflict {
                actual: Some(2),
                ..
            }
        ),
        "{lost:?}"
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
}

pub async fn a_refused_change_event_leaves_neither_the_row_nor_its_event_nor_a_version(
    store: Store,
) {
    let refuse = |_version| {
        Err(StoreError::ChangeEvent {
            reason: "no event for you".into(),
        })
    };
    let result = store
        .write_endpoint(
            &tenant("acme"),
            &endpoint("orders"),
            &json!({}),
            Precondition::Absent,
            &refuse,
        )
        .await;
    assert!(
        matches!(&result, Err(StoreError::ChangeEvent { reason }) if reason == "no event for you"),
        "{result:?}"
    );
    // An event the store cannot hold is refused the same way.
    let unstorable = |version| {
        let (event, route) = change("endpoint", "orders", version)?;
        let event = event
            .to_builder()
            .extension("bad", "nul\0")
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        Ok((event, route))
    };
    let result = store
        .write_endpoint(
            &tenant("acme"),
            &endpoint("orders"),
            &json!({}),
            Precondition::Any,
            &unstorable,
        )
        .await;
    assert!(
        matches!(result, Err(StoreError::Unstorable { .. })),
        "{result:?}"
    );
    assert!(
        store
            .list_endpoints(&tenant("acme"), 10, None)
            .await
            .is_ok_and(|rows| rows.is_empty())
    );
    assert_eq!(pending(&store).await, 0);
    let row = upsert(&store, "orders", json!({}), None).await;
    assert_eq!(row.map(|row| row.version).ok(), Some(1));
}

pub async fn listing_pages_by_id_within_one_tenant(store: Store) {
    for (t, id) in [
        ("acme", "s3"),
        ("acme", "s1"),
        ("globex", "s0"),
        ("acme", "s2"),
        ("acme", "S9"),
        ("globex", "s4"),
    ] {
        let announce = |version| change("source", id, version);
        store
            .write_source(
                &tenant(t),
                &source(id),
                &json!({"id": id}),
                Precondition::Any,
                &announce,
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
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
}

pub async fn a_spec_jsonb_cannot_hold_is_refused_before_anything_is_written(store: Store) {
    let result = upsert(&store, "orders", json!({"url": "nul\u{0}"}), None).await;
    assert!(
        matches!(&result, Err(StoreError::Unstorable { id, .. }) if id == "orders"),
        "{result:?}"
    );
    assert!(
        store
            .list_endpoints(&tenant("acme"), 10, None)
            .await
            .is_ok_and(|rows| rows.is_empty())
    );
    assert_eq!(pending(&store).await, 0);
}
