//! Chain format "1": the record hash, the genesis value and the chain key.
//!
//! `record_hash = hex(HMAC-SHA256(secret, canonical({"prev_hash": P, "seq": N, "trace": T})))`.
//! Because the canonical form sorts keys, the message is always
//! `{"prev_hash":"<P>","seq":<N>,"trace":<canonical T>}`; [`ChainKey::record_hash`] builds it
//! from the stored canonical trace bytes without re-serialising anything.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::json::write_json_string;

type HmacSha256 = Hmac<Sha256>;

/// The chain format version this crate reads and writes. weaver-kernel calls it
/// `CHAIN_VERSION`; it is not stored in weaver-kernel's stores.
pub const CHAIN_FORMAT: &str = "1";

/// `prev_hash` of the first record of a chain: 64 `'0'`.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A 32-byte MAC or hash, shown as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash32([u8; 64]);

impl Hash32 {
    /// The genesis value (64 `'0'`).
    pub const GENESIS: Hash32 = Hash32([b'0'; 64]);

    /// Hex-encodes 32 raw bytes.
    pub fn from_bytes(raw: &[u8; 32]) -> Self {
        // Branch-free: a nibble n is b'0' + n, plus 39 more ('a' - '0' - 10) when n > 9.
        let hex = |n: u8| b'0' + n + u8::from(n > 9) * 39;
        let mut out = [0u8; 64];
        for (pair, byte) in out.chunks_exact_mut(2).zip(raw) {
            if let [hi, lo] = pair {
                *hi = hex(byte >> 4);
                *lo = hex(byte & 0xF);
            }
        }
        Hash32(out)
    }

    /// Parses exactly 64 lowercase hex characters.
    pub fn parse(text: &[u8]) -> Option<Self> {
        let arr: [u8; 64] = text.try_into().ok()?;
        // No early exit: the check of all 64 bytes compiles to a few vector instructions.
        arr.iter()
            .fold(true, |ok, &b| {
                ok & ((b.wrapping_sub(b'0') < 10) | (b.wrapping_sub(b'a') < 6))
            })
            .then_some(Hash32(arr))
    }

    /// The 64 hex characters.
    pub fn as_str(&self) -> &str {
        // Only ever built from ASCII hex digits.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The 64 hex characters as bytes.
    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }

    /// The 32 raw bytes.
    pub fn to_raw(&self) -> [u8; 32] {
        let mut raw = [0u8; 32];
        // Branch-free, for the lowercase hex digits a `Hash32` holds: '0'..='9' are 0x30..=0x39
        // (low nibble = value, bit 6 clear); 'a'..='f' are 0x61..=0x66 (low nibble = value - 9,
        // bit 6 set).
        let nib = |c: u8| (c & 0x0F) + 9 * (c >> 6);
        for (byte, pair) in raw.iter_mut().zip(self.0.chunks_exact(2)) {
            if let [hi, lo] = pair {
                *byte = (nib(*hi) << 4) | nib(*lo);
            }
        }
        raw
    }

    /// Constant-time comparison with a stored hex string.
    pub fn ct_eq_stored(&self, stored: &[u8]) -> bool {
        let Ok(stored) = <&[u8; 64]>::try_from(stored) else {
            return false;
        };
        // Accumulate the difference of all 64 bytes, 8 at a time, with no early exit.
        let mut diff = 0u64;
        for (a, b) in self.0.chunks_exact(8).zip(stored.chunks_exact(8)) {
            let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]));
            diff |= word(a) ^ word(b);
        }
        bool::from(std::hint::black_box(diff).ct_eq(&0))
    }
}

impl std::fmt::Display for Hash32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hash32({})", self.as_str())
    }
}

/// A short public identifier of a chain key: the first 8 bytes, in hex, of
/// `HMAC-SHA256(secret, "trailseal key id v1")`. It tells which key a store was written with
/// (and whether a given secret is that key) without revealing anything about the secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; 16]);

impl KeyId {
    /// Parses 16 lowercase hex characters.
    pub fn parse(text: &[u8]) -> Option<Self> {
        let arr: [u8; 16] = text.try_into().ok()?;
        arr.iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            .then_some(KeyId(arr))
    }

    /// The 16 hex characters.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyId({})", self.as_str())
    }
}

/// Why a secret cannot be used as a chain key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("the secret is empty")]
    Empty,
    #[error("the secret is not valid UTF-8 (weaver-kernel keys the chain with UTF-8 text)")]
    NotUtf8,
}

