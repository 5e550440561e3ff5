//! What every scheme shares: configuration errors, and secrets kept out of output.

mod common;

use std::time::SystemTime;

use common::{hex_hmac, verifier};
use secrecy::SecretString;
use switchyard_signatures::{
    DEFAULT_TOLERANCE, Encoding, KeyError, Scheme, SignatureError, Verifier,
};

const SECRET: &str = "a-very-secret-value";

fn all_schemes() -> Vec<Scheme> {
    vec![
        Scheme::Razorpay,
        Scheme::Stripe {
            tolerance: DEFAULT_TOLERANCE,
        },
        Scheme::Github,
        Scheme::Shopify,
        Scheme::StandardWebhooks {
            tolerance: DEFAULT_TOLERANCE,
        },
        Scheme::Hmac {
            header: "X-Signature".to_owned(),
            encoding: Encoding::Hex,
            prefix: String::new(),
        },
    ]
}

#[test]
fn verifier_without_secrets_is_refused() {
    for scheme in all_schemes() {
        assert_eq!(Verifier::new(scheme, &[]).err(), Some(KeyError::NoSecrets));
    }
}

#[test]
fn empty_secret_is_refused_by_index() {
    for scheme in all_schemes() {
        let secrets = [SecretString::from("whsec_c2VjcmV0"), SecretString::from("")];
        assert_eq!(
            Verifier::new(scheme.clone(), &secrets).err(),
            Some(KeyError::Empty { index: 1 }),
            "{scheme:?}"
        );
    }
}

#[test]
fn debug_output_shows_the_scheme_and_secret_count_but_no_secret() {
    let secret = "whsec_c2VjcmV0X2tleV9ieXRlcw==";
    let verifier = verifier(Scheme::Razorpay, &[secret, "second-secret"]);
    let debug = format!("{verifier:?}");
    assert_eq!(debug, "Verifier { scheme: Razorpay, secrets: 2 }");
}

#[test]
fn key_errors_name_the_secret_by_index_not_value() {
    let secret = "whsec_!!not-base64!!";
    let error = Verifier::new(
        Scheme::StandardWebhooks {
            tolerance: DEFAULT_TOLERANCE,
        },
        &[SecretString::from(secret)],
    )
    .unwrap_err();
    let message = error.to_string();
    assert_eq!(
        message,
        "secret at index 0 is not `whsec_` followed by base64"
    );
    assert!(!message.contains("!!not-base64!!"));
}

#[test]
fn mismatch_message_never_reveals_the_expected_signature() {
    let body = b"payload";
    let expected = hex_hmac(SECRET, body);
    let error = verifier(Scheme::Razorpay, &[SECRET])
        .verify(
            &[("x-razorpay-signature", hex_hmac("forger", body))],
            body,
            SystemTime::now(),
        )
        .unwrap_err();
    assert_eq!(error, SignatureError::Mismatch);
    let message = error.to_string();
    assert!(!message.contains(&expected));
    assert!(!message.contains(SECRET));
}

#[test]
fn error_messages_tell_the_sender_what_to_fix() {
    let cases = [
        (
            SignatureError::Missing {
                header: "stripe-signature".into(),
            },
            "missing `stripe-signature` header: sign the request and send the signature in it",
        ),
        (
            SignatureError::Malformed {
                header: "webhook-timestamp".into(),
                reason: "timestamp is not a unix time in whole seconds",
            },
            "malformed `webhook-timestamp` header: timestamp is not a unix time in whole seconds",
        ),
        (
            SignatureError::Expired {
                age_secs: 400,
                tolerance_secs: 300,
            },
            "signature timestamp is 400 s old, more than the 300 s allowed: sign each delivery \
             when it is sent, and check the sender's clock",
        ),
        (
            SignatureError::FromTheFuture {
                ahead_secs: 400,
                tolerance_secs: 300,
            },
            "signature timestamp is 400 s in the future, more than the 300 s allowed: check the \
             sender's clock",
        ),
    ];
    for (error, message) in cases {
        assert_eq!(error.to_string(), message);
    }
}

#[test]
fn scheme_is_returned_as_configured() {
    for scheme in all_schemes() {
        let secret = SecretString::from("whsec_c2VjcmV0");
        let verifier = Verifier::new(scheme.clone(), &[secret]).unwrap();
        assert_eq!(verifier.scheme(), &scheme);
    }
}

#[test]
fn cloned_verifier_verifies_the_same() {
    let body = b"payload";
    let original = verifier(Scheme::Razorpay, &[SECRET]);
    let copy = original.clone();
    drop(original);
    let headers = [("x-razorpay-signature", hex_hmac(SECRET, body))];
    assert_eq!(copy.verify(&headers, body, SystemTime::now()), Ok(()));
}
