//! RFC 6962 inclusion ("audit path") and consistency proofs, exactly as Go's
//! `golang.org/x/mod/sumdb/tlog` builds and checks them.
//!
//! A proof's length is fixed by the sizes and the index, so the checks refuse any other length
//! before hashing: a missing, extra or empty proof is [`ProofError::WrongLength`], never a
//! match.

use super::hash::{MerkleHash, node_hash};
use super::stored::{HashReader, MAX_TREE_SIZE, combine, maxpow2, subtree_count, subtree_indexes};
use super::{InputError, TreeError};

/// Which kind of proof an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofKind {
    /// An inclusion proof (record in tree).
    Inclusion,
    /// A consistency proof (old tree is a prefix of new tree).
    Consistency,
}

impl std::fmt::Display for ProofKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProofKind::Inclusion => "inclusion proof",
            ProofKind::Consistency => "consistency proof",
        })
    }
}

/// A proof that does not prove what it is checked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The sizes or the index describe no proof.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The proof has another number of hashes than the sizes and index need.
    #[error("{kind}: {got} hashes, the sizes need {expected}")]
    WrongLength {
        /// The kind of proof.
        kind: ProofKind,
        /// Hashes needed.
        expected: usize,
        /// Hashes given.
        got: usize,
    },
    /// The proof leads to another root than the (new) tree's.
    #[error("{kind}: does not lead to the tree's root")]
    RootMismatch {
        /// The kind of proof.
        kind: ProofKind,
    },
    /// The consistency proof leads to another root than the old tree's.
    #[error("consistency proof: does not lead to the old tree's root")]
    OldRootMismatch,
}

/// One step down from the root of `[lo, hi)` towards a leaf or an old size: whether the
/// path goes into the left subtree (the sibling is on the right), and the sibling's range.
#[derive(Clone, Copy)]
struct Step {
    went_left: bool,
    sibling: (u64, u64),
}

/// Walks down from the root of a tree of size `t` while `more(lo, hi)` holds for the current
/// range `[lo, hi)`, into the left subtree when `left(lo + k)` (k: the largest power of two
/// below the range's size); returns the steps, top-down, and the range it stopped at.
fn descend(
    t: u64,
    more: impl Fn(u64, u64) -> bool,
    left: impl Fn(u64) -> bool,
) -> (Vec<Step>, u64, u64) {
    let (mut lo, mut hi) = (0, t);
    let mut steps = Vec::new();
    while more(lo, hi) {
        let (k, _) = maxpow2(hi - lo);
        if left(lo + k) {
            steps.push(Step {
                went_left: true,
                sibling: (lo + k, hi),
            });
            hi = lo + k;
        } else {
            steps.push(Step {
                went_left: false,
                sibling: (lo, lo + k),
            });
            lo += k;
        }
    }
    (steps, lo, hi)
}

/// The steps from the root of a tree of size `t` to leaf `n` (`n < t`), top-down.
fn record_path(t: u64, n: u64) -> Vec<Step> {
    descend(t, |lo, hi| hi - lo > 1, |mid| n < mid).0
}

/// The steps from the root of a tree of size `t` to the old size `n` (`0 < n <= t`),
/// top-down, and the range ending at `n` whose hash the proof starts with (`None` when that
/// range starts at 0: the old root itself).
fn tree_path(t: u64, n: u64) -> (Vec<Step>, Option<(u64, u64)>) {
    let (steps, lo, hi) = descend(t, |_, hi| n != hi, |mid| n <= mid);
    (steps, (lo != 0).then_some((lo, hi)))
}

/// Reads the hashes of `ranges` (each a union of complete subtrees) in one call.
fn read_ranges<R: HashReader + ?Sized>(
    ranges: &[(u64, u64)],
    reader: &mut R,
) -> Result<Vec<MerkleHash>, TreeError<R::Error>> {
    let mut indexes = Vec::new();
    for &(lo, hi) in ranges {
        subtree_indexes(lo, hi, &mut indexes);
    }
    let mut hashes = vec![MerkleHash::default(); indexes.len()];
    reader
        .read_hashes(&indexes, &mut hashes)
        .map_err(TreeError::Read)?;
    let mut rest = hashes.as_slice();
    let mut proof = Vec::with_capacity(ranges.len());
    for &(lo, hi) in ranges {
        let (these, more) = rest
            .split_at_checked(subtree_count(lo, hi))
            .ok_or(TreeError::Internal)?;
        proof.push(combine(these).ok_or(TreeError::Internal)?);
        rest = more;
    }
    if !rest.is_empty() {
        return Err(TreeError::Internal);
    }
    Ok(proof)
}

/// The number of hashes in the inclusion proof of record `n` in the tree of size `t`
/// (`None` when `n` is not in the tree). Any `u64` sizes: what a proof file may claim.
pub fn inclusion_proof_len(n: u64, t: u64) -> Option<usize> {
    (n < t).then(|| record_path(t, n).len())
}

