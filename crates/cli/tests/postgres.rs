//! PostgreSQL against a real server: many writer processes on one chain, writers killed
//! mid-batch, lost connections, schema versioning, an append-only role, and every command.
//!
//! Longer than 600 lines on purpose: every test shares the one throwaway cluster and the role
//! set-up at the top.

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
use trailseal::store::StoreExt;
use trailseal::{AuditLog, ChainKey, Filter, OpenMode, OpenOptions, StoreError};
use trailseal_testkit::{pg_fresh_schema_url, pg_url};

const SECRET: &str = "pg-secret-for-tests";

fn trace(writer: usize, i: usize) -> String {
    trailseal_testkit::Trace::new(format!("w{writer}-{i:05}"))
        .principal(format!("worker-{writer}"))
        .token("tok")
        .args(format!(r#"{{"i":{i},"pad":"{}"}}"#, "x".repeat(200)))
        .json()
}

fn key() -> ChainKey {
    trailseal_testkit::key(SECRET)
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

/// `trailseal append` into `url`, committing every `commit_every` traces, reading a pipe.
fn append_command(url: &str, commit_every: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailseal"));
    cmd.args([
        "append",
        "--store",
        url,
        "--quiet",
        "--commit-every",
        commit_every,
    ])
    .env("WEAVER_KERNEL_SECRET", SECRET)
    .stdin(Stdio::piped());
    cmd
}

fn append_process(url: &str, commit_every: &str) -> std::process::Child {
    append_command(url, commit_every)
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
             GRANT SELECT, INSERT ON {schema}.trailseal_tree TO {role};
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

/// The schema name in a URL from [`pg_fresh_schema_url`].
fn schema_of(url: &str) -> String {
    url.split("schema=").nth(1).unwrap().to_owned()
}

/// Runs `trailseal ARGS` with `secret`, killed (and the test failed) if it takes longer than
/// `limit`: an append that waits for a lock without bound must fail the test, not hang it.
fn run_bounded(args: &[&str], secret: &str, stdin: &str, limit: Duration) -> (Output, Duration) {
    let start = std::time::Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailseal"))
        .args(args)
        .env("WEAVER_KERNEL_SECRET", secret)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("trailseal {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = start.elapsed();
    (child.wait_with_output().unwrap(), elapsed)
}

/// Drops the role (and what it owns) when the test ends, also when it fails.
struct RoleGuard(String);

impl Drop for RoleGuard {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&pg_url(), postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{0}';
                 DROP OWNED BY {0}; DROP ROLE {0};",
                self.0
            ));
        }
    }
}

fn role_url(role: &str) -> String {
    pg_url().replacen("postgres://postgres@", &format!("postgres://{role}@"), 1)
}

#[test]
fn a_read_only_session_holding_the_chain_lock_cannot_stall_appends() {
    let url = pg_fresh_schema_url();
    log(&url).append_json(trace(0, 0).as_bytes()).unwrap();
    let schema = schema_of(&url);
    let (auditor, writer) = (format!("ro_{schema}"), format!("w_{schema}"));
    let _guards = (RoleGuard(auditor.clone()), RoleGuard(writer.clone()));
    let mut admin = postgres::Client::connect(&pg_url(), postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!(
            "CREATE ROLE {auditor} LOGIN;
             GRANT USAGE ON SCHEMA {schema} TO {auditor};
             GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {auditor};
             CREATE ROLE {writer} LOGIN;
             GRANT USAGE ON SCHEMA {schema} TO {writer};
             GRANT SELECT, INSERT ON {schema}.trailseal_traces TO {writer};
             GRANT SELECT, INSERT ON {schema}.trailseal_meta TO {writer};
             GRANT SELECT ON {schema}.trailseal_retention TO {writer};"
        ))
        .unwrap();
    // A read-only auditor takes the chain's advisory lock (any role that can connect can).
    let mut ro = postgres::Client::connect(&role_url(&auditor), postgres::NoTls).unwrap();
    ro.batch_execute("SET application_name = 'auditor-console'")
        .unwrap();
    let pid: i32 = ro.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let lock_key = trailseal::store::postgres::chain_lock_key(&schema);
    ro.execute("SELECT pg_advisory_lock($1)", &[&lock_key])
        .unwrap();

    // The library: fails after the bounded wait, naming the session.
    let timed = format!("{url}&lock_timeout=1s");
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let start = std::time::Instant::now();
        let result = log(&timed).append_json(trace(0, 1).as_bytes());
        let _ = tx.send((result, start.elapsed()));
    });
    let (result, elapsed) = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the append waited for the lock without bound");
    worker.join().unwrap();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(10),
        "{elapsed:?}"
    );
    let err = result.unwrap_err();
    let message = err.to_string();
    match &err {
        trailseal::Error::Store(StoreError::LockTimeout {
            holders, waited, ..
        }) => {
            assert_eq!(waited, "1s");
            let holder = holders
                .iter()
                .find(|h| h.pid == Some(pid))
                .unwrap_or_else(|| panic!("{holders:?}"));
            assert_eq!(holder.user.as_deref(), Some(auditor.as_str()));
            assert_eq!(holder.application.as_deref(), Some("auditor-console"));
            // The superuser sees when it connected.
            assert!(holder.backend_start.is_some());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        message.contains("the chain's lock was not free within 1s")
            && message.contains(&format!("pid {pid} (user \"{auditor}\""))
            && message.contains("nothing was written"),
        "{message}"
    );

    // The command line, as the append-only writer, with the default wait: a clear error
    // after about 5 seconds, naming what this role may see of the session.
    let writer_url = role_url(&writer) + &format!("?schema={schema}");
    let (o, elapsed) = run_bounded(
        &["append", "--store", &writer_url],
        SECRET,
        &trace(0, 2),
        Duration::from_secs(60),
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        elapsed >= Duration::from_millis(4500) && elapsed < Duration::from_secs(30),
        "{elapsed:?}"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("the chain's lock was not free within 5s")
            && err.contains(&format!(
                "pid {pid} (user \"{auditor}\", application \"auditor-console\")"
            ))
            && err.contains("pg_terminate_backend")
            && !err.contains(SECRET),
        "{err}"
    );
    // Nothing was written; once the auditor lets go, appends go through.
    assert_eq!(ids(&url).0, vec![0]);
    ro.execute("SELECT pg_advisory_unlock($1)", &[&lock_key])
        .unwrap();
    let (o, _) = run_bounded(
        &["append", "--store", &writer_url],
        SECRET,
        &trace(0, 3),
        Duration::from_secs(60),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(ids(&url).0, vec![0, 1]);
    // Pruning and policy changes wait the bounded time too.
    ro.execute("SELECT pg_advisory_lock($1)", &[&lock_key])
        .unwrap();
    let (o, _) = run_bounded(
        &[
            "policy",
            "--store",
            &format!("{url}&lock_timeout=1s"),
            "--min-retention",
            "1d",
        ],
        SECRET,
        "",
        Duration::from_secs(60),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not free within 1s"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    drop(ro);
}

#[test]
fn lock_timeout_in_the_url() {
    let url = pg_fresh_schema_url();
    // Taken out of the URL before connecting (the server would refuse an unknown option).
    let o = run(
        &["append", "--store", &format!("{url}&lock_timeout=2s")],
        &trace(1, 0),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(
        &["verify", "--store", &format!("{url}&lock_timeout=250ms")],
        "",
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for bad in ["0s", "0", "abc", "5", "2d", "-1s", ""] {
        let o = run(
            &["append", "--store", &format!("{url}&lock_timeout={bad}")],
            &trace(1, 1),
        );
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("lock_timeout {bad:?}: use a duration above zero")),
            "{bad:?}: {err}"
        );
    }
    assert_eq!(ids(&url).0, vec![0]);
}

#[test]
fn a_short_secret_cannot_start_a_postgres_store() {
    let url = pg_fresh_schema_url();
    let schema = schema_of(&url);
    let tables = |schema: &str| -> i64 {
        let mut admin = postgres::Client::connect(&pg_url(), postgres::NoTls).unwrap();
        admin
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
                &[&schema],
            )
            .unwrap()
            .get(0)
    };
    // The command line refuses before creating anything.
    let (o, _) = run_bounded(
        &["append", "--store", &url],
        "s3cret",
        &trace(2, 0),
        Duration::from_secs(60),
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("refusing to start a new store with a secret shorter than 16 bytes")
            && err.contains("trailseal keygen --secret")
            && !err.contains("s3cret"),
        "{err}"
    );
    assert_eq!(tables(&schema), 0);
    // The library refuses the first append to the (created, empty) store.
    let mut weak = AuditLog::open(
        &url,
        &OpenOptions {
            mode: OpenMode::Write { create: true },
            ..OpenOptions::default()
        },
    )
    .unwrap()
    .with_key(ChainKey::from_secret(b"s3cret").unwrap());
    assert!(matches!(
        weak.append_json(trace(2, 0).as_bytes()),
        Err(trailseal::Error::WeakSecret { .. })
    ));
    assert!(ids(&url).0.is_empty());
    // A store a short secret already wrote keeps working (with a warning).
    let old = pg_fresh_schema_url();
    let mut store = trailseal::store::open(&old, None, OpenMode::Write { create: true }).unwrap();
    let prepared =
        trailseal::PreparedTrace::parse(trace(2, 1).as_bytes(), &Default::default()).unwrap();
    store
        .append(&ChainKey::from_secret(b"s3cret").unwrap(), &[prepared])
        .unwrap();
    drop(store);
    let (o, _) = run_bounded(
        &["append", "--store", &old],
        "s3cret",
        &trace(2, 2),
        Duration::from_secs(60),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("warning: the chain secret is shorter"));
}

/// The crash suite for the shared flush (issue 17): eight writer processes append one record
/// per transaction to one chain while three of them are killed at moments spread over the
/// run (between a commit and its flush, inside one, or waiting for the lock). Every record a
/// writer acknowledged (`--progress-json` prints a line once a commit is durable) is stored
/// at the seq it was told, exactly once; the chain is one linear chain and verifies; what a
/// killed writer had not acknowledged is there or not, never twice.
#[test]
fn writers_killed_among_others_lose_no_acknowledged_record() {
    use std::io::BufRead;
    const WRITERS: usize = 8;
    const EACH: usize = 400;
    let url = pg_fresh_schema_url();
    let mut children = Vec::new();
    for w in 0..WRITERS {
        let mut child = append_command(&url, "1")
            .arg("--progress-json")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let input: String = (0..EACH).map(|i| trace(w, i) + "\n").collect();
        let mut stdin = child.stdin.take().unwrap();
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        });
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<_>>()
        });
        children.push((child, feeder, reader));
    }
    // Kill writers 1, 4 and 6 after 100, 300 and 600 ms; every child is waited for before
    // anything is judged, so none is left running when an assertion fails.
    for (w, after) in [(1usize, 100u64), (4, 200), (6, 300)] {
        std::thread::sleep(Duration::from_millis(after));
        let _ = children[w].0.kill();
    }
    let mut acked: Vec<(u64, String)> = Vec::new();
    let mut finished = 0;
    for (mut child, feeder, reader) in children {
        if child.wait().unwrap().success() {
            finished += 1;
        }
        let _ = feeder.join();
        for line in reader.join().unwrap() {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            acked.push((
                v["last_seq"].as_u64().unwrap(),
                v["last_action_id"].as_str().unwrap().to_owned(),
            ));
        }
    }
    assert!(finished >= WRITERS - 3, "{finished} writers finished");
    let verdict = log(&url).verify();
    assert!(verdict.is_verified(), "{verdict:?}");
    let mut stored = std::collections::HashMap::new();
    let mut seqs = Vec::new();
    log(&url)
        .list(&Filter::default(), &mut |e| {
            seqs.push(e.seq);
            let id = e.summary.action_id.clone().unwrap();
            assert!(stored.insert(id, e.seq).is_none(), "a trace stored twice");
            Flow::Continue
        })
        .unwrap();
    assert_eq!(
        seqs,
        (0..seqs.len() as u64).collect::<Vec<_>>(),
        "one linear chain"
    );
    assert!(
        acked.len() >= (WRITERS - 3) * EACH,
        "{} acknowledged",
        acked.len()
    );
    for (seq, id) in &acked {
        assert_eq!(stored.get(id), Some(seq), "{id} acknowledged at seq {seq}");
    }
}
