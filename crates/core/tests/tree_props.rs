//! The tree module against a naive RFC 6962 implementation written here from the RFC's
//! definitions (MTH, PATH, PROOF/SUBPROOF): roots, stored hashes, inclusion and consistency
//! proofs for every size 1..=300 and random larger ones; malformed and hostile proofs refused;
//! C2SP tiles written, read back and tampered with.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use proptest::prelude::*;
use trailseal_core::tree::{
    InputError, MerkleHash, ProofError, Tile, TileError, TileHashReader, TileKind, TileSource,
    append_stored_hashes, check_record, check_tree, entry_tiles, hash_tiles, leaf_hash, node_hash,
    prove_record, prove_tree, split_stored_hash_index, stored_hash_count, tile_data, tree_hash,
};

/// Leaf entry `i`: cheap and distinct.
fn entry(i: u64) -> Vec<u8> {
    format!("leaf {i}").into_bytes()
}

const BIG: u64 = 20_000;

/// Leaf hashes and our stored hashes for the first `BIG` records.
fn fixture() -> &'static (Vec<MerkleHash>, Vec<MerkleHash>) {
    static F: OnceLock<(Vec<MerkleHash>, Vec<MerkleHash>)> = OnceLock::new();
    F.get_or_init(|| {
        let leaves: Vec<_> = (0..BIG).map(|i| leaf_hash(&entry(i))).collect();
        let mut stored = Vec::new();
        let mut added = Vec::new();
        for (n, leaf) in (0u64..).zip(&leaves) {
            added.clear();
            append_stored_hashes(n, *leaf, &mut stored, &mut added).unwrap();
            assert_eq!(stored.len() as u64, stored_hash_count(n).unwrap());
            stored.extend_from_slice(&added);
        }
        (leaves, stored)
    })
}

/// The naive implementation: RFC 6962 section 2.1, over ranges of the fixture's leaves, with
/// MTH memoised by range (the definitions are unchanged).
struct Naive<'a> {
    leaves: &'a [MerkleHash],
    memo: RefCell<HashMap<(u64, u64), MerkleHash>>,
}

fn split(n: u64) -> u64 {
    // the largest power of two smaller than n (n >= 2)
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

impl Naive<'_> {
    fn new() -> Self {
        Naive {
            leaves: &fixture().0,
            memo: RefCell::default(),
        }
    }

    fn mth(&self, lo: u64, hi: u64) -> MerkleHash {
        if let Some(h) = self.memo.borrow().get(&(lo, hi)) {
            return *h;
        }
        let h = match hi - lo {
            0 => MerkleHash::empty_tree(),
            1 => self.leaves[lo as usize],
            n => {
                let k = split(n);
                node_hash(&self.mth(lo, lo + k), &self.mth(lo + k, hi))
            }
        };
        self.memo.borrow_mut().insert((lo, hi), h);
        h
    }

    /// PATH(m, D[lo:hi])
    fn path(&self, m: u64, lo: u64, hi: u64) -> Vec<MerkleHash> {
        let n = hi - lo;
        if n == 1 {
            return vec![];
        }
        let k = split(n);
        if m < k {
            let mut p = self.path(m, lo, lo + k);
            p.push(self.mth(lo + k, hi));
            p
        } else {
            let mut p = self.path(m - k, lo + k, hi);
            p.push(self.mth(lo, lo + k));
            p
        }
    }

    /// SUBPROOF(m, D[lo:hi], b)
    fn subproof(&self, m: u64, lo: u64, hi: u64, b: bool) -> Vec<MerkleHash> {
        let n = hi - lo;
        if m == n {
            return if b { vec![] } else { vec![self.mth(lo, hi)] };
        }
        let k = split(n);
        if m <= k {
            let mut p = self.subproof(m, lo, lo + k, b);
            p.push(self.mth(lo + k, hi));
            p
        } else {
            let mut p = self.subproof(m - k, lo + k, hi, false);
            p.push(self.mth(lo, lo + k));
            p
        }
    }
}

fn stored() -> Vec<MerkleHash> {
    fixture().1.clone()
}

