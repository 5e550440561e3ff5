//! The delivery log's rules, the same in every engine: what a record may hold, and the
//! precision its timestamps keep.

use chrono::{DateTime, Utc};
use switchyard_domain::wire::DeliveryAttempt;

use crate::error::StoreError;

fn unstorable(attempt: &DeliveryAttempt, reason: &'static str) -> StoreError {
    StoreError::Unstorable {
        tenant: attempt.tenant.clone(),
        id: attempt.attempt_id.clone(),
        reason,
    }
}

/// Refuses a record PostgreSQL cannot hold: a NUL in an identifier, a timestamp out of range.
pub(crate) fn check(attempt: &DeliveryAttempt) -> Result<(), StoreError> {
    let identifiers = [
        &attempt.tenant,
        &attempt.attempt_id,
        &attempt.event_id,
        &attempt.event_type,
        &attempt.endpoint_id,
        &attempt.url,
    ];
    if identifiers.iter().any(|s| s.contains('\0')) {
        return Err(unstorable(attempt, "a text field contains a NUL character"));
    }
    to_time(attempt, attempt.attempted_at.as_ref())?;
    to_time(attempt, attempt.next_attempt_at.as_ref())?;
    Ok(())
}

/// A protobuf timestamp as the store keeps it, to the microsecond (`timestamptz`): the
/// nanoseconds below are dropped (a delivery log needs no finer clock).
pub(crate) fn to_time(
    attempt: &DeliveryAttempt,
    timestamp: Option<&prost_types::Timestamp>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    timestamp
        .map(|t| {
            u32::try_from(t.nanos)
                .ok()
                .and_then(|nanos| DateTime::from_timestamp(t.seconds, nanos))
                .map(crate::events::to_micros)
                .ok_or_else(|| unstorable(attempt, "a timestamp is out of range"))
        })
        .transpose()
}

/// The inverse of [`to_time`].
pub(crate) fn from_time(time: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    time.map(|t| prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    })
}

/// Free text, often quoting the endpoint's answer: a NUL in it is replaced rather than
/// costing the whole record.
pub(crate) fn storable_error(attempt: &DeliveryAttempt) -> String {
    attempt.error.replace('\0', "\u{fffd}")
}
