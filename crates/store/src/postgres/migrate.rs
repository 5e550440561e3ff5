//! Versioned SQL migrations, embedded in the binary and applied at start-up.

use sha2::{Digest, Sha256};

use super::{PgStore, timing::timed};
use crate::error::StoreError;

/// One migration: a version, a name and the SQL it runs.
struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, in version order. Append only: an applied migration never changes (its
/// checksum is checked at every start-up), a change goes in a new file.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "events",
        sql: include_str!("../../migrations/0001_events.sql"),
    },
    Migration {
        version: 2,
        name: "delivery_attempts",
        sql: include_str!("../../migrations/0002_delivery_attempts.sql"),
    },
    Migration {
        version: 3,
        name: "outbox",
        sql: include_str!("../../migrations/0003_outbox.sql"),
    },
    Migration {
        version: 4,
        name: "outbox_failed",
        sql: include_str!("../../migrations/0004_outbox_failed.sql"),
    },
    Migration {
        version: 5,
        name: "gateway",
        sql: include_str!("../../migrations/0005_gateway.sql"),
    },
];

/// Advisory lock key serialising migration runs across replicas ("SWYSMIGR" in ASCII). The
/// one-`bigint` key space does not overlap the two-`int4` space the outbox relay locks in.
const MIGRATION_LOCK: i64 = 0x5357_5953_4d49_4752;

const CREATE_HISTORY: &str = "
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    bigint PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

/// A migration this call applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    /// Its version.
    pub version: i64,
    /// Its name.
    pub name: &'static str,
}

/// SHA-256 of the SQL with line endings normalised, so a checkout that turned `\n` into
/// `\r\n` does not look like an edited migration.
fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.replace("\r\n", "\n").as_bytes()))
}

impl PgStore {
    /// Brings the schema up to date and returns the migrations this call applied (none when
    /// it was already current).
    ///
    /// Safe to call from every replica at once: the run holds a transaction-level advisory
    /// lock, so the second replica waits, then finds nothing left to do. The lock is released
    /// by the commit or rollback itself, so an error or a dropped future can never leave it
    /// held on a pooled connection (the risk a session-level lock would carry). The pending
    /// migrations and their `schema_migrations` rows commit together or not at all.
    ///
    /// Refuses with [`StoreError::MigrationChecksum`] when an applied migration's SQL changed.
    /// Versions in the database that this build does not know are tolerated with a warning,
    /// so an older replica can still start during a rolling upgrade.
    pub async fn migrate(&self) -> Result<Vec<AppliedMigration>, StoreError> {
        timed("migrate", async {
            let mut client = self.primary.get().await?;
            let tx = client
                .transaction()
                .await
                .map_err(|e| StoreError::postgres("migrate: begin", e))?;
            // First statement of the transaction, before any read: in READ COMMITTED every
            // later statement takes a fresh snapshot and so sees what the lock holder before
            // us committed.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await
                .map_err(|e| StoreError::postgres("migrate: lock", e))?;
            tx.batch_execute(CREATE_HISTORY)
                .await
                .map_err(|e| StoreError::postgres("migrate: history table", e))?;
            let rows = tx
                .query(
                    "SELECT version, name, checksum FROM schema_migrations ORDER BY version",
                    &[],
                )
                .await
                .map_err(|e| StoreError::postgres("migrate: read history", e))?;
            let mut applied_versions = Vec::with_capacity(rows.len());
            for row in &rows {
                let version: i64 = row.get(0);
                let name: String = row.get(1);
                let recorded: String = row.get(2);
                applied_versions.push(version);
                match MIGRATIONS.iter().find(|m| m.version == version) {
                    Some(migration) => {
                        let embedded = checksum(migration.sql);
                        if embedded != recorded {
                            return Err(StoreError::MigrationChecksum {
                                version,
                                name,
                                applied: recorded,
                                embedded,
                            });
                        }
                    }
                    None => tracing::warn!(
                        version,
                        name,
                        "database has a migration this build does not know (newer release?)"
                    ),
                }
            }
            let mut applied = Vec::new();
            for migration in MIGRATIONS
                .iter()
                .filter(|m| !applied_versions.contains(&m.version))
            {
                tx.batch_execute(migration.sql)
                    .await
                    .map_err(|e| StoreError::postgres("migrate: apply", e))?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    &[
                        &migration.version,
                        &migration.name,
                        &checksum(migration.sql),
                    ],
                )
                .await
                .map_err(|e| StoreError::postgres("migrate: record", e))?;
                tracing::info!(
                    version = migration.version,
                    name = migration.name,
                    "applied migration"
                );
                applied.push(AppliedMigration {
                    version: migration.version,
                    name: migration.name,
                });
            }
            tx.commit()
                .await
                .map_err(|e| StoreError::postgres("migrate: commit", e))?;
            Ok(applied)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_unique_and_ascending() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
        assert_eq!(MIGRATIONS.first().map(|m| m.version), Some(1));
    }

    #[test]
    fn checksum_ignores_line_ending_style_only() {
        assert_eq!(checksum("a;\nb;\n"), checksum("a;\r\nb;\r\n"));
        assert_ne!(checksum("a;\n"), checksum("b;\n"));
        assert_eq!(checksum("").len(), 64);
    }
}
