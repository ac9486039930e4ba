//! `trailseal seal` and `append --seal-dir --seal-key`: forward-secure seals from the command
//! line, checked by `verify --seals`, and every certificate and seal opened by Go's reference
//! `sumdb/note` with the key the previous certificate names. No command shows a private key.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{run_with, text};
use trailseal_testkit::go_notecheck;

const SECRET: &str = "the-chain-secret-of-the-seal-cli-test-0123456789";

fn traces(range: std::ops::Range<u64>) -> Vec<u8> {
    range
        .map(|i| {
            trailseal_testkit::Trace::minimal(format!("sealed-{i}"))
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

/// What `note.Open` in Go says of `note_file` with `key`.
fn go_open(key: &str, note_file: &Path) -> serde_json::Value {
    let out = Command::new(go_notecheck())
        .args(["open", key, note_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn seals_from_the_command_line_verify_and_open_in_go() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let seals = dir.path().join("seals");
    let state = dir.path().join("seal.state");
    let (s, sd, st) = (
        db.to_str().unwrap(),
        seals.to_str().unwrap(),
        state.to_str().unwrap(),
    );
    ok(&run_with(
        &["append", "--store", s],
        Some(SECRET),
        &traces(0..2),
    ));
    let init = ok(&run_with(
        &[
            "seal",
            "--store",
            s,
            "--seal-dir",
            sd,
            "--seal-key",
            st,
            "--init",
            "--epoch-records",
            "3",
            "--epoch-time",
            "1h",
            "--json",
        ],
        Some(SECRET),
        b"",
    ));
    let root: serde_json::Value = serde_json::from_str(&init).unwrap();
    let root = root["root_public_key"].as_str().unwrap().to_owned();
    let root_file = dir.path().join("root.pub");
    std::fs::write(&root_file, format!("{root}\n")).unwrap();
    // A second --init changes nothing.
    let again = run_with(
        &[
            "seal",
            "--store",
            s,
            "--seal-dir",
            sd,
            "--seal-key",
            st,
            "--init",
        ],
        Some(SECRET),
        b"",
    );
    assert!(!again.status.success());
    // One commit a record: epochs 0 and 1 close by count as the records go in.
    let out = ok(&run_with(
        &[
            "append",
            "--store",
            s,
            "--commit-every",
            "1",
            "--seal-dir",
            sd,
            "--seal-key",
            st,
        ],
        Some(SECRET),
        &traces(2..9),
    ));
    assert!(!out.contains("PRIVATE"), "{out}");
    // Not due: nothing sealed; forced: epoch 2.
    let r: serde_json::Value = serde_json::from_str(&ok(&run_with(
        &[
            "seal",
            "--store",
            s,
            "--seal-dir",
            sd,
            "--seal-key",
            st,
            "--json",
        ],
        Some(SECRET),
        b"",
    )))
    .unwrap();
    assert_eq!(r["sealed"], serde_json::Value::Null, "{r}");
    let r: serde_json::Value = serde_json::from_str(&ok(&run_with(
        &[
            "seal",
            "--store",
            s,
            "--seal-dir",
            sd,
            "--seal-key",
            st,
            "--force",
            "--json",
        ],
        Some(SECRET),
        b"",
    )))
    .unwrap();
    assert_eq!(
        (&r["sealed"], &r["reason"]),
        (&2.into(), &"forced".into()),
        "{r}"
    );

    let verify = |extra: &[&str]| {
        let mut a = vec![
            "verify",
            "--store",
            s,
            "--seals",
            sd,
            "--seal-public-key",
            root_file.to_str().unwrap(),
            "--json",
        ];
        a.extend_from_slice(extra);
        run_with(&a, Some(SECRET), b"")
    };
    let out = verify(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    // Far in the future the open epoch (1 h long, 5 min of grace) is overdue.
    let out = verify(&["--now", "2099-01-01T00:00:00Z"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "truncated", "{v}");

    // Go opens every certificate with the key before it and every seal with its epoch's key.
    let mut key = root.clone();
    for e in 0..=3u64 {
        let cert = seals.join(format!("{e}.cert"));
        let got = go_open(&key, &cert);
        assert_eq!(got["ok"], true, "cert {e}: {got}");
        let body = got["text"].as_str().unwrap().to_owned();
        let epoch_key = body
            .lines()
            .find_map(|l| l.strip_prefix("key "))
            .unwrap()
            .to_owned();
        if e < 3 {
            let got = go_open(&epoch_key, &seals.join(format!("{e}.seal")));
            assert_eq!(got["ok"], true, "seal {e}: {got}");
            assert!(
                got["text"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("\nepoch {e}\n")),
                "{got}"
            );
        }
        key = epoch_key;
    }
    // A seal replaced by another: tampered, kind seal.
    std::fs::copy(seals.join("0.seal"), seals.join("1.seal")).unwrap();
    let out = verify(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "seal", "{v}");
    // The state never leaves the state file.
    let state_text = std::fs::read_to_string(&state).unwrap();
    assert!(state_text.contains("PRIVATE+KEY+"));
    for entry in std::fs::read_dir(&seals).unwrap() {
        let t = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!t.contains("PRIVATE"), "{t}");
    }
}
