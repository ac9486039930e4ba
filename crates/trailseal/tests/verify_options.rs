//! The one verification entry point: what each [`VerifyOptions`] part does, on any thread
//! count, through [`AuditLog::verify_with`] and [`trailseal::verify::verify`] alike.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use trailseal::core::note::NoteSigner;
use trailseal::core::time::Offset;
use trailseal::core::{TamperKind, UnverifiableReason};
use trailseal::store::StoreExt;
use trailseal::store::memory::MemoryStore;
use trailseal::{
    AuditLog, ChainKey, PreparedTrace, Progress, Timestamp, TraceLimits, Verdict, VerifyOptions,
};

const SECRET: &str = "verify-options-secret-0123456789";
/// More records than one batch of the parallel checks holds, so that batches and threads are
/// crossed.
const RECORDS: u64 = 5000;

fn key() -> ChainKey {
    ChainKey::from_secret(SECRET.as_bytes()).unwrap()
}

fn filled(n: u64) -> MemoryStore {
    let mut store = MemoryStore::new();
    let traces: Vec<PreparedTrace> = (0..n)
        .map(|i| {
            PreparedTrace::parse(common::trace(i).as_bytes(), &TraceLimits::default()).unwrap()
        })
        .collect();
    store.append(&key(), &traces).unwrap();
    store
}

fn log_of(store: &MemoryStore) -> AuditLog {
    AuditLog::from_store(Box::new(store.clone())).with_key(key())
}

#[test]
fn the_observer_sees_every_verified_record_in_order_and_progress_ends_at_the_count() {
    let store = filled(RECORDS);
    for threads in [1, 2, 4] {
        let mut seen = Vec::new();
        let mut last: Option<Progress> = None;
        let verdict = log_of(&store).verify_with(
            &mut VerifyOptions::new()
                .threads(threads)
                .observer(|r| seen.push(r.seq))
                .progress(|p| last = Some(p)),
        );
        assert_eq!(verdict.records_checked(), RECORDS, "{threads}: {verdict:?}");
        assert!(verdict.is_verified(), "{threads}: {verdict:?}");
        assert!(
            seen.iter().copied().eq(0..RECORDS),
            "{threads} threads: saw {} records, the last {:?}",
            seen.len(),
            seen.last()
        );
        assert_eq!(
            last.map(|p| p.records_checked),
            Some(RECORDS),
            "{threads} threads"
        );
    }
}

#[test]
fn the_observer_stops_at_the_first_bad_record() {
    let mut store = filled(RECORDS);
    let bad = 3000;
    let record = &mut store.records_mut()[bad as usize];
    record.trace = record.trace.replace("crm.search", "crm.delete");
    for threads in [1, 4] {
        let mut seen = Vec::new();
        let verdict = log_of(&store).verify_with(
            &mut VerifyOptions::new()
                .threads(threads)
                .observer(|r| seen.push(r.seq)),
        );
        assert_eq!(
            (verdict.kind(), verdict.first_bad_seq()),
            (Some(TamperKind::Content), Some(bad)),
            "{threads}: {verdict:?}"
        );
        assert!(
            seen.iter().copied().eq(0..bad),
            "{threads} threads: saw {} records, the last {:?}",
            seen.len(),
            seen.last()
        );
    }
}

#[test]
fn the_same_options_verify_one_store_after_another() {
    let (a, b) = (filled(10), filled(20));
    let mut reports = 0;
    let mut options = VerifyOptions::new().threads(2).progress(|_| reports += 1);
    let first = log_of(&a).verify_with(&mut options);
    let second = log_of(&b).verify_with(&mut options);
    drop(options);
    assert_eq!(
        (first.records_checked(), second.records_checked()),
        (10, 20)
    );
    assert!(reports >= 2, "progress reported for each: {reports}");
}

#[test]
fn the_free_function_and_the_log_give_one_verdict() {
    let mut store = filled(100);
    store.records_mut().remove(40);
    let from_log = log_of(&store).verify();
    for threads in [1, 3] {
        let verdict = trailseal::verify::verify(
            &mut store.clone(),
            Some(&key()),
            &mut VerifyOptions::new().threads(threads),
        );
        assert_eq!(verdict, from_log, "{threads} threads");
    }
    assert_eq!(
        (from_log.kind(), from_log.first_bad_seq()),
        (Some(TamperKind::Sequence), Some(41))
    );
    let keyless =
        trailseal::verify::verify(&mut store.clone(), None, &mut VerifyOptions::default());
    assert!(
        matches!(&keyless, Verdict::Unverifiable(u) if u.reason == UnverifiableReason::NoSecret),
        "{keyless:?}"
    );
}

#[test]
fn an_anchor_that_cannot_be_opened_is_the_verdict_whatever_the_store_holds() {
    let store = filled(10);
    let signer = NoteSigner::from_seed("options-anchor", &[3; 32]).unwrap();
    let other = NoteSigner::from_seed("other-anchor", &[4; 32]).unwrap();
    let now = Timestamp::parse("2026-11-27T00:00:00Z", Offset::Required).unwrap();
    let (_, note) = log_of(&store)
        .anchor(&signer, "options.example/log", now, true)
        .unwrap();
    let notes = [("head.note".to_owned(), note)];

    // Opened with its own key, the anchor is checked and pins the head.
    let Verdict::Verified(v) = log_of(&store)
        .verify_with(&mut VerifyOptions::new().anchor_notes(&notes, &signer.verifier()))
    else {
        panic!("the anchored store verifies")
    };
    assert_eq!(v.anchored_seq(), Some(9));

    // Opened with another key: unverifiable (wrong public key), with the secret or without.
    let wrong = |log: &mut AuditLog| {
        log.verify_with(&mut VerifyOptions::new().anchor_notes(&notes, &other.verifier()))
    };
    let keyless = &mut AuditLog::from_store(Box::new(store.clone()));
    for verdict in [wrong(&mut log_of(&store)), wrong(keyless)] {
        assert!(
            matches!(&verdict, Verdict::Unverifiable(u) if u.reason == UnverifiableReason::WrongKey),
            "{verdict:?}"
        );
    }
}
