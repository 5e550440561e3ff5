//! Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> ..`,
//! HMAC-SHA256 of `"{id}.{timestamp}.{body}"` keyed with the base64 bytes after `whsec_`.

mod common;

use common::{NON_UTF8_BODY, at, standard_signature, standard_tag, tampered, verifier, whsec};
use secrecy::SecretString;
use switchyard_signatures::{
    DEFAULT_TOLERANCE, KeyError, Scheme, SignatureError, Signer, Verifier,
};

// From standard-webhooks/standard-webhooks, libraries/javascript/src/webhook.test.ts
// ("sign function works"); the same vector is in the Go, Python, PHP and Rust libraries' tests:
// https://github.com/standard-webhooks/standard-webhooks/blob/main/libraries/javascript/src/webhook.test.ts
const REF_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const REF_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const REF_TIMESTAMP: i64 = 1_614_265_330;
const REF_BODY: &[u8] = br#"{"test": 2432232314}"#;
const REF_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

const ID: &str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";
const T: i64 = 1_700_000_000;
const BODY: &[u8] = br#"{"type":"invoice.paid","data":{"id":"in_1"}}"#;

fn secret_a() -> String {
    whsec(b"first test key, 32 bytes long...")
}

fn secret_b() -> String {
    whsec(b"second test key")
}

fn standard() -> Scheme {
    Scheme::StandardWebhooks {
        tolerance: DEFAULT_TOLERANCE,
    }
}

fn headers<'a>(id: &'a str, timestamp: &'a str, signature: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("webhook-id", id),
        ("webhook-timestamp", timestamp),
        ("webhook-signature", signature),
    ]
}

fn check(secrets: &[&str], signature: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    verifier(standard(), secrets).verify(&headers(ID, &T.to_string(), signature), body, at(now))
}

fn malformed(header: &'static str, reason: &'static str) -> Result<(), SignatureError> {
    Err(SignatureError::Malformed {
        header: header.into(),
        reason,
    })
}

#[test]
fn standard_webhooks_reference_vector_verifies() {
    let result = verifier(standard(), &[REF_SECRET]).verify(
        &headers(REF_ID, &REF_TIMESTAMP.to_string(), REF_SIGNATURE),
        REF_BODY,
        at(REF_TIMESTAMP),
    );
    assert_eq!(result, Ok(()));
}

#[test]
fn signer_reproduces_the_reference_vector() {
    let signer = Signer::new(&SecretString::from(REF_SECRET)).unwrap();
    assert_eq!(signer.sign(REF_ID, REF_TIMESTAMP, REF_BODY), REF_SIGNATURE);
}

#[test]
fn secret_without_the_whsec_prefix_is_accepted() {
    let bare = &REF_SECRET["whsec_".len()..];
    let result = verifier(standard(), &[bare]).verify(
        &headers(REF_ID, &REF_TIMESTAMP.to_string(), REF_SIGNATURE),
        REF_BODY,
        at(REF_TIMESTAMP),
    );
    assert_eq!(result, Ok(()));
    let signer = Signer::new(&SecretString::from(bare)).unwrap();
    assert_eq!(signer.sign(REF_ID, REF_TIMESTAMP, REF_BODY), REF_SIGNATURE);
}

#[test]
fn signer_output_verifies() {
    let signer = Signer::new(&SecretString::from(secret_a())).unwrap();
    let signature = signer.sign(ID, T, BODY);
    assert_eq!(check(&[&secret_a()], &signature, BODY, T), Ok(()));
}

#[test]
fn any_v1_entry_may_match_and_other_versions_are_ignored() {
    // Modelled on the reference libraries' "multi sig payload is valid" test.
    let good = standard_signature(&secret_a(), ID, T, BODY);
    let other = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
    let list = format!("{other} v2,{} v1a,c2lnbmVk {good} v1,bm9wZQ==", &good[3..]);
    assert_eq!(check(&[&secret_a()], &list, BODY, T), Ok(()));
}

#[test]
fn a_matching_signature_under_another_version_does_not_count() {
    let good = standard_signature(&secret_a(), ID, T, BODY);
    let relabelled = format!("v1a,{}", &good[3..]);
    assert_eq!(
        check(&[&secret_a()], &relabelled, BODY, T),
        malformed(
            "webhook-signature",
            "no `v1,<base64>` signature in the space-separated list"
        )
    );
}

