//! How topics, partitions and groups are named on the server.
//!
//! Topic and group names contain `.` (`switchyard.events`), which JetStream forbids in stream
//! and consumer names and which separates subject tokens. Every name is therefore first turned
//! into a *token*: ASCII letters, digits and `-` stay, `.` becomes `_`, and every other byte
//! (including `_` itself) becomes `=XX` (upper-case hex). The mapping is injective (`_` and `=`
//! only ever come from the rules above), so two topics never share a stream or a subject, and
//! a token is valid as a stream name, consumer name, subject token and key-value key token.
//!
//! | what | name | `switchyard.events`, group `audit-writer` |
//! |---|---|---|
//! | stream of a topic | `<token(topic)>` | `switchyard_events` |
//! | subject of partition p | `<token(topic)>.<p>` | `switchyard_events.3` |
//! | durable consumer of (group, p) | `<token(group)>-<p>` on the topic's stream | `audit-writer-3` |
//! | member key | `<token(group)>.<token(topic)>.m.<member>` | `audit-writer.switchyard_events.m.5f1c...` |
//! | partition owner key | `<token(group)>.<token(topic)>.o.<p>` | `audit-writer.switchyard_events.o.3` |
//! | rewind cursor key | `<token(group)>.<token(topic)>.<p>` | `audit-writer.switchyard_events.3` |
//!
//! Subjects have exactly two tokens, the second all digits, so the subjects of two topics
//! never overlap and no topic name can inject a wildcard.

use std::fmt::Write as _;

/// The token of a topic or group name.
pub(super) fn token(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' => out.push(char::from(byte)),
            b'.' => out.push('_'),
            other => {
                let _ = write!(out, "={other:02X}");
            }
        }
    }
    out
}

/// The stream holding `topic`.
pub(super) fn stream(topic: &str) -> String {
    token(topic)
}

/// The subject of one partition of `topic`.
pub(super) fn subject(topic: &str, partition: u32) -> String {
    format!("{}.{partition}", token(topic))
}

/// The subjects of a stream with `partitions` partitions.
pub(super) fn subjects(topic: &str, partitions: u32) -> Vec<String> {
    (0..partitions).map(|p| subject(topic, p)).collect()
}

/// How many partitions a stream has: its subjects are `<token>.0` to `<token>.<n-1>`.
pub(super) fn partitions_of(topic: &str, subjects: &[String]) -> u32 {
    let prefix = format!("{}.", token(topic));
    let count = subjects
        .iter()
        .filter_map(|s| s.strip_prefix(&prefix))
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .count();
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// The durable consumer of one partition for `group` (on the topic's stream).
pub(super) fn consumer(group: &str, partition: u32) -> String {
    format!("{}-{partition}", token(group))
}

/// Key-value keys of one group's coordination on one topic.
#[derive(Debug, Clone)]
pub(super) struct GroupKeys {
    prefix: String,
}

impl GroupKeys {
    pub(super) fn new(group: &str, topic: &str) -> Self {
        Self {
            prefix: format!("{}.{}", token(group), token(topic)),
        }
    }

    /// Filter matching every key of `group` on any topic.
    pub(super) fn group_filter(group: &str) -> String {
        format!("{}.>", token(group))
    }

    /// The membership key of `member`.
    pub(super) fn member(&self, member: &str) -> String {
        format!("{}.m.{member}", self.prefix)
    }

    /// The owner (lease) key of `partition`.
    pub(super) fn owner(&self, partition: u32) -> String {
        format!("{}.o.{partition}", self.prefix)
    }

    /// The rewind cursor key of `partition`.
    pub(super) fn cursor(&self, partition: u32) -> String {
        format!("{}.{partition}", self.prefix)
    }

    /// Parses a key of this group and topic.
    pub(super) fn parse<'k>(&self, key: &'k str) -> Option<GroupKey<'k>> {
        let rest = key.strip_prefix(self.prefix.as_str())?.strip_prefix('.')?;
        if let Some(member) = rest.strip_prefix("m.") {
            return Some(GroupKey::Member(member));
        }
        rest.strip_prefix("o.")
            .and_then(|p| p.parse().ok())
            .map(GroupKey::Owner)
    }
}

/// A parsed coordination key.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum GroupKey<'k> {
    /// A member's presence.
    Member(&'k str),
    /// A partition's owner lease.
    Owner(u32),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_plain_names_readable() {
        assert_eq!(token("switchyard.events"), "switchyard_events");
        assert_eq!(token("audit-writer"), "audit-writer");
        assert_eq!(token("contract_ab12.dlq"), "contract=5Fab12_dlq");
        assert_eq!(token("a b*>/é"), "a=20b=2A=3E=2F=C3=A9");
    }

    #[test]
    fn tokens_never_collide() {
        let names = [
            "a.b", "a_b", "a=5Fb", "a-b", "a.b.", "a..b", "a_.b", "a._b", "A.b",
        ];
        let tokens: std::collections::HashSet<String> = names.iter().map(|n| token(n)).collect();
        assert_eq!(tokens.len(), names.len());
    }

    #[test]
    fn subjects_of_different_topics_never_overlap() {
        assert_eq!(subject("switchyard.events", 3), "switchyard_events.3");
        assert_ne!(subject("a.1", 2), subject("a", 1));
        assert!(!subject("a.>", 0).contains('>'));
    }

    #[test]
    fn partition_count_comes_from_the_subjects() {
        let subjects = subjects("t.x", 4);
        assert_eq!(partitions_of("t.x", &subjects), 4);
        assert_eq!(partitions_of("t", &subjects), 0);
    }

    #[test]
    fn consumer_names_are_unique_per_group_and_partition() {
        assert_eq!(consumer("audit-writer", 3), "audit-writer-3");
        assert_ne!(consumer("g-1", 2), consumer("g", 12));
    }

    #[test]
    fn group_keys_round_trip() {
        let keys = GroupKeys::new("g.1", "switchyard.events");
        assert_eq!(keys.owner(2), "g_1.switchyard_events.o.2");
        assert_eq!(keys.parse(&keys.owner(2)), Some(GroupKey::Owner(2)));
        assert_eq!(
            keys.parse(&keys.member("abc")),
            Some(GroupKey::Member("abc"))
        );
        assert_eq!(keys.parse(&keys.cursor(2)), None);
        let other = GroupKeys::new("g.1", "switchyard.events2");
        assert_eq!(keys.parse(&other.owner(2)), None);
        assert_eq!(GroupKeys::group_filter("g.1"), "g_1.>");
    }
}
