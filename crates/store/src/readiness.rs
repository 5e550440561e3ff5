//! The `/readyz` check for the store.

use std::sync::Arc;

use switchyard_runtime::health::{CheckFuture, ReadinessCheck};

use crate::backend::Backend;

/// Readiness of the store for `/readyz`, named after its engine (`postgres` or `memory`); see
/// [`crate::Store::readiness_check`].
pub struct DatabaseReady {
    pub(crate) backend: Arc<dyn Backend>,
}

impl ReadinessCheck for DatabaseReady {
    fn name(&self) -> &str {
        self.backend.engine()
    }

    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move { self.backend.check_ready().await })
    }
}
