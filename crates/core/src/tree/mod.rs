//! The RFC 6962 / C2SP Merkle tree over the log's records: hashing ([`hash`]), Go tlog's
//! write-once stored-hash layout ([`stored`]), inclusion and consistency proofs ([`proof`]),
//! and C2SP tlog-tiles ([`tile`], entry bundles in [`entries`]).
//!
//! Everything here is pure: storage backends implement [`HashReader`] (and [`TileSource`] for
//! tiles) and this module does the arithmetic. Sizes are `u64`; trees of up to
//! [`MAX_TREE_SIZE`] leaves are supported and larger inputs are refused with a typed error,
//! never a panic or an overflow.

pub mod consistency;
pub mod entries;
pub mod frontier;
pub mod hash;
pub mod proof;
pub mod stored;
pub mod tile;

pub use consistency::{
    Consistency, ConsistencyError, Fork, ForkEvidence, FrontierCheck, TreeHead,
    check_against_frontier, check_consistency, check_consistency_with, check_head_against_frontier,
};
pub use entries::{EntryBundleError, MAX_ENTRY_SIZE, parse_entry_bundle, push_bundle_entry};
pub use frontier::{Frontier, FrontierError};
pub use hash::{HASH_SIZE, MerkleHash, leaf_hash, node_hash};
pub use proof::{
    ProofError, ProofKind, check_record, check_tree, consistency_proof_len, inclusion_proof_len,
    prove_record, prove_tree,
};
pub use stored::{
    HashReader, MAX_TREE_SIZE, MissingHash, append_stored_hashes, split_stored_hash_index,
    stored_hash_count, stored_hash_index, stored_hashes_for_record, tree_hash, tree_size_for_count,
};
pub use tile::{
    TILE_HEIGHT, TILE_WIDTH, Tile, TileError, TileHashReader, TileKind, TilePathError, TileSource,
    entry_tiles, hash_tiles, tile_data,
};

/// Arguments that describe no tree, record or proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The record index is not below the tree size.
    #[error("record {index}: not in a tree of size {size}")]
    RecordOutOfRange {
        /// The record index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof from the empty tree (it has none).
    #[error("tree size 0: no consistency proof from the empty tree")]
    EmptyOldTree,
    /// A consistency proof from a larger tree to a smaller one.
    #[error("tree size {new}: smaller than the old size {old}")]
    OldLarger {
        /// The old size.
        old: u64,
        /// The new size.
        new: u64,
    },
    /// A size beyond [`MAX_TREE_SIZE`].
    #[error("tree size {size}: larger than the supported 2^62")]
    TooLarge {
        /// The size.
        size: u64,
    },
    /// A stored-hash index beyond the supported range.
    #[error("stored hash {index}: beyond the supported range")]
    IndexTooLarge {
        /// The index.
        index: u64,
    },
    /// A stored-hash index that is not in a tree of the given size.
    #[error("stored hash {index}: not in a tree of size {size}")]
    IndexNotInTree {
        /// The index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A tile whose hashes lie beyond the supported tree size.
    #[error("tile {path}: beyond the supported tree size")]
    TileOutOfRange {
        /// The tile's path.
        path: String,
    },
    /// An entry bundle where a hash tile is needed.
    #[error("tile {path}: an entry bundle, not a hash tile")]
    EntryTile {
        /// The tile's path.
        path: String,
    },
}

/// Reading stored hashes failed, or the arguments were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError<E> {
    /// The arguments describe no tree, record or proof.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The [`HashReader`] failed.
    #[error("stored hashes: {0}")]
    Read(E),
    /// The index arithmetic disagreed with itself (a bug in this module; never expected).
    #[error("tree: internal index mismatch")]
    Internal,
}
