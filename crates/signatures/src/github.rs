//! GitHub: `X-Hub-Signature-256` holds `sha256=` and the hex HMAC-SHA256 of the raw body, keyed
//! with the webhook secret. The legacy SHA-1 `X-Hub-Signature` is deliberately not accepted.

use crate::{Encoding, generic_hmac::BodySignature};

pub(crate) const SIGNATURE: BodySignature =
    BodySignature::fixed("x-hub-signature-256", Encoding::Hex, "sha256=");
