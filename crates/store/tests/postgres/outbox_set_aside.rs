//! Outbox rows that no longer decode: claimed apart from the rest, with the reason and what
//! could be read of them, and set aside so their tenant's later rows are published.

use std::time::Duration;

use switchyard_store::{StoreError, outbox};

use crate::{
    count,
    outbox::{enqueue_committed, ev, pending, publish_once},
};

#[tokio::test]
async fn an_undecodable_row_is_claimed_apart_set_aside_and_no_longer_holds_its_tenant() {
    let (db, store) = crate::migrated().await;
    let events: Vec<_> = (0..5)
        .map(|n| ev("acme", n))
        .chain((0..2).map(|n| ev("beta", n)))
        .collect();
    enqueue_committed(&store, &events).await;
    // Two kinds of damage: a value the driver cannot read as the column's Rust type, and one
    // it reads but the domain's rules refuse.
    let admin = db.client().await;
    admin
        .batch_execute(
            "UPDATE outbox SET extensions = '{\"shard\": 7}' WHERE id = 'evt_acme_001';
             UPDATE outbox SET type = 'Not A Type!' WHERE id = 'evt_acme_003';",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let mut batch = store
        .claim_outbox(10)
        .await
        .unwrap_or_else(|e| panic!("a bad row must not fail the claim: {e}"));
    let claimed = batch.claimed();
    let ids: Vec<&str> = claimed
        .entries
        .iter()
        .map(|entry| entry.event.id().as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "evt_acme_000",
            "evt_acme_002",
            "evt_acme_004",
            "evt_beta_000",
            "evt_beta_001"
        ],
        "every other row, in seq order"
    );
    assert_eq!(claimed.len(), 7);
    let [bad_extensions, bad_type] = claimed.undecodable.as_slice() else {
        panic!("two undecodable rows expected: {:?}", claimed.undecodable);
    };
    assert!(bad_extensions.seq < bad_type.seq);
    for (row, id, needle) in [
        (bad_extensions, "evt_acme_001", "column extensions"),
        (bad_type, "evt_acme_003", "Not A Type!"),
    ] {
        assert!(
            matches!(row.error, StoreError::CorruptRow { .. }),
            "{:?}",
            row.error
        );
        let reason = row.error.to_string();
        assert!(
            reason.contains(needle) && reason.contains("acme"),
            "{reason}"
        );
        assert!(!row.error.is_transient());
        assert_eq!(row.record.key.as_deref(), Some(&b"acme"[..]));
        assert_eq!(row.record.headers.get_str("ce_id"), Some(id));
        assert_eq!(row.record.headers.get_str("ce_tenant"), Some("acme"));
        assert!(row.record.headers.get_str("ce_specversion").is_none());
        assert_eq!(
            row.record.headers.get_str("content-type"),
            Some("application/json")
        );
        assert_eq!(
            row.record.payload.as_ref(),
            format!(r#"{{"id":"{id}"}}"#).as_bytes()
        );
    }
    assert_eq!(bad_extensions.record.headers.get_str("ce_shard"), Some("7"));
    assert_eq!(
        bad_type.record.headers.get_str("ce_type"),
        Some("Not A Type!")
    );

    batch.mark().await.unwrap_or_else(|e| panic!("{e}"));
    let committed = batch.commit().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(committed.undecodable.len(), 2);

    assert_eq!(pending(&db).await, 0, "nothing left for a claim");
    assert!(publish_once(&store, 10).await.is_empty());
    let failed = admin
        .query(
            "SELECT id, failure, extensions::text FROM outbox_failed ORDER BY seq",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let failed: Vec<(String, String, String)> = failed
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0].0, "evt_acme_001");
    assert!(failed[0].1.contains("column extensions"), "{failed:?}");
    assert_eq!(failed[0].2, r#"{"shard": 7}"#, "kept as it was, for repair");
    assert_eq!(failed[1].0, "evt_acme_003");
    // Pruning is for published rows: a set-aside row waits for an operator.
    assert_eq!(
        store.prune_published(Duration::ZERO, 10).await.ok(),
        Some(5)
    );
    assert_eq!(count(&db, "SELECT count(*) FROM outbox_failed").await, 2);
    db.drop_database().await;
}

#[tokio::test]
async fn an_undecodable_row_left_pending_is_claimed_again() {
    let (db, store) = crate::migrated().await;
    enqueue_committed(&store, &[ev("acme", 0), ev("acme", 1)]).await;
    db.client()
        .await
        .batch_execute("UPDATE outbox SET tenant = 'no spaces allowed' WHERE id = 'evt_acme_000'")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..2 {
        let mut client = crate::pg(&store)
            .client()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let tx = client.transaction().await.unwrap_or_else(|e| panic!("{e}"));
        let claimed = outbox::claim_batch(&tx, 10)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(claimed.undecodable.len(), 1);
        assert_eq!(claimed.entries.len(), 1);
        // A relay that fails before setting it aside: the row is still there next time.
        tx.rollback().await.unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(pending(&db).await, 2);
    db.drop_database().await;
}