/// The number of hashes in the consistency proof from the tree of size `n` to the tree of
/// size `t`, as tlog-witness sends it: none from the empty tree or between equal sizes;
/// `None` when `n > t`.
pub fn consistency_proof_len(n: u64, t: u64) -> Option<usize> {
    if n > t {
        return None;
    }
    if n == 0 || n == t {
        return Some(0);
    }
    let (steps, start) = tree_path(t, n);
    Some(steps.len() + usize::from(start.is_some()))
}

/// The inclusion proof of record `n` in the tree of size `t` (Go's `ProveRecord`): the
/// sibling hashes from the leaf up.
pub fn prove_record<R: HashReader + ?Sized>(
    t: u64,
    n: u64,
    reader: &mut R,
) -> Result<Vec<MerkleHash>, TreeError<R::Error>> {
    if t > MAX_TREE_SIZE {
        return Err(InputError::TooLarge { size: t }.into());
    }
    if n >= t {
        return Err(InputError::RecordOutOfRange { index: n, size: t }.into());
    }
    let ranges: Vec<_> = record_path(t, n).iter().rev().map(|s| s.sibling).collect();
    read_ranges(&ranges, reader)
}

/// Checks that `proof` proves leaf hash `leaf` is record `n` of the tree of size `t` and root
/// `root` (Go's `CheckRecord`).
pub fn check_record(
    proof: &[MerkleHash],
    t: u64,
    root: &MerkleHash,
    n: u64,
    leaf: &MerkleHash,
) -> Result<(), ProofError> {
    if n >= t {
        return Err(InputError::RecordOutOfRange { index: n, size: t }.into());
    }
    let steps = record_path(t, n);
    if proof.len() != steps.len() {
        return Err(ProofError::WrongLength {
            kind: ProofKind::Inclusion,
            expected: steps.len(),
            got: proof.len(),
        });
    }
    let mut h = *leaf;
    for (step, sibling) in steps.iter().rev().zip(proof) {
        h = if step.went_left {
            node_hash(&h, sibling)
        } else {
            node_hash(sibling, &h)
        };
    }
    if h != *root {
        return Err(ProofError::RootMismatch {
            kind: ProofKind::Inclusion,
        });
    }
    Ok(())
}

fn check_sizes(t: u64, n: u64) -> Result<(), InputError> {
    if n == 0 {
        return Err(InputError::EmptyOldTree);
    }
    if n > t {
        return Err(InputError::OldLarger { old: n, new: t });
    }
    Ok(())
}

/// The consistency proof from the tree of size `n` to the tree of size `t` (Go's
/// `ProveTree`; empty when `n == t`).
pub fn prove_tree<R: HashReader + ?Sized>(
    t: u64,
    n: u64,
    reader: &mut R,
) -> Result<Vec<MerkleHash>, TreeError<R::Error>> {
    if t > MAX_TREE_SIZE {
        return Err(InputError::TooLarge { size: t }.into());
    }
    check_sizes(t, n)?;
    let (steps, start) = tree_path(t, n);
    let ranges: Vec<_> = start
        .into_iter()
        .chain(steps.iter().rev().map(|s| s.sibling))
        .collect();
    read_ranges(&ranges, reader)
}

/// Checks that `proof` proves the tree of size `n` and root `root_n` is a prefix of the tree
/// of size `t` and root `root_t` (Go's `CheckTree`). `n == t` needs an empty proof and equal
/// roots; `n == 0` is refused (every tree extends the empty one: there is nothing to check).
pub fn check_tree(
    proof: &[MerkleHash],
    t: u64,
    root_t: &MerkleHash,
    n: u64,
    root_n: &MerkleHash,
) -> Result<(), ProofError> {
    check_sizes(t, n)?;
    let (steps, start) = tree_path(t, n);
    let expected = steps.len() + usize::from(start.is_some());
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            kind: ProofKind::Consistency,
            expected,
            got: proof.len(),
        });
    }
    let mut rest = proof.iter();
    // (old, new): the old tree's and the new tree's hash of the range walked so far.
    let (mut old, mut new) = match start {
        None => (*root_n, *root_n),
        Some(_) => match rest.next() {
            Some(h) => (*h, *h),
            None => {
                return Err(ProofError::WrongLength {
                    kind: ProofKind::Consistency,
                    expected,
                    got: 0,
                });
            }
        },
    };
    for (step, sibling) in steps.iter().rev().zip(rest) {
        if step.went_left {
            new = node_hash(&new, sibling);
        } else {
            old = node_hash(sibling, &old);
            new = node_hash(sibling, &new);
        }
    }
    if new != *root_t {
        return Err(ProofError::RootMismatch {
            kind: ProofKind::Consistency,
        });
    }
    if old != *root_n {
        return Err(ProofError::OldRootMismatch);
    }
    Ok(())
}
