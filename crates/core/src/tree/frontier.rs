//! The right edge of a tree (its "frontier"): the hashes of its maximal complete subtrees,
//! largest (leftmost) first, one per set bit of the size, with the size.
//!
//! That is all an append needs: record `n` closes one complete subtree per trailing one bit of
//! `n`, and the left sibling of each is the frontier's last hash. [`Frontier::push`] therefore
//! yields exactly the stored hashes Go's layout gives record `n` (what
//! [`append_stored_hashes`](super::append_stored_hashes) yields from a reader) without reading
//! anything, and [`Frontier::root`] is the RFC 6962 root of the current size. A frontier holds
//! at most 62 hashes: appending and recomputing a tree take `O(log n)` memory.

use super::hash::{MerkleHash, node_hash};
use super::stored::{HashReader, MAX_TREE_SIZE, combine, subtree_indexes};
use super::{InputError, TreeError};

/// A frontier that cannot be made or extended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrontierError {
    /// The size is beyond [`MAX_TREE_SIZE`] (also: pushing onto a full tree).
    #[error(transparent)]
    Input(#[from] InputError),
    /// Another number of hashes than the size has set bits.
    #[error("frontier of tree size {size}: {got} hashes, the size needs {expected}")]
    WrongCount {
        /// The tree size.
        size: u64,
        /// Hashes needed (the number of set bits of the size).
        expected: usize,
        /// Hashes given.
        got: usize,
    },
}

/// The right edge of a tree of some size: see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    /// The complete-subtree hashes, largest first; `len == size.count_ones()`.
    hashes: Vec<MerkleHash>,
}

/// The number of frontier hashes of a tree of size `size`.
fn count(size: u64) -> usize {
    size.count_ones() as usize
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The frontier of a tree of size `size` from its hashes, largest subtree first (as
    /// [`Frontier::hashes`] gives them). Exactly `size.count_ones()` hashes, else
    /// [`FrontierError::WrongCount`].
    pub fn from_hashes(size: u64, hashes: &[MerkleHash]) -> Result<Self, FrontierError> {
        if size > MAX_TREE_SIZE {
            return Err(InputError::TooLarge { size }.into());
        }
        let expected = count(size);
        if hashes.len() != expected {
            return Err(FrontierError::WrongCount {
                size,
                expected,
                got: hashes.len(),
            });
        }
        Ok(Self {
            size,
            hashes: hashes.to_vec(),
        })
    }

    /// The frontier of the tree of size `size` from its stored hashes: `size.count_ones()`
    /// hashes (at most 62), read in one call.
    pub fn from_reader<R: HashReader + ?Sized>(
        size: u64,
        reader: &mut R,
    ) -> Result<Self, TreeError<R::Error>> {
        if size > MAX_TREE_SIZE {
            return Err(InputError::TooLarge { size }.into());
        }
        let mut indexes = Vec::with_capacity(count(size));
        subtree_indexes(0, size, &mut indexes);
        if indexes.len() != count(size) {
            return Err(TreeError::Internal);
        }
        let mut hashes = vec![MerkleHash::default(); indexes.len()];
        reader
            .read_hashes(&indexes, &mut hashes)
            .map_err(TreeError::Read)?;
        Ok(Self { size, hashes })
    }

    /// The tree size (number of leaves).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the tree is empty.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// The hashes of the maximal complete subtrees, largest (leftmost) first.
    pub fn hashes(&self) -> &[MerkleHash] {
        &self.hashes
    }

    /// The RFC 6962 root of the tree of the current size (`SHA-256("")` for size 0).
    pub fn root(&self) -> MerkleHash {
        combine(&self.hashes).unwrap_or_else(MerkleHash::empty_tree)
    }

    /// Appends the leaf with hash `leaf` as record `size()`, and appends to `out` the stored
    /// hashes Go's layout gives that record, in index order: `leaf`, then each complete
    /// subtree it closes (`1 + trailing_ones(size)` hashes). Refused, with nothing changed,
    /// when the tree already has [`MAX_TREE_SIZE`] leaves.
    pub fn push(
        &mut self,
        leaf: MerkleHash,
        out: &mut Vec<MerkleHash>,
    ) -> Result<(), FrontierError> {
        if self.size >= MAX_TREE_SIZE {
            return Err(InputError::TooLarge {
                size: self.size.saturating_add(1),
            }
            .into());
        }
        // The subtrees record `size` closes have the frontier's last `trailing_ones` hashes as
        // left siblings (the invariant `len == count_ones` guarantees there are that many).
        let closes = self.size.trailing_ones() as usize;
        let keep = self
            .hashes
            .len()
            .checked_sub(closes)
            .ok_or(FrontierError::WrongCount {
                size: self.size,
                expected: count(self.size),
                got: self.hashes.len(),
            })?;
        out.reserve(closes + 1);
        let mut h = leaf;
        out.push(h);
        for sibling in self.hashes.drain(keep..).rev() {
            h = node_hash(&sibling, &h);
            out.push(h);
        }
        self.hashes.push(h);
        self.size += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{append_stored_hashes, leaf_hash, tree_hash};

    #[test]
    fn push_matches_stored_layout() {
        let mut stored = Vec::new();
        let mut added = Vec::new();
        let mut mine = Vec::new();
        let mut f = Frontier::new();
        assert_eq!(f.root(), MerkleHash::empty_tree());
        for n in 0..64u64 {
            let leaf = leaf_hash(&n.to_be_bytes());
            added.clear();
            append_stored_hashes(n, leaf, &mut stored, &mut added).unwrap();
            mine.clear();
            f.push(leaf, &mut mine).unwrap();
            assert_eq!(mine, added, "record {n}");
            stored.extend_from_slice(&added);
            assert_eq!(f.root(), tree_hash(n + 1, &mut stored).unwrap());
        }
    }

    #[test]
    fn full_tree_is_refused_unchanged() {
        let mut f = Frontier::from_hashes(MAX_TREE_SIZE, &[MerkleHash::default()]).unwrap();
        let before = f.clone();
        let mut out = Vec::new();
        assert!(matches!(
            f.push(MerkleHash::default(), &mut out),
            Err(FrontierError::Input(InputError::TooLarge { .. }))
        ));
        assert_eq!(f, before);
        assert!(out.is_empty());
    }
}
