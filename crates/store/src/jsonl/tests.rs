//! The JSONL write transaction: what it writes at commit, what a dropped one leaves (nothing),
//! the lock it holds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use trailseal_core::start::{ChainStart, StoredKeyId};
use trailseal_core::{Head, seal_batch};

use super::JsonlStore;
use crate::conformance::{test_key, traces};
use crate::{ImportMeta, ImportRecord, OpenMode, Store, StoreExt};

/// A change made in a transaction.
type Change<'a> = &'a dyn Fn(&mut dyn crate::WriteTx);

fn store_in(dir: &Path) -> (PathBuf, JsonlStore) {
    let path = dir.join("store.jsonl");
    let store = JsonlStore::open(&path, OpenMode::Write { create: true }).unwrap();
    (path, store)
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    n.sort();
    n
}

/// `n` records of a chain sealed with `key`, as a copy from another store hands them over.
fn copies(key: &trailseal_core::ChainKey, n: u64) -> Vec<ImportRecord> {
    let mut head = Head::GENESIS;
    let source = traces(0, n);
    seal_batch(key, &mut head, &source)
        .iter()
        .map(|r| ImportRecord {
            seq: r.seq,
            prev_hash: r.prev_hash,
            record_hash: r.record_hash,
            trace: r.trace.canonical().to_owned(),
            action_id: r.trace.action_id().to_owned(),
            invoked_at: String::new(),
        })
        .collect()
}

#[test]
fn a_dropped_transaction_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut store) = store_in(dir.path());
    let key = test_key();
    store.append(&key, &traces(0, 3)).unwrap();
    store.add_receipt(0, "{\"r\":1}").unwrap();
    let before = std::fs::read(&path).unwrap();
    let listing = names(dir.path());
    let more = traces(3, 2);
    // Every kind of change, each in a transaction dropped without its commit.
    let changes: [Change<'_>; 5] = [
        &|tx| {
            let mut head = tx.head().unwrap();
            tx.insert(&seal_batch(&key, &mut head, &more), &key.key_id())
                .unwrap();
        },
        &|tx| tx.push_receipt("{\"r\":2}").unwrap(),
        &|tx| {
            tx.delete_through(1).unwrap();
            tx.set_start(&ChainStart::checkpoint(1, Head::GENESIS.prev_hash))
                .unwrap();
        },
        &|tx| {
            let mut head = tx.head().unwrap();
            tx.insert(&seal_batch(&key, &mut head, &more), &key.key_id())
                .unwrap();
            tx.push_receipt("{\"r\":2}").unwrap();
        },
        &|tx| tx.record_key_id(&key.key_id()).unwrap(),
    ];
    for (i, change) in changes.iter().enumerate() {
        let mut tx = store.write().unwrap();
        change(tx.as_mut());
        drop(tx);
        assert_eq!(std::fs::read(&path).unwrap(), before, "change {i}");
        assert_eq!(names(dir.path()), listing, "change {i} left a file");
    }
    // And the handle still appends where the chain ends.
    store.append(&key, &more).unwrap();
    assert_eq!(store.state().unwrap().head.unwrap().0, 4);
}

#[test]
fn reads_in_a_transaction_see_its_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut store) = store_in(dir.path());
    let key = test_key();
    store.append(&key, &traces(0, 3)).unwrap();
    let mut tx = store.write().unwrap();
    let mut head = tx.head().unwrap();
    let more = traces(3, 2);
    let sealed = seal_batch(&key, &mut head, &more);
    tx.insert(&sealed, &key.key_id()).unwrap();
    assert_eq!(tx.head().unwrap(), head);
    assert_eq!(
        tx.find_stored_action_id(&["nope", "act-000004"]).unwrap(),
        Some(1)
    );
    assert_eq!(
        tx.record_hash_at(4).unwrap().as_deref(),
        Some(&sealed[1].record_hash.as_bytes()[..])
    );
    tx.push_receipt("{\"r\":1}").unwrap();
    assert_eq!(tx.retention_len().unwrap(), 1);
    tx.delete_through(1).unwrap();
    assert_eq!(tx.first_seq().unwrap(), Some(2));
    assert_eq!(tx.find_stored_action_id(&["act-000000"]).unwrap(), None);
    assert_eq!(tx.key_id().unwrap(), StoredKeyId::Present(key.key_id()));
    tx.commit().unwrap();
    let state = store.state().unwrap();
    assert_eq!(state.retention, ["{\"r\":1}"]);
    let seqs: Vec<u64> = crate::conformance::records(&mut store)
        .iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(seqs, [2, 3, 4]);
}

