//! Key names (see the module's layout). Each starts with its topic's name.

/// The stream of one partition.
pub(super) fn stream(topic: &str, partition: u32) -> String {
    format!("{topic}:{partition}")
}

/// The topic's metadata hash (its partition count).
pub(super) fn meta(topic: &str) -> String {
    format!("{topic}:meta")
}

/// The live members of `group` reading `topic`.
pub(super) fn members(topic: &str, group: &str) -> String {
    format!("{topic}:members:{group}")
}

/// The lease on one partition for `group`.
pub(super) fn owner(topic: &str, partition: u32, group: &str) -> String {
    format!("{topic}:{partition}:owner:{group}")
}
