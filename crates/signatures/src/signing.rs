//! Signing a request the way each provider does, the inverse of [`crate::Verifier`]: what the
//! `switchyard send` command and `switchyard dev`'s ready-to-paste `curl` use to post a test
//! webhook that ingest accepts. The tests prove the round trip through the verifier for every
//! scheme.

use std::time::SystemTime;

use base64::Engine as _;
use secrecy::SecretString;

use crate::{
    Encoding, KeyError, Scheme,
    mac::{self, BASE64, HmacKey},
    standard_webhooks::Signer,
    timestamp,
};

/// The headers that sign `body` for `scheme` with `secret`, sent at `now`. `delivery_id`
/// becomes the provider's delivery id where the scheme carries one (Standard Webhooks'
/// `webhook-id`); the other providers send it in their own id headers, which are not signed
/// (e.g. `x-razorpay-event-id`) and are the caller's to add.
///
/// # Errors
/// An empty secret, or a Standard Webhooks secret that is not base64 after `whsec_`.
pub fn sign_request(
    scheme: &Scheme,
    secret: &SecretString,
    body: &[u8],
    now: SystemTime,
    delivery_id: &str,
) -> Result<Vec<(String, String)>, KeyError> {
    use secrecy::ExposeSecret as _;
    let raw = || {
        let bytes = secret.expose_secret().as_bytes();
        if bytes.is_empty() {
            Err(KeyError::Empty { index: 0 })
        } else {
            Ok(HmacKey::new(bytes))
        }
    };
    let unix = timestamp::unix_seconds(now);
    let header = |name: &str, value: String| (name.to_owned(), value);
    Ok(match scheme {
        Scheme::Razorpay => vec![header(
            "x-razorpay-signature",
            hex::encode(mac::tag_of(&raw()?, &[body])),
        )],
        Scheme::Github => vec![header(
            "x-hub-signature-256",
            format!("sha256={}", hex::encode(mac::tag_of(&raw()?, &[body]))),
        )],
        Scheme::Shopify => vec![header(
            "x-shopify-hmac-sha256",
            BASE64.encode(mac::tag_of(&raw()?, &[body])),
        )],
        Scheme::Stripe { .. } => {
            let t = unix.to_string();
            let tag = mac::tag_of(&raw()?, &[t.as_bytes(), b".", body]);
            vec![header(
                "stripe-signature",
                format!("t={t},v1={}", hex::encode(tag)),
            )]
        }
        Scheme::StandardWebhooks { .. } => {
            let signature = Signer::new(secret)?.sign(delivery_id, unix, body);
            vec![
                header("webhook-id", delivery_id.to_owned()),
                header("webhook-timestamp", unix.to_string()),
                header("webhook-signature", signature),
            ]
        }
        Scheme::Hmac {
            header: name,
            encoding,
            prefix,
        } => {
            let tag = mac::tag_of(&raw()?, &[body]);
            let encoded = match encoding {
                Encoding::Hex => hex::encode(tag),
                Encoding::Base64 => BASE64.encode(tag),
            };
            vec![header(
                &name.to_ascii_lowercase(),
                format!("{prefix}{encoded}"),
            )]
        }
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{DEFAULT_TOLERANCE, SignatureError, Verifier};

    fn schemes() -> Vec<(Scheme, &'static str)> {
        vec![
            (Scheme::Razorpay, "rzp secret"),
            (Scheme::Github, "gh secret"),
            (Scheme::Shopify, "shop secret"),
            (
                Scheme::Stripe {
                    tolerance: DEFAULT_TOLERANCE,
                },
                "whsec_stripe",
            ),
            (
                Scheme::StandardWebhooks {
                    tolerance: DEFAULT_TOLERANCE,
                },
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ),
            (
                Scheme::Hmac {
                    header: "X-Signature".into(),
                    encoding: Encoding::Base64,
                    prefix: "sha256=".into(),
                },
                "generic secret",
            ),
        ]
    }

    #[test]
    fn every_scheme_signs_what_its_verifier_accepts_and_nothing_else() {
        let now = SystemTime::now();
        let body = br#"{"event":"payment.captured"}"#;
        for (scheme, secret) in schemes() {
            let secret = SecretString::from(secret);
            let headers = sign_request(&scheme, &secret, body, now, "msg_1").unwrap();
            let verifier = Verifier::new(scheme.clone(), std::slice::from_ref(&secret)).unwrap();
            assert_eq!(verifier.verify(&headers, body, now), Ok(()), "{scheme:?}");
            assert_eq!(
                verifier.verify(&headers, b"{}", now),
                Err(SignatureError::Mismatch),
                "{scheme:?}: another body"
            );
            let other =
                Verifier::new(scheme.clone(), &[SecretString::from("whsec_b3RoZXI=")]).unwrap();
            assert!(
                other.verify(&headers, body, now).is_err(),
                "{scheme:?}: another secret"
            );
        }
    }

    #[test]
    fn timestamped_schemes_sign_the_time_given() {
        let then = SystemTime::now() - Duration::from_secs(3_600);
        for (scheme, secret) in schemes() {
            let secret = SecretString::from(secret);
            let headers = sign_request(&scheme, &secret, b"{}", then, "msg_1").unwrap();
            let verifier = Verifier::new(scheme.clone(), &[secret]).unwrap();
            let stale = verifier.verify(&headers, b"{}", SystemTime::now());
            match scheme {
                Scheme::Stripe { .. } | Scheme::StandardWebhooks { .. } => {
                    assert!(
                        stale.is_err(),
                        "{scheme:?} signed an hour ago must be stale"
                    );
                }
                _ => assert_eq!(stale, Ok(()), "{scheme:?} signs no time"),
            }
        }
    }

    #[test]
    fn an_unusable_secret_is_refused() {
        let empty = SecretString::from("");
        assert!(sign_request(&Scheme::Razorpay, &empty, b"{}", SystemTime::now(), "m").is_err());
        let not_base64 = SecretString::from("whsec_***");
        let standard = Scheme::StandardWebhooks {
            tolerance: DEFAULT_TOLERANCE,
        };
        assert!(sign_request(&standard, &not_base64, b"{}", SystemTime::now(), "m").is_err());
    }
}
