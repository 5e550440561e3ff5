//! The real `switchyard-outbox-relay` on real PostgreSQL and a Kafka-protocol broker: every
//! committed event reaches `<prefix>.events`, in order per tenant, under two relays, after a
//! kill -9, and when an older transaction commits after a newer one was published.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use support::{TopicReader, World, event, number};
use switchyard_domain::Event;
use switchyard_store::outbox;

/// What was committed, what was rolled back, and the checks a complete read must pass.
#[derive(Default)]
struct Ledger {
    committed: HashMap<String, Event>,
    rolled_back: HashSet<String>,
}

impl Ledger {
    /// Reads until every committed event was seen, then a quiet second more, and checks:
    /// nothing rolled back was published, a duplicate is the same event, and each tenant's
    /// events first appear in the order their transactions committed.
    async fn read_all(&self, events: &mut TopicReader<Event>, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        let mut seen: HashMap<String, Event> = HashMap::new();
        let mut last: HashMap<String, u64> = HashMap::new();
        let mut records = 0;
        loop {
            let wait = if seen.len() == self.committed.len() {
                Duration::from_secs(1)
            } else {
                deadline.saturating_duration_since(Instant::now())
            };
            let Some(event) = events.next_within(wait).await else {
                break;
            };
            records += 1;
            let id = event.id().to_string();
            assert!(
                !self.rolled_back.contains(&id),
                "{id} was rolled back but published"
            );
            let expected = self
                .committed
                .get(&id)
                .unwrap_or_else(|| panic!("{id} was never enqueued"));
            assert_eq!(&event, expected, "{id} published as enqueued");
            if seen.insert(id.clone(), event.clone()).is_some() {
                // A duplicate (a batch published twice): same id, same event, checked above.
                continue;
            }
            let tenant = event.tenant().to_string();
            let n = number(&event);
            if let Some(previous) = last.insert(tenant.clone(), n) {
                assert!(
                    previous < n,
                    "tenant {tenant}: event {n} first published after {previous}"
                );
            }
        }
        let missing: Vec<_> = self
            .committed
            .keys()
            .filter(|id| !seen.contains_key(*id))
            .take(5)
            .collect();
        assert!(
            missing.is_empty(),
            "{} of {} committed events never published, e.g. {missing:?}",
            self.committed.len() - seen.len(),
            self.committed.len()
        );
        records
    }
}

/// One writer per tenant (so a tenant's transactions commit in the order of its numbers),
/// all writers concurrent; transactions of 1–4 events, every tenth rolled back.
async fn write_concurrently(world: &World, tenants: &[String], events_per_tenant: u64) -> Ledger {
    let writers = tenants.iter().enumerate().map(|(t, tenant)| {
        let store = world.store.clone();
        let tenant = tenant.clone();
        async move {
            let mut ledger = Ledger::default();
            let mut n = 0;
            let mut transaction = 0u64;
            while n < events_per_tenant {
                transaction += 1;
                let size = ((transaction + t as u64) % 4 + 1).min(events_per_tenant - n);
                let batch: Vec<Event> = (n..n + size).map(|i| event(&tenant, i)).collect();
                n += size;
                let mut client = store
                    .postgres()
                    .expect("a PostgreSQL store")
                    .client()
                    .await
                    .unwrap();
                let tx = client.transaction().await.unwrap();
                for event in &batch {
                    outbox::enqueue(&tx, event).await.unwrap();
                }
                if transaction % 10 == 3 {
                    tx.rollback().await.unwrap();
                    ledger
                        .rolled_back
                        .extend(batch.iter().map(|e| e.id().to_string()));
                } else {
                    tx.commit().await.unwrap();
                    ledger
                        .committed
                        .extend(batch.into_iter().map(|e| (e.id().to_string(), e)));
                }
            }
            ledger
        }
    });
    let mut ledger = Ledger::default();
    for part in futures::future::join_all(writers).await {
        ledger.committed.extend(part.committed);
        ledger.rolled_back.extend(part.rolled_back);
    }
    ledger
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_publish_every_committed_event_in_tenant_order_and_no_rolled_back_one() {
    let world = World::new().await;
    let small_batches = [
        ("SWITCHYARD__OUTBOX__BATCH_SIZE", "100"),
        ("SWITCHYARD__OUTBOX__POLL_INTERVAL_MS", "200"),
    ];
    let _first = world.start_relay(&small_batches).await;
    let _second = world.start_relay(&small_batches).await;
    let mut events = world.events().await;

    let tenants: Vec<String> = (0..8).map(|t| format!("tenant{t}")).collect();
    let ledger = write_concurrently(&world, &tenants, 1_250).await;
    assert_eq!(ledger.committed.len() + ledger.rolled_back.len(), 10_000);
    assert!(!ledger.rolled_back.is_empty());

    let records = ledger.read_all(&mut events, Duration::from_secs(120)).await;
    assert!(records >= ledger.committed.len());
    assert_eq!(world.pending().await, 0, "every committed row marked");
    assert_eq!(
        world
            .count("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL")
            .await,
        i64::try_from(ledger.committed.len()).unwrap()
    );
    drop(events);
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_batch_loses_nothing_after_a_restart() {
    let world = World::new().await;
    let mut ledger = Ledger::default();
    for chunk in 0..100u64 {
        let batch: Vec<Event> = (chunk * 200..(chunk + 1) * 200)
            .map(|n| event(&format!("tenant{}", n % 5), n))
            .collect();
        world.enqueue_committed(&batch).await;
        ledger
            .committed
            .extend(batch.into_iter().map(|e| (e.id().to_string(), e)));
    }
    let settings = [("SWITCHYARD__OUTBOX__BATCH_SIZE", "100")];
    let mut relay = world.start_relay(&settings).await;
    // Published something...
    world.events().await.next().await;
    relay.kill().await;
    // ...and left something behind.
    let pending = world.pending().await;
    assert!(
        pending > 0,
        "the relay finished all 20000 rows before the kill; the test proves nothing"
    );

    let _restarted = world.start_relay(&settings).await;
    let mut events = world.events().await;
    ledger.read_all(&mut events, Duration::from_secs(120)).await;
    assert_eq!(world.pending().await, 0);
    drop(events);
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_seq_committed_after_a_newer_one_was_published_is_still_published() {
    let world = World::new().await;
    let _relay = world.start_relay(&[]).await;
    let mut events = world.events().await;

    // A takes the smaller seq and stays open...
    let older = event("acme", 1);
    let mut slow_client = world
        .store
        .postgres()
        .expect("a PostgreSQL store")
        .client()
        .await
        .unwrap();
    let slow = slow_client.transaction().await.unwrap();
    outbox::enqueue(&slow, &older).await.unwrap();
    // ...while B, of the same tenant, commits and is published.
    let newer = event("acme", 2);
    world.enqueue_committed(std::slice::from_ref(&newer)).await;
    assert_eq!(events.next().await, newer);

    slow.commit().await.unwrap();
    assert_eq!(
        events.next_within(Duration::from_secs(10)).await.as_ref(),
        Some(&older),
        "the late commit was skipped"
    );
    let client = world
        .store
        .postgres()
        .expect("a PostgreSQL store")
        .client()
        .await
        .unwrap();
    let seqs: Vec<i64> = client
        .query("SELECT seq FROM outbox ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(seqs[0] < seqs[1], "A holds the older seq: {seqs:?}");
    assert!(
        events
            .next_within(Duration::from_millis(500))
            .await
            .is_none(),
        "published once each"
    );
    drop(events);
    world.finish().await;
}
