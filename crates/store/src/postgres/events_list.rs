//! Searching the event store on PostgreSQL: the SQL a filter and a keyset cursor become.

use switchyard_domain::{EventId, EventTypePattern, TenantId};
use tokio_postgres::types::ToSql;

use super::{
    PgStore,
    event_row::{EVENT_COLUMNS, event_from_row},
    timing::timed,
};
use crate::{Cursor, EventFilter, EventPage, Order, error::StoreError, events::to_micros};

/// How a type pattern narrows the query. Exact types and literal prefixes become btree
/// conditions (the columns use the "C" collation, so a prefix is a plain byte range); only a
/// `*` before the last segment needs a regular expression on top.
#[derive(Debug, PartialEq, Eq)]
struct TypeCondition {
    exact: Option<String>,
    /// `[from, to)`: every type starting with `prefix.`.
    range: Option<(String, String)>,
    regex: Option<String>,
}

fn type_condition(pattern: &EventTypePattern) -> TypeCondition {
    let segments: Vec<&str> = pattern.as_str().split('.').collect();
    let Some(first_star) = segments.iter().position(|s| *s == "*") else {
        return TypeCondition {
            exact: Some(pattern.as_str().to_owned()),
            range: None,
            regex: None,
        };
    };
    let range = (first_star > 0).then(|| {
        let prefix = segments[..first_star].join(".");
        // '/' is the byte after '.', so this range holds exactly the types under `prefix.`.
        (format!("{prefix}."), format!("{prefix}/"))
    });
    let last = segments.len() - 1;
    // A single trailing `*` ("one or more segments") is exactly the prefix range, since a
    // valid type has no empty segment; anything else needs the segment structure checked.
    let regex = (first_star != last).then(|| {
        let parts: Vec<&str> = segments
            .iter()
            .enumerate()
            .map(|(i, s)| match *s {
                "*" if i == last => ".+",
                "*" => "[^.]+",
                // Letters, digits, '-' and '_' only: nothing a regex treats specially.
                literal => literal,
            })
            .collect();
        format!("^{}$", parts.join("\\."))
    });
    TypeCondition {
        exact: None,
        range,
        regex,
    }
}

