//! The tamper conformance suite: every class of damage, at many positions, on every backend and
//! stored form, each with the exact verdict it must get.
//!
//! A chain of [`RECORDS`] records is written once (memory store) and copied raw into each form:
//! the memory store, SQLite, JSONL written by appends, JSONL written by `export`, and PostgreSQL
//! (feature `postgres`). Each mutation rewrites the form's records (or its start and retention
//! log) byte for byte, bypassing every check, and verifies. The expected verdict of each class is
//! stated below, from the format alone:
//!
//! | damage at record k | expected |
//! |---|---|
//! | a bit of the payload | `content` at k; `malformed` at k if it is no longer JSON; `verified` if it still holds the same JSON value (another serialisation, which the format accepts) |
//! | a bit of `prev_hash` | `link` at k (JSONL: `malformed` when the bit breaks the line; SQLite: `malformed` when the bytes are no longer UTF-8, stored as a BLOB) |
//! | a bit of `record_hash` | `content` at k (JSONL, SQLite: as above) |
//! | a bit of `seq` to s | by-seq stores: `sequence` at k+1 (at s for the last record), `malformed` at the first seq when s < 0, not storable when s collides; file-order stores: `sequence` at s |
//! | a bit of the `action_id` / `invoked_at` column (SQL) | `content` at k |
//! | a bit of a line's `kid` (JSONL) | `malformed` at k (`metadata` for the first line, whose kid is the store's key id) |
//! | delete k | `sequence` at k+1; the last record: `verified` with the caveat "no anchor: records after k-1 could have been removed", `truncated` at k with an anchor |
//! | duplicate k (file order) | `sequence` at k |
//! | insert a forged record at k | `content` at k |
//! | swap the contents of k and k+1 | `link` at k |
//! | move k to the end | `sequence` at k+1 |
//! | truncate from k / roll back to an older copy | `verified` with the no-anchor caveat; `truncated` at k with an anchor |
//! | splice record k from another chain with the same secret | `link` at k (at 1 for k = 0); the whole chain replaced: `verified`, `link` at the anchored head with an anchor |
//! | replay an old record at the end | `link` at the new seq (by seq), `sequence` at its seq (file order) |
//! | a bit of the checkpoint (start seq, hash) or of a retention receipt; a deleted receipt | `checkpoint` at the start |
//! | a schema object beside the records (SQL: a trigger, view, index over an expression, altered column; PostgreSQL: a trigger, rule, policy, row-level security, retyped or nullable column) | `schema`, naming the object |
//!
//! The suite prints, per form, how many mutations it tried and how many got exactly the expected
//! verdict; any other outcome fails the test.
//!
//! Longer than 600 lines on purpose: one table of damage run on every backend; the rows are its
//! length, and splitting it would split the table.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use trailseal::core::note::NoteSigner;
use trailseal::core::time::Offset;
use trailseal::store::memory::{MemoryRecord, MemoryStore};
use trailseal::{
    AuditLog, Caveat, ChainKey, CutoffSpec, OpenMode, OpenOptions, PruneRequest, TamperKind,
    Timestamp, Verdict,
};

const SECRET: &str = "tamper-secret-for-tests";
/// Records in the chain every form starts from.
const RECORDS: u64 = 600;
/// Records the pruned chain drops.
const PRUNED: u64 = 100;

fn key() -> ChainKey {
    ChainKey::from_secret(SECRET.as_bytes()).unwrap()
}

fn signer() -> NoteSigner {
    trailseal_testkit::signer("tamper-anchor", 7)
}

fn trace(tag: &str, n: u64) -> String {
    trailseal_testkit::Trace::new(format!("{tag}-{n:05}"))
        .principal(format!("agent-{}", n % 7))
        .token(format!("tok-{n}"))
        .invoked_at(format!(
            "2026-01-01T{h:02}:{m:02}:{s:02}.{n:06}+00:00",
            h = n / 3600 % 24,
            m = n / 60 % 60,
            s = n % 60,
        ))
        .args(format!(
            r#"{{"q":"customer {n} caf\u00e9","limit":{n},"ratio":0.{n},"tags":["a","b"]}}"#
        ))
        .json()
}

/// A record as stored, every field as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Raw {
    seq: i64,
    prev: Vec<u8>,
    rec: Vec<u8>,
    trace: Vec<u8>,
    action_id: Vec<u8>,
    invoked_at: Vec<u8>,
    /// JSONL only: the line's `kid`.
    kid: Vec<u8>,
}

/// A chain's start and retention log as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RawStart {
    seq: u64,
    hash: Vec<u8>,
    retention: Vec<String>,
    /// The store says the checkpoint is authenticated by a receipt (JSONL header, memory);
    /// SQLite's `meta` has no such field.
    authenticated: bool,
}

/// Writes `n` records with `tag`d traces into a memory store and reads them back raw.
fn chain(tag: &str, n: u64, prune: u64) -> (Vec<Raw>, Option<RawStart>) {
    let mut log = AuditLog::from_store(Box::new(MemoryStore::new())).with_key(key());
    let texts: Vec<String> = (0..n).map(|i| trace(tag, i)).collect();
    let prepared = log.prepare(texts.iter().map(String::as_bytes)).unwrap();
    log.append(&prepared).unwrap();
    let mut start = None;
    if prune > 0 {
        log.prune(&PruneRequest {
            cutoff: CutoffSpec::KeepLast(n - prune),
            now: Timestamp::parse("2026-06-01T00:00:00Z", Offset::Required).unwrap(),
            dry_run: false,
            archive: None,
        })
        .unwrap();
        let state = log.store_mut().state().unwrap();
        start = Some(RawStart {
            seq: state.start.next_seq,
            hash: state.start.prev_hash.clone(),
            retention: state.retention,
            authenticated: true,
        });
    }
    let kid = key().key_id().as_str().as_bytes().to_vec();
    let mut records = Vec::new();
    log.store_mut()
        .scan(0, &mut |item| {
            if let trailseal::core::ScanItem::Record(r) = item {
                let p = prepared[r.seq as usize].clone();
                records.push(Raw {
                    seq: r.seq as i64,
                    prev: r.prev_hash.to_vec(),
                    rec: r.record_hash.to_vec(),
                    trace: r.trace.to_vec(),
                    action_id: p.action_id().as_bytes().to_vec(),
                    invoked_at: p.invoked_at().as_bytes().to_vec(),
                    kid: kid.clone(),
                });
            }
            trailseal::core::Flow::Continue
        })
        .unwrap();
    (records, start)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Scans read records by seq (SQL tables).
    BySeq,
    /// Scans read records in stored order (files, the memory store).
    AsStored,
}

