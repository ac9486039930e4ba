//! `c2sp.org/tlog-proof@v1` files (<https://c2sp.org/tlog-proof>, `.tlog-proof`): an entry's
//! index, its RFC 6962 inclusion proof and the checkpoint the proof is for, verbatim.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64>                 (optional; opaque, not authenticated)
//! index <n>
//! <base64 hash>                  (0 to 63 lines, from the leaf's sibling up)
//!
//! <the checkpoint note, verbatim, with its signatures and cosignatures>
//! ```
//!
//! Parsing is strict: the exact header, canonical base64 everywhere (the extra data non-empty,
//! each hash 32 bytes), a decimal index without leading zeros, at most [`MAX_HASHES`] hashes,
//! lines and the file within the limits below, and the checkpoint is everything after the
//! first blank line — it is read only by [`crate::checkpoint::Checkpoint::open`], through
//! [`TlogProof::open_checkpoint`], which also checks that the index is inside the tree and
//! that the proof has exactly the number of hashes a tree of that size needs at that index.

use crate::base64;
use crate::checkpoint::{Checkpoint, CheckpointError, parse_decimal};
use crate::note::NoteVerifier;

/// The first line.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// At most this many proof hashes (a tree of at most 2^63 - 1 leaves needs at most 63).
pub const MAX_HASHES: usize = 63;
/// The largest proof file accepted, in bytes.
pub const MAX_FILE_LEN: usize = 1 << 20;
/// The largest extra data accepted, decoded, in bytes.
pub const MAX_EXTRA_LEN: usize = 1 << 16;

/// A proof file that cannot be read or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogProofError {
    #[error("proof file: larger than {MAX_FILE_LEN} bytes")]
    TooLarge,
    #[error("proof line {line}: {why}")]
    Line { line: usize, why: &'static str },
    #[error("proof file: does not read back as written")]
    NotCanonical,
    #[error("proof checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("proof index {index}: not below the checkpoint size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error(
        "proof index {index}: {got} hashes, a tree of size {size} needs {expected} at this index"
    )]
    ProofLength {
        index: u64,
        size: u64,
        got: usize,
        expected: usize,
    },
}

/// A parsed proof file. Its checkpoint is kept as text until it is opened with a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    extra: Option<Vec<u8>>,
    index: u64,
    hashes: Vec<[u8; 32]>,
    checkpoint_note: String,
}

/// The length of the RFC 6962 inclusion proof of leaf `index` in a tree of `size` leaves
/// (`None` when the index is not in the tree).
pub fn inclusion_proof_len(index: u64, size: u64) -> Option<usize> {
    crate::tree::proof::inclusion_proof_len(index, size)
}

impl TlogProof {
    /// A proof for the entry at `index`, with `hashes` from the leaf's sibling up, and the
    /// checkpoint note it was built for (verbatim). Refuses what [`TlogProof::parse`] would.
    pub fn new(
        extra: Option<Vec<u8>>,
        index: u64,
        hashes: Vec<[u8; 32]>,
        checkpoint_note: String,
    ) -> Result<Self, TlogProofError> {
        let proof = Self {
            extra,
            index,
            hashes,
            checkpoint_note,
        };
        // One set of rules: what is written must read back the same.
        let parsed = Self::parse(&proof.to_text())?;
        if parsed != proof {
            return Err(TlogProofError::NotCanonical);
        }
        Ok(proof)
    }

    /// The opaque extra data (not authenticated).
    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }

    /// The entry's index in the tree.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The inclusion proof, from the leaf's sibling up.
    pub fn hashes(&self) -> &[[u8; 32]] {
        &self.hashes
    }

    /// The checkpoint note, verbatim (with its cosignatures).
    pub fn checkpoint_note(&self) -> &str {
        &self.checkpoint_note
    }

    /// The file text.
    pub fn to_text(&self) -> String {
        let mut out = format!("{HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str(&format!("extra {}\n", base64::encode(extra)));
        }
        out.push_str(&format!("index {}\n", self.index));
        for hash in &self.hashes {
            out.push_str(&base64::encode(hash));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint_note);
        out
    }

    /// Reads a proof file strictly (see the module documentation). The checkpoint is not
    /// verified here: use [`TlogProof::open_checkpoint`].
    pub fn parse(text: &str) -> Result<TlogProof, TlogProofError> {
        if text.len() > MAX_FILE_LEN {
            return Err(TlogProofError::TooLarge);
        }
        let bad = |line: usize, why: &'static str| TlogProofError::Line { line, why };
        let (head, checkpoint_note) = text
            .split_once("\n\n")
            .ok_or_else(|| bad(1, "no blank line before the checkpoint"))?;
        let mut lines = head.split('\n').enumerate().map(|(n, l)| (n + 1, l));
        match lines.next() {
            Some((_, HEADER)) => {}
            _ => return Err(bad(1, "not c2sp.org/tlog-proof@v1")),
        }
        let (mut n, mut line) = lines.next().ok_or_else(|| bad(2, "no index line"))?;
        let mut extra = None;
        if let Some(data) = line.strip_prefix("extra ") {
            if data.len() > MAX_EXTRA_LEN.div_ceil(3) * 4 {
                return Err(bad(n, "the extra data is too large"));
            }
            let raw = base64::decode(data)
                .ok()
                .filter(|raw| !raw.is_empty())
                .ok_or_else(|| bad(n, "the extra data is not canonical non-empty base64"))?;
            extra = Some(raw);
            (n, line) = lines.next().ok_or_else(|| bad(n + 1, "no index line"))?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or_else(|| bad(n, "not `index <decimal without leading zeros>`"))?;
        let mut hashes = Vec::new();
        for (n, line) in lines {
            if hashes.len() == MAX_HASHES {
                return Err(bad(n, "more than 63 proof hashes"));
            }
            // A base64 SHA-256 hash is 44 characters: nothing longer is decoded.
            let hash = (line.len() == 44)
                .then(|| base64::decode(line).ok())
                .flatten()
                .and_then(|raw| <[u8; 32]>::try_from(raw).ok())
                .ok_or_else(|| bad(n, "not a canonical base64 SHA-256 hash"))?;
            hashes.push(hash);
        }
        if checkpoint_note.is_empty() {
            // The line after the blank line.
            let line = head.split('\n').count() + 2;
            return Err(bad(line, "no checkpoint after the blank line"));
        }
        Ok(TlogProof {
            extra,
            index,
            hashes,
            checkpoint_note: checkpoint_note.to_owned(),
        })
    }

    /// Verifies the checkpoint's signature with `verifier`, reads it, and checks that the index
    /// is inside its tree and the proof has exactly the hashes that tree needs at that index.
    /// The hashes themselves are checked against the root by the tree code.
    pub fn open_checkpoint(&self, verifier: &NoteVerifier) -> Result<Checkpoint, TlogProofError> {
        let checkpoint = Checkpoint::open(&self.checkpoint_note, verifier)?;
        let size = checkpoint.size();
        let expected =
            inclusion_proof_len(self.index, size).ok_or(TlogProofError::IndexOutOfRange {
                index: self.index,
                size,
            })?;
        if expected != self.hashes.len() {
            return Err(TlogProofError::ProofLength {
                index: self.index,
                size,
                got: self.hashes.len(),
                expected,
            });
        }
        Ok(checkpoint)
    }
}
