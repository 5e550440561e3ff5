//! Support shared by the dispatcher's integration tests (`mod support;` in a test file).

// Every test binary compiles all of this and uses only part of it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub use switchyard_testkit::receiver;
pub mod stage;
