//! Smoke tests for the services every other test relies on. Each talks to the real service
//! and fails, naming it, when the service is down: the suite never passes by skipping.

use std::time::Duration;

use futures::StreamExt as _;
use rdkafka::{
    ClientConfig, Message as _,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    consumer::{CommitMode, Consumer as _, StreamConsumer},
    producer::{FutureProducer, FutureRecord},
};
use switchyard_testkit::{infra, postgres::TestDatabase, unique_name};

#[tokio::test]
async fn postgres_runs_ddl_and_queries_in_a_fresh_database() {
    let db = TestDatabase::create().await;
    let client = db.client().await;
    client
        .batch_execute("CREATE TABLE smoke (id bigint PRIMARY KEY, body jsonb NOT NULL)")
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO smoke VALUES ($1, $2::text::jsonb)",
            &[&7_i64, &r#"{"ok":true}"#],
        )
        .await
        .unwrap();
    let row = client
        .query_one("SELECT body->>'ok' FROM smoke WHERE id = 7", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "true");
    drop(client);
    db.drop_database().await;
}

#[tokio::test]
async fn redis_streams_append_and_read_back() {
    let url = infra::redis_url();
    let client =
        redis::Client::open(url.as_str()).unwrap_or_else(|e| infra::unavailable("Redis", &url, &e));
    let mut conn = match tokio::time::timeout(
        infra::CONNECT_TIMEOUT,
        client.get_multiplexed_async_connection(),
    )
    .await
    {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => infra::unavailable("Redis", &url, &e),
        Err(_) => infra::unavailable("Redis", &url, &"connection timed out"),
    };
    let stream = unique_name("smoke");
    let id: String = redis::cmd("XADD")
        .arg(&stream)
        .arg("*")
        .arg("payload")
        .arg("hello")
        .query_async(&mut conn)
        .await
        .unwrap();
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(&stream)
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        entries,
        vec![(id, vec![("payload".to_owned(), "hello".to_owned())])]
    );
    let _: () = redis::cmd("DEL")
        .arg(&stream)
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn nats_jetstream_persists_and_delivers() {
    let url = infra::nats_url();
    let client =
        match tokio::time::timeout(infra::CONNECT_TIMEOUT, async_nats::connect(url.as_str())).await
        {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => infra::unavailable("NATS", &url, &e),
            Err(_) => infra::unavailable("NATS", &url, &"connection timed out"),
        };
    let js = async_nats::jetstream::new(client);
    let name = unique_name("SMOKE");
    let subject = format!("{name}.events");
    let stream = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: name.clone(),
            subjects: vec![subject.clone()],
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| infra::unavailable("NATS JetStream", &url, &e));
    let ack = js
        .publish(subject, "hello".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.stream, name);

    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("smoke".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.fetch().max_messages(1).messages().await.unwrap();
    let message = tokio::time::timeout(Duration::from_secs(5), messages.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(message.payload.as_ref(), b"hello");
    message.ack().await.unwrap();
    js.delete_stream(&name).await.unwrap();
}

/// Idempotent, acks=all produce to a 3-partition topic, then a consumer group reads every
/// record back with per-key order intact and commits its offsets.
#[tokio::test]
async fn kafka_broker_takes_idempotent_writes_and_serves_a_consumer_group() {
    let brokers = infra::kafka_brokers();
    let topic = unique_name("smoke");
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap_or_else(|e| infra::unavailable("Kafka-protocol broker", &brokers, &e));
    let options = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(10)))
        .request_timeout(Some(Duration::from_secs(10)));
    let created = admin
        .create_topics(
            &[NewTopic::new(&topic, 3, TopicReplication::Fixed(1))],
            &options,
        )
        .await
        .unwrap_or_else(|e| infra::unavailable("Kafka-protocol broker", &brokers, &e));
    assert!(
        created.iter().all(Result::is_ok),
        "create topic: {created:?}"
    );

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", "15000")
        .create()
        .unwrap();
    let tenants = ["acme", "globex", "initech"];
    for i in 0..30 {
        let tenant = tenants[i % tenants.len()];
        let payload = format!("{tenant}:{i}");
        producer
            .send(
                FutureRecord::to(&topic).key(tenant).payload(&payload),
                Duration::from_secs(15),
            )
            .await
            .unwrap_or_else(|(e, _)| infra::unavailable("Kafka-protocol broker", &brokers, &e));
    }

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", unique_name("smoke-group"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    let mut seen: Vec<(String, usize)> = Vec::new();
    while seen.len() < 30 {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of 30 records arrived", seen.len()))
            .unwrap();
        let payload = std::str::from_utf8(message.payload().unwrap()).unwrap();
        let (tenant, i) = payload.split_once(':').unwrap();
        assert_eq!(message.key(), Some(tenant.as_bytes()), "key is the tenant");
        seen.push((tenant.to_owned(), i.parse().unwrap()));
        consumer.commit_message(&message, CommitMode::Sync).unwrap();
    }
    for tenant in tenants {
        let order: Vec<usize> = seen
            .iter()
            .filter(|(t, _)| t == tenant)
            .map(|(_, i)| *i)
            .collect();
        assert!(
            order.is_sorted(),
            "per-key order kept for {tenant}: {order:?}"
        );
        assert_eq!(order.len(), 10, "{tenant}");
    }
    // No topic deletion: on tansu 0.6, deleting a topic makes later metadata responses crash
    // other librdkafka clients in the same broker (SIGSEGV in rd_kafka_metadata_cache_find;
    // see docs/testing.md). Topic names are unique per run and the broker's storage is scratch.
}
