//! The frontier against Go's stored-hash layout (`append_stored_hashes` + `tree_hash`) for
//! every size to 2,000 and random larger ones (up to 2^62, over a synthetic store), its
//! rebuilds from stored hashes and from its own hashes; and the consistency decisions:
//! consistent pairs, forks (a second tree differing in one leaf), equal-size forks,
//! checkpoints ahead of the store, altered stored hashes, different origins, hostile input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use proptest::prelude::*;
use trailseal_core::checkpoint::Checkpoint;
use trailseal_core::tree::{
    Consistency, ConsistencyError, Fork, ForkEvidence, Frontier, FrontierCheck, FrontierError,
    HashReader, InputError, MAX_TREE_SIZE, MerkleHash, MissingHash, ProofError, TreeError,
    TreeHead, append_stored_hashes, check_against_frontier, check_consistency,
    check_consistency_with, leaf_hash, prove_tree, stored_hash_count, tree_hash,
};

const ORIGIN: &str = "example.com/log/tree";
const SIZES: u64 = 2_000;

/// The stored hashes of a tree whose leaf `i` is `leaf(i)`, for `n` records.
fn stored_of(n: u64, leaf: impl Fn(u64) -> MerkleHash) -> Vec<MerkleHash> {
    let mut stored = Vec::new();
    let mut added = Vec::new();
    for i in 0..n {
        added.clear();
        append_stored_hashes(i, leaf(i), &mut stored, &mut added).unwrap();
        stored.extend_from_slice(&added);
    }
    stored
}

fn leaf_a(i: u64) -> MerkleHash {
    leaf_hash(format!("leaf {i}").as_bytes())
}

/// Tree A: `SIZES` records.
fn tree_a() -> &'static Vec<MerkleHash> {
    static A: OnceLock<Vec<MerkleHash>> = OnceLock::new();
    A.get_or_init(|| stored_of(SIZES, leaf_a))
}

/// Tree B: as A but leaf `FORK_AT` differs.
const FORK_AT: u64 = 700;
fn tree_b() -> &'static Vec<MerkleHash> {
    static B: OnceLock<Vec<MerkleHash>> = OnceLock::new();
    B.get_or_init(|| {
        stored_of(SIZES, |i| {
            if i == FORK_AT {
                leaf_hash(b"the other leaf")
            } else {
                leaf_a(i)
            }
        })
    })
}

fn root(stored: &[MerkleHash], n: u64) -> MerkleHash {
    tree_hash(n, &mut stored.to_vec()).unwrap()
}

fn cp(size: u64, root: MerkleHash) -> Checkpoint {
    Checkpoint::new(ORIGIN, size, root.0).unwrap()
}

fn cp_of(stored: &[MerkleHash], size: u64) -> Checkpoint {
    cp(size, root(stored, size))
}

