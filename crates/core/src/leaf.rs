//! The tree leaf of a chain record: a fixed binary encoding, 120 bytes, that commits to the
//! record's seq, its chain hashes and — through a hiding commitment — its trace.
//!
//! ```text
//! offset  size  field
//!      0    16  tag: the ASCII bytes "trailseal/leaf/1" (format and version)
//!     16     8  seq, unsigned, big-endian
//!     24    32  prev_hash, raw (the 64 hex characters decoded)
//!     56    32  record_hash, raw
//!     88    32  trace_commitment = SHA-256("trailseal/trace-commitment/1\n" ‖ salt ‖ trace)
//! ```
//!
//! `trace` is the record's canonical trace bytes, exactly as the record hash covers them.
//! `salt` is 32 bytes, `HMAC-SHA256(chain secret, "trailseal leaf salt v1\n" ‖ u64 BE seq)`:
//! unpredictable without the secret, so a published leaf (in a public tile) reveals nothing
//! about even a guessable trace; given the trace together with its salt, anyone can check it
//! against the leaf ([`check_trace`]) with no secret. Disclosing one record's salt reveals
//! nothing about another's.
//!
//! The salt message starts with `t`; every other MAC the chain key computes starts with `{`
//! (record hashes), is the exact text `trailseal key id v1` (the key id) or starts with
//! `trailseal receipt v1\n` (retention receipts): a disclosed salt is never a valid MAC of
//! anything else.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::chain::{ChainKey, Hash32};

/// The first 16 bytes of every leaf: the format and its version.
pub const LEAF_TAG: &[u8; 16] = b"trailseal/leaf/1";
/// The length of an encoded leaf.
pub const LEAF_LEN: usize = 120;
/// The domain of the trace commitment.
pub const COMMITMENT_DOMAIN: &[u8] = b"trailseal/trace-commitment/1\n";
/// The domain of the salt MAC.
pub const SALT_DOMAIN: &[u8] = b"trailseal leaf salt v1\n";

/// The per-record salt of a trace commitment. Disclosed only together with its trace; `Debug`
/// does not show it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Salt([u8; 32]);

impl Salt {
    /// A salt from its 32 bytes (as disclosed).
    pub fn from_bytes(raw: [u8; 32]) -> Self {
        Self(raw)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for Salt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Salt(..)")
    }
}

/// The salt of the record at `seq`: `HMAC-SHA256(secret, "trailseal leaf salt v1\n" ‖ u64 BE seq)`.
pub fn salt_for(key: &ChainKey, seq: u64) -> Salt {
    Salt(key.mac_parts(&[SALT_DOMAIN, &seq.to_be_bytes()]).to_raw())
}

/// `SHA-256("trailseal/trace-commitment/1\n" ‖ salt ‖ canonical trace)`.
pub fn trace_commitment(salt: &Salt, canonical_trace: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(COMMITMENT_DOMAIN);
    h.update(salt.0);
    h.update(canonical_trace);
    h.finalize().into()
}

/// A tree leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaf {
    /// The record's seq (its index in the tree).
    pub seq: u64,
    /// The record's `prev_hash`.
    pub prev_hash: Hash32,
    /// The record's `record_hash`.
    pub record_hash: Hash32,
    /// The hiding commitment to the record's canonical trace.
    pub trace_commitment: [u8; 32],
}

/// Bytes that are not a leaf.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LeafError {
    #[error("leaf: {len} bytes, a leaf has {LEAF_LEN}")]
    Length { len: usize },
    #[error("leaf: not a trailseal/leaf/1 leaf (unknown tag)")]
    Tag,
}

impl Leaf {
    /// The leaf of a record, its salt derived from the chain key.
    pub fn for_record(
        key: &ChainKey,
        seq: u64,
        prev_hash: &Hash32,
        record_hash: &Hash32,
        canonical_trace: &[u8],
    ) -> Leaf {
        Leaf {
            seq,
            prev_hash: *prev_hash,
            record_hash: *record_hash,
            trace_commitment: trace_commitment(&salt_for(key, seq), canonical_trace),
        }
    }

    /// The tree leaf hash of this leaf: `SHA-256(0x00 ‖ to_bytes())`.
    pub fn hash(&self) -> crate::tree::MerkleHash {
        crate::tree::leaf_hash(&self.to_bytes())
    }

    /// The 120-byte encoding (the tree entry; its leaf hash is `SHA-256(0x00 ‖ bytes)`).
    pub fn to_bytes(&self) -> [u8; LEAF_LEN] {
        let mut out = [0u8; LEAF_LEN];
        let parts: [&[u8]; 5] = [
            LEAF_TAG,
            &self.seq.to_be_bytes(),
            &self.prev_hash.to_raw(),
            &self.record_hash.to_raw(),
            &self.trace_commitment,
        ];
        let mut at = 0;
        for part in parts {
            if let Some(slot) = out.get_mut(at..at + part.len()) {
                slot.copy_from_slice(part);
            }
            at += part.len();
        }
        out
    }

    /// Reads exactly one encoded leaf: 120 bytes with the `trailseal/leaf/1` tag.
    pub fn parse(bytes: &[u8]) -> Result<Leaf, LeafError> {
        let arr: &[u8; LEAF_LEN] = bytes
            .try_into()
            .map_err(|_| LeafError::Length { len: bytes.len() })?;
        let (tag, rest) = arr.split_first_chunk::<16>().ok_or(LeafError::Tag)?;
        if tag != LEAF_TAG {
            return Err(LeafError::Tag);
        }
        let (seq, rest) = rest.split_first_chunk::<8>().ok_or(LeafError::Tag)?;
        let (prev, rest) = rest.split_first_chunk::<32>().ok_or(LeafError::Tag)?;
        let (record, rest) = rest.split_first_chunk::<32>().ok_or(LeafError::Tag)?;
        let commitment: [u8; 32] = rest.try_into().map_err(|_| LeafError::Tag)?;
        Ok(Leaf {
            seq: u64::from_be_bytes(*seq),
            prev_hash: Hash32::from_bytes(prev),
            record_hash: Hash32::from_bytes(record),
            trace_commitment: commitment,
        })
    }
}

/// Whether `canonical_trace` with `salt` is the trace `leaf` commits to. Needs no secret.
pub fn check_trace(leaf: &Leaf, salt: &Salt, canonical_trace: &[u8]) -> bool {
    bool::from(trace_commitment(salt, canonical_trace).ct_eq(&leaf.trace_commitment))
}