/// The HMAC key of a chain, keyed once and cloned per record.
///
/// Neither `Debug` nor any error ever shows the secret; `Debug` shows only the [`KeyId`].
#[derive(Clone)]
pub struct ChainKey {
    mac: HmacSha256,
    key_id: KeyId,
    strength: crate::strength::SecretStrength,
}

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl ChainKey {
    /// Keys the chain with the UTF-8 bytes of a secret, as weaver-kernel does.
    pub fn from_secret(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.is_empty() {
            return Err(KeyError::Empty);
        }
        if std::str::from_utf8(secret).is_err() {
            return Err(KeyError::NotUtf8);
        }
        // HMAC accepts keys of any length; the error branch cannot occur.
        let mac = <HmacSha256 as KeyInit>::new_from_slice(secret).map_err(|_| KeyError::Empty)?;
        let mut id_mac = mac.clone();
        id_mac.update(b"trailseal key id v1");
        let id = Hash32::from_bytes(&id_mac.finalize().into_bytes().into());
        let mut key_id = [0u8; 16];
        key_id.copy_from_slice(id.as_bytes().get(..16).unwrap_or(&[b'0'; 16]));
        Ok(Self {
            mac,
            key_id: KeyId(key_id),
            strength: crate::strength::SecretStrength::assess(secret),
        })
    }

    /// How guessable the secret this key was made from is (judged when the key was made; the
    /// secret itself is not kept).
    pub fn strength(&self) -> crate::strength::SecretStrength {
        self.strength
    }

    /// The public identifier of this key.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// HMAC-SHA256 over the concatenation of `parts`.
    pub fn mac_parts(&self, parts: &[&[u8]]) -> Hash32 {
        let mut mac = self.mac.clone();
        for part in parts {
            mac.update(part);
        }
        Hash32::from_bytes(&mac.finalize().into_bytes().into())
    }

    /// The record hash of format "1" for a record whose trace is already canonical.
    ///
    /// `prev_hash` is the stored text; anything other than hex is escaped as Python would, so
    /// the result equals weaver-kernel's even for damaged records.
    pub fn record_hash(&self, seq: u64, prev_hash: &[u8], canonical_trace: &[u8]) -> Hash32 {
        let mut mac = self.mac.clone();
        let mut digits = [0u8; 20];
        let seq = format_u64(seq, &mut digits);
        // Printable ASCII other than `"` and `\` needs no escaping (a branch-free check).
        let escaped = prev_hash.iter().fold(false, |bad, &b| {
            bad | !(0x20..0x7F).contains(&b) | (b == b'"') | (b == b'\\')
        });
        if prev_hash.len() == 64 && !escaped {
            // The usual case, in one update: {"prev_hash":"<64>","seq":<n>,"trace":
            let mut prefix = [0u8; 14 + 64 + 8 + 20 + 9];
            let mut len = 0;
            for part in [
                b"{\"prev_hash\":\"".as_slice(),
                prev_hash,
                b"\",\"seq\":",
                seq,
                b",\"trace\":",
            ] {
                if let Some(slot) = prefix.get_mut(len..len + part.len()) {
                    slot.copy_from_slice(part);
                }
                len += part.len();
            }
            mac.update(prefix.get(..len).unwrap_or_default());
        } else {
            let mut quoted = Vec::with_capacity(prev_hash.len() + 2);
            write_json_string(&String::from_utf8_lossy(prev_hash), &mut quoted);
            mac.update(b"{\"prev_hash\":");
            mac.update(&quoted);
            mac.update(b",\"seq\":");
            mac.update(seq);
            mac.update(b",\"trace\":");
        }
        mac.update(canonical_trace);
        mac.update(b"}");
        Hash32::from_bytes(&mac.finalize().into_bytes().into())
    }
}

/// Formats `n` in decimal into `buf`, returning the digits.
pub fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(slot) = buf.get_mut(i) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    buf.get(i..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let raw = [0xABu8; 32];
        let h = Hash32::from_bytes(&raw);
        assert_eq!(h.as_str(), "ab".repeat(32));
        assert_eq!(h.to_raw(), raw);
        assert_eq!(Hash32::parse(h.as_bytes()), Some(h));
        assert_eq!(Hash32::parse(b"AB"), None);
        // Every byte that is not a lowercase hex digit, at the first and the last place.
        for b in (0..=255u8).filter(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            for at in [0, 63] {
                let mut text = [b'0'; 64];
                text[at] = b;
                assert_eq!(Hash32::parse(&text), None, "byte {b:#04x} at {at}");
            }
        }
        assert_eq!(Hash32::GENESIS.as_str(), GENESIS_HASH);
    }

    #[test]
    fn raw_round_trip_every_byte() {
        for b in 0..=255u8 {
            let mut raw = [0u8; 32];
            raw[0] = b;
            raw[31] = b.wrapping_mul(7);
            let h = Hash32::from_bytes(&raw);
            assert_eq!(h.to_raw(), raw, "byte {b:#04x}");
            assert_eq!(&h.as_str()[..2], format!("{b:02x}"));
        }
    }

    #[test]
    fn format_numbers() {
        let mut buf = [0u8; 20];
        assert_eq!(format_u64(0, &mut buf), b"0");
        assert_eq!(format_u64(u64::MAX, &mut buf), b"18446744073709551615");
    }

    #[test]
    fn debug_hides_secret() {
        let key = ChainKey::from_secret(b"hunter2-canary").unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains(key.key_id().as_str()));
        assert_eq!(ChainKey::from_secret(b"").unwrap_err(), KeyError::Empty);
        assert_eq!(
            ChainKey::from_secret(b"\xff").unwrap_err(),
            KeyError::NotUtf8
        );
    }
}
