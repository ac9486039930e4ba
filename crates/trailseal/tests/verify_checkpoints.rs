//! `verify` with signed tree heads: C2SP checkpoints (made here with the core's
//! `Checkpoint::new(..).sign(..)` from the store's own tree) and the `tree` line of head anchors,
//! checked against the store's Merkle tree in the same verification; split views between two
//! checkpoints; the witness quorum.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;

use rusqlite::Connection;
use trailseal::core::checkpoint::Checkpoint;
use trailseal::core::cosignature::{WitnessKey, WitnessSigner};
use trailseal::core::note::NoteSigner;
use trailseal::core::tree::{MerkleHash, TreeHead, stored_hash_count, tree_hash};
use trailseal::core::{UnverifiableReason, Verdict};
use trailseal::store::SnapshotHashes;
use trailseal::{AuditLog, ChainKey, OpenMode, OpenOptions, TamperKind, Timestamp, VerifyOptions};

const ORIGIN: &str = "test.example/log/tree";

fn key() -> ChainKey {
    ChainKey::from_secret(b"checkpoint-verification-secret").unwrap()
}

fn signer() -> NoteSigner {
    NoteSigner::from_seed("log-key", &[5; 32]).unwrap()
}

fn open(path: &Path) -> AuditLog {
    let options = OpenOptions {
        mode: OpenMode::Write { create: true },
        ..OpenOptions::default()
    };
    AuditLog::open(path.to_str().unwrap(), &options)
        .unwrap()
        .with_key(key())
}

fn append(path: &Path, records: std::ops::Range<u64>, tag: &str) {
    let mut log = open(path);
    let texts: Vec<String> = records
        .map(|n| {
            trailseal_testkit::Trace::new(format!("{tag}-{n:05}"))
                .args(format!(r#"{{"n":{n}}}"#))
                .json()
        })
        .collect();
    log.append(&log.prepare(texts.iter().map(String::as_bytes)).unwrap())
        .unwrap();
}

/// The store's tree root at `size`, read from its stored hashes.
fn root_at(path: &Path, size: u64) -> MerkleHash {
    let mut log = open(path);
    let mut snapshot = log.store_mut().snapshot(1).unwrap();
    let reader = snapshot.readers.first_mut().unwrap();
    tree_hash(size, &mut SnapshotHashes(reader.as_mut())).unwrap()
}

/// A checkpoint note of the store's tree at `size`, signed by the log key.
fn checkpoint(path: &Path, size: u64) -> String {
    Checkpoint::new(ORIGIN, size, root_at(path, size).0)
        .unwrap()
        .sign(&signer())
        .unwrap()
}

fn verify_with(path: &Path, options: VerifyOptions<'_>) -> Verdict {
    let mut options = options;
    open(path).verify_with(&mut options)
}

/// The verdict with these checkpoints (labels `cp0`, `cp1`, …), on 1 and 4 threads.
fn verify(path: &Path, notes: &[String]) -> Verdict {
    let labelled: Vec<(String, String)> = notes
        .iter()
        .enumerate()
        .map(|(i, n)| (format!("cp{i}"), n.clone()))
        .collect();
    let public = signer().verifier();
    let one = verify_with(
        path,
        VerifyOptions::new()
            .threads(1)
            .checkpoint_notes(&labelled, &public),
    );
    let four = verify_with(
        path,
        VerifyOptions::new()
            .threads(4)
            .checkpoint_notes(&labelled, &public),
    );
    assert_eq!(one, four, "the verdict depends on the thread count");
    one
}

fn tampered(v: &Verdict, kind: TamperKind, seq: u64, what: &str) {
    assert_eq!(
        (v.kind(), v.first_bad_seq()),
        (Some(kind), Some(seq)),
        "{what}: {v:?}"
    );
}

fn unverifiable(v: &Verdict, reason: UnverifiableReason, what: &str) {
    match v {
        Verdict::Unverifiable(u) if u.reason == reason => {}
        other => panic!("{what}: expected unverifiable {reason}: {other:?}"),
    }
}

#[test]
fn checkpoints_at_the_head_and_older_verify_also_after_more_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    append(&path, 0..20, "a");
    let notes: Vec<String> = [20, 19, 16, 7, 1].map(|n| checkpoint(&path, n)).to_vec();
    let v = verify(&path, &notes);
    assert!(v.is_verified(), "{v:?}");
    append(&path, 20..300, "a");
    let v = verify(&path, &notes);
    assert!(
        v.is_verified(),
        "older checkpoints after more appends: {v:?}"
    );
    let mut more = notes.clone();
    more.push(checkpoint(&path, 300));
    more.push(checkpoint(&path, 256));
    assert!(verify(&path, &more).is_verified());
}

#[test]
fn a_checkpoint_ahead_of_a_rolled_back_store_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let copy = dir.path().join("copy.db");
    append(&path, 0..10, "a");
    std::fs::copy(&path, &copy).unwrap();
    append(&path, 10..15, "a");
    let head = checkpoint(&path, 15);
    assert!(verify(&path, std::slice::from_ref(&head)).is_verified());
    // Rolled back to the copy: records, tree and all. Alone it verifies.
    std::fs::copy(&copy, &path).unwrap();
    assert!(verify(&path, &[]).is_verified());
    let v = verify(&path, std::slice::from_ref(&head));
    tampered(&v, TamperKind::Truncated, 10, "rolled back");
    assert!(v.detail().contains("checkpoint cp0"), "{v:?}");
    assert!(v.detail().contains("size 15"), "{v:?}");
}

