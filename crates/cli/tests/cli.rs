//! The `trailseal` command, end to end: exit codes, output (exact where it is a contract),
//! errors that name the line and field and leave the store unchanged.
//!
//! Longer than 600 lines on purpose: the exact-output contract of every command, one short test
//! each, sharing the helpers at the top.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use trailseal_testkit::vectors_dir;

const SECRET: &str = trailseal_testkit::VECTOR_SECRET;

fn bin() -> Command {
    common::bin()
}

fn run(args: &[&str], secret: Option<&str>, stdin: &str) -> Output {
    common::run_with(args, secret, stdin.as_bytes())
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    common::stderr_without_secret_warning(&o.stderr)
}

fn vector(name: &str) -> String {
    let dir = vectors_dir().join("weaver-0.12.0");
    let path = if name.starts_with("store.") {
        dir.join(name)
    } else {
        dir.join("tampered").join(name)
    };
    path.to_str().unwrap().to_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(stdout(o).trim()).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

fn trace(id: &str, extra: &str) -> String {
    trailseal_testkit::Trace::new(id).extra(extra).json()
}

#[test]
fn verify_exit_codes_follow_the_verdict() {
    let cases = [
        ("store.sqlite", SECRET, 0, "verified"),
        ("store.jsonl", SECRET, 0, "verified"),
        ("store.sqlite", "not-the-secret", 2, "unverifiable"),
        ("mutate-payload.sqlite", SECRET, 1, "tampered"),
        ("corrupt-payload.sqlite", SECRET, 1, "tampered"),
        ("torn-last-line.jsonl", SECRET, 1, "tampered"),
        ("pruned-by-weaver.sqlite", SECRET, 0, "verified"),
    ];
    for (file, secret, code, status) in cases {
        let o = run(
            &["verify", "--store", &vector(file), "--json"],
            Some(secret),
            "",
        );
        assert_eq!(o.status.code(), Some(code), "{file}: {}", stdout(&o));
        assert_eq!(json(&o)["status"], status, "{file}");
    }
}

#[test]
fn verify_json_is_one_object_with_every_field() {
    let o = run(
        &[
            "verify",
            "--store",
            &vector("mutate-payload.sqlite"),
            "--json",
        ],
        Some(SECRET),
        "",
    );
    assert_eq!(
        stdout(&o),
        "{\"status\":\"tampered\",\"records_checked\":26,\"first_seq\":null,\"last_seq\":null,\"first_bad_seq\":25,\"kind\":\"content\",\"reason\":null,\"detail\":\"seq 25: content does not match its record_hash\",\"caveats\":[],\"retention\":[],\"anchors\":[]}\n"
    );
    let o = run(
        &[
            "verify",
            "--store",
            &vector("pruned-by-weaver.sqlite"),
            "--json",
        ],
        Some(SECRET),
        "",
    );
    let v = json(&o);
    assert_eq!(v["first_seq"], 13);
    assert_eq!(v["last_seq"], 39);
    assert_eq!(v["records_checked"], 27);
    assert_eq!(
        v["caveats"],
        serde_json::json!([
            {
                "code": "unauthenticated-checkpoint",
                "message": "starts from an unauthenticated checkpoint at seq 13: records before it cannot be checked",
                "seq": 13
            },
            {
                "code": "no-anchor",
                "message": "no anchor: records after seq 39 could have been removed",
                "last_seq": 39
            },
            {
                "code": "tree-incomplete",
                "message": "27 records from seq 13 on are not in the Merkle tree: no checkpoint or proof covers them yet",
                "count": 27,
                "first_seq": 13
            }
        ])
    );
}

#[test]
fn verify_text_output() {
    let o = run(
        &["verify", "--store", &vector("swap-adjacent.sqlite")],
        Some(SECRET),
        "",
    );
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.starts_with(
            "TAMPERED: seq 19: prev_hash does not match the previous record's record_hash"
        ),
        "{text}"
    );
    let o = run(
        &["verify", "--store", &vector("store.sqlite"), "--quiet"],
        Some(SECRET),
        "",
    );
    assert_eq!(
        (o.status.code(), stdout(&o).as_str(), stderr(&o).as_str()),
        (Some(0), "", "")
    );
}

