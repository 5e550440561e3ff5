use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

/// `[auth]`: how bearer JWTs are validated.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// Shared HS256 secret; empty when JWKS is used.
    pub jwt_hs256_secret: SecretString,
    /// JWKS document URL for asymmetric keys.
    pub jwks_url: Option<Url>,
    /// Required `iss`, when set.
    pub issuer: Option<String>,
    /// Required `aud`, when set.
    pub audience: Option<String>,
}

impl AuthSettings {
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        let secret = self.jwt_hs256_secret.expose_secret();
        if !secret.is_empty() && self.jwks_url.is_some() {
            return Err((
                "auth".into(),
                "set either jwt_hs256_secret or jwks_url, not both (the algorithm is pinned)"
                    .into(),
            ));
        }
        // RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
        if !secret.is_empty() && secret.len() < 32 {
            return Err((
                "auth.jwt_hs256_secret".into(),
                "must be at least 32 bytes for HS256".into(),
            ));
        }
        Ok(())
    }
}
