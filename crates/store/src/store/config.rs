//! [`Store`]'s configuration operations: sources and endpoints, each write together with its
//! change event.

use switchyard_domain::{EndpointId, SourceId, TenantId};

use super::Store;
use crate::{
    ConfigRow, MAX_PAGE_SIZE, StoreError,
    backend::{Announce, ConfigEntity, ConfigWrite},
    config::{ConfigKind, Precondition, check_spec},
};

impl Store {
    /// Writes source `id` of `tenant` (see [`Precondition`] for create, replace and
    /// `If-Match`) and, in the same unit of work, enqueues the event `announce` builds from
    /// the version the write produced. Returns the row as written.
    ///
    /// [`StoreError::AlreadyExists`] or [`StoreError::VersionConflict`] when the
    /// precondition fails; [`StoreError::Unstorable`] for a spec with a NUL. Nothing is
    /// written on any error, `announce`'s own included.
    pub async fn write_source(
        &self,
        tenant: &TenantId,
        id: &SourceId,
        spec: &serde_json::Value,
        precondition: Precondition,
        announce: &Announce<'_>,
    ) -> Result<ConfigRow, StoreError> {
        self.write_config(
            ConfigKind::Source,
            tenant,
            id.as_str(),
            spec,
            precondition,
            announce,
        )
        .await
    }

    /// [`Store::write_source`] for an endpoint.
    pub async fn write_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        spec: &serde_json::Value,
        precondition: Precondition,
        announce: &Announce<'_>,
    ) -> Result<ConfigRow, StoreError> {
        self.write_config(
            ConfigKind::Endpoint,
            tenant,
            id.as_str(),
            spec,
            precondition,
            announce,
        )
        .await
    }

    /// Deletes source `id` of `tenant` and, in the same unit of work, enqueues the event
    /// `announce` builds from the deletion's version (one above the deleted row's). Returns
    /// that version, or `None` (and calls nothing) when there was nothing to delete.
    pub async fn delete_source(
        &self,
        tenant: &TenantId,
        id: &SourceId,
        announce: &Announce<'_>,
    ) -> Result<Option<i64>, StoreError> {
        let entity = ConfigEntity {
            kind: ConfigKind::Source,
            tenant,
            id: id.as_str(),
        };
        self.backend.delete_config(entity, announce).await
    }

    /// [`Store::delete_source`] for an endpoint.
    pub async fn delete_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        announce: &Announce<'_>,
    ) -> Result<Option<i64>, StoreError> {
        let entity = ConfigEntity {
            kind: ConfigKind::Endpoint,
            tenant,
            id: id.as_str(),
        };
        self.backend.delete_config(entity, announce).await
    }

    async fn write_config(
        &self,
        kind: ConfigKind,
        tenant: &TenantId,
        id: &str,
        spec: &serde_json::Value,
        precondition: Precondition,
        announce: &Announce<'_>,
    ) -> Result<ConfigRow, StoreError> {
        check_spec(tenant, id, spec)?;
        let write = ConfigWrite {
            entity: ConfigEntity { kind, tenant, id },
            spec,
        };
        self.backend
            .write_config(write, precondition, announce)
            .await
    }

    /// Up to `limit` (1 to [`MAX_PAGE_SIZE`]) sources of `tenant` in id order, starting after
    /// `after_id` (the last id of the previous page). A page shorter than `limit` is the last.
    pub async fn list_sources(
        &self,
        tenant: &TenantId,
        limit: u32,
        after_id: Option<&SourceId>,
    ) -> Result<Vec<ConfigRow>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        let after = after_id.map(SourceId::as_str);
        self.backend
            .list_config(ConfigKind::Source, tenant, limit, after)
            .await
    }

    /// Source `id` of `tenant`, if it exists.
    pub async fn get_source(
        &self,
        tenant: &TenantId,
        id: &SourceId,
    ) -> Result<Option<ConfigRow>, StoreError> {
        let entity = ConfigEntity {
            kind: ConfigKind::Source,
            tenant,
            id: id.as_str(),
        };
        self.backend.get_config(entity).await
    }

    /// [`Store::list_sources`] for endpoints.
    pub async fn list_endpoints(
        &self,
        tenant: &TenantId,
        limit: u32,
        after_id: Option<&EndpointId>,
    ) -> Result<Vec<ConfigRow>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        let after = after_id.map(EndpointId::as_str);
        self.backend
            .list_config(ConfigKind::Endpoint, tenant, limit, after)
            .await
    }

    /// [`Store::get_source`] for endpoints.
    pub async fn get_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<Option<ConfigRow>, StoreError> {
        let entity = ConfigEntity {
            kind: ConfigKind::Endpoint,
            tenant,
            id: id.as_str(),
        };
        self.backend.get_config(entity).await
    }
}
