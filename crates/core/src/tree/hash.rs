//! RFC 6962 hashing: `leaf = SHA-256(0x00 || entry)`, `node = SHA-256(0x01 || left || right)`.

use sha2::{Digest, Sha256};

/// A 32-byte Merkle tree hash (a leaf, an interior node or a root). Shown in base64, as in
/// C2SP checkpoints and proofs. (`crate::chain::Hash32` is the chain's hex MAC; a tree hash is
/// raw bytes.)
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MerkleHash(pub [u8; 32]);

/// The size of a [`MerkleHash`] in bytes.
pub const HASH_SIZE: usize = 32;

impl MerkleHash {
    /// The root of the empty tree: `SHA-256("")` (RFC 6962 `MTH({})`). Go's `tlog.TreeHash(0)`
    /// returns all zero bytes instead; C2SP and RFC 6962 use this value.
    pub fn empty_tree() -> Self {
        MerkleHash(Sha256::digest([]).into())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Reads a hash from exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(MerkleHash)
    }

    /// Standard padded base64 (44 characters).
    pub fn to_base64(&self) -> String {
        crate::base64::encode(&self.0)
    }

    /// Parses standard padded base64 of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        let decoded = crate::base64::decode_into(text, &mut out).ok()?;
        (decoded.len() == HASH_SIZE).then_some(MerkleHash(out))
    }
}

impl std::fmt::Display for MerkleHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl std::fmt::Debug for MerkleHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MerkleHash({})", self.to_base64())
    }
}

/// The hash of a leaf: `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> MerkleHash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(entry);
    MerkleHash(h.finalize().into())
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &MerkleHash, right: &MerkleHash) -> MerkleHash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    MerkleHash(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // RFC 6962 / CT test vectors: the empty tree and the leaf hash of the empty entry.
        assert_eq!(
            MerkleHash::empty_tree().to_base64(),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            leaf_hash(b"").to_base64(),
            "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0="
        );
        let h = MerkleHash::from_base64(&leaf_hash(b"x").to_base64());
        assert_eq!(h, Some(leaf_hash(b"x")));
        assert_eq!(MerkleHash::from_base64("AAAA"), None);
        assert_ne!(
            node_hash(&leaf_hash(b"a"), &leaf_hash(b"b")),
            node_hash(&leaf_hash(b"b"), &leaf_hash(b"a"))
        );
    }
}
