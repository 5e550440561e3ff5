//! An [`Event`] as table columns, shared by `events` and `outbox` (same column set).

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use switchyard_domain::{Event, EventId, EventType, TenantId, Traceparent};
use tokio_postgres::{
    Row,
    types::{Json, ToSql},
};

use crate::error::StoreError;

/// The event columns in the order every statement here reads and writes them.
pub(crate) const EVENT_COLUMNS: &str = "tenant, id, type, subject, time, time_nanos, source, \
     data_content_type, data_schema, traceparent, extensions, data";

/// How many columns [`EVENT_COLUMNS`] names.
pub(crate) const EVENT_COLUMN_COUNT: usize = 12;

/// `time` floored to the microsecond (all `timestamptz` holds) and the nanoseconds below it.
///
/// Flooring here rather than letting the driver truncate: the driver truncates toward the
/// year 2000, which for earlier times rounds up and would make the remainder wrong.
pub(crate) fn split_time(time: DateTime<Utc>) -> (DateTime<Utc>, i16) {
    let below_micro = time.timestamp_subsec_nanos() % 1_000;
    let floored = time - TimeDelta::nanoseconds(i64::from(below_micro));
    (floored, i16::try_from(below_micro).unwrap_or(0))
}

/// The inverse of [`split_time`].
pub(crate) fn join_time(micros: DateTime<Utc>, nanos: i16) -> DateTime<Utc> {
    micros + TimeDelta::nanoseconds(i64::from(nanos))
}

/// Refuses what PostgreSQL cannot hold before it fails a whole batch. The domain's rules
/// already keep control characters out of every attribute except extension values, and a
/// NUL is the one character `text` and `jsonb` both refuse.
pub(crate) fn check_storable(event: &Event) -> Result<(), StoreError> {
    if event.extensions().values().any(|v| v.contains('\0')) {
        return Err(StoreError::Unstorable {
            tenant: event.tenant().to_string(),
            id: event.id().to_string(),
            reason: "an extension value contains a NUL character, which PostgreSQL text cannot hold",
        });
    }
    Ok(())
}

/// One event's column values, borrowed from the event.
pub(crate) struct EventParams<'a> {
    tenant: &'a str,
    id: &'a str,
    event_type: &'a str,
    subject: Option<&'a str>,
    time: DateTime<Utc>,
    time_nanos: i16,
    source: &'a str,
    data_content_type: Option<&'a str>,
    data_schema: Option<&'a str>,
    traceparent: Option<&'a str>,
    extensions: Json<&'a BTreeMap<String, String>>,
    data: &'a [u8],
}

impl<'a> EventParams<'a> {
    pub(crate) fn new(event: &'a Event) -> Result<Self, StoreError> {
        check_storable(event)?;
        let (time, time_nanos) = split_time(event.time());
        Ok(Self {
            tenant: event.tenant().as_str(),
            id: event.id().as_str(),
            event_type: event.event_type().as_str(),
            subject: event.subject(),
            time,
            time_nanos,
            source: event.source(),
            data_content_type: event.data_content_type(),
            data_schema: event.data_schema(),
            traceparent: event.traceparent().map(Traceparent::as_str),
            extensions: Json(event.extensions()),
            data: event.data(),
        })
    }

    /// Parameters in [`EVENT_COLUMNS`] order: `$1..$12` of a single-row statement.
    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); EVENT_COLUMN_COUNT] {
        [
            &self.tenant,
            &self.id,
            &self.event_type,
            &self.subject,
            &self.time,
            &self.time_nanos,
            &self.source,
            &self.data_content_type,
            &self.data_schema,
            &self.traceparent,
            &self.extensions,
            &self.data,
        ]
    }
}

/// Many events' column values as one array per column, for an `unnest` insert: one
/// statement text for every batch size, so it is prepared once per connection, and twelve
/// parameters however many rows.
#[derive(Default)]
pub(crate) struct EventColumns<'a> {
    tenant: Vec<&'a str>,
    id: Vec<&'a str>,
    event_type: Vec<&'a str>,
    subject: Vec<Option<&'a str>>,
    time: Vec<DateTime<Utc>>,
    time_nanos: Vec<i16>,
    source: Vec<&'a str>,
    data_content_type: Vec<Option<&'a str>>,
    data_schema: Vec<Option<&'a str>>,
    traceparent: Vec<Option<&'a str>>,
    extensions: Vec<Json<&'a BTreeMap<String, String>>>,
    data: Vec<&'a [u8]>,
}