fn check_pair(naive: &Naive<'_>, store: &mut Vec<MerkleHash>, t: u64, n: u64) {
    let root = naive.mth(0, t);
    if n < t {
        let proof = prove_record(t, n, store).unwrap();
        assert_eq!(proof, naive.path(n, 0, t), "inclusion t={t} n={n}");
        check_record(&proof, t, &root, n, &naive.leaves[n as usize]).unwrap();
    }
    if n >= 1 && n <= t {
        let proof = prove_tree(t, n, store).unwrap();
        assert_eq!(
            proof,
            naive.subproof(n, 0, t, true),
            "consistency t={t} n={n}"
        );
        check_tree(&proof, t, &root, n, &naive.mth(0, n)).unwrap();
    }
}

/// Roots, every inclusion proof and every consistency proof of every size 1..=300 are the
/// RFC's, and our checks accept them.
#[test]
fn every_size_to_300_matches_rfc6962() {
    let naive = Naive::new();
    let mut store = stored();
    assert_eq!(tree_hash(0, &mut store).unwrap(), MerkleHash::empty_tree());
    for t in 1..=300u64 {
        assert_eq!(
            tree_hash(t, &mut store).unwrap(),
            naive.mth(0, t),
            "root {t}"
        );
        for n in 0..=t {
            check_pair(&naive, &mut store, t, n);
        }
    }
}