/// A backend or stored form under attack.
trait Form {
    fn name(&self) -> String;
    fn order(&self) -> Order;
    /// Index columns (`action_id`, `invoked_at`) stored beside the payload.
    fn has_columns(&self) -> bool;
    /// JSONL: fields are text inside a JSON line, and lines carry a `kid`.
    fn is_jsonl(&self) -> bool {
        false
    }
    /// Whether the store records that its checkpoint is authenticated (SQLite's weaver-kernel
    /// `meta` does not: without its receipts a checkpoint reads as weaver-kernel's own).
    fn stores_start_kind(&self) -> bool {
        true
    }
    /// SQLite: bytes that are not UTF-8 are stored as a BLOB, which is read as a malformed
    /// record (weaver-kernel reads a BLOB as other text than its bytes).
    fn stores_blobs(&self) -> bool {
        false
    }
    /// Schema objects a writer of the store could plant beside the records (SQL stores).
    fn schema_damage(&self) -> Vec<SchemaDamage> {
        Vec::new()
    }
    /// Runs SQL against the store, bypassing trailseal (schema damage and its undoing).
    fn execute(&mut self, _sql: &str) {}
    /// Replaces the stored records (and start) verbatim; `false` if the form cannot hold them
    /// (a repeated seq or action_id in a table, invalid UTF-8 in a string column).
    fn write(&mut self, records: &[Raw], start: Option<&RawStart>) -> bool;
    /// The verdict, optionally against signed anchors.
    fn verify(&mut self, anchors: &[(String, String)]) -> Verdict;
    /// A signed anchor of the current head.
    fn anchor(&mut self) -> (String, String);
}

fn anchored(log: &mut AuditLog) -> (String, String) {
    let (_, note) = log
        .anchor(
            &signer(),
            "tamper.example/log",
            Timestamp::parse("2026-11-27T00:00:00Z", Offset::Required).unwrap(),
            false,
        )
        .unwrap();
    ("head.note".into(), note)
}

fn verify_log(log: &mut AuditLog, anchors: &[(String, String)]) -> Verdict {
    if anchors.is_empty() {
        log.verify()
    } else {
        log.verify_with(
            &mut trailseal::VerifyOptions::new().anchor_notes(anchors, &signer().verifier()),
        )
    }
}

/// A schema object planted in a SQL store: `verify` must say `tampered`, kind `schema`, and
/// name `object`; `undo` puts the schema back as trailseal created it.
struct SchemaDamage {
    object: &'static str,
    plant: String,
    undo: String,
}

/// The verdict on the store at `location`, also when it cannot be opened (as `trailseal
/// verify` gives it).
fn verify_at(location: &str, threads: usize, anchors: &[(String, String)]) -> Verdict {
    let options = OpenOptions {
        mode: OpenMode::Read,
        ..OpenOptions::default()
    };
    match AuditLog::open(location, &options) {
        Ok(log) => verify_log(&mut log.with_key(key()).with_threads(threads), anchors),
        Err(trailseal::Error::Store(e)) => trailseal::verdict_of_store_error(&e),
        Err(e) => panic!("{location}: {e}"),
    }
}

// ----- memory -----

struct Memory {
    store: MemoryStore,
}

impl Form for Memory {
    fn name(&self) -> String {
        "memory".into()
    }
    fn order(&self) -> Order {
        Order::AsStored
    }
    fn has_columns(&self) -> bool {
        false
    }
    fn write(&mut self, records: &[Raw], start: Option<&RawStart>) -> bool {
        let mut out = Vec::new();
        for r in records {
            let (Ok(seq), Ok(prev), Ok(rec), Ok(trace)) = (
                u64::try_from(r.seq),
                String::from_utf8(r.prev.clone()),
                String::from_utf8(r.rec.clone()),
                String::from_utf8(r.trace.clone()),
            ) else {
                return false;
            };
            out.push(MemoryRecord {
                seq,
                prev_hash: prev,
                record_hash: rec,
                trace,
            });
        }
        let mut store = MemoryStore::new();
        *store.records_mut() = out;
        if let Some(s) = start {
            *store.start_mut() = trailseal::core::ChainStart {
                next_seq: s.seq,
                prev_hash: s.hash.clone(),
                kind: if s.authenticated {
                    trailseal::core::StartKind::Checkpoint
                } else {
                    trailseal::core::StartKind::UnauthenticatedCheckpoint
                },
            };
            *store.retention_mut() = s.retention.clone();
        }
        self.store = store;
        true
    }
    fn verify(&mut self, anchors: &[(String, String)]) -> Verdict {
        let mut log = AuditLog::from_store(Box::new(self.store.clone())).with_key(key());
        verify_log(&mut log, anchors)
    }
    fn anchor(&mut self) -> (String, String) {
        let mut log = AuditLog::from_store(Box::new(self.store.clone())).with_key(key());
        anchored(&mut log)
    }
}

// ----- SQLite -----

struct Sqlite {
    path: PathBuf,
}

