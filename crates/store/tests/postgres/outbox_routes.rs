//! Routed outbox rows on PostgreSQL: the table refuses half a route written by hand, and an
//! undecodable routed row keeps its route when set aside.

use switchyard_store::{
    StoreError,
    outbox::{self, Route},
};

use crate::{count, outbox::ev};

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
async fn the_table_refuses_half_a_route_and_the_functions_refuse_a_bad_one() {
    let (db, store) = crate::migrated().await;
    let client = crate::pg(&store)
        .client()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
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
    let client = crate::pg(&store)
        .client()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let route = Route::config("endpoint/acme/orders");
    outbox::enqueue_routed(&client, &config_event("acme", 1), &route)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    db.client()
        .await
        .execute("UPDATE outbox SET type = 'Not A Type!'", &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut client = crate::pg(&store)
        .client()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
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
