//! The web console: a single-page app for a tenant's operators, served by the gateway at
//! `/console/`. It watches the live event stream (the gateway's GraphQL subscription),
//! searches events and their delivery attempts, and manages sources, endpoints and the DLQ,
//! all through the gateway's own public API on the same origin with the operator's bearer
//! token.
//!
//! This crate only serves the files: plain HTML, CSS and JavaScript modules embedded in the
//! binary (no build step, nothing read from disk at run time), under a strict
//! Content-Security-Policy. The pages are public; the API they call is not. It holds no
//! business logic and talks to no store.

mod assets;
mod serve;

pub use serve::{CONTENT_SECURITY_POLICY, routes};