#[test]
fn a_copy_is_written_beside_the_store_and_appears_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut store) = store_in(dir.path());
    let key = test_key();
    let records = copies(&key, 4);
    let meta = ImportMeta {
        start: ChainStart::genesis(),
        retention: Vec::new(),
        key_id: StoredKeyId::Present(key.key_id()),
        archive_of: None,
    };
    let listing = names(dir.path());
    {
        let mut copy = store.import(&meta).unwrap();
        copy.records(&records[..2]).unwrap();
        copy.records(&records[2..]).unwrap();
        // Not visible yet: the store file is still empty.
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        assert_eq!(names(dir.path()).len(), listing.len() + 1, "written beside");
    }
    // Dropped: nothing of it stays.
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    assert_eq!(names(dir.path()), listing);
    let copy = {
        let mut copy = store.import(&meta).unwrap();
        copy.records(&records).unwrap();
        copy
    };
    copy.finish().unwrap();
    assert_eq!(names(dir.path()), listing);
    let text = std::fs::read_to_string(&path).unwrap();
    let kid = format!("\"kid\":\"{}\"", key.key_id().as_str());
    assert_eq!(
        text.lines().filter(|l| l.contains(&kid)).count(),
        4,
        "{text}"
    );
    assert!(matches!(
        crate::conformance::verify(&mut store, &key),
        trailseal_core::Verdict::Verified(_)
    ));
}

#[test]
fn a_header_changed_after_records_were_copied_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut store) = store_in(dir.path());
    let key = test_key();
    let records = copies(&key, 3);
    let listing = names(dir.path());
    let mut tx = store.write().unwrap();
    tx.insert_copied(&records[..2]).unwrap();
    tx.push_receipt("{\"r\":1}").unwrap();
    tx.insert_copied(&records[2..]).unwrap();
    tx.push_receipt("{\"r\":2}").unwrap();
    let last = records.last().unwrap();
    assert_eq!(
        tx.head().unwrap(),
        Head {
            next_seq: last.seq + 1,
            prev_hash: last.record_hash
        }
    );
    tx.commit().unwrap();
    assert_eq!(
        names(dir.path()),
        listing,
        "a file was left beside the store"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert_eq!(store.state().unwrap().retention, ["{\"r\":1}", "{\"r\":2}"]);
    let seqs: Vec<u64> = crate::conformance::records(&mut store)
        .iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(seqs, [0, 1, 2]);
}

#[test]
fn a_transaction_holds_the_lock_until_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut store) = store_in(dir.path());
    let key = test_key();
    store.append(&key, &traces(0, 1)).unwrap();
    let mut other = JsonlStore::open(&path, OpenMode::Write { create: false }).unwrap();
    let done = AtomicBool::new(false);
    let tx = store.write().unwrap();
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let r = other.append(&key, &traces(1, 1));
            done.store(true, Ordering::SeqCst);
            r
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(
            !done.load(Ordering::SeqCst),
            "another handle wrote while a transaction was open"
        );
        drop(tx);
        writer.join().unwrap().unwrap();
    });
    assert_eq!(store.state().unwrap().head.unwrap().0, 1);
}

