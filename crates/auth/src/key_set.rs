//! A JWKS document turned into verification keys, each pinned to one algorithm.

use std::{
    collections::{HashMap, hash_map::Entry},
    sync::Arc,
};

use jsonwebtoken::{
    Algorithm, AlgorithmFamily, DecodingKey,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse},
};
use serde::Deserialize;

use crate::{
    jwks::JwksError,
    verification::{ClaimRules, VerificationKey},
};

/// The usable keys of one JWKS document.
#[derive(Default)]
pub(crate) struct KeySet {
    by_kid: HashMap<String, Arc<VerificationKey>>,
    unnamed: Vec<Arc<VerificationKey>>,
}

impl KeySet {
    /// Parses a JWKS document. Keys that are unusable (encryption keys, symmetric keys, unknown
    /// types or curves, an `alg` that does not fit the key) are skipped, not fatal: an IdP's set
    /// often holds keys for other purposes. A set with no usable key at all is an error, so a
    /// broken document never replaces a good one.
    pub(crate) fn parse(body: &[u8], rules: &ClaimRules) -> Result<Self, JwksError> {
        #[derive(Deserialize)]
        struct Document {
            keys: Vec<serde_json::Value>,
        }
        let document: Document = serde_json::from_slice(body).map_err(JwksError::Parse)?;
        let mut set = Self::default();
        let mut skipped = 0;
        for value in document.keys {
            let usable = serde_json::from_value::<Jwk>(value)
                .map_err(|_| "not a JWK")
                .and_then(|jwk| usable_key(&jwk, rules).map(|key| (jwk.common.key_id, key)));
            match usable {
                Ok((Some(kid), key)) => match set.by_kid.entry(kid) {
                    Entry::Vacant(slot) => {
                        slot.insert(Arc::new(key));
                    }
                    Entry::Occupied(taken) => {
                        // Two keys under one `kid` make the choice ambiguous: keep the first.
                        tracing::debug!(kid = %taken.key(), "JWKS key skipped: duplicate kid");
                        skipped += 1;
                    }
                },
                Ok((None, key)) => set.unnamed.push(Arc::new(key)),
                Err(reason) => {
                    tracing::debug!(reason, "JWKS key skipped");
                    skipped += 1;
                }
            }
        }
        if set.len() == 0 {
            return Err(JwksError::NoUsableKey { skipped });
        }
        Ok(set)
    }

    /// The key named `kid`.
    pub(crate) fn get(&self, kid: &str) -> Option<Arc<VerificationKey>> {
        self.by_kid.get(kid).cloned()
    }

    /// The only key, for a token without `kid`: with several keys, guessing would mean trying
    /// each, so a `kid` is required then.
    pub(crate) fn sole(&self) -> Option<Arc<VerificationKey>> {
        if self.len() != 1 {
            return None;
        }
        self.by_kid
            .values()
            .chain(self.unnamed.iter())
            .next()
            .cloned()
    }

    pub(crate) fn len(&self) -> usize {
        self.by_kid.len() + self.unnamed.len()
    }
}

/// The key and its one algorithm, or why it cannot verify tokens.
fn usable_key(jwk: &Jwk, rules: &ClaimRules) -> Result<VerificationKey, &'static str> {
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|usage| *usage != PublicKeyUse::Signature)
    {
        return Err("not a signature key (`use`)");
    }
    if jwk
        .common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return Err("not a verification key (`key_ops`)");
    }
    let algorithm = pinned_algorithm(jwk)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| "key material does not decode")?;
    if key.family() != algorithm.family() {
        return Err("key type does not fit its algorithm");
    }
    Ok(VerificationKey::new(algorithm, key, rules))
}

