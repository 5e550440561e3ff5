//! Shared by the relay's binary tests: a database and a topic prefix of the test's own, the
//! real relay binary started on them, events enqueued the way an application does, and a
//! reader of `<prefix>.events`.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::time::Duration;

use switchyard_domain::{Event, EventId, EventType, Message, TenantId};
use switchyard_runtime::settings::DatabaseSettings;
use switchyard_store::{Store, outbox};
use switchyard_testkit::{binary::RunningBinary, infra, postgres::TestDatabase};

pub const BINARY: &str = env!("CARGO_BIN_EXE_switchyard-outbox-relay");

/// Partitions of the events topic: more than one, so tenants spread and order is per key.
pub const PARTITIONS: u32 = 3;

/// A database, a store over it and a topic prefix, all the test's own.
pub struct World {
    pub db: TestDatabase,
    pub store: Store,
    pub kafka: KafkaStage,
}

impl std::ops::Deref for World {
    type Target = KafkaStage;
    fn deref(&self) -> &KafkaStage {
        &self.kafka
    }
}

impl World {
    /// A migrated database and an events topic with [`PARTITIONS`] partitions.
    pub async fn new() -> Self {
        Self::on_brokers(infra::kafka_brokers()).await
    }

    /// Like [`World::new`], on the given Kafka-protocol broker.
    pub async fn on_brokers(brokers: String) -> Self {
        let db = TestDatabase::create().await;
        let store = Store::connect(&DatabaseSettings {
            url: db.url.clone().into(),
            pool_size: 32,
            ..DatabaseSettings::default()
        })
        .await
        .unwrap_or_else(|e| infra::unavailable("PostgreSQL", &db.url, &e));
        store.migrate().await.unwrap();
        let kafka = KafkaStage::on(brokers, "relay", PARTITIONS).await;
        kafka.ensure(&[kafka.topics().events()]).await;
        Self { db, store, kafka }
    }

    /// Starts the relay binary on this world, with `extra` environment on top.
    pub async fn start_relay(&self, extra: &[(&str, &str)]) -> RunningBinary {
        let mut env = vec![("SWITCHYARD__DATABASE__URL", self.db.url.as_str())];
        env.extend_from_slice(extra);
        let mut relay = self.start_binary(BINARY, &env).await;
        wait_ready(&mut relay).await;
        relay
    }

    /// Rows not yet published.
    pub async fn pending(&self) -> i64 {
        self.count("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .await
    }

    /// Runs a `SELECT count(*) ...`.
    pub async fn count(&self, sql: &str) -> i64 {
        let client = self
            .store
            .postgres()
            .expect("a PostgreSQL store")
            .client()
            .await
            .unwrap();
        client.query_one(sql, &[]).await.unwrap().get(0)
    }

    /// Enqueues `events` in one transaction and commits it.
    pub async fn enqueue_committed(&self, events: &[Event]) {
        let mut client = self
            .store
            .postgres()
            .expect("a PostgreSQL store")
            .client()
            .await
            .unwrap();
        let tx = client.transaction().await.unwrap();
        for event in events {
            outbox::enqueue(&tx, event).await.unwrap();
        }
        tx.commit().await.unwrap();
    }

    /// Reads `<prefix>.events` from the start.
    pub async fn events(&self) -> TopicReader<Event> {
        TopicReader::start(
            &self.bus,
            self.settings.topics().events(),
            event_keyed_by_tenant,
        )
    }

    /// Reads `<prefix>.dlq` from the start, record by record as they are (creating the topic
    /// first, so the reader does not depend on the relay having created it yet).
    pub async fn dlq(&self) -> TopicReader<Message> {
        let topic = self.settings.topics().dlq();
        self.bus
            .admin
            .ensure_topics(std::slice::from_ref(&topic))
            .await
            .unwrap();
        TopicReader::messages(&self.bus, topic)
    }

    /// Runs one statement on the test's database (e.g. to damage a row as an operator or an
    /// incompatible release might).
    pub async fn execute(&self, sql: &str) -> u64 {
        let client = self
            .store
            .postgres()
            .expect("a PostgreSQL store")
            .client()
            .await
            .unwrap();
        client
            .execute(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Drops the database.
    pub async fn finish(self) {
        drop(self.store);
        self.db.drop_database().await;
    }
}

/// Waits until `/readyz` answers 200 (the relay reached its database and broker), showing
/// what the relay logged when it does not within 60 s.
pub async fn wait_ready(relay: &mut RunningBinary) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = relay.get("/readyz").await;
        if status == 200 {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "relay not ready within 60 s: {body}\nlogs: {:#?}",
                relay.logs_so_far()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Event number `n` of `tenant`: id `evt_<tenant>_<n>`, `n` also in the data, so a reader
/// can check the order per tenant.
pub fn event(tenant: &str, n: u64) -> Event {
    Event::builder(
        TenantId::parse(tenant).unwrap(),
        EventId::parse(&format!("evt_{tenant}_{n:06}")).unwrap(),
        format!("/{tenant}/orders"),
        EventType::parse("app.order.created").unwrap(),
    )
    .subject(Some(format!("order_{n}")))
    .data(
        Some("application/json".into()),
        format!(r#"{{"tenant":"{tenant}","n":{n}}}"#),
    )
    .build()
    .unwrap()
}

/// The `n` of an event made by [`event`].
pub fn number(event: &Event) -> u64 {
    let data: serde_json::Value = serde_json::from_slice(event.data()).unwrap();
    data["n"].as_u64().unwrap()
}

pub use switchyard_testkit_bus::{KafkaStage, TopicReader};

/// A CloudEvent whose record key is its tenant, as every record on the events topic must be.
fn event_keyed_by_tenant(message: &Message) -> Result<Event, String> {
    let event = Event::from_message(message).map_err(|e| e.to_string())?;
    if message.key.as_deref() != Some(event.tenant().as_str().as_bytes()) {
        return Err(format!(
            "key {:?} is not the tenant {}",
            message.key,
            event.tenant()
        ));
    }
    Ok(event)
}
