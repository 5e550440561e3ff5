use sha2::{Digest, Sha256};

use crate::{InvalidValue, string_newtype};

/// The id of an event: the CloudEvents `id`, unique per tenant.
///
/// 1 to 128 visible ASCII characters. Ids Switchyard makes itself start with `evt_`: either
/// time-ordered ([`EventId::generate`], for published events) or derived from the provider's
/// delivery id ([`EventId::derive`]) so a redelivered webhook is the same event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(String);

string_newtype!(EventId);

impl EventId {
    /// The longest id accepted.
    pub const MAX_LEN: usize = 128;

    fn validate(s: &str) -> Result<(), InvalidValue> {
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(InvalidValue::new(
                "event id",
                s,
                "must be 1 to 128 characters long",
            ));
        }
        if !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidValue::new(
                "event id",
                s,
                "may contain only visible ASCII characters (no spaces)",
            ));
        }
        Ok(())
    }

    /// A new, unique id that sorts by creation time (UUIDv7 inside), which keeps the event
    /// store's primary-key index append-mostly.
    #[must_use]
    pub fn generate() -> Self {
        Self(format!("evt_{}", uuid::Uuid::now_v7().simple()))
    }

    /// A deterministic id from the parts that identify one delivery (for example tenant,
    /// source and the provider's delivery id): the same parts always give the same id.
    ///
    /// Parts are length-prefixed before hashing, so `["ab", "c"]` and `["a", "bc"]` differ.
    #[must_use]
    pub fn derive(parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        let digest = hasher.finalize();
        // 128 bits keep collisions out of reach for any realistic event volume.
        Self(format!("evt_{}", hex::encode(&digest[..16])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_unique_and_time_ordered() {
        let a = EventId::generate();
        let b = EventId::generate();
        assert_ne!(a, b);
        assert!(a < b, "{a} should sort before {b}");
        assert!(EventId::parse(a.as_str()).is_ok());
    }

    #[test]
    fn derived_ids_are_stable_and_unambiguous() {
        let one = EventId::derive(&[b"acme", b"razorpay", b"evt_123"]);
        assert_eq!(one, EventId::derive(&[b"acme", b"razorpay", b"evt_123"]));
        assert_ne!(one, EventId::derive(&[b"acme", b"razorpay", b"evt_124"]));
        assert_ne!(
            EventId::derive(&[b"ab", b"c"]),
            EventId::derive(&[b"a", b"bc"])
        );
        assert_eq!(one.as_str().len(), 36);
    }

    #[test]
    fn refuses_empty_long_or_spaced_ids() {
        for bad in [String::new(), "a b".into(), "x".repeat(129), "tab\t".into()] {
            assert!(EventId::parse(&bad).is_err(), "{bad:?} must be refused");
        }
    }
}
