//! Opening the store the way a service needs it: connected and migrated at start-up when
//! PostgreSQL is there, in the background when it is not, with `/readyz` saying which. A
//! `memory://` store opens at once.
//!
//! A service starts (and serves `/healthz`) while PostgreSQL is down or its database is not
//! created yet, as it does while the broker is down: a pod in a crash loop recovers more
//! slowly, and says less about why, than one that is alive and answers "not ready: database
//! \"switchyard\" does not exist". Errors no retry can fix by itself (an edited migration) are
//! logged as errors and still retried, so an operator can repair the database without a
//! restart.

use std::{
    sync::{Arc, Mutex, OnceLock, PoisonError},
    time::Duration,
};

use switchyard_runtime::{
    Shutdown,
    health::{CheckFuture, ReadinessCheck},
    settings::DatabaseSettings,
};

use crate::{DatabaseReady, Store, StoreError};

/// First wait between attempts; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A store being opened. Clones share the state.
#[derive(Clone, Default)]
pub struct Opening {
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    open: OnceLock<DatabaseReady>,
    problem: Mutex<String>,
}

impl Opening {
    /// Nothing tried yet; `/readyz` is red until a store is open.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The `/readyz` check named `postgres`: the last error until the store is open, then the
    /// store's own check (red again while PostgreSQL is away).
    #[must_use]
    pub fn readiness_check(&self) -> OpeningReady {
        OpeningReady(self.state.clone())
    }

    /// One attempt to connect and migrate, for start-up. `Ok(None)`: not yet, the reason is on
    /// `/readyz` and in the log, and [`Opening::open`] keeps trying. `Err`: a `[database]`
    /// setting can never work, which only a restart with a fixed configuration cures, so
    /// start-up should stop and say so.
    ///
    /// # Errors
    /// [`StoreError::Config`].
    pub async fn try_open(&self, settings: &DatabaseSettings) -> Result<Option<Store>, StoreError> {
        match connect_and_migrate(settings).await {
            Ok(store) => Ok(Some(self.opened(store))),
            Err(error @ StoreError::Config { .. }) => Err(error),
            Err(error) => {
                tracing::warn!(%error, "database not usable at start-up; retrying in the background");
                self.failed(&error);
                Ok(None)
            }
        }
    }

    /// Connects and migrates, retrying with backoff until it works (`Some`) or shutdown
    /// starts (`None`).
    pub async fn open(&self, settings: &DatabaseSettings, shutdown: &Shutdown) -> Option<Store> {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1_u32.. {
            let result = tokio::select! {
                () = shutdown.triggered() => return None,
                result = connect_and_migrate(settings) => result,
            };
            match result {
                Ok(store) => return Some(self.opened(store)),
                Err(error) if error.is_transient() => {
                    tracing::warn!(%error, attempt, "database not reachable yet; retrying");
                    self.failed(&error);
                }
                Err(error) => {
                    tracing::error!(%error, attempt, "database not usable; retrying until it is fixed");
                    self.failed(&error);
                }
            }
            tokio::select! {
                () = shutdown.triggered() => return None,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        None
    }

    fn opened(&self, store: Store) -> Store {
        // Only the one task opening the store sets it, once.
        let _ = self.state.open.set(store.readiness_check());
        store
    }

    fn failed(&self, error: &StoreError) {
        *self
            .state
            .problem
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = error.to_string();
    }
}

async fn connect_and_migrate(settings: &DatabaseSettings) -> Result<Store, StoreError> {
    let store = Store::connect(settings).await?;
    let applied = store.migrate().await?;
    tracing::info!(
        migrations_applied = applied.len(),
        "database connected and schema up to date"
    );
    Ok(store)
}

/// `/readyz`'s view of an [`Opening`].
pub struct OpeningReady(Arc<State>);

impl ReadinessCheck for OpeningReady {
    fn name(&self) -> &str {
        "postgres"
    }

    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            match self.0.open.get() {
                Some(ready) => ready.check().await,
                None => {
                    let problem = self
                        .0
                        .problem
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    Err(if problem.is_empty() {
                        "connecting to PostgreSQL".to_owned()
                    } else {
                        format!("not connected yet: {problem}")
                    })
                }
            }
        })
    }
}