/// A store file deleted or moved away while a handle has it open is not silently started
/// again at seq 0 (which would read as a fresh, intact chain): the append is refused and
/// nothing is created. A file replaced at the path (what a prune by another handle does) is
/// followed, as before.
#[test]
fn a_store_file_gone_while_open_is_not_started_again() {
    for how in ["rename", "unlink"] {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut store) = store_in(dir.path());
        let key = test_key();
        store.append(&key, &traces(0, 2)).unwrap();
        match how {
            "rename" => std::fs::rename(&path, dir.path().join("rotated.jsonl")).unwrap(),
            _ => std::fs::remove_file(&path).unwrap(),
        }
        let refused = store.append(&key, &traces(2, 1));
        assert!(
            matches!(refused, Err(crate::StoreError::Moved { .. })),
            "{how}: {refused:?}"
        );
        assert!(!path.exists(), "{how}: no new chain was started");
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, mut store) = store_in(dir.path());
    let key = test_key();
    store.append(&key, &traces(0, 2)).unwrap();
    let copy = dir.path().join("copy.jsonl");
    std::fs::copy(&path, &copy).unwrap();
    std::fs::rename(&copy, &path).unwrap();
    store.append(&key, &traces(2, 1)).unwrap();
    assert_eq!(store.state().unwrap().head.map(|h| h.0), Some(2));
}

/// A tree file whose creation was killed leaves its temporary file (the tree file itself
/// appears whole or not at all); the next write that creates the tree file removes it, and
/// leaves temporary files of other targets alone.
#[test]
fn a_killed_tree_file_creation_leaves_no_litter_after_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.jsonl");
    let stale = dir
        .path()
        .join(format!(".s.jsonl.tree.{}.tmp", "ab".repeat(12)));
    let other = dir
        .path()
        .join(format!(".other.jsonl.tree.{}.tmp", "ab".repeat(12)));
    std::fs::write(&stale, b"trailseal/tree/1").unwrap();
    std::fs::write(&other, b"trailseal/tree/1").unwrap();
    let mut store = JsonlStore::open(&path, OpenMode::Write { create: true }).unwrap();
    store.append(&test_key(), &traces(0, 3)).unwrap();
    assert!(dir.path().join("s.jsonl.tree").exists());
    assert!(
        !stale.exists(),
        "the killed creation's temporary file is gone"
    );
    assert!(other.exists(), "another target's is kept");
}

/// The tree file beside a JSONL store: hashes that do not complete a record (a write cut
/// short) are cut off by the next write; hashes of records the file no longer holds (records
/// removed from its end) are kept, and the tree stops there.
#[test]
fn the_tree_file_survives_a_torn_write_and_keeps_evidence_of_a_rollback() {
    use crate::conformance::stored_tree_hashes;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.jsonl");
    let side = dir.path().join("s.jsonl.tree");
    let key = test_key();
    let mut store = JsonlStore::open(&path, OpenMode::Write { create: true }).unwrap();
    store.append(&key, &traces(0, 5)).unwrap();
    let five = stored_tree_hashes(&mut store);
    // A torn write: part of a hash after the last complete record's.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&side)
        .unwrap();
    std::io::Write::write_all(&mut f, &[7u8; 45]).unwrap();
    drop(f);
    assert_eq!(store.state().unwrap().tree.unwrap().size(), 5);
    store.append(&key, &traces(5, 1)).unwrap();
    let six = stored_tree_hashes(&mut store);
    assert_eq!(six[..five.len()], five[..]);
    assert_eq!(store.state().unwrap().tree.unwrap().size(), 6);
    // The last record removed from the file: the tree still covers it.
    let text = std::fs::read_to_string(&path).unwrap();
    let cut = text.trim_end_matches('\n').rfind('\n').unwrap() + 1;
    std::fs::write(&path, &text[..cut]).unwrap();
    let mut store = JsonlStore::open(&path, OpenMode::Write { create: false }).unwrap();
    let synced = store.sync_tree(&key).unwrap();
    assert_eq!(synced.size, 6);
    assert!(
        synced
            .stopped
            .unwrap()
            .1
            .contains("beyond the chain's last record")
    );
    assert_eq!(stored_tree_hashes(&mut store), six, "the evidence is kept");
}

