//! The wire form of a delivery waiting on `<prefix>.deliveries.retry.<n>`: the event record
//! as it came from the events topic plus three headers naming the endpoint, the attempt due
//! and when. The webhook dispatcher writes and reads these for its retries; the gateway
//! writes them to redeliver one event to one endpoint (a replay or a DLQ redrive) without
//! sending it to every other consumer of the events topic again.

use bytes::Bytes;

use crate::Message;

/// The retry stage a redelivery waits on: the dispatcher's first retry topic
/// (`Topics::delivery_retry(FIRST_STAGE)`; stages count from 1, one per retry of the schedule,
/// so this topic exists whatever the schedule).
pub const FIRST_STAGE: u32 = 1;

/// Header: the endpoint id the delivery is for.
pub const ENDPOINT: &str = "sy-endpoint";
/// Header: the attempt number due (2 for the first retry).
pub const ATTEMPT: &str = "sy-attempt";
/// Header: when the attempt is due, unix milliseconds.
pub const DUE: &str = "sy-due-ms";

/// `event_record` scheduled for attempt `attempt` to `endpoint` at `due_ms` (unix ms). Any
/// schedule headers it already carried are replaced.
#[must_use]
pub fn schedule(event_record: &Message, endpoint: &str, attempt: u32, due_ms: u64) -> Message {
    let mut message = event_record.clone();
    let headers = &mut message.headers;
    for name in [ENDPOINT, ATTEMPT, DUE] {
        headers.remove(name);
    }
    headers.insert(ENDPOINT, Bytes::from(endpoint.to_owned()));
    headers.insert(ATTEMPT, Bytes::from(attempt.to_string()));
    headers.insert(DUE, Bytes::from(due_ms.to_string()));
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduling_twice_leaves_one_set_of_headers() {
        let record = Message {
            key: Some(Bytes::from_static(b"acme")),
            payload: Bytes::from_static(b"{}"),
            ..Message::default()
        };
        let once = schedule(&record, "orders", 1, 5);
        let twice = schedule(&once, "billing", 2, 9);
        assert_eq!(twice.headers.get_str(ENDPOINT), Some("billing"));
        assert_eq!(twice.headers.get_str(ATTEMPT), Some("2"));
        assert_eq!(twice.headers.get_str(DUE), Some("9"));
        assert_eq!(twice.headers.iter().count(), 3);
        assert_eq!(twice.payload, record.payload);
    }
}
