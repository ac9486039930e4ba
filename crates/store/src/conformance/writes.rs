//! Conformance checks: prunes, receipts, copies into an empty store, and write transactions
//! dropped without a commit.

use super::*;

/// A prune removes exactly the planned prefix, adds the receipt and moves the start; a plan
/// that no longer matches the store changes nothing.
pub fn prune_is_atomic_and_checked(b: &dyn Backend) {
    use trailseal_core::Hash32;
    let mut f = b.fresh();
    let key = test_key();
    f.store.append(&key, &traces(0, 10)).unwrap();
    let recs = records(&mut *f.store);
    let hash = |seq: usize| Hash32::parse(recs[seq].2.as_bytes()).unwrap();
    let stale = crate::PrunePlan {
        from_seq: 0,
        last_seq: 3,
        last_hash: hash(4),
        log_len: 0,
    };
    assert!(matches!(
        f.store.prune(&stale, "{}"),
        Err(StoreError::Conflict { .. })
    ));
    let wrong_log = crate::PrunePlan {
        from_seq: 0,
        last_seq: 3,
        last_hash: hash(3),
        log_len: 1,
    };
    assert!(matches!(
        f.store.prune(&wrong_log, "{}"),
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        records(&mut *f.store).len(),
        10,
        "{}: a refused prune changes nothing",
        name(&*f.store)
    );
    assert!(f.store.state().unwrap().retention.is_empty());

    let plan = crate::PrunePlan {
        from_seq: 0,
        last_seq: 3,
        last_hash: hash(3),
        log_len: 0,
    };
    f.store.prune(&plan, "{\"receipt\":0}").unwrap();
    let after = records(&mut *f.store);
    assert_eq!(after.first().map(|r| r.0), Some(4));
    assert_eq!(after.len(), 6);
    let state = f.store.state().unwrap();
    assert_eq!(state.retention, vec!["{\"receipt\":0}".to_owned()]);
    assert_eq!(state.start.next_seq, 4);
    assert_eq!(state.start.prev_hash, recs[3].2.as_bytes());
    // Appends continue the chain; a pruned action_id may not come back either way.
    f.store.append(&key, &traces(10, 2)).unwrap();
    assert_eq!(records(&mut *f.store).last().map(|r| r.0), Some(11));
    // The next prune starts where the last one ended.
    let plan = crate::PrunePlan {
        from_seq: 4,
        last_seq: 11,
        last_hash: Hash32::parse(records(&mut *f.store)[7].2.as_bytes()).unwrap(),
        log_len: 1,
    };
    f.store.prune(&plan, "{\"receipt\":1}").unwrap();
    let state = f.store.state().unwrap();
    assert!(records(&mut *f.store).is_empty());
    assert_eq!(state.start.next_seq, 12);
    assert_eq!(state.retention.len(), 2);
    f.store.append(&key, &traces(20, 1)).unwrap();
    assert_eq!(
        records(&mut *f.store)[0].0,
        12,
        "{}: a fully pruned chain resumes at the checkpoint",
        name(&*f.store)
    );
}

/// Receipts are added in order, and only onto the log the writer saw.
pub fn receipts_append_in_order(b: &dyn Backend) {
    let mut f = b.fresh();
    f.store.append(&test_key(), &traces(0, 3)).unwrap();
    f.store.add_receipt(0, "{\"r\":0}").unwrap();
    assert!(matches!(
        f.store.add_receipt(0, "{\"r\":\"stale\"}"),
        Err(StoreError::Conflict { .. })
    ));
    f.store.add_receipt(1, "{\"r\":1}").unwrap();
    let state = f.store.state().unwrap();
    assert_eq!(
        state.retention,
        vec!["{\"r\":0}".to_owned(), "{\"r\":1}".to_owned()]
    );
    assert_eq!(
        records(&mut *f.store).len(),
        3,
        "{}: receipts leave records alone",
        name(&*f.store)
    );
    if let Some(mut other) = b.reopen(&f) {
        assert_eq!(other.state().unwrap().retention.len(), 2);
    }
}

/// A chain copied in verbatim — pruned start, retention log, key id, records — is the same
/// chain and verifies; importing into a store that is not empty is refused.
pub fn import_copies_a_chain(b: &dyn Backend) {
    use trailseal_core::retention::{Cutoff, Receipt, ReceiptBody};
    use trailseal_core::{Hash32, Timestamp};
    let key = test_key();
    let mut src = crate::memory::MemoryStore::new();
    src.append(&key, &traces(0, 12)).unwrap();
    let recs = records(&mut src);
    let last_hash = Hash32::parse(recs[4].2.as_bytes()).unwrap();
    let receipt = Receipt::seal(
        &key,
        0,
        Timestamp::from_unix_micros(1_800_000_000_000_000),
        ReceiptBody::Prune {
            from: trailseal_core::start::ChainStart::genesis(),
            last_pruned_seq: 4,
            last_pruned_hash: last_hash,
            count: 5,
            cutoff: Cutoff::KeepLast(7),
        },
        Hash32::GENESIS,
    );
    src.prune(
        &crate::PrunePlan {
            from_seq: 0,
            last_seq: 4,
            last_hash,
            log_len: 0,
        },
        &receipt.to_json(),
    )
    .unwrap();
    assert!(verify(&mut src, &key).is_verified());
    let state = src.state().unwrap();

    let mut f = b.fresh();
    // Another handle, opened before the copy begins, to look at the store while it runs.
    let mut watcher = b.reopen(&f);
    let mut copy = f
        .store
        .import(&crate::ImportMeta {
            start: state.start.clone(),
            retention: state.retention.clone(),
            key_id: state.key_id,
            archive_of: None,
        })
        .unwrap();
    let copied: Vec<crate::ImportRecord> = records(&mut src)
        .into_iter()
        .map(|(seq, prev, rec, trace)| {
            let doc = trailseal_core::json::parse(trace.as_bytes()).unwrap();
            let field = |k: &str| {
                doc.root()
                    .get(k)
                    .and_then(|n| n.as_str())
                    .unwrap()
                    .to_owned()
            };
            crate::ImportRecord {
                seq,
                prev_hash: Hash32::parse(prev.as_bytes()).unwrap(),
                record_hash: Hash32::parse(rec.as_bytes()).unwrap(),
                action_id: field("action_id"),
                invoked_at: field("invoked_at"),
                trace,
            }
        })
        .collect();
    let (a, c) = copied.split_at(3);
    copy.records(a).unwrap();
    copy.records(c).unwrap();
    // Nothing of the copy shows before it finishes.
    if let Some(other) = watcher.as_mut() {
        let seen = other.state().unwrap();
        assert!(
            seen.head.is_none() && seen.retention.is_empty(),
            "{}: an unfinished copy shows: {seen:?}",
            name(&**other)
        );
    }
    copy.finish().unwrap();
    drop(watcher);
    assert_eq!(
        records(&mut *f.store),
        records(&mut src),
        "{}: the records are copied verbatim",
        name(&*f.store)
    );
    let dest = f.store.state().unwrap();
    assert_eq!(
        (dest.start.next_seq, &dest.start.prev_hash),
        (5, &state.start.prev_hash)
    );
    assert_eq!(
        (dest.retention, dest.key_id),
        (state.retention.clone(), state.key_id)
    );
    let v = verify(&mut *f.store, &key);
    assert!(
        v.is_verified() && v.records_checked() == 7,
        "{}: {v:?}",
        name(&*f.store)
    );
    // The copy is a live chain: it takes appends.
    f.store.append(&key, &traces(50, 2)).unwrap();
    assert!(verify(&mut *f.store, &key).is_verified());
    let mut g = b.fresh();
    g.store.append(&key, &traces(0, 1)).unwrap();
    let meta = crate::ImportMeta {
        start: trailseal_core::start::ChainStart::genesis(),
        retention: Vec::new(),
        key_id: StoredKeyId::Absent,
        archive_of: None,
    };
    // Not "the store changed, retry": a retry cannot succeed, and the error says what is there.
    match g.store.import(&meta).map(drop) {
        Err(e @ StoreError::NotEmpty { .. }) => {
            let text = e.to_string();
            assert!(text.contains("the destination is not empty"), "{text}");
            assert!(!text.contains("retry"), "{text}");
            let StoreError::NotEmpty { holds, .. } = &e else {
                unreachable!()
            };
            assert!(
                holds.last_seq == Some(0) || holds.records == Some(1),
                "{text}"
            );
        }
        other => panic!("{}: {other:?}", name(&*g.store)),
    }

    // A copy that never finishes (its handle dropped, as when the process dies) leaves the
    // store empty, and a new copy into it succeeds.
    let mut h = b.fresh();
    let full = crate::ImportMeta {
        start: state.start.clone(),
        retention: state.retention.clone(),
        key_id: state.key_id,
        archive_of: None,
    };
    let mut copy = h.store.import(&full).unwrap();
    copy.records(&copied).unwrap();
    // Dropping the guard, as when the process dies, gives the copy up.
    drop(copy);
    if let Some(other) = b.reopen(&h) {
        h.store = other;
        let seen = h.store.state().unwrap();
        assert!(
            seen.head.is_none() && seen.retention.is_empty(),
            "{}: an abandoned copy shows: {seen:?}",
            name(&*h.store)
        );
        let mut copy = h.store.import(&full).unwrap();
        copy.records(&copied).unwrap();
        copy.finish().unwrap();
        let v = verify(&mut *h.store, &key);
        assert!(
            v.is_verified() && v.records_checked() == 7,
            "{}: {v:?}",
            name(&*h.store)
        );
    }
}

/// A write transaction dropped without `commit`, after it inserted records, pushed a receipt,
/// deleted records, moved the start and recorded a key id, leaves
/// the store exactly as it was, for this handle and any other; the handle then keeps working,
/// and what the dropped transaction wrote is not taken as written (an append then records the
/// key id, which a "key id recorded" cache set before the commit would skip).
pub fn dropped_write_changes_nothing(b: &dyn Backend) {
    use trailseal_core::start::ChainStart;
    use trailseal_core::{Hash32, seal_batch};
    let key = test_key();
    let other_key = ChainKey::from_secret(b"another secret").unwrap();
    let mut f = b.fresh();
    let who = name(&*f.store);
    let mut watcher = b.reopen(&f);
    // Every write operation in one transaction, then dropped: on an empty store (where the
    // delete takes a record the transaction inserted), then on one holding records, a receipt
    // and a pruned start (where it takes the first record stored).
    let write_and_drop = |store: &mut dyn Store, first: u64| {
        let mut tx = store.write().unwrap();
        let mut head = tx.head().unwrap();
        let stored_first = tx
            .first_seq()
            .unwrap()
            .map(|seq| (seq, tx.record_hash_at(seq).unwrap().unwrap()));
        let batch = traces(first, 3);
        let sealed = seal_batch(&key, &mut head, &batch);
        tx.insert(&sealed, &key.key_id()).unwrap();
        tx.push_receipt("{\"dropped\":true}").unwrap();
        let (cut, cut_hash) = match stored_first {
            Some((seq, hash)) => (seq, Hash32::parse(&hash).unwrap()),
            None => (sealed[0].seq, sealed[0].record_hash),
        };
        tx.delete_through(cut).unwrap();
        tx.set_start(&ChainStart::checkpoint(cut, cut_hash))
            .unwrap();
        tx.record_key_id(&other_key.key_id()).unwrap();
        drop(tx);
    };
    // What is stored; `record_count_hint` is not (a file store that did not exist before its
    // first write may tell it before and not after).
    let stored = |store: &mut dyn Store| crate::StoreState {
        record_count_hint: None,
        ..store.state().unwrap()
    };
    let check_unchanged = |store: &mut dyn Store,
                           watcher: &mut Option<Box<dyn Store>>,
                           state: &crate::StoreState,
                           recs: &[(u64, String, String, String)]| {
        assert_eq!(
            &stored(store),
            state,
            "{who}: a dropped write changed the state"
        );
        assert_eq!(
            records(store),
            recs,
            "{who}: a dropped write changed the records"
        );
        if let Some(w) = watcher.as_mut() {
            assert_eq!(&stored(&mut **w), state, "{who}: seen from another handle");
            assert_eq!(records(&mut **w), recs, "{who}: seen from another handle");
        }
    };

    let empty = stored(&mut *f.store);
    write_and_drop(&mut *f.store, 0);
    check_unchanged(&mut *f.store, &mut watcher, &empty, &[]);
    // The handle keeps working, and records the key id the dropped transaction had written.
    f.store.append(&key, &traces(0, 4)).unwrap();
    assert_eq!(
        f.store.state().unwrap().key_id,
        StoredKeyId::Present(key.key_id()),
        "{who}: the key id of a dropped write was taken as recorded"
    );
    let v = verify(&mut *f.store, &key);
    assert!(v.is_verified() && v.records_checked() == 4, "{who}: {v:?}");
    f.store.add_receipt(0, "{\"receipt\":0}").unwrap();
    let recs = records(&mut *f.store);
    let plan = crate::PrunePlan {
        from_seq: 0,
        last_seq: 1,
        last_hash: Hash32::parse(recs[1].2.as_bytes()).unwrap(),
        log_len: 1,
    };
    f.store.prune(&plan, "{\"receipt\":1}").unwrap();

    let full = stored(&mut *f.store);
    let recs = records(&mut *f.store);
    write_and_drop(&mut *f.store, 10);
    check_unchanged(&mut *f.store, &mut watcher, &full, &recs);
    // A dropped transaction that moved the start back to genesis changes nothing either.
    {
        let mut tx = f.store.write().unwrap();
        tx.set_start(&ChainStart::genesis()).unwrap();
        tx.delete_through(u64::MAX - 1).unwrap();
    }
    check_unchanged(&mut *f.store, &mut watcher, &full, &recs);
    // Both handles still write, onto the chain as it was.
    f.store.append(&key, &traces(20, 2)).unwrap();
    if let Some(w) = watcher.as_mut() {
        w.append(&key, &traces(30, 2)).unwrap();
    }
    let after = records(&mut *f.store);
    assert_eq!(after[..recs.len()], recs[..], "{who}");
    assert_eq!(after.first().map(|r| r.0), Some(2), "{who}");
    for pair in after.windows(2) {
        assert_eq!(pair[1].0, pair[0].0 + 1, "{who}: {after:?}");
        assert_eq!(pair[1].1, pair[0].2, "{who}: seq {} links", pair[1].0);
    }
    assert_eq!(
        f.store.state().unwrap().retention.len(),
        2,
        "{who}: the receipt of a dropped write is not in the log"
    );
}

/// A rotation appends its receipt and records the new key id in one transaction, only while
/// the retention log and the head are as planned; a refused one changes nothing; the new key
/// then appends.
pub fn rotate_is_atomic_and_checked(b: &dyn Backend) {
    let mut f = b.fresh();
    let key = test_key();
    f.store.append(&key, &traces(0, 3)).unwrap();
    let recs = records(&mut *f.store);
    let head = recs[2].2.clone();
    let new_key = ChainKey::from_secret(b"conformance-rotation-new-key-0123456789").unwrap();
    let receipt = "{\"rotate\":1}";
    // The log is not as planned; the head is not as planned.
    assert!(matches!(
        f.store
            .rotate(1, Some((2, head.as_bytes())), receipt, &new_key.key_id()),
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        f.store.rotate(
            0,
            Some((1, recs[1].2.as_bytes())),
            receipt,
            &new_key.key_id()
        ),
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        f.store.rotate(0, None, receipt, &new_key.key_id()),
        Err(StoreError::Conflict { .. })
    ));
    let state = f.store.state().unwrap();
    assert!(
        state.retention.is_empty(),
        "{}: a refused rotation changes nothing",
        name(&*f.store)
    );
    assert_eq!(
        state.key_id,
        StoredKeyId::Present(key.key_id()),
        "{}",
        name(&*f.store)
    );
    f.store
        .rotate(0, Some((2, head.as_bytes())), receipt, &new_key.key_id())
        .unwrap();
    let state = f.store.state().unwrap();
    assert_eq!(state.retention, [receipt.to_owned()], "{}", name(&*f.store));
    // JSONL names a key only by its lines' `kid` (the library checks a rotation's receipt
    // there); every other backend records the new key id, which the library's key check reads.
    let backend = name(&*f.store);
    // (A JSONL file's lines are all under one key: rotations of it are made as a new segment,
    // which leaves no line under the old key; none is appended here.)
    if !backend.contains("jsonl") {
        assert_eq!(
            state.key_id,
            StoredKeyId::Present(new_key.key_id()),
            "{backend}"
        );
        f.store.append(&new_key, &traces(3, 1)).unwrap();
        assert_eq!(records(&mut *f.store).len(), 4, "{backend}");
    }
}
