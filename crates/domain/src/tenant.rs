use crate::{InvalidValue, string_newtype};

/// The tenant that owns an event, a source or an endpoint; the partition key of every topic.
///
/// 1 to 64 ASCII letters, digits, `-` or `_`, starting with a letter or digit, so it is safe
/// in a URL path segment, a Kafka key, a Redis key and a SQL literal alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

string_newtype!(TenantId);

impl TenantId {
    /// The longest tenant id accepted.
    pub const MAX_LEN: usize = 64;

    fn validate(s: &str) -> Result<(), InvalidValue> {
        crate::resource_id::validate_resource_id("tenant id", s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_typical_ids() {
        for ok in [
            "acme",
            "a",
            "Tenant_42",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
        ] {
            assert_eq!(
                TenantId::parse(ok).map(|t| t.to_string()),
                Ok(ok.to_owned())
            );
        }
    }

    #[test]
    fn refuses_ids_that_are_unsafe_in_paths_or_keys() {
        let too_long = "a".repeat(65);
        for bad in [
            "",
            "-acme",
            "acme corp",
            "acme/x",
            "acme.io",
            "ácme",
            too_long.as_str(),
        ] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn deserializing_validates() {
        let ok: Result<TenantId, _> = serde_json::from_str("\"acme\"");
        assert!(ok.is_ok());
        let err = serde_json::from_str::<TenantId>("\"a b\"")
            .map(|_| ())
            .unwrap_err();
        assert!(err.to_string().contains("tenant id"), "{err}");
    }
}
