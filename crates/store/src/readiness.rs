//! The `/readyz` check for PostgreSQL.

use switchyard_runtime::health::{CheckFuture, ReadinessCheck};

use crate::{error::StoreError, pool::DbPool};

/// Readiness of the database for `/readyz`; see [`crate::Store::readiness_check`].
pub struct DatabaseReady {
    pub(crate) pools: Vec<DbPool>,
}

impl ReadinessCheck for DatabaseReady {
    fn name(&self) -> &str {
        "postgres"
    }

    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            for pool in &self.pools {
                let client = pool.get().await.map_err(|e| e.to_string())?;
                // A statement, not just a checkout: a pooled connection can look open while
                // the server behind it is gone.
                client
                    .simple_query("SELECT 1")
                    .await
                    .map_err(|e| StoreError::postgres("readiness", e).to_string())?;
            }
            Ok(())
        })
    }
}
