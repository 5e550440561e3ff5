//! Secrets at rest and on the config topic: AES-256-GCM under keys from `[secrets]`.
//!
//! A sealed secret reads `sealed:v1:<key id>:<base64url(nonce || ciphertext + tag)>`. The key
//! id (first 8 hex characters of the key's SHA-256) says which key opens it, so keys rotate:
//! the first key seals, every key unseals, and a record sealed before a rotation still opens.
//! The prefix up to the key id is authenticated too, so a record cannot be re-labelled.

use std::fmt;

use aes_gcm::{
    Aes256Gcm, Key, Nonce,
    aead::{Aead, KeyInit, Payload},
};
use base64::{
    Engine as _,
    engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD},
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use switchyard_runtime::settings::SecretsSettings;

use crate::ControlError;

const PREFIX: &str = "sealed:v1:";
const NONCE_BYTES: usize = 12;
const KEY_BYTES: usize = 32;

/// A secret as stored and published: ciphertext only, safe to log.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SealedSecret(String);

impl SealedSecret {
    /// Wraps sealed text read from storage; checked when it is unsealed.
    #[must_use]
    pub fn from_sealed_text(text: String) -> Self {
        Self(text)
    }

    /// The sealed text, as stored.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id of the key that sealed it, if the text is well formed.
    #[must_use]
    pub fn key_id(&self) -> Option<&str> {
        self.0.strip_prefix(PREFIX)?.split(':').next()
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Ciphertext says nothing, but a log line full of base64 helps nobody either.
        write!(f, "SealedSecret({})", self.key_id().unwrap_or("?"))
    }
}

struct SealingKey {
    id: String,
    cipher: Aes256Gcm,
}

/// Seals with the first key and unseals with any; see the module documentation.
pub struct Sealer {
    keys: Vec<SealingKey>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Sealer").field("key_ids", &ids).finish()
    }
}

impl Sealer {
    /// A sealer over `keys`, each the base64 (standard or URL-safe) of 32 bytes, newest first.
    /// No keys gives a sealer that refuses every seal and unseal with
    /// [`ControlError::NoSealingKeys`].
    pub fn new(keys: &[SecretString]) -> Result<Self, ControlError> {
        let keys = keys
            .iter()
            .enumerate()
            .map(|(index, key)| {
                let text = key.expose_secret().trim();
                let bytes = [&STANDARD, &URL_SAFE]
                    .iter()
                    .find_map(|engine| engine.decode(text).ok())
                    .or_else(|| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok())
                    .filter(|bytes| bytes.len() == KEY_BYTES)
                    .ok_or(ControlError::BadSealingKey { index })?;
                Ok(SealingKey {
                    id: key_id(&bytes),
                    cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
                })
            })
            .collect::<Result<Vec<_>, ControlError>>()?;
        Ok(Self { keys })
    }

    /// A sealer over the keys of `[secrets]`.
    pub fn from_settings(settings: &SecretsSettings) -> Result<Self, ControlError> {
        Self::new(&settings.keys)
    }

    /// Whether it has no key (nothing can be sealed or unsealed).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Seals `secret` with the first key and a fresh random nonce.
    pub fn seal(&self, secret: &SecretString) -> Result<SealedSecret, ControlError> {
        let key = self.keys.first().ok_or(ControlError::NoSealingKeys)?;
        let label = format!("{PREFIX}{}:", key.id);
        // 96 random bits per seal: a repeat is negligible for far more seals than one
        // deployment makes under one key.
        let nonce: [u8; NONCE_BYTES] = rand::random();
        let ciphertext = key
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret.expose_secret().as_bytes(),
                    aad: label.as_bytes(),
                },
            )
            .map_err(|_| ControlError::Unsealable {
                reason: "encryption failed",
            })?;
        let mut sealed = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(SealedSecret(format!(
            "{label}{}",
            URL_SAFE_NO_PAD.encode(sealed)
        )))
    }

    /// Opens `sealed` with the key its id names.
    pub fn unseal(&self, sealed: &SealedSecret) -> Result<SecretString, ControlError> {
        if self.keys.is_empty() {
            return Err(ControlError::NoSealingKeys);
        }
        let malformed = ControlError::Unsealable {
            reason: "not sealed text (sealed:v1:<key id>:<base64url>)",
        };
        let rest = sealed.0.strip_prefix(PREFIX).ok_or(malformed.clone())?;
        let (id, body) = rest.split_once(':').ok_or(malformed.clone())?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| malformed.clone())?;
        if bytes.len() < NONCE_BYTES {
            return Err(malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let label = format!("{PREFIX}{id}:");
        let mut candidates = self.keys.iter().filter(|k| k.id == id).peekable();
        if candidates.peek().is_none() {
            return Err(ControlError::UnknownSealingKey { key_id: id.into() });
        }
        let plaintext = candidates
            .find_map(|key| {
                key.cipher
                    .decrypt(
                        Nonce::from_slice(nonce),
                        Payload {
                            msg: ciphertext,
                            aad: label.as_bytes(),
                        },
                    )
                    .ok()
            })
            .ok_or(ControlError::Unsealable {
                reason: "the ciphertext does not authenticate (tampered, or another key of the same id)",
            })?;
        String::from_utf8(plaintext)
            .map(SecretString::from)
            .map_err(|_| ControlError::Unsealable {
                reason: "the secret is not UTF-8",
            })
    }
}