/// A reader over a slice, without copying it (the `[MerkleHash]` impl needs `&mut`).
struct Slice<'a>(&'a [MerkleHash]);
impl HashReader for Slice<'_> {
    type Error = MissingHash;
    fn read_hashes(&mut self, indexes: &[u64], out: &mut [MerkleHash]) -> Result<(), MissingHash> {
        for (slot, &index) in out.iter_mut().zip(indexes) {
            *slot = *self.0.get(index as usize).ok_or(MissingHash { index })?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Frontier

#[test]
fn push_gives_the_stored_layout_and_root_for_every_size_to_2000() {
    let stored = tree_a();
    let mut f = Frontier::new();
    assert_eq!(f.size(), 0);
    assert!(f.is_empty());
    assert_eq!(f.root(), MerkleHash::empty_tree());
    let mut out = Vec::new();
    let mut reader = Slice(stored);
    for n in 0..SIZES {
        let mut expected = Vec::new();
        append_stored_hashes(n, leaf_a(n), &mut reader, &mut expected).unwrap();
        out.clear();
        f.push(leaf_a(n), &mut out).unwrap();
        assert_eq!(out, expected, "record {n}: stored hashes");
        let start = stored_hash_count(n).unwrap() as usize;
        assert_eq!(&stored[start..start + out.len()], &out[..], "record {n}");
        assert_eq!(f.size(), n + 1);
        assert_eq!(f.hashes().len(), (n + 1).count_ones() as usize);
        assert_eq!(
            f.root(),
            tree_hash(n + 1, &mut reader).unwrap(),
            "size {}",
            n + 1
        );
    }
}

#[test]
fn from_reader_and_from_hashes_round_trip_for_every_size_to_2000() {
    let stored = tree_a();
    let mut f = Frontier::new();
    let mut out = Vec::new();
    for n in 0..=SIZES {
        let mut reader = Slice(stored);
        let read = Frontier::from_reader(n, &mut reader).unwrap();
        assert_eq!(read, f, "size {n}");
        assert_eq!(Frontier::from_hashes(n, f.hashes()).unwrap(), f);
        if n < SIZES {
            f.push(leaf_a(n), &mut out).unwrap();
        }
    }
}

#[test]
fn from_reader_reads_log_n_hashes_in_one_call() {
    struct Counting<'a>(Slice<'a>, Vec<usize>);
    impl HashReader for Counting<'_> {
        type Error = MissingHash;
        fn read_hashes(&mut self, i: &[u64], o: &mut [MerkleHash]) -> Result<(), MissingHash> {
            self.1.push(i.len());
            self.0.read_hashes(i, o)
        }
    }
    let mut r = Counting(Slice(tree_a()), Vec::new());
    Frontier::from_reader(1999, &mut r).unwrap();
    assert_eq!(r.1, vec![1999u64.count_ones() as usize]);
}

#[test]
fn from_hashes_is_strict() {
    let h = MerkleHash::default();
    for (size, n) in [(0u64, 1usize), (1, 0), (1, 2), (3, 1), (3, 3), (1 << 40, 0)] {
        assert_eq!(
            Frontier::from_hashes(size, &vec![h; n]),
            Err(FrontierError::WrongCount {
                size,
                expected: size.count_ones() as usize,
                got: n
            })
        );
    }
    assert_eq!(
        Frontier::from_hashes(MAX_TREE_SIZE + 1, &[h, h]),
        Err(FrontierError::Input(InputError::TooLarge {
            size: MAX_TREE_SIZE + 1
        }))
    );
    assert_eq!(
        Frontier::from_hashes(u64::MAX, &[h; 64]),
        Err(FrontierError::Input(InputError::TooLarge {
            size: u64::MAX
        }))
    );
    let mut none: Vec<MerkleHash> = Vec::new();
    assert_eq!(
        Frontier::from_reader(MAX_TREE_SIZE + 1, &mut none),
        Err(TreeError::Input(InputError::TooLarge {
            size: MAX_TREE_SIZE + 1
        }))
    );
    assert_eq!(
        Frontier::from_reader(3, &mut none),
        Err(TreeError::Read(MissingHash { index: 2 }))
    );
    // The largest frontier: 62 hashes.
    let f = Frontier::from_hashes(MAX_TREE_SIZE - 1, &[h; 62]).unwrap();
    assert_eq!(f.hashes().len(), 62);
}

#[test]
fn push_onto_a_full_tree_is_refused_and_changes_nothing() {
    let h = MerkleHash::default();
    let mut f = Frontier::from_hashes(MAX_TREE_SIZE - 1, &[h; 62]).unwrap();
    let mut out = Vec::new();
    f.push(h, &mut out).unwrap();
    assert_eq!(out.len(), 63);
    assert_eq!(f.size(), MAX_TREE_SIZE);
    assert_eq!(f.hashes().len(), 1);
    let before = f.clone();
    out.clear();
    assert!(matches!(
        f.push(h, &mut out),
        Err(FrontierError::Input(InputError::TooLarge { .. }))
    ));
    assert_eq!(f, before);
    assert!(out.is_empty());
}