/// Every stored hash is the RFC hash of the complete subtree its index names.
#[test]
fn stored_hashes_are_complete_subtrees() {
    let naive = Naive::new();
    let store = stored();
    for (index, h) in (0u64..).zip(&store).take(5000) {
        let (level, n) = split_stored_hash_index(index).unwrap();
        let lo = n << level;
        assert_eq!(*h, naive.mth(lo, lo + (1 << level)), "index {index}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random larger trees: roots and proofs are the RFC's.
    #[test]
    fn random_sizes_match_rfc6962(t in 301..=BIG, a in any::<u64>()) {
        let naive = Naive::new();
        let mut store = stored();
        prop_assert_eq!(tree_hash(t, &mut store).unwrap(), naive.mth(0, t));
        check_pair(&naive, &mut store, t, a % t);
        check_pair(&naive, &mut store, t, 1 + a % t);
    }

    /// Arbitrary sizes, indexes and proofs: the checks never panic and never accept.
    #[test]
    fn hostile_proofs_never_panic_or_pass(
        t in prop_oneof![any::<u64>(), 0..600u64],
        n in prop_oneof![any::<u64>(), 0..600u64],
        proof in prop::collection::vec(any::<[u8; 32]>().prop_map(MerkleHash), 0..70),
        root in any::<[u8; 32]>().prop_map(MerkleHash),
    ) {
        prop_assert!(check_record(&proof, t, &root, n, &root).is_err());
        prop_assert!(check_tree(&proof, t, &root, n, &proof.first().copied().unwrap_or(root)).is_err() || (t == n && proof.is_empty()));
        let mut store = stored();
        let _ = prove_record(t, n, &mut store);
        let _ = prove_tree(t, n, &mut store);
        let _ = tree_hash(t, &mut store);
        let mut added = Vec::new();
        let _ = append_stored_hashes(n, root, &mut store, &mut added);
    }

    /// The tiles a size adds are exactly those of the new size that the old size lacked.
    #[test]
    fn new_tiles_are_the_set_difference(old in 0..(1u64 << 20), new in 0..(1u64 << 20)) {
        let set = |size: u64| hash_tiles(0, size).collect::<BTreeSet<_>>();
        let want: BTreeSet<_> = set(new).difference(&set(old)).copied().collect();
        prop_assert_eq!(hash_tiles(old, new).collect::<BTreeSet<_>>(), want);
        let entries = |size: u64| entry_tiles(0, size).collect::<BTreeSet<_>>();
        let want: BTreeSet<_> = entries(new).difference(&entries(old)).copied().collect();
        prop_assert_eq!(entry_tiles(old, new).collect::<BTreeSet<_>>(), want);
    }

    /// Tile paths round-trip.
    #[test]
    fn tile_paths_round_trip(level in 0u8..=63, entries in any::<bool>(), n in any::<u64>(), width in 1u16..=256) {
        let kind = if entries { TileKind::Entries } else { TileKind::Hash(level) };
        let tile = Tile::new(kind, n, width).unwrap();
        prop_assert_eq!(Tile::parse_path(&tile.path()).unwrap(), tile);
    }
}

/// Every way of getting a valid proof slightly wrong is refused with a typed error.
#[test]
fn malformed_proofs_are_refused() {
    let naive = Naive::new();
    let mut store = stored();
    let leaves = naive.leaves;
    for t in 1..=70u64 {
        let root = naive.mth(0, t);
        for n in 0..t {
            let leaf = leaves[n as usize];
            let proof = prove_record(t, n, &mut store).unwrap();
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i].0[i % 32] ^= 1;
                assert!(matches!(
                    check_record(&bad, t, &root, n, &leaf),
                    Err(ProofError::RootMismatch { .. })
                ));
            }
            let short = &proof[..proof.len().saturating_sub(1)];
            if !proof.is_empty() {
                assert!(matches!(
                    check_record(short, t, &root, n, &leaf),
                    Err(ProofError::WrongLength { .. })
                ));
                assert!(
                    check_record(&[], t, &root, n, &leaf).is_err(),
                    "empty proof t={t}"
                );
            }
            let mut long = proof.clone();
            long.push(root);
            assert!(matches!(
                check_record(&long, t, &root, n, &leaf),
                Err(ProofError::WrongLength { .. })
            ));
            if n + 1 < t {
                assert!(check_record(&proof, t, &root, n + 1, &leaf).is_err());
                assert!(check_record(&proof, t, &root, n + 1, &leaves[n as usize + 1]).is_err());
            }
            // A proof for size t paired with the root (or size) of another tree.
            assert!(check_record(&proof, t + 1, &naive.mth(0, t + 1), n, &leaf).is_err());
            assert!(check_record(&proof, t, &naive.mth(0, t + 1), n, &leaf).is_err());
            assert!(check_record(&proof, t, &root, n, &leaves[(n as usize + 1) % 71]).is_err());
            assert_eq!(
                check_record(&proof, n, &root, n, &leaf),
                Err(ProofError::Input(InputError::RecordOutOfRange {
                    index: n,
                    size: n
                }))
            );
        }
        for n in 1..=t {
            let old = naive.mth(0, n);
            let proof = prove_tree(t, n, &mut store).unwrap();
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i].0[31 - i % 32] ^= 0x80;
                assert!(
                    check_tree(&bad, t, &root, n, &old).is_err(),
                    "flip t={t} n={n} i={i}"
                );
            }
            if !proof.is_empty() {
                assert!(matches!(
                    check_tree(&proof[1..], t, &root, n, &old),
                    Err(ProofError::WrongLength { .. })
                ));
                assert!(
                    check_tree(&[], t, &root, n, &old).is_err(),
                    "empty t={t} n={n}"
                );
            }
            let mut long = proof.clone();
            long.push(old);
            assert!(matches!(
                check_tree(&long, t, &root, n, &old),
                Err(ProofError::WrongLength { .. })
            ));
            // Wrong old root, wrong new root, swapped sizes.
            let mut other = old;
            other.0[0] ^= 1;
            assert!(check_tree(&proof, t, &root, n, &other).is_err());
            assert!(check_tree(&proof, t, &other, n, &old).is_err());
            if n < t {
                assert!(check_tree(&proof, n, &old, t, &root).is_err());
                assert!(check_tree(&proof, t, &root, n + 1, &naive.mth(0, n + 1)).is_err());
            }
        }
        assert_eq!(
            check_tree(&[], t, &root, 0, &MerkleHash::empty_tree()),
            Err(ProofError::Input(InputError::EmptyOldTree))
        );
        assert_eq!(
            check_tree(&[], t, &root, t + 1, &root),
            Err(ProofError::Input(InputError::OldLarger {
                old: t + 1,
                new: t
            }))
        );
    }
    assert!(check_record(&[], 0, &MerkleHash::empty_tree(), 0, &leaves[0]).is_err());
    assert!(check_record(&[], 1, &leaves[0], 0, &leaves[0]).is_ok());
    assert!(check_record(&[], 1, &leaves[1], 0, &leaves[0]).is_err());
}

