//! Verification reads one consistent snapshot of the store: verifying in a loop (through
//! handles opened for writing, with one thread and with several, and through handles opened
//! for reading as the command line opens them) while other handles append, prune (with
//! receipts and archives) and change the retention policy never gives anything but `verified`,
//! on every backend; neither does a prune's own verification. Before snapshots, PostgreSQL and JSONL
//! gave false `tampered` verdicts ("the store's checkpoint does not match its authenticated
//! retention log", "records N to N are missing") about once in five runs.
//!
//! `TRAILSEAL_SNAPSHOT_RUNS` sets how many verifications each backend runs (default 3000),
//! `TRAILSEAL_SNAPSHOT_SECS` the longest a backend may take (default 40).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use trailseal::{
    AuditLog, ChainKey, CutoffSpec, Error, OpenMode, OpenOptions, PruneRequest, StoreError,
    Timestamp, Verdict,
};

const SECRET: &str = "snapshot-secret-0123456789abcdef";

fn key() -> ChainKey {
    ChainKey::from_secret(SECRET.as_bytes()).unwrap()
}

fn open(location: &str, threads: usize) -> AuditLog {
    let options = OpenOptions {
        mode: OpenMode::Write { create: true },
        ..OpenOptions::default()
    };
    AuditLog::open(location, &options)
        .unwrap()
        .with_key(key())
        .with_threads(threads)
}

fn trace(n: u64) -> String {
    trailseal_testkit::Trace::new(format!("act-{n:08}"))
        .principal(format!("agent-{}", n % 3))
        .token("tok")
        .invoked_at(format!(
            "2026-01-01T{h:02}:{m:02}:00+00:00",
            h = (n / 60) % 24,
            m = n % 60,
        ))
        .args(format!(r#"{{"n":{n}}}"#))
        .json()
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A conflict is the store refusing a change planned on a state that changed meanwhile:
/// expected under concurrent writers.
fn is_conflict(e: &Error) -> bool {
    matches!(e, Error::Store(StoreError::Conflict { .. }))
}

#[derive(Default)]
struct Counts {
    verified: AtomicU64,
    appended: AtomicU64,
    pruned: AtomicU64,
    policies: AtomicU64,
    conflicts: AtomicU64,
}

/// Verifies `location` in a loop (one handle with one thread, one with several) while other
/// handles append, prune and set policies; every verdict, and every prune's own verification,
/// must be `verified`.
fn hammer(location: &str, archives: &Path) {
    let runs = env_number("TRAILSEAL_SNAPSHOT_RUNS", 3000);
    let limit = Duration::from_secs(env_number("TRAILSEAL_SNAPSHOT_SECS", 40));
    let next = AtomicU64::new(0);
    let seed = |log: &mut AuditLog, n: u64| {
        let texts: Vec<String> = (0..n)
            .map(|_| trace(next.fetch_add(1, Ordering::Relaxed)))
            .collect();
        let prepared = log.prepare(texts.iter().map(String::as_bytes)).unwrap();
        log.append(&prepared).map(|a| a.len() as u64)
    };
    seed(&mut open(location, 1), 30).unwrap();
    let now = Timestamp::from_unix_micros(1_900_000_000_000_000);
    let stop = AtomicBool::new(false);
    let counts = Counts::default();
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let fail = |what: String| {
        failures.lock().unwrap().push(what);
    };
    let started = Instant::now();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut log = open(location, 1);
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                match seed(&mut log, 1 + i % 3) {
                    Ok(n) => {
                        counts.appended.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(e) => fail(format!("append: {e}")),
                }
                // Leaves the other writers their turn at the store's lock.
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        scope.spawn(|| {
            let mut log = open(location, 2);
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let archive = i
                    .is_multiple_of(4)
                    .then(|| archives.join(format!("archive-{i}.jsonl")));
                let request = PruneRequest {
                    cutoff: CutoffSpec::KeepLast(8 + i % 10),
                    now,
                    dry_run: false,
                    archive,
                };
                match log.prune(&request) {
                    Ok(report) => {
                        if report.pruned > 0 {
                            counts.pruned.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(e) if is_conflict(&e) => {
                        counts.conflicts.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => fail(format!("prune {i}: {e}")),
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        scope.spawn(|| {
            let mut log = open(location, 1);
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let min = i.is_multiple_of(2).then_some(1_000_000);
                match log.set_min_retention(min, now, true) {
                    Ok(_) => {
                        counts.policies.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) if is_conflict(&e) => {
                        counts.conflicts.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => fail(format!("policy {i}: {e}")),
                }
                std::thread::sleep(Duration::from_millis(25));
            }
        });
        // Handles opened for writing, kept (one thread, several), and one opened for reading
        // for every verification, as the command line opens it.
        let verifiers: Vec<_> = [(1usize, false), (3, false), (2, true)]
            .into_iter()
            .map(|(threads, reading)| {
                let (stop, counts, fail) = (&stop, &counts, &fail);
                scope.spawn(move || {
                    let mut log = open(location, threads);
                    while !stop.load(Ordering::Relaxed) {
                        if reading {
                            log = AuditLog::open(location, &OpenOptions::default())
                                .unwrap()
                                .with_key(key())
                                .with_threads(threads);
                        }
                        let verdict = log.verify();
                        if let Verdict::Verified(_) = verdict {
                            counts.verified.fetch_add(1, Ordering::Relaxed);
                        } else {
                            fail(format!(
                                "verify ({threads} threads): {}: {}",
                                verdict.status(),
                                verdict.detail()
                            ));
                        }
                        // Enough verifications, each backend's writers having had time to
                        // change the store under them many times.
                        let done = counts.verified.load(Ordering::Relaxed) >= runs
                            && counts.pruned.load(Ordering::Relaxed) >= 20
                            && counts.policies.load(Ordering::Relaxed) >= 20;
                        if done || started.elapsed() > limit {
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for v in verifiers {
            v.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
    });
    let failures = failures.into_inner().unwrap();
    let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
    eprintln!(
        "{location}: {} verifications, {} records appended, {} prunes, {} policies, {} conflicts, {} false verdicts or refusals in {:.1}s",
        c(&counts.verified),
        c(&counts.appended),
        c(&counts.pruned),
        c(&counts.policies),
        c(&counts.conflicts),
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{location}: {} false verdicts or refusals, the first: {:#?}",
        failures.len(),
        failures.iter().take(5).collect::<Vec<_>>()
    );
    // The store changed under the verifications, or the test proved nothing.
    assert!(
        c(&counts.verified) >= 100.min(runs)
            && c(&counts.pruned) >= 5
            && c(&counts.policies) >= 5
            && c(&counts.appended) >= 50,
        "{location}: too little happened"
    );
    // Every archive a prune wrote verifies on its own.
    let mut checked = 0;
    for entry in std::fs::read_dir(archives).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "jsonl") && checked < 20 {
            let verdict = open(path.to_str().unwrap(), 1).verify();
            assert!(verdict.is_verified(), "{}: {verdict:?}", path.display());
            checked += 1;
        }
    }
    assert!(open(location, 1).verify().is_verified());
}

#[test]
fn sqlite_verdicts_under_concurrent_prunes_policies_and_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    hammer(path.to_str().unwrap(), dir.path());
}

#[test]
fn jsonl_verdicts_under_concurrent_prunes_policies_and_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.jsonl");
    hammer(path.to_str().unwrap(), dir.path());
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_verdicts_under_concurrent_prunes_policies_and_appends() {
    let dir = tempfile::tempdir().unwrap();
    let url = trailseal_testkit::pg_fresh_schema_url();
    hammer(&url, dir.path());
}
