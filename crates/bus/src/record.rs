use std::fmt;

use switchyard_domain::Message;

/// Where a record sits in its partition, in the backend's own terms.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Position {
    /// A Kafka offset or a memory log index.
    Offset(u64),
    /// A JetStream stream sequence.
    Sequence(u64),
    /// A Redis stream entry id (`<ms>-<seq>`).
    StreamId(String),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Offset(n) | Self::Sequence(n) => write!(f, "{n}"),
            Self::StreamId(id) => f.write_str(id),
        }
    }
}

/// The broker's acknowledgement of one published record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// Partition the record went to.
    pub partition: u32,
    /// Its position there.
    pub position: Position,
}

/// A record handed to a subscriber's handler.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Topic it was read from.
    pub topic: String,
    /// Partition within the topic.
    pub partition: u32,
    /// Position within the partition.
    pub position: Position,
    /// Key, headers and payload exactly as published.
    pub message: Message,
    /// 1 on the first try; counts handler attempts of this delivery by this member.
    pub attempt: u32,
}
