//! Standard base64 (RFC 4648, with padding), as signed notes use it, through `base64ct`
//! (RustCrypto; constant-time, so decoding a signing key's seed leaks nothing through timing).
//!
//! Decoding is strict: only canonical padded base64 is accepted — no whitespace, no missing
//! or extra padding, no stray bits under the padding, no URL-safe alphabet.

use base64ct::{Base64, Encoding};

/// Encodes bytes.
pub fn encode(data: &[u8]) -> String {
    Base64::encode_string(data)
}

/// A string that is not canonical base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not base64")]
pub struct Base64Error;

/// Decodes canonical padded base64 (anything else is an error).
pub fn decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    Base64::decode_vec(text).map_err(|_| Base64Error)
}

/// Decodes canonical padded base64 into `out` (for secrets: no copy is left on the heap);
/// returns the decoded prefix of `out`. An error when the text is not canonical base64 or
/// decodes to more than `out` holds.
pub fn decode_into<'o>(text: &str, out: &'o mut [u8]) -> Result<&'o [u8], Base64Error> {
    match Base64::decode(text, out) {
        Ok(decoded) => Ok(decoded),
        Err(_) => Err(Base64Error),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /// The hand-written decoder this module replaced, kept as the oracle: base64ct must accept
    /// and refuse exactly what it did.
    fn previous_decode(text: &str) -> Result<Vec<u8>, Base64Error> {
        let bytes = text.as_bytes();
        if !bytes.len().is_multiple_of(4) {
            return Err(Base64Error);
        }
        let value = |c: u8| ALPHABET.iter().position(|a| *a == c).map(|p| p as u32);
        let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
        let chunks = bytes.len() / 4;
        for (i, chunk) in bytes.chunks(4).enumerate() {
            let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
            if pad > 2 || (pad > 0 && i + 1 != chunks) {
                return Err(Base64Error);
            }
            let mut n = 0u32;
            for (j, c) in chunk.iter().enumerate() {
                let v = if j >= 4 - pad {
                    0
                } else {
                    value(*c).ok_or(Base64Error)?
                };
                n = (n << 6) | v;
            }
            let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            // Non-canonical encodings (stray bits under the padding) are rejected.
            if (pad == 1 && decoded[2] != 0) || (pad == 2 && decoded[1] != 0) {
                return Err(Base64Error);
            }
            out.extend_from_slice(decoded.get(..3 - pad).unwrap_or_default());
        }
        Ok(out)
    }

    #[test]
    fn rfc4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(plain.as_bytes()), coded);
            assert_eq!(decode(coded).unwrap(), plain.as_bytes());
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(&encode(&all)).unwrap(), all);
    }

    #[test]
    fn non_canonical_text_is_refused() {
        for bad in [
            "Zg=",
            "Z===",
            "Zh==",
            "Zm9=",
            "Zm9v!A==",
            "Zg==Zg==",
            "====",
            "Zg",
            "Zm8",
            "Zm8=\n",
            " Zm8=",
            "Zm8= ",
            "Zm 8=",
            "Zm8=\r\n",
            "Zm-v",
            "Zm_v",
            "Zg=A",
            "Z=g=",
            "=Zg=",
            "Zm9vYmFy\n",
        ] {
            assert_eq!(decode(bad), Err(Base64Error), "{bad:?}");
            assert_eq!(previous_decode(bad), Err(Base64Error), "{bad:?}");
        }
    }

    #[test]
    fn decode_into_refuses_what_does_not_fit() {
        let mut out = [0u8; 33];
        let coded = encode(&[7u8; 33]);
        assert_eq!(decode_into(&coded, &mut out).unwrap(), &[7u8; 33]);
        assert_eq!(decode_into(&encode(&[7u8; 34]), &mut out), Err(Base64Error));
        assert_eq!(decode_into("Zh==", &mut out), Err(Base64Error));
    }

    proptest! {
        /// On texts over the base64 alphabet, padding and a few near misses, base64ct accepts
        /// and refuses exactly what the hand-written decoder did, with the same bytes.
        #[test]
        fn accepts_and_refuses_what_the_previous_decoder_did(
            text in "[A-Za-z0-9+/=_\\- \n]{0,14}",
        ) {
            prop_assert_eq!(decode(&text), previous_decode(&text));
        }

        /// Mutating one character of a valid encoding: still the same verdict.
        #[test]
        fn one_changed_character_same_verdict(
            data in proptest::collection::vec(any::<u8>(), 0..40),
            at in any::<prop::sample::Index>(),
            c in prop::sample::select(b"AZaz09+/=-_ \n".to_vec()),
        ) {
            let mut coded = encode(&data).into_bytes();
            if !coded.is_empty() {
                let i = at.index(coded.len());
                coded[i] = c;
            }
            let text = String::from_utf8(coded).unwrap();
            prop_assert_eq!(decode(&text), previous_decode(&text));
        }
    }
}