#[test]
fn a_forked_store_is_a_fork_at_every_size() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    append(&a, 0..10, "a");
    // Same key, same seqs, other records from seq 4 on.
    append(&b, 0..4, "a");
    append(&b, 4..10, "b");
    assert_eq!(root_at(&a, 4), root_at(&b, 4));
    for size in [10, 9, 5] {
        let v = verify(&b, &[checkpoint(&a, size)]);
        tampered(&v, TamperKind::Fork, size - 1, &format!("size {size}"));
        assert!(v.detail().contains("cp0"), "{v:?}");
        assert!(v.detail().contains(&root_at(&a, size).to_base64()), "{v:?}");
    }
    // The common prefix is consistent.
    assert!(verify(&b, &[checkpoint(&a, 4)]).is_verified());
}

#[test]
fn two_inconsistent_checkpoints_are_a_split_view_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    append(&a, 0..12, "a");
    append(&b, 0..4, "a");
    append(&b, 4..12, "b");
    let names = |v: &Verdict, x: &str, y: &str| {
        let d = v.detail();
        assert!(d.contains("split view"), "{v:?}");
        assert!(d.contains(&format!("checkpoint {x} ")), "{v:?}");
        assert!(d.contains(&format!("checkpoint {y} ")), "{v:?}");
        assert!(d.contains(ORIGIN), "{v:?}");
    };
    // Equal sizes, different roots: no proof needed, whatever the store.
    let v = verify(&b, &[checkpoint(&b, 12), checkpoint(&a, 12)]);
    tampered(&v, TamperKind::Fork, 11, "equal sizes");
    names(&v, "cp0", "cp1");
    // A smaller one of the other history and a larger one of this store: the store's proof is
    // the larger checkpoint's, and shows them inconsistent.
    let v = verify(&b, &[checkpoint(&a, 6), checkpoint(&b, 11)]);
    tampered(&v, TamperKind::Fork, 5, "older of the other history");
    names(&v, "cp0", "cp1");
    for (x, y) in [(2, 5), (4, 8), (5, 8)] {
        let v = verify(&b, &[checkpoint(&b, y), checkpoint(&a, x)]);
        if x <= 4 {
            assert!(v.is_verified(), "{x} {y}: {v:?}");
        } else {
            tampered(&v, TamperKind::Fork, x - 1, "given the other way round");
            names(&v, "cp1", "cp0");
        }
    }
    // Both of the other history: consistent with each other, a fork of this store.
    let v = verify(&b, &[checkpoint(&a, 6), checkpoint(&a, 11)]);
    tampered(&v, TamperKind::Fork, 5, "both of the other history");
    assert!(!v.detail().contains("split view"), "{v:?}");
}

