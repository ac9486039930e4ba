//! Weak chain secrets and loose key files on the command line: `keygen --secret`, a new store
//! refused with a short secret (nothing created), warnings for weak secrets on existing stores,
//! a signing key others may read (warning) or write (refused).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::Path;
use std::process::Output;

use common::{run_with, text};
use trailseal::ChainKey;
use trailseal_testkit::{vector, weaver_tool};

const SHORT: &str = "s3cret";
const STRONG: &str = "Gq7ZtY2vKp9XwR4mNc8LbJ5hDf3SaE6uT1oPiWyQ0zA";

fn trace(id: &str) -> String {
    trailseal_testkit::Trace::new(id)
        .invoked_at("2026-11-27T10:00:00+00:00")
        .json()
        + "\n"
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

fn ok(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[cfg(unix)]
fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `keygen --secret --out FILE`; the secret it wrote (without the newline).
fn keygen_secret(path: &Path) -> String {
    let o = run_with(&["keygen", "--secret", "--out", &s(path)], None, b"");
    ok(&o);
    let written = std::fs::read_to_string(path).unwrap();
    let secret = written.strip_suffix('\n').unwrap().to_owned();
    for out in [&o.stdout, &o.stderr] {
        assert!(!text(out).contains(&secret), "keygen printed the secret");
    }
    assert!(text(&o.stdout).contains(&s(path)), "{}", text(&o.stdout));
    secret
}

#[test]
fn keygen_secret_writes_a_strong_private_secret_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.secret");
    let secret = keygen_secret(&path);
    assert_eq!(secret.len(), 43, "32 bytes as base64url");
    assert!(
        secret
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    );
    assert!(
        !ChainKey::from_secret(secret.as_bytes())
            .unwrap()
            .strength()
            .is_weak()
    );
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    // Never overwritten, not even a file that is not a secret.
    let o = run_with(&["keygen", "--secret", "--out", &s(&path)], None, b"");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        secret.clone() + "\n"
    );
    let other = dir.path().join("notes.txt");
    std::fs::write(&other, "keep me").unwrap();
    let o = run_with(&["keygen", "--secret", "--out", &s(&other)], None, b"");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "keep me");
    // Each secret is new.
    assert_ne!(keygen_secret(&dir.path().join("second.secret")), secret);
    // --name belongs to signing keys.
    let o = run_with(
        &[
            "keygen",
            "--secret",
            "--name",
            "x",
            "--out",
            &s(&dir.path().join("third")),
        ],
        None,
        b"",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(!dir.path().join("third").exists());
}

#[test]
fn a_keygen_secret_is_a_weaver_kernel_secret() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("chain.secret");
    let secret = keygen_secret(&secret_file);
    for (backend, name) in [("sqlite", "a.db"), ("jsonl", "a.jsonl")] {
        let store = s(&dir.path().join(name));
        // Through --secret-file, with no warning: the secret is strong.
        let o = run_with(
            &[
                "append",
                "--store",
                &store,
                "--secret-file",
                &s(&secret_file),
            ],
            None,
            trace("a1").as_bytes(),
        );
        ok(&o);
        assert!(!text(&o.stderr).contains("warning"), "{}", text(&o.stderr));
        // The same text in WEAVER_KERNEL_SECRET is the same key.
        ok(&run_with(
            &["append", "--store", &store],
            Some(&secret),
            trace("a2").as_bytes(),
        ));
        // weaver-kernel verifies the chain with the text and extends it.
        let out = weaver_tool(&["verify", "--backend", backend, "--path", &store], &secret);
        assert_eq!(out["ok"], true, "{out}");
        assert_eq!(out["records_checked"], 2, "{out}");
        let out = weaver_tool(
            &[
                "append",
                "--backend",
                backend,
                "--path",
                &store,
                "--count",
                "3",
                "--seed",
                "7",
            ],
            &secret,
        );
        assert_eq!(out["written"], 3, "{out}");
        ok(&run_with(
            &["verify", "--store", &store],
            Some(&secret),
            b"",
        ));
    }
}

