//! Conformance checks: appends, scans, lookups, and two handles on one chain.

use super::*;

/// An empty store: genesis start, no head, no key id; it verifies with the "empty" caveat.
pub fn empty_store(b: &dyn Backend) {
    let mut f = b.fresh();
    let state = f.store.state().unwrap();
    assert_eq!(state.start.next_seq, 0, "{}", name(&*f.store));
    assert_eq!(state.start.prev_hash, GENESIS_HASH.as_bytes());
    assert!(state.head.is_none());
    assert_eq!(state.key_id, StoredKeyId::Absent);
    assert!(records(&mut *f.store).is_empty());
    let verdict = verify(&mut *f.store, &test_key());
    assert!(
        verdict.caveats().contains(&Caveat::EmptyStore),
        "{verdict:?}"
    );
}

/// Appends link in order from genesis, single and batched, and verify.
pub fn append_links_and_verifies(b: &dyn Backend) {
    let mut f = b.fresh();
    let key = test_key();
    for n in 0..3 {
        let done = f.store.append(&key, &[trace(n)]).unwrap();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].seq, n);
    }
    let done = f.store.append(&key, &traces(3, 20)).unwrap();
    assert_eq!(
        done.iter().map(|a| a.seq).collect::<Vec<_>>(),
        (3..23).collect::<Vec<_>>()
    );
    let recs = records(&mut *f.store);
    assert_eq!(recs.len(), 23, "{}", name(&*f.store));
    assert_eq!(recs[0].1, GENESIS_HASH);
    for pair in recs.windows(2) {
        assert_eq!(pair[1].0, pair[0].0 + 1);
        assert_eq!(
            pair[1].1, pair[0].2,
            "seq {} must link to seq {}",
            pair[1].0, pair[0].0
        );
    }
    assert_eq!(recs[22].2, done[19].record_hash.as_str());
    let state = f.store.state().unwrap();
    assert_eq!(state.head.as_ref().map(|h| h.0), Some(22));
    assert_eq!(state.key_id, StoredKeyId::Present(key.key_id()));
    let verdict = verify(&mut *f.store, &key);
    assert!(verdict.is_verified(), "{}: {verdict:?}", name(&*f.store));
    assert_eq!(verdict.records_checked(), 23);
}

/// The stored trace is the canonical form of what was appended.
pub fn traces_round_trip(b: &dyn Backend) {
    let mut f = b.fresh();
    let batch = traces(0, 5);
    f.store.append(&test_key(), &batch).unwrap();
    let recs = records(&mut *f.store);
    for (rec, t) in recs.iter().zip(&batch) {
        assert_eq!(rec.3, t.canonical());
    }
}

/// Records hash exactly as chain format "1" says (weaver-kernel's known answer).
pub fn known_answer(b: &dyn Backend) {
    let mut f = b.fresh();
    let key = ChainKey::from_secret(b"chain-test-secret").unwrap();
    let text = |id: &str, at: &str| {
        format!(
            r#"{{"action_id":"{id}","capability_id":"billing.list","principal_id":"u1","token_id":"tok-1","invoked_at":"{at}","args":{{"a":1}},"response_mode":"summary","driver_id":"memory"}}"#
        )
    };
    let batch = [
        PreparedTrace::parse(
            text("act-0", "2026-01-01T00:00:00+00:00").as_bytes(),
            &TraceLimits::default(),
        )
        .unwrap(),
        PreparedTrace::parse(
            text("act-1", "2026-01-01T00:00:01+00:00").as_bytes(),
            &TraceLimits::default(),
        )
        .unwrap(),
    ];
    f.store.append(&key, &batch[..1]).unwrap();
    f.store.append(&key, &batch[1..]).unwrap();
    let recs = records(&mut *f.store);
    assert_eq!(
        recs[0].2,
        "d68a91b5c0874a9137514cb984b164b540a3c9255e77c15696ea3b215c7b9007"
    );
    assert_eq!(
        recs[1].2,
        "cbd72ea6e6b32137d7c1fdcc0a24929f6d3bededf5f1f9ef97bf240fcbdb7852"
    );
}

