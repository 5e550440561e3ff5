//! The configurable `hmac` scheme: a named header holding an optional prefix and the hex or
//! base64 HMAC-SHA256 of the raw body.

mod common;

use std::time::SystemTime;

use common::{NON_UTF8_BODY, base64_hmac, hex_hmac, tampered, verifier};
use secrecy::SecretString;
use switchyard_signatures::{Encoding, KeyError, Scheme, SignatureError, Verifier};

const SECRET: &str = "generic-shared-secret";
const BODY: &[u8] = br#"{"event":"shipment.delivered","id":42}"#;

fn scheme(header: &str, encoding: Encoding, prefix: &str) -> Scheme {
    Scheme::Hmac {
        header: header.to_owned(),
        encoding,
        prefix: prefix.to_owned(),
    }
}

fn check(
    scheme: Scheme,
    secrets: &[&str],
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(), SignatureError> {
    verifier(scheme, secrets).verify(headers, body, SystemTime::now())
}

fn malformed(reason: &'static str) -> Result<(), SignatureError> {
    Err(SignatureError::Malformed {
        header: "x-signature".into(),
        reason,
    })
}

#[test]
fn hex_signature_without_prefix_verifies() {
    let scheme = scheme("X-Signature", Encoding::Hex, "");
    let value = hex_hmac(SECRET, BODY);
    assert_eq!(
        check(scheme, &[SECRET], &[("X-Signature", &value)], BODY),
        Ok(())
    );
}

#[test]
fn hex_signature_with_prefix_verifies() {
    let scheme = scheme("X-Signature", Encoding::Hex, "sha256=");
    let value = format!("sha256={}", hex_hmac(SECRET, BODY));
    assert_eq!(
        check(scheme, &[SECRET], &[("X-Signature", &value)], BODY),
        Ok(())
    );
}

#[test]
fn base64_signature_without_prefix_verifies() {
    let scheme = scheme("X-Signature", Encoding::Base64, "");
    let value = base64_hmac(SECRET, BODY);
    assert_eq!(
        check(scheme, &[SECRET], &[("X-Signature", &value)], BODY),
        Ok(())
    );
}

#[test]
fn base64_signature_with_prefix_verifies() {
    let scheme = scheme("X-Signature", Encoding::Base64, "v1=");
    let value = format!("v1={}", base64_hmac(SECRET, BODY));
    assert_eq!(
        check(scheme, &[SECRET], &[("X-Signature", &value)], BODY),
        Ok(())
    );
}

#[test]
fn header_name_is_matched_ignoring_case() {
    let value = hex_hmac(SECRET, BODY);
    for (configured, sent) in [
        ("X-Signature", "x-signature"),
        ("x-signature", "X-SIGNATURE"),
        ("X-SiGnAtUrE", "x-SignaturE"),
    ] {
        let scheme = scheme(configured, Encoding::Hex, "");
        assert_eq!(
            check(scheme, &[SECRET], &[(sent, &value)], BODY),
            Ok(()),
            "{configured} / {sent}"
        );
    }
}

#[test]
fn missing_header_is_reported_by_its_lower_case_name() {
    let scheme = scheme("X-Signature", Encoding::Hex, "");
    assert_eq!(
        check(scheme, &[SECRET], &[("X-Other", "00")], BODY),
        Err(SignatureError::Missing {
            header: "x-signature".into()
        })
    );
}

#[test]
fn signature_without_the_configured_prefix_is_malformed() {
    let scheme = scheme("X-Signature", Encoding::Hex, "sha256=");
    let value = hex_hmac(SECRET, BODY);
    assert_eq!(
        check(scheme, &[SECRET], &[("X-Signature", &value)], BODY),
        malformed("signature lacks the expected prefix")
    );
}

#[test]
fn signature_from_another_secret_is_a_mismatch() {
    for encoding in [Encoding::Hex, Encoding::Base64] {
        let value = match encoding {
            Encoding::Hex => hex_hmac("forger", BODY),
            Encoding::Base64 => base64_hmac("forger", BODY),
        };
        assert_eq!(
            check(
                scheme("X-Signature", encoding, ""),
                &[SECRET],
                &[("X-Signature", &value)],
                BODY
            ),
            Err(SignatureError::Mismatch)
        );
    }
}

#[test]
fn body_changed_by_one_byte_is_a_mismatch() {
    let value = hex_hmac(SECRET, BODY);
    assert_eq!(
        check(
            scheme("X-Signature", Encoding::Hex, ""),
            &[SECRET],
            &[("X-Signature", &value)],
            &tampered(BODY)
        ),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn truncated_signature_is_refused() {
    let hex = hex_hmac(SECRET, BODY);
    let base64 = base64_hmac(SECRET, BODY);
    let cases = [
        (Encoding::Hex, &hex[..hex.len() - 2]),
        (Encoding::Base64, &base64[..base64.len() - 4]),
    ];
    for (encoding, value) in cases {
        assert!(
            matches!(
                check(
                    scheme("X-Signature", encoding, ""),
                    &[SECRET],
                    &[("X-Signature", value)],
                    BODY
                ),
                Err(SignatureError::Malformed { .. })
            ),
            "{encoding:?}"
        );
    }
}

#[test]
fn signature_in_the_other_encoding_is_malformed() {
    let as_base64 = base64_hmac(SECRET, BODY);
    assert_eq!(
        check(
            scheme("X-Signature", Encoding::Hex, ""),
            &[SECRET],
            &[("X-Signature", &as_base64)],
            BODY
        ),
        malformed("signature is not hex-encoded")
    );
    let as_hex = hex_hmac(SECRET, BODY);
    assert_eq!(
        check(
            scheme("X-Signature", Encoding::Base64, ""),
            &[SECRET],
            &[("X-Signature", &as_hex)],
            BODY
        ),
        malformed("signature is not an HMAC-SHA256 (44 base64 characters, 32 bytes)")
    );
}

#[test]
fn either_of_two_rotated_secrets_verifies() {
    for signer in ["old", "new"] {
        let value = hex_hmac(signer, BODY);
        assert_eq!(
            check(
                scheme("X-Signature", Encoding::Hex, ""),
                &["old", "new"],
                &[("X-Signature", &value)],
                BODY
            ),
            Ok(())
        );
    }
}

#[test]
fn signature_from_a_removed_secret_is_a_mismatch() {
    let value = hex_hmac("old", BODY);
    assert_eq!(
        check(
            scheme("X-Signature", Encoding::Hex, ""),
            &["new"],
            &[("X-Signature", &value)],
            BODY
        ),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn non_utf8_body_verifies() {
    let value = base64_hmac(SECRET, NON_UTF8_BODY);
    assert_eq!(
        check(
            scheme("X-Signature", Encoding::Base64, ""),
            &[SECRET],
            &[("X-Signature", &value)],
            NON_UTF8_BODY
        ),
        Ok(())
    );
}

#[test]
fn invalid_header_name_is_refused() {
    for header in ["", "X Signature", "x-signature:", "x-sig\u{e9}"] {
        assert_eq!(
            Verifier::new(
                scheme(header, Encoding::Hex, ""),
                &[SecretString::from(SECRET)]
            )
            .err(),
            Some(KeyError::InvalidHeaderName {
                header: header.to_owned()
            })
        );
    }
}
