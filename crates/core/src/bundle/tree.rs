//! The tree members of a format 3 bundle: the header's `tree` (the signed checkpoint of the
//! store's Merkle tree and the seq of its leaf 0) and, in each disclosed entry the tree holds,
//! `tree` (the record's 120-byte leaf, its salt and its inclusion proof in the checkpoint's
//! tree). With them, anyone holding the public key checks every disclosed trace against the
//! tree the checkpoint signs (docs/format.md §10, §12.1).

use crate::base64;
use crate::chain::Hash32;
use crate::checkpoint::{Checkpoint, CheckpointError, tree_origin};
use crate::json::{self, Kind, NodeRef};
use crate::leaf::{LEAF_LEN, Leaf, Salt, check_trace};
use crate::note::{NoteError, NoteVerifier};
use crate::tree::{MerkleHash, check_record, leaf_hash};

/// The most hashes an inclusion proof has (trees of up to 2^63 - 1 leaves).
pub const MAX_PROOF_HASHES: usize = 63;

/// What a bundle's header says about the tree: its signed checkpoint and the seq of leaf 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleTree {
    /// The seq of the record that is leaf 0 of the tree.
    pub base: u64,
    /// The checkpoint note, signed by the bundle's signing key.
    pub checkpoint: String,
}

/// The tree member of a disclosed entry.
#[derive(Clone, PartialEq, Eq)]
pub struct EntryTree {
    /// The record's tree entry (120 bytes).
    pub leaf: [u8; LEAF_LEN],
    /// The record's salt (disclosed with its trace only).
    pub salt: Salt,
    /// The inclusion proof of the leaf in the checkpoint's tree, from the leaf's sibling up.
    pub proof: Vec<MerkleHash>,
}

impl std::fmt::Debug for EntryTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryTree")
            .field("proof", &self.proof.len())
            .finish_non_exhaustive()
    }
}

/// A checkpoint the bundle's tree header cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TreeHeaderError {
    /// The note does not open with the bundle's key, or its body is not a checkpoint.
    #[error("the tree checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// Its origin is not the bundle origin's tree origin.
    #[error("the tree checkpoint names origin {got}, the bundle's tree is {expected}")]
    Origin { got: String, expected: String },
    /// A checkpoint of the empty tree proves nothing.
    #[error("the tree checkpoint is of the empty tree")]
    Empty,
    /// Leaf seqs beyond 2^64 - 1.
    #[error("the tree's leaves from seq {base} on, {size} of them, go beyond the largest seq")]
    Range { base: u64, size: u64 },
}

/// The tree a bundle's entries are checked against: the opened checkpoint and the seq range
/// it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenTree {
    pub checkpoint: Checkpoint,
    pub base: u64,
}

impl OpenTree {
    /// Opens `tree` with `verifier`: the note must verify, be exactly a checkpoint (read from
    /// the signed text only), name `tree_origin(bundle_origin)` and a tree of at least one leaf.
    pub fn open(
        tree: &BundleTree,
        verifier: &NoteVerifier,
        bundle_origin: &str,
    ) -> Result<Self, TreeHeaderError> {
        let checkpoint = Checkpoint::open(&tree.checkpoint, verifier)?;
        let expected = tree_origin(bundle_origin)?;
        if checkpoint.origin() != expected {
            return Err(TreeHeaderError::Origin {
                got: checkpoint.origin().to_owned(),
                expected,
            });
        }
        if checkpoint.size() == 0 {
            return Err(TreeHeaderError::Empty);
        }
        if tree.base.checked_add(checkpoint.size()).is_none() {
            return Err(TreeHeaderError::Range {
                base: tree.base,
                size: checkpoint.size(),
            });
        }
        Ok(Self {
            checkpoint,
            base: tree.base,
        })
    }

    /// The leaf index of the record at `seq`, `None` when the tree does not hold it.
    pub fn index_of(&self, seq: u64) -> Option<u64> {
        seq.checked_sub(self.base)
            .filter(|i| *i < self.checkpoint.size())
    }

