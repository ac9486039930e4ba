//! Bundles with the store's Merkle tree (format 3, docs/format.md §10): `export --bundle`
//! embeds the signed checkpoint and each disclosed record's leaf, salt and inclusion proof;
//! `verify-bundle --public-key` checks every disclosed trace against the tree with no secret;
//! tampering with any of it is refused at the record; Go's sumdb/tlog accepts the proofs;
//! bundles of the earlier formats verify as before.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use trailseal::core::base64;
use trailseal::core::checkpoint::Checkpoint;
use trailseal::core::leaf::{Leaf, Salt, check_trace};
use trailseal::core::note::{NoteSigner, NoteVerifier};
use trailseal::core::tree::{MerkleHash, check_record, leaf_hash};
use trailseal_testkit::{Trace, go_checkpointcheck, go_tlogcheck};

use common::text;

const SECRET: &str = "bundle-tree-test-secret-of-32-bytes!";

fn run(args: &[&str], stdin: &str) -> Output {
    common::run_with(args, Some(SECRET), stdin.as_bytes())
}

fn ok(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// A store of `n` records appended by trailseal (so its tree is complete), principals
/// alternating `agent-0` / `agent-1`.
fn store(dir: &Path, name: &str, n: usize) -> String {
    let path = dir.join(name).to_str().unwrap().to_owned();
    let input: String = (0..n)
        .map(|i| {
            Trace::new(format!("act-{i}"))
                .principal(format!("agent-{}", i % 2))
                .json()
                + "\n"
        })
        .collect();
    ok(&run(&["append", "--store", &path], &input));
    path
}

fn keygen(dir: &Path) -> (String, String) {
    let key = dir.join("exporter").to_str().unwrap().to_owned();
    ok(&run(&["keygen", "--out", &key], ""));
    let public = format!("{key}.pub");
    (key, public)
}

fn export(store: &str, key: &str, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "export",
        "--store",
        store,
        "--bundle",
        out.to_str().unwrap(),
        "--signing-key",
        key,
        "--origin",
        "example.com/audit",
    ];
    args.extend_from_slice(extra);
    ok(&run(&args, ""))
}

/// `verify-bundle --json` with the public key only: the exit code and the verdict.
fn verify_public(bundle: &Path, public: &str) -> (Option<i32>, Value) {
    let o = common::run_with(
        &[
            "verify-bundle",
            bundle.to_str().unwrap(),
            "--public-key",
            public,
            "--json",
        ],
        None,
        b"",
    );
    let v = serde_json::from_str(text(&o.stdout).trim())
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&o.stdout), text(&o.stderr)));
    (o.status.code(), v)
}

