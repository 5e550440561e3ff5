//! The outbox in memory, with the claim protocol of the PostgreSQL one: tenants tried in the
//! order of their oldest pending row and owned whole by one claim until it commits or lets
//! go; marks take effect at commit; a claim dropped half-way gives everything back.

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    sync::Arc,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchyard_domain::{EventId, TenantId};

use super::{MAX_PENDING_OUTBOX, MAX_PUBLISHED_OUTBOX, Shared, enforce_cap, prune_before};
use crate::{
    StoreError,
    backend::{OutboxClaim, Outgoing},
    outbox::{Backlog, Claimed, EnqueueOutcome, OutboxEntry, Route},
};

/// `(tenant, event id)`: the outbox's idempotency key.
type Key = (TenantId, EventId);

struct Pending {
    created_at: DateTime<Utc>,
    event: switchyard_domain::Event,
    route: Option<Route>,
}

#[derive(Default)]
pub(super) struct Outbox {
    next_seq: i64,
    pending: BTreeMap<i64, Pending>,
    /// Every row's key, pending or published (until pruned), to its seq.
    keys: HashMap<Key, i64>,
    /// Published rows in the order they were published, for pruning.
    published: VecDeque<(DateTime<Utc>, (i64, Key))>,
    /// Tenants owned by an open claim.
    held: HashSet<TenantId>,
}

impl Outbox {
    /// Enqueues `rows` whole or not at all; `true` in the second value when any was new.
    pub(super) fn enqueue(
        &mut self,
        rows: &[Outgoing<'_>],
    ) -> Result<(Vec<EnqueueOutcome>, bool), StoreError> {
        let mut seen: HashSet<Key> = HashSet::new();
        let outcomes: Vec<EnqueueOutcome> = rows
            .iter()
            .map(|row| {
                let key = (row.event.tenant().clone(), row.event.id().clone());
                if self.keys.contains_key(&key) || !seen.insert(key) {
                    EnqueueOutcome::AlreadyEnqueued
                } else {
                    EnqueueOutcome::Inserted
                }
            })
            .collect();
        if self.pending.len() + seen.len() > MAX_PENDING_OUTBOX {
            return Err(StoreError::Full {
                what: "pending outbox rows",
                limit: MAX_PENDING_OUTBOX,
            });
        }
        let now = Utc::now();
        for (row, outcome) in rows.iter().zip(&outcomes) {
            if *outcome == EnqueueOutcome::Inserted {
                self.next_seq += 1;
                let key = (row.event.tenant().clone(), row.event.id().clone());
                self.keys.insert(key, self.next_seq);
                self.pending.insert(
                    self.next_seq,
                    Pending {
                        created_at: now,
                        event: row.event.clone(),
                        route: row.route.cloned(),
                    },
                );
            }
        }
        Ok((outcomes, !seen.is_empty()))
    }

    /// Takes the tenants a batch of `limit` needs, as `outbox_claim.sql` does, and returns
    /// them with their oldest pending rows.
    pub(super) fn claim(&mut self, limit: u32) -> (Vec<TenantId>, Claimed) {
        let limit = limit as usize;
        // The tenants of the oldest pending rows, in order of their oldest row, with how
        // many of those rows each has: the same window PostgreSQL looks at.
        let scan = (limit * 4).max(256);
        let mut head: Vec<(&TenantId, usize)> = Vec::new();
        for pending in self.pending.values().take(scan) {
            let tenant = pending.event.tenant();
            match head.iter_mut().find(|(t, _)| *t == tenant) {
                Some((_, n)) => *n += 1,
                None => head.push((tenant, 1)),
            }
        }
        let mut taken = 0;
        let mut owned: Vec<TenantId> = Vec::new();
        for (tenant, n) in head {
            if taken >= limit {
                break;
            }
            if !self.held.contains(tenant) {
                owned.push(tenant.clone());
                taken += n;
            }
        }
        let entries = self
            .pending
            .iter()
            .filter(|(_, pending)| owned.contains(pending.event.tenant()))
            .take(limit)
            .map(|(seq, pending)| OutboxEntry {
                seq: *seq,
                created_at: pending.created_at,
                event: pending.event.clone(),
                route: pending.route.clone(),
            })
            .collect();
        self.held.extend(owned.iter().cloned());
        let claimed = Claimed {
            entries,
            undecodable: Vec::new(),
        };
        (owned, claimed)
    }

    /// Marks `entries` published now.
    fn publish(&mut self, entries: &[OutboxEntry]) {
        let now = Utc::now();
        for entry in entries {
            if self.pending.remove(&entry.seq).is_some() {
                let key = (entry.event.tenant().clone(), entry.event.id().clone());
                self.published.push_back((now, (entry.seq, key)));
            }
        }
        let keys = &mut self.keys;
        enforce_cap(&mut self.published, MAX_PUBLISHED_OUTBOX, |(seq, key)| {
            forget(keys, seq, &key);
        });
    }

    fn release(&mut self, tenants: &[TenantId]) {
        for tenant in tenants {
            self.held.remove(tenant);
        }
    }

    pub(super) fn prune(&mut self, cutoff: DateTime<Utc>) -> u64 {
        let keys = &mut self.keys;
        prune_before(&mut self.published, cutoff, |(seq, key)| {
            forget(keys, seq, &key);
        })
    }

    pub(super) fn backlog(&self, cap: i64) -> Backlog {
        Backlog {
            pending: i64::try_from(self.pending.len()).map_or(cap, |n| n.min(cap)),
            oldest: self.pending.values().next().map(|row| row.created_at),
            // Every row decodes in memory: none is ever set aside.
            failed: 0,
        }
    }
}

/// Frees an idempotency key, unless a newer row took it since.
fn forget(keys: &mut HashMap<Key, i64>, seq: i64, key: &Key) {
    if keys.get(key) == Some(&seq) {
        keys.remove(key);
    }
}

/// A relay's claim on the in-memory outbox.
pub(super) struct MemoryClaim {
    pub(super) shared: Arc<Shared>,
    pub(super) tenants: Vec<TenantId>,
    pub(super) claimed: Claimed,
    pub(super) marked: bool,
    pub(super) open: bool,
}

impl MemoryClaim {
    fn finish(&mut self, publish: bool) {
        if !self.open {
            return;
        }
        self.open = false;
        let mut state = self.shared.lock();
        if publish {
            state.outbox.publish(&self.claimed.entries);
        }
        state.outbox.release(&self.tenants);
    }
}

impl Drop for MemoryClaim {
    fn drop(&mut self) {
        // Neither committed nor released (the relay's task was cancelled): the rows stay
        // pending and the tenants free, as a rolled-back transaction leaves them.
        self.finish(false);
    }
}

#[async_trait]
impl OutboxClaim for MemoryClaim {
    fn claimed(&self) -> &Claimed {
        &self.claimed
    }

    async fn mark(&mut self) -> Result<(), StoreError> {
        self.marked = true;
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<Claimed, StoreError> {
        let marked = self.marked;
        self.finish(marked);
        Ok(std::mem::take(&mut self.claimed))
    }

    async fn release(mut self: Box<Self>) {
        self.finish(false);
    }
}
