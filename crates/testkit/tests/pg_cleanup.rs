//! The throwaway PostgreSQL cluster does not outlive the tests: a test binary that starts it
//! and then panics leaves no postgres process (nor its supervisor) behind.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::print_stdout
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const HELPER: &str = "TRAILSEAL_PG_CLEANUP_HELPER";

/// Run only by the test below, in a child process: starts the cluster, says which processes
/// it consists of, and panics.
#[test]
fn helper_uses_the_cluster_then_panics() {
    if std::env::var_os(HELPER).is_none() {
        return;
    }
    let url = trailseal_testkit::pg_url();
    let dir = PathBuf::from(std::env::var_os("CARGO_TARGET_DIR").unwrap()).join("pg");
    let postmaster = std::fs::read_to_string(dir.join("data/postmaster.pid")).unwrap();
    // 0: no supervisor.
    let supervisor = std::fs::read_to_string(dir.join("supervisor")).unwrap_or_default();
    println!(
        "postmaster {} supervisor {}",
        postmaster.lines().next().unwrap(),
        supervisor.split_whitespace().next().unwrap_or("0")
    );
    panic!("the helper panics on purpose, with the cluster at {url} running");
}

/// Whether `pid` is a live process (a zombie is not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

/// Stops what the helper left, should the check fail, and removes its directory.
struct Cleanup {
    dir: PathBuf,
    pids: Vec<u32>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for pid in &self.pids {
            if alive(*pid) {
                let _ = Command::new("kill")
                    .args(["-QUIT", &pid.to_string()])
                    .status();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.pids.iter().any(|p| alive(*p)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait_gone(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

#[test]
fn no_postgres_is_left_after_a_test_binary_that_panics() {
    if std::env::var_os(HELPER).is_some() {
        return;
    }
    // A cluster of its own (under a target directory of its own), not the shared one.
    let target = trailseal_testkit::workspace_root()
        .join("target")
        .join(format!("pg-cleanup-{}", std::process::id()));
    std::fs::create_dir_all(&target).unwrap();
    let mut cleanup = Cleanup {
        dir: target.clone(),
        pids: Vec::new(),
    };
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_uses_the_cluster_then_panics",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER, "1")
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("TRAILSEAL_TEST_PG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("panics on purpose"),
        "the helper should have panicked: {stdout}{stderr}"
    );
    let line = stdout
        .lines()
        .find_map(|l| l.find("postmaster ").map(|at| &l[at..]))
        .unwrap_or_else(|| panic!("{stdout}{stderr}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let (postmaster, supervisor): (u32, u32) =
        (words[1].parse().unwrap(), words[3].parse().unwrap());
    cleanup.pids = vec![postmaster, supervisor];
    assert!(
        wait_gone(postmaster, Duration::from_secs(30)),
        "postgres (pid {postmaster}) still runs after the test binary that started it panicked"
    );
    assert!(
        wait_gone(supervisor, Duration::from_secs(10)),
        "the supervisor (pid {supervisor}) still runs"
    );
    assert!(!Path::new(&target.join("pg/port")).exists());
}