fn assert_unchanged(store: &mut dyn Store, before: &[(u64, String, String, String)]) {
    assert_eq!(
        records(store),
        before,
        "{}: a refused append must write nothing",
        name(store)
    );
}

/// A repeated action_id, within a batch or against the store, refuses the whole batch.
pub fn duplicate_action_id_writes_nothing(b: &dyn Backend) {
    let mut f = b.fresh();
    let key = test_key();
    f.store.append(&key, &traces(0, 4)).unwrap();
    let before = records(&mut *f.store);
    let mut batch = traces(10, 3);
    batch.push(trace(2));
    match f.store.append(&key, &batch) {
        Err(StoreError::DuplicateActionId { action_id, .. }) => assert_eq!(action_id, "act-000002"),
        other => panic!(
            "{}: expected DuplicateActionId, got {other:?}",
            name(&*f.store)
        ),
    }
    assert_unchanged(&mut *f.store, &before);
    let in_batch = vec![trace(20), trace(21), trace(20)];
    match f.store.append(&key, &in_batch) {
        Err(StoreError::DuplicateActionId { action_id, .. }) => assert_eq!(action_id, "act-000020"),
        other => panic!(
            "{}: expected DuplicateActionId, got {other:?}",
            name(&*f.store)
        ),
    }
    assert_unchanged(&mut *f.store, &before);
    // The store still takes new traces after a refusal.
    f.store.append(&key, &traces(30, 2)).unwrap();
    assert!(verify(&mut *f.store, &key).is_verified());
}

/// `find` returns the record with that action_id, or nothing.
pub fn find_by_action_id(b: &dyn Backend) {
    let mut f = b.fresh();
    f.store.append(&test_key(), &traces(0, 12)).unwrap();
    let found = f
        .store
        .find("act-000007")
        .unwrap()
        .expect("act-000007 is stored");
    assert_eq!(found.seq, 7);
    assert_eq!(found.trace, trace(7).canonical());
    assert!(f.store.find("act-999999").unwrap().is_none());
}

/// Scans start at `from_seq` and stop when told to.
pub fn scan_bounds(b: &dyn Backend) {
    let mut f = b.fresh();
    f.store.append(&test_key(), &traces(0, 10)).unwrap();
    let mut seen = Vec::new();
    f.store
        .scan(6, &mut |item| {
            if let ScanItem::Record(r) = item {
                seen.push(r.seq);
            }
            Flow::Continue
        })
        .unwrap();
    assert_eq!(seen, vec![6, 7, 8, 9]);
    let mut count = 0;
    f.store
        .scan(0, &mut |_| {
            count += 1;
            if count == 3 {
                Flow::Stop
            } else {
                Flow::Continue
            }
        })
        .unwrap();
    assert_eq!(count, 3);
}

/// A second handle sees the records, and appends through both handles form one chain.
pub fn two_handles_one_chain(b: &dyn Backend) {
    let mut f = b.fresh();
    let Some(mut other) = b.reopen(&f) else {
        return;
    };
    let key = test_key();
    for round in 0..5 {
        f.store.append(&key, &traces(round * 10, 3)).unwrap();
        other.append(&key, &traces(round * 10 + 5, 2)).unwrap();
    }
    let recs = records(&mut *other);
    assert_eq!(recs.len(), 25);
    assert!(verify(&mut *f.store, &key).is_verified());
    // A duplicate appended through the other handle is still refused.
    assert!(matches!(
        f.store.append(&key, &[trace(45)]),
        Err(StoreError::DuplicateActionId { .. })
    ));
}

/// A store written with one key does not verify with another: unverifiable, not tampered.
pub fn wrong_key_is_unverifiable(b: &dyn Backend) {
    let mut f = b.fresh();
    f.store.append(&test_key(), &traces(0, 5)).unwrap();
    let other = ChainKey::from_secret(b"another secret").unwrap();
    match verify(&mut *f.store, &other) {
        Verdict::Unverifiable(u) => assert_eq!(u.reason, UnverifiableReason::WrongSecret),
        v => panic!("{}: expected unverifiable, got {v:?}", name(&*f.store)),
    }
}
