//! Go tlog's stored-hash layout: only hashes of complete subtrees are stored, write-once, in a
//! linear order. Record `n` appends `1 + trailing_ones(n)` hashes: its leaf hash, then the
//! hash of each complete subtree that it completes, bottom-up. The hash of the subtree at
//! `level` covering leaves `[n·2^level, (n+1)·2^level)` is stored at
//! [`stored_hash_index`]`(level, n)`.

use super::hash::{MerkleHash, node_hash};
use super::{InputError, TreeError};

/// The largest tree size supported (2^62 leaves): every stored-hash index then fits in a u64.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// Where storage hands out stored hashes by index (Go tlog's `HashReader`).
pub trait HashReader {
    /// What reading can fail with.
    type Error;

    /// Fills `out[i]` with the stored hash at `indexes[i]`; `out.len() == indexes.len()`.
    /// Indexes may come in any order and may repeat.
    fn read_hashes(&mut self, indexes: &[u64], out: &mut [MerkleHash]) -> Result<(), Self::Error>;
}

impl<R: HashReader + ?Sized> HashReader for &mut R {
    type Error = R::Error;
    fn read_hashes(&mut self, indexes: &[u64], out: &mut [MerkleHash]) -> Result<(), Self::Error> {
        (**self).read_hashes(indexes, out)
    }
}

/// A stored hash that an in-memory list does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stored hash {index}: missing")]
pub struct MissingHash {
    /// The index.
    pub index: u64,
}

/// All stored hashes in memory, in index order.
impl HashReader for [MerkleHash] {
    type Error = MissingHash;
    fn read_hashes(&mut self, indexes: &[u64], out: &mut [MerkleHash]) -> Result<(), MissingHash> {
        for (slot, &index) in out.iter_mut().zip(indexes) {
            let found = usize::try_from(index).ok().and_then(|i| self.get(i));
            *slot = *found.ok_or(MissingHash { index })?;
        }
        Ok(())
    }
}

impl HashReader for Vec<MerkleHash> {
    type Error = MissingHash;
    fn read_hashes(&mut self, indexes: &[u64], out: &mut [MerkleHash]) -> Result<(), MissingHash> {
        self.as_mut_slice().read_hashes(indexes, out)
    }
}

/// The index of a stored hash whose arguments are in range (`level <= 62`,
/// `n < MAX_TREE_SIZE >> level`): then nothing overflows.
pub(crate) fn index_in_range(level: u32, n: u64) -> u64 {
    // Go: n = 2n+1 `level` times, then the sum of n >> k over k, plus level.
    let m = ((n + 1) << level) - 1;
    2 * m - u64::from(m.count_ones()) + u64::from(level)
}

/// The index of the stored hash of the subtree at `level` covering leaves
/// `[n·2^level, (n+1)·2^level)` (Go's `StoredHashIndex`); `None` beyond [`MAX_TREE_SIZE`].
pub fn stored_hash_index(level: u32, n: u64) -> Option<u64> {
    (level <= 62 && n < MAX_TREE_SIZE >> level).then(|| index_in_range(level, n))
}

/// The `(level, n)` of a stored-hash index (Go's `SplitStoredHashIndex`); `None` beyond the
/// stored hashes of a tree of [`MAX_TREE_SIZE`].
pub fn split_stored_hash_index(index: u64) -> Option<(u32, u64)> {
    if index >= stored_hash_count(MAX_TREE_SIZE)? {
        return None;
    }
    // Go's search: start at the record index/2 (never past the answer) and walk forward.
    let mut n = index / 2;
    let mut index_n = index_in_range(0, n);
    if index_n > index {
        return None;
    }
    loop {
        let next = index_n + 1 + u64::from((n + 1).trailing_zeros());
        if next > index {
            break;
        }
        n += 1;
        index_n = next;
    }
    let level = u32::try_from(index - index_n).ok()?;
    let n = n.checked_shr(level)?;
    (stored_hash_index(level, n) == Some(index)).then_some((level, n))
}

/// How many hashes a tree of size `n` stores (Go's `StoredHashCount`); `None` beyond
/// [`MAX_TREE_SIZE`].
pub fn stored_hash_count(n: u64) -> Option<u64> {
    if n > MAX_TREE_SIZE {
        return None;
    }
    let Some(last) = n.checked_sub(1) else {
        return Some(0);
    };
    Some(index_in_range(0, last) + 1 + u64::from(last.trailing_ones()))
}

