//! The real `switchyard-outbox-relay` meeting outbox rows that no longer decode into events
//! (edited by hand, written by an incompatible release): each is dead-lettered with a readable
//! reason and set aside, and every other row, of its tenant and of the others, is still
//! published, in order.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use support::{World, event, number};
use switchyard_bus::{DLQ_ORIGIN, DLQ_REASON, DLQ_TOPIC};
use switchyard_domain::{Event, Message};

const PER_TENANT: u64 = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_row_is_dead_lettered_and_set_aside_and_its_tenant_moves_on() {
    let world = World::new().await;
    let tenants = ["acme", "beta", "gamma"];
    // Interleaved, so each bad row sits between rows of its own tenant and of the others.
    let events: Vec<Event> = (0..PER_TENANT)
        .flat_map(|n| tenants.iter().map(move |tenant| event(tenant, n)))
        .collect();
    world.enqueue_committed(&events).await;
    // Damage two rows before any relay runs: one where the driver cannot read a column as
    // its type (the extensions are not a map of strings), one that reads but breaks the
    // domain's rules (an event type with spaces).
    let bad_extensions = "evt_acme_000004";
    let bad_type = "evt_beta_000007";
    assert_eq!(
        world
            .execute(&format!(
                "UPDATE outbox SET extensions = '{{\"shard\": 7}}' WHERE id = '{bad_extensions}'"
            ))
            .await,
        1
    );
    assert_eq!(
        world
            .execute(&format!(
                "UPDATE outbox SET type = 'not a type' WHERE id = '{bad_type}'"
            ))
            .await,
        1
    );
    let mut dlq = world.dlq().await;
    let mut published = world.events().await;

    // Batches of 5: the bad rows land mid-batch, with their tenant's later rows in the same
    // batch and in later ones.
    let relay = world
        .start_relay(&[("SWITCHYARD__OUTBOX__BATCH_SIZE", "5")])
        .await;

    let expected = events.len() - 2;
    let mut per_tenant: HashMap<String, Vec<u64>> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    while seen < expected {
        let wait = deadline.saturating_duration_since(Instant::now());
        let Some(event) = published.next_within(wait).await else {
            panic!("only {seen} of {expected} events published: {per_tenant:?}");
        };
        per_tenant
            .entry(event.tenant().to_string())
            .or_default()
            .push(number(&event));
        seen += 1;
    }
    assert!(
        published
            .next_within(Duration::from_secs(1))
            .await
            .is_none(),
        "nothing more (and no duplicate) is published"
    );
    for tenant in tenants {
        let want: Vec<u64> = (0..PER_TENANT)
            .filter(|n| !(tenant == "acme" && *n == 4 || tenant == "beta" && *n == 7))
            .collect();
        assert_eq!(
            per_tenant.get(tenant),
            Some(&want),
            "tenant {tenant}: every good row, in enqueue order"
        );
    }

    let mut dead: HashMap<String, Message> = HashMap::new();
    for _ in 0..2 {
        let record = dlq
            .next_within(Duration::from_secs(30))
            .await
            .expect("two records on the DLQ");
        let id = record
            .headers
            .get_str("ce_id")
            .unwrap_or_default()
            .to_owned();
        dead.insert(id, record);
    }
    let events_topic = world.settings.topics().events();
    for (id, tenant, needle) in [
        (bad_extensions, "acme", "column extensions"),
        (bad_type, "beta", "not a type"),
    ] {
        let record = dead
            .get(id)
            .unwrap_or_else(|| panic!("{id} not on the DLQ: {dead:?}"));
        let reason = record.headers.get_str(DLQ_REASON).unwrap_or_default();
        assert!(
            reason.contains(needle) && reason.contains(id),
            "{id}: dlq-reason says what is wrong and with which row: {reason:?}"
        );
        assert_eq!(
            record.headers.get_str(DLQ_TOPIC),
            Some(events_topic.as_str())
        );
        assert!(
            record
                .headers
                .get_str(DLQ_ORIGIN)
                .is_some_and(|origin| origin.starts_with("outbox@")),
            "{:?}",
            record.headers
        );
        assert_eq!(record.key.as_deref(), Some(tenant.as_bytes()));
        assert_eq!(record.headers.get_str("ce_tenant"), Some(tenant));
        let n = id.rsplit('_').next().unwrap().parse::<u64>().unwrap();
        assert_eq!(record.payload, event(tenant, n).data().clone(), "the data");
    }
    assert!(
        dlq.next_within(Duration::from_secs(1)).await.is_none(),
        "each bad row dead-lettered once"
    );

    assert_eq!(world.pending().await, 0, "no row left pending");
    let client = world
        .store
        .postgres()
        .expect("a PostgreSQL store")
        .client()
        .await
        .unwrap();
    let failed: Vec<(String, String)> = client
        .query("SELECT id, failure FROM outbox_failed ORDER BY seq", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0].0, bad_extensions);
    assert!(failed[0].1.contains("column extensions"), "{failed:?}");
    assert_eq!(failed[1].0, bad_type);
    assert!(failed[1].1.contains("not a type"), "{failed:?}");
    drop(client);

    let metrics = relay.get("/metrics").await.1;
    assert!(
        metrics
            .lines()
            .any(|line| line == "switchyard_outbox_relay_failed_total 2"),
        "both rows counted: {metrics}"
    );
    drop((dlq, published, relay));
    world.finish().await;
}
