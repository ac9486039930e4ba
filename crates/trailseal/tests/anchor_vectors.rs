//! The anchor vectors (`crates/testkit/vectors/anchors/`, format.md §9): an anchor in the
//! format before the `tree` line still verifies exactly as before; one with the `tree` line
//! pins the store's tree, is read by Go's `sumdb/note`, and catches removed tree hashes the
//! tree check alone only reports as a caveat.
//!
//! `cargo test -p trailseal --test anchor_vectors -- --ignored regenerate` writes them again.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;

use trailseal::core::anchor::Anchor;
use trailseal::core::note::{NoteSigner, NoteVerifier};
use trailseal::core::tree::stored_hash_count;
use trailseal::{
    AuditLog, Caveat, ChainKey, OpenMode, OpenOptions, TamperKind, Timestamp, Verdict,
    VerifyOptions,
};
use trailseal_testkit::{go_notecheck, vector};

const SECRET: &[u8] = b"anchor-vector-secret";
const SEED: [u8; 32] = [0x5a; 32];
const FILES: [&str; 2] = ["store.jsonl", "store.jsonl.tree"];

fn signer() -> NoteSigner {
    NoteSigner::from_seed("anchor-vector", &SEED).unwrap()
}

fn open(path: &Path) -> AuditLog {
    let options = OpenOptions {
        mode: OpenMode::Write { create: true },
        ..OpenOptions::default()
    };
    AuditLog::open(path.to_str().unwrap(), &options)
        .unwrap()
        .with_key(ChainKey::from_secret(SECRET).unwrap())
}

/// The vector store, copied into `dir`.
fn store(dir: &Path) -> PathBuf {
    for f in FILES {
        std::fs::copy(vector(&format!("anchors/{f}")), dir.join(f)).unwrap();
    }
    dir.join("store.jsonl")
}

fn note(name: &str) -> String {
    std::fs::read_to_string(vector(&format!("anchors/{name}"))).unwrap()
}

fn public() -> NoteVerifier {
    NoteVerifier::parse(&note("anchor-vector.pub")).unwrap()
}

fn verify(path: &Path, name: &str) -> Verdict {
    open(path).verify_with(
        &mut VerifyOptions::new().anchor_notes(&[(name.to_owned(), note(name))], &public()),
    )
}

#[test]
#[ignore = "writes the vectors"]
fn regenerate() {
    let dir = trailseal_testkit::vectors_dir().join("anchors");
    std::fs::create_dir_all(&dir).unwrap();
    for f in FILES {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let path = dir.join("store.jsonl");
    let mut log = open(&path);
    let texts: Vec<String> = (0..5)
        .map(|n| {
            trailseal_testkit::Trace::new(format!("vec-{n}"))
                .args(format!(r#"{{"n":{n}}}"#))
                .json()
        })
        .collect();
    log.append(&log.prepare(texts.iter().map(String::as_bytes)).unwrap())
        .unwrap();
    let time = Timestamp::parse(
        "2026-12-01T12:00:00Z",
        trailseal::core::time::Offset::Required,
    )
    .unwrap();
    let (mut anchor, tree_note) = open(&path)
        .anchor(&signer(), "vectors.example/anchors", time, true)
        .unwrap();
    std::fs::write(dir.join("tree.note"), &tree_note).unwrap();
    // The format before the tree line: the same anchor without it.
    anchor.tree = None;
    std::fs::write(dir.join("v1.note"), anchor.sign(&signer()).unwrap()).unwrap();
    std::fs::write(
        dir.join("anchor-vector.pub"),
        signer().verifier().to_key_string() + "\n",
    )
    .unwrap();
}

#[test]
fn an_anchor_made_before_the_tree_line_verifies_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = store(dir.path());
    let old = Anchor::open(&note("v1.note"), &public()).unwrap();
    assert_eq!(old.tree, None);
    assert!(!note("v1.note").contains("\ntree "));
    let v = verify(&path, "v1.note");
    assert!(v.is_verified(), "{v:?}");
    assert_eq!(v.caveats(), &[], "the anchor covers the head");
    // With tree hashes removed it still verifies (the tree is behind: a caveat), as before.
    cut_tree(&path, 3);
    let v = verify(&path, "v1.note");
    assert!(v.is_verified(), "{v:?}");
    assert!(
        v.caveats().contains(&Caveat::TreeIncomplete {
            count: 2,
            first_seq: 3
        }),
        "{v:?}"
    );
}

/// Keeps the stored hashes of the first `size` leaves of a JSONL store's tree file.
fn cut_tree(path: &Path, size: u64) {
    let tree = path.with_extension("jsonl.tree");
    let bytes = std::fs::read(&tree).unwrap();
    let keep = 24 + 32 * stored_hash_count(size).unwrap() as usize;
    std::fs::write(&tree, &bytes[..keep]).unwrap();
}

#[test]
fn an_anchor_with_the_tree_line_pins_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let path = store(dir.path());
    let text = note("tree.note");
    let anchor = Anchor::open(&text, &public()).unwrap();
    let tree = anchor.tree.unwrap();
    assert_eq!((anchor.size, tree.size), (5, 5));
    // The body: the old one and one more line, last.
    let body = public().open(&text).unwrap().to_owned();
    let old = public().open(&note("v1.note")).unwrap().to_owned();
    assert_eq!(body, format!("{old}tree 5 {}\n", tree.root));
    let v = verify(&path, "tree.note");
    assert!(v.is_verified(), "{v:?}");
    cut_tree(&path, 3);
    let v = verify(&path, "tree.note");
    assert_eq!(
        (v.kind(), v.first_bad_seq()),
        (Some(TamperKind::Tree), Some(3)),
        "{v:?}"
    );
    assert!(v.detail().contains("anchor tree.note"), "{v:?}");
}

#[test]
fn go_sumdb_note_opens_both_anchors() {
    for name in ["v1.note", "tree.note"] {
        let out = Command::new(go_notecheck())
            .args([
                "open",
                note("anchor-vector.pub").trim(),
                vector(&format!("anchors/{name}")).to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(got["ok"], true, "{name}: {got}");
        assert_eq!(
            got["text"].as_str().unwrap(),
            public().open(&note(name)).unwrap(),
            "{name}"
        );
    }
}
