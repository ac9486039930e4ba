//! The conformance suite: what every [`Store`] must do, checked the same way for each backend.
//!
//! A backend's tests implement [`Backend`] and call [`conformance_tests!`](crate::conformance_tests),
//! which generates one `#[test]` per check:
//!
//! ```ignore
//! struct Sqlite;
//! impl trailseal_store::conformance::Backend for Sqlite { /* fresh(), reopen() */ }
//! trailseal_store::conformance_tests!(Sqlite);
//! ```
//!
//! Checks panic with a message naming the backend and the expectation, as tests do.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::any::Any;

use trailseal_core::start::StoredKeyId;
use trailseal_core::verify::{ContentChecker, Flow, ScanItem, Verifier};
use trailseal_core::{
    Caveat, ChainKey, GENESIS_HASH, PreparedTrace, TraceLimits, UnverifiableReason, Verdict,
};

use crate::{Store, StoreError, StoreExt};

/// A fresh, empty store and whatever keeps it alive (a temporary directory, a database).
pub struct Fixture {
    pub store: Box<dyn Store>,
    pub guard: Box<dyn Any + Send>,
}

impl std::fmt::Debug for Fixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture")
            .field("store", &self.store.location())
            .finish_non_exhaustive()
    }
}

/// A backend under test.
pub trait Backend {
    /// A new empty store, created for writing.
    fn fresh(&self) -> Fixture;
    /// Another handle on the same store as `fixture`, or `None` when the backend cannot have
    /// two (memory).
    fn reopen(&self, fixture: &Fixture) -> Option<Box<dyn Store>>;
}

/// The key every check writes with.
pub fn test_key() -> ChainKey {
    ChainKey::from_secret("conformance-secret-é".as_bytes()).unwrap()
}

/// A valid trace in the export shape, distinct for each `n`.
pub fn trace(n: u64) -> PreparedTrace {
    let text = format!(
        r#"{{"action_id":"act-{n:06}","capability_id":"crm.search","principal_id":"agent-{p}","token_id":"tok-{n}","invoked_at":"2026-03-01T09:{m:02}:{s:02}+00:00","args":{{"q":"caf\u00e9 \ud83d\ude00 {n}","big":123456789012345678901234567890,"f":1e16,"nested":{{"b":[1,2,{{"c":null}}],"a":"\"quoted\""}}}},"response_mode":"summary","driver_id":"memory","error":{err}}}"#,
        p = n % 3,
        m = (n / 60) % 60,
        s = n % 60,
        err = if n % 5 == 4 { "\"timeout\"" } else { "null" },
    );
    PreparedTrace::parse(text.as_bytes(), &TraceLimits::default()).unwrap()
}

/// Traces `start..start + count`.
pub fn traces(start: u64, count: u64) -> Vec<PreparedTrace> {
    (start..start + count).map(trace).collect()
}

/// Verifies a whole store with the core verifier (retention log included).
pub fn verify(store: &mut dyn Store, key: &ChainKey) -> Verdict {
    let state = store.state().unwrap();
    let resolved =
        match trailseal_core::retention::resolve_start(key, &state.start, &state.retention) {
            Ok(r) => r,
            Err(t) => return Verdict::Tampered(t),
        };
    let mut verifier = Verifier::from_resolved(key, resolved, state.key_id);
    let mut checker = ContentChecker::new();
    store
        .scan(0, &mut |item| verifier.feed(key, &mut checker, item))
        .unwrap();
    verifier.finish()
}

/// The (seq, prev_hash, record_hash, trace) of every record, in scan order.
pub fn records(store: &mut dyn Store) -> Vec<(u64, String, String, String)> {
    let mut out = Vec::new();
    store
        .scan(0, &mut |item| {
            match item {
                ScanItem::Record(r) => out.push((
                    r.seq,
                    String::from_utf8_lossy(r.prev_hash).into_owned(),
                    String::from_utf8_lossy(r.record_hash).into_owned(),
                    String::from_utf8_lossy(r.trace).into_owned(),
                )),
                ScanItem::Malformed(m) => panic!("unexpected malformed record: {m:?}"),
            }
            Flow::Continue
        })
        .unwrap();
    out
}

