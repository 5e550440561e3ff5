//! Sources and endpoints managed through the gateway: one row per entity, its spec opaque
//! JSON (secrets already sealed by the gateway), and a version that only ever rises.
//!
//! Writes take the caller's [`Transaction`], so the gateway enqueues the matching
//! `switchyard.config.*` event ([`crate::outbox::enqueue_routed`]) in the same transaction:
//! the table and the config topic never disagree about what was committed. Reads
//! ([`Store::list_sources`], [`Store::get_source`], ...) go to the read pool, so with a
//! replica configured they may lag a write that just committed.
//!
//! Every write, whatever it does, first locks the entity's row in `config_versions` (created
//! on first use), then reads the entity in a fresh snapshot. Two writers of one entity
//! therefore run one after the other, and the second one's version check sees the first
//! one's commit. Versions:
//!
//! - the first write of an id gives version 1, each change one more;
//! - a delete takes the next version too (the version the `deleted` event carries), and a
//!   re-created entity continues above it, so a follower that ignores changes at or below
//!   the version it applied never ignores a re-creation.
//!
//! On [`StoreError::VersionConflict`] or [`StoreError::AlreadyExists`] nothing was written
//! to the entity; roll the transaction back (the lock is released with it).
//!
//! ```no_run
//! use switchyard_domain::{EndpointId, Event, EventId, EventType, TenantId};
//! use switchyard_store::{Store, StoreError, config, outbox::{self, Route}};
//! # async fn put(store: &Store, tenant: &TenantId, id: &EndpointId,
//! #              spec: &serde_json::Value, if_match: Option<i64>)
//! #              -> Result<(), Box<dyn std::error::Error>> {
//! let mut client = store.client().await?;
//! let tx = client.transaction().await.map_err(|e| StoreError::postgres("begin", e))?;
//! // A conflict returns early: `tx` is dropped and rolls back.
//! let row = config::upsert_endpoint(&tx, tenant, id, spec, if_match).await?;
//! // The change carries `row.version`; keyed per entity on `<prefix>.config`.
//! let data = serde_json::json!({ "version": row.version, "spec": row.spec });
//! let change = Event::builder(
//!     tenant.clone(),
//!     EventId::generate(),
//!     "/switchyard/gateway",
//!     EventType::parse("switchyard.config.endpoint.upserted")?,
//! )
//! .subject(Some(id.to_string()))
//! .data(Some("application/json".into()), data.to_string())
//! .build()?;
//! let route = Route::config(format!("endpoint/{tenant}/{id}"));
//! outbox::enqueue_routed(&tx, &change, &route).await?;
//! tx.commit().await.map_err(|e| StoreError::postgres("commit", e))?;
//! # Ok(())
//! # }
//! ```

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Transaction};
use switchyard_domain::{EndpointId, SourceId, TenantId};
use tokio_postgres::Row;

use crate::{Store, error::StoreError, events::MAX_PAGE_SIZE, timing::timed};

/// One source or endpoint as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigRow {
    /// Its tenant.
    pub tenant: TenantId,
    /// Its id within the tenant (a [`SourceId`] or an [`EndpointId`]).
    pub id: String,
    /// The spec exactly as the gateway wrote it.
    pub spec: serde_json::Value,
    /// Rises with every write of this id, across deletes; 1 for the first.
    pub version: i64,
    /// When the entity (this incarnation of it) was created. Equal to `updated_at` exactly
    /// when the write that returned this row created it (both are the transaction's start
    /// time), so a `PUT` can tell `201` from `200`.
    pub created_at: DateTime<Utc>,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
}

/// Which table; also the `kind` of its `config_versions` rows.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Source,
    Endpoint,
}

/// One statement of each kind, with its table filled in. Built once per process, so each
/// text is stable and `prepare_cached` prepares it once per connection.
struct Statements {
    current: String,
    write: String,
    delete: String,
    list: String,
    get: String,
}

