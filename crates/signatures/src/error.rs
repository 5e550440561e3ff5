//! The two ways things go wrong: a request whose signature is refused ([`SignatureError`]),
//! and a secret or scheme configuration that cannot be used ([`KeyError`]).

use std::borrow::Cow;

/// Why a request's signature was refused.
///
/// Every message is safe to show the sender: it says what to fix and never echoes the expected
/// signature or a secret. All variants map to `401` at the HTTP edge.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    /// A header the scheme needs is absent (or empty).
    #[error("missing `{header}` header: sign the request and send the signature in it")]
    Missing {
        /// Lower-case name of the absent header.
        header: Cow<'static, str>,
    },
    /// A header is present but cannot be read: wrong encoding, missing field, bad timestamp.
    #[error("malformed `{header}` header: {reason}")]
    Malformed {
        /// Lower-case name of the unreadable header.
        header: Cow<'static, str>,
        /// What is wrong with it, in the sender's terms.
        reason: &'static str,
    },
    /// The signed timestamp is older than the scheme's tolerance (a stale or replayed request).
    #[error(
        "signature timestamp is {age_secs} s old, more than the {tolerance_secs} s allowed: \
         sign each delivery when it is sent, and check the sender's clock"
    )]
    Expired {
        /// How far in the past the timestamp is, in seconds.
        age_secs: u64,
        /// The tolerance it exceeded, in seconds.
        tolerance_secs: u64,
    },
    /// The signed timestamp is further ahead than the scheme's tolerance.
    #[error(
        "signature timestamp is {ahead_secs} s in the future, more than the {tolerance_secs} s \
         allowed: check the sender's clock"
    )]
    FromTheFuture {
        /// How far in the future the timestamp is, in seconds.
        ahead_secs: u64,
        /// The tolerance it exceeded, in seconds.
        tolerance_secs: u64,
    },
    /// The signature is well formed, but no active secret produces it for this body.
    #[error(
        "signature does not match: sign the exact raw body bytes with the current secret for \
         this source"
    )]
    Mismatch,
}

impl SignatureError {
    pub(crate) const fn missing(header: &'static str) -> Self {
        Self::Missing {
            header: Cow::Borrowed(header),
        }
    }

    pub(crate) const fn malformed(header: &'static str, reason: &'static str) -> Self {
        Self::Malformed {
            header: Cow::Borrowed(header),
            reason,
        }
    }
}

/// Why a scheme and its secrets cannot be turned into a [`Verifier`](crate::Verifier) or
/// [`Signer`](crate::Signer).
///
/// Secrets are named by their position in the list given (from 0), never by their value.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// The list of secrets is empty; at least one is needed to verify anything.
    #[error("no secret configured: at least one is required")]
    NoSecrets,
    /// A secret is empty (or, for Standard Webhooks, holds no key bytes after `whsec_`).
    #[error("secret at index {index} is empty")]
    Empty {
        /// Position of the secret in the list given.
        index: usize,
    },
    /// A Standard Webhooks secret is not base64 after its optional `whsec_` prefix.
    #[error("secret at index {index} is not `whsec_` followed by base64")]
    NotBase64 {
        /// Position of the secret in the list given.
        index: usize,
    },
    /// The generic scheme's header name is not a valid HTTP header name.
    #[error("`{header}` is not a valid HTTP header name")]
    InvalidHeaderName {
        /// The configured name, as given.
        header: String,
    },
}
