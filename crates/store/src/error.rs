//! What can go wrong in the store, in the caller's terms, and whether retrying helps.

use std::{error::Error as _, time::Duration};

use deadpool_postgres::{PoolError, TimeoutType};
use tokio_postgres::error::SqlState;

/// Why a store operation failed. [`StoreError::is_transient`] tells a caller whether the same
/// call may succeed later (back off and retry) or never will (fix something, or dead-letter).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A `[database]` setting cannot work; the message names the key.
    #[error("invalid configuration: {key}: {reason}")]
    Config {
        /// Dotted key, e.g. `database.url`.
        key: &'static str,
        /// What is wrong and what is accepted.
        reason: String,
    },

    /// The server answers, but the database named in the URL is not there.
    #[error(
        "database {name:?} does not exist on the PostgreSQL server: create it \
         (CREATE DATABASE \"{name}\") or correct database.url"
    )]
    DatabaseMissing {
        /// The database the URL names.
        name: String,
    },

    /// The server could not be reached, or the connection broke during `operation`.
    #[error("PostgreSQL is unavailable ({operation}): {}", describe(source))]
    Unavailable {
        /// What was being done, e.g. `connect` or `insert_events`.
        operation: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// Opening a new connection took longer than `database.connect_timeout_secs`.
    #[error("PostgreSQL did not accept a connection within {after:?}")]
    ConnectTimeout {
        /// The configured limit.
        after: Duration,
    },

    /// Every pooled connection stayed busy for the whole wait.
    #[error(
        "no database connection became free within {waited:?}: all {size} are busy \
         (raise database.pool_size or lower the load)"
    )]
    PoolTimeout {
        /// How long the caller waited.
        waited: Duration,
        /// `database.pool_size`.
        size: usize,
    },

    /// The pool was closed (the service is shutting down).
    #[error("the database connection pool is closed")]
    PoolClosed,

    /// The server refused a statement.
    #[error("{operation} failed: {}", describe(source))]
    Query {
        /// What was being done, e.g. `insert_events`.
        operation: &'static str,
        /// The driver's error; its SQLSTATE decides [`StoreError::is_transient`].
        #[source]
        source: tokio_postgres::Error,
    },

    /// A migration file was edited after the database applied it. Start-up stops here: the
    /// schema the code expects and the schema the database has may differ.
    #[error(
        "migration {version} ({name}) was changed after it was applied: the database \
         recorded checksum {applied}, this build has {embedded}; restore the original \
         migration and put the change in a new one"
    )]
    MigrationChecksum {
        /// Migration version.
        version: i64,
        /// Migration name.
        name: String,
        /// Checksum recorded in `schema_migrations`.
        applied: String,
        /// Checksum of the SQL embedded in this build.
        embedded: String,
    },

    /// A pagination cursor that this store did not issue (or that was altered).
    #[error("invalid cursor: pass back the cursor of the previous page unchanged")]
    InvalidCursor,

    /// A record that PostgreSQL cannot hold as given (e.g. a NUL character in a text value).
    /// Retrying never helps; the caller should set the record aside (DLQ).
    #[error("record {tenant}/{id} cannot be stored: {reason}")]
    Unstorable {
        /// The record's tenant.
        tenant: String,
        /// The record's id.
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A conditional write of a configuration entity found another version than the caller
    /// expected (it changed since the caller read it, or it no longer exists): HTTP 409/412.
    /// The caller's transaction should be rolled back.
    #[error(
        "{kind} {tenant}/{id} is at version {}, not {expected}: read it again and retry",
        actual.map_or_else(|| "none (it does not exist)".to_owned(), |v| v.to_string())
    )]
    VersionConflict {
        /// `source` or `endpoint`.
        kind: &'static str,
        /// The entity's tenant.
        tenant: String,
        /// The entity's id.
        id: String,
        /// The version the caller expected.
        expected: i64,
        /// The version stored, `None` when no such entity exists.
        actual: Option<i64>,
    },

    /// A create found the entity already there: HTTP 409. The caller's transaction should be
    /// rolled back.
    #[error("{kind} {tenant}/{id} already exists (version {version})")]
    AlreadyExists {
        /// `source` or `endpoint`.
        kind: &'static str,
        /// The entity's tenant.
        tenant: String,
        /// The entity's id.
        id: String,
        /// Its current version.
        version: i64,
    },

    /// The function building a configuration write's change event refused (see
    /// [`crate::backend::Announce`]); nothing was written.
    #[error("the configuration change's event could not be built: {reason}")]
    ChangeEvent {
        /// Why, in the caller's words.
        reason: String,
    },

    /// The in-memory store holds as many `what` as it will (see the crate documentation);
    /// transient: it takes more once the relay has drained the outbox.
    #[error("the in-memory store holds its limit of {limit} {what}; retry once they drain")]
    Full {
        /// E.g. `pending outbox rows`.
        what: &'static str,
        /// The limit.
        limit: usize,
    },

    /// A stored row no longer decodes into a valid value (written by something else, or by an
    /// older build with looser rules).
    #[error("stored row {what} is invalid: {reason}")]
    CorruptRow {
        /// Which row, e.g. `events acme/evt_1`.
        what: String,
        /// What failed to decode.
        reason: String,
    },
}

impl StoreError {
    /// Classifies a driver error raised while doing `operation`: a lost or unreachable
    /// server becomes [`StoreError::Unavailable`], anything else [`StoreError::Query`].
    ///
    /// Public so services that run their own statements in a transaction (the outbox
    /// relay, a service around [`crate::outbox::enqueue`]) report errors the same way.
    #[must_use]
    pub fn postgres(operation: &'static str, source: tokio_postgres::Error) -> Self {
        if connection_lost(&source) {
            Self::Unavailable { operation, source }
        } else {
            Self::Query { operation, source }
        }
    }

