//! One test suite, every engine: each behaviour is an `async fn(Store)` written once, and
//! [`suite!`] runs it against PostgreSQL (a fresh database per test; a missing server fails
//! the test, naming it) and against a fresh in-memory store. PostgreSQL-only behaviour
//! (migrations, LISTEN/NOTIFY, rows edited by hand, caller-held transactions) is in
//! `tests/postgres`.

mod config;
mod dead_letters;
mod deliveries;
mod events;
mod events_paging;
mod outbox;
mod outbox_relays;

use std::future::Future;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use switchyard_domain::{Event, EventId, EventType, TenantId};
use switchyard_runtime::settings::DatabaseSettings;
use switchyard_store::Store;
use switchyard_testkit::postgres::TestDatabase;

/// Settings pointing at `url`, with the defaults a service would have.
fn settings(url: &str) -> DatabaseSettings {
    DatabaseSettings {
        url: SecretString::from(url.to_owned()),
        read_url: SecretString::default(),
        pool_size: 8,
        connect_timeout_secs: 5,
    }
}

/// Runs `test` on a migrated database of its own, then drops the database.
async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = TestDatabase::create().await;
    let store = Store::connect(&settings(&db.url))
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", db.name));
    store
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("migrate: {e}"));
    assert_eq!(store.engine(), "postgres");
    test(store).await;
    db.drop_database().await;
}

/// Runs `test` on an in-memory store of its own.
async fn on_memory<F, Fut>(test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let name = switchyard_testkit::unique_name("suite");
    let store = Store::connect(&settings(&format!("memory://{name}")))
        .await
        .unwrap_or_else(|e| panic!("memory store {name}: {e}"));
    assert_eq!(store.engine(), "memory");
    test(store).await;
}

/// `suite! { module: [test, ...], ... }` makes `postgres::module::test` and
/// `memory::module::test` for every listed test function `module::test(Store)`.
macro_rules! suite {
    ($($module:ident: [$($test:ident),* $(,)?]),* $(,)?) => {
        mod postgres {
            $(mod $module {
                $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::on_postgres(crate::$module::$test).await;
                })*
            })*
        }
        mod memory {
            $(mod $module {
                $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::on_memory(crate::$module::$test).await;
                })*
            })*
        }
    };
}

suite! {
    events: [
        the_same_tenant_and_id_is_stored_once_within_and_across_batches,
        every_field_round_trips_byte_exact,
        an_event_postgres_cannot_hold_is_refused_and_the_batch_writes_nothing,
        listing_filters_by_type_pattern_subject_and_time_range,
        a_tenant_never_sees_another_tenants_events,
        pruning_deletes_only_events_stored_before_the_age,
    ],
    events_paging: [
        keyset_pages_walk_equal_timestamps_without_gaps_or_repeats,
        a_type_pattern_pages_through_every_matching_type_in_time_order_both_ways,
        times_are_ordered_and_bounded_at_microsecond_precision,
    ],
    deliveries: [
        attempts_are_stored_once_and_listed_per_event_in_order,
        a_tenant_never_sees_another_tenants_deliveries,
        an_attempt_with_a_nul_in_an_identifier_is_refused_whole,
        pruning_deletes_only_attempts_stored_before_the_age,
    ],
    outbox: [
        an_enqueued_batch_is_claimed_in_order_and_published_once,
        enqueueing_the_same_tenant_and_id_again_is_already_enqueued,
        a_repeat_within_one_batch_is_already_enqueued,
        an_event_that_cannot_be_stored_fails_the_whole_batch,
        routed_rows_are_claimed_with_their_route_in_order_among_plain_ones,
        a_routed_event_shares_its_tenants_idempotency_keys,
        a_route_no_broker_could_take_is_refused_before_anything_is_written,
        a_released_claim_leaves_the_rows_to_be_published_again,
        a_dropped_claim_leaves_the_rows_to_be_published_again,
        a_claim_committed_without_marks_publishes_nothing,
        pruning_removes_only_published_rows_older_than_the_age,
        the_backlog_counts_pending_rows_up_to_the_cap,
        a_watcher_wakes_when_rows_are_committed,
    ],
    outbox_relays: [
        concurrent_claimers_get_disjoint_rows_and_disjoint_tenants,
        two_relays_publish_every_row_once_and_keep_each_tenants_order,
    ],
    config: [
        versions_rise_with_every_write_and_keep_rising_across_delete_and_recreate,
        every_write_enqueues_its_change_with_the_version_it_produced,
        a_write_expecting_another_version_is_refused_and_changes_nothing,
        create_refuses_an_existing_id_but_not_a_deleted_one,
        concurrent_writers_of_one_entity_never_both_pass_one_version_check,
        a_refused_change_event_leaves_neither_the_row_nor_its_event_nor_a_version,
        listing_pages_by_id_within_one_tenant,
        a_spec_jsonb_cannot_hold_is_refused_before_anything_is_written,
    ],
    dead_letters: [
        the_same_dlq_record_consumed_twice_is_stored_once,
        a_dead_letter_reads_back_exactly_and_redrives_its_original_record,
        listing_is_newest_first_per_tenant_filtered_and_paged_without_gaps,
        pruning_deletes_only_dead_letters_stored_before_the_age,
    ],
}

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap_or_else(|e| panic!("{e}"))
}

fn event_id(id: &str) -> EventId {
    EventId::parse(id).unwrap_or_else(|e| panic!("{e}"))
}

fn at(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_else(|| panic!("bad time {micros}"))
}

/// A small valid event.
fn event(tenant_name: &str, id: &str, event_type: &str, time: DateTime<Utc>) -> Event {
    Event::builder(
        tenant(tenant_name),
        event_id(id),
        format!("/{tenant_name}/test"),
        EventType::parse(event_type).unwrap_or_else(|e| panic!("{e}")),
    )
    .time(time)
    .data(
        Some("application/json".into()),
        format!(r#"{{"id":"{id}"}}"#),
    )
    .build()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Waits long enough that rows stored before it are older, by the store's clock, than an
/// age of [`AGE`], and rows stored after it are younger: what retention tests prune by.
async fn age_past_threshold() {
    tokio::time::sleep(AGE * 3).await;
}

/// The age retention tests prune at.
const AGE: std::time::Duration = std::time::Duration::from_millis(500);
