//! The outbox through the store's units of work: atomic batches, idempotency, routes, claims
//! that commit, release or vanish, pruning, the backlog and wake-ups.

use std::{sync::Arc, time::Duration};

use switchyard_domain::{CONFIG_SUFFIX, Event};
use switchyard_runtime::Shutdown;
use switchyard_store::{
    Store, StoreError,
    outbox::{EnqueueOutcome, OutboxEntry, Route},
};
use tokio::sync::Notify;

use crate::{at, event, tenant};

const T0: i64 = 1_700_000_000_000_000;

pub fn ev(tenant: &str, n: usize) -> Event {
    event(
        tenant,
        &format!("evt_{tenant}_{n:03}"),
        "app.order.created",
        at(T0),
    )
}

/// A configuration change with the id [`ev`] would give row `n`.
fn config_event(tenant: &str, n: usize) -> Event {
    event(
        tenant,
        &format!("evt_{tenant}_{n:03}"),
        "switchyard.config.endpoint.updated",
        at(T0),
    )
}

/// Enqueues `events` in one unit of work; every one must be new.
pub async fn enqueue_all(store: &Store, events: &[Event]) {
    let refs: Vec<&Event> = events.iter().collect();
    let outcomes = store.enqueue(&refs).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        outcomes.iter().all(|o| *o == EnqueueOutcome::Inserted),
        "{outcomes:?}"
    );
}

/// Claims, marks everything claimed and commits: one clean relay iteration.
pub async fn publish_once(store: &Store, limit: u32) -> Vec<OutboxEntry> {
    let mut batch = store
        .claim_outbox(limit)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(batch.claimed().undecodable.is_empty(), "{batch:?}");
    batch.mark().await.unwrap_or_else(|e| panic!("{e}"));
    batch
        .commit()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .entries
}

pub async fn pending(store: &Store) -> i64 {
    store
        .outbox_backlog(1_000_000)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .pending
}

fn events_of(entries: &[OutboxEntry]) -> Vec<Event> {
    entries.iter().map(|entry| entry.event.clone()).collect()
}

pub async fn an_enqueued_batch_is_claimed_in_order_and_published_once(store: Store) {
    let events = [ev("acme", 1), ev("beta", 1), ev("acme", 2), ev("beta", 2)];
    enqueue_all(&store, &events).await;
    assert_eq!(pending(&store).await, 4);
    let published = publish_once(&store, 10).await;
    assert_eq!(
        events_of(&published),
        events,
        "enqueue order, byte for byte"
    );
    assert!(published.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(published.iter().all(|entry| entry.route.is_none()));
    assert!(publish_once(&store, 10).await.is_empty());
    assert_eq!(pending(&store).await, 0);
}

pub async fn enqueueing_the_same_tenant_and_id_again_is_already_enqueued(store: Store) {
    let first = ev("acme", 1);
    enqueue_all(&store, std::slice::from_ref(&first)).await;
    let again = first
        .to_builder()
        .data(None, "a retried request with another body")
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        store.enqueue(&[&again]).await.ok(),
        Some(vec![EnqueueOutcome::AlreadyEnqueued])
    );
    // Another tenant may use the same id.
    let other = Event::builder(
        tenant("globex"),
        first.id().clone(),
        "/globex/app",
        first.event_type().clone(),
    )
    .build()
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        store.enqueue(&[&other]).await.ok(),
        Some(vec![EnqueueOutcome::Inserted])
    );
    let published = publish_once(&store, 10).await;
    assert_eq!(published.len(), 2);
    assert_eq!(
        published[0].event, first,
        "the first enqueue wins, byte for byte"
    );
    // Still a duplicate once published: the key lives until the row is pruned.
    assert_eq!(
        store.enqueue(&[&first]).await.ok(),
        Some(vec![EnqueueOutcome::AlreadyEnqueued])
    );
}

pub async fn a_repeat_within_one_batch_is_already_enqueued(store: Store) {
    let first = ev("acme", 1);
    let repeat = first
        .to_builder()
        .data(None, "same id, other body")
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let second = ev("acme", 2);
    let outcomes = store
        .enqueue(&[&first, &repeat, &second])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        outcomes,
        [
            EnqueueOutcome::Inserted,
            EnqueueOutcome::AlreadyEnqueued,
            EnqueueOutcome::Inserted
        ]
    );
    assert_eq!(events_of(&publish_once(&store, 10).await), [first, second]);
}

pub async fn an_event_that_cannot_be_stored_fails_the_whole_batch(store: Store) {
    let poison = ev("acme", 2)
        .to_builder()
        .extension("bad", "nul\0inside")
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let result = store.enqueue(&[&ev("acme", 1), &poison]).await;
    assert!(
        matches!(&result, Err(StoreError::Unstorable { id, .. }) if id == "evt_acme_002"),
        "{result:?}"
    );
    assert!(result.is_err_and(|e| !e.is_transient()));
    assert_eq!(pending(&store).await, 0);
    // Nothing of the batch was kept, not even its idempotency keys.
    enqueue_all(&store, &[ev("acme", 1)]).await;
}

pub async fn routed_rows_are_claimed_with_their_route_in_order_among_plain_ones(store: Store) {
    let route = Route::config("endpoint/acme/orders");
    assert_eq!(route.topic_suffix, CONFIG_SUFFIX);
    for n in 0..6 {
        let outcome = if n % 2 == 1 {
            store.enqueue_routed(&config_event("acme", n), &route).await
        } else {
            store
                .enqueue(&[&ev("acme", n)])
                .await
                .map(|outcomes| outcomes[0])
        };
        assert_eq!(outcome.ok(), Some(EnqueueOutcome::Inserted), "row {n}");
    }
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
    assert_eq!(claimed[1].event, config_event("acme", 1));
    assert_eq!(pending(&store).await, 0);
}

