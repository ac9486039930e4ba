//! Parallel verification gives the sequential verdict, and group commit keeps one linear,
//! durable chain with each caller's own result.
//!
//! SQLite stores are verified by several readers over seq ranges of one snapshot; these tests
//! tamper with stores of several ranges (gaps, swaps, edits at range boundaries and far from
//! them) and check that every thread count gives the same verdict, field for field.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use trailseal::{AuditLog, ChainKey, Error, OpenMode, OpenOptions, SharedLog, StoreError, Verdict};

const SECRET: &str = "parallel-secret-for-tests";
/// More than two of verification's ranges (8,192 seqs each).
const RECORDS: u64 = 20_000;

fn key() -> ChainKey {
    ChainKey::from_secret(SECRET.as_bytes()).unwrap()
}

fn trace(tag: &str, n: u64) -> String {
    trailseal_testkit::Trace::new(format!("{tag}-{n:06}"))
        .principal(format!("agent-{}", n % 5))
        .token("tok")
        .invoked_at("2026-01-01T00:00:00+00:00")
        .args(format!(r#"{{"n":{n}}}"#))
        .json()
}

fn open(path: &Path, mode: OpenMode) -> AuditLog {
    let options = OpenOptions {
        mode,
        ..OpenOptions::default()
    };
    AuditLog::open(path.to_str().unwrap(), &options)
        .unwrap()
        .with_key(key())
}

/// A SQLite store of `RECORDS` records, built once and copied per test.
fn template() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(&dir.path().join("t.db"), OpenMode::Write { create: true });
        let texts: Vec<String> = (0..RECORDS).map(|n| trace("act", n)).collect();
        let prepared = log.prepare(texts.iter().map(String::as_bytes)).unwrap();
        log.append(&prepared).unwrap();
        drop(log);
        dir
    });
    Box::leak(dir.path().join("t.db").into_boxed_path())
}

fn copy(dir: &Path) -> std::path::PathBuf {
    let to = dir.join("s.db");
    std::fs::copy(template(), &to).unwrap();
    to
}

fn verdict(path: &Path, threads: usize) -> Verdict {
    open(path, OpenMode::Read).with_threads(threads).verify()
}

/// Applies `sql` to a copy of the template and checks that 1, 2 and 3 threads agree.
fn same_verdict(sql: &str) -> Verdict {
    let dir = tempfile::tempdir().unwrap();
    let path = copy(dir.path());
    Connection::open(&path).unwrap().execute_batch(sql).unwrap();
    let sequential = verdict(&path, 1);
    for threads in [2, 3] {
        assert_eq!(
            verdict(&path, threads),
            sequential,
            "{sql} with {threads} threads"
        );
    }
    sequential
}

fn tampered(v: &Verdict) -> (u64, String) {
    match v {
        Verdict::Tampered(t) => (t.first_bad_seq, t.kind.to_string()),
        other => panic!("expected tampered, got {other:?}"),
    }
}

#[test]
fn untouched_store_verifies_the_same_on_any_thread_count() {
    let v = same_verdict("");
    assert!(v.is_verified(), "{v:?}");
    assert_eq!(v.records_checked(), RECORDS);
}

#[test]
fn edits_at_range_boundaries_and_inside_ranges() {
    for seq in [0, 1, 8191, 8192, 8193, 16383, 16384, 19_999] {
        // Re-serialised to the same JSON value: still verifies, as in weaver-kernel.
        let v = same_verdict(&format!(
            "UPDATE traces SET payload = replace(payload, '\"n\":', '\"n\": ') WHERE seq = {seq}"
        ));
        assert!(v.is_verified(), "seq {seq}: {v:?}");
        let v = same_verdict(&format!(
            "UPDATE traces SET action_id = 'other' WHERE seq = {seq}"
        ));
        assert_eq!(tampered(&v), (seq, "content".into()), "seq {seq}");
        let v = same_verdict(&format!(
            "UPDATE traces SET payload = replace(payload, 'crm.search', 'crm.delete') WHERE seq = {seq}"
        ));
        assert_eq!(tampered(&v), (seq, "content".into()), "seq {seq}");
    }
}

#[test]
fn deletions_gaps_and_swaps() {
    // One record gone in the second range.
    let v = same_verdict("DELETE FROM traces WHERE seq = 9000");
    assert_eq!(tampered(&v).0, 9001);
    // A gap wider than a whole range: the rest is read by one reader.
    let v = same_verdict("DELETE FROM traces WHERE seq BETWEEN 3000 AND 19000");
    assert_eq!(tampered(&v).0, 19001);
    // Everything after the first range's first record but one far record.
    let v = same_verdict("DELETE FROM traces WHERE seq BETWEEN 1 AND 19998");
    assert_eq!(tampered(&v).0, 19_999);
    // A record moved to a seq far beyond the head (a huge gap costs no time).
    let v = same_verdict("UPDATE traces SET seq = 9000000000000 WHERE seq = 19999");
    assert!(matches!(v, Verdict::Tampered(_)), "{v:?}");
    // Two records swapped across a range boundary.
    let v = same_verdict(
        "UPDATE traces SET seq = -1 WHERE seq = 8191; UPDATE traces SET seq = 8191 WHERE seq = 8192; UPDATE traces SET seq = 8192 WHERE seq = -1;",
    );
    assert_eq!(tampered(&v).0, 8191);
    // A negative seq sorts first and is reported first.
    let v = same_verdict("UPDATE traces SET seq = -5 WHERE seq = 12000");
    assert!(matches!(v, Verdict::Tampered(_)), "{v:?}");
    // Truncated tail: still verifies (no anchor), with the same count on every thread count.
    let v = same_verdict("DELETE FROM traces WHERE seq >= 10000");
    assert_eq!(v.records_checked(), 10_000);
}

