//! Dead letters on PostgreSQL: `unnest` batch inserts idempotent by DLQ position, headers as
//! a JSON array, listings planned onto their partial indexes.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use switchyard_domain::TenantId;
use tokio_postgres::{Row, types::ToSql};

use super::{PgStore, timing::timed};
use crate::{
    DeadLetter, DeadLetterCursor, DeadLetterFilter, DeadLetterPage, NewDeadLetter,
    dead_letters::{headers_from_json, headers_to_json, new_id, storable},
    error::StoreError,
};

/// Column arrays for the `unnest` insert.
#[derive(Default)]
struct DeadLetterColumns<'a> {
    id: Vec<String>,
    source_position: Vec<String>,
    tenant: Vec<Option<&'a str>>,
    topic: Vec<String>,
    reason: Vec<String>,
    attempts: Vec<i64>,
    group: Vec<String>,
    origin: Vec<String>,
    endpoint: Vec<Option<String>>,
    key: Vec<Option<&'a [u8]>>,
    headers: Vec<serde_json::Value>,
    payload: Vec<&'a [u8]>,
    dead_lettered_at: Vec<DateTime<Utc>>,
}

impl<'a> DeadLetterColumns<'a> {
    fn push(&mut self, letter: &'a NewDeadLetter) {
        self.id.push(new_id(letter.dead_lettered_at));
        self.source_position.push(storable(&letter.source_position));
        self.tenant
            .push(letter.tenant.as_ref().map(TenantId::as_str));
        self.topic.push(storable(&letter.topic));
        self.reason.push(storable(&letter.reason));
        self.attempts.push(i64::from(letter.attempts));
        self.group.push(storable(&letter.group));
        self.origin.push(storable(&letter.origin));
        self.endpoint.push(letter.endpoint.as_deref().map(storable));
        self.key.push(letter.key.as_deref());
        self.headers.push(headers_to_json(&letter.headers));
        self.payload.push(&letter.payload);
        self.dead_lettered_at.push(letter.dead_lettered_at);
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 13] {
        [
            &self.id,
            &self.source_position,
            &self.tenant,
            &self.topic,
            &self.reason,
            &self.attempts,
            &self.group,
            &self.origin,
            &self.endpoint,
            &self.key,
            &self.headers,
            &self.payload,
            &self.dead_lettered_at,
        ]
    }
}

/// The columns every dead-letter query returns, in [`dead_letter_from_row`]'s order.
const DEAD_LETTER_COLUMNS: &str = "id, source_position, tenant, topic, reason, \
     attempts, consumer_group, origin, endpoint, key, headers, payload, dead_lettered_at, \
     stored_at, redriven_at, redrive_count";

fn dead_letter_from_row(row: &Row) -> Result<DeadLetter, StoreError> {
    let decode = |e| StoreError::postgres("decode dead letter", e);
    let id: String = row.try_get(0).map_err(decode)?;
    let corrupt = |reason: String| StoreError::CorruptRow {
        what: format!("dead_letters {id}"),
        reason,
    };
    let tenant = row
        .try_get::<_, Option<&str>>(2)
        .map_err(decode)?
        .map(TenantId::parse)
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    let attempts: i64 = row.try_get(5).map_err(decode)?;
    let redrive_count: i32 = row.try_get(15).map_err(decode)?;
    let headers: serde_json::Value = row.try_get(10).map_err(decode)?;
    Ok(DeadLetter {
        source_position: row.try_get(1).map_err(decode)?,
        tenant,
        topic: row.try_get(3).map_err(decode)?,
        reason: row.try_get(4).map_err(decode)?,
        attempts: u32::try_from(attempts)
            .map_err(|_| corrupt(format!("attempts holds {attempts}")))?,
        group: row.try_get(6).map_err(decode)?,
        origin: row.try_get(7).map_err(decode)?,
        endpoint: row.try_get(8).map_err(decode)?,
        key: row
            .try_get::<_, Option<Vec<u8>>>(9)
            .map_err(decode)?
            .map(Bytes::from),
        headers: headers_from_json(&headers).map_err(corrupt)?,
        payload: Bytes::from(row.try_get::<_, Vec<u8>>(11).map_err(decode)?),
        dead_lettered_at: row.try_get(12).map_err(decode)?,
        stored_at: row.try_get(13).map_err(decode)?,
        redriven_at: row.try_get(14).map_err(decode)?,
        redrive_count: u32::try_from(redrive_count)
            .map_err(|_| corrupt(format!("redrive_count holds {redrive_count}")))?,
        id,
    })
}

impl PgStore {
    /// One statement for the batch. Rows go in sorted by `source_position`, so overlapping
    /// batches of two writers take their locks in one order and cannot deadlock.
    pub(super) async fn insert_dead_letters(
        &self,
        letters: &[NewDeadLetter],
    ) -> Result<u64, StoreError> {
        let mut ordered: Vec<&NewDeadLetter> = letters.iter().collect();
        ordered.sort_unstable_by(|a, b| a.source_position.cmp(&b.source_position));
        let mut columns = DeadLetterColumns::default();
        for letter in ordered {
            columns.push(letter);
        }
        timed("insert_dead_letters", async {
            let client = self.primary.get().await?;
            let statement = client
                .prepare_cached(include_str!("../sql/insert_dead_letters.sql"))
                .await
                .map_err(|e| StoreError::postgres("insert_dead_letters", e))?;
            client
                .execute(&statement, &columns.params())
                .await
                .map_err(|e| StoreError::postgres("insert_dead_letters", e))
        })
        .await
    }