impl Sqlite {
    fn new(dir: &Path, name: &str) -> Self {
        let path = dir.join(name);
        // The schema and key id as trailseal writes them.
        let mut log = open(&path, OpenMode::Write { create: true });
        log.append_json(trace("schema", 0).as_bytes()).unwrap();
        Self { path }
    }
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

fn text_or_blob(bytes: &[u8]) -> rusqlite::types::Value {
    match std::str::from_utf8(bytes) {
        Ok(s) => rusqlite::types::Value::Text(s.to_owned()),
        Err(_) => rusqlite::types::Value::Blob(bytes.to_vec()),
    }
}

impl Form for Sqlite {
    fn name(&self) -> String {
        "sqlite".into()
    }
    fn stores_start_kind(&self) -> bool {
        false
    }
    fn order(&self) -> Order {
        Order::BySeq
    }
    fn has_columns(&self) -> bool {
        true
    }
    fn stores_blobs(&self) -> bool {
        true
    }
    fn write(&mut self, records: &[Raw], start: Option<&RawStart>) -> bool {
        let mut conn = Connection::open(&self.path).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute_batch(
            // The records are replaced: so is the tree they had (these chains have none).
            "DELETE FROM traces; DELETE FROM meta; CREATE TABLE IF NOT EXISTS trailseal_retention (idx INTEGER PRIMARY KEY, receipt TEXT NOT NULL); DELETE FROM trailseal_retention; DROP TABLE IF EXISTS trailseal_tree; CREATE TABLE IF NOT EXISTS trailseal_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); DELETE FROM trailseal_meta WHERE key = 'tree_base';",
        )
        .unwrap();
        {
            let mut insert = tx
                .prepare("INSERT INTO traces (seq, action_id, prev_hash, record_hash, invoked_at, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .unwrap();
            for r in records {
                let ok = insert.execute(rusqlite::params![
                    r.seq,
                    text_or_blob(&r.action_id),
                    text_or_blob(&r.prev),
                    text_or_blob(&r.rec),
                    text_or_blob(&r.invoked_at),
                    text_or_blob(&r.trace),
                ]);
                if ok.is_err() {
                    return false;
                }
            }
        }
        if let Some(s) = start {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('checkpoint_hash', ?1), ('checkpoint_next_seq', ?2)",
                rusqlite::params![text_or_blob(&s.hash), s.seq.to_string()],
            )
            .unwrap();
            for (i, receipt) in s.retention.iter().enumerate() {
                tx.execute(
                    "INSERT INTO trailseal_retention (idx, receipt) VALUES (?1, ?2)",
                    rusqlite::params![i as i64, receipt],
                )
                .unwrap();
            }
        }
        tx.commit().unwrap();
        true
    }
    fn schema_damage(&self) -> Vec<SchemaDamage> {
        let table = |ddl: &str| {
            format!(
                "ALTER TABLE traces RENAME TO traces_old; {ddl}; INSERT INTO traces SELECT * FROM traces_old; DROP TABLE traces_old;"
            )
        };
        let original = "CREATE TABLE traces (seq INTEGER PRIMARY KEY, action_id TEXT UNIQUE NOT NULL, prev_hash TEXT NOT NULL, record_hash TEXT NOT NULL, invoked_at TEXT NOT NULL, payload TEXT NOT NULL)";
        let altered = |object: &'static str, ddl: &str| SchemaDamage {
            object,
            plant: table(ddl),
            undo: table(original),
        };
        let trigger = |object: &'static str, sql: &str| SchemaDamage {
            object,
            plant: sql.to_owned(),
            undo: format!("DROP TRIGGER {object};"),
        };
        vec![
            trigger("t_ignore", "CREATE TRIGGER t_ignore BEFORE INSERT ON traces BEGIN SELECT RAISE(IGNORE); END;"),
            trigger("t_delete", "CREATE TRIGGER t_delete AFTER INSERT ON traces BEGIN DELETE FROM traces WHERE seq = new.seq; END;"),
            trigger("t_rewrite", "CREATE TRIGGER t_rewrite AFTER INSERT ON traces BEGIN UPDATE traces SET payload = '{}' WHERE seq = new.seq; END;"),
            trigger("t_meta", "CREATE TRIGGER t_meta AFTER INSERT ON meta BEGIN DELETE FROM meta; END;"),
            SchemaDamage {
                object: "traces",
                plant: "ALTER TABLE traces RENAME TO traces_real; CREATE VIEW traces AS SELECT * FROM traces_real WHERE seq < 300; CREATE TRIGGER t_instead INSTEAD OF INSERT ON traces BEGIN SELECT 1; END;".into(),
                undo: format!("DROP VIEW traces; {original}; INSERT INTO traces SELECT * FROM traces_real; DROP TABLE traces_real;"),
            },
            SchemaDamage {
                object: "i_expr",
                plant: "CREATE INDEX i_expr ON traces (lower(action_id));".into(),
                undo: "DROP INDEX i_expr;".into(),
            },
            altered("payload", "CREATE TABLE traces (seq INTEGER PRIMARY KEY, action_id TEXT UNIQUE NOT NULL, prev_hash TEXT NOT NULL, record_hash TEXT NOT NULL, invoked_at TEXT NOT NULL, payload BLOB NOT NULL)"),
            altered("prev_hash", "CREATE TABLE traces (seq INTEGER PRIMARY KEY, action_id TEXT UNIQUE NOT NULL, prev_hash TEXT COLLATE NOCASE NOT NULL, record_hash TEXT NOT NULL, invoked_at TEXT NOT NULL, payload TEXT NOT NULL)"),
            altered("WITHOUT ROWID", "CREATE TABLE traces (seq INTEGER PRIMARY KEY, action_id TEXT UNIQUE NOT NULL, prev_hash TEXT NOT NULL, record_hash TEXT NOT NULL, invoked_at TEXT NOT NULL, payload TEXT NOT NULL) WITHOUT ROWID"),
        ]
    }
    fn execute(&mut self, sql: &str) {
        Connection::open(&self.path)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    }
    fn verify(&mut self, anchors: &[(String, String)]) -> Verdict {
        // Parallel range readers and the one-by-one pass must agree on every damaged store.
        let location = self.path.to_str().unwrap();
        let parallel = verify_at(location, 2, anchors);
        let sequential = verify_at(location, 1, anchors);
        assert_eq!(
            parallel, sequential,
            "sqlite: parallel and sequential verdicts"
        );
        parallel
    }
    fn anchor(&mut self) -> (String, String) {
        anchored(&mut open(&self.path, OpenMode::Read))
    }
}

// ----- JSONL (appended, or exported) -----

struct Jsonl {
    path: PathBuf,
    label: &'static str,
}

fn jsonl_line(r: &Raw) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(format!("{{\"seq\":{},\"prev_hash\":\"", r.seq).as_bytes());
    out.extend_from_slice(&r.prev);
    out.extend_from_slice(b"\",\"record_hash\":\"");
    out.extend_from_slice(&r.rec);
    out.extend_from_slice(b"\",\"kid\":\"");
    out.extend_from_slice(&r.kid);
    out.extend_from_slice(b"\",\"trace\":");
    out.extend_from_slice(&r.trace);
    out.extend_from_slice(b"}\n");
    out
}

impl Form for Jsonl {
    fn name(&self) -> String {
        self.label.into()
    }
    fn order(&self) -> Order {
        Order::AsStored
    }
    fn has_columns(&self) -> bool {
        false
    }
    fn is_jsonl(&self) -> bool {
        true
    }
    fn write(&mut self, records: &[Raw], start: Option<&RawStart>) -> bool {
        let mut out = Vec::new();
        if let Some(s) = start {
            let header = serde_json::json!({"trailseal": {
                "format": 1,
                "start": {"seq": s.seq, "prev_hash": String::from_utf8_lossy(&s.hash),
                          "kind": if s.authenticated { "checkpoint" } else { "unauthenticated-checkpoint" }},
                "retention": s.retention.iter().map(|r| serde_json::from_str::<serde_json::Value>(r).unwrap()).collect::<Vec<_>>(),
            }});
            out.extend_from_slice(header.to_string().as_bytes());
            out.push(b'\n');
        }
        for r in records {
            out.extend_from_slice(&jsonl_line(r));
        }
        std::fs::write(&self.path, out).unwrap();
        true
    }
    fn verify(&mut self, anchors: &[(String, String)]) -> Verdict {
        verify_log(&mut open(&self.path, OpenMode::Read), anchors)
    }
    fn anchor(&mut self) -> (String, String) {
        anchored(&mut open(&self.path, OpenMode::Read))
    }
}

