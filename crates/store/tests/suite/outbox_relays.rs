//! Claims under concurrency: several relays at once never share a row or a tenant.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use switchyard_store::{Store, StoreError, outbox::OutboxEntry};

use crate::outbox::{enqueue_all, ev, pending};

pub async fn concurrent_claimers_get_disjoint_rows_and_disjoint_tenants(store: Store) {
    let mut events = Vec::new();
    for n in 0..5 {
        for tenant in ["t-a", "t-b", "t-c"] {
            events.push(ev(tenant, n));
        }
    }
    enqueue_all(&store, &events).await;

    let first = store
        .claim_outbox(6)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let second = store
        .claim_outbox(6)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let one = first.claimed().entries.clone();
    let two = second.claimed().entries.clone();

    let tenants = |rows: &[OutboxEntry]| -> HashSet<String> {
        rows.iter().map(|e| e.event.tenant().to_string()).collect()
    };
    assert_eq!(one.len(), 6);
    assert_eq!(tenants(&one), HashSet::from(["t-a".into(), "t-b".into()]));
    assert_eq!(
        tenants(&two),
        HashSet::from(["t-c".into()]),
        "the second claimer takes the tenant the first did not need"
    );
    assert_eq!(two.len(), 5);
    let seqs: HashSet<i64> = one.iter().chain(&two).map(|e| e.seq).collect();
    assert_eq!(seqs.len(), one.len() + two.len(), "a row was claimed twice");
    for rows in [&one, &two] {
        assert!(
            rows.windows(2).all(|w| w[0].seq < w[1].seq),
            "not in seq order"
        );
        // Each tenant's rows are its oldest ones, in enqueue order.
        let mut per_tenant: HashMap<String, Vec<&str>> = HashMap::new();
        for row in rows.iter() {
            per_tenant
                .entry(row.event.tenant().to_string())
                .or_default()
                .push(row.event.id().as_str());
        }
        for (tenant, ids) in per_tenant {
            let want: Vec<String> = (0..ids.len())
                .map(|n| format!("evt_{tenant}_{n:03}"))
                .collect();
            assert_eq!(ids, want);
        }
    }
    // While the first claimer holds t-a and t-b, a third finds nothing it may take.
    let third = store
        .claim_outbox(6)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(third.claimed().is_empty(), "{third:?}");
    third.release().await;
    second.release().await;
    first.release().await;
    assert_eq!(pending(&store).await, 15);
}

/// One relay: claim, "publish" into `log` after `publish_latency`, mark, commit, until the
/// outbox is empty. Relays with different latencies finish their publishes in another order
/// than they claimed, as real ones do, so any claim that let two relays share a tenant
/// would show up as that tenant's rows out of order in `log`.
async fn relay(
    store: Store,
    log: Arc<Mutex<Vec<(String, i64)>>>,
    publish_latency: Duration,
) -> Result<usize, StoreError> {
    let mut batches = 0;
    for _ in 0..5_000 {
        let mut batch = store.claim_outbox(7).await?;
        if batch.claimed().is_empty() {
            batch.release().await;
            if pending(&store).await == 0 {
                return Ok(batches);
            }
            // The other relay holds every pending tenant: poll again shortly.
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        }
        // The broker round trip; the record counts as published when it is acknowledged.
        tokio::time::sleep(publish_latency).await;
        if let Ok(mut log) = log.lock() {
            log.extend(
                batch
                    .claimed()
                    .entries
                    .iter()
                    .map(|e| (e.event.tenant().to_string(), e.seq)),
            );
        }
        batch.mark().await?;
        batch.commit().await?;
        batches += 1;
    }
    panic!("relay did not drain the outbox");
}

pub async fn two_relays_publish_every_row_once_and_keep_each_tenants_order(store: Store) {
    let tenants = ["t-a", "t-b", "t-c", "t-d"];
    let mut events = Vec::new();
    for n in 0..30 {
        for tenant in tenants {
            events.push(ev(tenant, n));
        }
    }
    enqueue_all(&store, &events).await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let (one, two) = tokio::join!(
        tokio::spawn(relay(store.clone(), log.clone(), Duration::from_millis(6))),
        tokio::spawn(relay(store.clone(), log.clone(), Duration::from_millis(1))),
    );
    let one = one
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let two = two
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        one > 0 && two > 0,
        "both relays should have published ({one}, {two})"
    );
    let log = log.lock().map(|l| l.clone()).unwrap_or_default();
    assert_eq!(log.len(), events.len(), "published count");
    let distinct: HashSet<i64> = log.iter().map(|(_, seq)| *seq).collect();
    assert_eq!(distinct.len(), events.len(), "a row was published twice");
    for tenant in tenants {
        let order: Vec<i64> = log
            .iter()
            .filter(|(t, _)| t == tenant)
            .map(|(_, seq)| *seq)
            .collect();
        assert_eq!(order.len(), 30);
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "tenant {tenant} published out of order: {order:?}"
        );
    }
    assert_eq!(pending(&store).await, 0);
}
