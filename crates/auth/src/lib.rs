//! JWT validation and tenant/scope extraction, shared by `gateway` (REST/GraphQL) and
//! `websocket-gateway` (WebSocket/SSE).
//!
//! An [`Authenticator`] built from `[auth]` verifies a bearer token — HS256 with a shared
//! secret, or RS/PS/ES/EdDSA keys from a JWKS that is cached and refreshed — and yields a
//! [`Principal`]: the [`TenantId`](switchyard_domain::TenantId) that scopes every query and
//! write, the optional `sub`, and the granted [`Scopes`]. Errors are [`AuthError`]s that each
//! service maps once at its HTTP edge with [`AuthError::to_problem`] (`401`, `403` for a
//! missing scope, `503` when the key set cannot be fetched). [`mint_hs256`] issues tokens for
//! the CLI, `switchyard dev` and tests.
//!
//! What it guarantees:
//! - **The algorithm is pinned** by the key, never chosen by the token: HS256 for the secret;
//!   for a JWKS, the algorithm of the key named by `kid` (its `alg`, or the one its type and
//!   curve allow). `alg: none`, empty signatures and HS256 signed with a public key are refused.
//! - `exp` is required, `nbf` is checked, both with [`CLOCK_LEEWAY`]; `iss` and `aud` are
//!   required and checked when configured (a token's `aud` is ignored when none is).
//! - The `tenant` claim must be a valid tenant id. `scope` is a space-separated list; an `scp`
//!   claim (array or string) is accepted too and unioned with it. Unknown scope names are
//!   ignored. `admin` implies every scope, within its own tenant only.
//! - Tokens over [`MAX_TOKEN_BYTES`] are refused before any decoding.
//! - The JWKS is refreshed every [`JWKS_REFRESH_INTERVAL`] by [`Authenticator::keep_keys_fresh`]
//!   and on an unknown `kid` at most once per [`JWKS_MIN_REFETCH_INTERVAL`]; a failed refresh
//!   keeps the last good key set.
//!
//! What it is not for: sessions, token issuance for end users (that is the identity
//! provider's job), or per-resource authorization beyond tenant and scope.
//!
//! Tokens travel in `Authorization: Bearer` (see [`bearer`]); `?token=` is for browsers on the
//! WebSocket and SSE routes only, because their APIs cannot set headers.

mod authenticator;
mod claims;
mod error;
mod jwks;
mod key_set;
mod mint;
mod principal;
mod scope;
mod token;
mod verification;

use std::time::Duration;

pub use authenticator::{Authenticator, SetupError, Tuning};
pub use error::AuthError;
pub use jwks::JwksError;
pub use mint::{MintError, TokenSpec, mint_hs256};
pub use principal::Principal;
pub use scope::{Scope, Scopes, UnknownScope};
pub use token::bearer;

/// The longest token accepted, in bytes. Real access tokens are under 2 KiB; the limit keeps
/// a hostile header from costing base64 and JSON work (proxies commonly cap a header at 8 KiB
/// too).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Clock skew tolerated on `exp` and `nbf`. Not a setting: hosts run NTP, and a larger skew
/// is a fault to fix, not to configure around.
pub const CLOCK_LEEWAY: Duration = Duration::from_secs(30);

/// How often the JWKS is refetched in the background. IdPs publish a new key well before
/// signing with it, so five minutes picks up rotations long before they matter.
pub const JWKS_REFRESH_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// The least time between two JWKS fetches triggered by unknown `kid`s (and the retry delay
/// after a failed background refresh), so made-up `kid`s cannot hammer the IdP.
pub const JWKS_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// Timeout of one JWKS fetch.
pub const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest JWKS document accepted. Real ones are a few KiB.
pub const JWKS_MAX_BYTES: usize = 256 * 1024;

/// The shortest HS256 secret accepted (RFC 7518 §3.2: at least the hash output size), the same
/// rule `[auth]` validation applies.
pub const MIN_HS256_SECRET_BYTES: usize = 32;
