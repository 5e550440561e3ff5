//! Header access without an HTTP framework.

/// Case-insensitive header access, so the crate needs no HTTP framework.
///
/// Names passed in are lower-case ASCII. Implementations for slices, arrays and vectors of
/// `(name, value)` pairs are provided; an HTTP handler implements it over its own header map.
pub trait HeaderLookup {
    /// First value of the header, as raw bytes (HTTP header values need not be UTF-8).
    fn header(&self, name: &str) -> Option<&[u8]>;
}

impl<N: AsRef<str>, V: AsRef<[u8]>> HeaderLookup for [(N, V)] {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(candidate, _)| candidate.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_ref())
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>, const LEN: usize> HeaderLookup for [(N, V); LEN] {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.as_slice().header(name)
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>> HeaderLookup for Vec<(N, V)> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.as_slice().header(name)
    }
}

/// The header's value without surrounding whitespace, or `None` when absent or empty: an empty
/// signature header tells the sender the same thing as a missing one.
pub(crate) fn value<'h, H: HeaderLookup + ?Sized>(headers: &'h H, name: &str) -> Option<&'h [u8]> {
    headers
        .header(name)
        .map(<[u8]>::trim_ascii)
        .filter(|value| !value.is_empty())
}

/// Whether `name` is an HTTP field name (an RFC 9110 token).
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_the_case_of_stored_names() {
        let headers = [("X-Hub-Signature-256", "sha256=ab")];
        assert_eq!(
            headers.header("x-hub-signature-256"),
            Some(&b"sha256=ab"[..])
        );
    }

    #[test]
    fn lookup_returns_the_first_of_repeated_headers() {
        let headers = vec![
            ("webhook-id".to_owned(), b"first".to_vec()),
            ("Webhook-Id".to_owned(), b"second".to_vec()),
        ];
        assert_eq!(headers.header("webhook-id"), Some(&b"first"[..]));
    }

    #[test]
    fn lookup_of_an_absent_header_is_none() {
        let headers: [(&str, &[u8]); 0] = [];
        assert_eq!(headers.header("stripe-signature"), None);
    }

    #[test]
    fn value_trims_whitespace_and_treats_empty_as_absent() {
        let headers = [("a", " x \t"), ("b", "  ")];
        assert_eq!(value(&headers, "a"), Some(&b"x"[..]));
        assert_eq!(value(&headers, "b"), None);
    }

    #[test]
    fn header_names_must_be_tokens() {
        assert!(is_valid_name("X-Signature_2"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("x signature"));
        assert!(!is_valid_name("x:sig"));
    }
}
