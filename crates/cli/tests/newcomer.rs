//! What a new user meets first: the demo (re-runnable, its `next:` lines runnable as printed,
//! its output ignored by git), `--store` forms and `TRAILSEAL_STORE`, completions and the man
//! page, and messages that say what to do (exact where they are a contract).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{bin, run_with, text};

/// The vectors' secret (weaver-kernel's fixture: short and word-like, so commands warn).
const SECRET: &str = trailseal_testkit::VECTOR_SECRET;
/// A secret as `trailseal keygen --secret` makes them, for new stores.
const STRONG: &str = "b3Vx4sC0m8F_yQe2N9kTzR5pLw7hJd1aGi6oUcMvXnE";

/// stderr without the weak-secret warning the vectors' secret draws (tested in `secrets.rs`).
fn errors(o: &Output) -> String {
    common::stderr_without_secret_warning(&o.stderr)
}

fn vector_store() -> String {
    trailseal_testkit::vector("weaver-0.12.0/store.sqlite")
        .to_str()
        .unwrap()
        .to_owned()
}

/// `trailseal ARGS` run in `dir`, without a secret or `TRAILSEAL_STORE` from the environment.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .env_remove("TRAILSEAL_STORE")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn the_demo_runs_again_after_its_store_is_deleted_and_its_next_lines_work_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    let first = run_in(dir.path(), &["demo"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(dir.path().join("audit.db.secret").exists());
    let secret = std::fs::read(dir.path().join("audit.db.secret")).unwrap();

    // Only the store is deleted: the demo uses the secret file it left, not trip over it.
    std::fs::remove_file(dir.path().join("audit.db")).unwrap();
    for sidecar in ["audit.db-wal", "audit.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(sidecar));
    }
    let again = run_in(dir.path(), &["demo"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    let out = text(&again.stdout);
    assert!(
        out.starts_with(
            "no WEAVER_KERNEL_SECRET set: using the demo secret already in audit.db.secret\n"
        ),
        "{out}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("audit.db.secret")).unwrap(),
        secret
    );

    // Every `next:` line runs as printed (with `trailseal` on PATH: here, the binary under test).
    let next: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("next: "))
        .map(|l| l.trim_start_matches("next: ").trim())
        .collect();
    assert_eq!(next.len(), 3, "{out}");
    for line in next {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], "trailseal", "{line}");
        assert!(!line.contains("ACTION_ID"), "a placeholder in {line:?}");
        let o = run_in(dir.path(), &words[1..]);
        assert!(
            o.status.success(),
            "`{line}` failed: {}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
    }
    // The demo's tampered copies went into a private temporary directory, now removed.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with("audit.db"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn git_ignores_what_the_demo_writes() {
    let root = trailseal_testkit::workspace_root();
    if !root.join(".git").exists() {
        eprintln!("not a git checkout: nothing to check");
        return;
    }
    for name in [
        "audit.db",
        "audit.db.secret",
        "audit.db-wal",
        "audit.db-shm",
        "crates/x/audit.db",
        "chain.secret",
    ] {
        let ignored = Command::new("git")
            .current_dir(&root)
            .args(["check-ignore", "-q", "--no-index", name])
            .status()
            .unwrap();
        assert!(ignored.success(), "{name} is not ignored by git");
    }
}

