//! Webhook receivers the delivery tests (the dispatcher's, the end-to-end suite's) deliver to.
//!
//! [`PyReceiver`] runs `receiver/receiver.py` (checked on its own by `tests/receiver.rs`), which checks every signature with the
//! `standardwebhooks` package from PyPI: an implementation independent of ours, so a signing
//! bug cannot be hidden by the same bug on the receiving side. Its path picks its behaviour
//! (`/ok/<name>`, `/fail/<n>/<name>`, `/hang/<name>`, `/gone/<name>`, `/status/<code>/<name>`,
//! `/slow/<ms>/<name>`; see the script's docstring). [`FastReceiver`] is an in-process
//! actix-web server that only answers 200 and counts, for load tests where Python would be
//! the bottleneck. Neither skips when something is missing: the test fails and says what to
//! install.

mod fast;
mod python;

use std::time::Duration;

pub use fast::FastReceiver;
pub use python::{PyReceiver, Received};

/// How often the `wait_for` helpers look again.
const POLL_EVERY: Duration = Duration::from_millis(25);
