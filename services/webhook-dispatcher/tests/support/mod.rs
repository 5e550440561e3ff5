//! Support shared by the dispatcher's integration tests (`mod support;` in a test file).

// Every test binary compiles all of this and uses only part of it.
#![allow(dead_code, unused_imports)]

pub mod receiver;
