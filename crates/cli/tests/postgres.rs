//! PostgreSQL against a real server: many writer processes on one chain, writers killed
//! mid-batch, lost connections, schema versioning, an append-only role, and every command.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use trailseal::core::verify::Flow;
use trailseal::{AuditLog, ChainKey, Filter, OpenMode, OpenOptions, StoreError};
use trailseal_testkit::{pg_fresh_schema_url, pg_url};

const SECRET: &str = "pg-secret";

fn trace(writer: usize, i: usize) -> String {
    format!(
        r#"{{"action_id":"w{writer}-{i:05}","capability_id":"crm.search","principal_id":"worker-{writer}","token_id":"tok","invoked_at":"2026-03-01T09:30:00+00:00","args":{{"i":{i},"pad":"{}"}},"response_mode":"summary","driver_id":"http"}}"#,
        "x".repeat(200)
    )
}

fn key() -> ChainKey {
    ChainKey::from_secret(SECRET.as_bytes()).unwrap()
}

fn log(url: &str) -> AuditLog {
    AuditLog::open(
        url,
        &OpenOptions {
            mode: OpenMode::Write { create: true },
            ..OpenOptions::default()
        },
    )
    .unwrap()
    .with_key(key())
}

fn append_process(url: &str, commit_every: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_trailseal"))
        .args([
            "append",
            "--store",
            url,
            "--quiet",
            "--commit-every",
            commit_every,
        ])
        .env("WEAVER_KERNEL_SECRET", SECRET)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailseal"))
        .args(args)
        .env("WEAVER_KERNEL_SECRET", SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn ids(url: &str) -> (Vec<u64>, HashSet<String>) {
    let mut seqs = Vec::new();
    let mut ids = HashSet::new();
    log(url)
        .list(&Filter::default(), &mut |e| {
            seqs.push(e.seq);
            ids.insert(e.summary.action_id.clone().unwrap());
            Flow::Continue
        })
        .unwrap();
    (seqs, ids)
}

#[test]
fn eight_writer_processes_make_one_chain() {
    const WRITERS: usize = 8;
    const EACH: usize = 2000;
    let url = pg_fresh_schema_url();
    let children: Vec<_> = (0..WRITERS)
        .map(|w| {
            // Half commit every record, half in batches.
            let mut child = append_process(&url, if w % 2 == 0 { "1" } else { "100" });
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
    let verdict = log(&url).verify();
    assert!(verdict.is_verified(), "{verdict:?}");
    assert_eq!(verdict.records_checked(), (WRITERS * EACH) as u64);
    let (seqs, ids) = ids(&url);
    assert_eq!(
        seqs,
        (0..(WRITERS * EACH) as u64).collect::<Vec<_>>(),
        "contiguous: no gap, no fork"
    );
    assert_eq!(ids.len(), WRITERS * EACH, "every trace exactly once");
}

#[test]
fn a_writer_killed_mid_batch_leaves_no_partial_batch() {
    let url = pg_fresh_schema_url();
    log(&url).append_json(trace(99, 0).as_bytes()).unwrap();
    let mut expected = 1u64;
    for round in 0..6u64 {
        let mut child = append_process(&url, "100000");
        let input: String = (0..20_000)
            .map(|i| trace(round as usize, i) + "\n")
            .collect();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        });
        std::thread::sleep(Duration::from_millis(150 + round * 130));
        let _ = child.kill();
        let _ = child.wait();
        let _ = writer.join();
        let v = log(&url).verify();
        assert!(v.is_verified(), "round {round}: {v:?}");
        let n = v.records_checked();
        assert!(
            n == expected || n == expected + 20_000,
            "round {round}: {n} records: a partial batch"
        );
        expected = n;
    }
}

#[test]
fn a_lost_connection_is_a_clear_error_and_a_retry_never_duplicates() {
    let url = pg_fresh_schema_url();
    let mut writer = log(&url);
    writer.append_json(trace(1, 0).as_bytes()).unwrap();
    // Kill the writer's server process from another connection.
    let mut admin = postgres::Client::connect(&pg_url(), postgres::NoTls).unwrap();
    let schema = url.split("schema=").nth(1).unwrap();
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
            &[&format!("trailseal/{schema}")],
        )
        .unwrap()
        .get(0);
    assert_eq!(killed, 1);
    let batch = writer
        .prepare([trace(1, 1).as_bytes(), trace(1, 2).as_bytes()])
        .unwrap();
    let err = writer.append(&batch).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, trailseal::Error::Store(StoreError::Postgres { .. })),
        "{err:?}"
    );
    // "terminating connection due to administrator command" or "the connection … was lost".
    assert!(
        text.contains("connection") && !text.contains(SECRET),
        "{text}"
    );
    // Reconnect and retry: the batch goes in once; a second retry is refused by action_id.
    let mut again = log(&url);
    again.append(&batch).unwrap();
    match again.append(&batch) {
        Err(trailseal::Error::Store(StoreError::DuplicateActionId { action_id, .. })) => {
            assert_eq!(action_id, "w1-00001")
        }
        other => panic!("{other:?}"),
    }
    let (seqs, ids) = ids(&url);
    assert_eq!((seqs.len(), ids.len()), (3, 3));
    assert!(log(&url).verify().is_verified());
}

