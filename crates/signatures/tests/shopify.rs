//! Shopify: `X-Shopify-Hmac-Sha256`, base64 HMAC-SHA256 of the raw body.

mod common;

use std::time::SystemTime;

use common::{NON_UTF8_BODY, base64_hmac, hex_hmac, tampered, verifier};
use switchyard_signatures::{Scheme, SignatureError};

// From Shopify/shopify_app, test/shopify_app/controller_concerns/webhook_verification_test.rb
// ("authorized requests should be successful" and "... validated with old secret ..."):
// https://github.com/Shopify/shopify_app/blob/main/test/shopify_app/controller_concerns/webhook_verification_test.rb
// The test posts `params: { foo: 'anything' }`, which the Rails test client sends as the
// form-encoded body `foo=anything`; that body reproduces both published HMACs.
const APP_BODY: &[u8] = b"foo=anything";
const APP_SECRET: &str = "secret";
const APP_OLD_SECRET: &str = "old_secret";
const APP_HMAC: &str = "yCGX/RrK4fcuNtr3ztk5tQGsOBjcAzHpGLdMUrbV8yI=";
const APP_OLD_HMAC: &str = "XqRcjrSv57VACn6apEO9znyu/wkN1VC7QxdSPwK3Hzs=";

const SECRET: &str = "shpss_client_secret";
const BODY: &[u8] = br#"{"id":820982911946154508,"email":"jon@example.com"}"#;

fn check(secrets: &[&str], hmac: &str, body: &[u8]) -> Result<(), SignatureError> {
    verifier(Scheme::Shopify, secrets).verify(
        &[("X-Shopify-Hmac-Sha256", hmac)],
        body,
        SystemTime::now(),
    )
}

fn malformed(reason: &'static str) -> Result<(), SignatureError> {
    Err(SignatureError::Malformed {
        header: "x-shopify-hmac-sha256".into(),
        reason,
    })
}

#[test]
fn shopify_app_test_vector_verifies() {
    assert_eq!(check(&[APP_SECRET], APP_HMAC, APP_BODY), Ok(()));
}

#[test]
fn shopify_app_old_secret_vector_verifies_during_rotation() {
    for hmac in [APP_HMAC, APP_OLD_HMAC] {
        assert_eq!(
            check(&[APP_SECRET, APP_OLD_SECRET], hmac, APP_BODY),
            Ok(()),
            "{hmac}"
        );
    }
}

#[test]
fn shopify_signature_from_a_removed_secret_is_a_mismatch() {
    assert_eq!(
        check(&[APP_SECRET], APP_OLD_HMAC, APP_BODY),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn shopify_signature_from_another_secret_is_a_mismatch() {
    assert_eq!(
        check(&[SECRET], &base64_hmac("forger", BODY), BODY),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn shopify_body_changed_by_one_byte_is_a_mismatch() {
    assert_eq!(
        check(&[SECRET], &base64_hmac(SECRET, BODY), &tampered(BODY)),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn shopify_truncated_signature_is_refused() {
    let hmac = base64_hmac(SECRET, BODY);
    // Depending on where the cut falls, the rest is short or ends in a non-canonical symbol;
    // either way it is refused as malformed.
    for cut in [1, 39, 40, 41, 42] {
        assert!(
            matches!(
                check(&[SECRET], &hmac[..cut], BODY),
                Err(SignatureError::Malformed { .. })
            ),
            "cut at {cut}"
        );
    }
}

#[test]
fn shopify_signature_without_padding_verifies() {
    let hmac = base64_hmac(SECRET, BODY);
    assert_eq!(check(&[SECRET], hmac.trim_end_matches('='), BODY), Ok(()));
}

#[test]
fn shopify_hex_signature_is_malformed() {
    // 64 hex digits are valid base64 characters, but decode to 48 bytes.
    assert_eq!(
        check(&[SECRET], &hex_hmac(SECRET, BODY), BODY),
        malformed("signature is not an HMAC-SHA256 (44 base64 characters, 32 bytes)")
    );
}

#[test]
fn shopify_signature_that_is_not_base64_is_malformed() {
    assert_eq!(
        check(&[SECRET], "invalid_hmac", BODY),
        malformed("signature is not base64-encoded")
    );
}

#[test]
fn shopify_missing_header_is_reported() {
    let verifier = verifier(Scheme::Shopify, &[SECRET]);
    let result = verifier.verify(
        &[("X-Shopify-Topic", "orders/create")],
        BODY,
        SystemTime::now(),
    );
    assert_eq!(
        result,
        Err(SignatureError::Missing {
            header: "x-shopify-hmac-sha256".into()
        })
    );
}

#[test]
fn shopify_non_utf8_body_verifies() {
    assert_eq!(
        check(
            &[SECRET],
            &base64_hmac(SECRET, NON_UTF8_BODY),
            NON_UTF8_BODY
        ),
        Ok(())
    );
}