impl Statements {
    fn for_table(table: &str) -> Self {
        let fill = |sql: &str| sql.replace("{table}", table);
        Self {
            current: fill(include_str!("sql/config_current.sql")),
            write: fill(include_str!("sql/config_write.sql")),
            delete: fill(include_str!("sql/config_delete.sql")),
            list: fill(include_str!("sql/config_list.sql")),
            get: fill(include_str!("sql/config_get.sql")),
        }
    }
}

static SOURCES: std::sync::LazyLock<Statements> =
    std::sync::LazyLock::new(|| Statements::for_table("sources"));
static ENDPOINTS: std::sync::LazyLock<Statements> =
    std::sync::LazyLock::new(|| Statements::for_table("endpoints"));

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Endpoint => "endpoint",
        }
    }

    fn statements(self) -> &'static Statements {
        match self {
            Self::Source => &SOURCES,
            Self::Endpoint => &ENDPOINTS,
        }
    }
}

/// What a write may find, and must find, before it writes.
#[derive(Debug, Clone, Copy)]
enum Precondition {
    /// The entity must not exist (`POST`).
    Absent,
    /// The entity must exist at this version (`PUT` with `If-Match`).
    AtVersion(i64),
    /// Anything (`PUT` without `If-Match`).
    Any,
}

/// Creates source `id` of `tenant` with version 1 (or, re-created after a delete, the next
/// version above the deletion). [`StoreError::AlreadyExists`] when it exists.
pub async fn create_source(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    id: &SourceId,
    spec: &serde_json::Value,
) -> Result<ConfigRow, StoreError> {
    write(
        tx,
        Kind::Source,
        tenant,
        id.as_str(),
        spec,
        Precondition::Absent,
    )
    .await
}

/// Creates or replaces source `id` of `tenant` and returns it with its new version. With
/// `expected_version`, it must exist at exactly that version, else
/// [`StoreError::VersionConflict`] (optimistic concurrency: `If-Match`).
pub async fn upsert_source(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    id: &SourceId,
    spec: &serde_json::Value,
    expected_version: Option<i64>,
) -> Result<ConfigRow, StoreError> {
    let precondition = expected_version.map_or(Precondition::Any, Precondition::AtVersion);
    write(tx, Kind::Source, tenant, id.as_str(), spec, precondition).await
}

/// Deletes source `id` of `tenant`. Returns the version of the deletion (one above the
/// deleted row's version: the version its `deleted` event carries), or `None` when there
/// was nothing to delete.
pub async fn delete_source(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    id: &SourceId,
) -> Result<Option<i64>, StoreError> {
    delete(tx, Kind::Source, tenant, id.as_str()).await
}

/// [`create_source`] for an endpoint.
pub async fn create_endpoint(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    id: &EndpointId,
    spec: &serde_json::Value,
) -> Result<ConfigRow, StoreError> {
    write(
        tx,
        Kind::Endpoint,
        tenant,
        id.as_str(),
        spec,
        Precondition::Absent,
    )
    .await
}

/// [`upsert_source`] for an endpoint.
pub async fn upsert_endpoint(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    id: &EndpointId,
    spec: &serde_json::Value,
    expected_version: Option<i64>,
) -> Result<ConfigRow, StoreError> {
    let precondition = expected_version.map_or(Precondition::Any, Precondition::AtVersion);
    write(tx, Kind::Endpoint, tenant, id.as_str(), spec, precondition).await
}

/// [`delete_source`] for an endpoint.
pub async fn delete_endpoint(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    id: &EndpointId,
) -> Result<Option<i64>, StoreError> {
    delete(tx, Kind::Endpoint, tenant, id.as_str()).await
}

