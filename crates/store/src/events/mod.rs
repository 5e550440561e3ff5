//! The audit event store's vocabulary: every event once per `(tenant, id)`, listed by time
//! with keyset cursors.

mod cursor;
mod filter;

use chrono::{DateTime, TimeDelta, Utc};
pub use cursor::Cursor;
pub use filter::{EventFilter, EventPage, MAX_PAGE_SIZE, Order};
use switchyard_domain::Event;

use crate::error::StoreError;

/// Refuses what PostgreSQL cannot hold, in every engine, so an event stored in development
/// is one production stores too. The domain's rules already keep control characters out of
/// every attribute except extension values, and a NUL is the one character `text` and
/// `jsonb` both refuse.
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

/// `time` floored to the microsecond (all `timestamptz` holds, and what listings order and
/// filter by) and the nanoseconds below it.
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

/// `time` at the precision the store keeps for timestamps other than an event's own.
pub(crate) fn to_micros(time: DateTime<Utc>) -> DateTime<Utc> {
    split_time(time).0
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
