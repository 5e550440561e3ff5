//! Routed outbox rows: enqueued beside plain ones, claimed with their route in the same
//! per-tenant order, set aside with it, and refused when no broker could take them.

use switchyard_domain::CONFIG_SUFFIX;
use switchyard_store::{
    StoreError,
    outbox::{self, EnqueueOutcome, Route},
};

use crate::{
    count,
    outbox::{ev, pending, publish_once},
};

/// A configuration change with the id [`ev`] would give row `n`.
fn config_event(tenant: &str, n: usize) -> switchyard_domain::Event {
    crate::event(
        tenant,
        &format!("evt_{tenant}_{n:03}"),
        "switchyard.config.endpoint.updated",
        crate::at(1_700_000_000_000_000),
    )
}

#[tokio::test]
async fn routed_rows_are_claimed_with_their_route_in_order_among_plain_ones() {
    let (db, store) = crate::migrated().await;
    let route = Route::config("endpoint/acme/orders");
    assert_eq!(route.topic_suffix, CONFIG_SUFFIX);
    let mut client = store.client().await.unwrap_or_else(|e| panic!("{e}"));
    let tx = client.transaction().await.unwrap_or_else(|e| panic!("{e}"));
    for n in 0..6 {
        let outcome = if n % 2 == 1 {
            outbox::enqueue_routed(&tx, &config_event("acme", n), &route).await
        } else {
            outbox::enqueue(&tx, &ev("acme", n)).await
        };
        assert_eq!(outcome.ok(), Some(EnqueueOutcome::Inserted), "row {n}");
    }
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));

    let claimed = publish_once(&store, 10).await;
    let seen: Vec<(&str, Option<&Route>)> = claimed
        .iter()
        .map(|entry| (entry.event.id().as_str(), entry.route.as_ref()))
        .collect();
    assert_eq!(
        seen,
        [
            ("evt_acme_000", None),
            ("evt_acme_001", Some(&route)),
            ("evt_acme_002", None),
            ("evt_acme_003", Some(&route)),
            ("evt_acme_004", None),
            ("evt_acme_005", Some(&route)),
        ],
        "seq order, each with its own route"
    );
    assert_eq!(
        claimed[1].event,
        config_event("acme", 1),
        "the event round-trips"
    );
    assert_eq!(pending(&db).await, 0);
    db.drop_database().await;
}

#[tokio::test]
async fn a_routed_event_shares_its_tenants_idempotency_keys() {
    let (db, store) = crate::migrated().await;
    let client = store.client().await.unwrap_or_else(|e| panic!("{e}"));
    let event = config_event("acme", 1);
    let route = Route::config("source/acme/razorpay");
    assert_eq!(
        outbox::enqueue_routed(&client, &event, &route).await.ok(),
        Some(EnqueueOutcome::Inserted)
    );
    assert_eq!(
        outbox::enqueue_routed(&client, &event, &route).await.ok(),
        Some(EnqueueOutcome::AlreadyEnqueued)
    );
    // The same id unrouted is the same key: the first row stays as it was.
    assert_eq!(
        outbox::enqueue(&client, &event).await.ok(),
        Some(EnqueueOutcome::AlreadyEnqueued)
    );
    let claimed = publish_once(&store, 10).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].route.as_ref(), Some(&route));
    db.drop_database().await;
}

#[tokio::test]
async fn a_route_no_broker_could_take_is_refused_before_anything_is_written() {
    let (db, store) = crate::migrated().await;
    let client = store.client().await.unwrap_or_else(|e| panic!("{e}"));
    let event = config_event("acme", 1);
    for route in [
        Route {
            topic_suffix: String::new(),
            key: "k".into(),
        },
        Route {
            topic_suffix: "con fig".into(),
            key: "k".into(),
        },
        Route {
            topic_suffix: "x".repeat(Route::MAX_SUFFIX_LEN + 1),
            key: "k".into(),
        },
        Route::config(""),
        Route::config("nul\0key"),
    ] {
        let result = outbox::enqueue_routed(&client, &event, &route).await;
        assert!(
            matches!(&result, Err(StoreError::Unstorable { id, .. }) if id == "evt_acme_001"),
            "{route:?}: {result:?}"
        );
    }
    assert_eq!(count(&db, "SELECT count(*) FROM outbox").await, 0);
    // The table refuses half a route written by hand, too.
    outbox::enqueue(&client, &ev("acme", 2))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let half = db
        .client()
        .await
        .execute("UPDATE outbox SET topic = 'config'", &[])
        .await;
    assert!(
        half.as_ref().is_err_and(|e| e
            .as_db_error()
            .is_some_and(|db| db.constraint() == Some("outbox_route_whole"))),
        "{half:?}"
    );
    db.drop_database().await;
}

#[tokio::test]
async fn an_undecodable_routed_row_keeps_its_route_when_set_aside() {
    let (db, store) = crate::migrated().await;
    let client = store.client().await.unwrap_or_else(|e| panic!("{e}"));
    let route = Route::config("endpoint/acme/orders");
    outbox::enqueue_routed(&client, &config_event("acme", 1), &route)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    db.client()
        .await
        .execute("UPDATE outbox SET type = 'Not A Type!'", &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut client = store.client().await.unwrap_or_else(|e| panic!("{e}"));
    let tx = client.transaction().await.unwrap_or_else(|e| panic!("{e}"));
    let claimed = outbox::claim_batch(&tx, 10)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let [row] = claimed.undecodable.as_slice() else {
        panic!("one undecodable row expected: {claimed:?}");
    };
    assert_eq!(row.route.as_ref(), Some(&route));
    assert_eq!(
        row.record.key.as_deref(),
        Some(&b"endpoint/acme/orders"[..]),
        "the record to dead-letter carries the route's key"
    );
    outbox::set_aside(&tx, &claimed.undecodable)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM outbox_failed \
             WHERE topic = 'config' AND key = 'endpoint/acme/orders'"
        )
        .await,
        1
    );
    db.drop_database().await;
}