/// Tiles held in memory by C2SP path.
#[derive(Default, Clone)]
struct Dir(HashMap<String, Vec<u8>>);

impl TileSource for Dir {
    type Error = String;
    fn read_tile(&mut self, tile: &Tile) -> Result<Vec<u8>, String> {
        self.0
            .get(&tile.path())
            .cloned()
            .ok_or_else(|| format!("{}: missing", tile.path()))
    }
}

/// Writes the tiles from `old` to `new` into `dir`; a full tile is never written twice.
fn write_tiles(dir: &mut Dir, store: &mut Vec<MerkleHash>, old: u64, new: u64) {
    for tile in hash_tiles(old, new) {
        let path = tile.path();
        assert_eq!(path.contains(".p/"), !tile.is_full());
        let data = tile_data(&tile, store).unwrap();
        assert_eq!(data.len(), usize::from(tile.width()) * 32);
        let before = dir.0.insert(path.clone(), data.clone());
        assert!(
            before.is_none() || !tile.is_full() || before == Some(data),
            "{path} rewritten"
        );
        assert!(before.is_none(), "{path} written twice");
    }
}

/// Tiles written incrementally read back (checked against the root) to every stored hash.
#[test]
fn tiles_read_back_to_the_stored_hashes() {
    let mut store = stored();
    for sizes in [
        vec![1u64],
        vec![2],
        vec![255],
        vec![256],
        vec![257],
        vec![1, 2, 3, 300, 511, 512, 513, 600],
        vec![5000, 19_999, BIG],
    ] {
        let mut dir = Dir::default();
        let mut old = 0;
        for &size in &sizes {
            write_tiles(&mut dir, &mut store, old, size);
            old = size;
            let root = tree_hash(size, &mut store).unwrap();
            let mut reader = TileHashReader::new(size, root, dir.clone());
            assert_eq!(tree_hash(size, &mut reader).unwrap(), root);
            let count = stored_hash_count(size).unwrap();
            let indexes: Vec<u64> = (0..count).collect();
            let mut out = vec![MerkleHash::default(); indexes.len()];
            use trailseal_core::tree::HashReader;
            reader.read_hashes(&indexes, &mut out).unwrap();
            assert_eq!(out, store[..count as usize], "size {size}");
            assert!(matches!(
                reader.read_hashes(&[count], &mut [MerkleHash::default()]),
                Err(TileError::Input(InputError::IndexNotInTree { .. }))
            ));
            for n in [0, size / 2, size - 1] {
                let proof = prove_record(size, n, &mut reader).unwrap();
                assert_eq!(proof, prove_record(size, n, &mut store).unwrap());
            }
        }
    }
}

/// One flipped bit in any tile, a truncated tile or a missing tile: reading fails.
#[test]
fn tampered_tiles_are_refused() {
    use trailseal_core::tree::HashReader;
    let mut store = stored();
    let size = 600; // tiles 0/000, 0/001, 0/002.p/88, 1/000.p/2
    let mut dir = Dir::default();
    write_tiles(&mut dir, &mut store, 0, size);
    let root = tree_hash(size, &mut store).unwrap();
    let count = stored_hash_count(size).unwrap();
    let indexes: Vec<u64> = (0..count).collect();
    let mut out = vec![MerkleHash::default(); indexes.len()];
    let mut paths: Vec<_> = dir.0.keys().cloned().collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "tile/0/000",
            "tile/0/001",
            "tile/0/002.p/88",
            "tile/1/000.p/2"
        ]
    );
    for path in &paths {
        let len = dir.0[path].len();
        for byte in [0, len / 2, len - 1] {
            let mut bad = dir.clone();
            bad.0.get_mut(path).unwrap()[byte] ^= 1;
            let mut reader = TileHashReader::new(size, root, bad);
            let err = reader.read_hashes(&indexes, &mut out).unwrap_err();
            assert!(
                matches!(
                    err,
                    TileError::RootMismatch | TileError::Inconsistent { .. }
                ),
                "{path}: {err}"
            );
        }
        let mut short = dir.clone();
        short.0.get_mut(path).unwrap().pop();
        let mut reader = TileHashReader::new(size, root, short);
        assert!(matches!(
            reader.read_hashes(&indexes, &mut out),
            Err(TileError::WrongLength { .. })
        ));
        let mut missing = dir.clone();
        missing.0.remove(path);
        let mut reader = TileHashReader::new(size, root, missing);
        assert!(matches!(
            reader.read_hashes(&indexes, &mut out),
            Err(TileError::Source(_))
        ));
    }
    // A partial tile is never taken for a full one: the full path is not read.
    let mut wrong_root = root;
    wrong_root.0[0] ^= 1;
    let mut reader = TileHashReader::new(size, wrong_root, dir.clone());
    assert!(matches!(
        reader.read_hashes(&[0], &mut out[..1]),
        Err(TileError::RootMismatch)
    ));
}

