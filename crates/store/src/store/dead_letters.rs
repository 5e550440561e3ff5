//! [`Store`]'s dead-letter operations.

use std::time::Duration;

use switchyard_domain::TenantId;

use super::Store;
use crate::{
    DeadLetter, DeadLetterCursor, DeadLetterFilter, DeadLetterPage, MAX_PAGE_SIZE, NewDeadLetter,
    StoreError,
};

impl Store {
    /// Stores dead letters and returns how many were new; one whose `source_position` is
    /// already stored is skipped (a replayed batch stores nothing twice).
    #[tracing::instrument(skip_all, fields(dead_letters = letters.len()))]
    pub async fn insert_dead_letters(&self, letters: &[NewDeadLetter]) -> Result<u64, StoreError> {
        if letters.is_empty() {
            return Ok(0);
        }
        self.backend.insert_dead_letters(letters).await
    }

    /// One page of `tenant`'s dead letters matching `filter`, newest first, at most `limit`
    /// long (1 to [`MAX_PAGE_SIZE`]), starting after `cursor`.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn list_dead_letters(
        &self,
        tenant: &TenantId,
        filter: &DeadLetterFilter,
        limit: u32,
        cursor: Option<&DeadLetterCursor>,
    ) -> Result<DeadLetterPage, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        self.backend
            .list_dead_letters(tenant, filter, limit, cursor)
            .await
    }

    /// Dead letter `id` of `tenant`, if stored.
    pub async fn get_dead_letter(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<DeadLetter>, StoreError> {
        self.backend.get_dead_letter(tenant, id).await
    }

    /// Records that dead letter `id` of `tenant` was redriven (call it once the broker
    /// acknowledged the republished record): sets `redriven_at` to now and counts one more
    /// redrive. Returns the updated dead letter, or `None` when there is no such one.
    pub async fn mark_redriven(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<DeadLetter>, StoreError> {
        self.backend.mark_redriven(tenant, id).await
    }

    /// Retention for dead letters, as [`Store::prune_events`] is for events.
    pub async fn prune_dead_letters(
        &self,
        older_than: Duration,
        chunk: u32,
    ) -> Result<u64, StoreError> {
        self.backend
            .prune_dead_letters(older_than, chunk.max(1))
            .await
    }
}
