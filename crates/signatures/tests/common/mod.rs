//! Test-side signers, written from the providers' documentation with `hmac` directly rather than
//! through the crate, so a shared mistake cannot make both sides agree.

// Helpers fail the test by panicking, as test bodies do; each test binary uses a different
// subset of them.
#![allow(clippy::unwrap_used, dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use secrecy::SecretString;
use sha2::Sha256;
use switchyard_signatures::{Scheme, Verifier};

pub fn secret(text: &str) -> SecretString {
    SecretString::from(text)
}

pub fn verifier(scheme: Scheme, secrets: &[&str]) -> Verifier {
    let secrets: Vec<_> = secrets.iter().map(|text| secret(text)).collect();
    Verifier::new(scheme, &secrets).unwrap()
}

/// The instant `unix` seconds after the epoch.
pub fn at(unix: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).unwrap())
}

pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

pub fn hex_hmac(key: &str, body: &[u8]) -> String {
    hex::encode(hmac_sha256(key.as_bytes(), &[body]))
}

pub fn base64_hmac(key: &str, body: &[u8]) -> String {
    STANDARD.encode(hmac_sha256(key.as_bytes(), &[body]))
}

/// `Stripe-Signature` value for one secret.
pub fn stripe_header(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", stripe_v1(secret, t, body))
}

pub fn stripe_v1(secret: &str, t: i64, body: &[u8]) -> String {
    hex::encode(hmac_sha256(
        secret.as_bytes(),
        &[t.to_string().as_bytes(), b".", body],
    ))
}

/// `webhook-signature` value for one `whsec_` secret.
pub fn standard_signature(secret: &str, id: &str, ts: i64, body: &[u8]) -> String {
    format!("v1,{}", STANDARD.encode(standard_tag(secret, id, ts, body)))
}

/// The Standard Webhooks HMAC, before encoding.
pub fn standard_tag(secret: &str, id: &str, ts: i64, body: &[u8]) -> Vec<u8> {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .unwrap();
    hmac_sha256(
        &key,
        &[id.as_bytes(), b".", ts.to_string().as_bytes(), b".", body],
    )
}

/// A `whsec_` secret for raw key bytes.
pub fn whsec(key: &[u8]) -> String {
    format!("whsec_{}", STANDARD.encode(key))
}

/// `body` with one byte changed.
pub fn tampered(body: &[u8]) -> Vec<u8> {
    let mut changed = body.to_vec();
    changed[0] ^= 0x01;
    changed
}

/// `body` with bit `bit` (counted across the whole body) flipped.
pub fn flip_bit(body: &[u8], bit: usize) -> Vec<u8> {
    let mut flipped = body.to_vec();
    flipped[bit / 8] ^= 1 << (bit % 8);
    flipped
}

/// Not valid UTF-8: a lone continuation byte, an overlong encoding and 0xff.
pub const NON_UTF8_BODY: &[u8] = b"\x80{\"amount\":\xc0\xaf1}\xff";