fn codes(v: &Value) -> Vec<String> {
    v["caveats"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| c["code"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn caveat<'v>(v: &'v Value, code: &str) -> Option<&'v Value> {
    v["caveats"].as_array()?.iter().find(|c| c["code"] == code)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .split_inclusive('\n')
        .map(str::to_owned)
        .collect()
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap()
}

fn b64(v: &Value) -> Vec<u8> {
    base64::decode(v.as_str().unwrap()).unwrap()
}

/// Every disclosed entry the tree holds, checked here from the bundle's bytes alone with the
/// core's functions (no trailseal verifier): trace against leaf, leaf fields against the
/// entry, leaf through its proof against the checkpoint. Returns the checkpoint and, for each
/// such entry, (index, leaf bytes, proof).
#[allow(clippy::type_complexity)]
fn check_by_hand(
    bundle: &Path,
    public: &NoteVerifier,
) -> (Checkpoint, Vec<(u64, Vec<u8>, Vec<MerkleHash>)>) {
    let l = lines(bundle);
    let header = parse(&l[0]);
    assert_eq!(header["trailseal_bundle"], 3);
    let tree = &header["tree"];
    let base = tree["base"].as_u64().unwrap();
    let cp = Checkpoint::open(tree["checkpoint"].as_str().unwrap(), public).unwrap();
    assert_eq!(cp.origin(), "example.com/audit/tree");
    let mut checked = Vec::new();
    for line in &l[1..] {
        let e = parse(line);
        if e.get("seq").is_none() || e.get("trace").is_none() {
            assert!(e.get("tree").is_none(), "{line}");
            continue;
        }
        let seq = e["seq"].as_u64().unwrap();
        if seq - base >= cp.size() {
            assert!(e.get("tree").is_none(), "{line}");
            continue;
        }
        let t = &e["tree"];
        let leaf_bytes = b64(&t["leaf"]);
        let leaf = Leaf::parse(&leaf_bytes).unwrap();
        assert_eq!(leaf.seq, seq);
        assert_eq!(leaf.prev_hash.as_str(), e["prev_hash"].as_str().unwrap());
        assert_eq!(
            leaf.record_hash.as_str(),
            e["record_hash"].as_str().unwrap()
        );
        let salt = Salt::from_bytes(b64(&t["salt"]).try_into().unwrap());
        let canonical = trailseal::core::json::canonicalize(
            serde_json::to_string(&e["trace"]).unwrap().as_bytes(),
        )
        .unwrap();
        assert!(check_trace(&leaf, &salt, canonical.as_bytes()), "seq {seq}");
        let proof: Vec<MerkleHash> = t["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| MerkleHash::from_slice(&b64(h)).unwrap())
            .collect();
        check_record(
            &proof,
            cp.size(),
            &MerkleHash(*cp.root()),
            seq - base,
            &leaf_hash(&leaf_bytes),
        )
        .unwrap();
        checked.push((seq - base, leaf_bytes, proof));
    }
    (cp, checked)
}

fn public_of(path: &str) -> NoteVerifier {
    NoteVerifier::parse(std::fs::read_to_string(path).unwrap().trim()).unwrap()
}

#[test]
fn a_bundle_of_a_store_verifies_with_the_public_key_alone_on_every_backend() {
    for name in ["s.db", "s.jsonl"] {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), name, 150);
        let (key, public) = keygen(dir.path());
        let b = dir.path().join("all.bundle");
        let said = export(&s, &key, &b, &["--from-seq", "3", "--to-seq", "140"]);
        assert!(
            said.contains("signed checkpoint of the store's tree (size 150)"),
            "{said}"
        );
        let (code, v) = verify_public(&b, &public);
        assert_eq!(code, Some(0), "{v}");
        assert_eq!(v["status"], "verified", "{v}");
        assert_eq!(
            (v["entries"].as_u64(), v["disclosed"].as_u64()),
            (Some(138), Some(138))
        );
        assert_eq!(v["tree_checked"], 138, "{v}");
        assert_eq!(v["checkpoint"]["size"], 150);
        assert_eq!(v["checkpoint"]["origin"], "example.com/audit/tree");
        assert!(
            v["level"]
                .as_str()
                .unwrap()
                .contains("signed tree checkpoint"),
            "{v}"
        );
        assert_eq!(codes(&v), ["tree-checked"], "{v}");
        assert_eq!(caveat(&v, "tree-checked").unwrap()["count"], 138);
        assert_eq!(caveat(&v, "tree-checked").unwrap()["tree_size"], 150);
        // Every disclosed trace is checked against its leaf (by hand too).
        let (_, checked) = check_by_hand(&b, &public_of(&public));
        assert_eq!(checked.len(), 138);
        // With the secret as well: the MACs too, and no caveat.
        let o = run(
            &[
                "verify-bundle",
                b.to_str().unwrap(),
                "--public-key",
                &public,
                "--json",
            ],
            "",
        );
        let v: Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
        assert_eq!(
            (v["status"].as_str(), codes(&v).len()),
            (Some("verified"), 0),
            "{v}"
        );

        // A filter: withheld records carry no tree member, disclosed ones are all checked.
        let f = dir.path().join("filtered.bundle");
        export(&s, &key, &f, &["--principal", "agent-1"]);
        let (_, v) = verify_public(&f, &public);
        assert_eq!(v["status"], "verified", "{v}");
        assert_eq!(
            (v["disclosed"].as_u64(), v["tree_checked"].as_u64()),
            (Some(75), Some(75))
        );
        assert_eq!(codes(&v), ["withheld", "tree-checked"], "{v}");
        for line in lines(&f) {
            let e = parse(&line);
            if e.get("withheld").is_some() {
                assert!(e.get("tree").is_none());
            }
        }
    }
}

/// The tree of a JSONL store cut back (as a crash between the record lines and the tree file
/// leaves it): records after the tree's end keep `macs-not-checked`, the rest are checked.
#[test]
fn records_after_the_trees_end_keep_the_old_caveat() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "s.jsonl", 20);
    let tree = format!("{s}.tree");
    // The 24-byte header, then the stored hashes of 12 records.
    let count = trailseal::core::tree::stored_hash_count(12).unwrap();
    let bytes = std::fs::read(&tree).unwrap();
    std::fs::write(&tree, &bytes[..24 + 32 * count as usize]).unwrap();
    let (key, public) = keygen(dir.path());
    let b = dir.path().join("b.bundle");
    let said = export(&s, &key, &b, &[]);
    assert!(
        said.contains("8 disclosed records after the tree's end"),
        "{said}"
    );
    let (code, v) = verify_public(&b, &public);
    assert_eq!(
        (code, v["status"].as_str()),
        (Some(0), Some("verified")),
        "{v}"
    );
    assert_eq!(v["tree_checked"], 12);
    assert_eq!(caveat(&v, "macs-not-checked").unwrap()["count"], 8, "{v}");
    assert_eq!(caveat(&v, "tree-checked").unwrap()["count"], 12, "{v}");
    assert!(!v["level"].as_str().unwrap().contains("tree"), "{v}");
    let (_, checked) = check_by_hand(&b, &public_of(&public));
    assert_eq!(checked.len(), 12);
}

/// Rewrites line `at` of the bundle with `edit` applied to its JSON (the rest unchanged).
fn tampered(src: &Path, dst: &Path, at: usize, edit: impl FnOnce(&mut Value)) {
    let mut l = lines(src);
    let mut v = parse(&l[at]);
    edit(&mut v);
    // serde_json keeps member order (preserve_order) or sorts; the verifier reads the tree
    // check before it reads the members' order only when the order is kept.
    l[at] = reorder(&l[at], &v);
    std::fs::write(dst, l.concat()).unwrap();
}

/// `edited` serialised in the member order of `original`.
fn reorder(original: &str, edited: &Value) -> String {
    let keys: Vec<String> = original_keys(original);
    let mut out = String::from("{");
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(k).unwrap());
        out.push(':');
        out.push_str(&serde_json::to_string(&edited[k.as_str()]).unwrap());
    }
    out.push_str("}\n");
    out
}

