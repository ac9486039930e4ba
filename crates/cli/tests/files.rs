//! Files every writing command creates or rewrites: modes and owners (kept on rewrites, 0600 for
//! new files holding traces or keys whatever the umask), symbolic links planted at temporary
//! and final paths (never followed), and a full disk during an append (the store is left
//! exactly as before).
//!
//! Commands run with umask 000 and, where possible (root), as pid 1 of a fresh pid namespace,
//! so the predictable temporary names of older versions (`.NAME.tmp-<pid>`, …) are known.
//!
//! Longer than 600 lines on purpose: modes, links and a full disk share the tmpfs and umask
//! helpers at the top.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::text;

const SECRET: &str = "files-test-secret-0123456789abcdefghijkl";

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Whether `unshare --pid --fork` works here (root).
fn fresh_pid_namespace() -> bool {
    is_root()
        && Command::new("unshare")
            .args(["--pid", "--fork", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// `trailseal ARGS` in `dir` with umask 000, `prefix` before it (e.g. `setpriv …`); as pid 1
/// when there is no prefix and `fresh_pid_namespace`.
fn run_as(prefix: &[&str], dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut words: Vec<String> = prefix.iter().map(|s| (*s).to_owned()).collect();
    // (A new pid namespace needs root: not under `setpriv`.)
    if prefix.is_empty() && fresh_pid_namespace() {
        words.extend(["unshare".into(), "--pid".into(), "--fork".into()]);
    }
    words.extend([
        "sh".into(),
        "-c".into(),
        "umask 000; exec \"$0\" \"$@\"".into(),
        env!("CARGO_BIN_EXE_trailseal").into(),
    ]);
    words.extend(args.iter().map(|s| (*s).to_owned()));
    let mut cmd = Command::new(&words[0]);
    cmd.args(&words[1..])
        .current_dir(dir)
        .env("WEAVER_KERNEL_SECRET", SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let _ = std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn run(dir: &Path, args: &[&str], stdin: &str) -> Output {
    run_as(&[], dir, args, stdin)
}

fn ok(o: &Output) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        text(&o.stdout),
        text(&o.stderr)
    );
}

fn trace(n: u64, pad: usize) -> String {
    trailseal_testkit::Trace::minimal(format!("f{n}"))
        .args(format!(r#"{{"pad":"{}"}}"#, "x".repeat(pad)))
        .json()
}

fn traces(from: u64, n: u64, pad: usize) -> String {
    (from..from + n).map(|i| trace(i, pad) + "\n").collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

/// Every entry of `dir` (recursively) with its bytes (links as `-> target`).
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.strip_prefix(dir).unwrap().display().to_string();
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&p).unwrap();
            out.insert(name, format!("-> {}", target.display()).into_bytes());
        } else if meta.is_dir() {
            for (k, v) in files(&p) {
                out.insert(format!("{name}/{k}"), v);
            }
        } else {
            out.insert(name, std::fs::read(&p).unwrap());
        }
    }
    out
}

/// Verifies `store`; the verdict as JSON.
fn verify(dir: &Path, store: &str) -> serde_json::Value {
    let o = run(dir, &["verify", "--store", store, "--json"], "");
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} {}", text(&o.stdout), text(&o.stderr)))
}

#[test]
fn new_files_are_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&run(d, &["keygen", "--out", "k"], ""));
    assert_eq!(mode(&d.join("k")), 0o600, "signing key");
    assert_eq!(mode(&d.join("k.pub")), 0o644, "public key");
    ok(&run(d, &["keygen", "--secret", "--out", "sec"], ""));
    assert_eq!(mode(&d.join("sec")), 0o600, "chain secret");
    for store in ["s.jsonl", "s.db"] {
        ok(&run(d, &["append", "--store", store], &traces(0, 5, 10)));
        assert_eq!(mode(&d.join(store)), 0o600, "new store {store}");
    }
    let steps: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["export", "--store", "s.jsonl", "--out", "e.jsonl"],
            "e.jsonl",
        ),
        (
            vec![
                "export",
                "--store",
                "s.jsonl",
                "--bundle",
                "b.json",
                "--signing-key",
                "k",
            ],
            "b.json",
        ),
        (
            vec![
                "anchor",
                "--store",
                "s.jsonl",
                "--signing-key",
                "k",
                "--out",
                "a.note",
            ],
            "a.note",
        ),
        (
            vec!["migrate", "--from", "s.jsonl", "--to", "m.jsonl"],
            "m.jsonl",
        ),
        (vec!["migrate", "--from", "s.jsonl", "--to", "m.db"], "m.db"),
        (
            vec!["policy", "--store", "s.jsonl", "--min-retention", "1d"],
            "s.jsonl",
        ),
        (
            vec![
                "prune",
                "--store",
                "s.jsonl",
                "--keep-last",
                "2",
                "--archive",
                "arch.jsonl",
            ],
            "arch.jsonl",
        ),
    ];
    for (args, made) in steps {
        ok(&run(d, &args, ""));
        assert_eq!(mode(&d.join(made)), 0o600, "{args:?} made {made}");
    }
    ok(&run(
        d,
        &[
            "append",
            "--store",
            "s.jsonl",
            "--anchor-dir",
            "anchors",
            "--signing-key",
            "k",
        ],
        &traces(5, 1, 10),
    ));
    let anchors: Vec<_> = std::fs::read_dir(d.join("anchors")).unwrap().collect();
    assert!(!anchors.is_empty());
    for a in anchors {
        assert_eq!(mode(&a.unwrap().path()), 0o600, "anchor");
    }
    // No temporary file is left anywhere.
    let names: Vec<String> = files(d).into_keys().collect();
    assert!(
        names
            .iter()
            .all(|n| !n.contains(".tmp") && !n.starts_with('.')),
        "{names:?}"
    );
}

