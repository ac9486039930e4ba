//! Whether checkpoints that were already verified (signature, origin rules) describe one
//! append-only tree: two checkpoints and a consistency proof ([`check_consistency`], or
//! [`check_consistency_with`] reading the proof from stored hashes), and a checkpoint against
//! the current tree ([`check_against_frontier`]).
//!
//! A checkpoint that is not consistent is an outcome ([`Consistency::Fork`],
//! [`FrontierCheck`]), not an error: errors are for what describes no comparison at all
//! (different origins, sizes beyond the tree, a proof of the wrong length, a failing reader).

use std::convert::Infallible;

use super::frontier::Frontier;
use super::hash::MerkleHash;
use super::proof::{ProofError, check_tree, prove_tree};
use super::stored::{HashReader, MAX_TREE_SIZE, tree_hash};
use super::{InputError, TreeError};
use crate::checkpoint::Checkpoint;

/// A tree size with its root hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    /// The tree size.
    pub size: u64,
    /// The root hash at that size.
    pub root: MerkleHash,
}

impl TreeHead {
    /// The size and root a checkpoint states.
    pub fn of(checkpoint: &Checkpoint) -> Self {
        Self {
            size: checkpoint.size(),
            root: MerkleHash(*checkpoint.root()),
        }
    }
}

/// Why two checkpoints were found not to be consistent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForkEvidence {
    /// The sizes are equal and the roots differ.
    SameSize,
    /// The proof leads to the newer root, and through it to another root at the older size
    /// than the older checkpoint states (for an older size 0: a root other than
    /// `SHA-256("")`). Under SHA-256's collision resistance the newer tree does not extend the
    /// older one.
    OlderRootDiffers,
    /// The proof does not lead to the newer root: consistency is not shown. (When the older
    /// size is a power of two the proof does not carry the older root, which is then checked
    /// as part of the path: a fork shows as this, not as [`ForkEvidence::OlderRootDiffers`].)
    ProofFails,
}

/// Two checkpoints of one origin that are not consistent (a split view), naming both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fork {
    /// The origin both checkpoints state.
    pub origin: String,
    /// The checkpoint of the smaller size (the first given when the sizes are equal).
    pub older: TreeHead,
    /// The checkpoint of the larger size.
    pub newer: TreeHead,
    /// What shows it.
    pub evidence: ForkEvidence,
}

/// The outcome of comparing two checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Consistency {
    /// The newer tree extends the older one (for equal sizes: the roots are equal).
    Consistent,
    /// They are not shown consistent.
    Fork(Fork),
}

/// The outcome of comparing a checkpoint with the current tree.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrontierCheck {
    /// The tree's root at the checkpoint's size is the checkpoint's root.
    Consistent,
    /// The tree's root at the checkpoint's size is another one.
    Fork {
        /// What the checkpoint states.
        checkpoint: TreeHead,
        /// The tree's head at the checkpoint's size.
        tree: TreeHead,
    },
    /// The checkpoint is of a larger size than the tree: the store was truncated or rolled
    /// back (or the checkpoint is of another log).
    AheadOfStore {
        /// What the checkpoint states.
        checkpoint: TreeHead,
        /// The tree's size.
        tree_size: u64,
    },
    /// The stored hashes do not lead to the frontier's root: the tree's root at the
    /// checkpoint's size cannot be told (the stored hashes were altered, or the frontier is of
    /// another tree).
    StoredHashesDisagree {
        /// The checkpoint's size.
        size: u64,
        /// The tree's size.
        tree_size: u64,
    },
}

/// A comparison that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsistencyError<E = Infallible> {
    /// The checkpoints state different origins: they are of different logs.
    #[error("checkpoint origin `{newer}`: not the other checkpoint's origin `{older}`")]
    OriginMismatch {
        /// The origin of the older checkpoint.
        older: String,
        /// The origin of the newer checkpoint.
        newer: String,
    },
    /// A size beyond the tree's range.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A proof of another length than the sizes need.
    #[error(transparent)]
    Proof(ProofError),
    /// The [`HashReader`] failed.
    #[error("stored hashes: {0}")]
    Read(E),
    /// The index arithmetic disagreed with itself (a bug in this module; never expected).
    #[error("consistency: internal index mismatch")]
    Internal,
}

impl<E> From<TreeError<E>> for ConsistencyError<E> {
    fn from(e: TreeError<E>) -> Self {
        match e {
            TreeError::Input(e) => ConsistencyError::Input(e),
            TreeError::Read(e) => ConsistencyError::Read(e),
            TreeError::Internal => ConsistencyError::Internal,
        }
    }
}

/// The two checkpoints by size (the first given is the older one on equal sizes), after
/// checking they are of one origin and of sizes the tree supports.
fn order<'c, E>(
    a: &'c Checkpoint,
    b: &'c Checkpoint,
) -> Result<(&'c Checkpoint, &'c Checkpoint), ConsistencyError<E>> {
    let (older, newer) = if b.size() < a.size() { (b, a) } else { (a, b) };
    if older.origin() != newer.origin() {
        return Err(ConsistencyError::OriginMismatch {
            older: older.origin().to_owned(),
            newer: newer.origin().to_owned(),
        });
    }
    if newer.size() > MAX_TREE_SIZE {
        return Err(InputError::TooLarge { size: newer.size() }.into());
    }
    Ok((older, newer))
}