#[test]
fn a_tree_file_replaced_between_two_appends_of_one_handle_is_the_one_written() {
    // A handle keeps its tree file open between appends; when the path names another file by
    // the next append (replaced by a rename), the new file is the one written, never the
    // replaced one.
    let dir = tempfile::tempdir().unwrap();
    let (path, mut store) = store_in(dir.path());
    let key = test_key();
    store.append(&key, &traces(0, 1)).unwrap();
    store.append(&key, &traces(1, 2)).unwrap();
    store.append(&key, &traces(3, 1)).unwrap();
    let side = super::tree::sidecar_path(&path);
    let copy = dir.path().join("tree-copy");
    std::fs::copy(&side, &copy).unwrap();
    std::fs::rename(&copy, &side).unwrap();
    store.append(&key, &traces(4, 3)).unwrap();
    store.append(&key, &traces(7, 1)).unwrap();
    let expected = crate::conformance::expected_tree(&mut store, &key);
    let mut reader = JsonlStore::open(&path, OpenMode::Read).unwrap();
    assert_eq!(
        crate::conformance::stored_tree_hashes(&mut reader),
        expected
    );
    assert_eq!(reader.state().unwrap().tree.unwrap().size(), 8);
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_planted_at_the_tree_file_is_never_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut store) = store_in(dir.path());
    let key = test_key();
    store.append(&key, &traces(0, 2)).unwrap();
    let side = super::tree::sidecar_path(&path);
    // The link's target looks like a tree file (it is one: a copy), so only the link itself
    // can stop the write.
    let victim = dir.path().join("victim.tree");
    std::fs::copy(&side, &victim).unwrap();
    let victim_before = std::fs::read(&victim).unwrap();
    let store_before = std::fs::read(&path).unwrap();
    std::fs::remove_file(&side).unwrap();
    std::os::unix::fs::symlink(&victim, &side).unwrap();
    for handle in [
        &mut store,
        &mut JsonlStore::open(&path, OpenMode::Write { create: false }).unwrap(),
    ] {
        let e = handle.append(&key, &traces(2, 1)).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read(&victim).unwrap(), victim_before);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            store_before,
            "nothing appended"
        );
    }
}

/// A store removed while its tree file stays: a new store is not started over the old tree
/// (it would read as tampered, and the tree is evidence of what was removed); the error names
/// the tree file and nothing is created. A store that exists with its tree opens as before.
#[test]
fn a_new_store_is_not_started_over_the_tree_of_a_removed_one() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut store) = store_in(dir.path());
    store.append(&test_key(), &traces(0, 3)).unwrap();
    drop(store);
    assert!(JsonlStore::open(&path, OpenMode::Write { create: true }).is_ok());
    std::fs::remove_file(&path).unwrap();
    let before = names(dir.path());
    let err = JsonlStore::open(&path, OpenMode::Write { create: true }).unwrap_err();
    assert!(
        matches!(&err, crate::StoreError::OrphanTree { tree, .. } if tree.ends_with("store.jsonl.tree")),
        "{err}"
    );
    assert!(err.to_string().contains("store.jsonl.tree"), "{err}");
    assert_eq!(names(dir.path()), before, "nothing created");
    // Moved away, the store starts anew.
    std::fs::rename(
        dir.path().join("store.jsonl.tree"),
        dir.path().join("old.tree"),
    )
    .unwrap();
    let mut store = JsonlStore::open(&path, OpenMode::Write { create: true }).unwrap();
    store.append(&test_key(), &traces(0, 1)).unwrap();
}
