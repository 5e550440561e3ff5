//! `insert_events` throughput (rows/s) for 1 KiB events in batches of 500, against a plain
//! loop of single-row `INSERT`s in the same run, on a throwaway database.
//!
//! `cargo bench -p switchyard-store --bench insert` (PostgreSQL at `SWITCHYARD__DATABASE__URL`,
//! default `postgres://postgres@127.0.0.1:5432/postgres`).

#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use secrecy::SecretString;
use switchyard_domain::{Event, EventId, EventType, TenantId};
use switchyard_runtime::settings::DatabaseSettings;
use switchyard_store::Store;
use switchyard_testkit::postgres::TestDatabase;

const BATCH: usize = 500;
const DATA_BYTES: usize = 1024;

fn batch(tenant: &TenantId, event_type: &EventType, data: &bytes::Bytes) -> Vec<Event> {
    (0..BATCH)
        .map(|i| {
            Event::builder(
                tenant.clone(),
                EventId::generate(),
                "/bench/source",
                event_type.clone(),
            )
            .subject(Some(format!("subject_{}", i % 50)))
            .data(Some("application/json".into()), data.clone())
            .build()
            .unwrap()
        })
        .collect()
}

const SINGLE_ROW: &str = "INSERT INTO events (tenant, id, type, subject, time, time_nanos, \
    source, data_content_type, data_schema, traceparent, extensions, data) \
    VALUES ($1, $2, $3, $4, $5, 0, $6, $7, NULL, NULL, '{}', $8) \
    ON CONFLICT (tenant, id) DO NOTHING";

fn insert(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let db = runtime.block_on(TestDatabase::create());
    let store = runtime.block_on(async {
        let store = Store::connect(&DatabaseSettings {
            url: SecretString::from(db.url.clone()),
            read_url: SecretString::default(),
            pool_size: 4,
            connect_timeout_secs: 5,
        })
        .await
        .unwrap();
        store.migrate().await.unwrap();
        store
    });
    let tenant = TenantId::parse("bench").unwrap();
    let event_type = EventType::parse("bench.payment.captured").unwrap();
    let data = bytes::Bytes::from(vec![b'x'; DATA_BYTES]);

    let mut group = c.benchmark_group("store_insert_1KiB");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));

    group.bench_function("insert_events_batch_500", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let events = batch(&tenant, &event_type, &data);
                    let started = Instant::now();
                    let inserted = store.insert_events(&events).await.unwrap();
                    spent += started.elapsed();
                    assert_eq!(inserted, BATCH as u64);
                }
                spent
            })
        });
    });

    group.bench_function("single_row_insert_loop_500", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let client = store.postgres().unwrap().client().await.unwrap();
                let statement = client.prepare_cached(SINGLE_ROW).await.unwrap();
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let events = batch(&tenant, &event_type, &data);
                    let started = Instant::now();
                    for event in &events {
                        client
                            .execute(
                                &statement,
                                &[
                                    &event.tenant().as_str(),
                                    &event.id().as_str(),
                                    &event.event_type().as_str(),
                                    &event.subject(),
                                    &event.time(),
                                    &event.source(),
                                    &event.data_content_type(),
                                    &event.data().as_ref(),
                                ],
                            )
                            .await
                            .unwrap();
                    }
                    spent += started.elapsed();
                }
                spent
            })
        });
    });
    group.finish();
    runtime.block_on(db.drop_database());
}

criterion_group!(benches, insert);
criterion_main!(benches);
