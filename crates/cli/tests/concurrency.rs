//! Several processes appending to one SQLite or JSONL store at once produce one linear chain:
//! no fork, no gap, no lost record.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Stdio};

use trailseal::core::verify::Flow;
use trailseal::{AuditLog, ChainKey, Filter, OpenOptions};

const SECRET: &str = "concurrency-secret";
const WRITERS: usize = 6;
const EACH: usize = 120;

fn trace(writer: usize, i: usize) -> String {
    trailseal_testkit::Trace::new(format!("w{writer}-{i:04}"))
        .principal(format!("worker-{writer}"))
        .token("tok")
        .args(format!(r#"{{"i":{i}}}"#))
        .json()
}

fn hammer(store: &str, commit_every: &str) {
    let children: Vec<_> = (0..WRITERS)
        .map(|w| {
            let mut child = Command::new(env!("CARGO_BIN_EXE_trailseal"))
                .args([
                    "append",
                    "--store",
                    store,
                    "--quiet",
                    "--commit-every",
                    commit_every,
                ])
                .env("WEAVER_KERNEL_SECRET", SECRET)
                .stdin(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let input: String = (0..EACH).map(|i| trace(w, i) + "\n").collect();
            let mut stdin = child.stdin.take().unwrap();
            std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
            child
        })
        .collect();
    // Every child is waited for before any is judged: a failure leaves none running.
    let outputs: Vec<_> = children
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect();
    for out in outputs {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let key = ChainKey::from_secret(SECRET.as_bytes()).unwrap();
    let mut log = AuditLog::open(store, &OpenOptions::default())
        .unwrap()
        .with_key(key);
    let verdict = log.verify();
    assert!(verdict.is_verified(), "{store}: {verdict:?}");
    assert_eq!(verdict.records_checked(), (WRITERS * EACH) as u64);
    let mut ids = HashSet::new();
    let mut seqs = Vec::new();
    log.list(&Filter::default(), &mut |e| {
        ids.insert(e.summary.action_id.clone().unwrap());
        seqs.push(e.seq);
        Flow::Continue
    })
    .unwrap();
    assert_eq!(
        ids.len(),
        WRITERS * EACH,
        "every appended trace is present exactly once"
    );
    assert_eq!(
        seqs,
        (0..(WRITERS * EACH) as u64).collect::<Vec<_>>(),
        "contiguous, no gap"
    );
}

#[test]
fn processes_appending_to_sqlite_form_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    hammer(dir.path().join("c.db").to_str().unwrap(), "1");
}

#[test]
fn processes_appending_to_jsonl_form_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    hammer(dir.path().join("c.jsonl").to_str().unwrap(), "1");
}

#[test]
fn batched_appends_from_processes_form_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    hammer(dir.path().join("b.db").to_str().unwrap(), "7");
    hammer(dir.path().join("b.jsonl").to_str().unwrap(), "7");
}
