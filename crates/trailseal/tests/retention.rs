//! Retention that stays verifiable: seq-prefix pruning with authenticated receipts, the
//! minimum-retention policy, archives, and every attack on the retention log with its verdict.
//!
//! The attacks are a table, run on every backend (memory, SQLite, JSONL): each backend builds
//! the same pruned store through the library (40 records, a 1-day minimum retention as receipt
//! 0, pruned before minute 10 as receipt 1 and before minute 20 as receipt 2: the chain starts
//! at seq 20), and a copy of it after the first prune ("older"). Each row damages a copy of the
//! store, bypassing every check, and verifies it on one thread and on four (the verdicts must
//! be equal):
//!
//! | row | expected |
//! |---|---|
//! | untouched | `verified` 20..=39, the no-anchor caveat only, receipts policy, prune, prune |
//! | a record appended after pruning | `verified` 20..=40, likewise |
//! | the first retained record deleted | `checkpoint` at 21 |
//! | a record after the checkpoint deleted (27) | `sequence` at 28 |
//! | the prefix before 25 deleted and the start forged to 25 | `checkpoint` at 25 |
//! | a receipt edited; the older deleted; receipts reordered; one replayed; the latest removed | `checkpoint` at 20 |
//! | the start and the retention log rolled back together | `checkpoint` at 20 |
//! | the records rolled back to before the last prune | `checkpoint` at 10 |
//! | what trailseal adds removed (SQLite: its tables; memory: the log and the start's kind) | `verified` with the unauthenticated-checkpoint caveat at 20 (anchors catch it); JSONL has no such state |
//!
//! Longer than 600 lines on purpose: one table of retention attacks run on every backend, plus the
//! flows it builds on.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use trailseal::core::start::StartKind;
use trailseal::core::time::Offset;
use trailseal::core::verify::{Flow, ScanItem};
use trailseal::store::memory::{MemoryRecord, MemoryStore};
use trailseal::{
    AuditLog, Caveat, ChainKey, CutoffSpec, OpenMode, OpenOptions, PruneRequest, TamperKind,
    Timestamp, Verdict, VerifyOptions,
};

const SECRET: &str = "retention-secret";
const RECORDS: u64 = 40;

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s, Offset::Required).unwrap()
}

/// Record n is invoked at 2026-01-01T00:00:00Z + n minutes (or at `times[n]`).
fn at(n: u64) -> String {
    format!("2026-01-01T{:02}:{:02}:00+00:00", n / 60, n % 60)
}

