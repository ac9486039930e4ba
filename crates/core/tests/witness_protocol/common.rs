//! Shared fixtures: a log key, witness keys, an in-memory tree.

use trailseal_core::checkpoint::Checkpoint;
use trailseal_core::cosignature::{WitnessKey, WitnessSigner};
use trailseal_core::note::{NoteSigner, NoteVerifier};
use trailseal_core::tree::{MerkleHash, append_stored_hashes, leaf_hash, prove_tree, tree_hash};

pub(crate) const ORIGIN: &str = "audit.example/log/tree";

pub(crate) fn log_signer() -> NoteSigner {
    NoteSigner::from_seed("audit.example/log", &[7u8; 32]).unwrap()
}

pub(crate) fn log() -> NoteVerifier {
    log_signer().verifier()
}

pub(crate) fn witness(n: u8) -> WitnessSigner {
    WitnessSigner::from_seed(&format!("witness{n}.example"), &[100 + n; 32]).unwrap()
}

pub(crate) fn wkey(n: u8) -> WitnessKey {
    witness(n).witness_key().clone()
}

/// A tree of leaves `"leaf <i>"` (or another family, for forks), with its stored hashes.
pub(crate) struct Tree {
    stored: Vec<MerkleHash>,
    size: u64,
    family: &'static str,
}

impl Tree {
    pub(crate) fn new(family: &'static str) -> Self {
        Self {
            stored: Vec::new(),
            size: 0,
            family,
        }
    }

    pub(crate) fn grow_to(&mut self, size: u64) {
        let mut added = Vec::new();
        while self.size < size {
            added.clear();
            let leaf = leaf_hash(format!("{} {}", self.family, self.size).as_bytes());
            append_stored_hashes(self.size, leaf, &mut self.stored, &mut added).unwrap();
            self.stored.extend_from_slice(&added);
            self.size += 1;
        }
    }

    pub(crate) fn root(&mut self, size: u64) -> MerkleHash {
        if size == 0 {
            return MerkleHash::empty_tree();
        }
        tree_hash(size, &mut self.stored).unwrap()
    }

    pub(crate) fn proof(&mut self, old: u64, size: u64) -> Vec<MerkleHash> {
        if old == 0 || old == size {
            return Vec::new();
        }
        prove_tree(size, old, &mut self.stored).unwrap()
    }

    pub(crate) fn checkpoint(&mut self, size: u64) -> Checkpoint {
        self.grow_to(size);
        Checkpoint::new(ORIGIN, size, self.root(size).0).unwrap()
    }

    /// The log-signed note of the checkpoint at `size`.
    pub(crate) fn note(&mut self, size: u64) -> String {
        self.checkpoint(size).sign(&log_signer()).unwrap()
    }
}

/// The body of a signed note.
pub(crate) fn body(note: &str) -> &str {
    &note[..note.rfind("\n\n").unwrap() + 1]
}

/// A signature line (with its newline) whose signature's last byte is flipped: still
/// canonical base64 of the same length, by the same key, no longer valid.
pub(crate) fn alter(line: &str) -> String {
    let (head, data) = line.trim_end().rsplit_once(' ').unwrap();
    let mut raw = trailseal_core::base64::decode(data).unwrap();
    *raw.last_mut().unwrap() ^= 1;
    format!("{head} {}\n", trailseal_core::base64::encode(&raw))
}