// ----- the mutations -----

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Tampered(u64, TamperKind),
    /// The format cannot tell: verified, with this caveat (or none).
    Verified(Option<Caveat>),
}

struct Mutation {
    what: String,
    records: Vec<Raw>,
    start: Option<RawStart>,
    anchored: bool,
    expect: Expect,
}

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn flip(bytes: &[u8], byte: usize, bit: u32) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[byte] ^= 1 << bit;
    out
}

/// What a bit flip in a JSONL string field does to the line: breaks it (malformed) unless the
/// new character may stand in a JSON string as it is.
fn breaks_json_string(c: u8) -> bool {
    !(0x20..0x80).contains(&c) || c == b'"' || c == b'\\'
}

/// The verdict for a payload changed to `mutated` at seq `k`.
fn payload_expect(original: &[u8], mutated: &[u8], k: u64) -> Expect {
    use trailseal::core::json::{self, Mode};
    let canonical = |text: &[u8]| {
        let doc = json::parse(text).ok()?;
        let mut out = Vec::new();
        doc.root().write_canonical(&mut out, Mode::Python).ok()?;
        Some((doc.root().kind() == json::Kind::Object, out))
    };
    match canonical(mutated) {
        Some((_, c)) if Some(c.clone()) == canonical(original).map(|(_, c)| c) => {
            Expect::Verified(Some(Caveat::NoAnchor {
                last_seq: Some(RECORDS - 1),
            }))
        }
        Some(_) => Expect::Tampered(k, TamperKind::Content),
        None => Expect::Tampered(k, TamperKind::Malformed),
    }
}

fn no_anchor(last: Option<u64>) -> Expect {
    Expect::Verified(Some(Caveat::NoAnchor { last_seq: last }))
}

