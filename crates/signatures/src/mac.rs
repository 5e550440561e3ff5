//! HMAC-SHA256 keys, decoding of presented signatures, and constant-time comparison: the parts
//! every scheme shares.

use base64::{
    Engine as _, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use hmac::{
    Hmac, Mac,
    digest::{Digest, Key, KeyInit, generic_array::GenericArray},
};
use secrecy::{ExposeSecret, ExposeSecretMut, SecretBox};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::Encoding;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// Length of an HMAC-SHA256 tag in bytes.
pub(crate) const TAG_LEN: usize = 32;

/// A presented signature, decoded.
pub(crate) type Tag = [u8; TAG_LEN];

/// SHA-256 block length: HMAC pads (or first hashes) every key to this size.
const BLOCK_LEN: usize = 64;

/// Standard alphabet; padding optional, since senders differ and the MAC check is what counts.
pub(crate) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// An HMAC-SHA256 key, held as the block-sized key RFC 2104 derives from the secret, in
/// zeroize-on-drop memory.
///
/// We key a fresh `Hmac` per use instead of cloning a pre-keyed instance: the pre-keyed state is
/// key material that `hmac` cannot zeroize, and keying costs only two SHA-256 blocks.
pub(crate) struct HmacKey(SecretBox<[u8; BLOCK_LEN]>);

impl HmacKey {
    pub(crate) fn new(secret: &[u8]) -> Self {
        let mut block = SecretBox::new(Box::new([0_u8; BLOCK_LEN]));
        let padded = block.expose_secret_mut();
        if secret.len() > BLOCK_LEN {
            // RFC 2104: a key longer than the block is replaced by its hash. Hash straight into the
            // protected block so no copy of the derived key is left elsewhere.
            let mut hasher = Sha256::new();
            Digest::update(&mut hasher, secret);
            hasher.finalize_into(GenericArray::from_mut_slice(&mut padded[..TAG_LEN]));
        } else {
            padded[..secret.len()].copy_from_slice(secret);
        }
        Self(block)
    }

    /// A MAC ready to be fed the signed content.
    pub(crate) fn mac(&self) -> HmacSha256 {
        // A block-length key is used as is, so this equals keying with the original secret.
        <HmacSha256 as KeyInit>::new(Key::<HmacSha256>::from_slice(self.0.expose_secret()))
    }
}

impl Clone for HmacKey {
    fn clone(&self) -> Self {
        // Copy heap to heap, so the key never passes through an unzeroized stack temporary.
        let mut block = Box::new([0_u8; BLOCK_LEN]);
        block.copy_from_slice(self.0.expose_secret());
        Self(SecretBox::new(block))
    }
}

/// Whether `expected` equals `presented`, in time independent of where they differ.
pub(crate) fn tag_eq(expected: &[u8], presented: &Tag) -> bool {
    expected.ct_eq(presented).into()
}

/// Why a presented signature could not be decoded into a [`Tag`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// Not text in the expected encoding.
    NotEncoded,
    /// Decodes, but not to 32 bytes (for example a truncated signature).
    WrongLength,
}

impl DecodeError {
    /// The sender-facing reason for a header holding one signature.
    pub(crate) const fn reason(self, encoding: Encoding) -> &'static str {
        match (self, encoding) {
            (Self::NotEncoded, Encoding::Hex) => "signature is not hex-encoded",
            (Self::NotEncoded, Encoding::Base64) => "signature is not base64-encoded",
            (Self::WrongLength, Encoding::Hex) => {
                "signature is not an HMAC-SHA256 (64 hex digits, 32 bytes)"
            }
            (Self::WrongLength, Encoding::Base64) => {
                "signature is not an HMAC-SHA256 (44 base64 characters, 32 bytes)"
            }
        }
    }
}

/// Decodes a presented signature without allocating.
pub(crate) fn decode(encoding: Encoding, text: &[u8]) -> Result<Tag, DecodeError> {
    match encoding {
        Encoding::Hex => decode_hex(text),
        Encoding::Base64 => decode_base64(text),
    }
}

fn decode_hex(text: &[u8]) -> Result<Tag, DecodeError> {
    if !text.iter().all(u8::is_ascii_hexdigit) {
        return Err(DecodeError::NotEncoded);
    }
    let mut tag = [0; TAG_LEN];
    hex::decode_to_slice(text, &mut tag).map_err(|_| DecodeError::WrongLength)?;
    Ok(tag)
}

