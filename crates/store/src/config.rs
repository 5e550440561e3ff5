//! Sources and endpoints managed through the gateway: one row per entity, its spec opaque
//! JSON (secrets already sealed by the gateway), and a version that only ever rises.
//!
//! Every write is one unit of work that also enqueues the matching `switchyard.config.*`
//! event, routed to the config topic ([`crate::Store::write_endpoint`] and friends take a
//! callback that builds it from the version the write produced): the entity and the config
//! topic never disagree about what was committed. Writers of one entity run one after the
//! other (on PostgreSQL they queue on the entity's `config_versions` row; in memory, on the
//! store's lock), so a version check and the write it guards cannot interleave with another
//! writer. Versions:
//!
//! - the first write of an id gives version 1, each change one more;
//! - a delete takes the next version too (the version the `deleted` event carries), and a
//!   re-created entity continues above it, so a follower that ignores changes at or below
//!   the version it applied never ignores a re-creation.
//!
//! On [`StoreError::VersionConflict`] or [`StoreError::AlreadyExists`] nothing was written.
//! Reads ([`crate::Store::list_sources`], [`crate::Store::get_source`], ...) go to the
//! read pool, so with a replica configured they may lag a write that just committed.
//!
//! ```no_run
//! use switchyard_domain::{EndpointId, Event, EventId, EventType, TenantId};
//! use switchyard_store::{Store, StoreError, config::Precondition, outbox::Route};
//! # async fn put(store: &Store, tenant: &TenantId, id: &EndpointId,
//! #              spec: &serde_json::Value, if_match: Option<i64>)
//! #              -> Result<(), StoreError> {
//! let precondition = if_match.map_or(Precondition::Any, Precondition::AtVersion);
//! // The change carries the version the write produced; keyed per entity on `<prefix>.config`.
//! let announce = |version: i64| {
//!     let data = serde_json::json!({ "version": version, "spec": spec });
//!     let change = Event::builder(
//!         tenant.clone(),
//!         EventId::generate(),
//!         "/switchyard/gateway",
//!         EventType::parse("switchyard.config.endpoint.upserted")
//!             .map_err(|e| StoreError::ChangeEvent { reason: e.to_string() })?,
//!     )
//!     .subject(Some(id.to_string()))
//!     .data(Some("application/json".into()), data.to_string())
//!     .build()
//!     .map_err(|e| StoreError::ChangeEvent { reason: e.to_string() })?;
//!     Ok((change, Route::config(format!("endpoint/{tenant}/{id}"))))
//! };
//! // A conflict returns early, and nothing was written.
//! let row = store.write_endpoint(tenant, id, spec, precondition, &announce).await?;
//! # Ok(())
//! # }
//! ```

use chrono::{DateTime, Utc};
use switchyard_domain::TenantId;

use crate::error::StoreError;

/// One source or endpoint as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigRow {
    /// Its tenant.
    pub tenant: TenantId,
    /// Its id within the tenant (a `SourceId` or an `EndpointId`).
    pub id: String,
    /// The spec exactly as the gateway wrote it.
    pub spec: serde_json::Value,
    /// Rises with every write of this id, across deletes; 1 for the first.
    pub version: i64,
    /// When the entity (this incarnation of it) was created. Equal to `updated_at` exactly
    /// when the write that returned this row created it, so a `PUT` can tell `201` from
    /// `200`. Microsecond precision.
    pub created_at: DateTime<Utc>,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
}

/// Sources or endpoints: two tables, two separate id spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigKind {
    /// A webhook source.
    Source,
    /// A delivery endpoint.
    Endpoint,
}

impl ConfigKind {
    /// `source` or `endpoint`: the `kind` in errors and in `config_versions`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Endpoint => "endpoint",
        }
    }
}

/// What a write may find, and must find, before it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// The entity must not exist (`POST`): [`StoreError::AlreadyExists`] otherwise.
    Absent,
    /// The entity must exist at this version (`PUT` with `If-Match`):
    /// [`StoreError::VersionConflict`] otherwise.
    AtVersion(i64),
    /// Anything (`PUT` without `If-Match`).
    Any,
}

impl Precondition {
    /// Why a write finding the entity at `current` (`None`: absent) may not go ahead.
    pub(crate) fn check(
        self,
        kind: ConfigKind,
        tenant: &TenantId,
        id: &str,
        current: Option<i64>,
    ) -> Result<(), StoreError> {
        match (self, current) {
            (Self::Absent, Some(version)) => Err(StoreError::AlreadyExists {
                kind: kind.name(),
                tenant: tenant.to_string(),
                id: id.to_owned(),
                version,
            }),
            (Self::AtVersion(expected), actual) if actual != Some(expected) => {
                Err(StoreError::VersionConflict {
                    kind: kind.name(),
                    tenant: tenant.to_string(),
                    id: id.to_owned(),
                    expected,
                    actual,
                })
            }
            _ => Ok(()),
        }
    }
}

/// The version after `high_water` and `current`: the high-water mark never lags the row, but
/// taking both keeps versions rising even if someone edited one of the tables by hand.
pub(crate) fn next_version(high_water: i64, current: Option<i64>) -> i64 {
    high_water.max(current.unwrap_or(0)).saturating_add(1)
}

/// Refuses a spec PostgreSQL's `jsonb` cannot hold, in every engine.
pub(crate) fn check_spec(
    tenant: &TenantId,
    id: &str,
    spec: &serde_json::Value,
) -> Result<(), StoreError> {
    if contains_nul(spec) {
        return Err(StoreError::Unstorable {
            tenant: tenant.to_string(),
            id: id.to_owned(),
            reason: "the spec contains a NUL character, which PostgreSQL jsonb cannot hold",
        });
    }
    Ok(())
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
}