/// Every mutation of a genesis chain for `form`.
fn mutations(form: &dyn Form, base: &[Raw], other: &[Raw], rng: &mut Rng) -> Vec<Mutation> {
    let n = base.len() as u64;
    let last = n - 1;
    let jsonl = form.is_jsonl();
    let by_seq = form.order() == Order::BySeq;
    let mut positions: Vec<u64> = vec![0, 1, 2, 7, n / 3, n / 2, n - 3, n - 2, last];
    for _ in 0..12 {
        positions.push(rng.below(n as usize) as u64);
    }
    positions.sort_unstable();
    positions.dedup();
    let mut out = Vec::new();
    let mut add = |what: String, records: Vec<Raw>, anchored: bool, expect: Expect| {
        out.push(Mutation {
            what,
            records,
            start: None,
            anchored,
            expect,
        });
    };
    for &k in &positions {
        let i = k as usize;
        let with = |f: &dyn Fn(&mut Raw)| {
            let mut records = base.to_vec();
            f(&mut records[i]);
            records
        };
        // Payload bits: random ones, and in the action_id and the first and last bytes.
        let t = &base[i].trace;
        let mut bytes: Vec<usize> = (0..6).map(|_| rng.below(t.len())).collect();
        bytes.extend([0, t.len() - 1, 15]);
        for byte in bytes {
            let bit = rng.below(8) as u32;
            let m = flip(t, byte, bit);
            let expect = payload_expect(t, &m, k);
            add(
                format!("payload bit {bit} of byte {byte} at seq {k}"),
                with(&|r| r.trace = m.clone()),
                false,
                expect,
            );
        }
        for (field, kind) in [
            ("prev_hash", TamperKind::Link),
            ("record_hash", TamperKind::Content),
        ] {
            for _ in 0..3 {
                let byte = rng.below(64);
                let bit = rng.below(8) as u32;
                let original = if field == "prev_hash" {
                    &base[i].prev
                } else {
                    &base[i].rec
                };
                let m = flip(original, byte, bit);
                let expect = if (jsonl && breaks_json_string(m[byte]))
                    || (form.stores_blobs() && std::str::from_utf8(&m).is_err())
                {
                    Expect::Tampered(k, TamperKind::Malformed)
                } else {
                    Expect::Tampered(k, kind)
                };
                add(
                    format!("{field} bit {bit} of byte {byte} at seq {k}"),
                    with(&|r| {
                        if field == "prev_hash" {
                            r.prev = m.clone();
                        } else {
                            r.rec = m.clone();
                        }
                    }),
                    false,
                    expect,
                );
            }
        }
        for bit in [0u32, 1, 4, 9, 20, 40, 63] {
            let s = (k as i64) ^ (1i64 << bit);
            let expect = if s < 0 {
                // A negative seq: the row sorts first (tables) or the line is unreadable.
                Expect::Tampered(if by_seq { 0 } else { k }, TamperKind::Malformed)
            } else if by_seq {
                if (s as u64) < n {
                    continue; // the table cannot hold two rows with one seq
                } else if k < last {
                    Expect::Tampered(k + 1, TamperKind::Sequence)
                } else {
                    Expect::Tampered(s as u64, TamperKind::Sequence)
                }
            } else {
                Expect::Tampered(s as u64, TamperKind::Sequence)
            };
            add(
                format!("seq bit {bit} at seq {k}"),
                with(&|r| r.seq = s),
                false,
                expect,
            );
        }
        if form.has_columns() {
            for column in ["action_id", "invoked_at"] {
                let original = if column == "action_id" {
                    &base[i].action_id
                } else {
                    &base[i].invoked_at
                };
                let byte = rng.below(original.len());
                let bit = rng.below(7) as u32;
                let m = flip(original, byte, bit);
                add(
                    format!("{column} column bit {bit} of byte {byte} at seq {k}"),
                    with(&|r| {
                        if column == "action_id" {
                            r.action_id = m.clone();
                        } else {
                            r.invoked_at = m.clone();
                        }
                    }),
                    false,
                    Expect::Tampered(k, TamperKind::Content),
                );
            }
        }
        if jsonl {
            let byte = rng.below(16);
            let bit = rng.below(8) as u32;
            let m = flip(&base[i].kid, byte, bit);
            let expect = if breaks_json_string(m[byte]) {
                Expect::Tampered(k, TamperKind::Malformed)
            } else if k == 0 && trailseal::core::KeyId::parse(&m).is_some() {
                Expect::Tampered(0, TamperKind::Metadata)
            } else {
                Expect::Tampered(k, TamperKind::Malformed)
            };
            add(
                format!("kid bit {bit} of byte {byte} at seq {k}"),
                with(&|r| r.kid = m.clone()),
                false,
                expect,
            );
        }
        // Delete.
        let mut deleted = base.to_vec();
        deleted.remove(i);
        if k < last {
            add(
                format!("delete seq {k}"),
                deleted,
                false,
                Expect::Tampered(k + 1, TamperKind::Sequence),
            );
        } else {
            add(
                format!("delete seq {k} (the head)"),
                deleted.clone(),
                false,
                no_anchor(k.checked_sub(1)),
            );
            add(
                format!("delete seq {k} (the head), anchored"),
                deleted,
                true,
                Expect::Tampered(k, TamperKind::Truncated),
            );
        }
        // Duplicate (file order only: a table refuses a repeated seq).
        if !by_seq {
            let mut dup = base.to_vec();
            dup.insert(i + 1, base[i].clone());
            add(
                format!("duplicate seq {k}"),
                dup,
                false,
                Expect::Tampered(k, TamperKind::Sequence),
            );
        }
        // Insert a forged record: right seq and prev_hash, a MAC from another key.
        let forger = ChainKey::from_secret(b"not the secret").unwrap();
        let forged_trace = trace("forged", k).into_bytes();
        let canonical = trailseal::core::json::canonicalize(&forged_trace).unwrap();
        let forged = Raw {
            seq: k as i64,
            prev: base[i].prev.clone(),
            rec: forger
                .record_hash(k, &base[i].prev, canonical.as_bytes())
                .as_bytes()
                .to_vec(),
            trace: canonical.into_bytes(),
            action_id: format!("forged-{k:05}").into_bytes(),
            invoked_at: base[i].invoked_at.clone(),
            kid: base[i].kid.clone(),
        };
        let mut inserted = base.to_vec();
        for r in &mut inserted[i..] {
            r.seq += 1;
        }
        inserted.insert(i, forged);
        add(
            format!("insert a forged record at seq {k}"),
            inserted,
            false,
            Expect::Tampered(k, TamperKind::Content),
        );
        // Swap the contents of k and k+1, each keeping its seq.
        if k < last {
            let mut swapped = base.to_vec();
            let (a, b) = (swapped[i].clone(), swapped[i + 1].clone());
            swapped[i] = Raw {
                seq: a.seq,
                ..b.clone()
            };
            swapped[i + 1] = Raw { seq: b.seq, ..a };
            add(
                format!("swap seq {k} and {}", k + 1),
                swapped,
                false,
                Expect::Tampered(k, TamperKind::Link),
            );
            // Move k to the end (a table: give it the next free seq).
            let mut moved = base.to_vec();
            let mut r = moved.remove(i);
            if by_seq {
                r.seq = n as i64;
            }
            moved.push(r);
            add(
                format!("move seq {k} to the end"),
                moved,
                false,
                Expect::Tampered(k + 1, TamperKind::Sequence),
            );
        }
        // Truncate from k (k > 0; from 0 the store is empty).
        if k > 0 {
            let cut = base[..i].to_vec();
            add(
                format!("truncate from seq {k}"),
                cut.clone(),
                false,
                no_anchor(Some(k - 1)),
            );
            add(
                format!("truncate from seq {k}, anchored"),
                cut,
                true,
                Expect::Tampered(k, TamperKind::Truncated),
            );
        }
        // Splice record k from another chain written with the same secret.
        let mut spliced = base.to_vec();
        spliced[i] = Raw {
            kid: base[i].kid.clone(),
            ..other[i].clone()
        };
        let at = if k == 0 { 1 } else { k };
        add(
            format!("splice seq {k} from another chain"),
            spliced,
            false,
            Expect::Tampered(at, TamperKind::Link),
        );
        // Replay record k at the end.
        if k < last {
            let mut replayed = base.to_vec();
            let mut r = base[i].clone();
            if by_seq {
                r.seq = n as i64;
                r.action_id = format!("replayed-{k:05}").into_bytes();
                replayed.push(r);
                add(
                    format!("replay seq {k} at the end"),
                    replayed,
                    false,
                    Expect::Tampered(n, TamperKind::Link),
                );
            } else {
                replayed.push(r);
                add(
                    format!("replay seq {k} at the end"),
                    replayed,
                    false,
                    Expect::Tampered(k, TamperKind::Sequence),
                );
            }
        }
    }
    // The whole chain replaced by another written with the same secret, and a rollback to an
    // older copy: undetectable without an anchor; caught with one.
    let replaced: Vec<Raw> = other
        .iter()
        .map(|r| Raw {
            kid: base[0].kid.clone(),
            ..r.clone()
        })
        .collect();
    add(
        "replace the whole chain".into(),
        replaced.clone(),
        false,
        no_anchor(Some(last)),
    );
    add(
        "replace the whole chain, anchored".into(),
        replaced,
        true,
        Expect::Tampered(last, TamperKind::Link),
    );
    let older = base[..(n as usize / 2)].to_vec();
    add(
        "roll back to an older copy".into(),
        older.clone(),
        false,
        no_anchor(Some(n / 2 - 1)),
    );
    add(
        "roll back to an older copy, anchored".into(),
        older,
        true,
        Expect::Tampered(n / 2, TamperKind::Truncated),
    );
    out
}