fn decode_base64(text: &[u8]) -> Result<Tag, DecodeError> {
    // 32 bytes take 43 characters unpadded, 44 padded. Refusing anything over 64 characters
    // (48 bytes) keeps the buffer on the stack and still tells a hex digest (64 characters, which
    // are valid base64) apart from garbage.
    const MAX_TEXT: usize = 64;
    let mut buf = [0_u8; MAX_TEXT / 4 * 3];
    if text.len() > MAX_TEXT {
        let is_base64 = text
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        return Err(if is_base64 {
            DecodeError::WrongLength
        } else {
            DecodeError::NotEncoded
        });
    }
    match BASE64.decode_slice(text, &mut buf) {
        Ok(TAG_LEN) => {
            let mut tag = [0; TAG_LEN];
            tag.copy_from_slice(&buf[..TAG_LEN]);
            Ok(tag)
        }
        Ok(_)
        | Err(base64::DecodeSliceError::DecodeError(base64::DecodeError::InvalidLength(_))) => {
            Err(DecodeError::WrongLength)
        }
        Err(_) => Err(DecodeError::NotEncoded),
    }
}

/// The HMAC of `parts` concatenated, fed one after another so no joined buffer is built.
pub(crate) fn tag_of(key: &HmacKey, parts: &[&[u8]]) -> [u8; TAG_LEN] {
    let mut mac = key.mac();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_tag(key: &[u8], data: &[u8]) -> String {
        hex::encode(tag_of(&HmacKey::new(key), &[data]))
    }

    // RFC 4231 (HMAC-SHA256 test vectors), https://www.rfc-editor.org/rfc/rfc4231#section-4.3
    // test case 2: a key shorter than the block.
    #[test]
    fn short_key_matches_rfc_4231_case_2() {
        assert_eq!(
            hex_tag(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    // RFC 4231 section 4.7, test case 6: a 131-byte key, longer than the block, is hashed first.
    #[test]
    fn long_key_matches_rfc_4231_case_6() {
        assert_eq!(
            hex_tag(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn block_length_key_is_used_as_is() {
        let key = [0x0b; BLOCK_LEN];
        let mut reference = <HmacSha256 as Mac>::new_from_slice(&key).unwrap();
        reference.update(b"data");
        assert_eq!(
            tag_of(&HmacKey::new(&key), &[b"data"]).as_slice(),
            reference.finalize().into_bytes().as_slice()
        );
    }

    #[test]
    fn cloned_key_computes_the_same_tag() {
        let key = HmacKey::new(b"secret");
        assert_eq!(tag_of(&key.clone(), &[b"x"]), tag_of(&key, &[b"x"]));
    }

    #[test]
    fn hex_decodes_in_either_case() {
        let lower = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let upper = lower.to_ascii_uppercase();
        assert_eq!(
            decode(Encoding::Hex, lower.as_bytes()),
            decode(Encoding::Hex, upper.as_bytes())
        );
        assert!(decode(Encoding::Hex, lower.as_bytes()).is_ok());
    }

    #[test]
    fn hex_of_the_wrong_length_is_refused() {
        let full = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        for text in [&full[..62], &full[..63], "", &format!("{full}00")] {
            assert_eq!(
                decode(Encoding::Hex, text.as_bytes()),
                Err(DecodeError::WrongLength),
                "{text}"
            );
        }
        assert_eq!(decode(Encoding::Hex, b"zz"), Err(DecodeError::NotEncoded));
    }

    #[test]
    fn base64_decodes_with_or_without_padding() {
        let padded = b"g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let unpadded = &padded[..43];
        assert!(decode(Encoding::Base64, padded).is_ok());
        assert_eq!(
            decode(Encoding::Base64, padded),
            decode(Encoding::Base64, unpadded)
        );
    }

    #[test]
    fn base64_of_the_wrong_length_is_refused() {
        let padded = "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let hex_digest = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        for text in [&padded[..40], &padded[..41], hex_digest, &padded.repeat(2)] {
            assert_eq!(
                decode(Encoding::Base64, text.as_bytes()),
                Err(DecodeError::WrongLength),
                "{text}"
            );
        }
        assert_eq!(
            decode(Encoding::Base64, b"not base64!"),
            Err(DecodeError::NotEncoded)
        );
    }

    #[test]
    fn tags_compare_equal_only_when_identical() {
        let tag = [7; TAG_LEN];
        let mut other = tag;
        assert!(tag_eq(&tag, &other));
        other[31] ^= 1;
        assert!(!tag_eq(&tag, &other));
        assert!(!tag_eq(&tag[..31], &tag));
    }
}
