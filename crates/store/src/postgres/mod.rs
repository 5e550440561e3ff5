//! The PostgreSQL engine: connection pools to the primary and (optionally) a read replica,
//! SQL in `.sql` files run with `prepare_cached`, each query timed.
//!
//! Connections are plain TCP (`NoTls`): the database is reached over the cluster network or
//! a sidecar. A URL asking for `sslmode=require` fails to connect rather than silently
//! downgrading.

mod backend;
mod config;
mod dead_letters;
mod deliveries;
mod event_row;
mod events;
mod events_list;
mod listen;
pub(crate) mod migrate;
pub(crate) mod outbox;
mod pool;
mod timing;

use std::time::Duration;

use deadpool_postgres::{Client, Pool};
pub use listen::listen;
use secrecy::ExposeSecret;
use switchyard_runtime::settings::DatabaseSettings;

use self::{pool::DbPool, timing::timed};
use crate::error::StoreError;

/// The PostgreSQL engine behind a [`crate::Store`]: its pools, for tests, benchmarks and
/// tools that run statements of their own ([`crate::Store::postgres`]). Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    primary: DbPool,
    replica: Option<DbPool>,
}

impl PgStore {
    /// Builds the pools and opens one connection to each server; see
    /// [`crate::Store::connect`].
    pub(crate) async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let primary = DbPool::new("database.url", &settings.url, settings)?;
        let replica = if settings.read_url.expose_secret().trim().is_empty() {
            None
        } else {
            Some(DbPool::new(
                "database.read_url",
                &settings.read_url,
                settings,
            )?)
        };
        let store = Self { primary, replica };
        for pool in store.pools() {
            drop(pool.get().await?);
        }
        Ok(store)
    }

    /// Where queries read from: the replica when configured (results may lag the primary
    /// by the replication delay), else the primary.
    fn reader(&self) -> &DbPool {
        self.replica.as_ref().unwrap_or(&self.primary)
    }

    fn pools(&self) -> impl Iterator<Item = &DbPool> {
        std::iter::once(&self.primary).chain(self.replica.as_ref())
    }

    /// A connection to the primary from the pool, for statements of the caller's own, such
    /// as a transaction around [`crate::outbox::enqueue`].
    pub async fn client(&self) -> Result<Client, StoreError> {
        self.primary.get().await
    }

    /// The primary's pool.
    #[must_use]
    pub fn pool(&self) -> &Pool {
        &self.primary.pool
    }

    /// The pool queries read from: the replica's when `read_url` is set, else the primary's.
    #[must_use]
    pub fn read_pool(&self) -> &Pool {
        &self.reader().pool
    }

    /// The primary's connection configuration, for a connection outside the pool.
    #[must_use]
    pub fn primary_config(&self) -> &tokio_postgres::Config {
        &self.primary.config
    }

    /// Passes while the primary (and the replica, when configured) hands out a connection
    /// that answers a query.
    async fn check_ready(&self) -> Result<(), String> {
        for pool in self.pools() {
            let client = pool.get().await.map_err(|e| e.to_string())?;
            // A statement, not just a checkout: a pooled connection can look open while
            // the server behind it is gone.
            client
                .simple_query("SELECT 1")
                .await
                .map_err(|e| StoreError::postgres("readiness", e).to_string())?;
        }
        Ok(())
    }

    /// Runs a chunked `DELETE` taking `($1 age in seconds, $2 chunk)` until a chunk comes
    /// back short.
    async fn prune_in_chunks(
        &self,
        operation: &'static str,
        sql: &'static str,
        older_than: Duration,
        chunk: u32,
    ) -> Result<u64, StoreError> {
        let age = older_than.as_secs_f64();
        let chunk = i64::from(chunk.max(1));
        let mut total = 0;
        loop {
            let deleted = timed(operation, async {
                let client = self.primary.get().await?;
                let statement = client
                    .prepare_cached(sql)
                    .await
                    .map_err(|e| StoreError::postgres(operation, e))?;
                client
                    .execute(&statement, &[&age, &chunk])
                    .await
                    .map_err(|e| StoreError::postgres(operation, e))
            })
            .await?;
            total += deleted;
            if deleted < chunk.unsigned_abs() {
                return Ok(total);
            }
        }
    }
}
