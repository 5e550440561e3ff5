//! [`Verifier`]: a scheme with its active secrets.

use std::{
    fmt,
    time::{Duration, SystemTime},
};

use secrecy::{ExposeSecret, SecretString};

use crate::{
    HeaderLookup, KeyError, Scheme, SignatureError, generic_hmac::BodySignature, github,
    mac::HmacKey, razorpay, shopify, standard_webhooks, stripe,
};

/// A scheme with its active secrets. Several secrets allow rotation: any one may match.
///
/// Build one per source when its configuration loads, and share it; verifying takes `&self`.
///
/// ```
/// use std::time::SystemTime;
///
/// use secrecy::SecretString;
/// use switchyard_signatures::{Scheme, SignatureError, Verifier};
///
/// // The example from GitHub's "Validating webhook deliveries" guide.
/// let verifier = Verifier::new(Scheme::Github, &[SecretString::from("It's a Secret to Everybody")])?;
/// let headers = [(
///     "X-Hub-Signature-256",
///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
/// )];
/// assert_eq!(verifier.verify(&headers, b"Hello, World!", SystemTime::now()), Ok(()));
/// assert_eq!(
///     verifier.verify(&headers, b"Hello, World?", SystemTime::now()),
///     Err(SignatureError::Mismatch)
/// );
/// # Ok::<(), switchyard_signatures::KeyError>(())
/// ```
#[derive(Clone)]
pub struct Verifier {
    scheme: Scheme,
    check: Check,
    keys: Vec<HmacKey>,
}

/// The scheme, resolved for verification.
#[derive(Debug, Clone)]
enum Check {
    Body(BodySignature),
    Stripe { tolerance: Duration },
    StandardWebhooks { tolerance: Duration },
}

impl Verifier {
    /// Prepares `scheme` with `secrets` (at least one).
    ///
    /// Fails when there are no secrets, when a secret is empty or cannot be used by the scheme
    /// (a Standard Webhooks secret that is not base64 after `whsec_`), or when the generic
    /// scheme's header name is not a valid header name. Derived keys live in zeroize-on-drop
    /// memory.
    pub fn new(scheme: Scheme, secrets: &[SecretString]) -> Result<Self, KeyError> {
        if secrets.is_empty() {
            return Err(KeyError::NoSecrets);
        }
        let check = match &scheme {
            Scheme::Razorpay => Check::Body(razorpay::SIGNATURE),
            Scheme::Github => Check::Body(github::SIGNATURE),
            Scheme::Shopify => Check::Body(shopify::SIGNATURE),
            Scheme::Hmac {
                header,
                encoding,
                prefix,
            } => Check::Body(BodySignature::configured(header, *encoding, prefix)?),
            Scheme::Stripe { tolerance } => Check::Stripe {
                tolerance: *tolerance,
            },
            Scheme::StandardWebhooks { tolerance } => Check::StandardWebhooks {
                tolerance: *tolerance,
            },
        };
        let keys = secrets
            .iter()
            .enumerate()
            .map(|(index, secret)| match check {
                Check::StandardWebhooks { .. } => standard_webhooks::key_from_secret(secret, index),
                Check::Body(_) | Check::Stripe { .. } => raw_key(secret, index),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            scheme,
            check,
            keys,
        })
    }

    /// Checks the request's signature against every active secret.
    ///
    /// `body` is the raw body exactly as received; `now` is the time of receipt (passed in so
    /// tests control the clock), used by the schemes that sign a timestamp.
    pub fn verify(
        &self,
        headers: &(impl HeaderLookup + ?Sized),
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), SignatureError> {
        match &self.check {
            Check::Body(layout) => layout.verify(&self.keys, headers, body),
            Check::Stripe { tolerance } => {
                stripe::verify(&self.keys, headers, body, now, *tolerance)
            }
            Check::StandardWebhooks { tolerance } => {
                standard_webhooks::verify(&self.keys, headers, body, now, *tolerance)
            }
        }
    }

    /// The scheme this verifier checks.
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("scheme", &self.scheme)
            .field("secrets", &self.keys.len())
            .finish()
    }
}

/// Schemes other than Standard Webhooks key the HMAC with the secret's bytes as written.
fn raw_key(secret: &SecretString, index: usize) -> Result<HmacKey, KeyError> {
    let bytes = secret.expose_secret().as_bytes();
    if bytes.is_empty() {
        return Err(KeyError::Empty { index });
    }
    Ok(HmacKey::new(bytes))
}