/// The top-level member names of a JSON object line, in order.
fn original_keys(line: &str) -> Vec<String> {
    let doc = trailseal::core::json::parse(line.trim_end().as_bytes()).unwrap();
    doc.root().members().map(|(k, _)| k.to_owned()).collect()
}

fn flip_b64(s: &str, byte: usize) -> String {
    let mut raw = base64::decode(s).unwrap();
    raw[byte] ^= 1;
    base64::encode(&raw)
}

#[test]
fn tampering_with_a_trace_salt_leaf_proof_or_checkpoint_is_refused_at_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "s.db", 40);
    let (key, public) = keygen(dir.path());
    let b = dir.path().join("b.bundle");
    export(&s, &key, &b, &[]);
    assert_eq!(verify_public(&b, &public).1["status"], "verified");
    let l = lines(&b);
    // Entry lines: line 1 + seq for the first block (seq 0..39, one block).
    let at = |seq: usize| 1 + seq;
    let x = dir.path().join("x.bundle");
    let refused = |what: &str, kind: &str, seq: u64| {
        let (code, v) = verify_public(&x, &public);
        assert_eq!(code, Some(1), "{what}: {v}");
        assert_eq!(
            (
                v["status"].as_str(),
                v["kind"].as_str(),
                v["first_bad_seq"].as_u64()
            ),
            (Some("tampered"), Some(kind), Some(seq)),
            "{what}: {v}"
        );
        assert!(
            v["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("(seq {seq})")),
            "{what}: {v}"
        );
    };
    tampered(&b, &x, at(7), |e| {
        e["trace"]["action_id"] = "act-forged".into()
    });
    refused("trace", "content", 7);
    tampered(&b, &x, at(8), |e| {
        let s = flip_b64(e["tree"]["salt"].as_str().unwrap(), 0);
        e["tree"]["salt"] = s.into();
    });
    refused("salt", "content", 8);
    for (byte, what) in [
        (20, "leaf seq"),
        (30, "leaf prev_hash"),
        (60, "leaf record_hash"),
        (100, "leaf commitment"),
        (0, "leaf tag"),
    ] {
        tampered(&b, &x, at(9), |e| {
            let s = flip_b64(e["tree"]["leaf"].as_str().unwrap(), byte);
            e["tree"]["leaf"] = s.into();
        });
        // A changed commitment no longer matches the trace; anything else is the leaf's.
        refused(what, if byte == 100 { "content" } else { "tree" }, 9);
    }
    tampered(&b, &x, at(10), |e| {
        let p = e["tree"]["proof"].as_array_mut().unwrap();
        let h = flip_b64(p[2].as_str().unwrap(), 5);
        p[2] = h.into();
    });
    refused("proof hash", "tree", 10);
    tampered(&b, &x, at(11), |e| {
        e["tree"]["proof"].as_array_mut().unwrap().pop();
    });
    refused("proof one hash short", "tree", 11);
    tampered(&b, &x, at(11), |e| {
        e["tree"]["proof"]
            .as_array_mut()
            .unwrap()
            .push(Value::from(base64::encode(&[0u8; 32])));
    });
    refused("proof one hash long", "tree", 11);
    // Two records' proofs swapped.
    let p12 = parse(&l[at(12)])["tree"]["proof"].clone();
    let p13 = parse(&l[at(13)])["tree"]["proof"].clone();
    assert_ne!(p12, p13);
    tampered(&b, &x, at(12), |e| e["tree"]["proof"] = p13.clone());
    refused("proofs swapped", "tree", 12);
    // Two records' whole tree members swapped.
    let t14 = parse(&l[at(14)])["tree"].clone();
    tampered(&b, &x, at(15), |e| e["tree"] = t14.clone());
    refused("tree members swapped", "tree", 15);
    // A tree member removed, or added to a record... (every record here is in the tree).
    tampered(&b, &x, at(16), |e| {
        e.as_object_mut().unwrap().remove("tree");
    });
    refused("tree member removed", "malformed", 16);

    // The checkpoint: a changed root or size breaks its signature; another key's is refused.
    let header = parse(&l[0]);
    let note = header["tree"]["checkpoint"].as_str().unwrap().to_owned();
    let body: Vec<&str> = note.split('\n').collect();
    for (i, what) in [(1usize, "size"), (2, "root")] {
        let mut changed = body.clone();
        let forged = if i == 1 {
            "41".to_owned()
        } else {
            flip_b64(body[2], 3)
        };
        changed[i] = &forged;
        let forged_note = changed.join("\n");
        tampered(&b, &x, 0, |h| {
            h["tree"]["checkpoint"] = forged_note.clone().into()
        });
        let (code, v) = verify_public(&x, &public);
        assert_eq!(code, Some(1), "{what}: {v}");
        assert_eq!(
            (v["status"].as_str(), v["kind"].as_str()),
            (Some("tampered"), Some("content")),
            "{what}: {v}"
        );
        assert!(
            v["detail"]
                .as_str()
                .unwrap()
                .starts_with("line 1: the tree checkpoint"),
            "{what}: {v}"
        );
    }
    let other = NoteSigner::from_seed("exporter", &[9; 32]).unwrap();
    let cp = Checkpoint::open(&note, &public_of(&public)).unwrap();
    let foreign = cp.sign(&other).unwrap();
    tampered(&b, &x, 0, |h| {
        h["tree"]["checkpoint"] = foreign.clone().into()
    });
    let (code, v) = verify_public(&x, &public);
    assert_eq!(
        (code, v["status"].as_str()),
        (Some(2), Some("unverifiable")),
        "{v}"
    );
    // A validly signed checkpoint of another origin (made with the exporter's own key).
    let signer = trailseal::signing::read_signing_key(Path::new(&key)).unwrap();
    let elsewhere = Checkpoint::new("example.com/other/tree", cp.size(), *cp.root())
        .unwrap()
        .sign(&signer)
        .unwrap();
    tampered(&b, &x, 0, |h| {
        h["tree"]["checkpoint"] = elsewhere.clone().into()
    });
    let (_, v) = verify_public(&x, &public);
    assert_eq!(
        (v["status"].as_str(), v["kind"].as_str()),
        (Some("tampered"), Some("malformed")),
        "{v}"
    );
    // Bytes after the signed checkpoint text are not read as part of it.
    let padded = format!("{note}extra\n");
    tampered(&b, &x, 0, |h| {
        h["tree"]["checkpoint"] = padded.clone().into()
    });
    assert_eq!(verify_public(&x, &public).1["status"], "tampered");
    // Members added to the header's or an entry's tree.
    tampered(&b, &x, 0, |h| h["tree"]["size"] = 40.into());
    assert_eq!(verify_public(&x, &public).1["kind"], "malformed");
    tampered(&b, &x, at(3), |e| e["tree"]["index"] = 3.into());
    refused("extra tree member", "malformed", 3);
}

