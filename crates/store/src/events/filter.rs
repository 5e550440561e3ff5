//! What a listing of events selects, and the page it returns.

use chrono::{DateTime, Utc};
use switchyard_domain::{Event, EventTypePattern};

use super::Cursor;

/// The largest page [`crate::Store::list_events`] returns; larger limits are lowered to it.
pub const MAX_PAGE_SIZE: u32 = 1_000;

/// Which way a listing runs through time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    /// Oldest first: the order to replay in.
    #[default]
    OldestFirst,
    /// Newest first: the order to browse in.
    NewestFirst,
}

/// What [`crate::Store::list_events`] selects within one tenant. The default selects
/// everything.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Event types, exactly (`github.push`) or by pattern (`razorpay.payment.*`), with the
    /// meaning of [`EventTypePattern::matches`].
    pub event_type: Option<EventTypePattern>,
    /// Exactly this subject.
    pub subject: Option<String>,
    /// Events whose time is at or after this (compared at microsecond precision).
    pub since: Option<DateTime<Utc>>,
    /// Events whose time is before this (compared at microsecond precision).
    pub until: Option<DateTime<Utc>>,
    /// Direction; the cursor of a page only makes sense with the same order.
    pub order: Order,
}

/// One page of events and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    /// The events, ordered by `(time, id)` in the filter's direction.
    pub events: Vec<Event>,
    /// Pass back to get the next page; `None` when this page is the last.
    pub next_cursor: Option<Cursor>,
}