/// The size of the largest tree whose stored hashes fit in `count` hashes: the `n` with
/// `stored_hash_count(n) <= count < stored_hash_count(n + 1)`. A store that holds `count`
/// hashes describes a tree of exactly this size when `stored_hash_count(n) == count`; more
/// hashes than that are a write that did not finish (or damage).
pub fn tree_size_for_count(count: u64) -> u64 {
    // stored_hash_count(n) is 2n − popcount(n), between 2n − 64 and 2n: the answer lies in
    // [count/2, count/2 + 32], so the search needs six steps, not sixty-two.
    let (mut lo, mut hi) = (
        (count / 2).min(MAX_TREE_SIZE),
        (count / 2).saturating_add(32).min(MAX_TREE_SIZE),
    );
    // Invariant: stored_hash_count(lo) <= count, and every size above hi needs more.
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if stored_hash_count(mid).is_some_and(|c| c <= count) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

fn check_size<E>(size: u64) -> Result<(), TreeError<E>> {
    if size > MAX_TREE_SIZE {
        return Err(InputError::TooLarge { size }.into());
    }
    Ok(())
}

/// Appends to `out` the hashes record `n` adds to the stored hashes, in index order (they
/// start at [`stored_hash_count`]`(n)`): `leaf`, then each complete subtree it closes. Reads
/// the `trailing_ones(n)` left siblings from `reader` in one call; allocates nothing but
/// `out`'s growth (for appending many records, reuse `out`).
pub fn append_stored_hashes<R: HashReader + ?Sized>(
    n: u64,
    leaf: MerkleHash,
    reader: &mut R,
    out: &mut Vec<MerkleHash>,
) -> Result<(), TreeError<R::Error>> {
    check_size(n.saturating_add(1))?;
    let m = n.trailing_ones() as usize;
    let mut indexes = [0u64; 64];
    let mut siblings = [MerkleHash::default(); 64];
    let (Some(indexes), Some(siblings)) = (indexes.get_mut(..m), siblings.get_mut(..m)) else {
        return Err(TreeError::Internal);
    };
    // indexes[m-1-i] = StoredHashIndex(i, n>>i - 1): the left sibling at level i.
    for (level, slot) in (0u32..).zip(indexes.iter_mut().rev()) {
        *slot = index_in_range(level, (n >> level) - 1);
    }
    reader
        .read_hashes(indexes, siblings)
        .map_err(TreeError::Read)?;
    out.reserve(m + 1);
    let mut h = leaf;
    out.push(h);
    for sibling in siblings.iter().rev() {
        h = node_hash(sibling, &h);
        out.push(h);
    }
    Ok(())
}

/// The hashes record `n` (leaf hash `leaf`) adds to the stored hashes (Go's
/// `StoredHashesForRecordHash`): `1 + trailing_ones(n)` of them. See [`append_stored_hashes`].
pub fn stored_hashes_for_record<R: HashReader + ?Sized>(
    n: u64,
    leaf: MerkleHash,
    reader: &mut R,
) -> Result<Vec<MerkleHash>, TreeError<R::Error>> {
    let mut out = Vec::new();
    append_stored_hashes(n, leaf, reader, &mut out)?;
    Ok(out)
}

/// The largest power of two strictly below `n`, with its log (1 for `n <= 2`; Go's `maxpow2`).
pub(crate) fn maxpow2(n: u64) -> (u64, u32) {
    if n <= 2 {
        return (1, 0);
    }
    let level = 63 - (n - 1).leading_zeros();
    (1 << level, level)
}

/// Appends the stored-hash indexes of the complete subtrees that make up leaves `[lo, hi)`
/// (`lo` aligned, `hi <= MAX_TREE_SIZE`), largest first (Go's `subTreeIndex`).
pub(crate) fn subtree_indexes(mut lo: u64, hi: u64, out: &mut Vec<u64>) {
    while lo < hi {
        let (k, level) = maxpow2(hi - lo + 1);
        out.push(index_in_range(level, lo >> level));
        lo += k;
    }
}

/// How many stored hashes [`subtree_indexes`] lists for `[lo, hi)`.
pub(crate) fn subtree_count(mut lo: u64, hi: u64) -> usize {
    let mut count = 0;
    while lo < hi {
        lo += maxpow2(hi - lo + 1).0;
        count += 1;
    }
    count
}

/// Combines the subtree hashes of [`subtree_indexes`] into the hash of the range.
pub(crate) fn combine(hashes: &[MerkleHash]) -> Option<MerkleHash> {
    hashes
        .iter()
        .rev()
        .copied()
        .reduce(|right, left| node_hash(&left, &right))
}

/// The root of the tree of size `n` from its stored hashes (Go's `TreeHash`; at most 62 are
/// read). The empty tree's root is `SHA-256("")` (RFC 6962), where Go returns zeros.
pub fn tree_hash<R: HashReader + ?Sized>(
    n: u64,
    reader: &mut R,
) -> Result<MerkleHash, TreeError<R::Error>> {
    check_size(n)?;
    if n == 0 {
        return Ok(MerkleHash::empty_tree());
    }
    let mut indexes = Vec::with_capacity(64);
    subtree_indexes(0, n, &mut indexes);
    let mut hashes = vec![MerkleHash::default(); indexes.len()];
    reader
        .read_hashes(&indexes, &mut hashes)
        .map_err(TreeError::Read)?;
    combine(&hashes).ok_or(TreeError::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_for_count_inverts_the_count() {
        let sizes = (0..600u64).chain([1 << 20, (1 << 40) + 3, MAX_TREE_SIZE - 1, MAX_TREE_SIZE]);
        for n in sizes {
            let c = stored_hash_count(n).unwrap();
            assert_eq!(tree_size_for_count(c), n, "size {n}");
            if n < MAX_TREE_SIZE {
                let next = stored_hash_count(n + 1).unwrap();
                // Every count short of the next size's describes this size, plus debris.
                assert_eq!(tree_size_for_count(next - 1), n, "size {n}");
            }
        }
        assert_eq!(tree_size_for_count(u64::MAX), MAX_TREE_SIZE);
    }

    #[test]
    fn the_narrow_search_agrees_with_a_search_over_every_size() {
        let whole = |count: u64| {
            let (mut lo, mut hi) = (0u64, MAX_TREE_SIZE);
            while lo < hi {
                let mid = lo + (hi - lo).div_ceil(2);
                if stored_hash_count(mid).is_some_and(|c| c <= count) {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            lo
        };
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut counts: Vec<u64> = (0..4096).collect();
        for shift in 1..64 {
            let p = 1u64 << shift;
            counts.extend([p - 2, p - 1, p, p + 1, p.wrapping_mul(3) / 2]);
        }
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            counts.push(x >> (x % 64));
        }
        counts.extend([
            u64::MAX,
            u64::MAX - 1,
            2 * MAX_TREE_SIZE,
            2 * MAX_TREE_SIZE - 64,
        ]);
        for c in counts {
            assert_eq!(tree_size_for_count(c), whole(c), "count {c}");
        }
    }

    #[test]
    fn index_layout_matches_go() {
        // Go's tlog_test.go: StoredHashIndex round-trips and the first indexes are
        // 0 (leaf 0), 1 (leaf 1), 2 (level 1, 0), 3 (leaf 2), 4 (leaf 3), 5 (1,1), 6 (2,0).
        let expected = [
            (0, 0),
            (0, 1),
            (1, 0),
            (0, 2),
            (0, 3),
            (1, 1),
            (2, 0),
            (0, 4),
        ];
        for (index, &(level, n)) in (0u64..).zip(&expected) {
            assert_eq!(stored_hash_index(level, n), Some(index));
            assert_eq!(split_stored_hash_index(index), Some((level, n)));
        }
        for index in 0..100_000u64 {
            let (level, n) = split_stored_hash_index(index).unwrap();
            assert_eq!(stored_hash_index(level, n), Some(index));
        }
        assert_eq!(stored_hash_count(0), Some(0));
        assert_eq!(stored_hash_count(1), Some(1));
        assert_eq!(stored_hash_count(2), Some(3));
        assert_eq!(stored_hash_count(4), Some(7));
        assert_eq!(stored_hash_count(MAX_TREE_SIZE), Some(u64::MAX >> 1));
        assert_eq!(stored_hash_count(MAX_TREE_SIZE + 1), None);
        assert_eq!(stored_hash_index(0, MAX_TREE_SIZE), None);
        assert_eq!(stored_hash_index(63, 0), None);
        assert_eq!(split_stored_hash_index(u64::MAX), None);
        assert_eq!(
            split_stored_hash_index((1 << 63) - 64),
            Some((0, MAX_TREE_SIZE - 1))
        );
        assert_eq!(split_stored_hash_index((1 << 63) - 2), Some((62, 0)));
        assert_eq!(split_stored_hash_index(u64::MAX >> 1), None);
    }

    #[test]
    fn maxpow2_is_go() {
        for n in 1..2000u64 {
            let mut l = 0;
            while 1u64 << (l + 1) < n {
                l += 1;
            }
            assert_eq!(maxpow2(n), (1 << l, l), "{n}");
        }
    }

    #[test]
    fn hostile_sizes_are_refused() {
        let mut none: Vec<MerkleHash> = Vec::new();
        assert!(matches!(
            tree_hash(u64::MAX, &mut none),
            Err(TreeError::Input(InputError::TooLarge { .. }))
        ));
        assert!(matches!(
            stored_hashes_for_record(u64::MAX, MerkleHash::default(), &mut none),
            Err(TreeError::Input(InputError::TooLarge { .. }))
        ));
        assert!(matches!(
            stored_hashes_for_record(1, MerkleHash::default(), &mut none),
            Err(TreeError::Read(MissingHash { index: 0 }))
        ));
    }
}