pub async fn a_routed_event_shares_its_tenants_idempotency_keys(store: Store) {
    let event = config_event("acme", 1);
    let route = Route::config("source/acme/razorpay");
    assert_eq!(
        store.enqueue_routed(&event, &route).await.ok(),
        Some(EnqueueOutcome::Inserted)
    );
    assert_eq!(
        store.enqueue_routed(&event, &route).await.ok(),
        Some(EnqueueOutcome::AlreadyEnqueued)
    );
    // The same id unrouted is the same key: the first row stays as it was.
    assert_eq!(
        store.enqueue(&[&event]).await.ok(),
        Some(vec![EnqueueOutcome::AlreadyEnqueued])
    );
    let claimed = publish_once(&store, 10).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].route.as_ref(), Some(&route));
}

pub async fn a_route_no_broker_could_take_is_refused_before_anything_is_written(store: Store) {
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
        let result = store.enqueue_routed(&event, &route).await;
        assert!(
            matches!(&result, Err(StoreError::Unstorable { id, .. }) if id == "evt_acme_001"),
            "{route:?}: {result:?}"
        );
    }
    assert_eq!(pending(&store).await, 0);
}

pub async fn a_released_claim_leaves_the_rows_to_be_published_again(store: Store) {
    enqueue_all(&store, &[ev("acme", 1), ev("acme", 2)]).await;
    let batch = store
        .claim_outbox(10)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let claimed = batch.claimed().entries.clone();
    assert_eq!(claimed.len(), 2);
    // The publish failed: nothing is marked, the tenant is free again.
    batch.release().await;
    let again = publish_once(&store, 10).await;
    assert_eq!(
        again, claimed,
        "same rows, same event ids: a duplicate, not a loss"
    );
}

pub async fn a_dropped_claim_leaves_the_rows_to_be_published_again(store: Store) {
    enqueue_all(&store, &[ev("acme", 1), ev("acme", 2)]).await;
    let mut batch = store
        .claim_outbox(10)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let claimed = batch.claimed().entries.clone();
    assert_eq!(claimed.len(), 2);
    // Published and marked, then the relay's task is cancelled before it commits.
    batch.mark().await.unwrap_or_else(|e| panic!("{e}"));
    drop(batch);
    // PostgreSQL notices the closed connection and rolls back on its own time.
    for _ in 0..200 {
        let again = publish_once(&store, 10).await;
        if !again.is_empty() {
            assert_eq!(again, claimed, "a duplicate, not a loss");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the rows of a dropped claim never became claimable again");
}

pub async fn a_claim_committed_without_marks_publishes_nothing(store: Store) {
    enqueue_all(&store, &[ev("acme", 1)]).await;
    let batch = store
        .claim_outbox(10)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let committed = batch.commit().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(committed.len(), 1);
    assert_eq!(pending(&store).await, 1);
    assert_eq!(events_of(&publish_once(&store, 10).await), [ev("acme", 1)]);
}

pub async fn pruning_removes_only_published_rows_older_than_the_age(store: Store) {
    enqueue_all(&store, &[ev("acme", 1), ev("acme", 2), ev("acme", 3)]).await;
    assert_eq!(publish_once(&store, 2).await.len(), 2);
    let hour = Duration::from_secs(3_600);
    assert_eq!(store.prune_published(hour, 1).await.ok(), Some(0));
    assert_eq!(store.prune_published(Duration::ZERO, 1).await.ok(), Some(2));
    assert_eq!(pending(&store).await, 1);
    // A pruned row's key is free again; a pending one's is not.
    assert_eq!(
        store.enqueue(&[&ev("acme", 1), &ev("acme", 3)]).await.ok(),
        Some(vec![
            EnqueueOutcome::Inserted,
            EnqueueOutcome::AlreadyEnqueued
        ])
    );
}

pub async fn the_backlog_counts_pending_rows_up_to_the_cap(store: Store) {
    let empty = store
        .outbox_backlog(100)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((empty.pending, empty.oldest, empty.failed), (0, None, 0));
    let events: Vec<Event> = (0..5).map(|n| ev("acme", n)).collect();
    enqueue_all(&store, &events).await;
    let capped = store
        .outbox_backlog(3)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(capped.pending, 3);
    let oldest = capped.oldest.unwrap_or_else(|| panic!("no oldest row"));
    assert!(oldest <= chrono::Utc::now());
    assert_eq!(pending(&store).await, 5);
    publish_once(&store, 10).await;
    let drained = store
        .outbox_backlog(100)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((drained.pending, drained.oldest), (0, None));
}

pub async fn a_watcher_wakes_when_rows_are_committed(store: Store) {
    let wake = Arc::new(Notify::new());
    let shutdown = Shutdown::new();
    let watcher = {
        let (store, wake, shutdown) = (store.clone(), wake.clone(), shutdown.clone());
        tokio::spawn(async move { store.watch_outbox(&wake, &shutdown).await })
    };
    let woken = || async {
        tokio::time::timeout(Duration::from_secs(10), wake.notified())
            .await
            .is_ok()
    };
    assert!(woken().await, "no wake-up when watching started");
    enqueue_all(&store, &[ev("acme", 1)]).await;
    assert!(woken().await, "no wake-up after an enqueue");
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), watcher)
        .await
        .unwrap_or_else(|_| panic!("the watcher did not stop on shutdown"))
        .unwrap_or_else(|e| panic!("{e}"));
}