/// Cuts the last line of the file to its first `keep` bytes (no newline).
fn tear(path: &Path, keep: usize) {
    let bytes = std::fs::read(path).unwrap();
    let start = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    std::fs::write(path, &bytes[..start + keep]).unwrap();
    if path.with_extension("jsonl.tree").exists() {
        trailseal_testkit::unwrite_last_tree_hashes(path);
    }
}

const NOBODY: u32 = 65534;

#[test]
fn rewrites_keep_mode_and_owner() {
    if !is_root() {
        eprintln!("SKIPPED rewrites_keep_mode_and_owner: needs root (chown to another user)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = d.join("s.jsonl");
    ok(&run(
        d,
        &["append", "--store", "s.jsonl"],
        &traces(0, 6, 10),
    ));
    std::os::unix::fs::chown(&store, Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o640)).unwrap();
    let same = |what: &str| {
        let m = std::fs::symlink_metadata(&store).unwrap();
        assert_eq!(
            (m.mode() & 0o7777, m.uid(), m.gid()),
            (0o640, NOBODY, NOBODY),
            "after {what}"
        );
    };
    ok(&run(
        d,
        &["policy", "--store", "s.jsonl", "--min-retention", "1d"],
        "",
    ));
    same("policy");
    ok(&run(
        d,
        &["prune", "--store", "s.jsonl", "--keep-last", "3"],
        "",
    ));
    same("prune");
    ok(&run(
        d,
        &["append", "--store", "s.jsonl"],
        &traces(6, 2, 10),
    ));
    same("append");
    tear(&store, 40);
    ok(&run(d, &["repair", "--store", "s.jsonl"], ""));
    same("repair");
    ok(&run(
        d,
        &["policy", "--store", "s.jsonl", "--min-retention", "2d"],
        "",
    ));
    same("a second receipt");
    assert_eq!(verify(d, "s.jsonl")["status"], "verified");
    assert_eq!(
        files(d).into_keys().collect::<Vec<_>>(),
        ["s.jsonl", "s.jsonl.tree"],
        "nothing else is left"
    );

    // A rewrite by a user who cannot give the new file the store's owner is refused, and
    // leaves the store as it was.
    std::os::unix::fs::chown(&store, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o666)).unwrap();
    // The store's Merkle tree file goes with it.
    std::fs::set_permissions(
        d.join("s.jsonl.tree"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
    let before = files(d);
    let nobody = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let o = run_as(
        &nobody,
        d,
        &["policy", "--store", "s.jsonl", "--min-retention", "3d"],
        "",
    );
    assert_ne!(o.status.code(), Some(0), "{}", text(&o.stdout));
    let err = text(&o.stderr);
    assert!(
        err.contains("cannot keep the file's owner (uid 0, gid 0)")
            && err.contains("nothing was written"),
        "{err}"
    );
    assert_eq!(files(d), before, "the store and its folder are unchanged");
    let m = std::fs::metadata(&store).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o7777), (0, 0o666));
}

/// One writing command for the symlink test: what to set up, where links go, what to run.
struct Case {
    name: &'static str,
    setup: fn(&Path),
    links: &'static [&'static str],
    args: &'static [&'static str],
    stdin: fn() -> String,
}

fn no_input() -> String {
    String::new()
}

fn one_trace() -> String {
    traces(100, 1, 10)
}

fn nothing(_: &Path) {}

