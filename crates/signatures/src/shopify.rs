//! Shopify: `X-Shopify-Hmac-Sha256` holds the base64 HMAC-SHA256 of the raw body, keyed with the
//! app's client secret.

use crate::{Encoding, generic_hmac::BodySignature};

pub(crate) const SIGNATURE: BodySignature =
    BodySignature::fixed("x-shopify-hmac-sha256", Encoding::Base64, "");
