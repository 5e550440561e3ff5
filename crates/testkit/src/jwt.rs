//! Tokens as an attacker or a stale client would send them: any header (`alg: none`, another
//! algorithm), any claims, signed with any secret or not at all. Valid tokens come from
//! `switchyard_auth::mint_hs256`; this is for the ones a service must refuse.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// A compact JWS of `header` and `claims`, HMAC-SHA256-signed with `secret`, or with an empty
/// signature when `secret` is `None`.
#[must_use]
pub fn forge(
    header: &serde_json::Value,
    claims: &serde_json::Value,
    secret: Option<&str>,
) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = secret.map_or_else(String::new, |secret| {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
            unreachable!("HMAC takes keys of any length")
        };
        mac.update(signing_input.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    });
    format!("{signing_input}.{signature}")
}

/// Seconds since the Unix epoch, for `exp`, `nbf` and `iat` claims.
#[must_use]
pub fn now() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs).unwrap_or(i64::MAX)
}
