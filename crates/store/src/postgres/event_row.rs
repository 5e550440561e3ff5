//! An [`Event`] as table columns, shared by `events` and `outbox` (same column set).

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use switchyard_domain::{Event, EventId, EventType, Headers, Message, TenantId, Traceparent};
use tokio_postgres::{
    Row,
    types::{Json, ToSql},
};

use crate::{
    error::StoreError,
    events::{check_storable, join_time, split_time},
};

/// The event columns in the order every statement here reads and writes them.
pub(crate) const EVENT_COLUMNS: &str = "tenant, id, type, subject, time, time_nanos, source, \
     data_content_type, data_schema, traceparent, extensions, data";

/// How many columns [`EVENT_COLUMNS`] names.
pub(crate) const EVENT_COLUMN_COUNT: usize = 12;

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

/// The name of [`EVENT_COLUMNS`] number `offset`, for messages.
fn column_name(offset: usize) -> &'static str {
    EVENT_COLUMNS.split(", ").nth(offset).unwrap_or("?")
}

/// Rebuilds an event from [`EVENT_COLUMNS`] starting at column `at` of `row`.
///
/// A value that does not decode (say `extensions` holding a number) or breaks the domain's
/// rules is [`StoreError::CorruptRow`], naming the row and the column: the row is already in
/// memory, so nothing but its values can be wrong.
pub(crate) fn event_from_row(table: &str, row: &Row, at: usize) -> Result<Event, StoreError> {
    let key = |offset| {
        row.try_get::<_, &str>(at + offset)
            .map_err(|e| StoreError::postgres("decode event row", e))
    };
    let tenant = key(0)?;
    let id = key(1)?;
    let bad = |reason: &dyn std::fmt::Display| corrupt(table, tenant, id, reason);
    let column = |offset: usize| {
        move |e: tokio_postgres::Error| {
            // The driver's own message only numbers the column; the cause says what is wrong.
            match std::error::Error::source(&e) {
                Some(cause) => bad(&format_args!("column {}: {cause}", column_name(offset))),
                None => bad(&format_args!("column {}: {e}", column_name(offset))),
            }
        }
    };
    let event_type: &str = row.try_get(at + 2).map_err(column(2))?;
    let subject: Option<String> = row.try_get(at + 3).map_err(column(3))?;
    let time: DateTime<Utc> = row.try_get(at + 4).map_err(column(4))?;
    let time_nanos: i16 = row.try_get(at + 5).map_err(column(5))?;
    let source: &str = row.try_get(at + 6).map_err(column(6))?;
    let data_content_type: Option<String> = row.try_get(at + 7).map_err(column(7))?;
    let data_schema: Option<String> = row.try_get(at + 8).map_err(column(8))?;
    let traceparent: Option<&str> = row.try_get(at + 9).map_err(column(9))?;
    let Json(extensions): Json<BTreeMap<String, String>> =
        row.try_get(at + 10).map_err(column(10))?;
    let data: Vec<u8> = row.try_get(at + 11).map_err(column(11))?;

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

/// What can be read of a row that [`event_from_row`] refused, laid out as
/// [`Event::to_binary`] lays out an event (key = tenant, attributes in `ce_*` headers,
/// `content-type`, data as the value), without `ce_specversion`: it is not a valid event,
/// and a CloudEvents reader should say so rather than half-accept it. Columns are read as
/// plain text, JSON and bytes, so only a value the driver cannot read at all is left out;
/// `extensions` that are not a JSON object travel whole in an `outbox-extensions` header.
pub(crate) fn raw_record(row: &Row, at: usize) -> Message {
    let text = |offset: usize| row.try_get::<_, Option<String>>(at + offset).ok().flatten();
    let mut headers = Headers::with_capacity(12);
    for (header, offset) in [
        ("ce_id", 1),
        ("ce_source", 6),
        ("ce_type", 2),
        ("ce_tenant", 0),
        ("ce_subject", 3),
        ("ce_dataschema", 8),
        ("ce_traceparent", 9),
    ] {
        if let Some(value) = text(offset) {
            headers.append(header, value);
        }
    }
    if let Ok(time) = row.try_get::<_, DateTime<Utc>>(at + 4) {
        let nanos = row.try_get::<_, i16>(at + 5).unwrap_or_default();
        headers.append(
            "ce_time",
            join_time(time, nanos).to_rfc3339_opts(SecondsFormat::AutoSi, true),
        );
    }
    match row.try_get::<_, serde_json::Value>(at + 10) {
        Ok(serde_json::Value::Object(extensions)) => {
            for (name, value) in extensions {
                let value = match value {
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                };
                headers.append(format!("ce_{name}"), value);
            }
        }
        Ok(other) => headers.append("outbox-extensions", other.to_string()),
        Err(_) => {}
    }
    if let Some(content_type) = text(7) {
        headers.append("content-type", content_type);
    }
    Message {
        key: text(0).map(Bytes::from),
        headers,
        payload: row
            .try_get::<_, Vec<u8>>(at + 11)
            .map(Bytes::from)
            .unwrap_or_default(),
    }
}