fn keys_and_store(d: &Path) {
    ok(&run(d, &["keygen", "--out", "k"], ""));
    ok(&run(
        d,
        &["append", "--store", "s.jsonl"],
        &traces(0, 5, 10),
    ));
}

fn with_policy(d: &Path) {
    keys_and_store(d);
    ok(&run(
        d,
        &["policy", "--store", "s.jsonl", "--min-retention", "1d"],
        "",
    ));
}

fn torn(d: &Path) {
    keys_and_store(d);
    tear(&d.join("s.jsonl"), 40);
}

fn anchor_folder(d: &Path) {
    keys_and_store(d);
    std::fs::create_dir(d.join("anchors")).unwrap();
}

const CASES: &[Case] = &[
    Case {
        name: "append to a new JSONL store",
        setup: nothing,
        links: &["new.jsonl", ".new.jsonl.import"],
        args: &["append", "--store", "new.jsonl"],
        stdin: one_trace,
    },
    Case {
        name: "append to a new SQLite store",
        setup: nothing,
        links: &["new.db"],
        args: &["append", "--store", "new.db"],
        stdin: one_trace,
    },
    Case {
        name: "export --out",
        setup: keys_and_store,
        links: &["e.jsonl", ".e.jsonl.tmp-1"],
        args: &["export", "--store", "s.jsonl", "--out", "e.jsonl"],
        stdin: no_input,
    },
    Case {
        name: "export --bundle",
        setup: keys_and_store,
        links: &["b.json", "b.tmp-1"],
        args: &[
            "export",
            "--store",
            "s.jsonl",
            "--bundle",
            "b.json",
            "--signing-key",
            "k",
        ],
        stdin: no_input,
    },
    Case {
        name: "prune --archive",
        setup: with_policy,
        links: &["arch.jsonl", ".arch.jsonl.tmp-1", ".s.jsonl.rewrite-1"],
        args: &[
            "prune",
            "--store",
            "s.jsonl",
            "--keep-last",
            "2",
            "--archive",
            "arch.jsonl",
        ],
        stdin: no_input,
    },
    Case {
        name: "policy",
        setup: keys_and_store,
        links: &[".s.jsonl.rewrite-1"],
        args: &["policy", "--store", "s.jsonl", "--min-retention", "1d"],
        stdin: no_input,
    },
    Case {
        name: "repair",
        setup: torn,
        links: &[".s.jsonl.rewrite-1", ".s.jsonl.tmp-1"],
        args: &["repair", "--store", "s.jsonl"],
        stdin: no_input,
    },
    Case {
        name: "migrate to JSONL",
        setup: keys_and_store,
        links: &["m.jsonl", ".m.jsonl.import"],
        args: &["migrate", "--from", "s.jsonl", "--to", "m.jsonl"],
        stdin: no_input,
    },
    Case {
        name: "migrate to SQLite",
        setup: keys_and_store,
        links: &["m.db"],
        args: &["migrate", "--from", "s.jsonl", "--to", "m.db"],
        stdin: no_input,
    },
    Case {
        name: "anchor --out",
        setup: keys_and_store,
        links: &["a.note", ".a.note.tmp-1-0"],
        args: &[
            "anchor",
            "--store",
            "s.jsonl",
            "--signing-key",
            "k",
            "--out",
            "a.note",
        ],
        stdin: no_input,
    },
    Case {
        name: "append --anchor-dir",
        setup: anchor_folder,
        links: &[
            "anchors/anchor-000000000006.note",
            "anchors/.anchor-000000000006.note.tmp-1-0",
            ".s.jsonl.import",
        ],
        args: &[
            "append",
            "--store",
            "s.jsonl",
            "--anchor-dir",
            "anchors",
            "--signing-key",
            "k",
        ],
        stdin: one_trace,
    },
    Case {
        name: "keygen",
        setup: nothing,
        links: &["k2", "k2.pub"],
        args: &["keygen", "--out", "k2"],
        stdin: no_input,
    },
    Case {
        name: "keygen with a dangling link at the public key",
        setup: nothing,
        links: &["k3.pub.unused", "k3.pub.unused2", "k3.pub"],
        args: &["keygen", "--out", "k3"],
        stdin: no_input,
    },
    Case {
        name: "keygen --secret",
        setup: nothing,
        links: &["sec2"],
        args: &["keygen", "--secret", "--out", "sec2"],
        stdin: no_input,
    },
];