/// Mutations of a pruned chain's start and retention log.
fn start_mutations(
    form: &dyn Form,
    base: &[Raw],
    start: &RawStart,
    rng: &mut Rng,
) -> Vec<Mutation> {
    let at = start.seq;
    let mut out = Vec::new();
    let mut add_anchored =
        |what: String, records: Vec<Raw>, start: RawStart, anchored: bool, expect: Expect| {
            out.push(Mutation {
                what,
                records,
                start: Some(start),
                anchored,
                expect,
            });
        };
    for _ in 0..6 {
        let byte = rng.below(64);
        let bit = rng.below(7) as u32;
        let mut s = start.clone();
        s.hash = flip(&s.hash, byte, bit);
        if s.hash.iter().any(|&c| breaks_json_string(c)) {
            continue;
        }
        add_anchored(
            format!("checkpoint hash bit {bit} of byte {byte}"),
            base.to_vec(),
            s,
            false,
            Expect::Tampered(at, TamperKind::Checkpoint),
        );
    }
    for bit in [0u32, 1, 3, 10] {
        let mut s = start.clone();
        s.seq ^= 1 << bit;
        // Reported where the store says its chain starts.
        let at = s.seq;
        add_anchored(
            format!("checkpoint seq bit {bit}"),
            base.to_vec(),
            s,
            false,
            Expect::Tampered(at, TamperKind::Checkpoint),
        );
    }
    for _ in 0..8 {
        let receipt = start.retention[0].as_bytes();
        let byte = rng.below(receipt.len());
        let bit = rng.below(7) as u32;
        let m = flip(receipt, byte, bit);
        let Ok(text) = String::from_utf8(m) else {
            continue;
        };
        if serde_json::from_str::<serde_json::Value>(&text).is_err() {
            // The JSONL header would no longer be JSON; tables still hold the text.
            continue;
        }
        let mut s = start.clone();
        s.retention[0] = text;
        add_anchored(
            format!("receipt bit {bit} of byte {byte}"),
            base.to_vec(),
            s,
            false,
            Expect::Tampered(at, TamperKind::Checkpoint),
        );
    }
    // Deleting the receipt: caught where the store says its checkpoint is authenticated. A
    // store that does not say so (SQLite), or whose claim is downgraded too, reads as pruned by
    // weaver-kernel: verified, never without the caveat; an anchor names the receipt.
    let mut s = start.clone();
    s.retention.clear();
    let expect = if form.stores_start_kind() {
        Expect::Tampered(at, TamperKind::Checkpoint)
    } else {
        Expect::Verified(Some(Caveat::UnauthenticatedCheckpoint { seq: at }))
    };
    add_anchored(
        "delete the prune receipt".into(),
        base.to_vec(),
        s.clone(),
        false,
        expect,
    );
    add_anchored(
        "delete the prune receipt, anchored".into(),
        base.to_vec(),
        s.clone(),
        true,
        Expect::Tampered(at, TamperKind::Checkpoint),
    );
    s.authenticated = false;
    add_anchored(
        "delete the prune receipt and downgrade the checkpoint".into(),
        base.to_vec(),
        s.clone(),
        false,
        Expect::Verified(Some(Caveat::UnauthenticatedCheckpoint { seq: at })),
    );
    add_anchored(
        "delete the prune receipt and downgrade the checkpoint, anchored".into(),
        base.to_vec(),
        s,
        true,
        Expect::Tampered(at, TamperKind::Checkpoint),
    );
    out
}

fn run(form: &mut dyn Form) -> (usize, usize, usize) {
    let (base, _) = chain("act", RECORDS, 0);
    let (other, _) = chain("other", RECORDS, 0);
    let mut rng = Rng(0x7A11_5EA1 ^ form.name().len() as u64);
    assert!(form.write(&base, None));
    assert!(
        form.verify(&[]).is_verified(),
        "{}: the untouched chain",
        form.name()
    );
    let mut head_anchor = form.anchor();
    let mut tried = 0;
    let mut skipped = 0;
    let mut undetectable = 0;
    let mut misses = Vec::new();
    let mut check = |form: &mut dyn Form, m: Mutation, head_anchor: &(String, String)| {
        if !form.write(&m.records, m.start.as_ref()) {
            skipped += 1;
            return;
        }
        tried += 1;
        let anchors = if m.anchored {
            vec![head_anchor.clone()]
        } else {
            Vec::new()
        };
        let verdict = form.verify(&anchors);
        let ok = match (&m.expect, &verdict) {
            (Expect::Tampered(seq, kind), v) => {
                v.first_bad_seq() == Some(*seq) && v.kind() == Some(*kind)
            }
            (Expect::Verified(caveat), Verdict::Verified(v)) => {
                undetectable += 1;
                caveat.as_ref().is_none_or(|c| v.caveats.contains(c))
            }
            _ => false,
        };
        if !ok {
            misses.push(format!(
                "{}: expected {:?}, got {verdict:?}",
                m.what, m.expect
            ));
        }
    };
    for m in mutations(form, &base, &other, &mut rng) {
        check(form, m, &head_anchor);
    }
    // A pruned chain: its checkpoint and retention log.
    let (pruned, start) = chain("act", RECORDS, PRUNED);
    let start = start.unwrap();
    assert!(form.write(&pruned, Some(&start)));
    assert!(
        form.verify(&[]).is_verified(),
        "{}: the pruned chain",
        form.name()
    );
    head_anchor = form.anchor();
    for m in start_mutations(form, &pruned, &start, &mut rng) {
        check(form, m, &head_anchor);
    }
    // Records from before the checkpoint put back (a rollback of the prune).
    let mut rolled = base[..PRUNED as usize].to_vec();
    rolled.extend(pruned.iter().cloned());
    check(
        form,
        Mutation {
            what: "the pruned records put back".into(),
            records: rolled,
            start: Some(start.clone()),
            anchored: false,
            expect: Expect::Tampered(0, TamperKind::Checkpoint),
        },
        &head_anchor,
    );
    // Schema objects planted beside an intact chain.
    assert!(form.write(&base, None));
    for damage in form.schema_damage() {
        form.execute(&damage.plant);
        tried += 1;
        let verdict = form.verify(&[]);
        let named = format!("`{}`", damage.object);
        let ok = verdict.kind() == Some(TamperKind::Schema)
            && verdict.first_bad_seq() == Some(0)
            && verdict.detail().starts_with("schema: ")
            && (verdict.detail().contains(&named) || verdict.detail().contains(damage.object));
        if !ok {
            misses.push(format!(
                "schema damage {}: expected tampered, kind schema, naming it; got {verdict:?}",
                damage.object
            ));
        }
        form.execute(&damage.undo);
        // Undoing a retyped column can change the stored bytes: put the records back too.
        assert!(form.write(&base, None));
        assert!(
            form.verify(&[]).is_verified(),
            "{}: undoing {}",
            form.name(),
            damage.object
        );
    }
    let caught = tried - misses.len() - undetectable;
    eprintln!(
        "{}: {tried} mutations tried, {caught} caught with the exact first bad seq and kind, {undetectable} verified as documented (same JSON value, or no anchor), {} not storable in this form, {} misses",
        form.name(),
        skipped,
        misses.len()
    );
    assert!(
        misses.is_empty(),
        "{}: {} misses:\n{}",
        form.name(),
        misses.len(),
        misses.join("\n")
    );
    (tried, caught, undetectable)
}

#[test]
fn memory_store() {
    run(&mut Memory {
        store: MemoryStore::new(),
    });
}

#[test]
fn sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    run(&mut Sqlite::new(dir.path(), "t.db"));
}

#[test]
fn jsonl_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    run(&mut Jsonl {
        path,
        label: "jsonl",
    });
}

#[test]
fn jsonl_export() {
    // An export of a SQLite store is a JSONL store of its own: written by `export`, then damaged.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("src.db");
    let mut log = open(&db, OpenMode::Write { create: true });
    let texts: Vec<String> = (0..RECORDS).map(|i| trace("act", i)).collect();
    log.append(&log.prepare(texts.iter().map(String::as_bytes)).unwrap())
        .unwrap();
    let path = dir.path().join("export.jsonl");
    log.export_jsonl(&path).unwrap();
    let written = std::fs::read(&path).unwrap();
    let (base, _) = chain("act", RECORDS, 0);
    let expected: Vec<u8> = base.iter().flat_map(jsonl_line).collect();
    assert_eq!(written, expected, "the export is the chain's JSONL form");
    run(&mut Jsonl {
        path,
        label: "jsonl export",
    });
}

