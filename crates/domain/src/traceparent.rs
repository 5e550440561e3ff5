use crate::{InvalidValue, string_newtype};

/// A W3C Trace Context `traceparent` value (`00-<trace id>-<parent id>-<flags>`), carried as
/// the CloudEvents `traceparent` extension so one trace follows an event across services.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Traceparent(String);

string_newtype!(Traceparent);

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Traceparent {
    fn validate(s: &str) -> Result<(), InvalidValue> {
        let invalid = |rule| Err(InvalidValue::new("traceparent", s, rule));
        let parts: Vec<&str> = s.split('-').collect();
        let [version, trace_id, parent_id, flags] = parts.as_slice() else {
            return invalid("must be version-traceid-parentid-flags");
        };
        if version.len() != 2 || !is_lower_hex(version) || *version == "ff" {
            return invalid("version must be two lower-case hex digits other than ff");
        }
        // Version 00 has exactly four fields; later versions may append more, which the
        // split above already refused, so only 00 passes here.
        if *version != "00" {
            return invalid("only version 00 is understood");
        }
        if trace_id.len() != 32 || !is_lower_hex(trace_id) || trace_id.bytes().all(|b| b == b'0') {
            return invalid("trace id must be 32 lower-case hex digits, not all zero");
        }
        if parent_id.len() != 16 || !is_lower_hex(parent_id) || parent_id.bytes().all(|b| b == b'0')
        {
            return invalid("parent id must be 16 lower-case hex digits, not all zero");
        }
        if flags.len() != 2 || !is_lower_hex(flags) {
            return invalid("flags must be two lower-case hex digits");
        }
        Ok(())
    }

    /// The 32-hex-digit trace id.
    #[must_use]
    pub fn trace_id(&self) -> &str {
        &self.0[3..35]
    }

    /// The 16-hex-digit id of the span that is the parent of the receiver's work.
    #[must_use]
    pub fn parent_id(&self) -> &str {
        &self.0[36..52]
    }

    /// Whether the caller recorded (sampled) its span.
    #[must_use]
    pub fn sampled(&self) -> bool {
        u8::from_str_radix(&self.0[53..55], 16).is_ok_and(|flags| flags & 1 == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example value from the W3C Trace Context recommendation, section 3.2.
    const W3C_EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_the_w3c_example() {
        let tp = Traceparent::parse(W3C_EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tp.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(tp.parent_id(), "00f067aa0ba902b7");
        assert!(tp.sampled());
    }

    #[test]
    fn refuses_malformed_values() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert!(Traceparent::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
