use crate::{InvalidValue, string_newtype};

/// The prefix of every topic name (DESIGN §3; default `switchyard`). Tests give each run its
/// own prefix so runs never share topics.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopicPrefix(String);

string_newtype!(TopicPrefix);

impl TopicPrefix {
    fn validate(s: &str) -> Result<(), InvalidValue> {
        // Kafka allows 249 characters; leave room for the longest suffix we append.
        if s.is_empty() || s.len() > 200 {
            return Err(InvalidValue::new(
                "topic prefix",
                s,
                "must be 1 to 200 characters long",
            ));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(InvalidValue::new(
                "topic prefix",
                s,
                "may contain only ASCII letters, digits, '.', '_' and '-' (Kafka's rule)",
            ));
        }
        Ok(())
    }
}

impl Default for TopicPrefix {
    fn default() -> Self {
        Self("switchyard".to_owned())
    }
}

/// The names of Switchyard's topics under one prefix.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Topics {
    prefix: TopicPrefix,
}

impl Topics {
    /// Topic names under `prefix`.
    #[must_use]
    pub fn new(prefix: TopicPrefix) -> Self {
        Self { prefix }
    }

    /// The prefix these names share.
    #[must_use]
    pub fn prefix(&self) -> &TopicPrefix {
        &self.prefix
    }

    fn name(&self, suffix: &str) -> String {
        format!("{}.{suffix}", self.prefix)
    }

    /// Verified raw webhooks, written by ingest, read by the processor.
    #[must_use]
    pub fn ingest_raw(&self) -> String {
        self.name("ingest.raw")
    }

    /// Canonical events (CloudEvents binary mode).
    #[must_use]
    pub fn events(&self) -> String {
        self.name("events")
    }

    /// One record per delivery attempt.
    #[must_use]
    pub fn deliveries(&self) -> String {
        self.name("deliveries")
    }

    /// Deliveries waiting for attempt number `stage + 1` of the retry schedule.
    #[must_use]
    pub fn delivery_retry(&self, stage: u32) -> String {
        self.name(&format!("deliveries.retry.{stage}"))
    }

    /// Records no consumer could handle, with `dlq-*` headers saying why.
    #[must_use]
    pub fn dlq(&self) -> String {
        self.name("dlq")
    }

    /// Run-time configuration (sources, endpoints) the gateway publishes and every replica of
    /// ingest, processor and webhook-dispatcher reads from the start. Keyed per entity, so
    /// Kafka can compact it to the latest record of each.
    #[must_use]
    pub fn config(&self) -> String {
        self.name(CONFIG_SUFFIX)
    }

    /// The topic `suffix` names under this prefix (`events`, `config`, ...): how a stored
    /// route (an outbox row's topic) becomes a topic name whatever the deployment's prefix.
    #[must_use]
    pub fn with_suffix(&self, suffix: &str) -> String {
        self.name(suffix)
    }
}

/// The suffix of [`Topics::config`].
pub const CONFIG_SUFFIX: &str = "config";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_design() {
        let topics = Topics::default();
        assert_eq!(topics.ingest_raw(), "switchyard.ingest.raw");
        assert_eq!(topics.events(), "switchyard.events");
        assert_eq!(topics.deliveries(), "switchyard.deliveries");
        assert_eq!(topics.delivery_retry(3), "switchyard.deliveries.retry.3");
        assert_eq!(topics.dlq(), "switchyard.dlq");
        assert_eq!(topics.config(), "switchyard.config");
        assert_eq!(topics.with_suffix("events"), topics.events());
    }

    #[test]
    fn custom_prefix_applies_to_every_topic() {
        let topics = Topics::new(TopicPrefix::parse("test-7f3a").unwrap_or_default());
        assert_eq!(topics.events(), "test-7f3a.events");
        assert!(TopicPrefix::parse("bad prefix").is_err());
        assert!(TopicPrefix::parse("").is_err());
    }
}