    /// Whether the same call may succeed later: the server was unreachable, the pool was
    /// busy, or PostgreSQL itself asked for a retry (serialization failure, deadlock, lock or
    /// statement timeout, out of resources). Everything else is permanent.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unavailable { .. }
            | Self::ConnectTimeout { .. }
            | Self::PoolTimeout { .. }
            | Self::Full { .. } => true,
            Self::Query { source, .. } => source.code().is_some_and(retryable_state),
            Self::Config { .. }
            | Self::DatabaseMissing { .. }
            | Self::PoolClosed
            | Self::MigrationChecksum { .. }
            | Self::InvalidCursor
            | Self::Unstorable { .. }
            | Self::VersionConflict { .. }
            | Self::AlreadyExists { .. }
            | Self::ChangeEvent { .. }
            | Self::CorruptRow { .. } => false,
        }
    }

    /// The SQLSTATE the server answered with, if it answered.
    #[must_use]
    pub fn sql_state(&self) -> Option<&SqlState> {
        match self {
            Self::Unavailable { source, .. } | Self::Query { source, .. } => source.code(),
            _ => None,
        }
    }
}

/// The driver's `Display` says only "db error" for everything the server refused; the
/// server's own message and SQLSTATE are what tell an operator what to fix.
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = format!(
                "{}: {} (SQLSTATE {})",
                db.severity(),
                db.message(),
                db.code().code()
            );
            if let Some(detail) = db.detail() {
                text.push_str("; ");
                text.push_str(detail);
            }
            text
        }
        None => match error.source() {
            Some(cause) => format!("{error}: {cause}"),
            None => error.to_string(),
        },
    }
}

/// Class 40 (transaction rollback: serialization failure, deadlock), class 53 (insufficient
/// resources), `55P03` (lock not available) and `57014` (statement timeout / cancel).
fn retryable_state(state: &SqlState) -> bool {
    let code = state.code();
    code.starts_with("40")
        || code.starts_with("53")
        || *state == SqlState::LOCK_NOT_AVAILABLE
        || *state == SqlState::QUERY_CANCELED
}

/// Class 08 (connection exception), `57P01..03` (server shutting down or starting up), a
/// closed connection, or an I/O error with no SQLSTATE at all.
fn connection_lost(error: &tokio_postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    match error.code() {
        Some(state) => {
            let code = state.code();
            code.starts_with("08") || code.starts_with("57P")
        }
        // Without a SQLSTATE the server never judged the statement: either the socket failed
        // (transient) or our side could not encode/decode a value (permanent).
        None => error
            .source()
            .is_some_and(|cause| cause.is::<std::io::Error>()),
    }
}

/// Context a pool needs to turn its errors into [`StoreError`]s.
#[derive(Debug, Clone)]
pub(crate) struct PoolContext {
    pub(crate) database: String,
    pub(crate) size: usize,
    pub(crate) timeout: Duration,
}

impl PoolContext {
    pub(crate) fn error(&self, error: PoolError) -> StoreError {
        match error {
            PoolError::Timeout(TimeoutType::Wait) => StoreError::PoolTimeout {
                waited: self.timeout,
                size: self.size,
            },
            PoolError::Timeout(TimeoutType::Create | TimeoutType::Recycle) => {
                StoreError::ConnectTimeout {
                    after: self.timeout,
                }
            }
            PoolError::Backend(source)
                if source.code() == Some(&SqlState::INVALID_CATALOG_NAME) =>
            {
                StoreError::DatabaseMissing {
                    name: self.database.clone(),
                }
            }
            PoolError::Backend(source) => StoreError::postgres("connect", source),
            PoolError::Closed => StoreError::PoolClosed,
            PoolError::NoRuntimeSpecified | PoolError::PostCreateHook(_) => StoreError::Config {
                key: "database",
                reason: error.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_wait_and_connect_timeouts_are_transient_closed_pool_is_not() {
        let context = PoolContext {
            database: "switchyard".into(),
            size: 4,
            timeout: Duration::from_secs(5),
        };
        let busy = context.error(PoolError::Timeout(TimeoutType::Wait));
        assert!(matches!(busy, StoreError::PoolTimeout { size: 4, .. }));
        assert!(busy.is_transient());
        let slow = context.error(PoolError::Timeout(TimeoutType::Create));
        assert!(matches!(slow, StoreError::ConnectTimeout { .. }));
        assert!(slow.is_transient());
        assert!(!context.error(PoolError::Closed).is_transient());
    }

    #[test]
    fn retryable_states_are_those_postgres_asks_to_retry() {
        assert!(retryable_state(&SqlState::T_R_SERIALIZATION_FAILURE));
        assert!(retryable_state(&SqlState::T_R_DEADLOCK_DETECTED));
        assert!(retryable_state(&SqlState::TOO_MANY_CONNECTIONS));
        assert!(retryable_state(&SqlState::LOCK_NOT_AVAILABLE));
        assert!(!retryable_state(&SqlState::UNIQUE_VIOLATION));
        assert!(!retryable_state(&SqlState::UNDEFINED_TABLE));
        assert!(!retryable_state(&SqlState::UNTRANSLATABLE_CHARACTER));
    }

    #[test]
    fn missing_database_message_names_it_and_the_fix() {
        let error = StoreError::DatabaseMissing {
            name: "switchyard".into(),
        };
        let message = error.to_string();
        assert!(
            message.contains("\"switchyard\" does not exist"),
            "{message}"
        );
        assert!(message.contains("database.url"), "{message}");
        assert!(!error.is_transient());
    }
}