    /// Reads from the replica when one is configured.
    pub(super) async fn get_dead_letter(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<DeadLetter>, StoreError> {
        timed("get_dead_letter", async {
            let client = self.reader().get().await?;
            let statement = client
                .prepare_cached(include_str!("../sql/get_dead_letter.sql"))
                .await
                .map_err(|e| StoreError::postgres("get_dead_letter", e))?;
            let row = client
                .query_opt(&statement, &[&tenant.as_str(), &id])
                .await
                .map_err(|e| StoreError::postgres("get_dead_letter", e))?;
            row.as_ref().map(dead_letter_from_row).transpose()
        })
        .await
    }

    pub(super) async fn mark_redriven(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<DeadLetter>, StoreError> {
        timed("mark_redriven", async {
            let client = self.primary.get().await?;
            let statement = client
                .prepare_cached(include_str!("../sql/mark_redriven.sql"))
                .await
                .map_err(|e| StoreError::postgres("mark_redriven", e))?;
            let row = client
                .query_opt(&statement, &[&tenant.as_str(), &id])
                .await
                .map_err(|e| StoreError::postgres("mark_redriven", e))?;
            row.as_ref().map(dead_letter_from_row).transpose()
        })
        .await
    }

    pub(super) async fn prune_dead_letters(
        &self,
        older_than: Duration,
        chunk: u32,
    ) -> Result<u64, StoreError> {
        self.prune_in_chunks(
            "prune_dead_letters",
            include_str!("../sql/prune_dead_letters.sql"),
            older_than,
            chunk,
        )
        .await
    }
}

/// The statement for one listing, with only the conditions that apply, so each filter
/// combination is planned onto its index (see `events::list` for why).
fn build(
    tenant: &TenantId,
    filter: &DeadLetterFilter,
    cursor: Option<&DeadLetterCursor>,
    fetch: i64,
) -> (String, Vec<Box<dyn ToSql + Sync + Send>>) {
    let mut sql = format!("SELECT {DEAD_LETTER_COLUMNS} FROM dead_letters WHERE tenant = $1");
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(tenant.as_str().to_owned())];
    let mut bind = |sql: &mut String, condition: &str, value: Box<dyn ToSql + Sync + Send>| {
        params.push(value);
        sql.push_str(&format!(" AND {condition} ${}", params.len()));
    };
    if let Some(topic) = &filter.topic {
        bind(&mut sql, "topic =", Box::new(topic.clone()));
    }
    if let Some(endpoint) = &filter.endpoint {
        bind(&mut sql, "endpoint =", Box::new(endpoint.clone()));
    }
    if let Some(cursor) = cursor {
        bind(&mut sql, "id <", Box::new(cursor.id.clone()));
    }
    match filter.redriven {
        // Literal conditions, so the planner can match the partial index of pending ones.
        Some(false) => sql.push_str(" AND redriven_at IS NULL"),
        Some(true) => sql.push_str(" AND redriven_at IS NOT NULL"),
        None => {}
    }
    params.push(Box::new(fetch));
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", params.len()));
    (sql, params)
}

impl PgStore {
    /// Reads from the replica when one is configured; `limit` is already clamped.
    pub(super) async fn list_dead_letters(
        &self,
        tenant: &TenantId,
        filter: &DeadLetterFilter,
        limit: u32,
        cursor: Option<&DeadLetterCursor>,
    ) -> Result<DeadLetterPage, StoreError> {
        let limit = limit as usize;
        // One more row than asked tells whether another page exists without a count.
        let (sql, params) = build(
            tenant,
            filter,
            cursor,
            i64::try_from(limit + 1).unwrap_or(i64::MAX),
        );
        timed("list_dead_letters", async {
            let client = self.reader().get().await?;
            let statement = client
                .prepare_cached(&sql)
                .await
                .map_err(|e| StoreError::postgres("list_dead_letters", e))?;
            let params: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let mut rows = client
                .query(&statement, &params)
                .await
                .map_err(|e| StoreError::postgres("list_dead_letters", e))?;
            let more = rows.len() > limit;
            rows.truncate(limit);
            let dead_letters = rows
                .iter()
                .map(dead_letter_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            let next_cursor = match dead_letters.last() {
                Some(last) if more => Some(DeadLetterCursor {
                    id: last.id.clone(),
                }),
                _ => None,
            };
            Ok(DeadLetterPage {
                dead_letters,
                next_cursor,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_given_filters_become_conditions() {
        let tenant = TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
        let (bare, params) = build(&tenant, &DeadLetterFilter::default(), None, 11);
        assert_eq!(params.len(), 2);
        assert!(
            bare.ends_with("WHERE tenant = $1 ORDER BY id DESC LIMIT $2"),
            "{bare}"
        );
        let filter = DeadLetterFilter {
            topic: Some("sy.events".into()),
            endpoint: Some("orders".into()),
            redriven: Some(false),
        };
        let cursor = DeadLetterCursor { id: "x".into() };
        let (sql, params) = build(&tenant, &filter, Some(&cursor), 11);
        assert_eq!(params.len(), 5);
        assert!(
            sql.ends_with(
                "tenant = $1 AND topic = $2 AND endpoint = $3 AND id < $4 \
                 AND redriven_at IS NULL ORDER BY id DESC LIMIT $5"
            ),
            "{sql}"
        );
    }
}
