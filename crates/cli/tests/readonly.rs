//! An auditor who may only read a SQLite store can verify it: `verify`, `list`, `show`,
//! `export` and `verify --anchor` run as an unprivileged user (nobody) on stores owned by root
//! that nobody may not write — a WAL store closed cleanly (no `-wal`/`-shm`, in a directory
//! nobody cannot write), a WAL store a writer holds open (records only in its `-wal` file), and
//! a rollback-journal store as weaver-kernel writes it — and nothing of the store changes.
//!
//! Needs root (to become nobody); skipped, loudly, otherwise.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SECRET: &str = "readonly-secret-0123456789abcdef";
/// The weaver-kernel vectors' secret.
const VECTOR_SECRET: &str = trailseal_testkit::VECTOR_SECRET;

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn trace(n: u64) -> String {
    trailseal_testkit::Trace::new(format!("act-{n:04}"))
        .args(format!(r#"{{"n":{n}}}"#))
        .json()
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `trailseal ARGS` as root, with `secret`.
fn as_root(args: &[&str], secret: &str, stdin: &str) -> Output {
    let o = common::run_with(args, Some(secret), stdin.as_bytes());
    assert!(o.status.success(), "{args:?}: {}", common::text(&o.stderr));
    o
}

/// `trailseal ARGS` as nobody (no groups), with the secret in its environment; the binary is
/// a copy nobody may run.
fn as_nobody(bin: &Path, args: &[&str], secret: &str) -> Output {
    Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(bin)
        .args(args)
        .env("WEAVER_KERNEL_SECRET", secret)
        .env("HOME", "/nonexistent")
        .output()
        .unwrap()
}

/// Every file in `dir`: name → (bytes, mode, modification time).
fn files(dir: &Path) -> BTreeMap<String, (Vec<u8>, u32, std::time::SystemTime)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                (
                    std::fs::read(e.path()).unwrap(),
                    meta.permissions().mode(),
                    meta.modified().unwrap(),
                ),
            )
        })
        .collect()
}

struct Setup {
    /// Holds everything; removed at the end.
    _dir: tempfile::TempDir,
    bin: PathBuf,
    /// Where nobody may write (exports).
    out: PathBuf,
    key_pub: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o755);
    let bin = dir.path().join("trailseal");
    std::fs::copy(env!("CARGO_BIN_EXE_trailseal"), &bin).unwrap();
    chmod(&bin, 0o755);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let chown = Command::new("chown")
        .args(["nobody:nogroup", out.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(chown.success());
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    let key = keys.join("auditor");
    as_root(&["keygen", "--out", key.to_str().unwrap()], SECRET, "");
    chmod(&keys, 0o755);
    let key_pub = keys.join("auditor.pub");
    chmod(&key_pub, 0o644);
    Setup {
        bin,
        out,
        key_pub,
        _dir: dir,
    }
}

/// A WAL store of `n` records written by trailseal in `dir`, with an anchor of its head in
/// `anchor` (signed with the setup's key).
fn make_store(s: &Setup, dir: &Path, n: u64, anchor: &Path) -> PathBuf {
    std::fs::create_dir(dir).unwrap();
    let store = dir.join("audit.db");
    let input: String = (0..n).map(|i| trace(i) + "\n").collect();
    as_root(
        &["append", "--store", store.to_str().unwrap()],
        SECRET,
        &input,
    );
    let key = s.key_pub.with_extension("");
    as_root(
        &[
            "anchor",
            "--store",
            store.to_str().unwrap(),
            "--signing-key",
            key.to_str().unwrap(),
            "--out",
            anchor.to_str().unwrap(),
        ],
        SECRET,
        "",
    );
    chmod(anchor, 0o644);
    store
}

/// Runs every reading command as nobody on `store`; each must succeed, and verification must
/// find `records` records.
fn read_everything(s: &Setup, store: &Path, secret: &str, records: u64, anchor: Option<&Path>) {
    let store = store.to_str().unwrap();
    let check = |what: &str, o: &Output| {
        assert!(
            o.status.success(),
            "{store}: {what} as nobody: exit {:?}: {}{}",
            o.status.code(),
            common::text(&o.stdout),
            common::text(&o.stderr)
        );
    };
    let o = as_nobody(&s.bin, &["verify", "--store", store, "--json"], secret);
    check("verify", &o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "verified", "{store}: {v}");
    assert_eq!(v["records_checked"], records, "{store}: {v}");
    let o = as_nobody(&s.bin, &["list", "--store", store, "--json"], secret);
    check("list", &o);
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len() as u64, records, "{store}: list");
    let id = listed[0]["trace"]["action_id"].as_str().unwrap().to_owned();
    let o = as_nobody(&s.bin, &["show", &id, "--store", store], secret);
    check("show", &o);
    let export = s.out.join(format!(
        "export-{}.jsonl",
        Path::new(store)
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
    ));
    let o = as_nobody(
        &s.bin,
        &[
            "export",
            "--store",
            store,
            "--out",
            export.to_str().unwrap(),
        ],
        secret,
    );
    check("export", &o);
    let o = as_nobody(
        &s.bin,
        &["verify", "--store", export.to_str().unwrap(), "--json"],
        secret,
    );
    check("verify the export", &o);
    if let Some(anchor) = anchor {
        let o = as_nobody(
            &s.bin,
            &[
                "verify",
                "--store",
                store,
                "--anchor",
                anchor.to_str().unwrap(),
                "--public-key",
                s.key_pub.to_str().unwrap(),
            ],
            secret,
        );
        check("verify --anchor", &o);
    }
}