    /// Checks an entry's tree member against the entry and the checkpoint. `canonical_trace`
    /// is the entry's trace in canonical form.
    pub fn check_entry(
        &self,
        seq: u64,
        prev_hash: &Hash32,
        record_hash: &Hash32,
        canonical_trace: &[u8],
        tree: &EntryTree,
    ) -> Result<(), EntryTreeError> {
        let index = self.index_of(seq).ok_or(EntryTreeError::NotInTree)?;
        let leaf = Leaf::parse(&tree.leaf).map_err(|_| EntryTreeError::Leaf)?;
        if leaf.seq != seq || leaf.prev_hash != *prev_hash || leaf.record_hash != *record_hash {
            return Err(EntryTreeError::LeafDiffers);
        }
        if !check_trace(&leaf, &tree.salt, canonical_trace) {
            return Err(EntryTreeError::Commitment);
        }
        let root = MerkleHash(*self.checkpoint.root());
        check_record(
            &tree.proof,
            self.checkpoint.size(),
            &root,
            index,
            &leaf_hash(&tree.leaf),
        )
        .map_err(|e| EntryTreeError::Proof(e.to_string()))
    }
}

/// An entry's tree member that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryTreeError {
    #[error("the checkpoint's tree does not hold this seq")]
    NotInTree,
    #[error("its leaf is not a trailseal/leaf/1 leaf")]
    Leaf,
    #[error("its leaf names another seq, prev_hash or record_hash than the entry")]
    LeafDiffers,
    #[error("its trace and salt do not match the leaf's trace commitment")]
    Commitment,
    #[error("its leaf is not in the checkpoint's tree ({0})")]
    Proof(String),
}

/// The header's `tree` member: `{"base":B,"checkpoint":"<note>"}`.
pub(super) fn tree_header_json(tree: &BundleTree) -> String {
    json::object(|o| {
        o.u64("base", tree.base).str("checkpoint", &tree.checkpoint);
    })
}

/// Reads the header's `tree` member: exactly `base` and `checkpoint`, in this order.
pub(super) fn parse_tree_header(node: NodeRef<'_>) -> Option<BundleTree> {
    if node.kind() != Kind::Object || node.members().map(|(k, _)| k).ne(["base", "checkpoint"]) {
        return None;
    }
    Some(BundleTree {
        base: node.get("base")?.as_u64()?,
        checkpoint: node.get("checkpoint")?.as_str()?.to_owned(),
    })
}

/// An entry's `tree` member: `{"leaf":b64,"proof":[b64,…],"salt":b64}`.
pub(super) fn entry_tree_json(tree: &EntryTree) -> String {
    json::object(|o| {
        o.str("leaf", &base64::encode(&tree.leaf))
            .array("proof", |a| {
                for h in &tree.proof {
                    a.str(&h.to_base64());
                }
            })
            .str("salt", &base64::encode(tree.salt.as_bytes()));
    })
}

/// Reads an entry's `tree` member: exactly `leaf`, `proof` and `salt`, in this order, each
/// canonical base64 of its length (120, 32 each for at most 63 proof hashes, 32).
pub(super) fn parse_entry_tree(node: NodeRef<'_>) -> Option<EntryTree> {
    if node.kind() != Kind::Object || node.members().map(|(k, _)| k).ne(["leaf", "proof", "salt"]) {
        return None;
    }
    let bytes = |n: NodeRef<'_>| n.as_str().and_then(|s| base64::decode(s).ok());
    let leaf: [u8; LEAF_LEN] = bytes(node.get("leaf")?)?.try_into().ok()?;
    let salt: [u8; 32] = bytes(node.get("salt")?)?.try_into().ok()?;
    let proof_node = node.get("proof")?;
    if proof_node.kind() != Kind::Array || proof_node.elements().count() > MAX_PROOF_HASHES {
        return None;
    }
    let proof = proof_node
        .elements()
        .map(|h| MerkleHash::from_slice(&bytes(h)?))
        .collect::<Option<Vec<_>>>()?;
    Some(EntryTree {
        leaf,
        salt: Salt::from_bytes(salt),
        proof,
    })
}

/// Whether a note error means "signed by another key" (told apart from tampering).
pub(super) fn is_other_key(e: &TreeHeaderError) -> bool {
    matches!(
        e,
        TreeHeaderError::Checkpoint(CheckpointError::Note(NoteError::NotSignedBy { .. }))
    )
}

/// Whether a note error means "the signature does not verify".
pub(super) fn is_bad_signature(e: &TreeHeaderError) -> bool {
    matches!(
        e,
        TreeHeaderError::Checkpoint(CheckpointError::Note(NoteError::BadSignature { .. }))
    )
}