/// The algorithm a JWK is pinned to: its own `alg` when it declares one (and it fits the key),
/// else the one its type allows. An RSA key without `alg` is taken as RS256, the default of
/// OpenID Connect. Symmetric (`oct`) keys are never accepted from a JWKS: a published
/// symmetric key would let anyone sign.
fn pinned_algorithm(jwk: &Jwk) -> Result<Algorithm, &'static str> {
    let declared = jwk
        .common
        .key_algorithm
        .map(Algorithm::try_from)
        .transpose()
        .map_err(|_| "unsupported `alg`")?;
    let fits = |family: AlgorithmFamily, default: Algorithm| match declared {
        None => Ok(default),
        Some(algorithm) if algorithm.family() == family => Ok(algorithm),
        Some(_) => Err("`alg` does not fit the key type"),
    };
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => fits(AlgorithmFamily::Rsa, Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(params) => {
            let by_curve = match params.curve {
                EllipticCurve::P256 => Algorithm::ES256,
                EllipticCurve::P384 => Algorithm::ES384,
                _ => return Err("unsupported curve"),
            };
            match declared {
                None => Ok(by_curve),
                Some(algorithm) if algorithm == by_curve => Ok(algorithm),
                Some(_) => Err("`alg` does not fit the curve"),
            }
        }
        AlgorithmParameters::OctetKeyPair(params) if params.curve == EllipticCurve::Ed25519 => {
            fits(AlgorithmFamily::Ed, Algorithm::EdDSA)
        }
        AlgorithmParameters::OctetKey(_) => Err("symmetric keys are not accepted from a JWKS"),
        _ => Err("unsupported key type"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    fn rules() -> ClaimRules {
        ClaimRules::new(None, None, Duration::from_secs(30))
    }

    // A real P-256 public point (the NIST test vector from RFC 7515 appendix A.3).
    fn ec(extra: &serde_json::Value) -> serde_json::Value {
        let mut key = json!({
            "kty": "EC", "crv": "P-256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
        });
        key.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        key
    }

    fn parse(keys: &serde_json::Value) -> Result<KeySet, JwksError> {
        KeySet::parse(json!({ "keys": keys }).to_string().as_bytes(), &rules())
    }

    #[test]
    fn an_ec_key_is_pinned_by_its_curve() {
        let set = parse(&json!([ec(&json!({"kid": "a"}))])).unwrap();
        assert_eq!(set.get("a").unwrap().algorithm(), Algorithm::ES256);
        let set = parse(&json!([ec(
            &json!({"kid": "a", "alg": "ES256", "use": "sig"})
        )]))
        .unwrap();
        assert_eq!(set.get("a").unwrap().algorithm(), Algorithm::ES256);
    }

    #[test]
    fn unusable_keys_are_skipped_and_the_rest_kept() {
        let set = parse(&json!([
            ec(&json!({"kid": "enc", "use": "enc"})),
            ec(&json!({"kid": "wrong-alg", "alg": "ES384"})),
            ec(&json!({"kid": "hs", "alg": "HS256"})),
            {"kty": "oct", "kid": "sym", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"},
            {"kty": "RSA", "kid": "broken"},
            {"kty": "weird", "kid": "unknown"},
            ec(&json!({"kid": "ok"})),
            ec(&json!({"kid": "ok"})),
        ]))
        .unwrap();
        assert_eq!(set.len(), 1);
        assert!(set.get("ok").is_some());
        for kid in ["enc", "wrong-alg", "hs", "sym", "broken", "unknown"] {
            assert!(set.get(kid).is_none(), "{kid}");
        }
    }

    #[test]
    fn a_set_without_usable_keys_is_an_error() {
        assert!(matches!(
            parse(&json!([{"kty": "oct", "k": "AAAA"}])),
            Err(JwksError::NoUsableKey { skipped: 1 })
        ));
        assert!(matches!(
            parse(&json!([])),
            Err(JwksError::NoUsableKey { skipped: 0 })
        ));
        assert!(matches!(
            KeySet::parse(b"<html>", &rules()),
            Err(JwksError::Parse(_))
        ));
    }

    #[test]
    fn only_a_single_key_is_used_for_tokens_without_kid() {
        let one = parse(&json!([ec(&json!({}))])).unwrap();
        assert!(one.sole().is_some());
        let two = parse(&json!([ec(&json!({"kid": "a"})), ec(&json!({"kid": "b"}))])).unwrap();
        assert!(two.sole().is_none());
    }
}
