//! Conformance checks: the Merkle tree a store holds, written by the one write path.

use trailseal_core::Hash32;
use trailseal_core::leaf::Leaf;
use trailseal_core::tree::{MerkleHash, append_stored_hashes, stored_hash_count, tree_hash};

use super::*;
use crate::{ImportMeta, ImportRecord};

/// The stored hashes the records of `store` give, computed independently of the store: each
/// record's leaf (its seq, hashes and canonical trace, salted with `key`), then Go tlog's
/// stored-hash layout.
pub fn expected_tree(store: &mut dyn Store, key: &ChainKey) -> Vec<MerkleHash> {
    let mut stored = Vec::new();
    let mut added = Vec::new();
    for (i, (seq, prev, rec, trace)) in records(store).into_iter().enumerate() {
        let leaf = Leaf::for_record(
            key,
            seq,
            &Hash32::parse(prev.as_bytes()).unwrap(),
            &Hash32::parse(rec.as_bytes()).unwrap(),
            trace.as_bytes(),
        );
        added.clear();
        append_stored_hashes(i as u64, leaf.hash(), &mut stored, &mut added).unwrap();
        stored.extend_from_slice(&added);
    }
    stored
}

/// Every stored hash the store holds, read through a snapshot.
pub fn stored_tree_hashes(store: &mut dyn Store) -> Vec<MerkleHash> {
    let mut snapshot = store.snapshot(1).unwrap();
    let Some(tree) = snapshot.state.tree else {
        return Vec::new();
    };
    let mut out = vec![MerkleHash::default(); tree.hashes as usize];
    snapshot.readers[0].read_tree_hashes(0, &mut out).unwrap();
    out
}

fn assert_tree_is(store: &mut dyn Store, key: &ChainKey, what: &str) {
    let expected = expected_tree(store, key);
    let n = records(store).len() as u64;
    let state = store.state().unwrap();
    let tree = state
        .tree
        .unwrap_or_else(|| panic!("{}: {what}: no tree", name(store)));
    assert_eq!(tree.size(), n, "{}: {what}: tree size", name(store));
    assert!(tree.is_exact(), "{}: {what}", name(store));
    assert_eq!(tree.hashes, stored_hash_count(n).unwrap());
    assert_eq!(
        stored_tree_hashes(store),
        expected,
        "{}: {what}: stored hashes",
        name(store)
    );
}

/// Appends one at a time, in batches, and in batches large enough to seal on a second thread
/// write the tree hashes of exactly the records stored, in Go's layout, with the records'
/// salted leaves; a refused append writes none; a store reopened reads the same tree.
pub fn appends_write_the_tree(b: &dyn Backend) {
    let mut f = b.fresh();
    let key = test_key();
    assert_eq!(f.store.state().unwrap().tree, None, "{}", name(&*f.store));
    f.store.append(&key, &traces(0, 1)).unwrap();
    assert_tree_is(&mut *f.store, &key, "one record");
    for n in 1..6 {
        f.store.append(&key, &traces(n, 1)).unwrap();
    }
    f.store.append(&key, &traces(6, 3)).unwrap();
    assert_tree_is(&mut *f.store, &key, "single appends and a batch");
    f.store.append(&key, &traces(9, 300)).unwrap();
    assert_tree_is(&mut *f.store, &key, "a pipelined batch");
    let before = stored_tree_hashes(&mut *f.store);
    // A batch repeating a stored action_id is refused whole: no hash is written either.
    let mut dup = traces(309, 3);
    dup.push(trace(5));
    assert!(f.store.append(&key, &dup).is_err());
    assert_eq!(
        stored_tree_hashes(&mut *f.store),
        before,
        "{}",
        name(&*f.store)
    );
    if let Some(mut other) = b.reopen(&f) {
        assert_tree_is(&mut *other, &key, "another handle");
        other.append(&key, &traces(309, 2)).unwrap();
        assert_tree_is(&mut *f.store, &key, "appended through another handle");
    }
    // The root the stored hashes give is the root of the records.
    let mut expected = expected_tree(&mut *f.store, &key);
    let n = records(&mut *f.store).len() as u64;
    let mut stored = stored_tree_hashes(&mut *f.store);
    assert_eq!(
        tree_hash(n, &mut stored).unwrap(),
        tree_hash(n, &mut expected).unwrap()
    );
}

/// Two handles appending in turn keep one tree: each append of a handle that remembers the
/// tree's right edge from its own last append reads it again when the other handle appended
/// meanwhile.
pub fn interleaved_handles_keep_one_tree(b: &dyn Backend) {
    let mut f = b.fresh();
    let key = test_key();
    for n in 0..3 {
        f.store.append(&key, &traces(n, 1)).unwrap();
    }
    let Some(mut other) = b.reopen(&f) else {
        return;
    };
    let mut next = 3;
    for (mine, theirs) in [(1, 2), (2, 1), (1, 1), (3, 5), (1, 0), (1, 0)] {
        if theirs > 0 {
            other.append(&key, &traces(next, theirs)).unwrap();
            next += theirs;
        }
        f.store.append(&key, &traces(next, mine)).unwrap();
        next += mine;
        assert_tree_is(
            &mut *f.store,
            &key,
            &format!("after {theirs} by the other handle and {mine} by this one"),
        );
    }
    // A refused append leaves nothing to remember: the next one still writes the right tree.
    assert!(f.store.append(&key, &traces(0, 1)).is_err());
    f.store.append(&key, &traces(next, 1)).unwrap();
    assert_tree_is(&mut *f.store, &key, "after a refused append");
}