#[test]
fn a_short_secret_cannot_start_a_store_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let short_file = dir.path().join("short.secret");
    std::fs::write(&short_file, format!("{SHORT}\n")).unwrap();
    #[cfg(unix)]
    chmod(&short_file, 0o600);
    for name in ["new.db", "new.jsonl"] {
        let store = dir.path().join(name);
        for via_file in [false, true] {
            let mut args = vec!["append", "--store", store.to_str().unwrap()];
            let short_path = s(&short_file);
            if via_file {
                args.extend(["--secret-file", &short_path]);
            }
            let secret = (!via_file).then_some(SHORT);
            let o = run_with(&args, secret, trace("a1").as_bytes());
            assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
            let err = text(&o.stderr);
            assert!(
                err.contains("refusing to start a new store with a secret shorter than 16 bytes")
                    && err.contains("nothing was written")
                    && err.contains("trailseal keygen --secret --out FILE"),
                "{err}"
            );
            assert!(!err.contains(SHORT) && !text(&o.stdout).contains(SHORT));
            assert!(!store.exists(), "{name}: the store was created");
        }
    }
    // A store that exists but holds nothing is new as well: refused, left empty.
    // (An empty append creates nothing, so the empty store is an empty JSONL file.)
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, b"").unwrap();
    let o = run_with(
        &["append", "--store", &s(&empty)],
        Some(SHORT),
        trace("a1").as_bytes(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let o = run_with(&["list", "--store", &s(&empty), "--json"], None, b"");
    assert_eq!(text(&o.stdout).trim(), "[]");
    // The demo creates a new store too.
    let demo = dir.path().join("demo.db");
    let o = run_with(&["demo", "--store", &s(&demo)], Some(SHORT), b"");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(!demo.exists() && !dir.path().join("demo.db.secret").exists());
    // 16 bytes start a store, with a warning.
    let o = run_with(
        &["append", "--store", &s(&dir.path().join("ok.db"))],
        Some("Gq7ZtY2vKp9XwR4m"),
        trace("a1").as_bytes(),
    );
    ok(&o);
    assert!(
        text(&o.stderr).contains("warning: the chain secret is shorter than 32 bytes:"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn weak_secrets_of_existing_stores_work_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    // weaver-kernel accepts any secret: a store it wrote with a short one.
    for (backend, name) in [("sqlite", "w.db"), ("jsonl", "w.jsonl")] {
        let store = s(&dir.path().join(name));
        let out = weaver_tool(
            &[
                "write",
                "--backend",
                backend,
                "--path",
                &store,
                "--count",
                "4",
                "--seed",
                "3",
            ],
            SHORT,
        );
        assert_eq!(out["written"], 4, "{out}");
        for (args, input) in [
            (vec!["verify", "--store", &store], String::new()),
            (vec!["append", "--store", &store], trace("t-new")),
            (vec!["verify", "--store", &store], String::new()),
        ] {
            let o = run_with(&args, Some(SHORT), input.as_bytes());
            ok(&o);
            let err = text(&o.stderr);
            assert!(
                err.contains(
                    "warning: the chain secret is shorter than 32 bytes and looks like a word"
                ) && err.contains("trailseal keygen --secret"),
                "{err}"
            );
            assert!(!err.contains(SHORT) && !text(&o.stdout).contains(SHORT));
        }
        let out = weaver_tool(&["verify", "--backend", backend, "--path", &store], SHORT);
        assert_eq!(out["ok"], true, "{out}");
    }
    // The vectors' secret (20 bytes, word-like) verifies, with the warning.
    let copy = dir.path().join("vectors.sqlite");
    std::fs::copy(vector("weaver-0.12.0/store.sqlite"), &copy).unwrap();
    let o = run_with(
        &["verify", "--store", &s(&copy)],
        Some(trailseal_testkit::VECTOR_SECRET),
        b"",
    );
    ok(&o);
    assert!(
        text(&o.stderr).contains("shorter than 32 bytes and looks like a word"),
        "{}",
        text(&o.stderr)
    );
    // A long secret that looks like a word is warned about too; a strong one is not.
    let o = run_with(
        &["verify", "--store", &s(&copy)],
        Some("correct horse battery staple and more words"),
        b"",
    );
    assert!(
        text(&o.stderr).contains("warning: the chain secret looks like a word:"),
        "{}",
        text(&o.stderr)
    );
    let o = run_with(&["verify", "--store", &s(&copy)], Some(STRONG), b"");
    assert!(!text(&o.stderr).contains("warning"), "{}", text(&o.stderr));
}

#[cfg(unix)]
#[test]
fn signing_keys_others_can_read_warn_and_others_can_write_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    std::fs::copy(vector("weaver-0.12.0/store.sqlite"), &store).unwrap();
    let store = s(&store);
    let secret = trailseal_testkit::VECTOR_SECRET;
    let key = dir.path().join("ops");
    ok(&run_with(&["keygen", "--out", &s(&key)], None, b""));
    let private = std::fs::read_to_string(&key).unwrap();
    let anchor = |out: &Path| {
        run_with(
            &[
                "anchor",
                "--store",
                &store,
                "--signing-key",
                &s(&key),
                "--out",
                &s(out),
            ],
            Some(secret),
            b"",
        )
    };
    // 0600: no warning about the key.
    let o = anchor(&dir.path().join("a0"));
    ok(&o);
    assert!(!text(&o.stderr).contains(&s(&key)), "{}", text(&o.stderr));
    // 0644: used, with a warning naming the file.
    chmod(&key, 0o644);
    let o = anchor(&dir.path().join("a1"));
    ok(&o);
    assert!(
        text(&o.stderr).contains(&format!(
            "warning: {}: the signing key can be read by other users; `chmod 600` it",
            s(&key)
        )),
        "{}",
        text(&o.stderr)
    );
    // World-writable: refused by every command that signs; nothing is written.
    for m in [0o666, 0o622] {
        chmod(&key, m);
        let out = dir.path().join(format!("a-{m:o}"));
        let o = anchor(&out);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains(&format!(
                "{}: the signing key file can be written by every user",
                s(&key)
            )),
            "{}",
            text(&o.stderr)
        );
        assert!(!out.exists());
        let bundle = dir.path().join(format!("b-{m:o}"));
        let o = run_with(
            &[
                "export",
                "--store",
                &store,
                "--bundle",
                &s(&bundle),
                "--signing-key",
                &s(&key),
            ],
            Some(secret),
            b"",
        );
        assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
        assert!(!bundle.exists());
        let anchors = dir.path().join(format!("anchors-{m:o}"));
        let fresh = s(&dir.path().join(format!("fresh-{m:o}.db")));
        let o = run_with(
            &[
                "append",
                "--store",
                &fresh,
                "--anchor-dir",
                &s(&anchors),
                "--signing-key",
                &s(&key),
            ],
            Some(STRONG),
            trace("a1").as_bytes(),
        );
        assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
        assert!(!Path::new(&fresh).exists() && !anchors.exists());
        for out in [&o.stdout, &o.stderr] {
            assert!(!text(out).contains(private.trim()));
        }
    }
}
