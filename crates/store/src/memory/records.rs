//! The delivery log and the dead letters in memory, each kept as PostgreSQL keeps it (same
//! idempotency key, same precision, same replacement of NULs in free text).

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque},
    ops::Bound,
};

use chrono::{DateTime, Utc};
use switchyard_domain::{EventId, TenantId, wire::DeliveryAttempt};

use super::{MAX_DEAD_LETTERS, MAX_DELIVERY_ATTEMPTS, enforce_cap, prune_before};
use crate::{
    DeadLetter, DeadLetterCursor, DeadLetterFilter, DeadLetterPage, NewDeadLetter,
    dead_letters::new_id,
    deliveries::{from_time, storable_error, to_time},
    error::StoreError,
    events::to_micros,
};

/// `(tenant, attempt_id)`: the delivery log's idempotency key.
type AttemptKey = (String, String);

#[derive(Default)]
pub(super) struct Deliveries {
    by_key: HashMap<AttemptKey, DeliveryAttempt>,
    /// `(tenant, event_id)` → its attempts' ids.
    by_event: HashMap<(String, String), BTreeSet<String>>,
    stored: VecDeque<(DateTime<Utc>, AttemptKey)>,
}

impl Deliveries {
    pub(super) fn insert(&mut self, attempts: &[DeliveryAttempt]) -> Result<u64, StoreError> {
        // Converted before anything is stored, so a bad record refuses the whole batch.
        let stored: Vec<DeliveryAttempt> =
            attempts.iter().map(as_stored).collect::<Result<_, _>>()?;
        let now = Utc::now();
        let mut inserted = 0;
        for attempt in stored {
            let key = (attempt.tenant.clone(), attempt.attempt_id.clone());
            if self.by_key.contains_key(&key) {
                continue;
            }
            self.by_event
                .entry((attempt.tenant.clone(), attempt.event_id.clone()))
                .or_default()
                .insert(attempt.attempt_id.clone());
            self.by_key.insert(key.clone(), attempt);
            self.stored.push_back((now, key));
            inserted += 1;
        }
        let (by_key, by_event) = (&mut self.by_key, &mut self.by_event);
        enforce_cap(&mut self.stored, MAX_DELIVERY_ATTEMPTS, |key| {
            remove_attempt(by_key, by_event, &key);
        });
        Ok(inserted)
    }

    /// Oldest first: by attempt time (none first), attempt number, attempt id.
    pub(super) fn list(&self, tenant: &TenantId, event_id: &EventId) -> Vec<DeliveryAttempt> {
        let key = (tenant.to_string(), event_id.to_string());
        let mut attempts: Vec<DeliveryAttempt> = self
            .by_event
            .get(&key)
            .into_iter()
            .flatten()
            .filter_map(|id| self.by_key.get(&(key.0.clone(), id.clone())))
            .cloned()
            .collect();
        attempts.sort_by(|a, b| {
            let at = |x: &DeliveryAttempt| x.attempted_at.map(|t| (t.seconds, t.nanos));
            (at(a), a.attempt, &a.attempt_id).cmp(&(at(b), b.attempt, &b.attempt_id))
        });
        attempts
    }

    pub(super) fn prune(&mut self, cutoff: DateTime<Utc>) -> u64 {
        let (by_key, by_event) = (&mut self.by_key, &mut self.by_event);
        prune_before(&mut self.stored, cutoff, |key| {
            remove_attempt(by_key, by_event, &key);
        })
    }
}

/// The record as PostgreSQL reads it back: timestamps at microseconds, NULs in the error
/// text replaced.
fn as_stored(attempt: &DeliveryAttempt) -> Result<DeliveryAttempt, StoreError> {
    Ok(DeliveryAttempt {
        error: storable_error(attempt),
        attempted_at: from_time(to_time(attempt, attempt.attempted_at.as_ref())?),
        next_attempt_at: from_time(to_time(attempt, attempt.next_attempt_at.as_ref())?),
        ..attempt.clone()
    })
}