/// First 8 hex characters of the key's SHA-256: names the key without revealing it.
fn key_id(key: &[u8]) -> String {
    let digest = Sha256::digest(key);
    hex::encode(&digest[..4])
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";
    const KEY_B: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn sealer(keys: &[&str]) -> Sealer {
        let keys: Vec<SecretString> = keys.iter().map(|k| SecretString::from(*k)).collect();
        Sealer::new(&keys).unwrap_or_else(|e| panic!("{e}"))
    }

    fn secret(text: &str) -> SecretString {
        SecretString::from(text)
    }

    #[test]
    fn a_sealed_secret_round_trips_and_names_its_key() {
        let sealer = sealer(&[KEY_A]);
        let sealed = sealer
            .seal(&secret("whsec_top"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(sealed.as_str().starts_with("sealed:v1:"), "{sealed:?}");
        let expected_id = key_id(&STANDARD.decode(KEY_A).unwrap_or_default());
        assert_eq!(sealed.key_id(), Some(expected_id.as_str()));
        assert_eq!(expected_id.len(), 8);
        let opened = sealer.unseal(&sealed).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(opened.expose_secret(), "whsec_top");
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let sealer = sealer(&[KEY_A]);
        let one = sealer
            .seal(&secret("same"))
            .unwrap_or_else(|e| panic!("{e}"));
        let two = sealer
            .seal(&secret("same"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(one, two);
    }

    #[test]
    fn another_key_cannot_open_it() {
        let sealed = sealer(&[KEY_A])
            .seal(&secret("s3cret"))
            .unwrap_or_else(|e| panic!("{e}"));
        let error = sealer(&[KEY_B]).unseal(&sealed).err();
        assert!(
            matches!(error, Some(ControlError::UnknownSealingKey { .. })),
            "{error:?}"
        );
        // Same key id, other key material: relabel the record as B's and it must not open.
        let b = sealer(&[KEY_B]);
        let b_id = b
            .seal(&secret("x"))
            .unwrap_or_else(|e| panic!("{e}"))
            .key_id()
            .unwrap_or_default()
            .to_owned();
        let a_id = sealed.key_id().unwrap_or_default().to_owned();
        let relabelled = SealedSecret(sealed.as_str().replace(&a_id, &b_id));
        assert!(matches!(
            b.unseal(&relabelled),
            Err(ControlError::Unsealable { .. })
        ));
    }

    #[test]
    fn tampered_ciphertext_is_refused() {
        let sealer = sealer(&[KEY_A]);
        let sealed = sealer
            .seal(&secret("s3cret"))
            .unwrap_or_else(|e| panic!("{e}"));
        let (label, body) = sealed
            .as_str()
            .rsplit_once(':')
            .unwrap_or_else(|| panic!("no body"));
        let mut bytes = URL_SAFE_NO_PAD.decode(body).unwrap_or_default();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        let tampered = SealedSecret(format!("{label}:{}", URL_SAFE_NO_PAD.encode(&bytes)));
        assert!(matches!(
            sealer.unseal(&tampered),
            Err(ControlError::Unsealable { .. })
        ));
        for garbage in [
            "plain",
            "sealed:v1:",
            "sealed:v1:abcd:!!",
            "sealed:v1:abcd:AA",
        ] {
            assert!(
                sealer.unseal(&SealedSecret(garbage.to_owned())).is_err(),
                "{garbage}"
            );
        }
    }

    #[test]
    fn after_a_rotation_the_old_key_still_opens_and_the_new_one_seals() {
        let old = sealer(&[KEY_A]);
        let before = old
            .seal(&secret("before"))
            .unwrap_or_else(|e| panic!("{e}"));
        let rotated = sealer(&[KEY_B, KEY_A]);
        let after = rotated
            .seal(&secret("after"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(before.key_id(), after.key_id(), "the first key seals");
        let opened = rotated.unseal(&before).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(opened.expose_secret(), "before");
        assert!(
            old.unseal(&after).is_err(),
            "the old sealer lacks the new key"
        );
    }

    #[test]
    fn without_keys_nothing_is_sealed_or_unsealed() {
        let none = Sealer::new(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(none.is_empty());
        assert!(matches!(
            none.seal(&secret("x")),
            Err(ControlError::NoSealingKeys)
        ));
        let sealed = sealer(&[KEY_A])
            .seal(&secret("x"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            none.unseal(&sealed),
            Err(ControlError::NoSealingKeys)
        ));
        assert!(matches!(
            Sealer::new(&[secret("c2hvcnQ=")]),
            Err(ControlError::BadSealingKey { index: 0 })
        ));
    }

    #[test]
    fn no_secret_or_key_reaches_debug_output() {
        let sealer = sealer(&[KEY_A]);
        let sealed = sealer
            .seal(&secret("whsec_plaintext_value"))
            .unwrap_or_else(|e| panic!("{e}"));
        let opened = sealer.unseal(&sealed).unwrap_or_else(|e| panic!("{e}"));
        let debug = format!("{sealer:?} {sealed:?} {opened:?}");
        assert!(!debug.contains("plaintext_value"), "{debug}");
        assert!(!debug.contains(&KEY_A[..16]), "{debug}");
        let body = sealed.as_str().rsplit(':').next().unwrap_or_default();
        assert!(!debug.contains(body), "{debug}");
    }
}
