use bytes::Bytes;
use switchyard_domain::wire::{DeliveryAttempt, delivery_attempt::Outcome};

use crate::{count, event_id, migrated, tenant};

fn attempt(tenant: &str, event: &str, n: u32, outcome: Outcome) -> DeliveryAttempt {
    DeliveryAttempt {
        attempt_id: format!("att_{event}_{n}"),
        tenant: tenant.into(),
        event_id: event.into(),
        event_type: "razorpay.payment.captured".into(),
        endpoint_id: "orders".into(),
        url: "https://orders.example/hooks".into(),
        attempt: n,
        outcome: outcome.into(),
        response_status: if outcome == Outcome::Succeeded {
            200
        } else {
            503
        },
        error: if outcome == Outcome::Succeeded {
            String::new()
        } else {
            "503 Service Unavailable".into()
        },
        response_body_excerpt: Bytes::from_static(&[0xde, 0xad, 0x00, 0xbe, 0xef]),
        // Whole microseconds: what timestamptz keeps.
        attempted_at: Some(prost_types::Timestamp {
            seconds: 1_700_000_000 + i64::from(n) * 60,
            nanos: 123_456_000,
        }),
        duration_ms: 15_000,
        next_attempt_at: (outcome == Outcome::Retrying).then_some(prost_types::Timestamp {
            seconds: 1_700_000_300 + i64::from(n) * 60,
            nanos: 0,
        }),
    }
}

#[tokio::test]
async fn attempts_are_stored_once_and_listed_per_event_in_order() {
    let (db, store) = migrated().await;
    let e1 = [
        attempt("acme", "evt_1", 2, Outcome::Retrying),
        attempt("acme", "evt_1", 1, Outcome::Retrying),
        attempt("acme", "evt_1", 3, Outcome::Succeeded),
    ];
    let e2 = attempt("acme", "evt_2", 1, Outcome::Exhausted);
    let mut first = e1.to_vec();
    first.push(e2.clone());
    first.push(e1[0].clone());
    assert_eq!(store.insert_delivery_attempts(&first).await.ok(), Some(4));
    assert_eq!(store.insert_delivery_attempts(&first).await.ok(), Some(0));
    let more = [e2, attempt("acme", "evt_2", 2, Outcome::Skipped)];
    assert_eq!(store.insert_delivery_attempts(&more).await.ok(), Some(1));
    assert_eq!(
        count(&db, "SELECT count(*) FROM delivery_attempts").await,
        5
    );

    let listed = store
        .list_deliveries(&tenant("acme"), &event_id("evt_1"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(listed, [e1[1].clone(), e1[0].clone(), e1[2].clone()]);
    assert_eq!(listed[2].outcome(), Outcome::Succeeded);
    db.drop_database().await;
}

#[tokio::test]
async fn a_tenant_never_sees_another_tenants_deliveries() {
    let (db, store) = migrated().await;
    store
        .insert_delivery_attempts(&[attempt("tenant-a", "evt_1", 1, Outcome::Succeeded)])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let other = store
        .list_deliveries(&tenant("tenant-b"), &event_id("evt_1"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(other.is_empty());
    let own = store
        .list_deliveries(&tenant("tenant-a"), &event_id("evt_1"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(own.len(), 1);
    db.drop_database().await;
}
