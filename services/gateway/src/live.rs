//! Live events for GraphQL subscriptions (`subscription { events(...) }` over
//! `graphql-transport-ws` at `/graphql/ws`). Each replica reads `<prefix>.events` in a
//! consumer group of its own (`gateway.live.<random>`, from the latest record: as the
//! websocket-gateway does, since any replica may hold any tenant's subscribers) into one
//! bounded broadcast channel; each subscription filters it by the caller's tenant and its
//! types and subject. A subscriber that falls more than the channel's capacity behind is told
//! how many events it missed and goes on; the `events` query fills the gap.
//!
//! Browsers wanting a push stream use the websocket-gateway (history, resume, flow control);
//! this is for API clients that already speak GraphQL.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use futures::Stream;
use switchyard_bus::{BatchHandler, Delivery, HandlerError};
use switchyard_domain::{Event, EventTypePattern, TenantId};
use tokio::sync::broadcast;

use crate::model::EventView;

/// Events waiting for the slowest subscriber before it counts as behind.
pub const CAPACITY: usize = 1_024;

/// An event on its way to subscribers; its API view is made once, by the first subscriber
/// that wants it, and shared by the rest.
struct LiveEvent {
    event: Event,
    view: OnceLock<EventView>,
}

/// The replica's live events.
#[derive(Clone)]
pub struct Live {
    sender: broadcast::Sender<Arc<LiveEvent>>,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
        }
    }
}

/// What a subscription selects within its tenant.
pub struct Selection {
    /// The caller's tenant: never another.
    pub tenant: TenantId,
    /// Empty: every type.
    pub types: Vec<EventTypePattern>,
    /// Only this subject.
    pub subject: Option<String>,
    /// When the caller's token expires: the stream ends then.
    pub until: tokio::time::Instant,
}

impl Selection {
    fn matches(&self, event: &Event) -> bool {
        event.tenant() == &self.tenant
            && (self.types.is_empty() || self.types.iter().any(|p| p.matches(event.event_type())))
            && (self.subject.is_none() || self.subject.as_deref() == event.subject())
    }
}

/// One item of a subscription: an event, or how many were missed.
pub enum Item {
    /// An event.
    Event(Box<EventView>),
    /// The subscriber fell this many events behind the replica.
    Missed(u64),
}

impl Live {
    /// The events `selection` selects from now on, ending at its `until`.
    pub fn subscribe(&self, selection: Selection) -> impl Stream<Item = Item> + Send + use<> {
        let receiver = self.sender.subscribe();
        futures::stream::unfold(
            (receiver, selection),
            |(mut receiver, selection)| async move {
                loop {
                    let received = tokio::select! {
                        received = receiver.recv() => received,
                        () = tokio::time::sleep_until(selection.until) => return None,
                    };
                    match received {
                        Ok(live) if selection.matches(&live.event) => {
                            let view = live.view.get_or_init(|| EventView::from(&live.event));
                            return Some((
                                Item::Event(Box::new(view.clone())),
                                (receiver, selection),
                            ));
                        }
                        Ok(_) => {}
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            return Some((Item::Missed(missed), (receiver, selection)));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            },
        )
    }
}

/// Feeds [`Live`] from the events topic. It never fails a record: an undecodable one is
/// skipped (the processor dead-letters bad records already).
pub struct Feed(pub Live);

#[async_trait]
impl BatchHandler for Feed {
    async fn handle_batch(&self, batch: &[Delivery]) -> Result<Vec<(usize, String)>, HandlerError> {
        if self.0.sender.receiver_count() == 0 {
            return Ok(Vec::new());
        }
        for delivery in batch {
            if let Ok(event) = Event::from_message(&delivery.message) {
                // No receiver is not an error: nobody subscribes right now.
                let _ = self.0.sender.send(Arc::new(LiveEvent {
                    event,
                    view: OnceLock::new(),
                }));
            }
        }
        Ok(Vec::new())
    }
}