#[test]
fn the_store_can_come_from_the_environment_and_its_help_names_every_form() {
    let o = bin()
        .env("TRAILSEAL_STORE", vector_store())
        .env("WEAVER_KERNEL_SECRET", SECRET)
        .args(["verify", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // The flag wins over the variable.
    let o = bin()
        .env("TRAILSEAL_STORE", "/nonexistent/elsewhere.db")
        .env("WEAVER_KERNEL_SECRET", SECRET)
        .args(["verify", "--quiet", "--store", &vector_store()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));

    let help = run_with(&["verify", "--help"], None, b"");
    let help = text(&help.stdout);
    for form in [
        ".db",
        ".sqlite3",
        ".jsonl",
        "postgres://",
        "TRAILSEAL_STORE",
    ] {
        assert!(
            help.contains(form),
            "`verify --help` does not name {form}:\n{help}"
        );
    }
}

#[test]
fn completions_and_the_man_page_come_from_the_binary() {
    for shell in ["bash", "zsh", "fish"] {
        let o = run_with(&["completions", shell], None, b"");
        assert!(o.status.success(), "{shell}: {}", text(&o.stderr));
        let script = text(&o.stdout);
        // fish spells flags without their dashes (`-l store`).
        for word in ["verify-bundle", "store", "secret-file", "completions"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    if Command::new("bash").arg("--version").output().is_ok() {
        // The bash script at least parses.
        let o = run_with(&["completions", "bash"], None, b"");
        let check = Command::new("bash")
            .args(["-n", "-c", &text(&o.stdout)])
            .status()
            .unwrap();
        assert!(check.success());
    }
    let o = run_with(&["completions", "tcsh"], None, b"");
    assert_eq!(o.status.code(), Some(2));

    let o = run_with(&["man"], None, b"");
    assert!(o.status.success());
    let page = text(&o.stdout);
    assert!(page.contains(".TH trailseal"), "{page}");
    assert!(page.contains("verify\\-bundle") || page.contains("verify-bundle"));
}

#[test]
fn a_misspelt_flag_gets_a_suggestion() {
    let o = run_with(&["verify", "--stor", "x.db"], None, b"");
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("tip: a similar argument exists: '--store'"),
        "{err}"
    );
    let o = run_with(&["verfy"], None, b"");
    let err = text(&o.stderr);
    assert!(
        err.contains(
            "tip: some similar subcommands exist: 'verify-bundle', 'verify-proof', 'verify'"
        ),
        "{err}"
    );
}

#[test]
fn verify_on_a_missing_store_gives_the_hint_list_gives() {
    let dir = tempfile::tempdir().unwrap();
    let hint = "hint: check the --store path (`trailseal demo` creates a sample store)\n";
    let list = run_in(dir.path(), &["list", "--store", "nope.db"]);
    assert_eq!(
        text(&list.stderr),
        format!("error: nope.db: no such store (reading commands do not create one)\n{hint}")
    );
    let verify = run_in(dir.path(), &["verify", "--store", "nope.db"]);
    assert_eq!(verify.status.code(), Some(2));
    assert_eq!(
        text(&verify.stdout),
        "UNVERIFIABLE (unreadable store): nope.db: no such store (reading commands do not create one)\n"
    );
    assert_eq!(text(&verify.stderr), hint);
    // --json and --quiet keep stdout a contract and stderr quiet.
    let quiet = run_in(dir.path(), &["verify", "--store", "nope.db", "--quiet"]);
    assert!(quiet.stdout.is_empty() && quiet.stderr.is_empty());
}

#[test]
fn export_says_how_to_check_the_export_with_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("e.jsonl");
    let out_s = out.to_str().unwrap();
    let o = run_in(
        dir.path(),
        &["export", "--store", &vector_store(), "--out", out_s],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        format!(
            "exported 40 records with their chain fields to {out_s}; check it with `trailseal verify --store {out_s}` (with the store's chain secret: set WEAVER_KERNEL_SECRET or add --secret-file FILE)\n"
        )
    );
    let secret = dir.path().join("chain.secret");
    std::fs::write(&secret, SECRET).unwrap();
    let secret_s = secret.to_str().unwrap();
    let o = run_in(
        dir.path(),
        &[
            "export",
            "--store",
            &vector_store(),
            "--out",
            out_s,
            "--secret-file",
            secret_s,
        ],
    );
    let printed = text(&o.stdout);
    assert_eq!(
        printed,
        format!(
            "exported 40 records with their chain fields to {out_s}; check it with `trailseal verify --store {out_s} --secret-file {secret_s}`\n"
        )
    );
    // ... and that command, run as printed, verifies the export.
    let command = printed.split('`').nth(1).unwrap();
    let words: Vec<&str> = command.split_whitespace().skip(1).collect();
    let o = run_in(dir.path(), &words);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
}

#[test]
fn a_bundle_window_that_matches_nothing_says_what_the_store_covers() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    let o = run_in(dir.path(), &["keygen", "--out", key.to_str().unwrap()]);
    assert!(o.status.success());
    let store = vector_store();
    let o = run_with(
        &[
            "export",
            "--store",
            &store,
            "--bundle",
            dir.path().join("b.bundle").to_str().unwrap(),
            "--signing-key",
            key.to_str().unwrap(),
            "--since",
            "2020-01-01",
            "--until",
            "2020-02-01",
        ],
        Some(SECRET),
        b"",
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        errors(&o).lines().next().unwrap(),
        format!(
            "error: {store}: no record in the time window 2020-01-01T00:00:00Z to 2020-02-01T00:00:00Z (since inclusive, until exclusive); the records of seq 0 to 39 were invoked from 2026-03-01T09:30:00.473781Z to 2026-03-01T09:30:39.190530Z"
        )
    );
    assert!(!dir.path().join("b.bundle").exists());
}

#[test]
fn durations_are_echoed_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    std::fs::copy(vector_store(), &store).unwrap();
    let store = store.to_str().unwrap();
    let o = run_with(
        &["policy", "--store", store, "--min-retention", "27w"],
        Some(SECRET),
        b"",
    );
    assert_eq!(
        text(&o.stdout),
        "minimum retention set to 27w (receipt 0)\n"
    );
    let o = run_with(
        &["policy", "--store", store, "--min-retention", "4320h"],
        Some(SECRET),
        b"",
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        errors(&o),
        "error: --min-retention 4320h: lowering the minimum retention from 189d to 180d must be asked for explicitly\nhint: pass --allow-decrease to lower it\n"
    );
    let o = run_with(
        &["prune", "--store", store, "--older-than", "1w", "--dry-run"],
        Some(SECRET),
        b"",
    );
    let err = errors(&o);
    assert!(
        err.starts_with("error: --older-than 1w: the cutoff "),
        "{err}"
    );
    let o = run_with(
        &[
            "prune",
            "--store",
            store,
            "--older-than",
            "52w",
            "--dry-run",
        ],
        Some(SECRET),
        b"",
    );
    let out = text(&o.stdout);
    assert!(out.contains(" older than 52w (before "), "{out}");
}

