//! Listing a tenant's dead letters, newest first, keyset-paged by id.

use std::{fmt, str::FromStr};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use switchyard_domain::TenantId;
use tokio_postgres::types::ToSql;

use super::{DEAD_LETTER_COLUMNS, DeadLetter, dead_letter_from_row};
use crate::{Store, error::StoreError, events::MAX_PAGE_SIZE, timing::timed};

/// What [`Store::list_dead_letters`] selects within one tenant. The default selects all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetterFilter {
    /// Only those that belong on this topic (`dlq-topic`), e.g. `switchyard.events`.
    pub topic: Option<String>,
    /// Only those of this endpoint (`dlq-endpoint`).
    pub endpoint: Option<String>,
    /// `Some(false)`: not redriven yet; `Some(true)`: redriven at least once.
    pub redriven: Option<bool>,
}

/// One page of dead letters, newest first, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterPage {
    /// The dead letters, newest first.
    pub dead_letters: Vec<DeadLetter>,
    /// Pass back to get the next (older) page; `None` when this page is the last.
    pub next_cursor: Option<DeadLetterCursor>,
}

/// Where the next page of dead letters starts: the id of the last one of the previous page.
/// Opaque to clients (URL-safe base64 of a versioned text form), like the events cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterCursor {
    id: String,
}

const VERSION: &str = "d1";

impl DeadLetterCursor {
    /// The string to hand to a client.
    #[must_use]
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{VERSION}:{}", self.id))
    }

    /// Reads a string made by [`DeadLetterCursor::encode`].
    pub fn decode(encoded: &str) -> Result<Self, StoreError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| StoreError::InvalidCursor)?;
        let plain = std::str::from_utf8(&bytes).map_err(|_| StoreError::InvalidCursor)?;
        match plain.split_once(':') {
            Some((VERSION, id)) if !id.is_empty() && !id.contains('\0') => {
                Ok(Self { id: id.to_owned() })
            }
            _ => Err(StoreError::InvalidCursor),
        }
    }
}

impl fmt::Display for DeadLetterCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl FromStr for DeadLetterCursor {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::decode(s)
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

impl Store {
    /// One page of `tenant`'s dead letters matching `filter`, newest first, at most `limit`
    /// long (1 to [`MAX_PAGE_SIZE`]), starting after `cursor`. Reads from the replica when
    /// one is configured.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn list_dead_letters(
        &self,
        tenant: &TenantId,
        filter: &DeadLetterFilter,
        limit: u32,
        cursor: Option<&DeadLetterCursor>,
    ) -> Result<DeadLetterPage, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE) as usize;
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
    fn cursor_round_trips_and_refuses_strings_it_did_not_make() {
        let cursor = DeadLetterCursor {
            id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
        };
        assert_eq!(
            cursor.to_string().parse::<DeadLetterCursor>().ok(),
            Some(cursor)
        );
        for bad in [
            "",
            "!!!",
            &URL_SAFE_NO_PAD.encode("v1:x"),
            &URL_SAFE_NO_PAD.encode("d1:"),
        ] {
            assert!(DeadLetterCursor::decode(bad).is_err(), "{bad:?}");
        }
    }

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
