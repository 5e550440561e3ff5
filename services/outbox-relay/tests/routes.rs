//! The real `switchyard-outbox-relay` publishing routed outbox rows (the gateway's
//! configuration changes) beside plain ones: each routed row lands on the topic its route
//! names, keyed by the route's key, with the event's CloudEvents headers and data, while the
//! plain rows around it still reach `<prefix>.events`, keyed by tenant, in order.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{collections::HashMap, time::Duration};

use support::{TopicReader, World, event, number};
use switchyard_bus::{DLQ_ORIGIN, DLQ_TOPIC};
use switchyard_domain::{Event, EventId, EventType, Message, TenantId};
use switchyard_store::outbox::{self, Route};

/// Configuration change `n` of `tenant`'s endpoint `orders`: version `n` in its data.
fn change(tenant: &str, n: u64) -> Event {
    Event::builder(
        TenantId::parse(tenant).unwrap(),
        EventId::parse(&format!("cfg_{tenant}_{n:06}")).unwrap(),
        "/switchyard/gateway",
        EventType::parse("switchyard.config.endpoint.updated").unwrap(),
    )
    .time(chrono::DateTime::from_timestamp(1_700_000_000 + i64::try_from(n).unwrap(), 0).unwrap())
    .subject(Some("orders".into()))
    .data(
        Some("application/json".into()),
        format!(r#"{{"tenant":"{tenant}","n":{n}}}"#),
    )
    .build()
    .unwrap()
}

fn endpoint_key(tenant: &str) -> String {
    format!("endpoint/{tenant}/orders")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routed_rows_land_on_their_topic_with_their_key_and_plain_rows_keep_their_order() {
    let world = World::new().await;
    let topics = world.topics();
    world.ensure(&[topics.config()]).await;
    let mut config = TopicReader::messages(&world.bus, topics.config());
    let mut events = world.events().await;
    let mut dlq = world.dlq().await;

    // Interleaved in each transaction: event, change, event, change, ... for two tenants,
    // and one row routed to a topic nobody created.
    let tenants = ["acme", "beta"];
    let mut client = world
        .store
        .postgres()
        .expect("a PostgreSQL store")
        .client()
        .await
        .unwrap();
    for chunk in 0..4u64 {
        let tx = client.transaction().await.unwrap();
        for n in chunk * 5..(chunk + 1) * 5 {
            for tenant in tenants {
                outbox::enqueue(&tx, &event(tenant, n)).await.unwrap();
                let route = Route::config(endpoint_key(tenant));
                outbox::enqueue_routed(&tx, &change(tenant, n), &route)
                    .await
                    .unwrap();
            }
        }
        tx.commit().await.unwrap();
    }
    let elsewhere = Route {
        topic_suffix: "audit.custom".into(),
        key: "custom-key".into(),
    };
    outbox::enqueue_routed(&client, &change("acme", 100), &elsewhere)
        .await
        .unwrap();
    // And one routed row damaged so it no longer decodes: it is dead-lettered as meant for
    // the config topic, under its route's key.
    let damaged = change("beta", 200);
    outbox::enqueue_routed(&client, &damaged, &Route::config(endpoint_key("beta")))
        .await
        .unwrap();
    world
        .execute("UPDATE outbox SET type = 'not a type' WHERE id = 'cfg_beta_000200'")
        .await;

    // Batches of 7: every batch mixes both topics and both tenants.
    let _relay = world
        .start_relay(&[("SWITCHYARD__OUTBOX__BATCH_SIZE", "7")])
        .await;

    let mut per_tenant: HashMap<String, Vec<u64>> = HashMap::new();
    for _ in 0..40 {
        let event = events
            .next_within(Duration::from_secs(60))
            .await
            .expect("every plain row on the events topic");
        assert!(
            event.id().as_str().starts_with("evt_"),
            "a routed row reached the events topic: {event:?}"
        );
        per_tenant
            .entry(event.tenant().to_string())
            .or_default()
            .push(number(&event));
    }
    for tenant in tenants {
        assert_eq!(
            per_tenant.get(tenant),
            Some(&(0..20).collect::<Vec<u64>>()),
            "tenant {tenant}: in enqueue order"
        );
    }

    let mut per_key: HashMap<String, Vec<u64>> = HashMap::new();
    for _ in 0..40 {
        let record: Message = config
            .next_within(Duration::from_secs(60))
            .await
            .expect("every routed row on the config topic");
        let key = String::from_utf8(record.key.clone().unwrap().to_vec()).unwrap();
        let published = Event::from_message(&record).expect("a CloudEvent in binary mode");
        let tenant = published.tenant().to_string();
        assert_eq!(
            key,
            endpoint_key(&tenant),
            "keyed by the route, not the tenant"
        );
        let n = number(&published);
        assert_eq!(published, change(&tenant, n), "the event as enqueued");
        for (header, value) in [
            ("ce_id", published.id().as_str()),
            ("ce_type", "switchyard.config.endpoint.updated"),
            ("ce_tenant", tenant.as_str()),
            ("ce_subject", "orders"),
            ("content-type", "application/json"),
        ] {
            assert_eq!(record.headers.get_str(header), Some(value), "{header}");
        }
        per_key.entry(key).or_default().push(n);
    }
    for tenant in tenants {
        assert_eq!(
            per_key.get(&endpoint_key(tenant)),
            Some(&(0..20).collect::<Vec<u64>>()),
            "changes to one entity in commit order"
        );
    }

    // Read only now: a reader of a topic that does not exist yet would wait for nothing
    // (the relay creates it on first use; the reader starts from the beginning).
    let mut custom = TopicReader::messages(&world.bus, topics.with_suffix("audit.custom"));
    let record = custom
        .next_within(Duration::from_secs(30))
        .await
        .expect("the row routed to a new topic");
    assert_eq!(record.key.as_deref(), Some(&b"custom-key"[..]));
    assert_eq!(record.headers.get_str("ce_id"), Some("cfg_acme_000100"));

    let dead = dlq
        .next_within(Duration::from_secs(30))
        .await
        .expect("the damaged routed row on the DLQ");
    assert_eq!(dead.headers.get_str("ce_id"), Some("cfg_beta_000200"));
    assert_eq!(
        dead.headers.get_str(DLQ_TOPIC),
        Some(topics.config().as_str()),
        "dead-lettered as meant for the config topic"
    );
    assert!(
        dead.headers
            .get_str(DLQ_ORIGIN)
            .is_some_and(|origin| origin.starts_with("outbox@"))
    );
    assert_eq!(dead.key.as_deref(), Some(endpoint_key("beta").as_bytes()));

    assert!(config.next_within(Duration::from_secs(1)).await.is_none());
    assert_eq!(world.pending().await, 0);
    drop((events, config, custom, dlq));
    world.finish().await;
}