fn trace(n: u64, invoked_at: &str) -> String {
    trailseal_testkit::Trace::new(format!("act-{n:04}"))
        .principal(format!("agent-{}", n % 3))
        .token("tok")
        .invoked_at(invoked_at)
        .args(format!(r#"{{"n":{n}}}"#))
        .json()
}

fn key() -> ChainKey {
    ChainKey::from_secret(SECRET.as_bytes()).unwrap()
}

fn open(path: &Path) -> AuditLog {
    let options = OpenOptions {
        mode: OpenMode::Write { create: true },
        ..OpenOptions::default()
    };
    AuditLog::open(path.to_str().unwrap(), &options)
        .unwrap()
        .with_key(key())
}

fn verify(path: &Path) -> Verdict {
    open(path).verify()
}

fn prune(path: &Path, cutoff: CutoffSpec) -> trailseal::PruneReport {
    let request = PruneRequest {
        cutoff,
        now: t("2026-06-01T00:00:00Z"),
        dry_run: false,
        archive: None,
    };
    open(path).prune(&request).unwrap()
}

fn copy(src: &Path, name: &str) -> PathBuf {
    let dst = src.with_file_name(format!(
        "{name}.{}",
        src.extension().unwrap().to_str().unwrap()
    ));
    std::fs::copy(src, &dst).unwrap();
    copy_tree_file(src, &dst);
    dst
}

/// A JSONL store's Merkle tree is kept beside it: a copy of the store takes it along.
fn copy_tree_file(src: &Path, dst: &Path) {
    let side = |p: &Path| {
        let mut s = p.as_os_str().to_owned();
        s.push(".tree");
        PathBuf::from(s)
    };
    if side(src).exists() {
        std::fs::copy(side(src), side(dst)).unwrap();
    }
}

fn sql(path: &Path, statement: &str) {
    Connection::open(path)
        .unwrap()
        .execute_batch(statement)
        .unwrap();
}

fn assert_tampered(what: &str, verdict: &Verdict, kind: TamperKind, seq: u64) {
    assert_eq!(
        (verdict.kind(), verdict.first_bad_seq()),
        (Some(kind), Some(seq)),
        "{what}: {verdict:?}"
    );
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write(path: &Path, name: &str, lines: &[String]) -> PathBuf {
    let p = path.with_file_name(format!("{name}.jsonl"));
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

// ----- the pruned store every row starts from -----

/// The steps that build the pruned store: 40 records and a 1-day minimum retention (receipt
/// 0); pruned before minute 10 (receipt 1); pruned before minute 20 (receipt 2). The chain then
/// starts at seq 20. The copy called "older" is taken after the first prune.
const STEPS: [fn(&mut AuditLog); 3] = [
    |log| {
        let texts: Vec<String> = (0..RECORDS).map(|n| trace(n, &at(n))).collect();
        let batch = log.prepare(texts.iter().map(String::as_bytes)).unwrap();
        log.append(&batch).unwrap();
        log.set_min_retention(Some(86_400_000_000), t("2026-05-01T00:00:00Z"), false)
            .unwrap();
    },
    |log| assert_eq!(prune_log(log, "2026-01-01T00:10:00Z"), 10),
    |log| assert_eq!(prune_log(log, "2026-01-01T00:20:00Z"), 10),
];

/// After this step the "older" copy is taken.
const OLDER_AFTER: usize = 1;

fn prune_log(log: &mut AuditLog, before: &str) -> u64 {
    let request = PruneRequest {
        cutoff: CutoffSpec::Before(t(before)),
        now: t("2026-06-01T00:00:00Z"),
        dry_run: false,
        archive: None,
    };
    log.prune(&request).unwrap().pruned
}

/// A store under test: a file, or a memory store (copied for each row).
#[derive(Clone)]
enum At {
    File(PathBuf),
    Memory(MemoryStore),
}

impl At {
    fn path(&self) -> &Path {
        match self {
            At::File(p) => p,
            At::Memory(_) => panic!("a memory store has no path"),
        }
    }

    fn memory(&mut self) -> &mut MemoryStore {
        match self {
            At::Memory(m) => m,
            At::File(_) => panic!("not a memory store"),
        }
    }

    fn open(&self) -> AuditLog {
        match self {
            At::File(p) => open(p),
            At::Memory(m) => AuditLog::from_store(Box::new(m.clone())).with_key(key()),
        }
    }
}

/// The built store and its older copy.
struct Built {
    store: At,
    older: At,
}

/// A backend, and how each damage is done to it, bypassing every check.
trait Backend {
    fn name(&self) -> &'static str;
    /// Runs [`STEPS`] on a new store in `dir`.
    fn build(&self, dir: &Path) -> Built;
    /// A copy of the built store for the row `name`.
    fn copy(&self, built: &At, name: &str) -> At {
        match built {
            At::File(p) => At::File(copy(p, name)),
            At::Memory(_) => built.clone(),
        }
    }
    fn delete_record(&self, at: &mut At, seq: u64);
    /// Deletes every record before `seq` and sets the store's start to `seq`, linked to that
    /// record's `prev_hash`.
    fn forge_start(&self, at: &mut At, seq: u64);
    fn receipts(&self, at: &At) -> Vec<String>;
    fn set_receipts(&self, at: &mut At, receipts: &[String]);
    /// The start and the retention log as `older` has them; the records kept.
    fn roll_back_start(&self, at: &mut At, older: &At);
    /// The records as `older` has them; the start and the retention log kept.
    fn roll_back_records(&self, at: &mut At, older: &At);
    /// Removes what trailseal adds beside weaver-kernel's own state; `false` when the
    /// backend has no such state (the row is not run, and the test says so).
    fn downgrade(&self, at: &mut At) -> bool;
}

/// Files built through the library, opened afresh for each step.
fn build_file(dir: &Path, ext: &str) -> Built {
    let path = dir.join(format!("store.{ext}"));
    let older = dir.join(format!("older.{ext}"));
    for (i, step) in STEPS.iter().enumerate() {
        step(&mut open(&path));
        if i == OLDER_AFTER {
            std::fs::copy(&path, &older).unwrap();
            copy_tree_file(&path, &older);
        }
    }
    Built {
        store: At::File(path),
        older: At::File(older),
    }
}

// ----- memory -----

struct Memory;

/// A memory store holding what `log`'s store holds (records, start, retention log).
fn memory_copy(log: &mut AuditLog) -> MemoryStore {
    let state = log.store_mut().state().unwrap();
    let mut records = Vec::new();
    log.store_mut()
        .scan(0, &mut |item| {
            if let ScanItem::Record(r) = item {
                records.push(MemoryRecord {
                    seq: r.seq,
                    prev_hash: String::from_utf8(r.prev_hash.to_vec()).unwrap(),
                    record_hash: String::from_utf8(r.record_hash.to_vec()).unwrap(),
                    trace: String::from_utf8(r.trace.to_vec()).unwrap(),
                });
            }
            Flow::Continue
        })
        .unwrap();
    let mut store = MemoryStore::new();
    *store.records_mut() = records;
    *store.start_mut() = state.start;
    *store.retention_mut() = state.retention;
    if let Some(tree) = state.tree {
        let mut snapshot = log.store_mut().snapshot(1).unwrap();
        let mut hashes = vec![Default::default(); tree.hashes as usize];
        snapshot.readers[0]
            .read_tree_hashes(0, &mut hashes)
            .unwrap();
        store.set_tree(tree.base, hashes);
    }
    store
}

impl Backend for Memory {
    fn name(&self) -> &'static str {
        "memory"
    }
    fn build(&self, _dir: &Path) -> Built {
        let mut log = AuditLog::from_store(Box::new(MemoryStore::new())).with_key(key());
        let mut older = None;
        for (i, step) in STEPS.iter().enumerate() {
            step(&mut log);
            if i == OLDER_AFTER {
                older = Some(memory_copy(&mut log));
            }
        }
        Built {
            store: At::Memory(memory_copy(&mut log)),
            older: At::Memory(older.unwrap()),
        }
    }
    fn delete_record(&self, at: &mut At, seq: u64) {
        at.memory().records_mut().retain(|r| r.seq != seq);
    }
    fn forge_start(&self, at: &mut At, seq: u64) {
        let m = at.memory();
        m.records_mut().retain(|r| r.seq >= seq);
        let prev = m.records()[0].prev_hash.clone();
        let start = m.start_mut();
        start.next_seq = seq;
        start.prev_hash = prev.into_bytes();
    }
    fn receipts(&self, at: &At) -> Vec<String> {
        at.clone().memory().retention_mut().clone()
    }
    fn set_receipts(&self, at: &mut At, receipts: &[String]) {
        *at.memory().retention_mut() = receipts.to_vec();
    }
    fn roll_back_start(&self, at: &mut At, older: &At) {
        let mut older = older.clone();
        let m = at.memory();
        *m.start_mut() = older.memory().start_mut().clone();
        *m.retention_mut() = older.memory().retention_mut().clone();
    }
    fn roll_back_records(&self, at: &mut At, older: &At) {
        *at.memory().records_mut() = older.clone().memory().records().to_vec();
    }
    fn downgrade(&self, at: &mut At) -> bool {
        let m = at.memory();
        m.retention_mut().clear();
        m.start_mut().kind = StartKind::UnauthenticatedCheckpoint;
        true
    }
}

// ----- SQLite -----

struct Sqlite;

impl Backend for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }
    fn build(&self, dir: &Path) -> Built {
        build_file(dir, "db")
    }
    fn delete_record(&self, at: &mut At, seq: u64) {
        sql(at.path(), &format!("DELETE FROM traces WHERE seq = {seq}"));
    }
    fn forge_start(&self, at: &mut At, seq: u64) {
        let prev: String = Connection::open(at.path())
            .unwrap()
            .query_row(
                "SELECT prev_hash FROM traces WHERE seq = ?1",
                [seq as i64],
                |r| r.get(0),
            )
            .unwrap();
        sql(
            at.path(),
            &format!(
                "DELETE FROM traces WHERE seq < {seq}; UPDATE meta SET value = '{prev}' WHERE key = 'checkpoint_hash'; UPDATE meta SET value = '{seq}' WHERE key = 'checkpoint_next_seq';"
            ),
        );
    }
    fn receipts(&self, at: &At) -> Vec<String> {
        let conn = Connection::open(at.path()).unwrap();
        let mut query = conn
            .prepare("SELECT receipt FROM trailseal_retention ORDER BY idx")
            .unwrap();
        query
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }
    fn set_receipts(&self, at: &mut At, receipts: &[String]) {
        let mut conn = Connection::open(at.path()).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute("DELETE FROM trailseal_retention", []).unwrap();
        for (i, receipt) in receipts.iter().enumerate() {
            tx.execute(
                "INSERT INTO trailseal_retention (idx, receipt) VALUES (?1, ?2)",
                rusqlite::params![i as i64, receipt],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    fn roll_back_start(&self, at: &mut At, older: &At) {
        // The retention table and meta rolled back together to their older copies.
        let old = older.path().to_str().unwrap().replace('\'', "''");
        sql(
            at.path(),
            &format!(
                "ATTACH '{old}' AS old; DELETE FROM trailseal_retention; INSERT INTO trailseal_retention SELECT * FROM old.trailseal_retention; DELETE FROM meta; INSERT INTO meta SELECT * FROM old.meta; DETACH old;"
            ),
        );
    }
    fn roll_back_records(&self, at: &mut At, older: &At) {
        let old = older.path().to_str().unwrap().replace('\'', "''");
        sql(
            at.path(),
            &format!(
                "ATTACH '{old}' AS old; DELETE FROM traces; INSERT INTO traces SELECT * FROM old.traces; DETACH old;"
            ),
        );
    }
    fn downgrade(&self, at: &mut At) -> bool {
        sql(
            at.path(),
            "DROP TABLE trailseal_retention; DROP TABLE trailseal_meta;",
        );
        true
    }
}

// ----- JSONL -----

struct Jsonl;

/// The JSONL store's header, parsed, and its record lines.
fn jsonl_parts(path: &Path) -> (serde_json::Value, Vec<String>) {
    let mut l = lines(path);
    let header = serde_json::from_str(&l.remove(0)).unwrap();
    (header, l)
}

fn set_jsonl(path: &Path, header: &serde_json::Value, records: &[String]) {
    let mut l = vec![header.to_string()];
    l.extend_from_slice(records);
    std::fs::write(path, l.join("\n") + "\n").unwrap();
}

fn line_seq(line: &str) -> u64 {
    serde_json::from_str::<serde_json::Value>(line).unwrap()["seq"]
        .as_u64()
        .unwrap()
}

impl Backend for Jsonl {
    fn name(&self) -> &'static str {
        "jsonl"
    }
    fn build(&self, dir: &Path) -> Built {
        build_file(dir, "jsonl")
    }
    fn delete_record(&self, at: &mut At, seq: u64) {
        let (header, mut records) = jsonl_parts(at.path());
        let before = records.len();
        records.retain(|l| line_seq(l) != seq);
        assert_eq!(records.len() + 1, before, "seq {seq} is one line");
        set_jsonl(at.path(), &header, &records);
    }
    fn forge_start(&self, at: &mut At, seq: u64) {
        let (mut header, mut records) = jsonl_parts(at.path());
        records.retain(|l| line_seq(l) >= seq);
        let first: serde_json::Value = serde_json::from_str(&records[0]).unwrap();
        let start = &mut header["trailseal"]["start"];
        start["seq"] = seq.into();
        start["prev_hash"] = first["prev_hash"].clone();
        set_jsonl(at.path(), &header, &records);
    }
    fn receipts(&self, at: &At) -> Vec<String> {
        let (header, _) = jsonl_parts(at.path());
        header["trailseal"]["retention"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.to_string())
            .collect()
    }
    fn set_receipts(&self, at: &mut At, receipts: &[String]) {
        let (mut header, records) = jsonl_parts(at.path());
        header["trailseal"]["retention"] = receipts
            .iter()
            .map(|r| serde_json::from_str::<serde_json::Value>(r).unwrap())
            .collect();
        set_jsonl(at.path(), &header, &records);
    }
    fn roll_back_start(&self, at: &mut At, older: &At) {
        // The header rolled back to its older copy, the records kept.
        let (header, _) = jsonl_parts(older.path());
        let (_, records) = jsonl_parts(at.path());
        set_jsonl(at.path(), &header, &records);
    }
    fn roll_back_records(&self, at: &mut At, older: &At) {
        // The records rolled back to their older copy, the header kept.
        let (_, records) = jsonl_parts(older.path());
        let (header, _) = jsonl_parts(at.path());
        set_jsonl(at.path(), &header, &records);
    }
    fn downgrade(&self, _at: &mut At) -> bool {
        // A JSONL store's start and retention log are one header, which weaver-kernel does
        // not write: without it the store is not a weaver-kernel store pruned by
        // weaver-kernel (the header's kind and log are what the rows above attack).
        false
    }
}

// ----- the rows -----

/// What is done to the built store.
#[derive(Clone, Copy)]
enum Damage {
    /// Nothing.
    None,
    /// A record appended through the library after pruning.
    Append,
    DeleteRecord(u64),
    /// Every record before the seq deleted, and the store's start forged to it.
    ForgeStart(u64),
    /// The retention log rewritten.
    Receipts(fn(&[String]) -> Vec<String>),
    /// The start and the retention log rolled back to the older copy.
    RollBackStart,
    /// The records rolled back to the older copy.
    RollBackRecords,
    /// What trailseal adds removed: the store reads as one weaver-kernel pruned.
    Downgrade,
}

/// The verdict a row must get.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    /// Verified, exactly so: the seq range, the records checked, the caveats, the receipts'
    /// kinds.
    Verified {
        first: u64,
        last: u64,
        caveats: Vec<Caveat>,
        receipts: Vec<&'static str>,
    },
    /// Verified, with this caveat among others.
    VerifiedWith(Caveat),
    Tampered(TamperKind, u64),
}

struct Row {
    name: &'static str,
    damage: Damage,
    expect: Expect,
}

fn rows() -> Vec<Row> {
    use Damage::*;
    use TamperKind::{Checkpoint, Sequence};
    let row = |name, damage, expect| Row {
        name,
        damage,
        expect,
    };
    let kinds = vec!["policy", "prune", "prune"];
    vec![
        // The pruned store verifies from its authenticated checkpoint, with no caveat about it.
        row(
            "untouched",
            None,
            Expect::Verified {
                first: 20,
                last: 39,
                caveats: vec![Caveat::NoAnchor { last_seq: Some(39) }],
                receipts: kinds.clone(),
            },
        ),
        // The chain keeps growing after pruning.
        row(
            "a record appended after pruning",
            Append,
            Expect::Verified {
                first: 20,
                last: 40,
                caveats: vec![Caveat::NoAnchor { last_seq: Some(40) }],
                receipts: kinds,
            },
        ),
        row(
            "first retained record deleted",
            DeleteRecord(20),
            Expect::Tampered(Checkpoint, 21),
        ),
        row(
            "record after the checkpoint deleted",
            DeleteRecord(27),
            Expect::Tampered(Sequence, 28),
        ),
        row(
            "prefix deleted and start forged",
            ForgeStart(25),
            Expect::Tampered(Checkpoint, 25),
        ),
        row(
            "receipt edited",
            Receipts(|r| {
                let mut r = r.to_vec();
                let edited = r[1].replace("\"count\":10", "\"count\":11");
                assert_ne!(edited, r[1]);
                r[1] = edited;
                r
            }),
            Expect::Tampered(Checkpoint, 20),
        ),
        row(
            "older receipt deleted",
            Receipts(|r| vec![r[1].clone(), r[2].clone()]),
            Expect::Tampered(Checkpoint, 20),
        ),
        row(
            "receipts reordered",
            Receipts(|r| vec![r[1].clone(), r[0].clone(), r[2].clone()]),
            Expect::Tampered(Checkpoint, 20),
        ),
        row(
            "older receipt replayed",
            Receipts(|r| vec![r[0].clone(), r[1].clone(), r[2].clone(), r[1].clone()]),
            Expect::Tampered(Checkpoint, 20),
        ),
        row(
            "latest receipt removed (the log rolled back)",
            Receipts(|r| vec![r[0].clone(), r[1].clone()]),
            Expect::Tampered(Checkpoint, 20),
        ),
        row(
            "start and retention log rolled back together",
            RollBackStart,
            Expect::Tampered(Checkpoint, 20),
        ),
        row(
            "records rolled back to before the last prune",
            RollBackRecords,
            Expect::Tampered(Checkpoint, 10),
        ),
        // Not detectable from the store alone (anchors catch it), but never "verified"
        // silently.
        row(
            "downgraded to a weaver-kernel pruned store",
            Downgrade,
            Expect::VerifiedWith(Caveat::UnauthenticatedCheckpoint { seq: 20 }),
        ),
    ]
}

/// The verdict on `at`, which must not depend on the thread count.
fn verdict_of(at: &At, what: &str) -> Verdict {
    let one = at.open().verify_with(&mut VerifyOptions::new().threads(1));
    let four = at.open().verify_with(&mut VerifyOptions::new().threads(4));
    assert_eq!(one, four, "{what}: the verdict depends on the thread count");
    one
}

fn check(what: &str, verdict: &Verdict, expect: &Expect) {
    match expect {
        Expect::Tampered(kind, seq) => assert_tampered(what, verdict, *kind, *seq),
        Expect::VerifiedWith(caveat) => assert!(
            verdict.is_verified() && verdict.caveats().contains(caveat),
            "{what}: {verdict:?}"
        ),
        Expect::Verified {
            first,
            last,
            caveats,
            receipts,
        } => {
            let Verdict::Verified(v) = verdict else {
                panic!("{what}: {verdict:?}")
            };
            assert_eq!(
                (v.first_seq, v.last_seq, v.records_checked),
                (Some(*first), Some(*last), last - first + 1),
                "{what}"
            );
            assert_eq!(&v.caveats, caveats, "{what}");
            assert_eq!(
                v.retention.iter().map(|r| r.kind()).collect::<Vec<_>>(),
                *receipts,
                "{what}"
            );
        }
    }
}

/// Runs every row on `backend`; returns the rows it could not express.
fn run(backend: &dyn Backend) -> Vec<&'static str> {
    let dir = tempfile::tempdir().unwrap();
    let built = backend.build(dir.path());
    let mut skipped = Vec::new();
    for (i, row) in rows().into_iter().enumerate() {
        let what = format!("{}: {}", backend.name(), row.name);
        let mut store = backend.copy(&built.store, &format!("row-{i}"));
        match row.damage {
            Damage::None | Damage::Append => {}
            Damage::DeleteRecord(seq) => backend.delete_record(&mut store, seq),
            Damage::ForgeStart(seq) => backend.forge_start(&mut store, seq),
            Damage::Receipts(rewrite) => {
                let receipts = backend.receipts(&store);
                assert_eq!(receipts.len(), 3, "{what}: the built log");
                backend.set_receipts(&mut store, &rewrite(&receipts));
            }
            Damage::RollBackStart => backend.roll_back_start(&mut store, &built.older),
            Damage::RollBackRecords => backend.roll_back_records(&mut store, &built.older),
            Damage::Downgrade => {
                if !backend.downgrade(&mut store) {
                    skipped.push(row.name);
                    continue;
                }
            }
        }
        let verdict = if let Damage::Append = row.damage {
            // Appended and verified through one handle (a memory store lives in it).
            let mut log = store.open();
            log.append_json(trace(100, &at(100)).as_bytes()).unwrap();
            let one = log.verify_with(&mut VerifyOptions::new().threads(1));
            let four = log.verify_with(&mut VerifyOptions::new().threads(4));
            assert_eq!(one, four, "{what}: the verdict depends on the thread count");
            one
        } else {
            verdict_of(&store, &what)
        };
        check(&what, &verdict, &row.expect);
    }
    skipped
}

#[test]
fn retention_attacks_on_a_memory_store() {
    assert_eq!(run(&Memory), Vec::<&str>::new());
}

#[test]
fn retention_attacks_on_a_sqlite_store() {
    assert_eq!(run(&Sqlite), Vec::<&str>::new());
}

#[test]
fn retention_attacks_on_a_jsonl_store() {
    assert_eq!(run(&Jsonl), ["downgraded to a weaver-kernel pruned store"]);
}

#[test]
fn pruning_cuts_a_seq_prefix_even_when_clocks_step_back() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["db", "jsonl"] {
        let path = dir.path().join(format!("clock.{ext}"));
        let mut log = open(&path);
        // Minutes: 0 1 2 9 3 4 5 ... the clock stepped back after seq 3.
        let minutes = [0u64, 1, 2, 9, 3, 4, 5, 6, 7, 8];
        let texts: Vec<String> = minutes
            .iter()
            .enumerate()
            .map(|(n, m)| trace(n as u64, &at(*m)))
            .collect();
        log.append(&log.prepare(texts.iter().map(String::as_bytes)).unwrap())
            .unwrap();
        let report = prune(&path, CutoffSpec::Before(t("2026-01-01T00:05:00Z")));
        assert_eq!(
            (report.pruned, report.range),
            (3, Some((0, 2))),
            "{ext}: only the prefix before seq 3"
        );
        let v = verify(&path);
        assert_eq!(
            (v.is_verified(), v.records_checked()),
            (true, 7),
            "{ext}: {v:?}"
        );
    }
}