#[test]
fn tile_lists_and_paths() {
    let list = |old, new| hash_tiles(old, new).map(|t| t.path()).collect::<Vec<_>>();
    assert_eq!(list(0, 1), ["tile/0/000.p/1"]);
    assert_eq!(list(0, 256), ["tile/0/000", "tile/1/000.p/1"]);
    assert_eq!(list(256, 257), ["tile/0/001.p/1"]);
    assert_eq!(list(0, 65_536), {
        let mut v: Vec<String> = (0..256).map(|n| format!("tile/0/{n:03}")).collect();
        v.push("tile/1/000".into());
        v.push("tile/2/000.p/1".into());
        v
    });
    let tiles: Vec<_> = hash_tiles(0, 70_000).collect();
    assert_eq!(tiles.len(), 273 + 1 + 1 + 1 + 1);
    assert_eq!(tiles[273].path(), "tile/0/273.p/112");
    assert_eq!(tiles[275].path(), "tile/1/001.p/17");
    assert_eq!(tiles[276].path(), "tile/2/000.p/1");
    assert_eq!(
        entry_tiles(0, 257).map(|t| t.path()).collect::<Vec<_>>(),
        ["tile/entries/000", "tile/entries/001.p/1"]
    );
    assert_eq!(hash_tiles(300, 300).count(), 0);
    assert_eq!(hash_tiles(0, u64::MAX).take(3).count(), 3);
    assert_eq!(
        Tile::new(TileKind::Hash(0), 1_234_067, 256).unwrap().path(),
        "tile/0/x001/x234/067"
    );
    assert_eq!(
        Tile::new(TileKind::Entries, 1_000, 5).unwrap().path(),
        "tile/entries/x001/000.p/5"
    );
    assert_eq!(Tile::new(TileKind::Hash(0), 0, 0), None);
    assert_eq!(Tile::new(TileKind::Hash(0), 0, 257), None);
    assert_eq!(Tile::new(TileKind::Hash(64), 0, 1), None);
    for good in [
        "tile/0/000",
        "tile/63/999.p/255",
        "tile/entries/x001/x000/000.p/1",
        "tile/1/x018/x446/744",
    ] {
        assert_eq!(Tile::parse_path(good).unwrap().path(), good);
    }
    for bad in [
        "",
        "tile",
        "tile/0",
        "tile/0/",
        "tile/0/0",
        "tile/0/0000",
        "tile/0/1234",
        "tile/0/x000/001",
        "tile/0/001/002",
        "tile/0/x001",
        "tile/0/001.p/256",
        "tile/0/001.p/0",
        "tile/0/001.p/05",
        "tile/0/001.p/",
        "tile/0/001.p",
        "tile/00/001",
        "tile/64/001",
        "tile/-1/001",
        "tile/+1/001",
        "tile/data/001",
        "tile/8/0/001",
        "tile/0/001/",
        "/tile/0/001",
        "tile//001",
        "tile/0/x01/001",
        "tile/1/x018/446/744",
        "tile/0/xx001/001",
        "tile/0/+01",
        "tile/0/ 01",
        "tile/entries/001.p/1/",
        "tile/0/001.p/1.p/1",
        "tile/0/x018/x446/x744/x073/x709/x551/616",
        "tile/0/a01",
        "Tile/0/001",
        "tile/0/001.P/1",
    ] {
        assert!(Tile::parse_path(bad).is_err(), "{bad:?}");
    }
}

