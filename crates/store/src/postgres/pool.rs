//! Bounded connection pools built from `[database]`.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use secrecy::{ExposeSecret, SecretString};
use switchyard_runtime::settings::DatabaseSettings;
use tokio_postgres::NoTls;

use crate::error::{PoolContext, StoreError};

/// One pool and what it needs to explain its errors.
#[derive(Clone)]
pub(crate) struct DbPool {
    pub(crate) pool: Pool,
    pub(crate) context: PoolContext,
    /// What the pool connects with, for a connection of its own (`LISTEN`).
    pub(crate) config: tokio_postgres::Config,
}

impl DbPool {
    /// A pool over `url` (the setting `key`), bounded by `pool_size`, every wait bounded by
    /// `connect_timeout_secs`. No connection is opened yet.
    pub(crate) fn new(
        key: &'static str,
        url: &SecretString,
        settings: &DatabaseSettings,
    ) -> Result<Self, StoreError> {
        if settings.pool_size == 0 {
            return Err(StoreError::Config {
                key: "database.pool_size",
                reason: "must be at least 1".into(),
            });
        }
        if settings.connect_timeout_secs == 0 {
            return Err(StoreError::Config {
                key: "database.connect_timeout_secs",
                reason: "must be at least 1".into(),
            });
        }
        // The parser's messages quote no part of the URL, so the password stays out of logs.
        let mut config: tokio_postgres::Config =
            url.expose_secret()
                .parse()
                .map_err(|error| StoreError::Config {
                    key,
                    reason: format!("not a PostgreSQL connection URL: {error}"),
                })?;
        let timeout = Duration::from_secs(settings.connect_timeout_secs);
        config.connect_timeout(timeout);
        if config.get_application_name().is_none() {
            // Lets an operator tell our sessions apart in pg_stat_activity.
            config.application_name("switchyard");
        }
        // PostgreSQL's own default: without a database name, the user's name is used.
        let database = config
            .get_dbname()
            .or(config.get_user())
            .unwrap_or("postgres")
            .to_owned();
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                // A broken connection is detected by `is_closed` on checkout and by the
                // failing statement itself; a round trip per checkout would cost more than
                // the rare retry it saves.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size)
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|error| StoreError::Config {
                key,
                reason: error.to_string(),
            })?;
        Ok(Self {
            pool,
            context: PoolContext {
                database,
                size: settings.pool_size,
                timeout,
            },
            config,
        })
    }

    /// A pooled connection, waiting at most the configured timeout.
    pub(crate) async fn get(&self) -> Result<Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|error| self.context.error(error))
    }
}