/// Locks the entity (see the module documentation) and returns the highest version it ever
/// had and its current version, if it exists.
async fn lock(
    tx: &Transaction<'_>,
    kind: Kind,
    tenant: &TenantId,
    id: &str,
) -> Result<(i64, Option<i64>), StoreError> {
    let statement = tx
        .prepare_cached(include_str!("sql/config_lock.sql"))
        .await
        .map_err(|e| StoreError::postgres("config_lock", e))?;
    let high_water: i64 = tx
        .query_one(&statement, &[&kind.name(), &tenant.as_str(), &id])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|e| StoreError::postgres("config_lock", e))?;
    let statement = tx
        .prepare_cached(&kind.statements().current)
        .await
        .map_err(|e| StoreError::postgres("config_current", e))?;
    let current = tx
        .query_opt(&statement, &[&tenant.as_str(), &id])
        .await
        .and_then(|row| row.map(|row| row.try_get::<_, i64>(0)).transpose())
        .map_err(|e| StoreError::postgres("config_current", e))?;
    Ok((high_water, current))
}

/// The version after `high_water` and `current`: the high-water mark never lags the row, but
/// taking both keeps versions rising even if someone edited one of the tables by hand.
fn next_version(high_water: i64, current: Option<i64>) -> i64 {
    high_water.max(current.unwrap_or(0)).saturating_add(1)
}

async fn write(
    tx: &Transaction<'_>,
    kind: Kind,
    tenant: &TenantId,
    id: &str,
    spec: &serde_json::Value,
    precondition: Precondition,
) -> Result<ConfigRow, StoreError> {
    if contains_nul(spec) {
        return Err(StoreError::Unstorable {
            tenant: tenant.to_string(),
            id: id.to_owned(),
            reason: "the spec contains a NUL character, which PostgreSQL jsonb cannot hold",
        });
    }
    timed("config_write", async {
        let (high_water, current) = lock(tx, kind, tenant, id).await?;
        match (precondition, current) {
            (Precondition::Absent, Some(version)) => {
                return Err(StoreError::AlreadyExists {
                    kind: kind.name(),
                    tenant: tenant.to_string(),
                    id: id.to_owned(),
                    version,
                });
            }
            (Precondition::AtVersion(expected), actual) if actual != Some(expected) => {
                return Err(StoreError::VersionConflict {
                    kind: kind.name(),
                    tenant: tenant.to_string(),
                    id: id.to_owned(),
                    expected,
                    actual,
                });
            }
            _ => {}
        }
        let version = next_version(high_water, current);
        let statement = tx
            .prepare_cached(&kind.statements().write)
            .await
            .map_err(|e| StoreError::postgres("config_write", e))?;
        let row = tx
            .query_one(
                &statement,
                &[&tenant.as_str(), &id, spec, &version, &kind.name()],
            )
            .await
            .map_err(|e| StoreError::postgres("config_write", e))?;
        config_row(kind, &row)
    })
    .await
}

async fn delete(
    tx: &Transaction<'_>,
    kind: Kind,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<i64>, StoreError> {
    timed("config_delete", async {
        let (high_water, current) = lock(tx, kind, tenant, id).await?;
        if current.is_none() {
            return Ok(None);
        }
        let version = next_version(high_water, current);
        let statement = tx
            .prepare_cached(&kind.statements().delete)
            .await
            .map_err(|e| StoreError::postgres("config_delete", e))?;
        tx.execute(&statement, &[&tenant.as_str(), &id, &version, &kind.name()])
            .await
            .map_err(|e| StoreError::postgres("config_delete", e))?;
        Ok(Some(version))
    })
    .await
}

/// Whether a string or key anywhere in `value` holds U+0000, which `jsonb` refuses.
fn contains_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => text.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(contains_nul),
        serde_json::Value::Object(map) => map
            .iter()
            .any(|(key, value)| key.contains('\0') || contains_nul(value)),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {
            false
        }
    }
}

fn config_row(kind: Kind, row: &Row) -> Result<ConfigRow, StoreError> {
    let decode = |e| StoreError::postgres("decode config row", e);
    let tenant: &str = row.try_get(0).map_err(decode)?;
    let id: String = row.try_get(1).map_err(decode)?;
    Ok(ConfigRow {
        tenant: TenantId::parse(tenant).map_err(|e| StoreError::CorruptRow {
            what: format!("{} {tenant}/{id}", kind.name()),
            reason: e.to_string(),
        })?,
        spec: row.try_get(2).map_err(decode)?,
        version: row.try_get(3).map_err(decode)?,
        created_at: row.try_get(4).map_err(decode)?,
        updated_at: row.try_get(5).map_err(decode)?,
        id,
    })
}