impl<'a> EventColumns<'a> {
    /// Columns for `events`, in the given order.
    pub(crate) fn new<I>(events: I) -> Result<Self, StoreError>
    where
        I: ExactSizeIterator<Item = &'a Event>,
    {
        let n = events.len();
        let mut columns = Self {
            tenant: Vec::with_capacity(n),
            id: Vec::with_capacity(n),
            event_type: Vec::with_capacity(n),
            subject: Vec::with_capacity(n),
            time: Vec::with_capacity(n),
            time_nanos: Vec::with_capacity(n),
            source: Vec::with_capacity(n),
            data_content_type: Vec::with_capacity(n),
            data_schema: Vec::with_capacity(n),
            traceparent: Vec::with_capacity(n),
            extensions: Vec::with_capacity(n),
            data: Vec::with_capacity(n),
        };
        for event in events {
            let row = EventParams::new(event)?;
            columns.tenant.push(row.tenant);
            columns.id.push(row.id);
            columns.event_type.push(row.event_type);
            columns.subject.push(row.subject);
            columns.time.push(row.time);
            columns.time_nanos.push(row.time_nanos);
            columns.source.push(row.source);
            columns.data_content_type.push(row.data_content_type);
            columns.data_schema.push(row.data_schema);
            columns.traceparent.push(row.traceparent);
            columns.extensions.push(row.extensions);
            columns.data.push(row.data);
        }
        Ok(columns)
    }

    /// Parameters in [`EVENT_COLUMNS`] order, one array each.
    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); EVENT_COLUMN_COUNT] {
        [
            &self.tenant,
            &self.id,
            &self.event_type,
            &self.subject,
            &self.time,
            &self.time_nanos,
            &self.source,
            &self.data_content_type,
            &self.data_schema,
            &self.traceparent,
            &self.extensions,
            &self.data,
        ]
    }
}

fn corrupt(table: &str, tenant: &str, id: &str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::CorruptRow {
        what: format!("{table} {tenant}/{id}"),
        reason: reason.to_string(),
    }
}

/// Rebuilds an event from [`EVENT_COLUMNS`] starting at column `at` of `row`.
pub(crate) fn event_from_row(table: &str, row: &Row, at: usize) -> Result<Event, StoreError> {
    let decode = |e| StoreError::postgres("decode event row", e);
    let tenant: &str = row.try_get(at).map_err(decode)?;
    let id: &str = row.try_get(at + 1).map_err(decode)?;
    let event_type: &str = row.try_get(at + 2).map_err(decode)?;
    let subject: Option<String> = row.try_get(at + 3).map_err(decode)?;
    let time: DateTime<Utc> = row.try_get(at + 4).map_err(decode)?;
    let time_nanos: i16 = row.try_get(at + 5).map_err(decode)?;
    let source: &str = row.try_get(at + 6).map_err(decode)?;
    let data_content_type: Option<String> = row.try_get(at + 7).map_err(decode)?;
    let data_schema: Option<String> = row.try_get(at + 8).map_err(decode)?;
    let traceparent: Option<&str> = row.try_get(at + 9).map_err(decode)?;
    let Json(extensions): Json<BTreeMap<String, String>> = row.try_get(at + 10).map_err(decode)?;
    let data: Vec<u8> = row.try_get(at + 11).map_err(decode)?;

    let bad = |reason: &dyn std::fmt::Display| corrupt(table, tenant, id, reason);
    let traceparent = traceparent
        .map(Traceparent::parse)
        .transpose()
        .map_err(|e| bad(&e))?;
    let mut builder = Event::builder(
        TenantId::parse(tenant).map_err(|e| bad(&e))?,
        EventId::parse(id).map_err(|e| bad(&e))?,
        source,
        EventType::parse(event_type).map_err(|e| bad(&e))?,
    )
    .time(join_time(time, time_nanos))
    .subject(subject)
    .data(data_content_type, Bytes::from(data))
    .data_schema(data_schema)
    .traceparent(traceparent);
    for (name, value) in extensions {
        builder = builder.extension(name, value);
    }
    builder.build().map_err(|e| bad(&e))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn time_splits_at_the_microsecond_and_joins_back_exactly() {
        for time in [
            Utc.timestamp_opt(1_700_000_000, 123_456_789).single(),
            Utc.timestamp_opt(-1_000_000_000, 999_999_999).single(),
            Utc.timestamp_opt(946_684_799, 1).single(),
            Utc.timestamp_opt(0, 0).single(),
        ]
        .into_iter()
        .flatten()
        {
            let (micros, nanos) = split_time(time);
            assert_eq!(micros.timestamp_subsec_nanos() % 1_000, 0);
            assert!((0..1_000).contains(&nanos));
            assert_eq!(join_time(micros, nanos), time);
        }
    }
}