#[test]
fn the_minimum_retention_refuses_young_cutoffs_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["db", "jsonl"] {
        let path = dir.path().join(format!("policy.{ext}"));
        let mut log = open(&path);
        let texts: Vec<String> = (0..10).map(|n| trace(n, &at(n))).collect();
        log.append(&log.prepare(texts.iter().map(String::as_bytes)).unwrap())
            .unwrap();
        // 183 days, set on 2026-03-01: records from January must stay until July.
        log.set_min_retention(Some(183 * 86_400_000_000), t("2026-03-01T00:00:00Z"), false)
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        let now = t("2026-03-01T00:00:00Z");
        for cutoff in [
            CutoffSpec::Before(t("2026-01-01T00:05:00Z")),
            CutoffSpec::OlderThan {
                micros: 30 * 86_400_000_000,
            },
            CutoffSpec::KeepLast(2),
        ] {
            let request = PruneRequest {
                cutoff,
                now,
                dry_run: false,
                archive: None,
            };
            match log.prune(&request) {
                Err(trailseal::Error::Policy(e)) => {
                    assert!(e.to_string().contains("183d"), "{e}")
                }
                other => panic!("{ext} {cutoff:?}: {other:?}"),
            }
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "{ext}: a refused prune changes nothing"
        );
        // Lowering the policy must be explicit; after that, the prune goes through.
        assert!(matches!(
            log.set_min_retention(Some(86_400_000_000), now, false),
            Err(trailseal::Error::Policy(_))
        ));
        log.set_min_retention(Some(86_400_000_000), now, true)
            .unwrap();
        let request = PruneRequest {
            cutoff: CutoffSpec::KeepLast(2),
            now,
            dry_run: false,
            archive: None,
        };
        assert_eq!(log.prune(&request).unwrap().pruned, 8);
        assert!(log.verify().is_verified());
    }
}