#[test]
fn checkpoints_that_cannot_be_used_are_unverifiable_never_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    append(&path, 0..5, "a");
    let good = checkpoint(&path, 5);
    let root = root_at(&path, 5).to_base64();
    let other = NoteSigner::from_seed("log-key", &[6; 32]).unwrap();
    let cases = [
        (
            "another key",
            Checkpoint::new(ORIGIN, 5, root_at(&path, 5).0)
                .unwrap()
                .sign(&other)
                .unwrap(),
            "not signed by",
        ),
        (
            "extension line",
            signer()
                .sign(&format!("{ORIGIN}\n5\n{root}\next 1\n"))
                .unwrap(),
            "extension lines",
        ),
        ("altered", good.replace("\n5\n", "\n4\n"), "cannot be used"),
        ("not a note", "hello\n".to_owned(), "cannot be used"),
        (
            "not a checkpoint",
            signer().sign("o\nfive\nx\n").unwrap(),
            "cannot be used",
        ),
    ];
    for (what, note, says) in cases {
        let v = verify(&path, &[good.clone(), note]);
        unverifiable(&v, UnverifiableReason::WrongKey, what);
        assert!(v.detail().contains("checkpoint cp1"), "{what}: {v:?}");
        assert!(v.detail().contains(says), "{what}: {v:?}");
    }
}

#[test]
fn the_witness_quorum_is_met_or_the_verdict_is_unverifiable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    append(&path, 0..5, "a");
    let w1 = WitnessSigner::from_seed("w1.example", &[1; 32]).unwrap();
    let w2 = WitnessSigner::from_seed("w2.example", &[2; 32]).unwrap();
    let keys: Vec<WitnessKey> = vec![w1.witness_key().clone(), w2.witness_key().clone()];
    let note = checkpoint(&path, 5);
    let body = signer().verifier().open(&note).unwrap().to_owned();
    let cosigned = |signers: &[&WitnessSigner]| {
        let mut n = note.clone();
        for s in signers {
            n.push_str(&s.cosign(&body, 1_700_000_000).unwrap());
        }
        n
    };
    let with = |notes: &[String], quorum: usize| {
        let labelled: Vec<(String, String)> = notes
            .iter()
            .enumerate()
            .map(|(i, n)| (format!("cp{i}"), n.clone()))
            .collect();
        verify_with(
            &path,
            VerifyOptions::new()
                .checkpoint_notes(&labelled, &signer().verifier())
                .witness_quorum(keys.clone(), quorum),
        )
    };
    assert!(with(&[cosigned(&[&w1])], 1).is_verified());
    assert!(with(&[cosigned(&[&w2, &w1])], 2).is_verified());
    let v = with(&[cosigned(&[&w1])], 2);
    unverifiable(&v, UnverifiableReason::WitnessQuorum, "one of two");
    assert!(v.detail().contains("1 of the 2"), "{v:?}");
    unverifiable(
        &with(std::slice::from_ref(&note), 1),
        UnverifiableReason::WitnessQuorum,
        "no cosignature",
    );
    // Every checkpoint given must carry it.
    unverifiable(
        &with(&[cosigned(&[&w1, &w2]), cosigned(&[&w1])], 2),
        UnverifiableReason::WitnessQuorum,
        "the second lacks one",
    );
    // The same witness twice counts once.
    unverifiable(
        &with(&[cosigned(&[&w1, &w1])], 2),
        UnverifiableReason::WitnessQuorum,
        "one witness twice",
    );
    // A cosignature over another body by a configured witness.
    let forged = format!(
        "{note}{}",
        w2.cosign(&body.replace("\n5\n", "\n6\n"), 1).unwrap()
    );
    unverifiable(
        &with(&[forged], 1),
        UnverifiableReason::WitnessQuorum,
        "a bad cosignature",
    );
    for quorum in [0, 3] {
        unverifiable(
            &with(&[cosigned(&[&w1, &w2])], quorum),
            UnverifiableReason::WitnessQuorum,
            &format!("quorum {quorum}"),
        );
    }
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s, trailseal::core::time::Offset::Required).unwrap()
}