/// Go's sumdb/tlog `CheckRecord` accepts every embedded proof, for the leaf bytes embedded,
/// against the checkpoint Go's sumdb/note opens; and refuses a proof given for another index.
#[test]
fn go_checks_the_embedded_proofs_against_the_embedded_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "s.db", 300);
    let (key, public) = keygen(dir.path());
    let b = dir.path().join("b.bundle");
    export(&s, &key, &b, &["--from-seq", "250"]);
    let (cp, checked) = check_by_hand(&b, &public_of(&public));
    assert_eq!(checked.len(), 50);
    // Go opens the checkpoint with the public key.
    let note_file = dir.path().join("checkpoint.note");
    let header = parse(&lines(&b)[0]);
    std::fs::write(&note_file, header["tree"]["checkpoint"].as_str().unwrap()).unwrap();
    let vkey = std::fs::read_to_string(&public).unwrap();
    let o = Command::new(go_checkpointcheck())
        .args(["open", vkey.trim(), note_file.to_str().unwrap()])
        .output()
        .unwrap();
    let g: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(g["ok"], true, "{g}");
    assert_eq!(g["size"], "300");
    assert_eq!(g["hash"], base64::encode(cp.root()));
    let root = g["hash"].as_str().unwrap().to_owned();
    // Go's CheckRecord on each proof (tlogcheck answers once its input ends).
    let fmt = |p: &[MerkleHash]| {
        p.iter()
            .map(|h| h.to_base64())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut commands: Vec<String> = checked
        .iter()
        .map(|(index, leaf, proof)| {
            format!(
                "record 300 {index} {root} {} {}",
                base64::encode(leaf),
                fmt(proof)
            )
        })
        .collect();
    // And refuses a proof checked at another index, and a leaf changed by a bit.
    let (index, leaf, proof) = &checked[0];
    commands.push(format!(
        "record 300 {} {root} {} {}",
        index + 1,
        base64::encode(leaf),
        fmt(proof)
    ));
    let mut bent = leaf.clone();
    bent[50] ^= 1;
    commands.push(format!(
        "record 300 {index} {root} {} {}",
        base64::encode(&bent),
        fmt(proof)
    ));
    let mut go = Command::new(go_tlogcheck())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = go.stdin.take().unwrap();
    for c in &commands {
        writeln!(input, "{c}").unwrap();
    }
    drop(input);
    let answers: Vec<String> = BufReader::new(go.stdout.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    assert!(go.wait().unwrap().success());
    assert_eq!(answers.len(), commands.len());
    let (good, bad) = answers.split_at(checked.len());
    assert!(good.iter().all(|a| a == "ok"), "{good:?}");
    assert!(bad.iter().all(|a| a.starts_with("refused")), "{bad:?}");
}

/// Bundles of formats 1 and 2 (the repository's vectors) still verify, with the public key
/// alone as before: `macs-not-checked`, no tree.
#[test]
fn bundles_of_the_earlier_formats_verify_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The core's golden bundles (format 2), signed by the seed-3 key `golden/exporter`.
    let golden = NoteSigner::from_seed("golden/exporter", &[3; 32]).unwrap();
    let pubfile = dir.path().join("golden.pub");
    std::fs::write(&pubfile, golden.verifier().to_key_string()).unwrap();
    for name in ["bundle-hidden.jsonl", "bundle-disclosed.jsonl"] {
        let path = root.join("crates/core/tests/golden").join(name);
        assert!(lines(&path)[0].contains("\"trailseal_bundle\":2"));
        let (code, v) = verify_public(&path, pubfile.to_str().unwrap());
        assert_eq!(
            (code, v["status"].as_str()),
            (Some(0), Some("verified")),
            "{name}: {v}"
        );
        assert!(
            codes(&v).contains(&"macs-not-checked".to_owned()),
            "{name}: {v}"
        );
        assert!(
            v.get("checkpoint").is_none() && v.get("tree_checked").is_none(),
            "{v}"
        );
        assert_eq!(
            caveat(&v, "macs-not-checked").unwrap()["count"],
            v["disclosed"],
            "{name}: {v}"
        );
    }
    // A store without a tree (weaver-kernel's) still exports format 2.
    let s = dir.path().join("w.db");
    std::fs::copy(
        trailseal_testkit::vectors_dir().join("weaver-0.12.0/store.sqlite"),
        &s,
    )
    .unwrap();
    let (key, public) = keygen(dir.path());
    let b = dir.path().join("w.bundle");
    let o = common::run_with(
        &[
            "export",
            "--store",
            s.to_str().unwrap(),
            "--bundle",
            b.to_str().unwrap(),
            "--signing-key",
            &key,
        ],
        Some(trailseal_testkit::VECTOR_SECRET),
        b"",
    );
    assert!(ok(&o).contains("the store has no Merkle tree"));
    assert!(lines(&b)[0].contains("\"trailseal_bundle\":2"));
    let (_, v) = verify_public(&b, &public);
    assert_eq!(v["status"], "verified", "{v}");
    assert!(codes(&v).contains(&"macs-not-checked".to_owned()), "{v}");
}

