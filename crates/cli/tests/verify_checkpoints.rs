//! `trailseal verify --checkpoint FILE... --public-key K.pub [--witness-key VKEY... --quorum N]`
//! and the `tree` line of `trailseal anchor`: checkpoints made here with the core's
//! `Checkpoint::new(..).sign(..)` from the store's own tree (not with the `checkpoint`
//! command).

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use trailseal::core::checkpoint::Checkpoint;
use trailseal::core::cosignature::WitnessSigner;
use trailseal::core::note::NoteSigner;
use trailseal::core::tree::{MerkleHash, tree_hash};
use trailseal::store::SnapshotHashes;
use trailseal::{AuditLog, ChainKey, OpenMode, OpenOptions};

const SECRET: &str = "cli-checkpoint-secret-of-some-length";
const ORIGIN: &str = "cli.example/log/tree";

fn log_signer() -> NoteSigner {
    NoteSigner::from_seed("cli-log", &[8; 32]).unwrap()
}

fn open(path: &Path) -> AuditLog {
    let options = OpenOptions {
        mode: OpenMode::Write { create: true },
        ..OpenOptions::default()
    };
    AuditLog::open(path.to_str().unwrap(), &options)
        .unwrap()
        .with_key(ChainKey::from_secret(SECRET.as_bytes()).unwrap())
}

fn append(path: &Path, records: std::ops::Range<u64>, tag: &str) {
    let mut log = open(path);
    let texts: Vec<String> = records
        .map(|n| {
            trailseal_testkit::Trace::new(format!("{tag}-{n:05}"))
                .args(format!(r#"{{"n":{n}}}"#))
                .json()
        })
        .collect();
    log.append(&log.prepare(texts.iter().map(String::as_bytes)).unwrap())
        .unwrap();
}

fn root_at(path: &Path, size: u64) -> MerkleHash {
    let mut log = open(path);
    let mut snapshot = log.store_mut().snapshot(1).unwrap();
    let reader = snapshot.readers.first_mut().unwrap();
    tree_hash(size, &mut SnapshotHashes(reader.as_mut())).unwrap()
}

/// Writes the checkpoint of `store`'s tree at `size` (with `extra` appended: cosignatures) to
/// `dir/name`.
fn checkpoint(dir: &Path, name: &str, store: &Path, size: u64, extra: &str) -> PathBuf {
    let note = Checkpoint::new(ORIGIN, size, root_at(store, size).0)
        .unwrap()
        .sign(&log_signer())
        .unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("{note}{extra}")).unwrap();
    path
}

fn public_key(dir: &Path, signer: &NoteSigner, name: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, signer.verifier().to_key_string() + "\n").unwrap();
    path.to_str().unwrap().to_owned()
}

fn verify(
    store: &Path,
    public: &str,
    checkpoints: &[&Path],
    more: &[&str],
) -> (Output, serde_json::Value) {
    let mut args = vec![
        "verify",
        "--json",
        "--store",
        store.to_str().unwrap(),
        "--public-key",
        public,
    ];
    for c in checkpoints {
        args.push("--checkpoint");
        args.push(c.to_str().unwrap());
    }
    args.extend_from_slice(more);
    let o = common::run_with(&args, Some(SECRET), b"");
    let json = serde_json::from_str(common::text(&o.stdout).trim()).unwrap_or_else(|e| {
        panic!(
            "{e}: {} {}",
            common::text(&o.stdout),
            common::text(&o.stderr)
        )
    });
    (o, json)
}

#[test]
fn checkpoints_at_the_head_and_older_verify() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s.db");
    append(&s, 0..40, "a");
    let public = public_key(dir.path(), &log_signer(), "log.pub");
    let head = checkpoint(dir.path(), "head.cp", &s, 40, "");
    let old = checkpoint(dir.path(), "old.cp", &s, 17, "");
    append(&s, 40..50, "a");
    let (o, v) = verify(&s, &public, &[&head, &old], &[]);
    assert_eq!(o.status.code(), Some(0), "{v}");
    assert_eq!(v["status"], "verified", "{v}");
}

