//! Signing-key transitions (issue 16): `keygen --rotate-from` writes a transition note signed
//! by both keys, `anchor --also-signing-key` dual-signs during the overlap, and `verify
//! --public-key OLD.pub --key-transitions DIR` walks the history; an anchor signed by a key
//! outside its validity is `unverifiable`. Go's `note.Open` opens the dual-signed anchor and
//! the transition with either key.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{run_with, text};
use trailseal_testkit::go_notecheck;

const SECRET: &str = "the-chain-secret-of-the-transitions-test-0123456789";

fn traces(range: std::ops::Range<u64>) -> Vec<u8> {
    range
        .map(|i| {
            trailseal_testkit::Trace::minimal(format!("t-{i}"))
                .invoked_at(format!("2026-07-01T00:00:{:02}Z", i % 60))
                .json()
                + "\n"
        })
        .collect::<String>()
        .into_bytes()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `keygen --out KEY --name NAME` plus `extra`.
fn keygen(key: &Path, name: &str, extra: &[&str]) {
    let mut a = vec!["keygen", "--out", p(key), "--name", name];
    a.extend_from_slice(extra);
    ok(&run_with(&a, None, b""));
}

fn pubkey(key: &Path) -> String {
    std::fs::read_to_string(format!("{}.pub", key.display()))
        .unwrap()
        .trim()
        .to_owned()
}

fn go_open(key: &str, note: &Path) -> serde_json::Value {
    let out = Command::new(go_notecheck())
        .args(["open", key, p(note)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A folder holding only `transition`.
fn folder_of(dir: &Path, name: &str, transition: &Path) -> PathBuf {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::copy(transition, d.join("step.transition")).unwrap();
    d
}

#[test]
fn a_signing_key_transition_is_walked_and_checked_by_validity() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    ok(&run_with(
        &["append", "--store", p(&db)],
        Some(SECRET),
        &traces(0..3),
    ));
    keygen(&old, "ops-old", &[]);
    let a1 = dir.path().join("a1.anchor");
    ok(&run_with(
        &[
            "anchor",
            "--store",
            p(&db),
            "--signing-key",
            p(&old),
            "--out",
            p(&a1),
        ],
        Some(SECRET),
        b"",
    ));
    // The new key, vouched for by the old one, effective now with 7 days of overlap.
    keygen(&new, "ops-new", &["--rotate-from", p(&old)]);
    let transition = PathBuf::from(format!("{}.transition", new.display()));
    let steps = folder_of(dir.path(), "steps", &transition);
    ok(&run_with(
        &["append", "--store", p(&db)],
        Some(SECRET),
        &traces(3..5),
    ));
    // During the overlap: signed by both.
    let a2 = dir.path().join("a2.anchor");
    ok(&run_with(
        &[
            "anchor",
            "--store",
            p(&db),
            "--signing-key",
            p(&new),
            "--also-signing-key",
            p(&old),
            "--out",
            p(&a2),
        ],
        Some(SECRET),
        b"",
    ));
    // Go opens the dual-signed anchor and the transition with either key.
    for key in [pubkey(&old), pubkey(&new)] {
        for note in [&a2, &transition] {
            let got = go_open(&key, note);
            assert_eq!(got["ok"], true, "{}: {got}", note.display());
        }
    }
    // Signed by the new key alone.
    ok(&run_with(
        &["append", "--store", p(&db)],
        Some(SECRET),
        &traces(5..6),
    ));
    let a3 = dir.path().join("a3.anchor");
    ok(&run_with(
        &[
            "anchor",
            "--store",
            p(&db),
            "--signing-key",
            p(&new),
            "--out",
            p(&a3),
        ],
        Some(SECRET),
        b"",
    ));
    let old_pub = format!("{}.pub", old.display());
    let verify = |anchors: &[&Path], extra: &[&str]| {
        let mut a = vec![
            "verify",
            "--store",
            p(&db),
            "--public-key",
            &old_pub,
            "--json",
        ];
        for x in anchors {
            a.extend_from_slice(&["--anchor", p(x)]);
        }
        a.extend_from_slice(extra);
        run_with(&a, Some(SECRET), b"")
    };
    // The old key alone does not vouch for a3; the history does.
    assert_eq!(verify(&[&a1, &a2, &a3], &[]).status.code(), Some(2));
    let out = verify(&[&a1, &a2, &a3], &["--key-transitions", p(&steps)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    // A second step (new -> newer) in the same folder: the walk goes on through both.
    let newer = dir.path().join("newer");
    keygen(&newer, "ops-newer", &["--rotate-from", p(&new)]);
    std::fs::copy(
        format!("{}.transition", newer.display()),
        steps.join("step2.transition"),
    )
    .unwrap();
    let a4 = dir.path().join("a4.anchor");
    ok(&run_with(
        &[
            "anchor",
            "--store",
            p(&db),
            "--signing-key",
            p(&newer),
            "--out",
            p(&a4),
        ],
        Some(SECRET),
        b"",
    ));
    let out = verify(&[&a1, &a2, &a3, &a4], &["--key-transitions", p(&steps)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // A history whose old key stopped being valid in 2020: an anchor the old key signed now
    // is outside its validity.
    let past = dir.path().join("past");
    keygen(
        &past,
        "ops-past",
        &[
            "--rotate-from",
            p(&old),
            "--effective",
            "2020-01-01T00:00:00Z",
            "--overlap",
            "1d",
        ],
    );
    let past_steps = folder_of(
        dir.path(),
        "past-steps",
        &PathBuf::from(format!("{}.transition", past.display())),
    );
    let out = verify(&[&a1], &["--key-transitions", p(&past_steps)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["detail"].as_str().unwrap().contains("valid"), "{v}");
    // Two transitions leaving one key: the history forked, nothing it vouches for is used.
    let both = dir.path().join("both");
    std::fs::create_dir_all(&both).unwrap();
    std::fs::copy(&transition, both.join("1.transition")).unwrap();
    std::fs::copy(
        format!("{}.transition", past.display()),
        both.join("2.transition"),
    )
    .unwrap();
    let out = verify(&[&a1], &["--key-transitions", p(&both)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("forked"),
        "{}",
        text(&out.stdout)
    );
    // A transition signed by the old key only is refused.
    let note = std::fs::read_to_string(&transition).unwrap();
    let one_sig: String = {
        let lines: Vec<&str> = note.lines().collect();
        lines[..lines.len() - 1].join("\n") + "\n"
    };
    let bad = dir.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("x.transition"), one_sig).unwrap();
    let out = verify(&[&a1], &["--key-transitions", p(&bad)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
}