#[test]
fn dry_runs_change_nothing_and_keep_last_keeps_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dry.db");
    let mut log = open(&path);
    let texts: Vec<String> = (0..12).map(|n| trace(n, &at(n))).collect();
    log.append(&log.prepare(texts.iter().map(String::as_bytes)).unwrap())
        .unwrap();
    drop(log);
    let before = std::fs::read(&path).unwrap();
    let request = PruneRequest {
        cutoff: CutoffSpec::KeepLast(5),
        now: t("2026-06-01T00:00:00Z"),
        dry_run: true,
        archive: None,
    };
    let report = open(&path).prune(&request).unwrap();
    assert_eq!(
        (report.pruned, report.range, report.first_retained_seq),
        (7, Some((0, 6)), 7)
    );
    assert!(report.receipt.is_some());
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(prune(&path, CutoffSpec::KeepLast(5)).pruned, 7);
    assert_eq!(verify(&path).records_checked(), 5);
    assert_eq!(
        prune(&path, CutoffSpec::KeepLast(5)).pruned,
        0,
        "nothing more to prune"
    );
    assert_eq!(prune(&path, CutoffSpec::KeepLast(0)).pruned, 5);
    let v = verify(&path);
    assert!(
        v.is_verified() && v.caveats().contains(&Caveat::EmptyStore),
        "{v:?}"
    );
    let mut log = open(&path);
    log.append_json(trace(50, &at(50)).as_bytes()).unwrap();
    assert_eq!(log.verify().first_bad_seq(), None);
}

