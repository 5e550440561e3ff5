//! Getting the token out of a request, and the cheap checks made before any cryptography.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, de::IgnoredAny};

use crate::{MAX_TOKEN_BYTES, error::AuthError};

/// The token of an `Authorization: Bearer <token>` header value (RFC 6750 §2.1): the scheme
/// is matched case-insensitively and the token is trimmed. `None` for another scheme or an
/// empty token.
///
/// Prefer this header everywhere. The `?token=` query parameter exists only for browsers on
/// `/v1/ws` and `/v1/sse`, whose WebSocket and `EventSource` APIs cannot set headers; a token in
/// a URL can end up in proxy and access logs, so services accept it only on those two routes
/// and never log query strings.
///
/// ```
/// use switchyard_auth::bearer;
///
/// assert_eq!(bearer("Bearer abc.def.ghi"), Some("abc.def.ghi"));
/// assert_eq!(bearer("  bearer   abc.def.ghi  "), Some("abc.def.ghi"));
/// assert_eq!(bearer("Basic dXNlcjpwYXNz"), None);
/// assert_eq!(bearer("Bearer "), None);
/// ```
#[must_use]
pub fn bearer(header_value: &str) -> Option<&str> {
    let (scheme, token) = header_value
        .trim()
        .split_once(|c: char| c.is_ascii_whitespace())?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

/// The JOSE header fields we look at before choosing a key.
#[derive(Debug, Deserialize)]
pub(crate) struct PeekedHeader {
    pub(crate) alg: String,
    #[serde(default)]
    pub(crate) kid: Option<String>,
    /// RFC 7515 §4.1.11: a token whose `crit` lists extensions we do not understand must be
    /// refused. We understand none, so any `crit` is refused.
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// Checks the token's size and shape and reads its header, without trusting anything in it.
///
/// Embedded keys (`jwk`, `jku`, `x5u`, `x5c` header fields) are never looked at: keys come only
/// from the configuration.
pub(crate) fn peek_header(token: &str) -> Result<PeekedHeader, AuthError> {
    if token.is_empty() {
        return Err(AuthError::MissingToken);
    }
    // Before any decoding, so a huge token costs nothing but its length check.
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::TooLong);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(_payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed {
            reason: "a signed JWT has exactly three dot-separated parts",
        });
    };
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AuthError::Malformed {
            reason: "the header is not base64url",
        })?;
    let header: PeekedHeader =
        serde_json::from_slice(&header).map_err(|_| AuthError::Malformed {
            reason: "the header is not a JSON object with a string `alg`",
        })?;
    if header.alg.eq_ignore_ascii_case("none") || signature.is_empty() {
        return Err(AuthError::Unsigned);
    }
    if header.crit.is_some() {
        return Err(AuthError::Malformed {
            reason: "critical header extensions (`crit`) are not supported",
        });
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn b64(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn bearer_needs_the_scheme_and_a_token() {
        assert_eq!(bearer("BEARER\tx"), Some("x"));
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearerx y"), None);
        assert_eq!(bearer(""), None);
        assert_eq!(bearer("Token x"), None);
    }

    #[test]
    fn the_header_is_read_without_verifying() {
        let token = format!("{}.{}.sig", b64(r#"{"alg":"RS256","kid":"k1"}"#), b64("{}"));
        let header = peek_header(&token).unwrap();
        assert_eq!(header.alg, "RS256");
        assert_eq!(header.kid.as_deref(), Some("k1"));
    }

    #[test]
    fn alg_none_and_empty_signatures_are_unsigned() {
        for alg in ["none", "None", "NONE"] {
            let token = format!("{}.{}.", b64(&format!(r#"{{"alg":"{alg}"}}"#)), b64("{}"));
            assert_eq!(peek_header(&token).unwrap_err(), AuthError::Unsigned);
        }
        let token = format!("{}.{}.", b64(r#"{"alg":"HS256"}"#), b64("{}"));
        assert_eq!(peek_header(&token).unwrap_err(), AuthError::Unsigned);
    }

    #[test]
    fn shapes_other_than_three_parts_are_malformed() {
        for token in ["abc", "a.b", "a.b.c.d", "a.b.c.d.e", "...."] {
            assert!(
                matches!(peek_header(token), Err(AuthError::Malformed { .. })),
                "{token}"
            );
        }
        assert_eq!(peek_header("").unwrap_err(), AuthError::MissingToken);
    }

    #[test]
    fn crit_is_refused() {
        let header = b64(r#"{"alg":"HS256","crit":["b64"],"b64":false}"#);
        let token = format!("{header}.{}.sig", b64("{}"));
        assert!(matches!(
            peek_header(&token),
            Err(AuthError::Malformed { .. })
        ));
    }

    #[test]
    fn an_oversized_token_is_refused_before_decoding() {
        let token = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(peek_header(&token).unwrap_err(), AuthError::TooLong);
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(token in ".{0,300}") {
            let _ = peek_header(&token);
            let _ = bearer(&token);
        }
    }
}
