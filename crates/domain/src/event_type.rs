use crate::{InvalidValue, string_newtype};

/// The type of an event: dot-separated segments such as `razorpay.payment.captured`.
///
/// Each segment is 1+ ASCII letters, digits, `-` or `_`; at most 255 characters in all.
/// Matching is case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventType(String);

string_newtype!(EventType);

const MAX_TYPE_LEN: usize = 255;

/// Dot-separated segments of ASCII letters, digits, `-` and `_`; with `wildcards`, a segment
/// may also be exactly `*`.
fn validate_segments(what: &'static str, s: &str, wildcards: bool) -> Result<(), InvalidValue> {
    let invalid = |rule| Err(InvalidValue::new(what, s, rule));
    if s.is_empty() || s.len() > MAX_TYPE_LEN {
        return invalid("must be 1 to 255 characters long");
    }
    for segment in s.split('.') {
        if segment.is_empty() {
            return invalid("must not start or end with '.' or contain '..'");
        }
        let literal = segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !(literal || wildcards && segment == "*") {
            return invalid(if wildcards {
                "each segment is '*' or ASCII letters, digits, '-' and '_' (no partial wildcards)"
            } else {
                "segments between dots may contain only ASCII letters, digits, '-' and '_'"
            });
        }
    }
    Ok(())
}

impl EventType {
    fn validate(s: &str) -> Result<(), InvalidValue> {
        validate_segments("event type", s, false)
    }

    /// The first segment: the provider for inbound webhooks (`razorpay`, `github`, ...).
    #[must_use]
    pub fn namespace(&self) -> &str {
        self.0.split('.').next().unwrap_or(&self.0)
    }
}

/// A filter over event types, as used by endpoint subscriptions and live-stream filters.
///
/// Segments are literal or `*`. A `*` in the middle matches exactly one segment
/// (`stripe.*.succeeded`); a `*` at the end matches one or more segments, so
/// `razorpay.payment.*` matches every payment event however deep, and `*` alone matches every
/// event. Partial wildcards such as `pay*` are refused rather than silently matching nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventTypePattern(String);

string_newtype!(EventTypePattern);

impl EventTypePattern {
    fn validate(s: &str) -> Result<(), InvalidValue> {
        validate_segments("event type pattern", s, true)
    }

    /// Whether `event_type` is selected by this pattern.
    #[must_use]
    pub fn matches(&self, event_type: &EventType) -> bool {
        let mut pattern = self.0.split('.').peekable();
        let mut segments = event_type.0.split('.');
        while let Some(want) = pattern.next() {
            let last = pattern.peek().is_none();
            match (want, segments.next()) {
                (_, None) => return false,
                ("*", Some(_)) if last => return true,
                ("*", Some(_)) => {}
                (literal, Some(got)) if literal == got => {}
                _ => return false,
            }
        }
        segments.next().is_none()
    }

    /// Whether this pattern is a plain type with no wildcard (an exact-match index can serve it).
    #[must_use]
    pub fn is_exact(&self) -> bool {
        !self.0.split('.').any(|segment| segment == "*")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn t(s: &str) -> EventType {
        EventType::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }
    fn p(s: &str) -> EventTypePattern {
        EventTypePattern::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn trailing_wildcard_matches_one_or_more_segments() {
        let pattern = p("razorpay.payment.*");
        assert!(pattern.matches(&t("razorpay.payment.captured")));
        assert!(pattern.matches(&t("razorpay.payment.dispute.created")));
        assert!(!pattern.matches(&t("razorpay.payment")));
        assert!(!pattern.matches(&t("razorpay.order.paid")));
        assert!(!pattern.matches(&t("stripe.payment.captured")));
    }

    #[test]
    fn inner_wildcard_matches_exactly_one_segment() {
        let pattern = p("stripe.*.succeeded");
        assert!(pattern.matches(&t("stripe.payment_intent.succeeded")));
        assert!(!pattern.matches(&t("stripe.a.b.succeeded")));
        assert!(!pattern.matches(&t("stripe.payment_intent.failed")));
    }

    #[test]
    fn literal_patterns_match_only_themselves() {
        assert!(p("github.push").matches(&t("github.push")));
        assert!(!p("github.push").matches(&t("github.push.forced")));
        assert!(!p("github.push").matches(&t("github")));
        assert!(p("github.push").is_exact());
        assert!(!p("github.*").is_exact());
    }

    #[test]
    fn refuses_malformed_types_and_patterns() {
        for bad in ["", ".a", "a.", "a..b", "a b", "a.*", "ä"] {
            assert!(
                EventType::parse(bad).is_err(),
                "type {bad:?} must be refused"
            );
        }
        for bad in ["", "pay*", "a.**", "a..*", "*."] {
            assert!(
                EventTypePattern::parse(bad).is_err(),
                "pattern {bad:?} must be refused"
            );
        }
    }

    #[test]
    fn namespace_is_the_first_segment() {
        assert_eq!(t("shopify.orders.create").namespace(), "shopify");
        assert_eq!(t("ping").namespace(), "ping");
    }

    fn event_type() -> impl Strategy<Value = EventType> {
        proptest::collection::vec("[a-z0-9_-]{1,6}", 1..6)
            .prop_map(|segments| t(&segments.join(".")))
    }

    proptest! {
        #[test]
        fn star_matches_every_type(ty in event_type()) {
            prop_assert!(p("*").matches(&ty));
        }

        #[test]
        fn a_type_used_as_a_pattern_matches_only_itself(a in event_type(), b in event_type()) {
            let pattern = p(a.as_str());
            prop_assert!(pattern.matches(&a));
            prop_assert_eq!(pattern.matches(&b), a == b);
        }

        #[test]
        fn prefix_with_trailing_star_matches_every_extension(
            prefix in event_type(),
            rest in event_type(),
        ) {
            let pattern = p(&format!("{prefix}.*"));
            let extended = t(&format!("{prefix}.{rest}"));
            prop_assert!(pattern.matches(&extended));
            prop_assert!(!pattern.matches(&prefix));
        }

        #[test]
        fn replacing_any_segment_by_star_still_matches(ty in event_type(), index in 0usize..6) {
            let mut segments: Vec<&str> = ty.as_str().split('.').collect();
            let index = index % segments.len();
            segments[index] = "*";
            prop_assert!(p(&segments.join(".")).matches(&ty));
        }
    }
}