/// SQL text plus its parameters, numbered as they are bound.
struct Query {
    sql: String,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Query {
    fn bind(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    fn and(&mut self, condition: &str) {
        self.sql.push_str(" AND ");
        self.sql.push_str(condition);
    }
}

/// The statement for one listing. Only conditions that apply are written, so each filter
/// combination gets a plan that can use its index (a catch-all `$n IS NULL OR ...` form
/// would share one generic plan that uses none). The variants are few, and each is
/// prepared once per connection.
///
/// A type pattern with a `*` (and no subject, whose own index narrows better) is listed per
/// type: see [`build_per_type`].
fn build(tenant: &TenantId, filter: &EventFilter, cursor: Option<&Cursor>, fetch: i64) -> Query {
    let mut query = Query {
        sql: String::new(),
        params: vec![Box::new(tenant.as_str().to_owned())],
    };
    match filter.event_type.as_ref().map(type_condition) {
        Some(TypeCondition {
            exact: None,
            range,
            regex,
        }) if filter.subject.is_none() && (range.is_some() || regex.is_some()) => {
            build_per_type(&mut query, range, regex, filter, cursor, fetch);
        }
        condition => build_flat(&mut query, condition, filter, cursor, fetch),
    }
    query
}

/// `ASC`/`DESC` and the comparison that continues after a cursor in that direction.
fn direction(order: Order) -> (&'static str, &'static str) {
    match order {
        Order::OldestFirst => ("ASC", ">"),
        Order::NewestFirst => ("DESC", "<"),
    }
}

/// ` AND ...` for the time range and the cursor.
fn time_conditions(query: &mut Query, filter: &EventFilter, cursor: Option<&Cursor>) -> String {
    let mut sql = String::new();
    if let Some(since) = filter.since {
        sql.push_str(&format!(" AND time >= {}", query.bind(to_micros(since))));
    }
    if let Some(until) = filter.until {
        sql.push_str(&format!(" AND time < {}", query.bind(to_micros(until))));
    }
    if let Some(cursor) = cursor {
        let (_, after) = direction(filter.order);
        let time = query.bind(cursor.time);
        let id = query.bind(cursor.id.as_str().to_owned());
        sql.push_str(&format!(" AND (time, id) {after} ({time}, {id})"));
    }
    sql
}

/// One scan of the tenant's rows in time order (`events_by_time`, or the type's or
/// subject's index), filtered by the conditions that apply.
fn build_flat(
    query: &mut Query,
    condition: Option<TypeCondition>,
    filter: &EventFilter,
    cursor: Option<&Cursor>,
    fetch: i64,
) {
    query.sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE tenant = $1");
    if let Some(condition) = condition {
        if let Some(exact) = condition.exact {
            let p = query.bind(exact);
            query.and(&format!("type = {p}"));
        }
        if let Some((from, to)) = condition.range {
            let (from, to) = (query.bind(from), query.bind(to));
            query.and(&format!("type >= {from} AND type < {to}"));
        }
        if let Some(regex) = condition.regex {
            let p = query.bind(regex);
            query.and(&format!("type ~ {p}"));
        }
    }
    if let Some(subject) = &filter.subject {
        let p = query.bind(subject.clone());
        query.and(&format!("subject = {p}"));
    }
    let times = time_conditions(query, filter, cursor);
    query.sql.push_str(&times);
    let (order, _) = direction(filter.order);
    let limit = query.bind(fetch);
    query
        .sql
        .push_str(&format!(" ORDER BY time {order}, id {order} LIMIT {limit}"));
}

/// A pattern's matches merged from one index scan per matching type.
///
/// Filtering one time-ordered scan by a type range or regex reads every row newer than the
/// page (measured on 1M rows of one tenant: 0.6 s for a prefix whose events are all old,
/// 1.3 s for a regex, a whole-tenant scan when nothing matches), and a scan of the type
/// range must sort every match. Instead: walk the tenant's distinct types in the range
/// through `events_by_type` (one index probe per type: a loose index scan, which
/// PostgreSQL does not do by itself), keep those the regex accepts, take at most a page from
/// each type's `(tenant, type, time, id)` range, and sort those few rows: about 1 ms
/// whatever the data, at the price of one probe per distinct type of the tenant in range.
fn build_per_type(
    query: &mut Query,
    range: Option<(String, String)>,
    regex: Option<String>,
    filter: &EventFilter,
    cursor: Option<&Cursor>,
    fetch: i64,
) {
    let (first, next) = match range {
        Some((from, to)) => {
            let (from, to) = (query.bind(from), query.bind(to));
            (
                format!(" AND type >= {from} AND type < {to}"),
                format!(" AND e.type < {to}"),
            )
        }
        None => (String::new(), String::new()),
    };
    let accept = match regex {
        Some(regex) => format!(" AND w.type ~ {}", query.bind(regex)),
        None => String::new(),
    };
    let times = time_conditions(query, filter, cursor);
    let (order, _) = direction(filter.order);
    let limit = query.bind(fetch);
    query.sql = format!(
        "WITH RECURSIVE types (type) AS (\
            SELECT min(type) FROM events WHERE tenant = $1{first} \
          UNION ALL \
            SELECT (SELECT min(e.type) FROM events e \
                    WHERE e.tenant = $1 AND e.type > w.type{next}) \
            FROM types w WHERE w.type IS NOT NULL\
        ) \
        SELECT e.* FROM types w CROSS JOIN LATERAL (\
            SELECT {EVENT_COLUMNS} FROM events e \
            WHERE e.tenant = $1 AND e.type = w.type{times} \
            ORDER BY time {order}, id {order} LIMIT {limit}\
        ) e \
        WHERE w.type IS NOT NULL{accept} \
        ORDER BY e.time {order}, e.id {order} LIMIT {limit}"
    );
}

impl PgStore {
    /// One page, `limit` already clamped; reads from the replica when one is configured.
    pub(super) async fn list_events(
        &self,
        tenant: &TenantId,
        filter: &EventFilter,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<EventPage, StoreError> {
        let limit = limit as usize;
        // One more row than asked tells whether another page exists without a count.
        let query = build(
            tenant,
            filter,
            cursor,
            i64::try_from(limit + 1).unwrap_or(i64::MAX),
        );
        timed("list_events", async {
            let client = self.reader().get().await?;
            let statement = client
                .prepare_cached(&query.sql)
                .await
                .map_err(|e| StoreError::postgres("list_events", e))?;
            let params: Vec<&(dyn ToSql + Sync)> = query
                .params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let mut rows = client
                .query(&statement, &params)
                .await
                .map_err(|e| StoreError::postgres("list_events", e))?;
            let more = rows.len() > limit;
            rows.truncate(limit);
            let next_cursor = match rows.last() {
                Some(last) if more => Some(Cursor {
                    time: last
                        .try_get(4)
                        .map_err(|e| StoreError::postgres("list_events", e))?,
                    id: EventId::parse(
                        last.try_get::<_, &str>(1)
                            .map_err(|e| StoreError::postgres("list_events", e))?,
                    )
                    .map_err(|e| StoreError::CorruptRow {
                        what: format!("events {tenant}"),
                        reason: e.to_string(),
                    })?,
                }),
                _ => None,
            };
            let events = rows
                .iter()
                .map(|row| event_from_row("events", row, 0))
                .collect::<Result<_, _>>()?;
            Ok(EventPage {
                events,
                next_cursor,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;

    fn condition(pattern: &str) -> TypeCondition {
        type_condition(&EventTypePattern::parse(pattern).unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn literal_type_is_an_equality() {
        assert_eq!(
            condition("github.push"),
            TypeCondition {
                exact: Some("github.push".into()),
                range: None,
                regex: None
            }
        );
    }

    #[test]
    fn trailing_star_is_a_prefix_range_only() {
        assert_eq!(
            condition("razorpay.payment.*"),
            TypeCondition {
                exact: None,
                range: Some(("razorpay.payment.".into(), "razorpay.payment/".into())),
                regex: None
            }
        );
        assert_eq!(
            condition("*"),
            TypeCondition {
                exact: None,
                range: None,
                regex: None
            }
        );
    }

    #[test]
    fn inner_star_adds_a_segment_regex() {
        assert_eq!(
            condition("stripe.*.succeeded"),
            TypeCondition {
                exact: None,
                range: Some(("stripe.".into(), "stripe/".into())),
                regex: Some("^stripe\\.[^.]+\\.succeeded$".into())
            }
        );
        assert_eq!(condition("*.push").regex.as_deref(), Some("^[^.]+\\.push$"));
        assert_eq!(
            condition("a.*.*").regex.as_deref(),
            Some("^a\\.[^.]+\\..+$")
        );
    }

    #[test]
    fn a_star_pattern_is_listed_per_type_unless_a_subject_narrows_it() {
        let tenant = TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
        let pattern = |p: &str| Some(EventTypePattern::parse(p).unwrap_or_else(|e| panic!("{e}")));
        let prefix = EventFilter {
            event_type: pattern("razorpay.payment.*"),
            order: Order::NewestFirst,
            ..EventFilter::default()
        };
        let merged = build(&tenant, &prefix, None, 11);
        assert!(
            merged.sql.starts_with("WITH RECURSIVE types"),
            "{}",
            merged.sql
        );
        assert!(
            merged.sql.contains("type >= $2 AND type < $3"),
            "{}",
            merged.sql
        );
        assert!(
            merged
                .sql
                .ends_with("ORDER BY e.time DESC, e.id DESC LIMIT $4"),
            "{}",
            merged.sql
        );
        let inner = build(
            &tenant,
            &EventFilter {
                event_type: pattern("*.push"),
                ..EventFilter::default()
            },
            None,
            11,
        );
        assert!(inner.sql.contains("w.type ~ $2"), "{}", inner.sql);
        for flat in [
            EventFilter {
                subject: Some("pay_1".into()),
                ..prefix
            },
            EventFilter {
                event_type: pattern("github.push"),
                ..EventFilter::default()
            },
            EventFilter {
                event_type: pattern("*"),
                ..EventFilter::default()
            },
        ] {
            let query = build(&tenant, &flat, None, 11);
            assert!(
                query.sql.starts_with("SELECT "),
                "{:?}: {}",
                flat,
                query.sql
            );
        }
    }

    #[test]
    fn only_the_given_filters_become_conditions() {
        let tenant = TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
        let bare = build(&tenant, &EventFilter::default(), None, 11);
        assert_eq!(bare.params.len(), 2);
        assert!(
            bare.sql
                .ends_with("WHERE tenant = $1 ORDER BY time ASC, id ASC LIMIT $2")
        );
        let filter = EventFilter {
            subject: Some("pay_1".into()),
            order: Order::NewestFirst,
            ..EventFilter::default()
        };
        let cursor = Cursor {
            time: DateTime::from_timestamp_micros(1).unwrap_or_default(),
            id: EventId::parse("evt_1").unwrap_or_else(|e| panic!("{e}")),
        };
        let paged = build(&tenant, &filter, Some(&cursor), 11);
        assert!(paged.sql.contains("subject = $2"), "{}", paged.sql);
        assert!(paged.sql.contains("(time, id) < ($3, $4)"), "{}", paged.sql);
        assert!(paged.sql.contains("ORDER BY time DESC, id DESC LIMIT $5"));
    }
}