impl Store {
    /// Up to `limit` (1 to [`MAX_PAGE_SIZE`]) sources of `tenant` in id order, starting after
    /// `after_id` (the last id of the previous page). A page shorter than `limit` is the last.
    pub async fn list_sources(
        &self,
        tenant: &TenantId,
        limit: u32,
        after_id: Option<&SourceId>,
    ) -> Result<Vec<ConfigRow>, StoreError> {
        self.list_config(Kind::Source, tenant, limit, after_id.map(SourceId::as_str))
            .await
    }

    /// Source `id` of `tenant`, if it exists.
    pub async fn get_source(
        &self,
        tenant: &TenantId,
        id: &SourceId,
    ) -> Result<Option<ConfigRow>, StoreError> {
        self.get_config(Kind::Source, tenant, id.as_str()).await
    }

    /// [`Store::list_sources`] for endpoints.
    pub async fn list_endpoints(
        &self,
        tenant: &TenantId,
        limit: u32,
        after_id: Option<&EndpointId>,
    ) -> Result<Vec<ConfigRow>, StoreError> {
        self.list_config(
            Kind::Endpoint,
            tenant,
            limit,
            after_id.map(EndpointId::as_str),
        )
        .await
    }

    /// [`Store::get_source`] for endpoints.
    pub async fn get_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<Option<ConfigRow>, StoreError> {
        self.get_config(Kind::Endpoint, tenant, id.as_str()).await
    }

    async fn list_config(
        &self,
        kind: Kind,
        tenant: &TenantId,
        limit: u32,
        after_id: Option<&str>,
    ) -> Result<Vec<ConfigRow>, StoreError> {
        let limit = i64::from(limit.clamp(1, MAX_PAGE_SIZE));
        timed("config_list", async {
            let client = self.reader().get().await?;
            let statement = client
                .prepare_cached(&kind.statements().list)
                .await
                .map_err(|e| StoreError::postgres("config_list", e))?;
            let rows = client
                .query(&statement, &[&tenant.as_str(), &after_id, &limit])
                .await
                .map_err(|e| StoreError::postgres("config_list", e))?;
            rows.iter().map(|row| config_row(kind, row)).collect()
        })
        .await
    }

    async fn get_config(
        &self,
        kind: Kind,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<ConfigRow>, StoreError> {
        timed("config_get", async {
            let client = self.reader().get().await?;
            let statement = client
                .prepare_cached(&kind.statements().get)
                .await
                .map_err(|e| StoreError::postgres("config_get", e))?;
            let row = client
                .query_opt(&statement, &[&tenant.as_str(), &id])
                .await
                .map_err(|e| StoreError::postgres("config_get", e))?;
            row.map(|row| config_row(kind, &row)).transpose()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_rise_past_both_the_high_water_mark_and_the_row() {
        assert_eq!(next_version(0, None), 1);
        assert_eq!(next_version(4, Some(4)), 5);
        assert_eq!(next_version(7, None), 8, "re-created after a delete at 7");
        assert_eq!(next_version(2, Some(5)), 6);
    }

    #[test]
    fn a_nul_anywhere_in_the_spec_is_found() {
        let clean = serde_json::json!({"url": "https://x", "types": ["a.*"], "n": 1});
        assert!(!contains_nul(&clean));
        assert!(contains_nul(&serde_json::json!({"a": ["x\u{0}y"]})));
        assert!(contains_nul(&serde_json::json!({"k\u{0}": 1})));
    }

    #[test]
    fn each_kind_has_its_own_table_in_every_statement() {
        for (kind, table) in [(Kind::Source, "sources"), (Kind::Endpoint, "endpoints")] {
            let s = kind.statements();
            for sql in [&s.current, &s.write, &s.delete, &s.list, &s.get] {
                assert!(!sql.contains("{table}"), "{sql}");
                assert!(sql.contains(table), "{sql}");
            }
        }
    }
}