#[test]
fn rolled_back_forked_and_split_views_are_tampered() {
    let dir = tempfile::tempdir().unwrap();
    let (s, copy, other) = (
        dir.path().join("s.db"),
        dir.path().join("copy.db"),
        dir.path().join("other.db"),
    );
    let public = public_key(dir.path(), &log_signer(), "log.pub");
    append(&s, 0..10, "a");
    std::fs::copy(&s, &copy).unwrap();
    append(&s, 10..20, "a");
    append(&other, 0..20, "b");
    let ahead = checkpoint(dir.path(), "ahead.cp", &s, 20, "");
    let theirs = checkpoint(dir.path(), "theirs.cp", &other, 20, "");
    let theirs_old = checkpoint(dir.path(), "theirs-old.cp", &other, 8, "");

    let (o, v) = verify(&copy, &public, &[&ahead], &[]);
    assert_eq!(o.status.code(), Some(1), "{v}");
    assert_eq!(
        (v["kind"].as_str(), v["first_bad_seq"].as_u64()),
        (Some("truncated"), Some(10)),
        "{v}"
    );

    let (o, v) = verify(&s, &public, &[&theirs_old], &[]);
    assert_eq!(o.status.code(), Some(1), "{v}");
    assert_eq!(
        (v["kind"].as_str(), v["first_bad_seq"].as_u64()),
        (Some("fork"), Some(7)),
        "{v}"
    );

    let (o, v) = verify(&s, &public, &[&ahead, &theirs], &[]);
    assert_eq!(o.status.code(), Some(1), "{v}");
    assert_eq!(v["kind"], "fork", "{v}");
    let detail = v["detail"].as_str().unwrap();
    assert!(detail.contains("split view"), "{detail}");
    for name in [&ahead, &theirs] {
        assert!(detail.contains(name.to_str().unwrap()), "{detail}");
    }
    assert!(detail.contains(&root_at(&s, 20).to_base64()), "{detail}");
    assert!(
        detail.contains(&root_at(&other, 20).to_base64()),
        "{detail}"
    );
}

#[test]
fn a_checkpoint_of_another_key_is_unverifiable() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s.db");
    append(&s, 0..5, "a");
    let good = checkpoint(dir.path(), "good.cp", &s, 5, "");
    let other = NoteSigner::from_seed("cli-log", &[9; 32]).unwrap();
    let public = public_key(dir.path(), &other, "other.pub");
    let (o, v) = verify(&s, &public, &[&good], &[]);
    assert_eq!(o.status.code(), Some(2), "{v}");
    assert_eq!(v["reason"], "wrong public key", "{v}");
    assert!(v["detail"].as_str().unwrap().contains("good.cp"), "{v}");
}

#[test]
fn the_witness_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s.db");
    append(&s, 0..5, "a");
    let public = public_key(dir.path(), &log_signer(), "log.pub");
    let (w1, w2) = (
        WitnessSigner::from_seed("w1.example", &[1; 32]).unwrap(),
        WitnessSigner::from_seed("w2.example", &[2; 32]).unwrap(),
    );
    let body = Checkpoint::new(ORIGIN, 5, root_at(&s, 5).0).unwrap().body();
    let one = checkpoint(
        dir.path(),
        "one.cp",
        &s,
        5,
        &w1.cosign(&body, 1_700_000_000).unwrap(),
    );
    let (k1, k2) = (w1.witness_key().to_vkey(), w2.witness_key().to_vkey());
    let keys = ["--witness-key", &k1, "--witness-key", &k2];
    let (o, v) = verify(&s, &public, &[&one], &keys);
    assert_eq!(o.status.code(), Some(0), "quorum 1 by default: {v}");
    let mut two = keys.to_vec();
    two.extend(["--quorum", "2"]);
    let (o, v) = verify(&s, &public, &[&one], &two);
    assert_eq!(o.status.code(), Some(2), "{v}");
    assert_eq!(v["reason"], "witness quorum not met", "{v}");
    let both = checkpoint(
        dir.path(),
        "both.cp",
        &s,
        5,
        &(w1.cosign(&body, 1).unwrap() + &w2.cosign(&body, 2).unwrap()),
    );
    let (o, v) = verify(&s, &public, &[&both], &two);
    assert_eq!(o.status.code(), Some(0), "{v}");
    // A bad witness key is a usage error naming the flag.
    let o = common::run_with(
        &[
            "verify",
            "--store",
            s.to_str().unwrap(),
            "--public-key",
            &public,
            "--checkpoint",
            both.to_str().unwrap(),
            "--witness-key",
            "nonsense",
        ],
        Some(SECRET),
        b"",
    );
    assert_ne!(o.status.code(), Some(0));
    assert!(
        common::text(&o.stderr).contains("--witness-key #1"),
        "{}",
        common::text(&o.stderr)
    );
}

#[test]
fn the_anchor_command_pins_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s.db");
    append(&s, 0..12, "a");
    let key = dir.path().join("k");
    let o = common::run_with(&["keygen", "--out", key.to_str().unwrap()], None, b"");
    assert_eq!(o.status.code(), Some(0), "{}", common::text(&o.stderr));
    let o = common::run_with(
        &[
            "anchor",
            "--store",
            s.to_str().unwrap(),
            "--signing-key",
            key.to_str().unwrap(),
        ],
        Some(SECRET),
        b"",
    );
    assert_eq!(o.status.code(), Some(0), "{}", common::text(&o.stderr));
    let note = common::text(&o.stdout);
    assert!(
        note.contains(&format!("\ntree 12 {}\n", root_at(&s, 12))),
        "{note}"
    );
    let anchor = dir.path().join("a.note");
    std::fs::write(&anchor, &note).unwrap();
    let public = format!("{}.pub", key.display());
    let o = common::run_with(
        &[
            "verify",
            "--store",
            s.to_str().unwrap(),
            "--anchor",
            anchor.to_str().unwrap(),
            "--public-key",
            &public,
        ],
        Some(SECRET),
        b"",
    );
    assert_eq!(o.status.code(), Some(0), "{}", common::text(&o.stdout));
}