#[test]
fn progress_lines_are_drawn_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("p.jsonl");
    let traces: String = (0..3)
        .map(|i| {
            format!(
                "{{\"action_id\":\"p-{i}\",\"capability_id\":\"c\",\"principal_id\":\"u\",\"token_id\":\"t\",\"invoked_at\":\"2026-03-01T09:30:00+00:00\",\"args\":{{}},\"response_mode\":\"summary\",\"driver_id\":\"d\"}}\n"
            )
        })
        .collect();
    let o = run_with(
        &["append", "--store", store.to_str().unwrap()],
        Some(STRONG),
        traces.as_bytes(),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    // stderr is a pipe here: no progress line, no escape codes.
    assert!(o.stderr.is_empty(), "{:?}", text(&o.stderr));
    let o = run_with(
        &[
            "export",
            "--store",
            store.to_str().unwrap(),
            "--out",
            dir.path().join("x.jsonl").to_str().unwrap(),
        ],
        None,
        b"",
    );
    assert!(o.status.success() && o.stderr.is_empty());
}

#[test]
fn verify_with_anchors_says_which_it_checked_and_what_they_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(
        run_in(d, &["keygen", "--secret", "--out", "c.secret"])
            .status
            .success()
    );
    assert!(run_in(d, &["keygen", "--out", "k"]).status.success());
    assert!(
        run_in(d, &["demo", "--secret-file", "c.secret"])
            .status
            .success()
    );
    let s = ["--secret-file", "c.secret"];
    let anchor = run_in(
        d,
        &[
            &[
                "anchor",
                "--store",
                "audit.db",
                "--signing-key",
                "k",
                "--out",
                "a.note",
            ][..],
            &s,
        ]
        .concat(),
    );
    assert!(anchor.status.success(), "{}", text(&anchor.stderr));
    let verify = |json: bool| {
        let mut args = vec![
            "verify",
            "--store",
            "audit.db",
            "--anchor",
            "a.note",
            "--public-key",
            "k.pub",
        ];
        args.extend(s);
        if json {
            args.push("--json");
        }
        run_in(d, &args)
    };
    let o = verify(false);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    let out = text(&o.stdout);
    let line = out
        .lines()
        .find(|l| l.contains("checked anchor a.note"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.ends_with("it pins seq 19 (the record is there with the signed hash)"),
        "{line}"
    );
    let v: serde_json::Value = serde_json::from_slice(&verify(true).stdout).unwrap();
    assert_eq!(v["anchors"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["anchors"][0]["seq"], 19);
    assert_eq!(v["anchors"][0]["by"], "record");
    assert!(
        v["anchors"][0]["source"]
            .as_str()
            .unwrap()
            .starts_with("anchor a.note")
    );

    // Once its record is pruned, a verified receipt accounts for it, and the verdict says so.
    let o = run_in(
        d,
        &[
            &["prune", "--store", "audit.db", "--keep-last", "0"][..],
            &s,
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&verify(true).stdout).unwrap();
    assert_eq!(v["status"], "verified", "{v}");
    assert_eq!(v["anchors"][0]["by"], "receipt", "{v}");
    // Without anchors the list is empty, never missing.
    let o = run_in(
        d,
        &[&["verify", "--store", "audit.db", "--json"][..], &s].concat(),
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["anchors"], serde_json::json!([]));
}