#[test]
fn schema_creation_is_idempotent_and_versioned() {
    let url = pg_fresh_schema_url();
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || drop(log(&url)))
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    log(&url).append_json(trace(0, 0).as_bytes()).unwrap();
    let schema = url.split("schema=").nth(1).unwrap().to_owned();
    let mut admin = postgres::Client::connect(&pg_url(), postgres::NoTls).unwrap();
    admin
        .execute(
            &format!("UPDATE {schema}.trailseal_meta SET value = '2' WHERE key = 'schema_version'"),
            &[],
        )
        .unwrap();
    let err = AuditLog::open(&url, &OpenOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("store format version 2 is newer"),
        "{err}"
    );
    let o = run(&["verify", "--store", &url, "--json"], "");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"reason\":\"unknown store\""));
    // A schema without trailseal's tables is not a store to read.
    let o = run(&["verify", "--store", &pg_fresh_schema_url(), "--json"], "");
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn an_append_only_role_can_append_but_not_rewrite() {
    let url = pg_fresh_schema_url();
    drop(log(&url));
    let schema = url.split("schema=").nth(1).unwrap().to_owned();
    let role = format!("w_{schema}");
    let mut admin = postgres::Client::connect(&pg_url(), postgres::NoTls).unwrap();
    // The grants README.md documents for writers.
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN;
             GRANT USAGE ON SCHEMA {schema} TO {role};
             GRANT SELECT, INSERT ON {schema}.trailseal_traces TO {role};
             GRANT SELECT, INSERT ON {schema}.trailseal_meta TO {role};
             GRANT SELECT ON {schema}.trailseal_retention TO {role};"
        ))
        .unwrap();
    let writer_url = url.replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    let input: String = (0..20).map(|i| trace(5, i) + "\n").collect();
    let o = run(&["append", "--store", &writer_url], &input);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(&["verify", "--store", &writer_url], "");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // The writer cannot delete or rewrite history, nor prune.
    let mut w =
        postgres::Client::connect(writer_url.split('?').next().unwrap(), postgres::NoTls).unwrap();
    assert!(
        w.execute(
            &format!("DELETE FROM {schema}.trailseal_traces WHERE seq = 3"),
            &[]
        )
        .is_err()
    );
    assert!(
        w.execute(
            &format!("UPDATE {schema}.trailseal_traces SET payload = '{{}}' WHERE seq = 3"),
            &[]
        )
        .is_err()
    );
    let o = run(&["prune", "--store", &writer_url, "--keep-last", "5"], "");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("permission denied"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    admin
        .batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role};"))
        .unwrap();
}

