//! Crash safety: the `trailseal` binary killed with SIGKILL at random points, on every backend
//! (SQLite, JSONL, PostgreSQL), while it
//!
//! - appends, one commit per trace (`--commit-every 1`) or in batches (`--commit-every 1000`):
//!   afterwards the store verifies (a JSONL store may instead end with an interrupted write,
//!   reported as one; `trailseal repair` then removes it and the store verifies), it holds
//!   every trace whose commit `--progress-json` acknowledged, and exactly the traces before
//!   and a prefix of the interrupted input, in order;
//! - prunes: the store verifies, holding either every record (the prune did not happen) or
//!   exactly the retained ones (it did) — never something in between; an archive, when asked
//!   for, is either absent or complete;
//! - migrates (SQLite→JSONL, JSONL→SQLite, SQLite→PostgreSQL, PostgreSQL→JSONL): the
//!   destination is absent, or empty and a new migration into it succeeds, or a complete
//!   verified copy — never a partial chain.
//!
//! `TRAILSEAL_CRASH_KILLS` sets the kills per backend and operation (default 12). The full
//! run (docs/security.md, "Crash safety"):
//!
//! ```sh
//! TRAILSEAL_CRASH_KILLS=200 cargo test --release -p trailseal-cli --test crash -- --nocapture
//! ```
//!
//! PostgreSQL comes from `TRAILSEAL_TEST_PG` or the testkit's throwaway cluster.
//!
//! Longer than 600 lines on purpose: one kill-and-check harness run on every backend and write
//! path.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use trailseal::core::verify::Flow;
use trailseal::{AuditLog, ChainKey, Filter, OpenOptions, StoreError, Verdict};

const SECRET: &str = "crash-secret-for-tests";
const RECORDS: u64 = 30_000;
const CUTOFF: &str = "2026-01-01T05:00:00Z"; // 18,000 records are older

fn kills() -> u32 {
    std::env::var("TRAILSEAL_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12)
}

/// Where the kill delays come from: a linear congruential generator seeded by the process.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as u64);
        Rng(std::process::id() as u64 ^ (nanos << 20))
    }

    /// A delay spread over `full` and a little beyond it.
    fn delay(&mut self, full: Duration) -> Duration {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        full.mul_f64(((self.0 >> 33) % 1000) as f64 / 1000.0 * 1.1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Jsonl,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Jsonl => "jsonl",
            Backend::Postgres => "postgres",
        }
    }

    /// A new location for a store: a path in `dir`, or a fresh PostgreSQL schema.
    fn location(self, dir: &Path, name: &str) -> String {
        match self {
            Backend::Sqlite => dir.join(format!("{name}.db")).to_str().unwrap().to_owned(),
            Backend::Jsonl => dir
                .join(format!("{name}.jsonl"))
                .to_str()
                .unwrap()
                .to_owned(),
            Backend::Postgres => pg_url(),
        }
    }
}

#[cfg(feature = "postgres")]
fn pg_url() -> String {
    trailseal_testkit::pg_fresh_schema_url()
}

#[cfg(not(feature = "postgres"))]
fn pg_url() -> String {
    panic!("built without the postgres feature")
}

fn is_pg(location: &str) -> bool {
    location.starts_with("postgres://")
}

/// An administrative connection to the test server.
#[cfg(feature = "postgres")]
fn pg_admin() -> postgres::Client {
    postgres::Client::connect(&trailseal_testkit::pg_url(), postgres::NoTls).unwrap()
}

fn schema_of(url: &str) -> &str {
    url.split("schema=").nth(1).unwrap()
}

/// After a killed `trailseal` on a PostgreSQL store: waits until the server has ended the
/// killed client's session. The server finishes the statement it is running (a `COMMIT` sent
/// just before the kill still commits) before it notices the closed connection, so checking
/// the store earlier could see it before that commit, and then changed under the check.
fn settle(location: &str) {
    if !is_pg(location) {
        return;
    }
    #[cfg(feature = "postgres")]
    {
        let app: String = format!("trailseal/{}", schema_of(location))
            .chars()
            .take(63)
            .collect();
        let mut admin = pg_admin();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let sessions: i64 = admin
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                    &[&app],
                )
                .unwrap()
                .get(0);
            if sessions == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{location}: the killed client's session did not end"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Removes a store: its files, or its schema.
fn remove(location: &str) {
    if is_pg(location) {
        #[cfg(feature = "postgres")]
        pg_admin()
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                schema_of(location)
            ))
            .unwrap();
        return;
    }
    // A JSONL store's Merkle tree is kept beside it (`.tree`).
    for suffix in ["", "-wal", "-shm", "-journal", ".tree"] {
        let _ = std::fs::remove_file(format!("{location}{suffix}"));
    }
}

