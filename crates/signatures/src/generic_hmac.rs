//! One signature of the raw body in one header: the configurable `hmac` scheme, and the shape
//! Razorpay, GitHub and Shopify share.

use std::borrow::Cow;

use hmac::Mac;

use crate::{
    Encoding, HeaderLookup, KeyError, SignatureError, headers,
    mac::{self, HmacKey},
};

/// Where a body signature is found and how it is written.
#[derive(Debug, Clone)]
pub(crate) struct BodySignature {
    /// Lower-case header name.
    header: Cow<'static, str>,
    encoding: Encoding,
    prefix: Cow<'static, str>,
}

impl BodySignature {
    /// A provider's fixed layout; `header` must already be lower case.
    pub(crate) const fn fixed(
        header: &'static str,
        encoding: Encoding,
        prefix: &'static str,
    ) -> Self {
        Self {
            header: Cow::Borrowed(header),
            encoding,
            prefix: Cow::Borrowed(prefix),
        }
    }

    /// A layout from configuration: checks the header name and lower-cases it for lookup.
    pub(crate) fn configured(
        header: &str,
        encoding: Encoding,
        prefix: &str,
    ) -> Result<Self, KeyError> {
        if !headers::is_valid_name(header) {
            return Err(KeyError::InvalidHeaderName {
                header: header.to_owned(),
            });
        }
        Ok(Self {
            header: Cow::Owned(header.to_ascii_lowercase()),
            encoding,
            prefix: Cow::Owned(prefix.to_owned()),
        })
    }

    pub(crate) fn verify<H: HeaderLookup + ?Sized>(
        &self,
        keys: &[HmacKey],
        headers: &H,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        let value =
            headers::value(headers, &self.header).ok_or_else(|| SignatureError::Missing {
                header: self.header.clone(),
            })?;
        let encoded = strip_prefix(value, self.prefix.as_bytes())
            .ok_or_else(|| self.malformed("signature lacks the expected prefix"))?;
        let presented = mac::decode(self.encoding, encoded)
            .map_err(|error| self.malformed(error.reason(self.encoding)))?;
        let matched = keys.iter().any(|key| {
            let mut mac = key.mac();
            mac.update(body);
            mac.verify_slice(&presented).is_ok()
        });
        if matched {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }

    fn malformed(&self, reason: &'static str) -> SignatureError {
        SignatureError::Malformed {
            header: self.header.clone(),
            reason,
        }
    }
}

fn strip_prefix<'v>(value: &'v [u8], prefix: &[u8]) -> Option<&'v [u8]> {
    if value.len() < prefix.len() {
        return None;
    }
    let (head, rest) = value.split_at(prefix.len());
    head.eq_ignore_ascii_case(prefix).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_matched_ignoring_case() {
        assert_eq!(strip_prefix(b"SHA256=ab", b"sha256="), Some(&b"ab"[..]));
        assert_eq!(strip_prefix(b"ab", b""), Some(&b"ab"[..]));
        assert_eq!(strip_prefix(b"sha1=ab", b"sha256="), None);
        assert_eq!(strip_prefix(b"sha", b"sha256="), None);
    }

    #[test]
    fn configured_header_is_lower_cased() {
        let layout = BodySignature::configured("X-Signature", Encoding::Hex, "").unwrap();
        assert_eq!(layout.header, "x-signature");
    }
}
