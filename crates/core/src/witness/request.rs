//! The `add-checkpoint` request body:
//!
//! ```text
//! old <size: decimal, no sign, no leading zero>
//! <base64 hash>                 (0 to 63 lines: the consistency proof from `old` to the size)
//!
//! <the signed checkpoint note, verbatim>
//! ```
//!
//! [`AddCheckpoint::new`] builds it only from a note that opens with the log's key and a
//! proof of exactly the length the sizes need (empty from size 0 and to the same size);
//! [`AddCheckpoint::parse`] reads a body strictly (for a witness, or for tests), and
//! [`AddCheckpoint::open`] then applies the same checks as the builder.

use crate::checkpoint::{Checkpoint, CheckpointError, MAX_SIZE, parse_decimal};
use crate::note::{NoteVerifier, split_signed};
use crate::tree::MerkleHash;

/// At most this many proof lines (a tree of at most 2^63 - 1 leaves needs at most 63).
pub const MAX_PROOF_LINES: usize = 63;
/// The largest request body built or read, in bytes.
pub const MAX_REQUEST_LEN: usize = 1 << 16;

/// A request body that cannot be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    #[error("add-checkpoint body: larger than {MAX_REQUEST_LEN} bytes")]
    TooLarge,
    #[error("add-checkpoint line {line}: {why}")]
    Line { line: usize, why: &'static str },
    #[error("add-checkpoint checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("add-checkpoint old size {old}: larger than the checkpoint size {size}")]
    OldLarger { old: u64, size: u64 },
    #[error("add-checkpoint proof: {got} hashes, sizes {old} to {size} need {expected}")]
    ProofLength {
        old: u64,
        size: u64,
        got: usize,
        expected: usize,
    },
}

/// The number of hashes in the RFC 6962 consistency proof from a tree of `old` leaves to one
/// of `size` leaves, as tlog-witness sends it: 0 from the empty tree and between equal sizes;
/// `None` when `old > size`.
pub fn consistency_proof_len(old: u64, size: u64) -> Option<usize> {
    crate::tree::proof::consistency_proof_len(old, size)
}

/// An `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    old: u64,
    proof: Vec<MerkleHash>,
    note: String,
}

impl AddCheckpoint {
    /// The request for `note` (a checkpoint signed by `log`) from the witness's size `old`,
    /// with the consistency proof from `old` to the checkpoint's size.
    pub fn new(
        old: u64,
        proof: &[MerkleHash],
        note: &str,
        log: &NoteVerifier,
    ) -> Result<Self, RequestError> {
        let request = Self {
            old,
            proof: proof.to_vec(),
            note: note.to_owned(),
        };
        request.open(log)?;
        if request.to_body().len() > MAX_REQUEST_LEN {
            return Err(RequestError::TooLarge);
        }
        Ok(request)
    }

    /// Reads a request body strictly: UTF-8, the `old` line, canonical base64 hashes of 32
    /// bytes, at most [`MAX_PROOF_LINES`], a blank line, and a note whose syntax is valid.
    /// Nothing is verified: see [`AddCheckpoint::open`].
    pub fn parse(body: &[u8]) -> Result<Self, RequestError> {
        if body.len() > MAX_REQUEST_LEN {
            return Err(RequestError::TooLarge);
        }
        let bad = |line: usize, why: &'static str| RequestError::Line { line, why };
        let text = std::str::from_utf8(body).map_err(|_| bad(1, "the body is not UTF-8"))?;
        // No header line is empty, so the first blank line ends the header.
        let (head, note) = text
            .split_once("\n\n")
            .ok_or_else(|| bad(1, "no blank line before the checkpoint"))?;
        let mut lines = head.split('\n').enumerate().map(|(n, l)| (n + 1, l));
        let old = lines
            .next()
            .and_then(|(_, l)| l.strip_prefix("old "))
            .and_then(parse_decimal)
            .filter(|&old| old <= MAX_SIZE)
            .ok_or_else(|| bad(1, "not `old <decimal without leading zeros>`"))?;
        let mut proof = Vec::new();
        for (n, line) in lines {
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad(n, "more than 63 proof hashes"));
            }
            // A base64 SHA-256 hash is 44 characters: nothing longer is decoded.
            let hash = (line.len() == 44)
                .then(|| MerkleHash::from_base64(line))
                .flatten()
                .ok_or_else(|| bad(n, "not a canonical base64 SHA-256 hash"))?;
            proof.push(hash);
        }
        let note_line = head.split('\n').count() + 2;
        if note.is_empty() {
            return Err(bad(note_line, "no checkpoint after the blank line"));
        }
        split_signed(note).map_err(|_| bad(note_line, "the checkpoint is not a signed note"))?;
        Ok(Self {
            old,
            proof,
            note: note.to_owned(),
        })
    }

    /// Verifies the note's signature by `log`, reads its checkpoint (three lines, no
    /// extensions) and checks `old` and the proof's length against its size. The proof's
    /// hashes are checked by the tree code, against the witness's root at `old`.
    pub fn open(&self, log: &NoteVerifier) -> Result<Checkpoint, RequestError> {
        let checkpoint = Checkpoint::open(&self.note, log)?;
        let size = checkpoint.size();
        let expected = consistency_proof_len(self.old, size).ok_or(RequestError::OldLarger {
            old: self.old,
            size,
        })?;
        if self.proof.len() != expected {
            return Err(RequestError::ProofLength {
                old: self.old,
                size,
                got: self.proof.len(),
                expected,
            });
        }
        Ok(checkpoint)
    }

    /// The size the witness is said to hold.
    pub fn old(&self) -> u64 {
        self.old
    }

    /// The consistency proof.
    pub fn proof(&self) -> &[MerkleHash] {
        &self.proof
    }

    /// The signed checkpoint note, verbatim.
    pub fn note(&self) -> &str {
        &self.note
    }

    /// The request body.
    pub fn to_body(&self) -> String {
        let mut out = format!("old {}\n", self.old);
        for hash in &self.proof {
            out.push_str(&hash.to_base64());
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.note);
        out
    }
}