/// Decides for ordered checkpoints of one origin and sizes in range.
fn decide<E>(
    older: &Checkpoint,
    newer: &Checkpoint,
    proof: &[MerkleHash],
) -> Result<Consistency, ConsistencyError<E>> {
    let (old, new) = (TreeHead::of(older), TreeHead::of(newer));
    let fork = |evidence| {
        Ok(Consistency::Fork(Fork {
            origin: older.origin().to_owned(),
            older: old,
            newer: new,
            evidence,
        }))
    };
    if old.size == new.size || old.size == 0 {
        // No hashes prove anything here: the roots are compared directly.
        if !proof.is_empty() {
            return Err(ConsistencyError::Proof(ProofError::WrongLength {
                kind: super::ProofKind::Consistency,
                expected: 0,
                got: proof.len(),
            }));
        }
        return if old.size == new.size && old.root != new.root {
            fork(ForkEvidence::SameSize)
        } else if old.size == 0 && old.root != MerkleHash::empty_tree() {
            fork(ForkEvidence::OlderRootDiffers)
        } else {
            Ok(Consistency::Consistent)
        };
    }
    match check_tree(proof, new.size, &new.root, old.size, &old.root) {
        Ok(()) => Ok(Consistency::Consistent),
        Err(ProofError::OldRootMismatch) => fork(ForkEvidence::OlderRootDiffers),
        Err(ProofError::RootMismatch { .. }) => fork(ForkEvidence::ProofFails),
        Err(ProofError::Input(e)) => Err(e.into()),
        Err(e) => Err(ConsistencyError::Proof(e)),
    }
}

/// Compares two verified checkpoints, given in either order, with `proof`: the RFC 6962
/// consistency proof from the smaller size to the larger (empty for equal sizes or a smaller
/// size 0). Different origins, sizes beyond [`MAX_TREE_SIZE`] and a proof of the wrong length
/// are errors; a proof that does not verify, or equal sizes with different roots, are a
/// [`Consistency::Fork`].
pub fn check_consistency(
    a: &Checkpoint,
    b: &Checkpoint,
    proof: &[MerkleHash],
) -> Result<Consistency, ConsistencyError> {
    let (older, newer) = order(a, b)?;
    decide(older, newer, proof)
}

/// As [`check_consistency`], with the proof built from the stored hashes `reader` holds (a
/// tree of at least the larger size).
pub fn check_consistency_with<R: HashReader + ?Sized>(
    a: &Checkpoint,
    b: &Checkpoint,
    reader: &mut R,
) -> Result<Consistency, ConsistencyError<R::Error>> {
    let (older, newer) = order(a, b)?;
    let proof = if older.size() == 0 || older.size() == newer.size() {
        Vec::new()
    } else {
        prove_tree(newer.size(), older.size(), reader)?
    };
    decide(older, newer, &proof)
}

/// Compares a verified checkpoint with the current tree: `frontier` is its right edge and
/// `reader` its stored hashes. A checkpoint of the frontier's size is compared with the
/// frontier's root (nothing is read); a smaller one with the tree's root at its size, read from
/// the stored hashes and proven consistent with the frontier's root (so altered stored hashes
/// give [`FrontierCheck::StoredHashesDisagree`], never a wrong verdict); a larger one is
/// [`FrontierCheck::AheadOfStore`]. The origin is the caller's to check (a frontier has none).
pub fn check_against_frontier<R: HashReader + ?Sized>(
    checkpoint: &Checkpoint,
    frontier: &Frontier,
    reader: &mut R,
) -> Result<FrontierCheck, ConsistencyError<R::Error>> {
    check_head_against_frontier(TreeHead::of(checkpoint), frontier, reader)
}

/// As [`check_against_frontier`], for a size and root that another signed statement pins (a
/// head anchor's `tree` line).
pub fn check_head_against_frontier<R: HashReader + ?Sized>(
    claimed: TreeHead,
    frontier: &Frontier,
    reader: &mut R,
) -> Result<FrontierCheck, ConsistencyError<R::Error>> {
    let (m, n) = (claimed.size, frontier.size());
    if m > n {
        return Ok(FrontierCheck::AheadOfStore {
            checkpoint: claimed,
            tree_size: n,
        });
    }
    let actual = if m == n {
        frontier.root()
    } else if m == 0 {
        MerkleHash::empty_tree()
    } else {
        let at_m = tree_hash(m, reader)?;
        let proof = prove_tree(n, m, reader)?;
        match check_tree(&proof, n, &frontier.root(), m, &at_m) {
            Ok(()) => at_m,
            Err(ProofError::RootMismatch { .. } | ProofError::OldRootMismatch) => {
                return Ok(FrontierCheck::StoredHashesDisagree {
                    size: m,
                    tree_size: n,
                });
            }
            Err(_) => return Err(ConsistencyError::Internal),
        }
    };
    if actual == claimed.root {
        Ok(FrontierCheck::Consistent)
    } else {
        Ok(FrontierCheck::Fork {
            checkpoint: claimed,
            tree: TreeHead {
                size: m,
                root: actual,
            },
        })
    }
}
