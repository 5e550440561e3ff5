use crate::{InvalidValue, string_newtype};

/// The rule tenant, source and endpoint ids share: 1 to 64 ASCII letters, digits, `-` or `_`,
/// starting with a letter or digit, so an id is safe in a URL path, a broker key and SQL.
pub(crate) fn validate_resource_id(what: &'static str, s: &str) -> Result<(), InvalidValue> {
    if s.is_empty() || s.len() > 64 {
        return Err(InvalidValue::new(
            what,
            s,
            "must be 1 to 64 characters long",
        ));
    }
    if !s.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(InvalidValue::new(
            what,
            s,
            "must start with an ASCII letter or digit",
        ));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(InvalidValue::new(
            what,
            s,
            "may contain only ASCII letters, digits, '-' and '_'",
        ));
    }
    Ok(())
}

/// The id of an inbound webhook source within its tenant: `{source}` in
/// `POST /webhooks/{tenant}/{source}`. Same rules as a tenant id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(String);

string_newtype!(SourceId);

impl SourceId {
    fn validate(s: &str) -> Result<(), InvalidValue> {
        validate_resource_id("source id", s)
    }
}

/// The id of an outbound subscriber endpoint within its tenant. Same rules as a tenant id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointId(String);

string_newtype!(EndpointId);

impl EndpointId {
    fn validate(s: &str) -> Result<(), InvalidValue> {
        validate_resource_id("endpoint id", s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_path_safe() {
        assert!(SourceId::parse("razorpay").is_ok());
        assert!(EndpointId::parse("orders-v2").is_ok());
        for bad in ["", "a/b", "_x", "a b"] {
            assert!(SourceId::parse(bad).is_err(), "{bad:?}");
            assert!(EndpointId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
