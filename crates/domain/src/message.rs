use bytes::Bytes;

/// One header of a [`Message`]. Names are case-sensitive, as in Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header name, e.g. `ce_id`.
    pub name: String,
    /// Raw header value.
    pub value: Bytes,
}

/// The ordered headers of a [`Message`]. A small vector rather than a map: records carry a
/// dozen headers at most, and Kafka allows repeated names, which a map would lose.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers(Vec<Header>);

impl Headers {
    /// No headers.
    #[must_use]
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Room for `n` headers without reallocating.
    #[must_use]
    pub fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    /// Appends a header, keeping any existing one of the same name.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<Bytes>) {
        self.0.push(Header {
            name: name.into(),
            value: value.into(),
        });
    }

    /// Sets a header, replacing every existing one of the same name.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Bytes>) {
        let name = name.into();
        self.0.retain(|h| h.name != name);
        self.0.push(Header {
            name,
            value: value.into(),
        });
    }

    /// Removes every header named `name`.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|h| h.name != name);
    }

    /// The value of the first header named `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        self.0.iter().find(|h| h.name == name).map(|h| &h.value)
    }

    /// The value of the first header named `name`, if it is UTF-8.
    #[must_use]
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// All headers in order.
    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    /// How many headers there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a Header;
    type IntoIter = std::slice::Iter<'a, Header>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl FromIterator<Header> for Headers {
    fn from_iter<I: IntoIterator<Item = Header>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// A record as every bus backend carries it: optional key, headers and payload. The payload is
/// `Bytes`, so handing a record from a consumer to a publisher never copies it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// Partition key; for Switchyard's topics, the tenant id.
    pub key: Option<Bytes>,
    /// Record headers.
    pub headers: Headers,
    /// Record value.
    pub payload: Bytes,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_replaces_and_append_keeps() {
        let mut headers = Headers::new();
        headers.append("a", "1");
        headers.append("a", "2");
        assert_eq!(headers.len(), 2);
        assert_eq!(headers.get_str("a"), Some("1"));
        headers.insert("a", "3");
        assert_eq!(headers.len(), 1);
        assert_eq!(headers.get_str("a"), Some("3"));
        headers.remove("a");
        assert!(headers.is_empty());
    }

    #[test]
    fn get_str_refuses_non_utf8() {
        let mut headers = Headers::new();
        headers.append("bin", Bytes::from_static(&[0xff, 0xfe]));
        assert!(headers.get("bin").is_some());
        assert_eq!(headers.get_str("bin"), None);
    }
}