// ----- PostgreSQL -----

#[cfg(feature = "postgres")]
struct Postgres {
    url: String,
    schema: String,
    client: postgres::Client,
}

#[cfg(feature = "postgres")]
impl Postgres {
    fn new() -> Self {
        let url = trailseal_testkit::pg_fresh_schema_url();
        let schema = url.rsplit("schema=").next().unwrap().to_owned();
        let mut log = AuditLog::open(
            &url,
            &OpenOptions {
                mode: OpenMode::Write { create: true },
                ..OpenOptions::default()
            },
        )
        .unwrap()
        .with_key(key());
        log.append_json(trace("schema", 0).as_bytes()).unwrap();
        let client =
            postgres::Client::connect(&trailseal_testkit::pg_url(), postgres::NoTls).unwrap();
        Self {
            url,
            schema,
            client,
        }
    }

    fn log(&self) -> AuditLog {
        AuditLog::open(&self.url, &OpenOptions::default())
            .unwrap()
            .with_key(key())
    }
}

#[cfg(feature = "postgres")]
impl Form for Postgres {
    fn name(&self) -> String {
        "postgres".into()
    }
    fn order(&self) -> Order {
        Order::BySeq
    }
    fn has_columns(&self) -> bool {
        true
    }
    fn write(&mut self, records: &[Raw], start: Option<&RawStart>) -> bool {
        let text = |b: &[u8]| {
            String::from_utf8(b.to_vec())
                .ok()
                .filter(|s| !s.contains('\0'))
        };
        let mut rows = Vec::new();
        for r in records {
            let (Some(a), Some(p), Some(h), Some(i), Some(t)) = (
                text(&r.action_id),
                text(&r.prev),
                text(&r.rec),
                text(&r.invoked_at),
                text(&r.trace),
            ) else {
                return false; // a text column holds neither NUL nor invalid UTF-8
            };
            rows.push((r.seq, a, p, h, i, t));
        }
        let s = &self.schema;
        let mut tx = self.client.transaction().unwrap();
        tx.batch_execute(&format!(
            "DELETE FROM {s}.trailseal_traces; DELETE FROM {s}.trailseal_retention; DELETE FROM {s}.trailseal_meta WHERE key LIKE 'checkpoint_%' OR key = 'tree_base'; DELETE FROM {s}.trailseal_tree;"
        ))
        .unwrap();
        let insert = tx
            .prepare(&format!("INSERT INTO {s}.trailseal_traces (seq, action_id, prev_hash, record_hash, invoked_at, payload) VALUES ($1, $2, $3, $4, $5, $6)"))
            .unwrap();
        for (seq, a, p, h, i, t) in &rows {
            if tx.execute(&insert, &[seq, a, p, h, i, t]).is_err() {
                return false; // a repeated seq or action_id; the transaction is dropped
            }
        }
        if let Some(st) = start {
            let Some(hash) = text(&st.hash) else {
                return false;
            };
            let kind = if st.authenticated {
                "checkpoint"
            } else {
                "unauthenticated-checkpoint"
            };
            tx.execute(
                &format!("INSERT INTO {s}.trailseal_meta (key, value) VALUES ('checkpoint_seq', $1), ('checkpoint_hash', $2), ('checkpoint_kind', $3)"),
                &[&st.seq.to_string(), &hash, &kind],
            )
            .unwrap();
            for (i, receipt) in st.retention.iter().enumerate() {
                tx.execute(
                    &format!("INSERT INTO {s}.trailseal_retention (idx, receipt) VALUES ($1, $2)"),
                    &[&(i as i64), receipt],
                )
                .unwrap();
            }
        }
        tx.commit().unwrap();
        true
    }
    fn schema_damage(&self) -> Vec<SchemaDamage> {
        let s = &self.schema;
        let t = format!("{s}.trailseal_traces");
        vec![
            SchemaDamage {
                object: "t_ignore",
                plant: format!(
                    "CREATE FUNCTION {s}.t_ignore() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$; CREATE TRIGGER t_ignore BEFORE INSERT ON {t} FOR EACH ROW EXECUTE FUNCTION {s}.t_ignore();"
                ),
                undo: format!("DROP TRIGGER t_ignore ON {t}; DROP FUNCTION {s}.t_ignore();"),
            },
            SchemaDamage {
                object: "r_nothing",
                plant: format!("CREATE RULE r_nothing AS ON INSERT TO {t} DO INSTEAD NOTHING;"),
                undo: format!("DROP RULE r_nothing ON {t};"),
            },
            SchemaDamage {
                object: "p_hide",
                plant: format!("CREATE POLICY p_hide ON {t} USING (seq < 300);"),
                undo: format!("DROP POLICY p_hide ON {t};"),
            },
            SchemaDamage {
                object: "row-level security",
                plant: format!("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;"),
                undo: format!("ALTER TABLE {t} DISABLE ROW LEVEL SECURITY;"),
            },
            SchemaDamage {
                object: "trailseal_traces.payload",
                plant: format!(
                    "ALTER TABLE {t} ALTER COLUMN payload TYPE jsonb USING payload::jsonb;"
                ),
                undo: format!("ALTER TABLE {t} ALTER COLUMN payload TYPE text;"),
            },
            SchemaDamage {
                object: "trailseal_traces.payload",
                plant: format!(
                    "ALTER TABLE {t} ALTER COLUMN payload DROP NOT NULL; UPDATE {t} SET payload = NULL WHERE seq = 5;"
                ),
                undo: format!(
                    "UPDATE {t} SET payload = (SELECT payload FROM {t} WHERE seq = 4) WHERE seq = 5; ALTER TABLE {t} ALTER COLUMN payload SET NOT NULL;"
                ),
            },
            SchemaDamage {
                object: "trailseal_traces.prev_hash",
                plant: format!(
                    "ALTER TABLE {t} ALTER COLUMN prev_hash TYPE bytea USING prev_hash::bytea;"
                ),
                undo: format!(
                    "ALTER TABLE {t} ALTER COLUMN prev_hash TYPE text USING convert_from(prev_hash, 'UTF8');"
                ),
            },
            SchemaDamage {
                object: "trailseal_traces.seq",
                plant: format!("ALTER TABLE {t} ALTER COLUMN seq TYPE integer;"),
                undo: format!("ALTER TABLE {t} ALTER COLUMN seq TYPE bigint;"),
            },
        ]
    }
    fn execute(&mut self, sql: &str) {
        self.client.batch_execute(sql).unwrap();
    }
    fn verify(&mut self, anchors: &[(String, String)]) -> Verdict {
        verify_at(&self.url, 1, anchors)
    }
    fn anchor(&mut self) -> (String, String) {
        anchored(&mut self.log())
    }
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_store() {
    run(&mut Postgres::new());
}

// ----- export bundles -----

/// A bundle of the whole chain, damaged line by line: every change is caught, by the block
/// signatures and digests with the public key alone and by the MACs with the secret as well. A
/// broken seq or link is named exactly; a content change within its block of 64 entries.
#[test]
fn export_bundle() {
    use std::io::BufReader;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let mut log = open(&db, OpenMode::Write { create: true });
    let texts: Vec<String> = (0..RECORDS).map(|i| trace("act", i)).collect();
    log.append(&log.prepare(texts.iter().map(String::as_bytes)).unwrap())
        .unwrap();
    let path = dir.path().join("all.bundle");
    let mut file = std::fs::File::create(&path).unwrap();
    log.export_bundle(
        &mut file,
        &signer(),
        "tamper.example/log",
        Timestamp::parse("2026-11-27T00:00:00Z", Offset::Required).unwrap(),
        &trailseal::BundleSelection::default(),
        &mut |_| {},
    )
    .unwrap();
    drop(file);
    let text = std::fs::read(&path).unwrap();
    let lines: Vec<Vec<u8>> = text
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    let verify = |lines: &[Vec<u8>], with_secret: bool| {
        let bytes: Vec<u8> = lines.concat();
        let k = key();
        trailseal::verify_bundle(
            &mut BufReader::new(bytes.as_slice()),
            &signer().verifier(),
            with_secret.then_some(&k),
            &mut |_| {},
        )
        .unwrap()
        .verdict
    };
    assert!(verify(&lines, true).is_verified());
    assert!(verify(&lines, false).is_verified());
    // Another secret is not tampering.
    let other = ChainKey::from_secret(b"another secret").unwrap();
    let bytes: Vec<u8> = lines.concat();
    let v = trailseal::verify_bundle(
        &mut BufReader::new(bytes.as_slice()),
        &signer().verifier(),
        Some(&other),
        &mut |_| {},
    )
    .unwrap()
    .verdict;
    assert!(
        matches!(&v, Verdict::Unverifiable(u) if u.reason == trailseal::core::UnverifiableReason::WrongSecret),
        "{v:?}"
    );
    // Line 0 is the header; entry seq k is the line after k + k/64 earlier trailers.
    let entry_line = |k: usize| 1 + k + k / 64;
    let mut rng = Rng(0xB0DE);
    let (mut tried, mut exact) = (0, 0);
    let mut misses = Vec::new();
    let mut check = |what: String,
                     damaged: Vec<Vec<u8>>,
                     exact_expect: Option<(u64, TamperKind)>,
                     within: Option<(u64, u64)>| {
        for with_secret in [false, true] {
            tried += 1;
            let v = verify(&damaged, with_secret);
            let ok = match (&v, exact_expect, within) {
                (Verdict::Verified(_), _, _) => false,
                (_, Some((seq, kind)), _) => {
                    v.first_bad_seq() == Some(seq) && v.kind() == Some(kind)
                }
                (Verdict::Tampered(t), None, Some((lo, hi))) => {
                    (lo..=hi).contains(&t.first_bad_seq)
                }
                _ => true,
            };
            if ok {
                exact += usize::from(exact_expect.is_some());
            } else {
                misses.push(format!("{what} (secret: {with_secret}): {v:?}"));
            }
        }
    };
    for k in [0usize, 1, 63, 64, 65, 300, 598, 599] {
        let at = entry_line(k);
        let block = (k / 64 * 64) as u64;
        for _ in 0..6 {
            let byte = rng.below(lines[at].len() - 1);
            let bit = rng.below(8) as u32;
            let mut damaged = lines.clone();
            damaged[at] = flip(&lines[at], byte, bit);
            // A content change is found in its block; a changed record_hash at the next
            // entry's link check.
            check(
                format!("entry {k}: bit {bit} of byte {byte}"),
                damaged,
                None,
                Some((block, k as u64 + 1)),
            );
        }
        let mut deleted = lines.clone();
        deleted.remove(at);
        // A block's last entry removed: its trailer counts one entry too many (the block is
        // named); an entry added after it: the block has no trailer where one is due.
        let last_in_block = k % 64 == 63;
        let next = if k == 599 {
            None
        } else if last_in_block {
            Some((block, TamperKind::Sequence))
        } else {
            Some(((k + 1) as u64, TamperKind::Sequence))
        };
        check(format!("entry {k} deleted"), deleted, next, None);
        let mut dup = lines.clone();
        dup.insert(at + 1, lines[at].clone());
        let dup_at = if last_in_block { k + 1 } else { k } as u64;
        check(
            format!("entry {k} duplicated"),
            dup,
            Some((dup_at, TamperKind::Sequence)),
            None,
        );
        if k % 64 != 63 && k < 599 {
            let mut swapped = lines.clone();
            swapped.swap(at, at + 1);
            check(
                format!("entries {k} and {} swapped", k + 1),
                swapped,
                // The first entry sets where the range starts; later ones must follow it.
                Some((if k == 0 { 0 } else { k as u64 + 1 }, TamperKind::Sequence)),
                None,
            );
        }
    }
    // The header, trailers and the manifest: any bit, deleted, or the bundle cut short.
    let structural: Vec<usize> = std::iter::once(0)
        .chain((0..lines.len()).filter(|&i| lines[i].starts_with(b"{\"block\"")))
        .chain(std::iter::once(lines.len() - 1))
        .collect();
    for &i in &structural {
        for _ in 0..4 {
            let byte = rng.below(lines[i].len() - 1);
            let bit = rng.below(8) as u32;
            let mut damaged = lines.clone();
            damaged[i] = flip(&lines[i], byte, bit);
            check(
                format!("line {i}: bit {bit} of byte {byte}"),
                damaged,
                None,
                None,
            );
        }
        let mut deleted = lines.clone();
        deleted.remove(i);
        check(format!("line {i} deleted"), deleted, None, None);
    }
    for cut in [1, lines.len() / 2, lines.len() - 1] {
        check(
            format!("cut after line {cut}"),
            lines[..cut].to_vec(),
            None,
            None,
        );
    }
    eprintln!(
        "bundle: {tried} verifications of damaged bundles, all caught ({exact} with the exact first bad seq and kind), {} misses",
        misses.len()
    );
    assert!(misses.is_empty(), "bundle misses:\n{}", misses.join("\n"));
}
