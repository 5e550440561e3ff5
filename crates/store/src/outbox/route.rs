//! Where a routed outbox row is published.

use switchyard_domain::Event;

use crate::error::StoreError;

/// Where a row goes instead of the events topic: the gateway's run-time configuration changes
/// (`switchyard.config.*` events) go to `<prefix>.config`, keyed per entity, so Kafka can
/// compact that topic to the latest record of each.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    /// The topic's suffix under the deployment's prefix, e.g. `config`
    /// ([`switchyard_domain::CONFIG_SUFFIX`]); the relay publishes to
    /// `Topics::with_suffix(topic_suffix)`. Letters, digits, `.`, `_` and `-` (Kafka's rule),
    /// at most [`Route::MAX_SUFFIX_LEN`] bytes.
    pub topic_suffix: String,
    /// The record key, in place of the tenant: e.g. `endpoint/acme/orders`. Records of one
    /// key keep their order. Not empty, no NUL.
    pub key: String,
}

impl Route {
    /// Longest topic suffix: topic prefixes may take 200 of Kafka's 249 characters.
    pub const MAX_SUFFIX_LEN: usize = 48;

    /// A route to `<prefix>.config` under `key`.
    #[must_use]
    pub fn config(key: impl Into<String>) -> Self {
        Self {
            topic_suffix: switchyard_domain::CONFIG_SUFFIX.to_owned(),
            key: key.into(),
        }
    }

    /// Refuses a route no broker could take before it is stored: a row the relay cannot
    /// publish would hold its tenant's later rows behind it.
    pub(crate) fn check(&self, event: &Event) -> Result<(), StoreError> {
        let refuse = |reason| StoreError::Unstorable {
            tenant: event.tenant().to_string(),
            id: event.id().to_string(),
            reason,
        };
        let suffix = self.topic_suffix.as_bytes();
        if suffix.is_empty() || suffix.len() > Self::MAX_SUFFIX_LEN {
            return Err(refuse(
                "the route's topic suffix must be 1 to 48 bytes long",
            ));
        }
        if !suffix
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(refuse(
                "the route's topic suffix may contain only ASCII letters, digits, '.', '_' and '-'",
            ));
        }
        if self.key.is_empty() || self.key.contains('\0') {
            return Err(refuse(
                "the route's key must be non-empty and free of NUL characters",
            ));
        }
        Ok(())
    }
}