fn remove_attempt(
    by_key: &mut HashMap<AttemptKey, DeliveryAttempt>,
    by_event: &mut HashMap<(String, String), BTreeSet<String>>,
    key: &AttemptKey,
) {
    let Some(attempt) = by_key.remove(key) else {
        return;
    };
    let event = (attempt.tenant, attempt.event_id);
    if let Some(ids) = by_event.get_mut(&event) {
        ids.remove(&attempt.attempt_id);
        if ids.is_empty() {
            by_event.remove(&event);
        }
    }
}

#[derive(Default)]
pub(super) struct DeadLetters {
    /// By id: UUIDv7s, so this is time order, and the listing walks it backwards.
    by_id: BTreeMap<String, DeadLetter>,
    positions: HashSet<String>,
    stored: VecDeque<(DateTime<Utc>, String)>,
}

impl DeadLetters {
    pub(super) fn insert(&mut self, letters: &[NewDeadLetter]) -> u64 {
        let now = Utc::now();
        let mut inserted = 0;
        for letter in letters {
            let stored = letter.stored(new_id(letter.dead_lettered_at), now);
            if !self.positions.insert(stored.source_position.clone()) {
                continue;
            }
            self.stored.push_back((now, stored.id.clone()));
            self.by_id.insert(stored.id.clone(), stored);
            inserted += 1;
        }
        let (by_id, positions) = (&mut self.by_id, &mut self.positions);
        enforce_cap(&mut self.stored, MAX_DEAD_LETTERS, |id| {
            remove_letter(by_id, positions, &id);
        });
        inserted
    }

    pub(super) fn list(
        &self,
        tenant: &TenantId,
        filter: &DeadLetterFilter,
        limit: u32,
        cursor: Option<&DeadLetterCursor>,
    ) -> DeadLetterPage {
        let limit = limit as usize;
        let before = cursor.map_or(Bound::Unbounded, |c| Bound::Excluded(c.id.as_str()));
        let range = self.by_id.range::<str, _>((Bound::Unbounded, before));
        let mut dead_letters: Vec<DeadLetter> = range
            .rev()
            .map(|(_, letter)| letter)
            .filter(|letter| letter.tenant.as_ref() == Some(tenant))
            .filter(|letter| filter.topic.as_ref().is_none_or(|t| *t == letter.topic))
            .filter(|letter| {
                filter
                    .endpoint
                    .as_ref()
                    .is_none_or(|e| letter.endpoint.as_ref() == Some(e))
            })
            .filter(|letter| {
                filter
                    .redriven
                    .is_none_or(|redriven| letter.redriven_at.is_some() == redriven)
            })
            .take(limit + 1)
            .cloned()
            .collect();
        let more = dead_letters.len() > limit;
        dead_letters.truncate(limit);
        let next_cursor = match dead_letters.last() {
            Some(last) if more => Some(DeadLetterCursor {
                id: last.id.clone(),
            }),
            _ => None,
        };
        DeadLetterPage {
            dead_letters,
            next_cursor,
        }
    }

    pub(super) fn get(&self, tenant: &TenantId, id: &str) -> Option<DeadLetter> {
        self.by_id
            .get(id)
            .filter(|letter| letter.tenant.as_ref() == Some(tenant))
            .cloned()
    }

    pub(super) fn mark_redriven(&mut self, tenant: &TenantId, id: &str) -> Option<DeadLetter> {
        let letter = self
            .by_id
            .get_mut(id)
            .filter(|letter| letter.tenant.as_ref() == Some(tenant))?;
        letter.redriven_at = Some(to_micros(Utc::now()));
        letter.redrive_count = letter.redrive_count.saturating_add(1);
        Some(letter.clone())
    }

    pub(super) fn prune(&mut self, cutoff: DateTime<Utc>) -> u64 {
        let (by_id, positions) = (&mut self.by_id, &mut self.positions);
        prune_before(&mut self.stored, cutoff, |id| {
            remove_letter(by_id, positions, &id);
        })
    }
}

fn remove_letter(
    by_id: &mut BTreeMap<String, DeadLetter>,
    positions: &mut HashSet<String>,
    id: &str,
) {
    if let Some(letter) = by_id.remove(id) {
        positions.remove(&letter.source_position);
    }
}