#[test]
fn a_read_only_auditor_verifies_sqlite_stores() {
    if !is_root() {
        eprintln!(
            "SKIPPED a_read_only_auditor_verifies_sqlite_stores: it must run as root to become an unprivileged user"
        );
        return;
    }
    let s = setup();
    let base = s.out.parent().unwrap().to_owned();

    // A WAL store closed cleanly: no -wal or -shm file, and nobody may not create one.
    let clean = base.join("clean");
    let anchor = base.join("clean.note");
    let store = make_store(&s, &clean, 12, &anchor);
    assert!(!clean.join("audit.db-wal").exists() && !clean.join("audit.db-shm").exists());
    chmod(&store, 0o444);
    chmod(&clean, 0o555);
    let before = files(&clean);
    read_everything(&s, &store, SECRET, 12, Some(&anchor));
    assert!(
        files(&clean) == before,
        "reading the clean WAL store changed it"
    );

    // A WAL store a writer holds open: the newest records are only in its -wal file, which
    // nobody may read but not write, as the -shm file and the directory.
    let live = base.join("live");
    let anchor = base.join("live.note");
    let store = make_store(&s, &live, 10, &anchor);
    let writer = rusqlite::Connection::open(&store).unwrap();
    writer
        .query_row("SELECT count(*) FROM traces", [], |r| r.get::<_, i64>(0))
        .unwrap();
    let input: String = (10..15).map(|i| trace(i) + "\n").collect();
    as_root(
        &["append", "--store", store.to_str().unwrap()],
        SECRET,
        &input,
    );
    assert!(live.join("audit.db-wal").exists() && live.join("audit.db-shm").exists());
    let wal = std::fs::metadata(live.join("audit.db-wal")).unwrap().len();
    assert!(wal > 0, "the records are in the -wal file");
    for name in ["audit.db", "audit.db-wal", "audit.db-shm"] {
        chmod(&live.join(name), 0o644);
    }
    chmod(&live, 0o755);
    let before = files(&live);
    read_everything(&s, &store, SECRET, 15, Some(&anchor));
    assert!(
        files(&live) == before,
        "reading the live WAL store changed it"
    );
    drop(writer);

    // A rollback-journal store, as weaver-kernel writes it.
    let weaver = base.join("weaver");
    std::fs::create_dir(&weaver).unwrap();
    let store = weaver.join("store.sqlite");
    std::fs::copy(
        trailseal_testkit::vectors_dir().join("weaver-0.12.0/store.sqlite"),
        &store,
    )
    .unwrap();
    chmod(&store, 0o444);
    chmod(&weaver, 0o555);
    let records = {
        let c = rusqlite::Connection::open_with_flags(
            &store,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        c.query_row("SELECT count(*) FROM traces", [], |r| r.get::<_, i64>(0))
            .unwrap() as u64
    };
    let before = files(&weaver);
    read_everything(&s, &store, VECTOR_SECRET, records, None);
    assert!(
        files(&weaver) == before,
        "reading the weaver store changed it"
    );
}
