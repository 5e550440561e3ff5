//! Razorpay: `X-Razorpay-Signature` holds the hex HMAC-SHA256 of the raw body, keyed with the
//! webhook secret as set in the Razorpay dashboard.

use crate::{Encoding, generic_hmac::BodySignature};

pub(crate) const SIGNATURE: BodySignature =
    BodySignature::fixed("x-razorpay-signature", Encoding::Hex, "");
