//! Standard Webhooks (<https://www.standardwebhooks.com>): `webhook-id`, `webhook-timestamp`, and
//! `webhook-signature` holding space-separated `v1,<base64>` entries, each the HMAC-SHA256 of
//! `"{id}.{timestamp}.{body}"`. The secret is `whsec_` followed by the base64 key bytes.
//!
//! Verification for inbound sources, and [`Signer`] for the deliveries Switchyard sends.

use std::{
    fmt,
    time::{Duration, SystemTime},
};

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString, zeroize::Zeroizing};

use crate::{
    Encoding, HeaderLookup, KeyError, SignatureError, headers,
    mac::{self, HmacKey, Tag},
    timestamp,
};

const ID: &str = "webhook-id";
const TIMESTAMP: &str = "webhook-timestamp";
const SIGNATURE: &str = "webhook-signature";
const SECRET_PREFIX: &str = "whsec_";

pub(crate) fn verify<H: HeaderLookup + ?Sized>(
    keys: &[HmacKey],
    headers: &H,
    body: &[u8],
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let required = |name| headers::value(headers, name).ok_or(SignatureError::missing(name));
    let id = required(ID)?;
    let sent_at = required(TIMESTAMP)?;
    let signatures = required(SIGNATURE)?;

    let timestamp = timestamp::parse_unix_seconds(sent_at).ok_or(SignatureError::malformed(
        TIMESTAMP,
        timestamp::NOT_UNIX_SECONDS,
    ))?;
    check_signature_list(signatures)?;
    // Refuse stale requests before hashing a possibly large body.
    timestamp::check_fresh(timestamp, timestamp::unix_seconds(now), tolerance)?;

    for key in keys {
        let expected = mac::tag_of(key, &[id, b".", sent_at, b".", body]);
        if v1_tags(signatures).any(|tag| mac::tag_eq(&expected, &tag)) {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// Requires at least one `v1` entry that decodes, so a sender gets told about a list it got
/// wrong rather than a bare mismatch.
fn check_signature_list(signatures: &[u8]) -> Result<(), SignatureError> {
    let mut v1 = entries(signatures)
        .filter(|(version, _)| *version == b"v1")
        .peekable();
    if v1.peek().is_none() {
        return Err(SignatureError::malformed(
            SIGNATURE,
            "no `v1,<base64>` signature in the space-separated list",
        ));
    }
    if !v1.any(|(_, encoded)| mac::decode(Encoding::Base64, encoded).is_ok()) {
        return Err(SignatureError::malformed(
            SIGNATURE,
            "no `v1` signature is an HMAC-SHA256 in base64 (32 bytes)",
        ));
    }
    Ok(())
}

/// `version,signature` entries; unreadable `v1` entries cannot match and are skipped.
fn v1_tags(signatures: &[u8]) -> impl Iterator<Item = Tag> + '_ {
    entries(signatures)
        .filter(|(version, _)| *version == b"v1")
        .filter_map(|(_, encoded)| mac::decode(Encoding::Base64, encoded).ok())
}

fn entries(signatures: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    signatures
        .split(u8::is_ascii_whitespace)
        .filter_map(|entry| {
            let comma = entry.iter().position(|&b| b == b',')?;
            Some((&entry[..comma], &entry[comma + 1..]))
        })
}

/// Derives the HMAC key from a `whsec_<base64>` secret (the prefix is optional, as in the
/// reference libraries). `index` names the secret in errors.
pub(crate) fn key_from_secret(secret: &SecretString, index: usize) -> Result<HmacKey, KeyError> {
    let text = secret.expose_secret();
    let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
    let mut decoded = Zeroizing::new(Vec::new());
    mac::BASE64
        .decode_vec(encoded, &mut decoded)
        .map_err(|_| KeyError::NotBase64 { index })?;
    if decoded.is_empty() {
        return Err(KeyError::Empty { index });
    }
    Ok(HmacKey::new(&decoded))
}

/// Signs outbound deliveries the Standard Webhooks way, for the `webhook-signature` header.
///
/// ```
/// use secrecy::SecretString;
/// use switchyard_signatures::Signer;
///
/// let signer = Signer::new(&SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))?;
/// let signature = signer.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
/// assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
/// # Ok::<(), switchyard_signatures::KeyError>(())
/// ```
#[derive(Clone)]
pub struct Signer {
    key: HmacKey,
}

impl Signer {
    /// A signer for the endpoint secret `whsec_<base64>` (the prefix is optional).
    pub fn new(secret: &SecretString) -> Result<Self, KeyError> {
        Ok(Self {
            key: key_from_secret(secret, 0)?,
        })
    }

    /// Returns the `webhook-signature` header value, `v1,<base64>`, for a delivery with id
    /// `msg_id`, sent at `timestamp` (unix seconds), carrying `body`.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut digits = [0; 20];
        let sent_at = timestamp::write_decimal(timestamp, &mut digits);
        let tag = mac::tag_of(&self.key, &[msg_id.as_bytes(), b".", sent_at, b".", body]);
        let mut header = String::with_capacity(48);
        header.push_str("v1,");
        mac::BASE64.encode_string(tag, &mut header);
        header
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_split_on_whitespace_and_the_first_comma() {
        let parsed: Vec<_> = entries(b"v1,a  v1a,b,c junk v2,").collect();
        assert_eq!(
            parsed,
            vec![
                (&b"v1"[..], &b"a"[..]),
                (&b"v1a"[..], &b"b,c"[..]),
                (&b"v2"[..], &b""[..])
            ]
        );
    }

    #[test]
    fn secret_prefix_is_optional() {
        let with = key_from_secret(&SecretString::from("whsec_c2VjcmV0"), 0).unwrap();
        let without = key_from_secret(&SecretString::from("c2VjcmV0"), 0).unwrap();
        assert_eq!(mac::tag_of(&with, &[b"x"]), mac::tag_of(&without, &[b"x"]));
    }

    #[test]
    fn secret_with_no_key_bytes_is_empty() {
        assert_eq!(
            key_from_secret(&SecretString::from("whsec_"), 3).err(),
            Some(KeyError::Empty { index: 3 })
        );
    }
}
