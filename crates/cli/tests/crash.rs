//! Crash safety: `trailseal prune` killed with SIGKILL at random points leaves a store that
//! verifies, holding either every record (the prune did not happen) or exactly the retained
//! ones (it did) — never something in between. An archive, when asked for, is either absent
//! or complete.
//!
//! `TRAILSEAL_CRASH_KILLS` sets the kills per format (default 12 here; the full harness of the
//! proof-under-attack issue runs more).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use trailseal::{AuditLog, ChainKey, OpenOptions, Verdict};

const SECRET: &str = "crash-secret";
const RECORDS: u64 = 30_000;
const CUTOFF: &str = "2026-01-01T05:00:00Z"; // 18,000 records are older

fn kills() -> u32 {
    std::env::var("TRAILSEAL_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12)
}

fn build(path: &Path) {
    let input: String = (0..RECORDS)
        .map(|n| {
            format!(
                "{{\"action_id\":\"c{n}\",\"capability_id\":\"crm.search\",\"principal_id\":\"p\",\"token_id\":\"t\",\"invoked_at\":\"2026-01-01T{:02}:{:02}:{:02}Z\",\"args\":{{\"pad\":\"{}\"}},\"response_mode\":\"raw\",\"driver_id\":\"d\"}}\n",
                n / 3600,
                (n / 60) % 60,
                n % 60,
                "x".repeat(200)
            )
        })
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailseal"))
        .args(["append", "--store", path.to_str().unwrap(), "--quiet"])
        .env("WEAVER_KERNEL_SECRET", SECRET)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

fn verdict(path: &Path) -> Verdict {
    let key = ChainKey::from_secret(SECRET.as_bytes()).unwrap();
    AuditLog::open(path.to_str().unwrap(), &OpenOptions::default())
        .unwrap()
        .with_key(key)
        .verify()
}

fn prune_cmd(store: &Path, archive: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailseal"));
    cmd.args([
        "prune",
        "--store",
        store.to_str().unwrap(),
        "--before",
        CUTOFF,
        "--archive",
        archive.to_str().unwrap(),
    ])
    .env("WEAVER_KERNEL_SECRET", SECRET)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    cmd
}

fn remove(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

fn copy_store(src: &Path, dst: &Path) {
    remove(dst);
    for suffix in ["", "-wal", "-shm"] {
        let from = format!("{}{suffix}", src.display());
        if Path::new(&from).exists() {
            std::fs::copy(&from, format!("{}{suffix}", dst.display())).unwrap();
        }
    }
}

fn crash_many(ext: &str) {
    let dir = tempfile::tempdir().unwrap();
    let pristine = dir.path().join(format!("pristine.{ext}"));
    build(&pristine);
    let store = dir.path().join(format!("store.{ext}"));
    let archive = dir.path().join("archive.jsonl");

    // How long an uninterrupted prune takes, to spread the kills over it.
    copy_store(&pristine, &store);
    let started = Instant::now();
    assert!(prune_cmd(&store, &archive).status().unwrap().success());
    let full = started.elapsed();
    let retained = verdict(&store).records_checked();
    assert_eq!(retained, RECORDS - 18_000);

    let (mut before, mut after) = (0, 0);
    let mut seed = std::process::id() as u64;
    for i in 0..kills() {
        copy_store(&pristine, &store);
        let _ = std::fs::remove_file(&archive);
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = full.mul_f64(((seed >> 33) % 1000) as f64 / 1000.0 * 1.1);
        let mut child = prune_cmd(&store, &archive).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let v = verdict(&store);
        assert!(v.is_verified(), "{ext} kill {i} after {delay:?}: {v:?}");
        match v.records_checked() {
            RECORDS => before += 1,
            n if n == retained => after += 1,
            n => panic!(
                "{ext} kill {i} after {delay:?}: {n} records, neither {RECORDS} nor {retained}"
            ),
        }
        if archive.exists() {
            let a = verdict(&archive);
            assert!(
                a.is_verified() && a.records_checked() == 18_000,
                "{ext} kill {i}: archive {a:?}"
            );
        }
        // The interrupted store can still be pruned to completion.
        assert!(prune_cmd(&store, &archive).status().unwrap().success());
        assert_eq!(verdict(&store).records_checked(), retained);
    }
    eprintln!(
        "{ext}: {} kills over a {full:?} prune: {before} left the store before the prune, {after} after",
        kills()
    );
}

#[test]
fn killing_prune_leaves_sqlite_before_or_after() {
    crash_many("db");
}

#[test]
fn killing_prune_leaves_jsonl_before_or_after() {
    crash_many("jsonl");
}