#[test]
fn wrong_secret_probing_is_the_same_in_parallel() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy(dir.path());
    // Without the key id, a wrong secret is recognised by every record failing.
    Connection::open(&path)
        .unwrap()
        .execute_batch("DELETE FROM trailseal_meta WHERE key = 'key_id'")
        .unwrap();
    let other = ChainKey::from_secret(b"another secret").unwrap();
    let run = |threads| {
        let options = OpenOptions::default();
        AuditLog::open(path.to_str().unwrap(), &options)
            .unwrap()
            .with_key(other.clone())
            .with_threads(threads)
            .verify()
    };
    let sequential = run(1);
    assert!(
        matches!(sequential, Verdict::Unverifiable(_)),
        "{sequential:?}"
    );
    assert_eq!(run(2), sequential);
}

#[test]
fn group_commit_keeps_one_chain_and_gives_each_caller_its_record() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["g.db", "g.jsonl"] {
        let path = dir.path().join(name);
        let shared = Arc::new(SharedLog::new(open(
            &path,
            OpenMode::Write { create: true },
        )));
        let per_thread = 150;
        let results: Vec<Vec<(String, u64)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|t| {
                    let shared = Arc::clone(&shared);
                    s.spawn(move || {
                        (0..per_thread)
                            .map(|i| {
                                let id = format!("t{t}");
                                let a = shared.append_json(trace(&id, i).as_bytes()).unwrap();
                                (format!("{id}-{i:06}"), a.seq)
                            })
                            .collect()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let stats = shared.stats();
        assert_eq!(stats.traces, 8 * per_thread);
        assert!(stats.commits <= stats.traces);
        let mut log = Arc::into_inner(shared).unwrap().into_inner();
        let v = log.verify();
        assert!(v.is_verified(), "{name}: {v:?}");
        assert_eq!(v.records_checked(), 8 * per_thread);
        // Every caller got the seq its own trace was stored at; seqs are all distinct.
        let mut seqs = Vec::new();
        for (action_id, seq) in results.into_iter().flatten() {
            let stored = log.store_mut().find(&action_id).unwrap().unwrap();
            assert_eq!(stored.seq, seq, "{name}: {action_id}");
            seqs.push(seq);
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (0..8 * per_thread).collect::<Vec<_>>());
    }
}

#[test]
fn a_bad_trace_in_a_group_fails_only_its_caller() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    let shared = Arc::new(
        SharedLog::new(open(&path, OpenMode::Write { create: true }))
            .with_max_wait(Duration::from_millis(20)),
    );
    shared.append_json(trace("seed", 0).as_bytes()).unwrap();
    // Eight callers at once, two of them repeating an id: the group is refused, retried one by
    // one, and only the repeats fail.
    let outcomes: Vec<Result<u64, Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let shared = Arc::clone(&shared);
                s.spawn(move || {
                    let text = if i % 4 == 3 {
                        trace("seed", 0)
                    } else {
                        trace("ok", i)
                    };
                    shared.append_json(text.as_bytes()).map(|a| a.seq)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let failed: Vec<_> = outcomes.iter().filter(|o| o.is_err()).collect();
    assert_eq!(failed.len(), 2, "{outcomes:?}");
    for e in failed {
        assert!(
            matches!(
                e,
                Err(Error::Store(StoreError::DuplicateActionId { action_id, .. })) if action_id == "seed-000000"
            ),
            "{e:?}"
        );
    }
    // An invalid trace is refused before it joins a group.
    assert!(matches!(
        shared.append_json(b"{\"action_id\": 1}"),
        Err(Error::Trace { .. })
    ));
    let mut log = Arc::into_inner(shared).unwrap().into_inner();
    let v = log.verify();
    assert!(v.is_verified(), "{v:?}");
    assert_eq!(v.records_checked(), 7);
}

#[test]
fn group_commit_off_is_one_trace_per_commit() {
    let dir = tempfile::tempdir().unwrap();
    let shared = SharedLog::new(open(
        &dir.path().join("o.db"),
        OpenMode::Write { create: true },
    ))
    .with_max_group(1);
    for i in 0..5 {
        shared.append_json(trace("one", i).as_bytes()).unwrap();
    }
    let stats = shared.stats();
    assert_eq!((stats.commits, stats.traces), (5, 5));
}