/// The bundle at `src` written again with `signer` (its exporter's key), `cosignatures` (note
/// signature lines) added to its tree checkpoint: what a bundle that embeds a witnessed
/// checkpoint holds (`export` signs a new checkpoint, which no witness has cosigned). Every
/// entry, leaf, salt and proof is the exported one, checked again by the core's writer.
fn with_cosignatures(src: &Path, dst: &Path, signer: &NoteSigner, cosignatures: &str) {
    use trailseal::core::bundle::{
        BundleTree, BundleWriter, EntryContent, EntryTree, Withheld, WithheldReasons,
    };
    let canonical = |v: &Value| {
        trailseal::core::json::canonicalize(serde_json::to_string(v).unwrap().as_bytes()).unwrap()
    };
    let l = lines(src);
    let header = parse(&l[0]);
    let created = trailseal::core::Timestamp::parse(
        header["created"].as_str().unwrap(),
        trailseal::core::time::Offset::Required,
    )
    .unwrap();
    let key_id =
        trailseal::core::KeyId::parse(header["key_id"].as_str().unwrap().as_bytes()).unwrap();
    let reasons = if header["withheld_reasons"] == true {
        WithheldReasons::Disclosed
    } else {
        WithheldReasons::Hidden
    };
    let tree = BundleTree {
        base: header["tree"]["base"].as_u64().unwrap(),
        checkpoint: format!(
            "{}{cosignatures}",
            header["tree"]["checkpoint"].as_str().unwrap()
        ),
    };
    let (mut w, mut out) = BundleWriter::with_tree(
        signer,
        header["origin"].as_str().unwrap(),
        created,
        key_id,
        &canonical(&header["selection"]),
        reasons,
        &tree,
    )
    .unwrap();
    for line in &l[1..] {
        let e = parse(line);
        // Trailers and the manifest are written by the writer.
        let Some(seq) = e.get("seq").and_then(Value::as_u64) else {
            continue;
        };
        let trace = e.get("trace").map(canonical);
        let entry_tree = e.get("tree").map(|t| EntryTree {
            leaf: b64(&t["leaf"]).try_into().unwrap(),
            salt: Salt::from_bytes(b64(&t["salt"]).try_into().unwrap()),
            proof: t["proof"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| MerkleHash::from_slice(&b64(h)).unwrap())
                .collect(),
        });
        let content = match (&trace, &entry_tree) {
            (Some(t), Some(tree)) => EntryContent::DisclosedInTree {
                trace: t.as_bytes(),
                tree,
            },
            (Some(t), None) => EntryContent::Disclosed(t.as_bytes()),
            _ if e["withheld"] == "redacted" => EntryContent::Withheld(Withheld::Redacted),
            _ => EntryContent::Withheld(Withheld::Filter),
        };
        let prev = e["prev_hash"].as_str().unwrap().as_bytes();
        let rec = e["record_hash"].as_str().unwrap().as_bytes();
        out.push_str(&w.entry(seq, prev, rec, content).unwrap());
    }
    out.push_str(&w.finish().unwrap());
    std::fs::write(dst, out).unwrap();
}

/// `verify-bundle --json --public-key P ARGS...`, with no secret: the exit code and verdict.
fn verify_witnessed(bundle: &Path, public: &str, args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec![
        "verify-bundle",
        bundle.to_str().unwrap(),
        "--public-key",
        public,
        "--json",
    ];
    all.extend_from_slice(args);
    let o = common::run_with(&all, None, b"");
    let v = serde_json::from_str(text(&o.stdout).trim())
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&o.stdout), text(&o.stderr)));
    (o.status.code(), v)
}

