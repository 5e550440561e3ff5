//! Configuration writes on PostgreSQL: a write that does not commit leaves no trace in the
//! tables behind the version rules either.

use serde_json::json;
use switchyard_domain::EndpointId;
use switchyard_store::{StoreError, config::Precondition, outbox::Route};

use crate::{at, count, event, migrated, tenant};

fn orders() -> EndpointId {
    EndpointId::parse("orders").unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_write_that_does_not_commit_leaves_no_high_water_row() {
    let (db, store) = migrated().await;
    let refuse = |_version| {
        Err(StoreError::ChangeEvent {
            reason: "refused".into(),
        })
    };
    let refused = store
        .write_endpoint(
            &tenant("acme"),
            &orders(),
            &json!({}),
            Precondition::Absent,
            &refuse,
        )
        .await;
    assert!(matches!(refused, Err(StoreError::ChangeEvent { .. })));
    // Deleting what never existed takes no version either.
    let announce = |version: i64| {
        let change = event(
            "acme",
            &format!("cfg_{version}"),
            "switchyard.config.endpoint.deleted",
            at(0),
        );
        Ok((change, Route::config("endpoint/acme/orders")))
    };
    let deleted = store
        .delete_endpoint(&tenant("acme"), &orders(), &announce)
        .await;
    assert_eq!(deleted.ok(), Some(None));
    assert_eq!(count(&db, "SELECT count(*) FROM config_versions").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM endpoints").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM outbox").await, 0);
    // A committed write keeps its high-water row, also after a delete.
    store
        .write_endpoint(
            &tenant("acme"),
            &orders(),
            &json!({}),
            Precondition::Absent,
            &announce,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let deleted = store
        .delete_endpoint(&tenant("acme"), &orders(), &announce)
        .await;
    assert_eq!(deleted.ok(), Some(Some(2)));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM config_versions WHERE kind = 'endpoint' AND version = 2"
        )
        .await,
        1
    );
    assert_eq!(count(&db, "SELECT count(*) FROM outbox").await, 2);
    db.drop_database().await;
}
