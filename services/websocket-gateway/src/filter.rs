//! What a connection asked to see: event type patterns, and either one subject or its own
//! events. The tenant is never part of it: it comes from the token alone, so no filter can
//! reach another tenant.

use switchyard_domain::{EventType, EventTypePattern, InvalidValue};

/// Most patterns one connection may ask for.
pub const MAX_PATTERNS: usize = 32;
/// Longest subject accepted in a filter.
pub const MAX_SUBJECT_LEN: usize = 256;

/// A connection's selection within its tenant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    /// Empty means every type.
    types: Vec<EventTypePattern>,
    subject: Option<String>,
    owner: Option<String>,
}

/// Why a filter was refused, phrased for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// A pattern does not parse.
    #[error("types: {0}")]
    Pattern(#[from] InvalidValue),
    /// Too many patterns.
    #[error("types: at most {MAX_PATTERNS} patterns per connection")]
    TooManyPatterns,
    /// The subject is empty or too long.
    #[error("subject: must be 1 to {MAX_SUBJECT_LEN} characters long")]
    Subject,
}

impl Filter {
    /// Every event of the tenant.
    #[must_use]
    pub fn everything() -> Self {
        Self::default()
    }

    /// Builds a filter from `types` (comma-separated globs such as `a.b.*,c.d`; empty or
    /// absent means all) and `subject`.
    pub fn parse(types: Option<&str>, subject: Option<&str>) -> Result<Self, FilterError> {
        let patterns = types
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty());
        Self::from_parts(patterns, subject)
    }

    /// Builds a filter from separate patterns and an optional subject.
    pub fn from_parts<'a>(
        patterns: impl IntoIterator<Item = &'a str>,
        subject: Option<&str>,
    ) -> Result<Self, FilterError> {
        let mut types = Vec::new();
        for pattern in patterns {
            if types.len() == MAX_PATTERNS {
                return Err(FilterError::TooManyPatterns);
            }
            types.push(EventTypePattern::parse(pattern)?);
        }
        // `*` takes everything: the narrower patterns beside it add nothing.
        if types.iter().any(|p| p.as_str() == "*") {
            types.clear();
        }
        types.sort();
        types.dedup();
        let subject = match subject {
            None => None,
            Some(s) if s.is_empty() || s.len() > MAX_SUBJECT_LEN => {
                return Err(FilterError::Subject);
            }
            Some(s) => Some(s.to_owned()),
        };
        Ok(Self {
            types,
            subject,
            owner: None,
        })
    }

    /// The patterns; empty means every type.
    #[must_use]
    pub fn types(&self) -> &[EventTypePattern] {
        &self.types
    }

    /// The subject asked for, if any.
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The owner asked for, if any: events whose subject or owner field is this value (the
    /// token's `sub`).
    #[must_use]
    pub fn owner(&self) -> Option<&str> {
        self.owner.as_deref()
    }

    /// Narrows the filter to the events of `owner` (see [`Filter::owner`]) instead of one
    /// subject.
    #[must_use]
    pub fn owned_by(mut self, owner: String) -> Self {
        self.subject = None;
        self.owner = Some(owner);
        self
    }

    /// Whether an event of `event_type` about `subject`, owned by `owner` (the value of the
    /// configured data field), is selected.
    #[must_use]
    pub fn matches(
        &self,
        event_type: &EventType,
        subject: Option<&str>,
        owner: Option<&str>,
    ) -> bool {
        let subject_ok = self.subject.is_none() || self.subject.as_deref() == subject;
        let owner_ok = self.owner.is_none()
            || self.owner.as_deref() == subject
            || self.owner.as_deref() == owner;
        subject_ok
            && owner_ok
            && (self.types.is_empty() || self.types.iter().any(|p| p.matches(event_type)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> EventType {
        EventType::parse(s).unwrap()
    }

    #[test]
    fn no_types_selects_every_type() {
        let filter = Filter::parse(None, None).unwrap();
        assert!(filter.matches(&t("a.b"), None, None));
        assert_eq!(Filter::parse(Some(" , "), None).unwrap(), filter);
        assert_eq!(Filter::parse(Some("a.b,*"), None).unwrap(), filter);
    }

    #[test]
    fn globs_and_subject_both_apply() {
        let filter = Filter::parse(Some("razorpay.payment.*, github.push"), Some("pay_1")).unwrap();
        assert!(filter.matches(&t("razorpay.payment.captured"), Some("pay_1"), None));
        assert!(filter.matches(&t("github.push"), Some("pay_1"), None));
        assert!(!filter.matches(&t("github.push"), Some("pay_2"), Some("pay_1")));
        assert!(!filter.matches(&t("github.push"), None, None));
        assert!(!filter.matches(&t("razorpay.order.paid"), Some("pay_1"), None));
    }

    #[test]
    fn an_owner_matches_its_subject_or_its_data_field() {
        let filter = Filter::parse(Some("a.*"), Some("ignored"))
            .unwrap()
            .owned_by("cust_1".into());
        assert_eq!(filter.subject(), None);
        assert!(filter.matches(&t("a.b"), Some("cust_1"), None));
        assert!(filter.matches(&t("a.b"), Some("pay_9"), Some("cust_1")));
        assert!(!filter.matches(&t("a.b"), Some("pay_9"), Some("cust_2")));
        assert!(!filter.matches(&t("a.b"), None, None));
        assert!(!filter.matches(&t("c.d"), Some("cust_1"), Some("cust_1")));
    }

    #[test]
    fn bad_filters_say_what_to_fix() {
        assert!(matches!(
            Filter::parse(Some("pay*"), None),
            Err(FilterError::Pattern(_))
        ));
        let many = vec!["a"; MAX_PATTERNS + 1].join(",");
        assert_eq!(
            Filter::parse(Some(&many), None),
            Err(FilterError::TooManyPatterns)
        );
        assert_eq!(Filter::parse(None, Some("")), Err(FilterError::Subject));
    }
}