/// The case Go's x/mod 0.7.0 `TileHashReader` lets through: at size 300 the right-edge
/// subtrees share tiles (4 subtree hashes in 2 tiles), and Go skips checking the next tiles it
/// fetches, so one flipped bit in the full tile `tile/0/000` comes back as a stored hash
/// without an error (seen with interop Go: `tampered hash returned: true`). Every tile that is
/// not at the edge is checked here.
#[test]
fn a_full_tile_behind_shared_edge_tiles_is_checked() {
    use trailseal_core::tree::HashReader;
    let mut store = stored();
    for size in [300u64, 600, 16_385] {
        let mut dir = Dir::default();
        write_tiles(&mut dir, &mut store, 0, size);
        let root = tree_hash(size, &mut store).unwrap();
        dir.0.get_mut("tile/0/000").unwrap()[5] ^= 1;
        let mut reader = TileHashReader::new(size, root, dir);
        let mut out = [MerkleHash::default()];
        assert_eq!(
            reader.read_hashes(&[0], &mut out),
            Err(TileError::Inconsistent {
                path: "tile/0/000".into()
            }),
            "size {size}"
        );
    }
}

/// Tile sources returning arbitrary bytes never make the reader panic or succeed.
#[test]
fn hostile_tiles_never_panic_or_pass() {
    use trailseal_core::tree::HashReader;
    struct Junk(u64);
    impl TileSource for Junk {
        type Error = String;
        fn read_tile(&mut self, tile: &Tile) -> Result<Vec<u8>, String> {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = if self.0.is_multiple_of(4) {
                (self.0 >> 40) as usize % 9000
            } else {
                usize::from(tile.width()) * 32
            };
            Ok((0..len).map(|i| (self.0 >> (i % 56)) as u8).collect())
        }
    }
    let mut seed = 1u64;
    for size in (1..3000u64).step_by(37).chain([65_536, 70_000, u64::MAX]) {
        seed += 1;
        let mut reader = TileHashReader::new(size, MerkleHash([seed as u8; 32]), Junk(seed));
        let count = stored_hash_count(size).unwrap_or(u64::MAX);
        let indexes = [0, count / 3, count.saturating_sub(1), count];
        let mut out = [MerkleHash::default(); 4];
        assert!(reader.read_hashes(&indexes, &mut out).is_err());
        assert!(reader.read_hashes(&indexes[..3], &mut out[..3]).is_err());
        assert!(tree_hash(size, &mut reader).is_err());
    }
}

/// Entry bundles written for the entry tiles parse back to the entries, whose leaf hashes are
/// the level-0 hash tile of the same number and width.
#[test]
fn entry_bundles_match_the_level_0_tiles() {
    use trailseal_core::tree::{parse_entry_bundle, push_bundle_entry};
    let mut store = stored();
    let size = 600;
    for (tile, hash_tile) in entry_tiles(0, size).zip(hash_tiles(0, size)) {
        assert_eq!((tile.n(), tile.width()), (hash_tile.n(), hash_tile.width()));
        assert_eq!(tile.path().replace("entries", "0"), hash_tile.path());
        let first = tile.n() * 256;
        let mut bundle = Vec::new();
        for i in first..first + u64::from(tile.width()) {
            push_bundle_entry(&mut bundle, &entry(i)).unwrap();
        }
        let leaves: Vec<u8> = parse_entry_bundle(&bundle, tile.width())
            .unwrap()
            .iter()
            .flat_map(|e| leaf_hash(e).0)
            .collect();
        assert_eq!(leaves, tile_data(&hash_tile, &mut store).unwrap());
        assert!(tile_data(&tile, &mut store).is_err());
    }
}
