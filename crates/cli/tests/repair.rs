//! `trailseal repair` and `trailseal append --progress-json`, end to end: output, JSON and exit
//! codes; a refused repair leaves the file byte-identical.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use std::path::Path;
use std::process::Output;

const SECRET: &str = "repair-cli-secret";

fn run(args: &[&str], secret: Option<&str>, stdin: &str) -> Output {
    common::run_with(args, secret, stdin.as_bytes())
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    common::stderr_without_secret_warning(&o.stderr)
}

fn traces(from: u64, n: u64) -> String {
    (from..from + n)
        .map(|i| {
            trailseal_testkit::Trace::minimal(format!("cli-{i}"))
                .capability("crm.search")
                .args(format!(r#"{{"i":{i}}}"#))
                .json()
                + "\n"
        })
        .collect()
}

fn build(path: &Path, n: u64) {
    let o = run(
        &["append", "--store", path.to_str().unwrap(), "--quiet"],
        Some(SECRET),
        &traces(0, n),
    );
    assert!(o.status.success(), "{}", err(&o));
}

fn repair(path: &Path, extra: &[&str], secret: Option<&str>) -> Output {
    let mut args = vec!["repair", "--store", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args, secret, "")
}

/// Cuts the last line of the file to its first `keep` bytes (no newline).
fn tear(path: &Path, keep: usize) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    let start = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    std::fs::write(path, &bytes[..start + keep]).unwrap();
    if path.with_extension("jsonl.tree").exists() {
        trailseal_testkit::unwrite_last_tree_hashes(path);
    }
    bytes[..start].to_vec()
}

#[test]
fn repair_removes_a_torn_tail_and_says_what() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.jsonl");
    build(&path, 5);
    let kept = tear(&path, 60);
    let torn = std::fs::read(&path).unwrap();

    // Appends refuse, and point at repair.
    let o = run(
        &["append", "--store", path.to_str().unwrap()],
        Some(SECRET),
        &traces(5, 1),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("trailseal repair"), "{}", err(&o));

    // A dry run.
    let o = repair(&path, &["--dry-run"], Some(SECRET));
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).starts_with("would remove an interrupted write from ")
            && out(&o).contains("60 bytes at line 5")
            && out(&o).contains("claiming seq 4")
            && out(&o)
                .contains("the 4 records (seq 0 to 3) before it verify (dry run: nothing changed)"),
        "{}",
        out(&o)
    );
    assert_eq!(std::fs::read(&path).unwrap(), torn);

    // The repair, as JSON.
    let o = repair(&path, &["--json"], Some(SECRET));
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_str(out(&o).trim()).unwrap();
    assert_eq!(v["status"], "repaired");
    assert_eq!(v["removed"], true);
    assert_eq!(v["dry_run"], false);
    assert_eq!(v["torn_tail"]["line"], 5);
    assert_eq!(v["torn_tail"]["bytes"], 60);
    assert_eq!(v["torn_tail"]["offset"], kept.len() as u64);
    assert_eq!(v["torn_tail"]["claimed_seq"], 4);
    assert_eq!(v["records_checked"], 4);
    assert_eq!(
        (v["first_seq"].as_u64(), v["last_seq"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(std::fs::read(&path).unwrap(), kept);

    // Now it verifies, appends work, and there is nothing more to repair.
    let o = run(
        &["verify", "--store", path.to_str().unwrap()],
        Some(SECRET),
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = run(
        &["append", "--store", path.to_str().unwrap()],
        Some(SECRET),
        &traces(5, 1),
    );
    assert!(o.status.success(), "{}", err(&o));
    let o = repair(&path, &[], Some(SECRET));
    assert_eq!(o.status.code(), Some(0));
    assert!(
        out(&o).starts_with("nothing to repair: no interrupted write in ")
            && out(&o).contains("5 records (seq 0 to 4) verified"),
        "{}",
        out(&o)
    );
}

#[test]
fn repair_refuses_other_damage_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.jsonl");
    build(&clean, 5);
    let bytes = std::fs::read(&clean).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();

    let cases: Vec<(&str, Vec<u8>, Option<&str>, i32)> = vec![
        // A record before the torn tail edited: tampered, exit 1.
        (
            "edited",
            {
                let p = dir.path().join("e.jsonl");
                std::fs::write(&p, text.replacen("\"i\":1", "\"i\":9", 1)).unwrap();
                tear(&p, 50);
                std::fs::read(&p).unwrap()
            },
            Some(SECRET),
            1,
        ),
        // A complete but corrupt last line: tampered, exit 1.
        (
            "corrupt last line",
            {
                let p = dir.path().join("c.jsonl");
                std::fs::write(&p, &bytes).unwrap();
                tear(&p, 50);
                let mut b = std::fs::read(&p).unwrap();
                b.push(b'\n');
                b
            },
            Some(SECRET),
            1,
        ),
        // A malformed line in the middle: tampered, exit 1.
        (
            "malformed middle line",
            text.replacen("{\"seq\":2,", "{\"seq\":2,,", 1).into_bytes(),
            Some(SECRET),
            1,
        ),
        // The wrong secret: unverifiable, exit 2.
        (
            "wrong secret",
            {
                let p = dir.path().join("w.jsonl");
                std::fs::write(&p, &bytes).unwrap();
                tear(&p, 50);
                std::fs::read(&p).unwrap()
            },
            Some("not the secret"),
            2,
        ),
        // No secret: exit 2.
        (
            "no secret",
            {
                let p = dir.path().join("n.jsonl");
                std::fs::write(&p, &bytes).unwrap();
                tear(&p, 50);
                std::fs::read(&p).unwrap()
            },
            None,
            2,
        ),
    ];
    for (what, content, secret, code) in cases {
        let path = dir.path().join("case.jsonl");
        std::fs::write(&path, &content).unwrap();
        let o = repair(&path, &["--json"], secret);
        assert_eq!(o.status.code(), Some(code), "{what}: {}", err(&o));
        assert!(out(&o).is_empty(), "{what}: {}", out(&o));
        assert!(err(&o).starts_with("error: "), "{what}: {}", err(&o));
        if secret.is_some() {
            assert!(
                err(&o).contains("refusing to repair") && err(&o).contains("nothing was changed"),
                "{what}: {}",
                err(&o)
            );
        }
        assert!(!err(&o).contains("not the secret"), "{what}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            content,
            "{what}: the file changed"
        );
    }
}

#[test]
fn repair_on_sqlite_has_nothing_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    build(&path, 3);
    let o = repair(&path, &["--json"], Some(SECRET));
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_str(out(&o).trim()).unwrap();
    assert_eq!(v["status"], "nothing to repair");
    assert_eq!(v["torn_tail"], serde_json::Value::Null);
    assert_eq!(v["records_checked"], 3);
    let o = repair(&dir.path().join("missing.db"), &[], Some(SECRET));
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("no such store"), "{}", err(&o));
}

#[test]
fn append_progress_json_reports_each_durable_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.jsonl");
    let o = run(
        &[
            "append",
            "--store",
            path.to_str().unwrap(),
            "--commit-every",
            "2",
            "--progress-json",
            "--quiet",
        ],
        Some(SECRET),
        &traces(0, 5),
    );
    assert!(o.status.success(), "{}", err(&o));
    let lines: Vec<serde_json::Value> = out(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{}", out(&o));
    let got: Vec<(u64, u64, u64, u64, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["committed"].as_u64().unwrap(),
                l["total"].as_u64().unwrap(),
                l["first_seq"].as_u64().unwrap(),
                l["last_seq"].as_u64().unwrap(),
                l["last_action_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (2, 2, 0, 1, "cli-1"),
            (2, 4, 2, 3, "cli-3"),
            (1, 5, 4, 4, "cli-4")
        ]
    );
    assert_eq!(lines[2]["head_hash"].as_str().unwrap().len(), 64);
}
