//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>..`, HMAC-SHA256 of `"{t}.{body}"`.

mod common;

use std::time::Duration;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use common::{NON_UTF8_BODY, at, hmac_sha256, stripe_header, stripe_v1, tampered, verifier};
use switchyard_signatures::{DEFAULT_TOLERANCE, Scheme, SignatureError};

// From stripe/stripe-dotnet, src/StripeTests/Services/Events/EventUtilityTest.cs, with the
// fixture src/StripeTests/Resources/event_test_signature.json (the body includes the file's
// final newline, as the test's `openssl` recipe signs it):
// https://github.com/stripe/stripe-dotnet/blob/master/src/StripeTests/Services/Events/EventUtilityTest.cs
const DOTNET_SECRET: &str = "webhook_secret";
const DOTNET_T: i64 = 1_533_204_620;
const DOTNET_HEADER: &str = "t=1533204620,\
    v1=2220f87ef101a04665f11cdf770523143f875572008577fa0f20882ddb9cc3c7,\
    v0=63f3a72374a733066c4be69ed7f8e5ac85c22c9f0a6a612ab9a025a9e4ee7eef";
const DOTNET_BODY: &str = r#"{
  "id": "evt_123",
  "object": "event",
  "account": "acct_123",
  "api_version": "2017-05-25",
  "created": 1533204620,
  "data": {
    "object": {
      "id": "cus_123",
      "object": "customer",
      "created": 123456789,
      "email": "test@stripe.com",
      "livemode": false,
      "metadata": {}
    }
  },
  "livemode": false,
  "pending_webhooks": 1,
  "request": {
    "id": "req_123",
    "idempotency_key": "idempotency-key-123"
  },
  "type": "customer.created"
}
"#;

const SECRET: &str = "whsec_test_secret";
const T: i64 = 1_700_000_000;
const BODY: &[u8] = br#"{"id":"evt_test_webhook","object":"event"}"#;

fn stripe() -> Scheme {
    Scheme::Stripe {
        tolerance: DEFAULT_TOLERANCE,
    }
}

fn check(secrets: &[&str], header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    verifier(stripe(), secrets).verify(&[("Stripe-Signature", header)], body, at(now))
}

fn malformed(reason: &'static str) -> Result<(), SignatureError> {
    Err(SignatureError::Malformed {
        header: "stripe-signature".into(),
        reason,
    })
}

#[test]
fn stripe_dotnet_test_vector_verifies() {
    assert_eq!(
        check(
            &[DOTNET_SECRET],
            DOTNET_HEADER,
            DOTNET_BODY.as_bytes(),
            DOTNET_T + 100
        ),
        Ok(())
    );
}

#[test]
fn stripe_dotnet_test_vector_past_tolerance_is_expired() {
    // The same test's RejectOutdatedTimestamp: tolerance 300, received 400 s later.
    assert_eq!(
        check(
            &[DOTNET_SECRET],
            DOTNET_HEADER,
            DOTNET_BODY.as_bytes(),
            DOTNET_T + 400
        ),
        Err(SignatureError::Expired {
            age_secs: 400,
            tolerance_secs: 300
        })
    );
}

