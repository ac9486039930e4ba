//! `trailseal rotate` on stores weaver-kernel 0.12.0 wrote (SQLite and JSONL), checked by
//! weaver-kernel itself. In place: trailseal verifies the whole store with both secrets and
//! names what one leaves unchecked, and weaver-kernel (one secret) verifies it with neither. As
//! a segment: the archive (a SQLite file) verifies with the old secret and, for
//! SQLite, the live store with the new one, before and after trailseal and weaver-kernel append
//! to it; neither verifies with the other secret. (weaver-kernel's JSONL reader cannot read a
//! JSONL store that does not start at genesis, rotated or pruned: docs/format.md §6.) Then the keyring's inputs (`WEAVER_KERNEL_SECRETS`, repeated
//! `--secret-file`, `--active-key`) and their refusals, which never show a secret.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{bin, text};
use trailseal_testkit::weaver_tool;

const OLD: &str = "rotate-cli-old-secret-0123456789abcdefghij";
const NEW: &str = "rotate-cli-new-secret-9876543210zyxwvutsrq";
const RECORDS: u64 = 20;

fn secrets() -> String {
    serde_json::json!({"old": OLD, "new": NEW}).to_string()
}

/// `trailseal ARGS` with `env` set.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = bin();
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn no_secret_in(out: &Output) {
    for s in [OLD, NEW] {
        assert!(
            !text(&out.stdout).contains(s) && !text(&out.stderr).contains(s),
            "a secret was shown: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

fn weaver_store(dir: &Path, backend: &str) -> PathBuf {
    let ext = if backend == "sqlite" { "db" } else { "jsonl" };
    let path = dir.join(format!("store.{ext}"));
    let count = RECORDS.to_string();
    let out = weaver_tool(
        &[
            "write",
            "--backend",
            backend,
            "--path",
            path.to_str().unwrap(),
            "--count",
            &count,
            "--seed",
            "7",
        ],
        OLD,
    );
    assert_eq!(out["written"].as_u64(), Some(RECORDS), "{out}");
    path
}

fn weaver_verify(backend: &str, path: &Path, secret: &str) -> serde_json::Value {
    weaver_tool(
        &[
            "verify",
            "--backend",
            backend,
            "--path",
            path.to_str().unwrap(),
        ],
        secret,
    )
}

fn append(store: &Path, from: u64, n: u64, env: &[(&str, &str)]) -> Output {
    let lines: String = (from..from + n)
        .map(|i| {
            trailseal_testkit::Trace::minimal(format!("after-rotation-{i}"))
                .invoked_at(format!("2026-07-01T00:00:{:02}Z", i % 60))
                .json()
                + "\n"
        })
        .collect();
    let mut cmd = bin();
    cmd.args(["append", "--store", store.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn rotate_and_check(backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let store = weaver_store(dir.path(), backend);
    let archive = dir.path().join("old-segment.db");
    let s = store.to_str().unwrap();
    let ring = secrets();
    let keys = [("WEAVER_KERNEL_SECRETS", ring.as_str())];

    // Without an archive a store with records is refused, unchanged.
    let out = run(&["rotate", "--store", s, "--to", "new", "--segment"], &keys);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("archive"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(weaver_verify(backend, &store, OLD)["ok"], true);

    let out = run(
        &[
            "rotate",
            "--store",
            s,
            "--to",
            "new",
            "--segment",
            "--archive",
            archive.to_str().unwrap(),
            "--json",
        ],
        &keys,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    no_secret_in(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["first_seq"], RECORDS, "{report}");
    assert_eq!(report["receipt"]["kind"], "rotate", "{report}");
    assert_eq!(report["prune"]["pruned"], RECORDS, "{report}");

    // weaver-kernel: the archive with the old secret, the live store with the new one.
    let old_half = weaver_verify("sqlite", &archive, OLD);
    assert_eq!(old_half["ok"], true, "{old_half}");
    assert_eq!(
        old_half["records_checked"].as_u64(),
        Some(RECORDS),
        "{old_half}"
    );
    assert_eq!(weaver_verify("sqlite", &archive, NEW)["ok"], false);
    let out = run(
        &["verify", "--store", archive.to_str().unwrap()],
        &[("WEAVER_KERNEL_SECRET", OLD)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        !text(&out.stdout).contains("no anchor"),
        "the receipt proves the archive complete: {}",
        text(&out.stdout)
    );

    // trailseal appends under the new key (the new secret alone, or the ring with it active).
    let out = append(&store, 0, 3, &[("WEAVER_KERNEL_SECRET", NEW)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = append(
        &store,
        3,
        2,
        &[
            ("WEAVER_KERNEL_SECRETS", &ring),
            ("WEAVER_KERNEL_ACTIVE_KEY", "new"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The old key, or a ring whose active key is the old one, is refused.
    for env in [
        vec![("WEAVER_KERNEL_SECRET", OLD)],
        vec![
            ("WEAVER_KERNEL_SECRETS", ring.as_str()),
            ("WEAVER_KERNEL_ACTIVE_KEY", "old"),
        ],
    ] {
        let out = append(&store, 50, 1, &env);
        assert!(!out.status.success(), "{env:?}: {}", text(&out.stdout));
        no_secret_in(&out);
    }
    // weaver-kernel reads a SQLite store's start as its pruning checkpoint; its JSONL reader
    // reads every line as a record from genesis, so it cannot read a JSONL store that starts
    // anywhere else (a header line; docs/format.md §6): only the archive is weaver-kernel's
    // there.
    let weaver_reads_live = backend == "sqlite";
    if weaver_reads_live {
        let new_half = weaver_verify(backend, &store, NEW);
        assert_eq!(new_half["ok"], true, "{new_half}");
        assert_eq!(new_half["records_checked"].as_u64(), Some(5), "{new_half}");
        assert_eq!(weaver_verify(backend, &store, OLD)["ok"], false);
    }

    // trailseal: the ring checks everything; the new secret alone names what it did not check.
    let out = run(&["verify", "--store", s, "--json"], &keys);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        !v["caveats"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["code"] == "keys-not-held"),
        "{v}"
    );
    let out = run(
        &["verify", "--store", s, "--json"],
        &[("WEAVER_KERNEL_SECRET", NEW)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let caveat = v["caveats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "keys-not-held")
        .unwrap_or_else(|| panic!("{v}"))
        .clone();
    assert_eq!(caveat["receipts"], 1, "{caveat}");
    assert_eq!(
        caveat["key_id"].as_str().map(str::len),
        Some(16),
        "{caveat}"
    );
    let out = run(&["verify", "--store", s], &[("WEAVER_KERNEL_SECRET", OLD)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let out = run(&["retention", "--store", s], &keys);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(" rotate "),
        "{}",
        text(&out.stdout)
    );

    if !weaver_reads_live {
        return;
    }
    // weaver-kernel appends with the new secret, and both still verify it.
    let out = weaver_tool(
        &[
            "write",
            "--backend",
            backend,
            "--path",
            s,
            "--count",
            "2",
            "--seed",
            "8",
        ],
        NEW,
    );
    assert_eq!(out["written"].as_u64(), Some(2), "{out}");
    assert_eq!(weaver_verify(backend, &store, NEW)["ok"], true);
    let out = run(&["verify", "--store", s], &keys);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn a_weaver_sqlite_store_rotated_as_a_segment_verifies_in_weaver_kernel_both_halves() {
    rotate_and_check("sqlite");
}

#[test]
fn a_weaver_jsonl_store_rotated_as_a_segment_leaves_an_archive_weaver_kernel_verifies() {
    rotate_and_check("jsonl");
}

/// The `keys-not-held` caveats of `verify --json` output: (first_seq, last_seq).
fn not_held(out: &Output) -> Vec<(serde_json::Value, serde_json::Value)> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["caveats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["code"] == "keys-not-held")
        .map(|c| (c["first_seq"].clone(), c["last_seq"].clone()))
        .collect()
}

/// A store weaver-kernel wrote, rotated in place by trailseal: trailseal checks it all with
/// both secrets and names what one secret leaves unchecked; weaver-kernel, with either secret,
/// reports the records under the other (it knows one key).
fn rotate_in_place_and_check(backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let store = weaver_store(dir.path(), backend);
    let s = store.to_str().unwrap();
    let ring = secrets();
    let keys = [("WEAVER_KERNEL_SECRETS", ring.as_str())];
    // An archive without --segment is a usage error.
    let out = run(
        &["rotate", "--store", s, "--to", "new", "--archive", "x.db"],
        &keys,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(!dir.path().join("x.db").exists());

    let out = run(&["rotate", "--store", s, "--to", "new", "--json"], &keys);
    assert!(out.status.success(), "{}", text(&out.stderr));
    no_secret_in(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&report["mode"], &report["first_seq"], &report["prune"]),
        (
            &"in-place".into(),
            &RECORDS.into(),
            &serde_json::Value::Null
        ),
        "{report}"
    );
    let out = append(
        &store,
        0,
        3,
        &[
            ("WEAVER_KERNEL_SECRETS", &ring),
            ("WEAVER_KERNEL_ACTIVE_KEY", "new"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = run(&["verify", "--store", s, "--json"], &keys);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(not_held(&out).is_empty(), "{}", text(&out.stdout));
    let out = run(
        &["verify", "--store", s, "--json"],
        &[("WEAVER_KERNEL_SECRET", NEW)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(
        not_held(&out),
        [(0.into(), (RECORDS - 1).into())],
        "{}",
        text(&out.stdout)
    );
    let out = run(
        &["verify", "--store", s, "--json"],
        &[("WEAVER_KERNEL_SECRET", OLD)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(
        not_held(&out),
        [(RECORDS.into(), (RECORDS + 2).into())],
        "{}",
        text(&out.stdout)
    );
    // One secret cannot prune: the records it cannot check are named, with a hint.
    let out = run(
        &["prune", "--store", s, "--keep-last", "1"],
        &[("WEAVER_KERNEL_SECRET", NEW)],
    );
    assert!(!out.status.success());
    no_secret_in(&out);
    assert!(
        text(&out.stderr).contains(&format!("records 0 to {}", RECORDS - 1))
            && text(&out.stderr).contains("WEAVER_KERNEL_SECRETS"),
        "{}",
        text(&out.stderr)
    );
    // weaver-kernel knows one secret: with either, the other key's records fail (a JSONL
    // store with a retention log starts with a header line, which it cannot read at all).
    for secret in [OLD, NEW] {
        let v = weaver_verify(backend, &store, secret);
        assert_ne!(v["ok"], true, "{v}");
    }
}

#[test]
fn a_weaver_sqlite_store_rotated_in_place_verifies_with_both_secrets() {
    rotate_in_place_and_check("sqlite");
}

#[test]
fn a_weaver_jsonl_store_rotated_in_place_verifies_with_both_secrets() {
    rotate_in_place_and_check("jsonl");
}

#[test]
fn keyrings_from_the_environment_and_files_are_checked_and_never_show_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let s = store.to_str().unwrap();
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[(
                "WEAVER_KERNEL_SECRETS",
                "{\"a\": \"x-secret-1\", \"a\": \"x-secret-2\"}",
            )],
            "\"a\" is given twice",
        ),
        (
            &[("WEAVER_KERNEL_SECRETS", "{\"a\": 12}")],
            "secret of \"a\" is not a string",
        ),
        (
            &[("WEAVER_KERNEL_SECRETS", "[\"x-secret-1\"]")],
            "not a JSON object",
        ),
        (
            &[
                ("WEAVER_KERNEL_SECRETS", "{\"a\": \"x-secret-1\"}"),
                ("WEAVER_KERNEL_SECRET", "x-secret-3"),
            ],
            "both WEAVER_KERNEL_SECRET and WEAVER_KERNEL_SECRETS",
        ),
        (
            &[
                ("WEAVER_KERNEL_SECRETS", "{\"a\": \"x-secret-1\"}"),
                ("WEAVER_KERNEL_ACTIVE_KEY", "b"),
            ],
            "active key \"b\" is not in the keyring",
        ),
    ];
    for (env, expected) in cases {
        let out = run(&["verify", "--store", s], env);
        assert_eq!(out.status.code(), Some(2), "{env:?}");
        let err = text(&out.stderr);
        assert!(err.contains(expected), "{env:?}: {err}");
        assert!(
            !err.contains("x-secret"),
            "{env:?}: a secret was shown: {err}"
        );
    }
    // Two files make a ring; the label is the path as given; --active-key picks the writer.
    let old = dir.path().join("old.secret");
    let new = dir.path().join("new.secret");
    std::fs::write(&old, OLD).unwrap();
    std::fs::write(&new, NEW).unwrap();
    let (o, n) = (old.to_str().unwrap(), new.to_str().unwrap());
    let out = append(&store, 0, 2, &[("WEAVER_KERNEL_SECRET", OLD)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(
        &[
            "rotate",
            "--store",
            s,
            "--secret-file",
            o,
            "--secret-file",
            n,
            "--to",
            "nope",
            "--segment",
            "--archive",
            "a.jsonl",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("holds no key \"nope\""),
        "{}",
        text(&out.stderr)
    );
    no_secret_in(&out);
    let archive = dir.path().join("a.jsonl");
    let out = run(
        &[
            "rotate",
            "--store",
            s,
            "--secret-file",
            o,
            "--secret-file",
            n,
            "--to",
            n,
            "--segment",
            "--archive",
            archive.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    no_secret_in(&out);
    let out = run(
        &[
            "verify",
            "--store",
            s,
            "--secret-file",
            o,
            "--secret-file",
            n,
            "--active-key",
            n,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}
