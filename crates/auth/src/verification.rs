//! One key with its pinned algorithm, and the claim checks every token passes.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::{
    claims::RawClaims,
    error::{self, AuthError},
    principal::Principal,
    token::PeekedHeader,
};

/// The registered-claim rules of this deployment: `exp` required, `nbf` checked, both with
/// the leeway; `iss` and `aud` required and checked when configured.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRules {
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
}

impl ClaimRules {
    /// Empty strings count as "not configured", so `issuer = ""` in a file can unset a value.
    pub(crate) fn new(issuer: Option<&str>, audience: Option<&str>, leeway: Duration) -> Self {
        let configured = |value: Option<&str>| value.filter(|v| !v.is_empty()).map(str::to_owned);
        Self {
            issuer: configured(issuer),
            audience: configured(audience),
            leeway,
        }
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        // `Validation::new` accepts exactly this one algorithm in the token header.
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            // Without a configured audience, a token's `aud` is not ours to judge: tokens
            // from a shared IdP carry one, and refusing them would make `aud` mandatory to
            // configure.
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        validation
    }
}

/// A verification key, the one algorithm it accepts, and the checks for tokens it signed.
pub(crate) struct VerificationKey {
    algorithm: Algorithm,
    key: DecodingKey,
    validation: Validation,
}

impl VerificationKey {
    pub(crate) fn new(algorithm: Algorithm, key: DecodingKey, rules: &ClaimRules) -> Self {
        Self {
            algorithm,
            key,
            validation: rules.validation(algorithm),
        }
    }

    #[cfg(test)]
    pub(crate) fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Verifies `token` with this key. The header's `alg` must name this key's algorithm: the
    /// header only confirms the choice, it never makes it.
    pub(crate) fn verify(
        &self,
        token: &str,
        header: &PeekedHeader,
    ) -> Result<Principal, AuthError> {
        let expected = algorithm_name(self.algorithm);
        if header.alg != expected {
            return Err(AuthError::AlgorithmNotAllowed { expected });
        }
        let data = jsonwebtoken::decode::<RawClaims>(token, &self.key, &self.validation)
            .map_err(|err| error::from_jwt(&err))?;
        data.claims.into_principal()
    }
}

/// The JOSE name of an algorithm (RFC 7518 §3.1).
pub(crate) fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
        // A newer library version's algorithm: no token header can match this name.
        _ => "an unsupported algorithm",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_always_required_and_iss_aud_only_when_configured() {
        let leeway = Duration::from_secs(30);
        let open = ClaimRules::new(None, Some(""), leeway).validation(Algorithm::HS256);
        assert_eq!(open.required_spec_claims.len(), 1);
        assert!(open.required_spec_claims.contains("exp"));
        assert!(!open.validate_aud);
        assert!(open.validate_nbf);
        assert_eq!(open.leeway, 30);
        assert_eq!(open.algorithms, vec![Algorithm::HS256]);

        let strict = ClaimRules::new(Some("https://idp"), Some("switchyard"), leeway)
            .validation(Algorithm::RS256);
        for claim in ["exp", "iss", "aud"] {
            assert!(strict.required_spec_claims.contains(claim), "{claim}");
        }
        assert!(strict.validate_aud);
    }

    #[test]
    fn algorithm_names_parse_back() {
        for algorithm in [
            Algorithm::HS256,
            Algorithm::RS256,
            Algorithm::PS512,
            Algorithm::ES384,
            Algorithm::EdDSA,
        ] {
            assert_eq!(
                algorithm_name(algorithm).parse::<Algorithm>().unwrap(),
                algorithm
            );
        }
    }
}