/// Pruning removes records and never a tree hash: the tree keeps its size and every hash, and
/// appends after it go on from the tree's end.
pub fn prune_keeps_the_tree(b: &dyn Backend) {
    let mut f = b.fresh();
    let key = test_key();
    f.store.append(&key, &traces(0, 10)).unwrap();
    let full = expected_tree(&mut *f.store, &key);
    let recs = records(&mut *f.store);
    let plan = crate::PrunePlan {
        from_seq: 0,
        last_seq: 3,
        last_hash: Hash32::parse(recs[3].2.as_bytes()).unwrap(),
        log_len: 0,
    };
    f.store.prune(&plan, "{\"receipt\":0}").unwrap();
    let tree = f.store.state().unwrap().tree.unwrap();
    assert_eq!((tree.base, tree.size()), (0, 10), "{}", name(&*f.store));
    assert_eq!(
        stored_tree_hashes(&mut *f.store),
        full,
        "{}",
        name(&*f.store)
    );
    f.store.append(&key, &traces(10, 2)).unwrap();
    let tree = f.store.state().unwrap().tree.unwrap();
    assert_eq!(tree.size(), 12, "{}", name(&*f.store));
    assert_eq!(stored_tree_hashes(&mut *f.store)[..full.len()], full[..]);
}

/// Records the tree does not cover (a copied chain; a weaver-kernel store) are brought in by
/// `sync_tree`, and by the next append; each is checked first, and the tree stops before one
/// that fails its check.
pub fn sync_tree_brings_records_in(b: &dyn Backend) {
    let key = test_key();
    // A chain written elsewhere, copied in verbatim: its records have no tree hashes.
    let mut src = crate::memory::MemoryStore::new();
    src.append(&key, &traces(0, 40)).unwrap();
    let copied: Vec<ImportRecord> = records(&mut src)
        .into_iter()
        .map(|(seq, prev, rec, trace)| ImportRecord {
            seq,
            prev_hash: Hash32::parse(prev.as_bytes()).unwrap(),
            record_hash: Hash32::parse(rec.as_bytes()).unwrap(),
            action_id: format!("act-{seq:06}"),
            invoked_at: trailseal_core::json::parse(trace.as_bytes())
                .unwrap()
                .root()
                .get("invoked_at")
                .and_then(|n| n.as_str())
                .unwrap()
                .to_owned(),
            trace,
        })
        .collect();
    let meta = ImportMeta {
        start: trailseal_core::start::ChainStart::genesis(),
        retention: Vec::new(),
        key_id: StoredKeyId::Present(key.key_id()),
        archive_of: None,
    };
    let mut f = b.fresh();
    let mut copy = f.store.import(&meta).unwrap();
    copy.records(&copied).unwrap();
    copy.finish().unwrap();
    assert_eq!(f.store.state().unwrap().tree, None, "{}", name(&*f.store));
    let synced = f.store.sync_tree(&key).unwrap();
    assert_eq!(
        (synced.base, synced.size, synced.added, synced.stopped),
        (Some(0), 40, 40, None),
        "{}",
        name(&*f.store)
    );
    assert_tree_is(&mut *f.store, &key, "synced");
    assert_eq!(
        f.store.sync_tree(&key).unwrap().added,
        0,
        "nothing left to do"
    );

    // The same copy, and an append: the append brings the copied records in itself.
    let mut g = b.fresh();
    let mut copy = g.store.import(&meta).unwrap();
    copy.records(&copied).unwrap();
    copy.finish().unwrap();
    g.store.append(&key, &traces(40, 2)).unwrap();
    assert_tree_is(&mut *g.store, &key, "an append after a copy");

    // A record whose MAC does not match is not hashed in, nor anything after it.
    let mut bad = copied.clone();
    bad[25].trace = bad[25].trace.replacen("crm.search", "crm.delete", 1);
    let mut h = b.fresh();
    let mut copy = h.store.import(&meta).unwrap();
    copy.records(&bad).unwrap();
    copy.finish().unwrap();
    let synced = h.store.sync_tree(&key).unwrap();
    assert_eq!(synced.size, 25, "{}", name(&*h.store));
    let (seq, why) = synced.stopped.unwrap();
    assert_eq!(seq, 25);
    assert!(why.contains("does not match"), "{why}");
    // Appends still succeed; the tree stays where the chain stopped verifying.
    h.store.append(&key, &traces(40, 1)).unwrap();
    assert_eq!(h.store.state().unwrap().tree.unwrap().size(), 25);
}