/// Never verified: exit 2, `unverifiable`, `witness quorum not met`.
fn quorum_not_met(got: (Option<i32>, Value), what: &str) -> Value {
    let (code, v) = got;
    assert_eq!(
        (code, v["status"].as_str(), v["reason"].as_str()),
        (
            Some(2),
            Some("unverifiable"),
            Some("witness quorum not met")
        ),
        "{what}: {v}"
    );
    assert!(v.get("cosignatures").is_none(), "{what}: {v}");
    v
}

/// `verify-bundle --witness-key VKEY... [--quorum N]`: the tree checkpoint a bundle embeds must
/// carry valid cosignatures by N distinct configured witnesses (default 1), counted as
/// `verify` and `verify-proof` count them; fewer is `unverifiable`, `witness quorum not met`,
/// never `verified`; so is a configured witness's line that does not verify, even beside
/// enough good ones; one key under two names counts once; a tampered bundle stays tampered.
#[test]
fn the_witness_quorum_over_a_bundles_tree_checkpoint() {
    use trailseal::core::cosignature::WitnessSigner;
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "s.db", 70);
    let (key, public) = keygen(dir.path());
    let signer = trailseal::signing::read_signing_key(Path::new(&key)).unwrap();
    let exported = dir.path().join("exported.bundle");
    export(&s, &key, &exported, &["--principal", "agent-0"]);
    // The helper is faithful: with no cosignature it writes the exported bytes again.
    let again = dir.path().join("again.bundle");
    with_cosignatures(&exported, &again, &signer, "");
    assert_eq!(
        std::fs::read(&again).unwrap(),
        std::fs::read(&exported).unwrap()
    );
    let header = parse(&lines(&exported)[0]);
    let body = Checkpoint::open(
        header["tree"]["checkpoint"].as_str().unwrap(),
        &signer.verifier(),
    )
    .unwrap()
    .body();
    let (w1, w2) = (
        WitnessSigner::from_seed("w1.example", &[1; 32]).unwrap(),
        WitnessSigner::from_seed("w2.example", &[2; 32]).unwrap(),
    );
    // w1's key under another name: the same witness.
    let w1_alias = WitnessSigner::from_seed("alias.example", &[1; 32]).unwrap();
    let (k1, k2, k1_alias) = (
        w1.witness_key().to_vkey(),
        w2.witness_key().to_vkey(),
        w1_alias.witness_key().to_vkey(),
    );
    let cosigned = |name: &str, lines: &str| {
        let path = dir.path().join(name);
        with_cosignatures(&exported, &path, &signer, lines);
        path
    };
    let by_w1 = cosigned("w1.bundle", &w1.cosign(&body, 1_700_000_000).unwrap());
    let by_both = cosigned(
        "both.bundle",
        &(w1.cosign(&body, 1).unwrap() + &w2.cosign(&body, 2).unwrap()),
    );

    // Without witness keys, every bundle verifies as before (cosignatures are not counted).
    for b in [&exported, &by_w1, &by_both] {
        let (code, v) = verify_witnessed(b, &public, &[]);
        assert_eq!(
            (code, v["status"].as_str()),
            (Some(0), Some("verified")),
            "{v}"
        );
        assert!(v.get("cosignatures").is_none(), "{v}");
    }
    // The exported checkpoint carries no cosignature: the quorum of 1 is not met.
    let v = quorum_not_met(
        verify_witnessed(&exported, &public, &["--witness-key", &k1]),
        "no cosignature",
    );
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("0 of the configured witnesses"),
        "{v}"
    );
    // One cosignature: quorum 1 (the default) met; quorum 2 of two witnesses not.
    let (code, v) = verify_witnessed(&by_w1, &public, &["--witness-key", &k1]);
    assert_eq!(
        (code, v["status"].as_str(), v["cosignatures"].as_u64()),
        (Some(0), Some("verified"), Some(1)),
        "quorum 1 by default: {v}"
    );
    assert_eq!(v["tree_checked"], 35, "{v}");
    let two = ["--witness-key", &k1, "--witness-key", &k2, "--quorum", "2"];
    quorum_not_met(verify_witnessed(&by_w1, &public, &two), "1 of 2");
    // Another witness's cosignature is not the configured one's.
    quorum_not_met(
        verify_witnessed(&by_w1, &public, &["--witness-key", &k2]),
        "cosigned by an unconfigured witness",
    );
    let (code, v) = verify_witnessed(&by_both, &public, &two);
    assert_eq!(
        (code, v["status"].as_str(), v["cosignatures"].as_u64()),
        (Some(0), Some("verified"), Some(2)),
        "{v}"
    );
    // One key configured under two names, with a line under each: it counts once.
    let twice = cosigned(
        "twice.bundle",
        &(w1.cosign(&body, 1).unwrap() + &w1_alias.cosign(&body, 2).unwrap()),
    );
    let aliased = [
        "--witness-key",
        &k1,
        "--witness-key",
        &k1_alias,
        "--witness-key",
        &k2,
        "--quorum",
        "2",
    ];
    quorum_not_met(
        verify_witnessed(&twice, &public, &aliased),
        "one witness under two names",
    );
    let (code, v) = verify_witnessed(
        &twice,
        &public,
        &["--witness-key", &k1, "--witness-key", &k1_alias],
    );
    assert_eq!(
        (code, v["cosignatures"].as_u64()),
        (Some(0), Some(1)),
        "{v}"
    );
    // A configured witness's line that does not verify (over another body, or bent): never
    // verified, even beside a good line by another configured witness and a quorum of 1.
    let forged = w1
        .cosign(
            "other.example/tree\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
            1,
        )
        .unwrap();
    let good_w2 = w2.cosign(&body, 2).unwrap();
    let mut bent = w1.cosign(&body, 3).unwrap();
    let at = bent.len() - 5;
    bent.replace_range(at..at + 1, if &bent[at..at + 1] == "A" { "B" } else { "A" });
    for (name, lines) in [("forged", &forged), ("bent", &bent)] {
        let b = cosigned(&format!("{name}.bundle"), &format!("{lines}{good_w2}"));
        let keys = ["--witness-key", &k1, "--witness-key", &k2];
        let (code, v) = verify_witnessed(&b, &public, &keys);
        assert_ne!(code, Some(0), "{name}: {v}");
        assert_ne!(v["status"], "verified", "{name}: {v}");
        quorum_not_met((code, v), name);
        // Not configured, the line is not looked at.
        let (code, v) = verify_witnessed(&b, &public, &["--witness-key", &k2]);
        assert_eq!(code, Some(0), "{name}: {v}");
    }
    // A valid cosignature slipped into an exported bundle's header: the bundle's signatures
    // no longer hold (the header is signed), so it is tampered, not witnessed.
    let slipped = dir.path().join("slipped.bundle");
    tampered(&exported, &slipped, 0, |v| {
        let note = v["tree"]["checkpoint"].as_str().unwrap().to_owned();
        v["tree"]["checkpoint"] = (note + &w1.cosign(&body, 1).unwrap()).into();
    });
    let (code, v) = verify_witnessed(&slipped, &public, &["--witness-key", &k1]);
    assert_eq!(
        (code, v["status"].as_str()),
        (Some(1), Some("tampered")),
        "{v}"
    );
    // A tampered bundle stays tampered whatever its cosignatures.
    let bad = dir.path().join("bad.bundle");
    let at = lines(&by_both)
        .iter()
        .position(|l| l.contains("\"trace\""))
        .unwrap();
    tampered(&by_both, &bad, at, |v| {
        v["trace"]["action_id"] = "forged".into();
    });
    let (code, v) = verify_witnessed(&bad, &public, &two);
    assert_eq!(
        (code, v["status"].as_str()),
        (Some(1), Some("tampered")),
        "{v}"
    );
    // The text verdict names the witnesses.
    let o = common::run_with(
        &[
            "verify-bundle",
            by_both.to_str().unwrap(),
            "--public-key",
            &public,
            "--witness-key",
            &k1,
        ],
        None,
        b"",
    );
    assert!(
        ok(&o).contains("witnesses: 1 cosigned the tree checkpoint"),
        "{}",
        text(&o.stdout)
    );
    // A quorum of 0 or above the distinct keys, and --quorum alone, are usage errors (exit
    // 2, nothing printed on standard output).
    let usage: [&[&str]; 4] = [
        &["--witness-key", &k1, "--quorum", "0"],
        &[
            "--witness-key",
            &k1,
            "--witness-key",
            &k1_alias,
            "--quorum",
            "2",
        ],
        &["--quorum", "1"],
        &["--witness-key", "nonsense"],
    ];
    for args in usage {
        let mut all = vec![
            "verify-bundle",
            by_both.to_str().unwrap(),
            "--public-key",
            &public,
        ];
        all.extend_from_slice(args);
        let o = common::run_with(&all, None, b"");
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
        assert!(text(&o.stdout).is_empty(), "{args:?}");
    }
}