/// A synthetic store of any size: the stored hash at an index is a function of the index,
/// except for those written since (`written`). `append_stored_hashes` and `tree_hash` do not
/// care whether the hashes are consistent, so the frontier must agree with them anyway.
#[derive(Default)]
struct Synthetic {
    written: BTreeMap<u64, MerkleHash>,
    salt: u64,
}
impl HashReader for Synthetic {
    type Error = MissingHash;
    fn read_hashes(&mut self, i: &[u64], o: &mut [MerkleHash]) -> Result<(), MissingHash> {
        for (slot, &index) in o.iter_mut().zip(i) {
            *slot = self.written.get(&index).copied().unwrap_or_else(|| {
                leaf_hash(&[index.to_be_bytes(), self.salt.to_be_bytes()].concat())
            });
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn large_sizes_agree_with_the_stored_layout(
        size in 0u64..(MAX_TREE_SIZE - 64),
        salt in any::<u64>(),
        pushes in 1usize..40,
    ) {
        let mut store = Synthetic { salt, ..Synthetic::default() };
        let mut f = Frontier::from_reader(size, &mut store).unwrap();
        prop_assert_eq!(f.size(), size);
        prop_assert_eq!(f.root(), tree_hash(size, &mut store).unwrap());
        let mut out = Vec::new();
        for k in 0..pushes as u64 {
            let n = size + k;
            let leaf = leaf_hash(&n.to_le_bytes());
            let mut expected = Vec::new();
            append_stored_hashes(n, leaf, &mut store, &mut expected).unwrap();
            out.clear();
            f.push(leaf, &mut out).unwrap();
            prop_assert_eq!(&out, &expected);
            let start = stored_hash_count(n).unwrap();
            for (index, h) in (start..).zip(&out) {
                store.written.insert(index, *h);
            }
            prop_assert_eq!(f.root(), tree_hash(n + 1, &mut store).unwrap());
            prop_assert_eq!(&Frontier::from_reader(n + 1, &mut store).unwrap(), &f);
        }
    }

    #[test]
    fn mid_sizes_agree_with_a_real_tree(n in 0u64..SIZES, extra in 0u64..(SIZES / 4)) {
        // Rebuild at n, then push to n + extra: every stored hash and root as tree A's.
        let stored = tree_a();
        let mut f = Frontier::from_reader(n, &mut Slice(stored)).unwrap();
        let mut out = Vec::new();
        for i in n..(n + extra).min(SIZES) {
            f.push(leaf_a(i), &mut out).unwrap();
        }
        let end = (n + extra).min(SIZES);
        let start = stored_hash_count(n).unwrap() as usize;
        prop_assert_eq!(&stored[start..stored_hash_count(end).unwrap() as usize], &out[..]);
        prop_assert_eq!(f.root(), root(stored, end));
    }
}

// ---------------------------------------------------------------------------------------
// Consistency of two checkpoints

fn sizes() -> Vec<u64> {
    let mut v: Vec<u64> = (0..=70).collect();
    v.extend([
        127, 128, 129, 255, 256, 257, 511, 512, 699, 700, 701, 1000, 1023, 1024, 1025, 1999, 2000,
    ]);
    v
}

#[test]
fn consistent_pairs_at_many_sizes() {
    let a = tree_a();
    let mut checked = 0;
    for &m in &sizes() {
        for &n in sizes().iter().filter(|&&n| n >= m) {
            let (old, new) = (cp_of(a, m), cp_of(a, n));
            let proof = if m == 0 || m == n {
                Vec::new()
            } else {
                prove_tree(n, m, &mut Slice(a)).unwrap()
            };
            assert_eq!(
                check_consistency(&old, &new, &proof),
                Ok(Consistency::Consistent),
                "{m} -> {n}"
            );
            // Either order.
            assert_eq!(
                check_consistency(&new, &old, &proof),
                Ok(Consistency::Consistent)
            );
            assert_eq!(
                check_consistency_with(&old, &new, &mut Slice(a)),
                Ok(Consistency::Consistent)
            );
            checked += 1;
        }
    }
    assert!(checked > 3000, "{checked}");
}

#[test]
fn a_tree_differing_in_one_leaf_is_a_fork_from_the_older_size_past_it() {
    let (a, b) = (tree_a(), tree_b());
    for &m in sizes().iter().filter(|&&m| m > 0) {
        for &n in sizes().iter().filter(|&&n| n > m) {
            let (old, new) = (cp_of(a, m), cp_of(b, n));
            // The proof the forked log would give: from its own stored hashes.
            let from_b = check_consistency_with(&old, &new, &mut Slice(b)).unwrap();
            // A proof from the honest log does not lead to the forked root.
            let from_a = check_consistency_with(&old, &new, &mut Slice(a)).unwrap();
            if m <= FORK_AT && n <= FORK_AT {
                // Both trees are the same up to the differing leaf.
                assert_eq!(from_b, Consistency::Consistent, "{m} -> {n}");
                assert_eq!(from_a, Consistency::Consistent, "{m} -> {n}");
                continue;
            }
            let expect = |evidence| {
                Consistency::Fork(Fork {
                    origin: ORIGIN.to_owned(),
                    older: TreeHead::of(&old),
                    newer: TreeHead::of(&new),
                    evidence,
                })
            };
            if m > FORK_AT && m.is_power_of_two() {
                // The proof does not carry the older root (it is a subtree of the newer
                // tree): checked with the claimed one, the proof misses the newer root.
                assert_eq!(from_b, expect(ForkEvidence::ProofFails), "{m} -> {n}");
            } else if m > FORK_AT {
                assert_eq!(from_b, expect(ForkEvidence::OlderRootDiffers), "{m} -> {n}");
            } else {
                // The older tree is a prefix of both: B extends it.
                assert_eq!(from_b, Consistency::Consistent, "{m} -> {n}");
            }
            // The honest log's proof leads to A's root at n, not B's.
            assert_eq!(from_a, expect(ForkEvidence::ProofFails), "{m} -> {n}");
        }
    }
}

#[test]
fn equal_sizes_need_equal_roots_and_no_proof() {
    let (a, b) = (tree_a(), tree_b());
    for n in [FORK_AT + 1, 1000, SIZES] {
        let (x, y) = (cp_of(a, n), cp_of(b, n));
        assert_eq!(
            check_consistency(&x, &y, &[]),
            Ok(Consistency::Fork(Fork {
                origin: ORIGIN.to_owned(),
                older: TreeHead::of(&x),
                newer: TreeHead::of(&y),
                evidence: ForkEvidence::SameSize,
            }))
        );
        assert!(matches!(
            check_consistency_with(&y, &x, &mut Slice(a)),
            Ok(Consistency::Fork(Fork {
                evidence: ForkEvidence::SameSize,
                ..
            }))
        ));
        assert_eq!(check_consistency(&x, &x, &[]), Ok(Consistency::Consistent));
        assert!(matches!(
            check_consistency(&x, &x, &[MerkleHash::default()]),
            Err(ConsistencyError::Proof(ProofError::WrongLength {
                expected: 0,
                got: 1,
                ..
            }))
        ));
    }
}

#[test]
fn the_empty_tree_has_one_root() {
    let a = tree_a();
    let empty = cp(0, MerkleHash::empty_tree());
    let bogus = cp(0, MerkleHash::default());
    let new = cp_of(a, 10);
    assert_eq!(
        check_consistency(&empty, &new, &[]),
        Ok(Consistency::Consistent)
    );
    assert!(matches!(
        check_consistency(&bogus, &new, &[]),
        Ok(Consistency::Fork(Fork {
            evidence: ForkEvidence::OlderRootDiffers,
            ..
        }))
    ));
    assert!(matches!(
        check_consistency(&empty, &bogus, &[]),
        Ok(Consistency::Fork(Fork {
            evidence: ForkEvidence::SameSize,
            ..
        }))
    ));
    assert!(matches!(
        check_consistency(&empty, &new, &[MerkleHash::empty_tree()]),
        Err(ConsistencyError::Proof(ProofError::WrongLength { .. }))
    ));
}

#[test]
fn wrong_length_proofs_are_errors_and_altered_proofs_forks() {
    let a = tree_a();
    let (old, new) = (cp_of(a, 5), cp_of(a, 1000));
    let proof = prove_tree(1000, 5, &mut Slice(a)).unwrap();
    for cut in [Vec::new(), proof[..proof.len() - 1].to_vec(), {
        let mut p = proof.clone();
        p.push(MerkleHash::default());
        p
    }] {
        assert!(matches!(
            check_consistency(&old, &new, &cut),
            Err(ConsistencyError::Proof(ProofError::WrongLength { .. }))
        ));
    }
    for i in 0..proof.len() {
        let mut p = proof.clone();
        p[i].0[0] ^= 1;
        assert!(
            matches!(check_consistency(&old, &new, &p), Ok(Consistency::Fork(_))),
            "hash {i}"
        );
    }
    // Swapped roots.
    let swapped = (
        cp(5, TreeHead::of(&new).root),
        cp(1000, TreeHead::of(&old).root),
    );
    assert!(matches!(
        check_consistency(&swapped.0, &swapped.1, &proof),
        Ok(Consistency::Fork(Fork {
            evidence: ForkEvidence::ProofFails,
            ..
        }))
    ));
}

#[test]
fn different_origins_and_out_of_range_sizes_are_errors() {
    let a = tree_a();
    let x = cp_of(a, 3);
    let y = Checkpoint::new("example.com/other", 5, root(a, 5).0).unwrap();
    let e = check_consistency(&x, &y, &[]).unwrap_err();
    assert_eq!(
        e,
        ConsistencyError::OriginMismatch {
            older: ORIGIN.to_owned(),
            newer: "example.com/other".to_owned()
        }
    );
    assert!(
        e.to_string()
            .starts_with("checkpoint origin `example.com/other`")
    );
    assert!(matches!(
        check_consistency_with(&y, &x, &mut Slice(a)),
        Err(ConsistencyError::OriginMismatch { .. })
    ));
    let huge = cp(MAX_TREE_SIZE + 1, MerkleHash::default());
    assert_eq!(
        check_consistency(&x, &huge, &[]),
        Err(ConsistencyError::Input(InputError::TooLarge {
            size: MAX_TREE_SIZE + 1
        }))
    );
    // A store too small for the larger checkpoint: a read error, not a verdict.
    let beyond = cp(SIZES + 1, MerkleHash::default());
    assert!(matches!(
        check_consistency_with(&x, &beyond, &mut Slice(a)),
        Err(ConsistencyError::Read(MissingHash { .. }))
    ));
}

// ---------------------------------------------------------------------------------------
// A checkpoint against the current tree

fn frontier_of(stored: &[MerkleHash], n: u64) -> Frontier {
    Frontier::from_reader(n, &mut Slice(stored)).unwrap()
}

#[test]
fn checkpoints_of_the_tree_are_consistent_with_its_frontier() {
    let a = tree_a();
    for &n in &sizes() {
        let f = frontier_of(a, n);
        for &m in sizes().iter().filter(|&&m| m <= n) {
            assert_eq!(
                check_against_frontier(&cp_of(a, m), &f, &mut Slice(a)),
                Ok(FrontierCheck::Consistent),
                "{m} in {n}"
            );
        }
    }
}

#[test]
fn checkpoints_of_a_forked_tree_are_forks_naming_both_roots() {
    let (a, b) = (tree_a(), tree_b());
    let f = frontier_of(a, SIZES);
    for &m in &sizes() {
        let got = check_against_frontier(&cp_of(b, m), &f, &mut Slice(a)).unwrap();
        if m <= FORK_AT {
            assert_eq!(got, FrontierCheck::Consistent, "{m}");
        } else {
            assert_eq!(
                got,
                FrontierCheck::Fork {
                    checkpoint: TreeHead::of(&cp_of(b, m)),
                    tree: TreeHead {
                        size: m,
                        root: root(a, m)
                    },
                },
                "{m}"
            );
        }
    }
    // The empty tree: only SHA-256("") is its root.
    assert!(matches!(
        check_against_frontier(&cp(0, MerkleHash::default()), &f, &mut Slice(a)),
        Ok(FrontierCheck::Fork { .. })
    ));
}

#[test]
fn a_checkpoint_ahead_of_the_store_is_a_rollback() {
    let a = tree_a();
    let f = frontier_of(a, 1000);
    let ahead = cp_of(a, 1001);
    assert_eq!(
        check_against_frontier(&ahead, &f, &mut Slice(a)),
        Ok(FrontierCheck::AheadOfStore {
            checkpoint: TreeHead::of(&ahead),
            tree_size: 1000
        })
    );
    let far = cp(i64::MAX as u64, MerkleHash::default());
    assert!(matches!(
        check_against_frontier(&far, &Frontier::new(), &mut Vec::new()),
        Ok(FrontierCheck::AheadOfStore { tree_size: 0, .. })
    ));
}

#[test]
fn altered_stored_hashes_never_give_a_verdict_about_the_checkpoint() {
    let a = tree_a();
    let f = frontier_of(a, SIZES);
    let honest = cp_of(a, 1000);
    let mut touched = 0;
    // Alter every stored hash that the check reads, one at a time.
    for index in 0..a.len() {
        let mut altered = a.clone();
        altered[index].0[31] ^= 0x80;
        let got = check_against_frontier(&honest, &f, &mut Slice(&altered)).unwrap();
        if got != FrontierCheck::Consistent {
            touched += 1;
            assert_eq!(
                got,
                FrontierCheck::StoredHashesDisagree {
                    size: 1000,
                    tree_size: SIZES
                },
                "stored hash {index}"
            );
        }
    }
    assert!(touched > 5, "{touched}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn hostile_input_never_panics(
        sa in any::<u64>(),
        sb in any::<u64>(),
        ra in any::<[u8; 32]>(),
        rb in any::<[u8; 32]>(),
        proof in proptest::collection::vec(any::<[u8; 32]>(), 0..130),
        small in 0u64..2100,
        fsize in any::<u64>(),
        fhashes in proptest::collection::vec(any::<[u8; 32]>(), 0..70),
    ) {
        let proof: Vec<MerkleHash> = proof.into_iter().map(MerkleHash).collect();
        let clamp = |s: u64| s & (i64::MAX as u64);
        for (x, y) in [(clamp(sa), clamp(sb)), (small, clamp(sb)), (small, small / 2 + 1)] {
            let a = Checkpoint::new(ORIGIN, x, ra).unwrap();
            let b = Checkpoint::new(ORIGIN, y, rb).unwrap();
            let got = check_consistency(&a, &b, &proof);
            prop_assert!(got != Ok(Consistency::Consistent) || (x == y && ra == rb) || x == 0 || y == 0);
            let _ = check_consistency_with(&a, &b, &mut Slice(tree_a()));
            let _ = check_consistency_with(&a, &b, &mut Synthetic::default());
            let hashes: Vec<MerkleHash> = fhashes.iter().copied().map(MerkleHash).collect();
            for f in [
                Frontier::from_hashes(fsize, &hashes).ok(),
                Frontier::from_hashes(small, &hashes[..hashes.len().min(small.count_ones() as usize)]).ok(),
                Frontier::from_reader(small.min(SIZES), &mut Slice(tree_a())).ok(),
            ].into_iter().flatten() {
                let _ = check_against_frontier(&a, &f, &mut Slice(tree_a()));
                let _ = check_against_frontier(&a, &f, &mut Synthetic::default());
                let _ = check_against_frontier(&a, &f, &mut Vec::new());
            }
        }
    }
}