#[test]
fn signature_from_another_secret_is_a_mismatch() {
    let forged = standard_signature(&secret_b(), ID, T, BODY);
    assert_eq!(
        check(&[&secret_a()], &forged, BODY, T),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn body_changed_by_one_byte_is_a_mismatch() {
    let signature = standard_signature(&secret_a(), ID, T, BODY);
    assert_eq!(
        check(&[&secret_a()], &signature, &tampered(BODY), T),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn changed_message_id_or_timestamp_is_a_mismatch() {
    let signature = standard_signature(&secret_a(), ID, T, BODY);
    let verifier = verifier(standard(), &[&secret_a()]);
    let other_id = verifier.verify(
        &headers("msg_other", &T.to_string(), &signature),
        BODY,
        at(T),
    );
    let other_time = verifier.verify(&headers(ID, &(T + 1).to_string(), &signature), BODY, at(T));
    assert_eq!(other_id, Err(SignatureError::Mismatch));
    assert_eq!(other_time, Err(SignatureError::Mismatch));
}

#[test]
fn truncated_signature_is_refused() {
    let signature = standard_signature(&secret_a(), ID, T, BODY);
    // The reference libraries' "partial signature" cases: the first 8 characters, and `v1,`.
    for partial in [&signature[..8], "v1,", &signature[..signature.len() - 4]] {
        assert!(
            matches!(
                check(&[&secret_a()], partial, BODY, T),
                Err(SignatureError::Malformed { .. })
            ),
            "{partial}"
        );
    }
}

#[test]
fn hex_signature_is_malformed() {
    let signature = format!("v1,{}", hex::encode(standard_tag(&secret_a(), ID, T, BODY)));
    assert_eq!(
        check(&[&secret_a()], &signature, BODY, T),
        malformed(
            "webhook-signature",
            "no `v1` signature is an HMAC-SHA256 in base64 (32 bytes)"
        )
    );
}

#[test]
fn each_missing_header_is_reported() {
    let signature = standard_signature(&secret_a(), ID, T, BODY);
    let t = T.to_string();
    let all = headers(ID, &t, &signature);
    let verifier = verifier(standard(), &[&secret_a()]);
    for absent in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let rest: Vec<_> = all
            .iter()
            .filter(|(name, _)| *name != absent)
            .copied()
            .collect();
        assert_eq!(
            verifier.verify(&rest, BODY, at(T)),
            Err(SignatureError::Missing {
                header: absent.into()
            })
        );
    }
}

#[test]
fn header_names_are_matched_ignoring_case() {
    let signature = standard_signature(&secret_a(), ID, T, BODY);
    let t = T.to_string();
    let headers = [
        ("Webhook-Id", ID),
        ("WEBHOOK-TIMESTAMP", t.as_str()),
        ("Webhook-Signature", signature.as_str()),
    ];
    assert_eq!(
        verifier(standard(), &[&secret_a()]).verify(&headers, BODY, at(T)),
        Ok(())
    );
}

#[test]
fn non_numeric_timestamp_is_malformed() {
    let signature = standard_signature(&secret_a(), ID, T, BODY);
    let verifier = verifier(standard(), &[&secret_a()]);
    for timestamp in ["hello", "-1", "1614265330.5", "2024-01-01T00:00:00Z"] {
        assert_eq!(
            verifier.verify(&headers(ID, timestamp, &signature), BODY, at(T)),
            malformed(
                "webhook-timestamp",
                "timestamp is not a unix time in whole seconds"
            ),
            "{timestamp}"
        );
    }
}

#[test]
fn signature_older_than_tolerance_is_expired() {
    let signature = standard_signature(&secret_a(), ID, T, BODY);
    assert_eq!(
        check(&[&secret_a()], &signature, BODY, T + 301),
        Err(SignatureError::Expired {
            age_secs: 301,
            tolerance_secs: 300
        })
    );
}

#[test]
fn signature_further_ahead_than_tolerance_is_from_the_future() {
    let signature = standard_signature(&secret_a(), ID, T, BODY);
    assert_eq!(
        check(&[&secret_a()], &signature, BODY, T - 301),
        Err(SignatureError::FromTheFuture {
            ahead_secs: 301,
            tolerance_secs: 300
        })
    );
}

#[test]
fn signature_within_tolerance_either_side_verifies() {
    let signature = standard_signature(&secret_a(), ID, T, BODY);
    for now in [T - 300, T - 1, T, T + 1, T + 300] {
        assert_eq!(
            check(&[&secret_a()], &signature, BODY, now),
            Ok(()),
            "now = {now}"
        );
    }
}

#[test]
fn either_of_two_rotated_secrets_verifies() {
    for signer in [secret_a(), secret_b()] {
        let signature = standard_signature(&signer, ID, T, BODY);
        assert_eq!(
            check(&[&secret_a(), &secret_b()], &signature, BODY, T),
            Ok(())
        );
    }
}

#[test]
fn signature_from_a_removed_secret_is_a_mismatch() {
    let signature = standard_signature(&secret_a(), ID, T, BODY);
    assert_eq!(
        check(&[&secret_b()], &signature, BODY, T),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn non_utf8_body_verifies() {
    let signature = standard_signature(&secret_a(), ID, T, NON_UTF8_BODY);
    assert_eq!(check(&[&secret_a()], &signature, NON_UTF8_BODY, T), Ok(()));
}

#[test]
fn secret_that_is_not_base64_is_refused_by_index() {
    let secrets = [
        SecretString::from(secret_a()),
        SecretString::from("whsec_not base64!"),
    ];
    assert_eq!(
        Verifier::new(standard(), &secrets).err(),
        Some(KeyError::NotBase64 { index: 1 })
    );
    assert_eq!(
        Signer::new(&SecretString::from("whsec_%%%")).err(),
        Some(KeyError::NotBase64 { index: 0 })
    );
}

#[test]
fn signer_debug_output_hides_the_key() {
    let signer = Signer::new(&SecretString::from(REF_SECRET)).unwrap();
    let debug = format!("{signer:?}");
    assert_eq!(debug, "Signer { .. }");
}