#[test]
fn stripe_dotnet_test_vector_with_changed_body_is_a_mismatch() {
    let body = format!("{DOTNET_BODY}this_changes_the_json");
    assert_eq!(
        check(&[DOTNET_SECRET], DOTNET_HEADER, body.as_bytes(), DOTNET_T),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn stripe_upper_case_hex_verifies() {
    let header = format!(
        "t={T},v1={}",
        stripe_v1(SECRET, T, BODY).to_ascii_uppercase()
    );
    assert_eq!(check(&[SECRET], &header, BODY, T), Ok(()));
}

#[test]
fn stripe_signature_from_another_secret_is_a_mismatch() {
    let header = stripe_header("whsec_forged", T, BODY);
    assert_eq!(
        check(&[SECRET], &header, BODY, T),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn stripe_body_changed_by_one_byte_is_a_mismatch() {
    let header = stripe_header(SECRET, T, BODY);
    assert_eq!(
        check(&[SECRET], &header, &tampered(BODY), T),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn stripe_changed_timestamp_is_a_mismatch() {
    // `t` is signed: moving it, even within tolerance, breaks the signature.
    let header = format!("t={},v1={}", T + 1, stripe_v1(SECRET, T, BODY));
    assert_eq!(
        check(&[SECRET], &header, BODY, T),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn stripe_truncated_signature_is_refused() {
    let header = stripe_header(SECRET, T, BODY);
    assert_eq!(
        check(&[SECRET], &header[..header.len() - 2], BODY, T),
        malformed("no `v1=` signature is an HMAC-SHA256 in hex (64 hex digits)")
    );
}

#[test]
fn stripe_base64_signature_is_malformed() {
    let v1 = STANDARD.encode(hmac_sha256(
        SECRET.as_bytes(),
        &[T.to_string().as_bytes(), b".", BODY],
    ));
    assert_eq!(
        check(&[SECRET], &format!("t={T},v1={v1}"), BODY, T),
        malformed("no `v1=` signature is an HMAC-SHA256 in hex (64 hex digits)")
    );
}

#[test]
fn stripe_missing_header_is_reported() {
    let result =
        verifier(stripe(), &[SECRET]).verify(&[("Content-Type", "application/json")], BODY, at(T));
    assert_eq!(
        result,
        Err(SignatureError::Missing {
            header: "stripe-signature".into()
        })
    );
}

#[test]
fn stripe_empty_header_is_reported_as_missing() {
    assert_eq!(
        check(&[SECRET], "", BODY, T),
        Err(SignatureError::Missing {
            header: "stripe-signature".into()
        })
    );
}

#[test]
fn stripe_header_without_a_timestamp_is_malformed() {
    let header = format!("v1={}", stripe_v1(SECRET, T, BODY));
    assert_eq!(
        check(&[SECRET], &header, BODY, T),
        malformed("no `t=` timestamp; expected `t=<unix seconds>,v1=<hex>`")
    );
    assert!(matches!(
        check(&[SECRET], "I'm not even a real signature header", BODY, T),
        Err(SignatureError::Malformed { .. })
    ));
}

#[test]
fn stripe_non_numeric_timestamp_is_malformed() {
    for t in ["soon", "", "-1", "1.5", "0x10"] {
        let header = format!("t={t},v1={}", stripe_v1(SECRET, T, BODY));
        assert_eq!(
            check(&[SECRET], &header, BODY, T),
            malformed("`t=` is not a unix time in whole seconds"),
            "t={t}"
        );
    }
}

#[test]
fn stripe_header_with_only_v0_signatures_is_malformed() {
    let header = format!("t={T},v0={}", stripe_v1(SECRET, T, BODY));
    assert_eq!(
        check(&[SECRET], &header, BODY, T),
        malformed("no `v1=` signature; expected `t=<unix seconds>,v1=<hex>`")
    );
}

#[test]
fn stripe_signature_older_than_tolerance_is_expired() {
    let header = stripe_header(SECRET, T, BODY);
    assert_eq!(
        check(&[SECRET], &header, BODY, T + 301),
        Err(SignatureError::Expired {
            age_secs: 301,
            tolerance_secs: 300
        })
    );
}

#[test]
fn stripe_signature_further_ahead_than_tolerance_is_from_the_future() {
    let header = stripe_header(SECRET, T, BODY);
    assert_eq!(
        check(&[SECRET], &header, BODY, T - 301),
        Err(SignatureError::FromTheFuture {
            ahead_secs: 301,
            tolerance_secs: 300
        })
    );
}

#[test]
fn stripe_signature_within_tolerance_either_side_verifies() {
    let header = stripe_header(SECRET, T, BODY);
    for now in [T - 300, T - 1, T, T + 1, T + 300] {
        assert_eq!(check(&[SECRET], &header, BODY, now), Ok(()), "now = {now}");
    }
}

#[test]
fn stripe_configured_tolerance_is_used() {
    let verifier = verifier(
        Scheme::Stripe {
            tolerance: Duration::from_secs(10),
        },
        &[SECRET],
    );
    let header = stripe_header(SECRET, T, BODY);
    let headers = [("stripe-signature", header.as_str())];
    assert_eq!(verifier.verify(&headers, BODY, at(T + 10)), Ok(()));
    assert_eq!(
        verifier.verify(&headers, BODY, at(T + 15)),
        Err(SignatureError::Expired {
            age_secs: 15,
            tolerance_secs: 10
        })
    );
}

#[test]
fn stripe_any_v1_signature_may_match() {
    let good = stripe_v1(SECRET, T, BODY);
    let other = stripe_v1("whsec_other", T, BODY);
    for header in [
        format!("t={T},v1={other},v1={good}"),
        format!("t={T},v1={good},v1=potato"),
        format!("t={T},v1=potato,v0={other},v1={good}"),
        format!("t={T}, v1={good}, scheme=ignored"),
    ] {
        assert_eq!(check(&[SECRET], &header, BODY, T), Ok(()), "{header}");
    }
}

#[test]
fn stripe_endpoint_secret_roll_sends_both_signatures() {
    // While Stripe rolls an endpoint secret it signs with both; either secret alone verifies.
    let header = format!(
        "t={T},v1={},v1={}",
        stripe_v1("whsec_old", T, BODY),
        stripe_v1("whsec_new", T, BODY)
    );
    for secret in ["whsec_old", "whsec_new"] {
        assert_eq!(check(&[secret], &header, BODY, T), Ok(()), "{secret}");
    }
}

#[test]
fn stripe_either_of_two_rotated_secrets_verifies() {
    for signer in ["whsec_old", "whsec_new"] {
        let header = stripe_header(signer, T, BODY);
        assert_eq!(
            check(&["whsec_old", "whsec_new"], &header, BODY, T),
            Ok(()),
            "{signer}"
        );
    }
}

#[test]
fn stripe_signature_from_a_removed_secret_is_a_mismatch() {
    let header = stripe_header("whsec_old", T, BODY);
    assert_eq!(
        check(&["whsec_new"], &header, BODY, T),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn stripe_non_utf8_body_verifies() {
    let header = stripe_header(SECRET, T, NON_UTF8_BODY);
    assert_eq!(check(&[SECRET], &header, NON_UTF8_BODY, T), Ok(()));
}