#[test]
fn no_command_writes_through_a_planted_symlink() {
    if !fresh_pid_namespace() {
        eprintln!(
            "note: no fresh pid namespace (not root): the old pid-named temporary paths are not predictable here; the links at final paths and fixed names are still checked"
        );
    }
    let mut failures = Vec::new();
    for case in CASES {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        (case.setup)(d);
        // Targets outside the working folder: one empty (appends would go there), one with
        // content (truncation shows), one missing (creation shows).
        let victims = tempfile::tempdir().unwrap();
        let empty = victims.path().join("empty");
        let full = victims.path().join("full");
        std::fs::write(&empty, b"").unwrap();
        std::fs::write(&full, b"precious\n").unwrap();
        let missing = victims.path().join("missing");
        for (i, link) in case.links.iter().enumerate() {
            let target = [&empty, &full, &missing][i % 3];
            std::os::unix::fs::symlink(target, d.join(link)).unwrap();
        }
        let o = run(d, case.args, &(case.stdin)());
        let said = format!("{}; {}", text(&o.stdout), text(&o.stderr));
        let untouched = BTreeMap::from([
            ("empty".to_owned(), Vec::new()),
            ("full".to_owned(), b"precious\n".to_vec()),
        ]);
        if files(victims.path()) != untouched {
            failures.push(format!("{}: a link target was written ({said})", case.name));
        }
        // Each link is still a link to its target, or was replaced by the command's own file.
        for link in case.links {
            let m = std::fs::symlink_metadata(d.join(link));
            if !m
                .as_ref()
                .is_ok_and(|m| m.file_type().is_symlink() || m.is_file())
            {
                failures.push(format!("{}: {link}: {m:?}", case.name));
            }
        }
        // A refused keygen leaves no half of the key pair.
        if case.args.first() == Some(&"keygen")
            && !o.status.success()
            && case.links.iter().all(|l| *l != case.args[2])
            && d.join(case.args[2]).exists()
        {
            failures.push(format!("{}: the signing key was left alone", case.name));
        }
        // A refusal says why, and no temporary file is left behind.
        if !o.status.success() && o.stderr.is_empty() {
            failures.push(format!("{}: failed silently", case.name));
        }
        let left: Vec<String> = files(d)
            .into_keys()
            .filter(|n| n.ends_with(".tmp") && !case.links.contains(&n.as_str()))
            .collect();
        if !left.is_empty() {
            failures.push(format!("{}: left {left:?}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A small tmpfs mounted for one test, unmounted (lazily) when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the file system of `dir` but for about `free` bytes; the filler's path.
fn fill(dir: &Path, free: u64) -> PathBuf {
    use std::io::Write as _;
    let filler = dir.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 4096];
    let mut len = 0u64;
    while f.write_all(&chunk).is_ok() {
        len += 4096;
    }
    let _ = f.sync_all();
    f.set_len(len.saturating_sub(free)).unwrap();
    f.sync_all().unwrap();
    filler
}

#[test]
fn a_full_disk_during_an_append_leaves_the_store_as_it_was() {
    if !is_root() {
        eprintln!(
            "SKIPPED a_full_disk_during_an_append_leaves_the_store_as_it_was: needs root (mount tmpfs)"
        );
        return;
    }
    for store in ["s.jsonl", "s.db"] {
        let Some(fs) = Tmpfs::mount("1m") else {
            eprintln!(
                "SKIPPED a_full_disk_during_an_append_leaves_the_store_as_it_was: mount -t tmpfs failed"
            );
            return;
        };
        let d = fs.path();
        ok(&run(d, &["append", "--store", store], &traces(0, 3, 10)));
        let before = std::fs::read(d.join(store)).unwrap();
        let filler = fill(d, 16 * 1024);
        // About 100 KiB in one batch: more than is free.
        let o = run(d, &["append", "--store", store], &traces(3, 25, 4000));
        assert_ne!(o.status.code(), Some(0), "{store}: {}", text(&o.stdout));
        let err = text(&o.stderr);
        assert!(
            err.contains("nothing was written") || store.ends_with(".db"),
            "{store}: {err}"
        );
        if store.ends_with(".jsonl") {
            assert!(err.contains("No space left on device"), "{err}");
            assert_eq!(
                std::fs::read(d.join(store)).unwrap(),
                before,
                "{store}: the file is byte-identical"
            );
        }
        std::fs::remove_file(filler).unwrap();
        let v = verify(d, store);
        assert_eq!(v["status"], "verified", "{store}: {v}");
        assert_eq!(v["records_checked"], 3, "{store}: {v}");
        ok(&run(d, &["append", "--store", store], &traces(3, 2, 10)));
        let v = verify(d, store);
        assert_eq!(
            (v["status"].as_str(), v["records_checked"].as_u64()),
            (Some("verified"), Some(5)),
            "{store}: {v}"
        );
    }
}