#[test]
fn verify_without_a_secret_says_how_to_provide_one() {
    let o = run(&["verify", "--store", &vector("store.sqlite")], None, "");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stdout(&o).contains("WEAVER_KERNEL_SECRET") && stdout(&o).contains("--secret-file"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn secret_file_is_read_without_its_trailing_newline() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let o = run(
        &[
            "verify",
            "--store",
            &vector("store.jsonl"),
            "--secret-file",
            file.to_str().unwrap(),
        ],
        None,
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn reading_commands_refuse_missing_or_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.db");
    let o = run(
        &["verify", "--store", missing.to_str().unwrap(), "--json"],
        Some(SECRET),
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(json(&o)["reason"], "unreadable store");
    assert!(!missing.exists(), "verify must not create a store");
    let o = run(&["list", "--store", missing.to_str().unwrap()], None, "");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no such store"), "{}", stderr(&o));

    let text = dir.path().join("notes.db");
    std::fs::write(
        &text,
        "this is not a database, just text that is long enough to matter\n".repeat(20),
    )
    .unwrap();
    let o = run(
        &["verify", "--store", text.to_str().unwrap(), "--json"],
        Some(SECRET),
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(json(&o)["reason"], "unknown store");
    let o = run(
        &[
            "verify",
            "--store",
            &vector("store.sqlite"),
            "--format",
            "jsonl",
            "--json",
        ],
        Some(SECRET),
        "",
    );
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
}

fn store_in(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_owned()
}

#[test]
fn append_then_verify_on_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.db", "a.jsonl"] {
        let store = store_in(dir.path(), name);
        let input = format!(
            "{}\n\n{}\n",
            trace("t1", ""),
            trace("t2", r#","error":"boom""#)
        );
        let o = run(&["append", "--store", &store], Some(SECRET), &input);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(
            stdout(&o),
            format!("appended 2 records (seq 0 to 1) to {store}\n")
        );
        let o = run(
            &["append", "--store", &store, "--json"],
            Some(SECRET),
            &trace("t3", ""),
        );
        let v = json(&o);
        assert_eq!(
            (v["appended"].as_u64(), v["first_seq"].as_u64()),
            (Some(1), Some(2))
        );
        let o = run(&["verify", "--store", &store, "--json"], Some(SECRET), "");
        assert_eq!(json(&o)["records_checked"], 3, "{name}");
        assert_eq!(o.status.code(), Some(0));
    }
}

#[test]
fn a_bad_trace_names_the_line_and_field_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path(), "s.db");
    run(
        &["append", "--store", &store],
        Some(SECRET),
        &trace("first", ""),
    );
    let cases = [
        (
            trace("x", "").replace(r#""args":{"q":"acme"}"#, r#""args":"acme""#),
            "line 2: field `args` must be an object, found string",
        ),
        (
            trace("x", r#","status":"failed""#),
            "line 2: field `status` is \"failed\" but `error` is null",
        ),
        (
            trace("x", "").replace("2026-03-01T09:30:00+00:00", "yesterday"),
            "line 2: field `invoked_at`",
        ),
        (
            trace("x", r#","sensitivity":"TOP""#),
            "line 2: field `sensitivity`: \"TOP\" is not one of",
        ),
        (
            r#"{"action_id":"x","#.to_owned(),
            "line 2: not valid JSON: byte 17: expecting property name",
        ),
        (
            trace("x", r#","args":{"a":1}"#),
            "line 2: key \"args\" appears twice",
        ),
        (
            "[1,2]".to_owned(),
            "line 2: a trace must be a JSON object, found array",
        ),
        (
            trace("x", r#","bogus":1"#),
            "line 2: unknown field \"bogus\"",
        ),
    ];
    for (bad, expected) in cases {
        let input = format!("{}\n{bad}\n{}\n", trace("ok-1", ""), trace("ok-2", ""));
        let o = run(&["append", "--store", &store], Some(SECRET), &input);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(
            stderr(&o).starts_with(&format!("error: {expected}")),
            "{}\nexpected: {expected}",
            stderr(&o)
        );
        assert!(stderr(&o).contains("hint:"), "{}", stderr(&o));
    }
    let o = run(
        &["append", "--store", &store],
        Some(SECRET),
        &trace("first", ""),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("action_id \"first\" is already in the store"),
        "{}",
        stderr(&o)
    );
    let o = run(&["verify", "--store", &store, "--json"], Some(SECRET), "");
    assert_eq!(
        json(&o)["records_checked"],
        1,
        "refused appends must leave the store unchanged"
    );
}

#[test]
fn append_refuses_without_a_secret_or_with_the_wrong_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path(), "s.jsonl");
    let o = run(&["append", "--store", &store], None, &trace("a", ""));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("WEAVER_KERNEL_SECRET") && stderr(&o).contains("--secret-file"),
        "{}",
        stderr(&o)
    );
    run(
        &["append", "--store", &store],
        Some(SECRET),
        &trace("a", ""),
    );
    let o = run(
        &["append", "--store", &store],
        Some("another"),
        &trace("b", ""),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("key id"), "{}", stderr(&o));
    // A weaver-kernel store (no key id) is checked by its head record's MAC.
    let copy = store_in(dir.path(), "weaver.sqlite");
    std::fs::copy(vector("store.sqlite"), &copy).unwrap();
    let o = run(
        &["append", "--store", &copy],
        Some("another"),
        &trace("b", ""),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("head record (seq 39) does not verify with this secret"),
        "{}",
        stderr(&o)
    );
    let o = run(&["append", "--store", &copy], Some(SECRET), &trace("b", ""));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&["verify", "--store", &copy, "--json"], Some(SECRET), "");
    assert_eq!(json(&o)["records_checked"], 41);
}

#[test]
fn canonical_prints_pythons_canonical_form() {
    let o = run(
        &["canonical"],
        None,
        "{\"b\": 1, \"a\": [1.0, 1e16, \"é\"]}\n-0\n",
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "{\"a\":[1.0,1e+16,\"\\u00e9\"],\"b\":1}\n0\n");
    let o = run(&["canonical"], None, "1\n[NaN]\n2\n");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stdout(&o), "1\n");
    assert!(
        stderr(&o).starts_with("error: line 2: byte 1: NaN and Infinity"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn list_filters_like_weaver_kernel() {
    let all = run(
        &["list", "--store", &vector("store.sqlite"), "--json"],
        None,
        "",
    );
    let all: Vec<serde_json::Value> = serde_json::from_str(&stdout(&all)).unwrap();
    assert_eq!(all.len(), 40);
    let failed = run(
        &[
            "list",
            "--store",
            &vector("store.sqlite"),
            "--json",
            "--status",
            "failed",
        ],
        None,
        "",
    );
    let failed: Vec<serde_json::Value> = serde_json::from_str(&stdout(&failed)).unwrap();
    // Every listed item carries its seq and status; denials are not failures.
    for (i, item) in all.iter().enumerate() {
        assert_eq!(item["seq"], i as u64, "{item}");
        let t = &item["trace"];
        let expected = if t["event_type"] == "deny" {
            "denied"
        } else if t["error"].is_null() {
            "succeeded"
        } else {
            "failed"
        };
        assert_eq!(item["status"], expected, "{item}");
    }
    assert_eq!(
        failed.len(),
        all.iter()
            .filter(|i| !i["trace"]["error"].is_null() && i["trace"]["event_type"] != "deny")
            .count()
    );
    assert!(failed.iter().all(|i| i["status"] == "failed"));
    let o = run(
        &[
            "list",
            "--store",
            &vector("store.jsonl"),
            "--json",
            "--since",
            "2026-03-01T09:30:10Z",
            "--until",
            "2026-03-01T09:30:20+00:00",
            "--limit",
            "4",
        ],
        None,
        "",
    );
    let some: Vec<serde_json::Value> = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(some.len(), 4);
    assert_eq!(some[0]["trace"]["action_id"], "act-11-000010");
    let denied = run(
        &[
            "list",
            "--store",
            &vector("store.sqlite"),
            "--json",
            "--status",
            "denied",
        ],
        None,
        "",
    );
    let denied: Vec<serde_json::Value> = serde_json::from_str(&stdout(&denied)).unwrap();
    assert!(!denied.is_empty());
    assert_eq!(
        denied.len(),
        all.iter()
            .filter(|i| i["trace"]["event_type"] == "deny")
            .count()
    );
    assert!(denied.iter().all(|i| i["status"] == "denied"));
    let o = run(
        &[
            "list",
            "--store",
            &vector("store.sqlite"),
            "--principal",
            "nobody",
        ],
        None,
        "",
    );
    assert!(
        stdout(&o).ends_with("no traces matched\n"),
        "{}",
        stdout(&o)
    );
    let o = run(
        &[
            "list",
            "--store",
            &vector("store.sqlite"),
            "--since",
            "last tuesday",
        ],
        None,
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--since \"last tuesday\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn show_prints_the_trace_and_its_chain_fields() {
    let o = run(
        &["show", "act-11-000001", "--store", &vector("store.sqlite")],
        None,
        "",
    );
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(text.starts_with("seq:         1\nprev_hash:   583e7d4596ca3bf422c3cce1ab96c7cd48abb1675598571be30ce2bac4e4a363\nrecord_hash: 0c17c3bf17c35f12df0471a81a44208d31611436ecd76ef5b3795161dcc17dd7\ntrace:\n{\n  \"action_id\": \"act-11-000001\",\n  \"args\": {\n    \".a\": [],\n    \"6\": true,\n    \"k\": 1e+16\n  },"), "{text}");
    let o = run(
        &[
            "show",
            "act-11-000001",
            "--store",
            &vector("store.jsonl"),
            "--json",
        ],
        None,
        "",
    );
    assert_eq!(json(&o)["trace"]["capability_id"], "billing.list");
    let o = run(
        &["show", "missing", "--store", &vector("store.jsonl")],
        None,
        "",
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn exports_verify_on_their_own() {
    let dir = tempfile::tempdir().unwrap();
    for (source, records, caveat) in [
        ("store.sqlite", 40, None),
        ("whitespace-only-change.sqlite", 40, None),
        (
            "pruned-by-weaver.sqlite",
            27,
            Some("unauthenticated checkpoint at seq 13"),
        ),
    ] {
        let out = dir.path().join(format!("{source}.jsonl"));
        let o = run(
            &[
                "export",
                "--store",
                &vector(source),
                "--out",
                out.to_str().unwrap(),
            ],
            None,
            "",
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let o = run(
            &["verify", "--store", out.to_str().unwrap(), "--json"],
            Some(SECRET),
            "",
        );
        let v = json(&o);
        assert_eq!(
            (v["status"].as_str(), v["records_checked"].as_u64()),
            (Some("verified"), Some(records)),
            "{source}: {v}"
        );
        if let Some(c) = caveat {
            assert!(
                v["caveats"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|o| o["message"].as_str().unwrap().contains(c)),
                "{v}"
            );
        }
    }
    // The export is tamper-evident too.
    let out = dir.path().join("store.sqlite.jsonl");
    let text = std::fs::read_to_string(&out)
        .unwrap()
        .replace("ops@example", "ops@evil.example");
    std::fs::write(&out, text).unwrap();
    let o = run(
        &["verify", "--store", out.to_str().unwrap()],
        Some(SECRET),
        "",
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn demo_records_verifies_and_catches_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let o = bin().current_dir(dir.path()).arg("demo").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("VERIFIED: 20 records (seq 0 to 19) in audit.db"),
        "{text}"
    );
    assert!(
        text.contains("TAMPERED: seq 5: content does not match its record_hash"),
        "{text}"
    );
    assert!(
        text.contains("TAMPERED: seq 11: expected seq 10 here"),
        "{text}"
    );
    let o = bin()
        .current_dir(dir.path())
        .args([
            "verify",
            "--store",
            "audit.db",
            "--secret-file",
            "audit.db.secret",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // A second run does not clobber the store.
    let o = bin().current_dir(dir.path()).arg("demo").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    let leftovers: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}");
}

#[test]
fn the_secret_never_appears_in_output() {
    let canary = "CANARY-s3cr3t-7f1d";
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path(), "c.db");
    let runs = [
        run(
            &["append", "--store", &store],
            Some(canary),
            &trace("c1", ""),
        ),
        run(&["append", "--store", &store], Some(canary), "not json"),
        run(
            &["append", "--store", &store],
            Some("wrong"),
            &trace("c2", ""),
        ),
        run(&["verify", "--store", &store, "--json"], Some(canary), ""),
        run(&["verify", "--store", &store], Some("wrong"), ""),
        run(
            &["verify", "--store", &vector("store.sqlite")],
            Some(canary),
            "",
        ),
        run(&["show", "c1", "--store", &store], Some(canary), ""),
    ];
    for o in &runs {
        for text in [stdout(o), stderr(o)] {
            assert!(!text.contains(canary), "{text}");
            assert!(!text.contains("CANARY"), "{text}");
        }
    }
    let bytes = std::fs::read(&store).unwrap();
    assert!(!bytes.windows(canary.len()).any(|w| w == canary.as_bytes()));
}

#[test]
fn prune_policy_and_retention_commands() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path(), "r.db");
    std::fs::copy(vector("store.sqlite"), &store).unwrap();
    let archive = store_in(dir.path(), "old.jsonl");

    let o = run(
        &[
            "prune",
            "--store",
            &store,
            "--before",
            "2026-03-01T09:30:13Z",
            "--dry-run",
        ],
        Some(SECRET),
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "would prune 13 records (seq 0 to 12), invoked before 2026-03-01T09:30:13Z; the chain would start at seq 13 (dry run: nothing changed)\n"
    );
    let o = run(
        &["policy", "--store", &store, "--min-retention", "26w"],
        Some(SECRET),
        "",
    );
    // Echoed as written; the stored policy (and `policy` without a change) says 182d.
    assert_eq!(stdout(&o), "minimum retention set to 26w (receipt 0)\n");
    // The records are from March 2026; 26 weeks later they may go, not before.
    let o = run(
        &["prune", "--store", &store, "--older-than", "1d"],
        Some(SECRET),
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("minimum retention is 182d")
            && stderr(&o).contains("nothing was pruned"),
        "{}",
        stderr(&o)
    );
    let o = run(
        &[
            "prune",
            "--store",
            &store,
            "--before",
            "2026-03-01T09:30:13Z",
            "--archive",
            &archive,
            "--json",
        ],
        Some(SECRET),
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(
        (v["pruned"].as_u64(), v["first_retained_seq"].as_u64()),
        (Some(13), Some(13))
    );
    assert_eq!(v["receipt"]["kind"], "prune");
    assert_eq!(v["receipt"]["index"], 1);
    let o = run(&["verify", "--store", &archive, "--json"], Some(SECRET), "");
    assert_eq!(
        (
            json(&o)["status"].as_str(),
            json(&o)["records_checked"].as_u64()
        ),
        (Some("verified"), Some(13))
    );
    assert_eq!(
        json(&o)["caveats"],
        serde_json::json!([]),
        "the archive is complete by its receipt"
    );

    let o = run(&["verify", "--store", &store, "--json"], Some(SECRET), "");
    let v = json(&o);
    assert_eq!(v["retention"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["caveats"],
        serde_json::json!([{
            "code": "no-anchor",
            "message": "no anchor: records after seq 39 could have been removed",
            "last_seq": 39
        }, {
            // A store only weaver-kernel appended to: no trailseal append brought its records
            // into a tree yet (a prune does not).
            "code": "tree-incomplete",
            "message": "27 records from seq 13 on are not in the Merkle tree: no checkpoint or proof covers them yet",
            "count": 27,
            "first_seq": 13
        }])
    );

    let o = run(&["retention", "--store", &store], Some(SECRET), "");
    let text = stdout(&o);
    assert!(
        text.starts_with(&format!(
            "retention log of {store}: 2 receipts, MACs and links verified with key id "
        )),
        "{text}"
    );
    assert!(
        text.contains(" policy  ") && text.contains("minimum retention 182d"),
        "{text}"
    );
    assert!(
        text.contains(" prune   ")
            && text.contains("seq 0 to 12 (13 records), invoked before 2026-03-01T09:30:13Z"),
        "{text}"
    );
    let o = run(&["retention", "--store", &store, "--json"], None, "");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stdout(&o))
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let o = run(&["policy", "--store", &store], None, "");
    assert_eq!(
        stdout(&o),
        "minimum retention: 182d (not verified: no secret)\n"
    );
    let o = run(&["policy", "--store", &store, "--clear"], Some(SECRET), "");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--allow-decrease"), "{}", stderr(&o));

    // A damaged store is not pruned: exit 1, nothing changed.
    let bad = store_in(dir.path(), "bad.sqlite");
    std::fs::copy(vector("mutate-payload.sqlite"), &bad).unwrap();
    let o = run(
        &["prune", "--store", &bad, "--keep-last", "1"],
        Some(SECRET),
        "",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("error: refusing: the store does not verify: seq 25"),
        "{}",
        stderr(&o)
    );
    let o = run(&["prune", "--store", &store], Some(SECRET), "");
    assert_eq!(o.status.code(), Some(2), "a cutoff is required");
}