/// A bundle without a tree checkpoint (formats 1 and 2) has nothing for witnesses to have
/// cosigned: with a witness key it is `unverifiable`, `witness quorum not met`, never verified.
#[test]
fn a_bundle_without_a_tree_checkpoint_does_not_meet_a_witness_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let golden = NoteSigner::from_seed("golden/exporter", &[3; 32]).unwrap();
    let pubfile = dir.path().join("golden.pub");
    std::fs::write(&pubfile, golden.verifier().to_key_string()).unwrap();
    let w = trailseal::core::cosignature::WitnessSigner::from_seed("w1.example", &[1; 32]).unwrap();
    let vkey = w.witness_key().to_vkey();
    for name in ["bundle-hidden.jsonl", "bundle-disclosed.jsonl"] {
        let path = root.join("crates/core/tests/golden").join(name);
        let public = pubfile.to_str().unwrap();
        let (code, v) = verify_witnessed(&path, public, &[]);
        assert_eq!(code, Some(0), "{name}: {v}");
        let v = quorum_not_met(
            verify_witnessed(&path, public, &["--witness-key", &vkey]),
            name,
        );
        assert!(
            v["detail"].as_str().unwrap().contains("format 2"),
            "{name}: {v}"
        );
    }
}

/// `export --bundle --checkpoint FILE` embeds a checkpoint `trailseal checkpoint` wrote, with
/// the cosignatures witnesses added to it, so a bundle can meet `verify-bundle --witness-key`'s
/// quorum; records after the checkpoint's size are disclosed without a proof. A checkpoint of
/// another tree (a fork), of a larger tree (a rollback), signed by another key or for another
/// origin is refused, and no bundle is written.
#[test]
fn a_bundle_embeds_a_cosigned_checkpoint_given_to_export() {
    use trailseal::core::cosignature::WitnessSigner;
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "s.db", 40);
    let (key, public) = keygen(dir.path());
    let signer = trailseal::signing::read_signing_key(Path::new(&key)).unwrap();
    let checkpoint_of = |store: &str, key: &str, name: &str| {
        let out = dir.path().join(name);
        ok(&run(
            &[
                "checkpoint",
                "--store",
                store,
                "--signing-key",
                key,
                "--origin",
                "example.com/audit/tree",
                "--out",
                out.to_str().unwrap(),
            ],
            "",
        ));
        std::fs::read_to_string(out).unwrap()
    };
    let note = checkpoint_of(&s, &key, "cp40");
    let body = Checkpoint::open(&note, &signer.verifier()).unwrap().body();
    let w1 = WitnessSigner::from_seed("w1.example", &[1; 32]).unwrap();
    let k1 = w1.witness_key().to_vkey();
    let cosigned = dir.path().join("cp40.cosigned");
    std::fs::write(
        &cosigned,
        format!("{note}{}", w1.cosign(&body, 1_700_000_000).unwrap()),
    )
    .unwrap();
    // More records after the checkpoint: they are disclosed, outside its tree.
    let more: String = (40..45)
        .map(|i| Trace::new(format!("act-{i}")).json() + "\n")
        .collect();
    ok(&run(&["append", "--store", &s], &more));

    let bundle = dir.path().join("witnessed.bundle");
    export(
        &s,
        &key,
        &bundle,
        &["--checkpoint", cosigned.to_str().unwrap()],
    );
    let header = parse(&lines(&bundle)[0]);
    assert_eq!(
        header["tree"]["checkpoint"].as_str().unwrap(),
        std::fs::read_to_string(&cosigned).unwrap(),
        "the checkpoint is embedded as given, cosignature included"
    );
    let (code, v) = verify_witnessed(&bundle, &public, &["--witness-key", &k1]);
    assert_eq!(
        (code, v["status"].as_str()),
        (Some(0), Some("verified")),
        "{v}"
    );
    assert_eq!(v["cosignatures"].as_u64(), Some(1), "{v}");
    assert_eq!(
        (
            caveat(&v, "tree-checked").map(|c| c["tree_size"].clone()),
            caveat(&v, "tree-checked").map(|c| c["count"].clone()),
            caveat(&v, "macs-not-checked").map(|c| c["count"].clone()),
        ),
        (Some(40.into()), Some(40.into()), Some(5.into())),
        "records 40.. are outside the given checkpoint's tree: {v}"
    );
    // Without the cosignature, the same export does not meet the quorum.
    let plain = dir.path().join("plain.bundle");
    export(&s, &key, &plain, &[]);
    quorum_not_met(
        verify_witnessed(&plain, &public, &["--witness-key", &k1]),
        "a new checkpoint",
    );

    // Refused: a fork (another store's tree, same size), a rollback (a larger tree), another key,
    // another origin. Nothing is written.
    // `store` gives act-40 a principal, the append above did not: the trees differ from leaf 40.
    let other = store(dir.path(), "other.db", 41);
    let fork = dir.path().join("fork.cp");
    std::fs::write(&fork, checkpoint_of(&other, &key, "fork41")).unwrap();
    let bigger = store(dir.path(), "bigger.db", 60);
    let rollback = dir.path().join("rollback.cp");
    std::fs::write(&rollback, checkpoint_of(&bigger, &key, "big60")).unwrap();
    let (other_key, _) = {
        let k = dir
            .path()
            .join("other-exporter")
            .to_str()
            .unwrap()
            .to_owned();
        ok(&run(&["keygen", "--out", &k], ""));
        (k.clone(), format!("{k}.pub"))
    };
    let foreign = dir.path().join("foreign.cp");
    std::fs::write(&foreign, checkpoint_of(&s, &other_key, "foreign")).unwrap();
    let origin = dir.path().join("origin.cp");
    let out = dir.path().join("origin-cp");
    ok(&run(
        &[
            "checkpoint",
            "--store",
            &s,
            "--signing-key",
            &key,
            "--origin",
            "elsewhere.example/tree",
            "--out",
            out.to_str().unwrap(),
        ],
        "",
    ));
    std::fs::copy(&out, &origin).unwrap();
    for (what, cp, says) in [
        ("a fork", &fork, "another root"),
        ("a rollback", &rollback, "records it signed are gone"),
        ("another key", &foreign, "checkpoint"),
        (
            "another origin",
            &origin,
            "names the log elsewhere.example/tree",
        ),
    ] {
        let target = dir
            .path()
            .join(format!("{}.bundle", what.replace(' ', "-")));
        let o = run(
            &[
                "export",
                "--store",
                &s,
                "--bundle",
                target.to_str().unwrap(),
                "--signing-key",
                &key,
                "--origin",
                "example.com/audit",
                "--checkpoint",
                cp.to_str().unwrap(),
            ],
            "",
        );
        assert_ne!(o.status.code(), Some(0), "{what}: {}", text(&o.stdout));
        assert!(
            text(&o.stderr).contains(says),
            "{what}: {}",
            text(&o.stderr)
        );
        assert!(!target.exists(), "{what}: nothing is written");
    }
}
