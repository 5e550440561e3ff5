//! Properties over random secrets, bodies, ids and timestamps: what a correct sender signs
//! verifies, any single flipped body bit is refused, and no header value makes a verifier panic.

mod common;

use std::time::SystemTime;

use common::{at, base64_hmac, flip_bit, hex_hmac, standard_signature, stripe_header, whsec};
use proptest::{collection::vec, prelude::*, sample::select};
use secrecy::SecretString;
use switchyard_signatures::{DEFAULT_TOLERANCE, Encoding, Scheme, Signer, Verifier};

#[derive(Debug, Clone, Copy)]
enum Kind {
    Razorpay,
    Stripe,
    Github,
    Shopify,
    StandardWebhooks,
    HmacHex,
    HmacBase64,
}

const KINDS: [Kind; 7] = [
    Kind::Razorpay,
    Kind::Stripe,
    Kind::Github,
    Kind::Shopify,
    Kind::StandardWebhooks,
    Kind::HmacHex,
    Kind::HmacBase64,
];

/// Everything a sender of `kind` controls.
#[derive(Debug, Clone)]
struct Sender {
    kind: Kind,
    /// Printable secret for the schemes keyed with text; long enough at times to exceed the
    /// 64-byte HMAC block.
    text_secret: String,
    /// Key bytes for Standard Webhooks.
    key: Vec<u8>,
    id: String,
    timestamp: i64,
}

// A test helper: a panic fails the property, as in a test body.
#[allow(clippy::unwrap_used)]
impl Sender {
    fn secret(&self) -> String {
        match self.kind {
            Kind::StandardWebhooks => whsec(&self.key),
            _ => self.text_secret.clone(),
        }
    }

    fn scheme(&self) -> Scheme {
        match self.kind {
            Kind::Razorpay => Scheme::Razorpay,
            Kind::Stripe => Scheme::Stripe {
                tolerance: DEFAULT_TOLERANCE,
            },
            Kind::Github => Scheme::Github,
            Kind::Shopify => Scheme::Shopify,
            Kind::StandardWebhooks => Scheme::StandardWebhooks {
                tolerance: DEFAULT_TOLERANCE,
            },
            Kind::HmacHex => Scheme::Hmac {
                header: "X-Sig".to_owned(),
                encoding: Encoding::Hex,
                prefix: "hmac-sha256=".to_owned(),
            },
            Kind::HmacBase64 => Scheme::Hmac {
                header: "X-Sig".to_owned(),
                encoding: Encoding::Base64,
                prefix: String::new(),
            },
        }
    }

    fn verifier(&self) -> Verifier {
        Verifier::new(self.scheme(), &[SecretString::from(self.secret())]).unwrap()
    }

    /// The request headers a correct sender attaches to `body`.
    fn headers(&self, body: &[u8]) -> Vec<(String, String)> {
        let secret = self.secret();
        let one = |name: &str, value: String| vec![(name.to_owned(), value)];
        match self.kind {
            Kind::Razorpay => one("X-Razorpay-Signature", hex_hmac(&secret, body)),
            Kind::Stripe => one(
                "Stripe-Signature",
                stripe_header(&secret, self.timestamp, body),
            ),
            Kind::Github => one(
                "X-Hub-Signature-256",
                format!("sha256={}", hex_hmac(&secret, body)),
            ),
            Kind::Shopify => one("X-Shopify-Hmac-Sha256", base64_hmac(&secret, body)),
            Kind::StandardWebhooks => vec![
                ("webhook-id".to_owned(), self.id.clone()),
                ("webhook-timestamp".to_owned(), self.timestamp.to_string()),
                (
                    "webhook-signature".to_owned(),
                    standard_signature(&secret, &self.id, self.timestamp, body),
                ),
            ],
            Kind::HmacHex => one("x-sig", format!("hmac-sha256={}", hex_hmac(&secret, body))),
            Kind::HmacBase64 => one("X-SIG", base64_hmac(&secret, body)),
        }
    }

    /// The names of every header the scheme reads.
    fn header_names(&self) -> &'static [&'static str] {
        match self.kind {
            Kind::Razorpay => &["x-razorpay-signature"],
            Kind::Stripe => &["stripe-signature"],
            Kind::Github => &["x-hub-signature-256"],
            Kind::Shopify => &["x-shopify-hmac-sha256"],
            Kind::StandardWebhooks => &["webhook-id", "webhook-timestamp", "webhook-signature"],
            Kind::HmacHex | Kind::HmacBase64 => &["x-sig"],
        }
    }

    fn now(&self) -> SystemTime {
        at(self.timestamp)
    }
}

fn sender() -> impl Strategy<Value = Sender> {
    (
        select(KINDS.to_vec()),
        "[!-~]{1,100}",
        vec(any::<u8>(), 1..100),
        "msg_[A-Za-z0-9]{1,40}",
        0_i64..=4_102_444_800,
    )
        .prop_map(|(kind, text_secret, key, id, timestamp)| Sender {
            kind,
            text_secret,
            key,
            id,
            timestamp,
        })
}

/// A non-empty body and the index of one of its bits.
fn body_and_bit() -> impl Strategy<Value = (Vec<u8>, usize)> {
    vec(any::<u8>(), 1..512).prop_flat_map(|body| {
        let bits = body.len() * 8;
        (Just(body), 0..bits)
    })
}

/// Random bytes, or text built from the characters signature headers are made of, so that
/// near-valid shapes (`t=..,v1=..`, `v1,..`, digits) come up often.
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..128),
        "[tv01=,a-fA-F0-9+/ ]{0,140}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #[test]
    fn signer_output_verifies_with_the_standard_webhooks_verifier(
        key in vec(any::<u8>(), 1..100),
        id in "[!-~]{1,64}",
        timestamp in 0_i64..=4_102_444_800,
        body in vec(any::<u8>(), 0..1024),
    ) {
        let secret = SecretString::from(whsec(&key));
        let signature = Signer::new(&secret).unwrap().sign(&id, timestamp, &body);
        let verifier = Verifier::new(
            Scheme::StandardWebhooks { tolerance: DEFAULT_TOLERANCE },
            &[secret],
        )
        .unwrap();
        let t = timestamp.to_string();
        let headers = [
            ("webhook-id", id.as_str()),
            ("webhook-timestamp", t.as_str()),
            ("webhook-signature", signature.as_str()),
        ];
        prop_assert_eq!(verifier.verify(&headers, &body, at(timestamp)), Ok(()));
    }

    #[test]
    fn every_scheme_verifies_a_correct_signature_and_refuses_any_flipped_body_bit(
        sender in sender(),
        (body, bit) in body_and_bit(),
    ) {
        let verifier = sender.verifier();
        let headers = sender.headers(&body);
        prop_assert_eq!(verifier.verify(&headers, &body, sender.now()), Ok(()));
        prop_assert!(verifier.verify(&headers, &flip_bit(&body, bit), sender.now()).is_err());
    }

    #[test]
    fn arbitrary_header_values_are_refused_without_panicking(
        sender in sender(),
        values in vec(header_value(), 3),
        body in vec(any::<u8>(), 0..64),
    ) {
        let verifier = sender.verifier();
        let headers: Vec<(&str, &[u8])> = sender
            .header_names()
            .iter()
            .zip(&values)
            .map(|(name, value)| (*name, value.as_slice()))
            .collect();
        prop_assert!(verifier.verify(&headers, &body, sender.now()).is_err());
    }
}
