//! Reads a request body whole, but never more than the source allows and never for longer
//! than the sender is given: a declared length over the limit is refused before a byte is
//! read, an undeclared (chunked) one as soon as it passes the limit, and a sender that
//! trickles its body (slow-loris) is cut off at the deadline.

use std::time::Duration;

use actix_web::{error::PayloadError, web};
use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is, or declares itself, larger than `limit`.
    #[error("the body is larger than this source's limit of {limit} bytes")]
    TooLarge {
        /// The source's `max_body_bytes`.
        limit: usize,
    },
    /// The sender did not finish within the deadline.
    #[error("the body did not arrive within {0:?}")]
    Timeout(Duration),
    /// The connection broke or the framing was invalid.
    #[error("the body could not be read: {0}")]
    Broken(#[source] PayloadError),
}

/// Reads `payload` into one buffer of at most `limit` bytes within `timeout`.
pub async fn read(
    mut payload: web::Payload,
    declared: Option<u64>,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    // Trust a declared length only up to the limit for the allocation.
    let mut body = BytesMut::with_capacity(declared.map_or(8 * 1024, |n| n as usize).min(limit));
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let chunk = match tokio::time::timeout_at(deadline, payload.next()).await {
            Err(_) => return Err(BodyError::Timeout(timeout)),
            Ok(None) => break,
            Ok(Some(chunk)) => chunk.map_err(BodyError::Broken)?,
        };
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        if body.is_empty() && declared == Some(chunk.len() as u64) {
            // The common case, one chunk holding the whole body: keep it without copying.
            return Ok(chunk);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
