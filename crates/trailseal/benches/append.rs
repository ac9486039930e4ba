//! Durable append throughput, each figure beside its baseline measured in the same run.
//!
//! ```sh
//! cargo bench -p trailseal --bench append                  # SQLite and JSONL in target/bench-append
//! cargo bench -p trailseal --bench append -- --dir /data --json
//! ```
//!
//! - `fsync loop`: write one 1 KiB record to a file and `fsync` it, in a loop: the most
//!   durable appends per second the disk allows one writer;
//! - `per-record`: [`AuditLog::append`] of one trace at a time (one transaction and one flush
//!   each), from one thread;
//! - `batched`: 1,000 traces per append call (one transaction, one flush);
//! - `group commit`: 8 threads appending single traces through one [`SharedLog`]; each call
//!   returns once its own record is durable.
//!
//! Traces are about 1 KiB of canonical JSON, like the verification benchmarks'.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use trailseal::{AuditLog, ChainKey, OpenMode, OpenOptions, PreparedTrace, SharedLog, TraceLimits};

struct Args {
    dir: PathBuf,
    per_record: usize,
    batches: usize,
    group_threads: usize,
    group_each: usize,
    json: bool,
    only: Option<String>,
}

fn parse_args() -> Args {
    let mut args = Args {
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-append"),
        per_record: 3000,
        batches: 200,
        group_threads: 8,
        group_each: 2500,
        json: false,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().expect("a value after the option");
        match a.as_str() {
            "--dir" => args.dir = PathBuf::from(value()),
            "--per-record" => args.per_record = value().parse().expect("a number"),
            "--batches" => args.batches = value().parse().expect("a number"),
            "--threads" => args.group_threads = value().parse().expect("a number"),
            "--each" => args.group_each = value().parse().expect("a number"),
            "--json" => args.json = true,
            "--only" => args.only = Some(value()),
            // `cargo bench` passes --bench.
            _ => {}
        }
    }
    args
}

/// A realistic trace of about 1 KiB.
fn trace(tag: &str, i: usize) -> PreparedTrace {
    let text = format!(
        r#"{{"action_id":"{tag}-{i:09}","args":{{"limit":25,"query":"customer {pad}"}},"capability_id":"crm.search","driver_id":"http","invoked_at":"2026-11-27T10:{min:02}:{sec:02}.{micros:06}+00:00","principal_id":"agent-{agent}","response_mode":"summary","result_summary":{{"digest":"{digest}"}},"token_id":"tok-{i}"}}"#,
        pad = "x".repeat(820),
        min = (i / 60) % 60,
        sec = i % 60,
        micros = i % 1_000_000,
        agent = i % 16,
        digest = "ab".repeat(32),
    );
    PreparedTrace::parse(text.as_bytes(), &TraceLimits::default()).expect("a valid trace")
}

fn fresh(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm", "-journal", ".tree"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

fn open(path: &Path) -> AuditLog {
    let options = OpenOptions {
        mode: OpenMode::Write { create: true },
        ..OpenOptions::default()
    };
    let key = ChainKey::from_secret(b"bench-secret-0123456789").unwrap();
    AuditLog::open(path.to_str().unwrap(), &options)
        .unwrap()
        .with_key(key)
}

fn fsync_loop(dir: &Path, n: usize) -> f64 {
    let path = fresh(dir, "fsync-loop.bin");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let record = [b'x'; 1024];
    let start = Instant::now();
    for _ in 0..n {
        file.write_all(&record).unwrap();
        file.sync_all().unwrap();
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(path);
    rate
}

/// Per-record appends and the fsync loop, alternating in `ROUNDS` rounds so that both see the
/// same disk conditions; the medians of both and of the per-round ratios.
fn per_record_vs_fsync(dir: &Path, path: &Path, n: usize) -> (f64, f64, f64) {
    const ROUNDS: usize = 5;
    let mut log = open(path);
    let each = n.div_ceil(ROUNDS);
    let (mut fsync, mut single, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let traces: Vec<_> = (0..each).map(|i| trace("p", round * each + i)).collect();
        let f = fsync_loop(dir, each);
        let start = Instant::now();
        for t in &traces {
            log.append(std::slice::from_ref(t)).unwrap();
        }
        let p = each as f64 / start.elapsed().as_secs_f64();
        fsync.push(f);
        single.push(p);
        ratio.push(p / f);
    }
    (median(fsync), median(single), median(ratio))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn batched(path: &Path, batches: usize) -> f64 {
    let mut log = open(path);
    let work: Vec<Vec<_>> = (0..batches)
        .map(|b| (0..1000).map(|i| trace("b", b * 1000 + i)).collect())
        .collect();
    let start = Instant::now();
    for traces in &work {
        log.append(traces).unwrap();
    }
    (batches * 1000) as f64 / start.elapsed().as_secs_f64()
}

fn group(path: &Path, threads: usize, each: usize) -> f64 {
    let shared = Arc::new(SharedLog::new(open(path)));
    let work: Vec<Vec<PreparedTrace>> = (0..threads)
        .map(|t| (0..each).map(|i| trace(&format!("g{t}"), i)).collect())
        .collect();
    let start = Instant::now();
    std::thread::scope(|s| {
        for traces in &work {
            let shared = Arc::clone(&shared);
            s.spawn(move || {
                for t in traces {
                    shared.append(t.clone()).unwrap();
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let stats = shared.stats();
    eprintln!(
        "group commit: {} traces in {} commits ({:.1} per commit)",
        stats.traces,
        stats.commits,
        stats.traces as f64 / stats.commits as f64
    );
    let verdict = Arc::into_inner(shared).unwrap().into_inner().verify();
    assert!(verdict.is_verified(), "{verdict:?}");
    (threads * each) as f64 / secs
}

fn main() {
    let args = parse_args();
    std::fs::create_dir_all(&args.dir).unwrap();
    eprintln!("appending in {}", args.dir.display());
    let mut rows = Vec::new();
    for (label, ext) in [("sqlite", "db"), ("jsonl", "jsonl")] {
        if args.only.as_deref().is_some_and(|only| only != label) {
            continue;
        }
        let (fsync, single, ratio) = per_record_vs_fsync(
            &args.dir,
            &fresh(&args.dir, &format!("per-record.{ext}")),
            args.per_record,
        );
        let batch = batched(&fresh(&args.dir, &format!("batched.{ext}")), args.batches);
        let grouped = group(
            &fresh(&args.dir, &format!("group.{ext}")),
            args.group_threads,
            args.group_each,
        );
        rows.push((label, fsync, single, ratio, batch, grouped));
    }
    println!(
        "| store | fsync loop (1 KiB + fsync) | per-record durable append | per-record / fsync (median of 5 alternating rounds) | batched, 1,000/txn | group commit, {} threads | group / per-record |",
        args.group_threads
    );
    println!("|---|---|---|---|---|---|---|");
    for (label, fsync, single, ratio, batch, grouped) in &rows {
        println!(
            "| {label} | {fsync:.0} /s | {single:.0} /s | {:.0}% | {batch:.0} /s | {grouped:.0} /s | {:.1}× |",
            100.0 * ratio,
            grouped / single
        );
    }
    if args.json {
        for (label, fsync, single, _, batch, grouped) in &rows {
            println!(
                r#"{{"store":"{label}","fsync_loop":{fsync:.0},"per_record":{single:.0},"batched":{batch:.0},"group_commit":{grouped:.0},"threads":{}}}"#,
                args.group_threads
            );
        }
    }
}
