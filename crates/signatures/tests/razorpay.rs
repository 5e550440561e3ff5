//! Razorpay: `X-Razorpay-Signature`, hex HMAC-SHA256 of the raw body.

mod common;

use std::time::SystemTime;

use common::{NON_UTF8_BODY, base64_hmac, hex_hmac, tampered, verifier};
use switchyard_signatures::{Scheme, SignatureError};

// From razorpay/razorpay-node, test/utils/razorpay-utils.spec.js ("validateWebhookSignature"):
// https://github.com/razorpay/razorpay-node/blob/master/test/utils/razorpay-utils.spec.js
const SDK_BODY: &[u8] = br#"{"a":1,"b":2,"c":{"d":3}}"#;
const SDK_SECRET: &str = "123456";
const SDK_SIGNATURE: &str = "2fe04e22977002e6c7cb553adab8b460cb9e2a4970d5953cb27a8472752e3bbc";

const SECRET: &str = "rzp_webhook_secret";
const BODY: &[u8] =
    br#"{"event":"payment.captured","payload":{"payment":{"entity":{"id":"pay_1"}}}}"#;

fn check(secrets: &[&str], signature: &str, body: &[u8]) -> Result<(), SignatureError> {
    verifier(Scheme::Razorpay, secrets).verify(
        &[("X-Razorpay-Signature", signature)],
        body,
        SystemTime::now(),
    )
}

#[test]
fn razorpay_sdk_test_vector_verifies() {
    assert_eq!(check(&[SDK_SECRET], SDK_SIGNATURE, SDK_BODY), Ok(()));
}

#[test]
fn razorpay_sdk_wrong_signature_is_malformed() {
    // The same SDK test's "wrong signature" is not even hex.
    assert!(matches!(
        check(&[SDK_SECRET], "sdfafds", SDK_BODY),
        Err(SignatureError::Malformed { .. })
    ));
}

#[test]
fn razorpay_upper_case_hex_verifies() {
    assert_eq!(
        check(&[SDK_SECRET], &SDK_SIGNATURE.to_ascii_uppercase(), SDK_BODY),
        Ok(())
    );
}

#[test]
fn razorpay_signature_from_another_secret_is_a_mismatch() {
    let forged = hex_hmac("not-the-secret", BODY);
    assert_eq!(
        check(&[SECRET], &forged, BODY),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn razorpay_body_changed_by_one_byte_is_a_mismatch() {
    let signature = hex_hmac(SECRET, BODY);
    assert_eq!(
        check(&[SECRET], &signature, &tampered(BODY)),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn razorpay_truncated_signature_is_refused() {
    let signature = hex_hmac(SECRET, BODY);
    for cut in [62, 63, 32, 2] {
        assert!(
            matches!(
                check(&[SECRET], &signature[..cut], BODY),
                Err(SignatureError::Malformed { reason, .. }) if reason.contains("64 hex digits")
            ),
            "cut at {cut}"
        );
    }
}

#[test]
fn razorpay_base64_signature_is_malformed() {
    let signature = base64_hmac(SECRET, BODY);
    assert_eq!(
        check(&[SECRET], &signature, BODY),
        Err(SignatureError::Malformed {
            header: "x-razorpay-signature".into(),
            reason: "signature is not hex-encoded",
        })
    );
}

#[test]
fn razorpay_missing_header_is_reported() {
    let verifier = verifier(Scheme::Razorpay, &[SECRET]);
    let result = verifier.verify(&[("X-Razorpay-Event-Id", "evt_1")], BODY, SystemTime::now());
    assert_eq!(
        result,
        Err(SignatureError::Missing {
            header: "x-razorpay-signature".into()
        })
    );
}

#[test]
fn razorpay_either_of_two_rotated_secrets_verifies() {
    for signer in ["old-secret", "new-secret"] {
        let signature = hex_hmac(signer, BODY);
        assert_eq!(
            check(&["old-secret", "new-secret"], &signature, BODY),
            Ok(()),
            "{signer}"
        );
    }
}

#[test]
fn razorpay_signature_from_a_removed_secret_is_a_mismatch() {
    let signature = hex_hmac("old-secret", BODY);
    assert_eq!(
        check(&["new-secret"], &signature, BODY),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn razorpay_non_utf8_body_verifies() {
    let signature = hex_hmac(SECRET, NON_UTF8_BODY);
    assert_eq!(check(&[SECRET], &signature, NON_UTF8_BODY), Ok(()));
}
