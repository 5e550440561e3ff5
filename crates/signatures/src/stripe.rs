//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>..][,v0=<hex>]` where each `v1` is the
//! hex HMAC-SHA256 of `"{t}.{body}"`, keyed with the endpoint secret (`whsec_...`, used as is).
//!
//! Stripe sends several `v1` entries while an endpoint secret is being rolled, so any one may
//! match; entries of other schemes (`v0` is test-mode only) are ignored.

use std::time::{Duration, SystemTime};

use crate::{
    Encoding, HeaderLookup, SignatureError, headers,
    mac::{self, HmacKey, Tag},
    timestamp,
};

const HEADER: &str = "stripe-signature";

pub(crate) fn verify<H: HeaderLookup + ?Sized>(
    keys: &[HmacKey],
    headers: &H,
    body: &[u8],
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let value = headers::value(headers, HEADER).ok_or(SignatureError::missing(HEADER))?;
    let header = StripeHeader::parse(value)?;
    // Refuse stale requests before hashing a possibly large body.
    timestamp::check_fresh(header.timestamp, timestamp::unix_seconds(now), tolerance)?;
    for key in keys {
        let expected = mac::tag_of(key, &[header.t, b".", body]);
        if header.v1_tags().any(|tag| mac::tag_eq(&expected, &tag)) {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// A checked `Stripe-Signature` value: one `t`, and at least one readable `v1`.
struct StripeHeader<'v> {
    value: &'v [u8],
    /// `t` as sent; it is signed in this form.
    t: &'v [u8],
    timestamp: i64,
}

impl<'v> StripeHeader<'v> {
    fn parse(value: &'v [u8]) -> Result<Self, SignatureError> {
        let malformed = |reason| SignatureError::malformed(HEADER, reason);
        let mut t = None;
        let mut v1_present = false;
        let mut v1_readable = false;
        for (key, field) in fields(value) {
            match key {
                b"t" if t.is_some() => return Err(malformed("more than one `t=` timestamp")),
                b"t" => t = Some(field),
                b"v1" => {
                    v1_present = true;
                    v1_readable |= mac::decode(Encoding::Hex, field).is_ok();
                }
                _ => {}
            }
        }
        let t = t.ok_or(malformed(
            "no `t=` timestamp; expected `t=<unix seconds>,v1=<hex>`",
        ))?;
        let timestamp = timestamp::parse_unix_seconds(t)
            .ok_or(malformed("`t=` is not a unix time in whole seconds"))?;
        if !v1_present {
            return Err(malformed(
                "no `v1=` signature; expected `t=<unix seconds>,v1=<hex>`",
            ));
        }
        if !v1_readable {
            return Err(malformed(
                "no `v1=` signature is an HMAC-SHA256 in hex (64 hex digits)",
            ));
        }
        Ok(Self {
            value,
            t,
            timestamp,
        })
    }

    /// The `v1` signatures that decode; unreadable ones cannot match and are skipped, as Stripe's
    /// own libraries do.
    fn v1_tags(&self) -> impl Iterator<Item = Tag> + 'v {
        fields(self.value)
            .filter(|(key, _)| *key == b"v1")
            .filter_map(|(_, field)| mac::decode(Encoding::Hex, field).ok())
    }
}

/// `key=value` items of the header; items without `=` are ignored.
fn fields(value: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    value.split(|&b| b == b',').filter_map(|item| {
        let eq = item.iter().position(|&b| b == b'=')?;
        let (key, field) = item.split_at(eq);
        Some((key.trim_ascii(), field[1..].trim_ascii()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split_on_the_first_equals_sign() {
        let parsed: Vec<_> = fields(b"t=1, v1=a=b,junk,v0=").collect();
        assert_eq!(
            parsed,
            vec![
                (&b"t"[..], &b"1"[..]),
                (&b"v1"[..], &b"a=b"[..]),
                (&b"v0"[..], &b""[..])
            ]
        );
    }

    #[test]
    fn a_second_timestamp_is_malformed() {
        let value = format!("t=1,t=2,v1={}", "ab".repeat(32));
        assert!(matches!(
            StripeHeader::parse(value.as_bytes()),
            Err(SignatureError::Malformed { .. })
        ));
    }
}
