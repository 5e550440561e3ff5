//! Sources and endpoints in memory, with PostgreSQL's version rules: a high-water mark per
//! entity that outlives its deletion. Each write is planned without changing anything, so
//! the caller can enqueue the change event (which may fail) before applying it.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use switchyard_domain::TenantId;

use crate::{
    ConfigRow, StoreError,
    backend::{ConfigEntity, ConfigWrite},
    config::{ConfigKind, Precondition, next_version},
    events::to_micros,
};

type Key = (ConfigKind, TenantId, String);

fn key(entity: ConfigEntity<'_>) -> Key {
    (entity.kind, entity.tenant.clone(), entity.id.to_owned())
}

#[derive(Default)]
pub(super) struct Config {
    /// In `(kind, tenant, id)` order: a listing is one range.
    rows: BTreeMap<Key, ConfigRow>,
    /// The highest version each entity ever had, kept after a delete.
    high_water: HashMap<Key, i64>,
}

impl Config {
    fn versions(&self, key: &Key) -> (i64, Option<i64>) {
        let high_water = self.high_water.get(key).copied().unwrap_or(0);
        (high_water, self.rows.get(key).map(|row| row.version))
    }

    /// The row `write` would store, or why it may not.
    pub(super) fn plan_write(
        &self,
        write: ConfigWrite<'_>,
        precondition: Precondition,
    ) -> Result<ConfigRow, StoreError> {
        let ConfigEntity { kind, tenant, id } = write.entity;
        let key = key(write.entity);
        let (high_water, current) = self.versions(&key);
        precondition.check(kind, tenant, id, current)?;
        let now = to_micros(Utc::now());
        Ok(ConfigRow {
            tenant: tenant.clone(),
            id: id.to_owned(),
            spec: write.spec.clone(),
            version: next_version(high_water, current),
            created_at: self.rows.get(&key).map_or(now, |row| row.created_at),
            updated_at: now,
        })
    }

    pub(super) fn apply_write(&mut self, kind: ConfigKind, row: ConfigRow) {
        let key = (kind, row.tenant.clone(), row.id.clone());
        self.high_water.insert(key.clone(), row.version);
        self.rows.insert(key, row);
    }

    /// The version a delete of `entity` takes; `None` when it does not exist.
    pub(super) fn plan_delete(&self, entity: ConfigEntity<'_>) -> Option<i64> {
        let (high_water, current) = self.versions(&key(entity));
        current.map(|_| next_version(high_water, current))
    }

    pub(super) fn apply_delete(&mut self, entity: ConfigEntity<'_>, version: i64) {
        let key = key(entity);
        self.rows.remove(&key);
        self.high_water.insert(key, version);
    }

    pub(super) fn list(
        &self,
        kind: ConfigKind,
        tenant: &TenantId,
        limit: u32,
        after_id: Option<&str>,
    ) -> Vec<ConfigRow> {
        let start = (
            kind,
            tenant.clone(),
            after_id.unwrap_or_default().to_owned(),
        );
        let from = match after_id {
            Some(_) => std::ops::Bound::Excluded(start),
            None => std::ops::Bound::Included(start),
        };
        self.rows
            .range((from, std::ops::Bound::Unbounded))
            .take_while(|((k, t, _), _)| *k == kind && t == tenant)
            .take(limit as usize)
            .map(|(_, row)| row.clone())
            .collect()
    }

    pub(super) fn get(&self, entity: ConfigEntity<'_>) -> Option<ConfigRow> {
        self.rows.get(&key(entity)).cloned()
    }
}
