//! The Merkle tree recomputed by `verify` in the same pass as the chain: a stored tree hash
//! that differs from what the records give is `tampered`, kind `tree`, at the first record
//! whose hashes differ, whatever the thread count; records the tree does not cover are a
//! `tree-incomplete` caveat until a trailseal write brings them in.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;

use rusqlite::Connection;
use trailseal::core::tree::{stored_hash_count, stored_hash_index};
use trailseal::{
    AuditLog, Caveat, ChainKey, OpenMode, OpenOptions, TamperKind, Verdict, VerifyOptions,
};

fn key() -> ChainKey {
    ChainKey::from_secret(b"tree-verification-secret").unwrap()
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

fn append(path: &Path, records: std::ops::Range<u64>) {
    let mut log = open(path);
    let texts: Vec<String> = records
        .map(|n| {
            trailseal_testkit::Trace::new(format!("a-{n:05}"))
                .args(format!(r#"{{"n":{n}}}"#))
                .json()
        })
        .collect();
    log.append(&log.prepare(texts.iter().map(String::as_bytes)).unwrap())
        .unwrap();
}

/// The verdict with 1 and with 4 threads (they must agree).
fn verdict(path: &Path) -> Verdict {
    let one = open(path).verify_with(&mut VerifyOptions::new().threads(1));
    let four = open(path).verify_with(&mut VerifyOptions::new().threads(4));
    assert_eq!(one, four, "the verdict depends on the thread count");
    one
}

fn tree_caveat(v: &Verdict) -> Option<Caveat> {
    v.caveats()
        .iter()
        .find(|c| matches!(c, Caveat::TreeIncomplete { .. }))
        .cloned()
}

fn assert_tree_tampered(v: &Verdict, seq: u64, what: &str) {
    assert_eq!(
        (v.kind(), v.first_bad_seq()),
        (Some(TamperKind::Tree), Some(seq)),
        "{what}: {v:?}"
    );
}

#[test]
fn a_changed_tree_hash_is_tampered_at_the_first_record_it_covers() {
    let dir = tempfile::tempdir().unwrap();
    // Over one digest window (8,192 leaves), so windows after the first are located too.
    let path = dir.path().join("s.db");
    append(&path, 0..9000);
    let v = verdict(&path);
    assert!(v.is_verified(), "{v:?}");
    assert_eq!(tree_caveat(&v), None, "the tree covers every record");

    let flip = |index: u64| {
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE trailseal_tree SET hash = zeroblob(32) WHERE idx = ?1",
            [index as i64],
        )
        .unwrap();
    };
    let copy = dir.path().join("orig.db");
    std::fs::copy(&path, &copy).unwrap();
    // A leaf hash: that record.
    for seq in [0u64, 123, 8191, 8192, 8999] {
        std::fs::copy(&copy, &path).unwrap();
        flip(stored_hash_index(0, seq).unwrap());
        assert_tree_tampered(&verdict(&path), seq, &format!("leaf of seq {seq}"));
    }
    // An interior hash (level 3, subtree 5 covers leaves 40..48): the record closing it.
    std::fs::copy(&copy, &path).unwrap();
    flip(stored_hash_index(3, 5).unwrap());
    assert_tree_tampered(&verdict(&path), 47, "interior hash");
}

#[test]
fn an_unreadable_tree_hash_is_tampered_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    append(&path, 0..20_000);
    let copy = dir.path().join("orig.db");
    std::fs::copy(&path, &copy).unwrap();
    let index = stored_hash_index(0, 17_000).unwrap() as i64;
    for (what, sql) in [
        (
            "not 32 bytes",
            "UPDATE trailseal_tree SET hash = x'00' WHERE idx = ?1",
        ),
        (
            "text",
            "UPDATE trailseal_tree SET hash = hex(hash) WHERE idx = ?1",
        ),
        ("a row removed", "DELETE FROM trailseal_tree WHERE idx = ?1"),
    ] {
        std::fs::copy(&copy, &path).unwrap();
        Connection::open(&path)
            .unwrap()
            .execute(sql, [index])
            .unwrap();
        // `verdict` checks that 1 thread (hashes read after the scan) and 4 threads (read
        // ahead, beside it) agree.
        let v = verdict(&path);
        assert_eq!(v.kind(), Some(TamperKind::Tree), "{what}: {v:?}");
        assert!(
            v.detail().contains(&index.to_string()),
            "{what}: the hash is named: {v:?}"
        );
    }
}

#[test]
fn a_jsonl_tree_file_is_checked_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.jsonl");
    append(&path, 0..50);
    assert_eq!(tree_caveat(&verdict(&path)), None);
    let side = dir.path().join("s.jsonl.tree");
    let mut bytes = std::fs::read(&side).unwrap();
    // The leaf hash of seq 20, one bit.
    let at = 24 + 32 * stored_hash_index(0, 20).unwrap() as usize;
    bytes[at + 7] ^= 1;
    std::fs::write(&side, &bytes).unwrap();
    assert_tree_tampered(&verdict(&path), 20, "jsonl leaf");
}

#[test]
fn records_outside_the_tree_are_a_caveat_until_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    append(&path, 0..300);
    // As if records 200.. were appended by weaver-kernel, which keeps no tree.
    let keep = stored_hash_count(200).unwrap();
    Connection::open(&path)
        .unwrap()
        .execute("DELETE FROM trailseal_tree WHERE idx >= ?1", [keep as i64])
        .unwrap();
    let v = verdict(&path);
    assert!(v.is_verified(), "{v:?}");
    assert_eq!(
        tree_caveat(&v),
        Some(Caveat::TreeIncomplete {
            count: 100,
            first_seq: 200
        })
    );
    assert_eq!(
        tree_caveat(&v).unwrap().code(),
        "tree-incomplete",
        "a stable code"
    );
    // The next append brings them in (each checked first), then itself.
    append(&path, 300..301);
    let v = verdict(&path);
    assert!(v.is_verified(), "{v:?}");
    assert_eq!(tree_caveat(&v), None);
}

#[test]
fn a_store_without_a_tree_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    append(&path, 0..10);
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "DROP TABLE trailseal_tree; DELETE FROM trailseal_meta WHERE key = 'tree_base';",
        )
        .unwrap();
    let v = verdict(&path);
    assert_eq!(
        tree_caveat(&v),
        Some(Caveat::TreeIncomplete {
            count: 10,
            first_seq: 0
        }),
        "{v:?}"
    );
}