fn verify_anchor(path: &Path, note: &str) -> Verdict {
    verify_with(
        path,
        VerifyOptions::new()
            .anchor_notes(&[("a.note".into(), note.to_owned())], &signer().verifier()),
    )
}

#[test]
fn anchors_pin_the_tree_and_verify_checks_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    append(&path, 0..10, "a");
    let (anchor, note) = open(&path)
        .anchor(
            &signer(),
            "test.example/log",
            t("2026-12-01T00:00:00Z"),
            true,
        )
        .unwrap();
    assert_eq!(
        anchor.tree,
        Some(TreeHead {
            size: 10,
            root: root_at(&path, 10)
        })
    );
    assert!(
        note.contains(&format!("\ntree 10 {}\n", root_at(&path, 10))),
        "{note}"
    );
    assert!(verify_anchor(&path, &note).is_verified());
    append(&path, 10..20, "a");
    assert!(
        verify_anchor(&path, &note).is_verified(),
        "after more appends"
    );

    // Tree hashes from leaf 5 on removed: the tree check alone sees a tree that is behind
    // (a caveat); the anchor proves it held them.
    let conn = Connection::open(&path).unwrap();
    conn.execute(
        "DELETE FROM trailseal_tree WHERE idx >= ?1",
        [stored_hash_count(5).unwrap() as i64],
    )
    .unwrap();
    drop(conn);
    assert!(verify(&path, &[]).is_verified());
    let v = verify_anchor(&path, &note);
    tampered(&v, TamperKind::Tree, 5, "tree hashes removed");
    assert!(v.detail().contains("anchor a.note"), "{v:?}");
}

#[test]
fn an_anchor_of_another_tree_is_tampered_tree() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    append(&path, 0..10, "a");
    let (mut anchor, _) = open(&path)
        .anchor(
            &signer(),
            "test.example/log",
            t("2026-12-01T00:00:00Z"),
            true,
        )
        .unwrap();
    // The same head, another tree root at size 10 and at a smaller size.
    for size in [10, 3] {
        anchor.tree = Some(TreeHead {
            size,
            root: MerkleHash([7; 32]),
        });
        let v = verify_anchor(&path, &anchor.sign(&signer()).unwrap());
        tampered(&v, TamperKind::Tree, size - 1, &format!("size {size}"));
        assert!(v.detail().contains("anchor a.note"), "{v:?}");
    }
}

#[test]
fn appending_refuses_a_store_whose_tree_lost_what_the_newest_anchor_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let folder = dir.path().join("anchors");
    std::fs::create_dir(&folder).unwrap();
    append(&path, 0..10, "a");
    let (anchor, _, _) = open(&path)
        .anchor_into_dir(&folder, &signer(), "o", t("2026-12-01T00:00:00Z"))
        .unwrap();
    assert_eq!(anchor.tree.map(|t| t.size), Some(10));
    open(&path)
        .check_anchor_dir(&folder, &signer().verifier())
        .unwrap();
    let conn = Connection::open(&path).unwrap();
    conn.execute(
        "DELETE FROM trailseal_tree WHERE idx >= ?1",
        [stored_hash_count(6).unwrap() as i64],
    )
    .unwrap();
    drop(conn);
    match open(&path).check_anchor_dir(&folder, &signer().verifier()) {
        Err(trailseal::Error::AnchorConflict { verdict, .. }) => {
            tampered(&verdict, TamperKind::Tree, 6, "tree cut under the anchor");
        }
        other => panic!("{other:?}"),
    }
}
