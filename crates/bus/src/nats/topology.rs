//! Topics as streams: creating them, and how many partitions each has.
//!
//! The partition count of a topic is read from its stream (the number of partition subjects),
//! not assumed from the settings, so every publisher and consumer agrees with the stream even
//! when it was created with another `bus.partitions`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use async_nats::jetstream::{
    self, ErrorCode,
    context::{CreateStreamError, CreateStreamErrorKind, GetStreamErrorKind},
    stream::{self, DiscardPolicy, RetentionPolicy, StorageType},
};

use super::{API_TIMEOUT, BACKEND, Config, names, unavailable, within};
use crate::BusError;

/// Known partition counts, and the streams behind them.
pub(super) struct Topology {
    js: jetstream::Context,
    config: Arc<Config>,
    known: Mutex<HashMap<String, u32>>,
}

impl Topology {
    pub(super) fn new(js: jetstream::Context, config: Arc<Config>) -> Self {
        Self {
            js,
            config,
            known: Mutex::default(),
        }
    }

    /// The partition count of `topic`, looked up once per topic.
    pub(super) async fn partitions(&self, topic: &str) -> Result<u32, BusError> {
        if let Some(n) = self.cached(topic) {
            return Ok(n);
        }
        let name = names::stream(topic);
        match within(API_TIMEOUT, self.js.get_stream(&name)).await? {
            Ok(stream) => self.remember(topic, &stream.cached_info().config.subjects),
            Err(e) if is_not_found(e.kind()) => Err(BusError::Rejected {
                backend: BACKEND,
                reason: format!("topic {topic} does not exist (stream {name}); create it first"),
            }),
            Err(e) => Err(unavailable("stream info", e)),
        }
    }

    /// Forgets what is known of `topic` (its stream may have gone or changed).
    pub(super) fn forget(&self, topic: &str) {
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(topic);
    }

    /// Creates the stream of `topic`, or adds the partition subjects it lacks; returns its
    /// partition count. Partitions are never removed: their records would become unreachable.
    pub(super) async fn ensure(&self, topic: &str) -> Result<u32, BusError> {
        let name = names::stream(topic);
        let wanted = names::subjects(topic, self.config.partitions);
        // Two callers may race to create the stream; the loser finds it on its second look.
        for _ in 0..2 {
            match within(API_TIMEOUT, self.js.get_stream(&name)).await? {
                Ok(stream) => {
                    let mut config = stream.cached_info().config.clone();
                    let missing: Vec<String> = wanted
                        .iter()
                        .filter(|s| !config.subjects.contains(s))
                        .cloned()
                        .collect();
                    if !missing.is_empty() {
                        config.subjects.extend(missing);
                        within(API_TIMEOUT, self.js.update_stream(&config))
                            .await?
                            .map_err(|e| unavailable(&format!("updating stream {name}"), e))?;
                        tracing::info!(topic, stream = %name, subjects = config.subjects.len(), "stream widened");
                    }
                    return self.remember(topic, &config.subjects);
                }
                Err(e) if is_not_found(e.kind()) => {
                    match within(
                        API_TIMEOUT,
                        self.js.create_stream(self.stream_config(topic)),
                    )
                    .await?
                    {
                        Ok(_) => {
                            tracing::info!(topic, stream = %name, "stream created");
                            return self.remember(topic, &wanted);
                        }
                        Err(e) if already_exists(e.kind()) => {}
                        Err(e) => return Err(create_error(&name, &e)),
                    }
                }
                Err(e) => return Err(unavailable("stream info", e)),
            }
        }
        Err(unavailable(
            &format!("stream {name}"),
            "created and gone again",
        ))
    }

    fn stream_config(&self, topic: &str) -> stream::Config {
        stream::Config {
            name: names::stream(topic),
            description: Some(format!("Switchyard topic {topic}")),
            subjects: names::subjects(topic, self.config.partitions),
            retention: RetentionPolicy::Limits,
            discard: DiscardPolicy::Old,
            storage: StorageType::File,
            num_replicas: self.config.replicas,
            max_age: self.config.retention,
            duplicate_window: self.config.duplicate_window,
            ..stream::Config::default()
        }
    }

    fn cached(&self, topic: &str) -> Option<u32> {
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(topic)
            .copied()
    }

    fn remember(&self, topic: &str, subjects: &[String]) -> Result<u32, BusError> {
        let n = names::partitions_of(topic, subjects);
        if n == 0 {
            return Err(BusError::Config {
                backend: BACKEND,
                reason: format!(
                    "stream {} has no partition subjects; it was not made by Switchyard",
                    names::stream(topic)
                ),
            });
        }
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(topic.to_owned(), n);
        Ok(n)
    }
}

fn is_not_found(kind: GetStreamErrorKind) -> bool {
    matches!(kind, GetStreamErrorKind::JetStream(e) if e.error_code() == ErrorCode::STREAM_NOT_FOUND)
}

fn already_exists(kind: CreateStreamErrorKind) -> bool {
    matches!(kind, CreateStreamErrorKind::JetStream(e) if e.error_code() == ErrorCode::STREAM_NAME_EXIST)
}

fn create_error(name: &str, error: &CreateStreamError) -> BusError {
    match error.kind() {
        // The server refuses this stream as configured (overlapping subjects, bad limits);
        // a 5xx answer (JetStream busy, electing a leader) is worth retrying.
        CreateStreamErrorKind::JetStream(e) if e.code() < 500 => BusError::Config {
            backend: BACKEND,
            reason: format!("cannot create stream {name}: {error}"),
        },
        CreateStreamErrorKind::InvalidStreamName | CreateStreamErrorKind::EmptyStreamName => {
            BusError::Config {
                backend: BACKEND,
                reason: format!("cannot create stream {name}: {error}"),
            }
        }
        _ => unavailable(&format!("creating stream {name}"), error),
    }
}