/// Replaces `dst` with a copy of the store at `src` (same backend).
fn copy_store(src: &str, dst: &str) {
    remove(dst);
    if is_pg(src) {
        #[cfg(feature = "postgres")]
        {
            let (from, to) = (schema_of(src), schema_of(dst));
            let mut sql = format!("CREATE SCHEMA {to};");
            for table in ["trailseal_traces", "trailseal_meta", "trailseal_retention"] {
                sql.push_str(&format!(
                    "CREATE TABLE {to}.{table} (LIKE {from}.{table} INCLUDING ALL); INSERT INTO {to}.{table} SELECT * FROM {from}.{table};"
                ));
            }
            pg_admin().batch_execute(&sql).unwrap();
        }
        return;
    }
    for suffix in ["", "-wal", "-shm"] {
        let from = format!("{src}{suffix}");
        if Path::new(&from).exists() {
            std::fs::copy(&from, format!("{dst}{suffix}")).unwrap();
        }
    }
}

fn trailseal() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailseal"));
    cmd.env("WEAVER_KERNEL_SECRET", SECRET);
    cmd
}

/// Runs the command to completion; it must succeed.
fn succeed(cmd: &mut Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn trace(id: &str, n: u64, pad: usize) -> String {
    trailseal_testkit::Trace::minimal(id)
        .capability("crm.search")
        .invoked_at(format!(
            "2026-01-01T{:02}:{:02}:{:02}Z",
            (n / 3600) % 24,
            (n / 60) % 60,
            n % 60
        ))
        .args(format!(r#"{{"pad":"{}"}}"#, "x".repeat(pad)))
        .json()
        + "\n"
}

/// Appends `input` (trace lines) in one transaction.
fn append_all(location: &str, input: &str) {
    let mut child = trailseal()
        .args(["append", "--store", location, "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

fn build(location: &str) {
    let input: String = (0..RECORDS)
        .map(|n| trace(&format!("c{n}"), n, 200))
        .collect();
    append_all(location, &input);
}

fn open(location: &str) -> Option<AuditLog> {
    let key = ChainKey::from_secret(SECRET.as_bytes()).unwrap();
    AuditLog::open(location, &OpenOptions::default())
        .ok()
        .map(|log| log.with_key(key))
}

fn verdict(location: &str) -> Verdict {
    open(location)
        .unwrap_or_else(|| panic!("{location}: cannot be opened"))
        .verify()
}

/// The action ids of the store, in chain order.
fn ids(location: &str) -> Vec<String> {
    let mut ids = Vec::new();
    open(location)
        .unwrap()
        .list(&Filter::default(), &mut |e| {
            ids.push(e.summary.action_id.clone().unwrap());
            Flow::Continue
        })
        .unwrap();
    ids
}

// ---------------------------------------------------------------------------------------
// prune

fn prune_cmd(store: &str, archive: &Path) -> Command {
    let mut cmd = trailseal();
    cmd.args([
        "prune",
        "--store",
        store,
        "--before",
        CUTOFF,
        "--archive",
        archive.to_str().unwrap(),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    cmd
}

fn crash_many(backend: Backend) {
    let name = backend.name();
    let dir = tempfile::tempdir().unwrap();
    let pristine = backend.location(dir.path(), "pristine");
    build(&pristine);
    let store = backend.location(dir.path(), "store");
    let archive = dir.path().join("archive.jsonl");

    // How long an uninterrupted prune takes, to spread the kills over it.
    copy_store(&pristine, &store);
    let started = Instant::now();
    assert!(prune_cmd(&store, &archive).status().unwrap().success());
    let full = started.elapsed();
    let retained = verdict(&store).records_checked();
    assert_eq!(retained, RECORDS - 18_000);

    let (mut before, mut after, mut survived) = (0, 0, 0);
    let mut rng = Rng::new();
    for i in 0..kills() {
        copy_store(&pristine, &store);
        let _ = std::fs::remove_file(&archive);
        let delay = rng.delay(full);
        let mut child = prune_cmd(&store, &archive).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        settle(&store);
        let v = verdict(&store);
        assert!(v.is_verified(), "{name} kill {i} after {delay:?}: {v:?}");
        match v.records_checked() {
            RECORDS => before += 1,
            n if n == retained => after += 1,
            n => panic!(
                "{name} kill {i} after {delay:?}: {n} records, neither {RECORDS} nor {retained}"
            ),
        }
        if archive.exists() {
            let a = verdict(archive.to_str().unwrap());
            assert!(
                a.is_verified() && a.records_checked() == 18_000,
                "{name} kill {i}: archive {a:?}"
            );
        }
        // The interrupted store can still be pruned to completion.
        assert!(prune_cmd(&store, &archive).status().unwrap().success());
        assert_eq!(verdict(&store).records_checked(), retained);
        survived += 1;
    }
    remove(&store);
    remove(&pristine);
    eprintln!(
        "crash: {name} prune: {} kills, {survived} survived ({before} left the store before the prune, {after} after; an uninterrupted prune takes {full:?})",
        kills()
    );
}

#[test]
fn killing_prune_leaves_sqlite_before_or_after() {
    crash_many(Backend::Sqlite);
}

#[test]
fn killing_prune_leaves_jsonl_before_or_after() {
    crash_many(Backend::Jsonl);
}

#[cfg(feature = "postgres")]
#[test]
fn killing_prune_leaves_postgres_before_or_after() {
    crash_many(Backend::Postgres);
}

// ---------------------------------------------------------------------------------------
// append

/// What an interrupted append acknowledged: `--progress-json` lines, each printed once its
/// commit was durable.
struct Acked {
    /// Traces acknowledged (the last line's `total`).
    total: u64,
    /// The last acknowledged trace: (seq, record_hash, action_id).
    last: Option<(u64, String, String)>,
    /// The process finished before it was killed.
    finished: bool,
}

/// Runs `trailseal append --commit-every N --progress-json` on `input` and kills it after
/// `delay` (`None`: lets it finish).
fn append_and_kill(
    location: &str,
    input: &str,
    commit_every: usize,
    delay: Option<Duration>,
) -> Acked {
    let mut child = trailseal()
        .args([
            "append",
            "--store",
            location,
            "--commit-every",
            &commit_every.to_string(),
            "--progress-json",
            "--quiet",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    if let Some(delay) = delay {
        std::thread::sleep(delay);
        let _ = child.kill();
    }
    let status = child.wait().unwrap();
    settle(location);
    writer.join().unwrap();
    let lines = reader.join().unwrap();
    let mut acked = Acked {
        total: 0,
        last: None,
        finished: status.success(),
    };
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        let total = v["total"].as_u64().unwrap();
        assert!(total > acked.total, "{line}");
        acked.total = total;
        acked.last = Some((
            v["last_seq"].as_u64().unwrap(),
            v["head_hash"].as_str().unwrap().to_owned(),
            v["last_action_id"].as_str().unwrap().to_owned(),
        ));
    }
    acked
}

#[derive(Default)]
struct AppendStats {
    survived: u32,
    finished: u32,
    before_first_commit: u32,
    torn_repaired: u32,
    acked: u64,
    unacked_found: u64,
}

fn crash_append(backend: Backend, commit_every: usize, traces: u64) {
    let name = backend.name();
    let dir = tempfile::tempdir().unwrap();
    let input_of = |round: u32| -> (Vec<String>, String) {
        let ids: Vec<String> = (0..traces).map(|n| format!("a{round}-{n}")).collect();
        let text = ids
            .iter()
            .zip(0..)
            .map(|(id, n)| trace(id, n, 100))
            .collect();
        (ids, text)
    };

    // A store that already holds records (an append reads the file's ids first), and a
    // copy of it to append to.
    let base = backend.location(dir.path(), "append-base");
    let acked = append_and_kill(&base, &input_of(u32::MAX).1, commit_every, None);
    assert!(acked.finished && acked.total == traces);
    let base_ids = ids(&base);
    let mut generation = 0;
    let mut store = backend.location(dir.path(), "append-0");
    copy_store(&base, &store);
    // What the store holds so far, in chain order.
    let mut held = base_ids.clone();

    // How long an uninterrupted append takes, to spread the kills over it.
    let (calibration_ids, calibration) = input_of(u32::MAX - 1);
    let started = Instant::now();
    let acked = append_and_kill(&store, &calibration, commit_every, None);
    let mut full = started.elapsed();
    assert!(acked.finished && acked.total == traces);
    held.extend(calibration_ids);
    assert_eq!(ids(&store), held);

    let mut stats = AppendStats::default();
    let mut rng = Rng::new();
    for round in 0..kills() {
        let (input, text) = input_of(round);
        let delay = rng.delay(full);
        let acked = append_and_kill(&store, &text, commit_every, Some(delay));
        let what =
            format!("{name} append --commit-every {commit_every}, kill {round} after {delay:?}");
        let mut v = verdict(&store);
        if backend == Backend::Jsonl && !v.is_verified() {
            // An append killed inside its write leaves an incomplete last line: reported as an
            // interrupted write, and removed by `trailseal repair`.
            assert!(v.detail().contains("interrupted write"), "{what}: {v:?}");
            let out = succeed(trailseal().args(["repair", "--store", &store]));
            assert!(out.starts_with("repaired "), "{what}: {out}");
            stats.torn_repaired += 1;
            v = verdict(&store);
        }
        assert!(v.is_verified(), "{what}: {v:?}");
        let now = ids(&store);
        assert!(
            now.len() >= held.len() + acked.total as usize,
            "{what}: {} records, but {} held before and {} acknowledged",
            now.len(),
            held.len(),
            acked.total
        );
        assert_eq!(
            now[..held.len()],
            held[..],
            "{what}: earlier records changed"
        );
        let added = &now[held.len()..];
        assert!(added.len() <= input.len(), "{what}");
        assert_eq!(
            added,
            &input[..added.len()],
            "{what}: not a prefix of the input"
        );
        // The last acknowledged record is stored as acknowledged.
        if let Some((seq, hash, id)) = &acked.last {
            let record = open(&store).unwrap().find(id).unwrap().unwrap();
            assert_eq!((record.seq, &record.record_hash), (*seq, hash), "{what}");
        }
        if acked.finished {
            stats.finished += 1;
            assert_eq!(added.len(), input.len(), "{what}");
        }
        // The calibration may have run slower than the appends do now (the tests run side by
        // side): shrink the span the kills are spread over while they come too late.
        full = full.mul_f64(if acked.finished { 0.9 } else { 1.01 });
        if added.is_empty() {
            stats.before_first_commit += 1;
        }
        stats.acked += acked.total;
        stats.unacked_found += added.len() as u64 - acked.total;
        stats.survived += 1;
        held = now;
        // Keep the store small enough to verify quickly: start again from the base.
        if held.len() > 60_000 {
            remove(&store);
            generation += 1;
            store = backend.location(dir.path(), &format!("append-{generation}"));
            copy_store(&base, &store);
            held = base_ids.clone();
        }
    }
    remove(&store);
    remove(&base);
    eprintln!(
        "crash: {name} append --commit-every {commit_every}: {} kills, {} survived ({} finished first, {} before the first commit, {} torn tails repaired; {} traces acknowledged, all stored, and {} more stored unacknowledged; {traces} traces take {full:?} uninterrupted)",
        kills(),
        stats.survived,
        stats.finished,
        stats.before_first_commit,
        stats.torn_repaired,
        stats.acked,
        stats.unacked_found
    );
}

#[test]
fn killing_single_appends_to_sqlite_loses_no_acknowledged_trace() {
    crash_append(Backend::Sqlite, 1, 400);
}

#[test]
fn killing_batched_appends_to_sqlite_loses_no_acknowledged_trace() {
    crash_append(Backend::Sqlite, 1000, 20_000);
}

#[test]
fn killing_single_appends_to_jsonl_loses_no_acknowledged_trace() {
    crash_append(Backend::Jsonl, 1, 400);
}

#[test]
fn killing_batched_appends_to_jsonl_loses_no_acknowledged_trace() {
    crash_append(Backend::Jsonl, 1000, 20_000);
}

#[cfg(feature = "postgres")]
#[test]
fn killing_single_appends_to_postgres_loses_no_acknowledged_trace() {
    crash_append(Backend::Postgres, 1, 400);
}

#[cfg(feature = "postgres")]
#[test]
fn killing_batched_appends_to_postgres_loses_no_acknowledged_trace() {
    crash_append(Backend::Postgres, 1000, 20_000);
}

// ---------------------------------------------------------------------------------------
// migrate

const MIGRATED: u64 = 15_000;
const MIGRATE_KEEP: u64 = 12_000;

fn migrate_cmd(from: &str, to: &str) -> Command {
    let mut cmd = trailseal();
    cmd.args(["migrate", "--from", from, "--to", to])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// How many tables a SQLite database has.
fn sqlite_tables(path: &str) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap()
}

/// A JSONL destination's copy in progress is written beside it (`.NAME.<random>.tmp`): the
/// ones left by killed copies.
fn import_leftovers(to: &str) -> Vec<std::path::PathBuf> {
    let path = Path::new(to);
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    let prefix = format!(".{name}.");
    std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".tmp"))
        })
        .collect()
}

fn crash_migrate(from: Backend, to: Backend) {
    let what = format!("{}->{}", from.name(), to.name());
    let dir = tempfile::tempdir().unwrap();
    // The source: a pruned chain, so the copy carries a checkpoint and a receipt.
    let source = from.location(dir.path(), "source");
    let input: String = (0..MIGRATED)
        .map(|n| trace(&format!("m{n}"), n, 150))
        .collect();
    append_all(&source, &input);
    succeed(trailseal().args([
        "prune",
        "--store",
        &source,
        "--keep-last",
        &MIGRATE_KEEP.to_string(),
    ]));
    let Verdict::Verified(src) = verdict(&source) else {
        panic!("{what}: the source does not verify")
    };
    assert_eq!(src.records_checked, MIGRATE_KEEP);
    let complete = |target: &str, label: &str| {
        let Verdict::Verified(v) = verdict(target) else {
            panic!("{label}: {:?}", verdict(target))
        };
        assert_eq!(
            (v.records_checked, v.first_seq, v.last_seq, &v.retention),
            (
                src.records_checked,
                src.first_seq,
                src.last_seq,
                &src.retention
            ),
            "{label}"
        );
    };

    // How long an uninterrupted migration takes, to spread the kills over it.
    let target = to.location(dir.path(), "target-calibration");
    let started = Instant::now();
    assert!(migrate_cmd(&source, &target).status().unwrap().success());
    let full = started.elapsed();
    complete(&target, &what);
    remove(&target);

    let (mut absent, mut empty, mut copied, mut survived) = (0, 0, 0, 0);
    let mut rng = Rng::new();
    for i in 0..kills() {
        // File destinations reuse one path, so a copy left beside it by a killed migration
        // is found by the next one.
        let target = to.location(dir.path(), "target");
        remove(&target);
        let delay = rng.delay(full);
        let label = format!("{what} kill {i} after {delay:?}");
        let mut child = migrate_cmd(&source, &target).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        settle(&source);
        settle(&target);
        let opened = AuditLog::open(&target, &OpenOptions::default());
        let v = match opened {
            Err(trailseal::Error::Store(StoreError::NotFound { .. })) => {
                // Killed before it created the destination.
                absent += 1;
                survived += 1;
                continue;
            }
            Err(e) => {
                // Killed between creating a SQLite file and its tables: a database that
                // holds nothing.
                assert!(
                    to == Backend::Sqlite && sqlite_tables(&target) == 0,
                    "{label}: {e}"
                );
                None
            }
            Ok(log) => Some(
                log.with_key(ChainKey::from_secret(SECRET.as_bytes()).unwrap())
                    .verify(),
            ),
        };
        let empty_store = match v {
            None => true,
            Some(Verdict::Verified(v)) => v.records_checked == 0 && v.retention.is_empty(),
            Some(v) => panic!("{label}: the destination does not verify: {v:?}"),
        };
        if empty_store {
            // Empty: a new migration into it succeeds.
            empty += 1;
            let again = migrate_cmd(&source, &target).output().unwrap();
            assert!(
                again.status.success(),
                "{label}: migrating again into the emptied destination: {}",
                String::from_utf8_lossy(&again.stderr)
            );
            complete(&target, &label);
            if to == Backend::Jsonl {
                let left = import_leftovers(&target);
                assert!(left.is_empty(), "{label}: {left:?} is left");
            }
        } else {
            copied += 1;
            complete(&target, &label);
        }
        remove(&target);
        survived += 1;
    }
    remove(&source);
    eprintln!(
        "crash: migrate {what}: {} kills, {survived} survived ({absent} left no destination, {empty} an empty one that a new migration then filled, {copied} a complete verified copy; an uninterrupted migration of {MIGRATE_KEEP} records takes {full:?})",
        kills()
    );
}

#[test]
fn killing_migrate_sqlite_to_jsonl_leaves_nothing_or_a_whole_copy() {
    crash_migrate(Backend::Sqlite, Backend::Jsonl);
}

#[test]
fn killing_migrate_jsonl_to_sqlite_leaves_nothing_or_a_whole_copy() {
    crash_migrate(Backend::Jsonl, Backend::Sqlite);
}

#[cfg(feature = "postgres")]
#[test]
fn killing_migrate_sqlite_to_postgres_leaves_nothing_or_a_whole_copy() {
    crash_migrate(Backend::Sqlite, Backend::Postgres);
}

#[cfg(feature = "postgres")]
#[test]
fn killing_migrate_postgres_to_jsonl_leaves_nothing_or_a_whole_copy() {
    crash_migrate(Backend::Postgres, Backend::Jsonl);
}