fn name(store: &dyn Store) -> String {
    store.location().to_owned()
}

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

/// Snapshot readers: consecutive ranges read by different readers give exactly what one scan
/// gives, the state is the store's, and appends, receipts and prunes made through another
/// handle while the snapshot is open neither block nor show up in it (its state and its
/// records stay those of one moment).
pub fn snapshot_ranges_equal_scan(b: &dyn Backend) {
    use crate::SeqRange;
    use trailseal_core::Hash32;
    let mut f = b.fresh();
    let key = test_key();
    f.store.append(&key, &traces(0, 25)).unwrap();
    let who = name(&*f.store);
    let before = f.store.state().unwrap();
    let recs = records(&mut *f.store);
    let mut other = b.reopen(&f);
    let mut snapshot = f.store.snapshot(3).unwrap();
    assert!(
        (1..=3).contains(&snapshot.readers.len()),
        "{who}: {} readers",
        snapshot.readers.len()
    );
    assert_eq!(snapshot.state, before, "{who}");
    if let Some(other) = other.as_mut() {
        other.append(&key, &traces(100, 5)).unwrap();
        other.add_receipt(0, "{\"receipt\":0}").unwrap();
        let plan = crate::PrunePlan {
            from_seq: 0,
            last_seq: 2,
            last_hash: Hash32::parse(recs[2].2.as_bytes()).unwrap(),
            log_len: 1,
        };
        other.prune(&plan, "{\"receipt\":1}").unwrap();
    }
    let collect = |item: &ScanItem<'_>, out: &mut Vec<(u64, Vec<u8>)>| {
        if let ScanItem::Record(r) = item {
            out.push((r.seq, r.record_hash.to_vec()));
        }
        Flow::Continue
    };
    let ranges = [
        SeqRange {
            from: None,
            until: Some(5),
        },
        SeqRange {
            from: Some(5),
            until: Some(12),
        },
        SeqRange {
            from: Some(12),
            until: Some(13),
        },
        SeqRange {
            from: Some(13),
            until: None,
        },
    ];
    let mut from_ranges = Vec::new();
    let n = snapshot.readers.len();
    for (i, range) in ranges.into_iter().enumerate() {
        let reader = &mut snapshot.readers[i % n];
        reader
            .scan_range(range, &mut |item| collect(item, &mut from_ranges))
            .unwrap();
    }
    let mut whole = Vec::new();
    snapshot
        .scan(0, &mut |item| collect(item, &mut whole))
        .unwrap();
    drop(snapshot);
    let expected: Vec<(u64, Vec<u8>)> = recs
        .iter()
        .map(|r| (r.0, r.2.as_bytes().to_vec()))
        .collect();
    assert_eq!(from_ranges, expected, "{who}: ranges of the snapshot");
    assert_eq!(whole, expected, "{who}: the snapshot read whole");
    if other.is_some() {
        let mut scanned = Vec::new();
        f.store
            .scan(0, &mut |item| collect(item, &mut scanned))
            .unwrap();
        assert_eq!(
            scanned.len(),
            27,
            "{who}: the changes made meanwhile are stored"
        );
        assert_eq!(f.store.state().unwrap().retention.len(), 2, "{who}");
    }
}

/// Generates one `#[test]` per conformance check for a backend type implementing [`Backend`].
#[macro_export]
macro_rules! conformance_tests {
    ($backend:expr) => {
        $crate::conformance_tests!(@tests $backend;
            empty_store,
            append_links_and_verifies,
            traces_round_trip,
            known_answer,
            duplicate_action_id_writes_nothing,
            find_by_action_id,
            scan_bounds,
            two_handles_one_chain,
            wrong_key_is_unverifiable,
            prune_is_atomic_and_checked,
            receipts_append_in_order,
            import_copies_a_chain,
            snapshot_ranges_equal_scan,
            dropped_write_changes_nothing,
        );
    };
    (@tests $backend:expr; $($check:ident,)*) => {
        $(
            #[test]
            fn $check() {
                $crate::conformance::$check(&$backend);
            }
        )*
    };
}
