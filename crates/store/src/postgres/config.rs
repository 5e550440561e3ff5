//! Sources and endpoints on PostgreSQL. Every write, whatever it does, first locks the
//! entity's row in `config_versions` (created on first use), then reads the entity in a
//! fresh snapshot (READ COMMITTED): two writers of one entity therefore run one after the
//! other, and the second one's version check sees the first one's commit.

use deadpool_postgres::Transaction;
use switchyard_domain::TenantId;
use tokio_postgres::Row;

use super::{PgStore, outbox::enqueue_routed, timing::timed};
use crate::{
    backend::{Announce, ConfigEntity, ConfigWrite},
    config::{ConfigKind, ConfigRow, Precondition, next_version},
    error::StoreError,
};

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
            current: fill(include_str!("../sql/config_current.sql")),
            write: fill(include_str!("../sql/config_write.sql")),
            delete: fill(include_str!("../sql/config_delete.sql")),
            list: fill(include_str!("../sql/config_list.sql")),
            get: fill(include_str!("../sql/config_get.sql")),
        }
    }
}

static SOURCES: std::sync::LazyLock<Statements> =
    std::sync::LazyLock::new(|| Statements::for_table("sources"));
static ENDPOINTS: std::sync::LazyLock<Statements> =
    std::sync::LazyLock::new(|| Statements::for_table("endpoints"));

fn statements(kind: ConfigKind) -> &'static Statements {
    match kind {
        ConfigKind::Source => &SOURCES,
        ConfigKind::Endpoint => &ENDPOINTS,
    }
}

/// Locks the entity and returns the highest version it ever had and its current version,
/// if it exists.
async fn lock(
    tx: &Transaction<'_>,
    entity: ConfigEntity<'_>,
) -> Result<(i64, Option<i64>), StoreError> {
    let (kind, tenant, id) = (entity.kind, entity.tenant.as_str(), entity.id);
    let statement = tx
        .prepare_cached(include_str!("../sql/config_lock.sql"))
        .await
        .map_err(|e| StoreError::postgres("config_lock", e))?;
    let high_water: i64 = tx
        .query_one(&statement, &[&kind.name(), &tenant, &id])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|e| StoreError::postgres("config_lock", e))?;
    let statement = tx
        .prepare_cached(&statements(kind).current)
        .await
        .map_err(|e| StoreError::postgres("config_current", e))?;
    let current = tx
        .query_opt(&statement, &[&tenant, &id])
        .await
        .and_then(|row| row.map(|row| row.try_get::<_, i64>(0)).transpose())
        .map_err(|e| StoreError::postgres("config_current", e))?;
    Ok((high_water, current))
}

/// The change event `announce` builds for `version`, enqueued in `tx`.
async fn announce_in(
    tx: &Transaction<'_>,
    announce: &Announce<'_>,
    version: i64,
) -> Result<(), StoreError> {
    let (event, route) = announce(version)?;
    crate::events::check_storable(&event)?;
    enqueue_routed(tx, &event, &route).await?;
    Ok(())
}

fn config_row(kind: ConfigKind, row: &Row) -> Result<ConfigRow, StoreError> {
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

impl PgStore {
    /// Lock, check, write, announce, commit; an error anywhere drops `tx`, which rolls back.
    pub(super) async fn write_config(
        &self,
        write: ConfigWrite<'_>,
        precondition: Precondition,
        announce: &Announce<'_>,
    ) -> Result<ConfigRow, StoreError> {
        let ConfigEntity { kind, tenant, id } = write.entity;
        timed("config_write", async {
            let mut client = self.primary.get().await?;
            let tx = client
                .transaction()
                .await
                .map_err(|e| StoreError::postgres("begin", e))?;
            let (high_water, current) = lock(&tx, write.entity).await?;
            precondition.check(kind, tenant, id, current)?;
            let version = next_version(high_water, current);
            let statement = tx
                .prepare_cached(&statements(kind).write)
                .await
                .map_err(|e| StoreError::postgres("config_write", e))?;
            let row = tx
                .query_one(
                    &statement,
                    &[&tenant.as_str(), &id, write.spec, &version, &kind.name()],
                )
                .await
                .map_err(|e| StoreError::postgres("config_write", e))?;
            let row = config_row(kind, &row)?;
            announce_in(&tx, announce, version).await?;
            tx.commit()
                .await
                .map_err(|e| StoreError::postgres("commit", e))?;
            Ok(row)
        })
        .await
    }

    pub(super) async fn delete_config(
        &self,
        entity: ConfigEntity<'_>,
        announce: &Announce<'_>,
    ) -> Result<Option<i64>, StoreError> {
        timed("config_delete", async {
            let mut client = self.primary.get().await?;
            let tx = client
                .transaction()
                .await
                .map_err(|e| StoreError::postgres("begin", e))?;
            let (high_water, current) = lock(&tx, entity).await?;
            if current.is_none() {
                // Nothing to delete; the transaction only created the high-water row of an
                // entity that never existed, which its rollback removes again.
                return Ok(None);
            }
            let version = next_version(high_water, current);
            let statement = tx
                .prepare_cached(&statements(entity.kind).delete)
                .await
                .map_err(|e| StoreError::postgres("config_delete", e))?;
            tx.execute(
                &statement,
                &[
                    &entity.tenant.as_str(),
                    &entity.id,
                    &version,
                    &entity.kind.name(),
                ],
            )
            .await
            .map_err(|e| StoreError::postgres("config_delete", e))?;
            announce_in(&tx, announce, version).await?;
            tx.commit()
                .await
                .map_err(|e| StoreError::postgres("commit", e))?;
            Ok(Some(version))
        })
        .await
    }

    pub(super) async fn list_config(
        &self,
        kind: ConfigKind,
        tenant: &TenantId,
        limit: u32,
        after_id: Option<&str>,
    ) -> Result<Vec<ConfigRow>, StoreError> {
        let limit = i64::from(limit);
        timed("config_list", async {
            let client = self.reader().get().await?;
            let statement = client
                .prepare_cached(&statements(kind).list)
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

    pub(super) async fn get_config(
        &self,
        entity: ConfigEntity<'_>,
    ) -> Result<Option<ConfigRow>, StoreError> {
        timed("config_get", async {
            let client = self.reader().get().await?;
            let statement = client
                .prepare_cached(&statements(entity.kind).get)
                .await
                .map_err(|e| StoreError::postgres("config_get", e))?;
            let row = client
                .query_opt(&statement, &[&entity.tenant.as_str(), &entity.id])
                .await
                .map_err(|e| StoreError::postgres("config_get", e))?;
            row.map(|row| config_row(entity.kind, &row)).transpose()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_own_table_in_every_statement() {
        for (kind, table) in [
            (ConfigKind::Source, "sources"),
            (ConfigKind::Endpoint, "endpoints"),
        ] {
            let s = statements(kind);
            for sql in [&s.current, &s.write, &s.delete, &s.list, &s.get] {
                assert!(!sql.contains("{table}"), "{sql}");
                assert!(sql.contains(table), "{sql}");
            }
        }
    }
}
