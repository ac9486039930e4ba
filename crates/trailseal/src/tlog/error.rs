//! Why a checkpoint, a proof or a consistency proof cannot be made from a store.

use trailseal_core::checkpoint::CheckpointError;
use trailseal_core::tlog_proof::TlogProofError;
use trailseal_core::tree::{InputError, MerkleHash};

/// A transparency-log operation on a store that cannot be carried out. Nothing was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlogError {
    /// The store's tree has no leaf: there is nothing to sign or prove (size 0 is never
    /// published).
    #[error("{location}: the Merkle tree holds no record yet")]
    EmptyTree { location: String },
    /// The sizes or the index describe no tree, record or proof of this store's tree.
    #[error("{location}: {source}")]
    Input {
        location: String,
        #[source]
        source: InputError,
    },
    /// The tree arithmetic disagreed with itself (never expected).
    #[error("{location}: tree: internal index mismatch")]
    Internal { location: String },
    /// A checkpoint could not be made or read (its origin, its signature, its body).
    #[error("{what}: {source}")]
    Checkpoint {
        what: String,
        #[source]
        source: CheckpointError,
    },
    /// A checkpoint of a larger tree than the store holds: records were removed (truncation,
    /// a rollback to an older copy), or the tree was not brought up yet.
    #[error(
        "{location}: the checkpoint is of a tree of size {size}, the store's tree has {tree_size} leaves (records removed, a rollback, or a tree not brought up yet)"
    )]
    CheckpointAhead {
        location: String,
        size: u64,
        tree_size: u64,
    },
    /// A tree size beyond the store's tree.
    #[error("{location}: tree size {size}: the store's tree has only {tree_size} leaves")]
    SizeAhead {
        location: String,
        size: u64,
        tree_size: u64,
    },
    /// The checkpoint's root is not the store's tree root at its size: a fork (split view),
    /// or the checkpoint is of another log.
    #[error(
        "{location}: fork: the checkpoint of {origin} at size {size} has root {}, the store's tree has root {} at that size",
        checkpoint_root.to_base64(),
        tree_root.to_base64()
    )]
    Fork {
        location: String,
        origin: String,
        size: u64,
        checkpoint_root: MerkleHash,
        tree_root: MerkleHash,
    },
    /// The record is not a leaf of the tree of that size.
    #[error("seq {seq}: not in the tree of size {size} (its leaves are seqs {base} to {})", base.saturating_add(*size).saturating_sub(1))]
    NotInTree { seq: u64, base: u64, size: u64 },
    /// The record cannot be read or fails its check, or its leaf is not the stored one: no
    /// leaf entry is given out for it.
    #[error("seq {seq}: {problem}")]
    Record { seq: u64, problem: String },
    /// The proof file cannot be made (its extra data is too large, for example).
    #[error("seq {seq}: the proof file: {source}")]
    ProofFile {
        seq: u64,
        #[source]
        source: TlogProofError,
    },
}