#[test]
fn every_command_works_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let url = pg_fresh_schema_url();
    let input: String = (0..60).map(|i| trace(i % 3, i) + "\n").collect();
    let ok = |o: &Output| {
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    ok(&run(
        &["append", "--store", &url, "--commit-every", "7"],
        &input,
    ));
    ok(&run(&["verify", "--store", &url], ""));
    let o = run(
        &["list", "--store", &url, "--principal", "worker-1", "--json"],
        "",
    );
    ok(&o);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&o.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        20
    );
    ok(&run(&["show", "w2-00005", "--store", &url], ""));
    ok(&run(
        &["policy", "--store", &url, "--min-retention", "1d"],
        "",
    ));
    let archive = dir.path().join("archive.jsonl");
    ok(&run(
        &[
            "prune",
            "--store",
            &url,
            "--keep-last",
            "40",
            "--archive",
            archive.to_str().unwrap(),
        ],
        "",
    ));
    ok(&run(&["verify", "--store", archive.to_str().unwrap()], ""));
    let o = run(&["retention", "--store", &url], "");
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("2 receipts"));
    let key = dir.path().join("k");
    ok(&run(&["keygen", "--out", key.to_str().unwrap()], ""));
    let anchor = dir.path().join("a.note");
    ok(&run(
        &[
            "anchor",
            "--store",
            &url,
            "--signing-key",
            key.to_str().unwrap(),
            "--out",
            anchor.to_str().unwrap(),
        ],
        "",
    ));
    let pubkey = format!("{}.pub", key.display());
    let o = run(
        &[
            "verify",
            "--store",
            &url,
            "--anchor",
            anchor.to_str().unwrap(),
            "--public-key",
            &pubkey,
            "--json",
        ],
        "",
    );
    ok(&o);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["caveats"],
        serde_json::json!([])
    );
    let export = dir.path().join("e.jsonl");
    ok(&run(
        &["export", "--store", &url, "--out", export.to_str().unwrap()],
        "",
    ));
    ok(&run(&["verify", "--store", export.to_str().unwrap()], ""));
    let bundle = dir.path().join("b.bundle");
    ok(&run(
        &[
            "export",
            "--store",
            &url,
            "--bundle",
            bundle.to_str().unwrap(),
            "--signing-key",
            key.to_str().unwrap(),
            "--principal",
            "worker-0",
        ],
        "",
    ));
    ok(&run(
        &[
            "verify-bundle",
            bundle.to_str().unwrap(),
            "--public-key",
            &pubkey,
        ],
        "",
    ));
    // Migrations both ways keep every hash, checkpoint and receipt.
    for dest in [dir.path().join("m.db"), dir.path().join("m.jsonl")] {
        let dest = dest.to_str().unwrap().to_owned();
        ok(&run(&["migrate", "--from", &url, "--to", &dest], ""));
        let back = pg_fresh_schema_url();
        ok(&run(&["migrate", "--from", &dest, "--to", &back], ""));
        let a = run(&["verify", "--store", &url, "--json"], "");
        let b = run(&["verify", "--store", &back, "--json"], "");
        let (a, b): (serde_json::Value, serde_json::Value) = (
            serde_json::from_slice(&a.stdout).unwrap(),
            serde_json::from_slice(&b.stdout).unwrap(),
        );
        assert_eq!(a["retention"], b["retention"]);
        assert_eq!(
            (&a["first_seq"], &a["last_seq"], &a["records_checked"]),
            (&b["first_seq"], &b["last_seq"], &b["records_checked"])
        );
        ok(&run(
            &[
                "verify",
                "--store",
                &back,
                "--anchor",
                anchor.to_str().unwrap(),
                "--public-key",
                &pubkey,
            ],
            "",
        ));
        let o = run(&["migrate", "--from", &url, "--to", &back], "");
        assert_eq!(
            o.status.code(),
            Some(2),
            "a copy goes into an empty store only"
        );
    }
}
