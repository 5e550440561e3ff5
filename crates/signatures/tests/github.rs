//! GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the raw body.

mod common;

use std::time::SystemTime;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use common::{NON_UTF8_BODY, hex_hmac, hmac_sha256, tampered, verifier};
use switchyard_signatures::{Scheme, SignatureError};

// From GitHub's "Validating webhook deliveries", section "Testing the webhook payload
// validation": https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
const DOCS_SECRET: &str = "It's a Secret to Everybody";
const DOCS_BODY: &[u8] = b"Hello, World!";
const DOCS_HEADER: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

const SECRET: &str = "gh-webhook-secret";
const BODY: &[u8] = br#"{"action":"opened","number":1}"#;

fn check(secrets: &[&str], header: &str, body: &[u8]) -> Result<(), SignatureError> {
    verifier(Scheme::Github, secrets).verify(
        &[("X-Hub-Signature-256", header)],
        body,
        SystemTime::now(),
    )
}

fn signed(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex_hmac(secret, body))
}

fn malformed(reason: &'static str) -> Result<(), SignatureError> {
    Err(SignatureError::Malformed {
        header: "x-hub-signature-256".into(),
        reason,
    })
}

#[test]
fn github_documented_example_verifies() {
    assert_eq!(check(&[DOCS_SECRET], DOCS_HEADER, DOCS_BODY), Ok(()));
}

#[test]
fn github_documented_example_with_another_body_is_a_mismatch() {
    assert_eq!(
        check(&[DOCS_SECRET], DOCS_HEADER, b"Hello, World?"),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn github_upper_case_hex_verifies() {
    let header = format!("sha256={}", DOCS_HEADER[7..].to_ascii_uppercase());
    assert_eq!(check(&[DOCS_SECRET], &header, DOCS_BODY), Ok(()));
}

#[test]
fn github_signature_from_another_secret_is_a_mismatch() {
    assert_eq!(
        check(&[SECRET], &signed("forger", BODY), BODY),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn github_body_changed_by_one_byte_is_a_mismatch() {
    assert_eq!(
        check(&[SECRET], &signed(SECRET, BODY), &tampered(BODY)),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn github_truncated_signature_is_refused() {
    let header = signed(SECRET, BODY);
    assert_eq!(
        check(&[SECRET], &header[..header.len() - 2], BODY),
        malformed("signature is not an HMAC-SHA256 (64 hex digits, 32 bytes)")
    );
}

#[test]
fn github_base64_signature_is_malformed() {
    let header = format!(
        "sha256={}",
        STANDARD.encode(hmac_sha256(SECRET.as_bytes(), &[BODY]))
    );
    assert_eq!(
        check(&[SECRET], &header, BODY),
        malformed("signature is not hex-encoded")
    );
}

#[test]
fn github_signature_without_the_sha256_prefix_is_malformed() {
    let bare = hex_hmac(SECRET, BODY);
    let sha1_style = format!("sha1={bare}");
    for header in [bare.as_str(), sha1_style.as_str()] {
        assert_eq!(
            check(&[SECRET], header, BODY),
            malformed("signature lacks the expected prefix"),
            "{header}"
        );
    }
}

#[test]
fn github_legacy_sha1_header_alone_counts_as_missing() {
    let verifier = verifier(Scheme::Github, &[SECRET]);
    let result = verifier.verify(&[("X-Hub-Signature", "sha1=0123")], BODY, SystemTime::now());
    assert_eq!(
        result,
        Err(SignatureError::Missing {
            header: "x-hub-signature-256".into()
        })
    );
}

#[test]
fn github_either_of_two_rotated_secrets_verifies() {
    for signer in ["old", "new"] {
        assert_eq!(check(&["old", "new"], &signed(signer, BODY), BODY), Ok(()));
    }
}

#[test]
fn github_signature_from_a_removed_secret_is_a_mismatch() {
    assert_eq!(
        check(&["new"], &signed("old", BODY), BODY),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn github_non_utf8_body_verifies() {
    assert_eq!(
        check(&[SECRET], &signed(SECRET, NON_UTF8_BODY), NON_UTF8_BODY),
        Ok(())
    );
}