#[test]
fn archives_verify_on_their_own_and_are_complete() {
    let dir = tempfile::tempdir().unwrap();
    let backends: [&dyn Backend; 3] = [&Memory, &Sqlite, &Jsonl];
    for backend in backends {
        let ext = backend.name();
        let built = backend.build(dir.path());
        let archive = dir.path().join(format!("archive-{ext}.jsonl"));
        let request = PruneRequest {
            cutoff: CutoffSpec::Before(t("2026-01-01T00:30:00Z")),
            now: t("2026-06-01T00:00:00Z"),
            dry_run: false,
            archive: Some(archive.clone()),
        };
        // Pruned and verified through one handle (a memory store lives in it).
        let mut log = built.store.open();
        let report = log.prune(&request).unwrap();
        assert_eq!(
            (report.pruned, report.archive.as_ref().map(|a| a.1)),
            (10, Some(10))
        );
        let v = verify(&archive);
        let Verdict::Verified(v) = v else {
            panic!("{ext}: {v:?}")
        };
        assert_eq!((v.first_seq, v.last_seq), (Some(20), Some(29)));
        assert!(
            v.caveats.is_empty(),
            "{ext}: the receipt proves the archive complete: {:?}",
            v.caveats
        );
        assert!(log.verify().is_verified(), "{ext}");

        let original = lines(&archive);
        let mut l = original.clone();
        l.pop();
        assert_tampered(
            "archive truncated",
            &verify(&write(&archive, "archive-cut", &l)),
            TamperKind::Checkpoint,
            29,
        );
        let mut l = original.clone();
        l[3] = l[3].replace("crm.search", "crm.delete");
        assert_tampered(
            "archive edited",
            &verify(&write(&archive, "archive-edit", &l)),
            TamperKind::Content,
            22,
        );
    }
}
