//! The transparency-log commands end to end: `checkpoint`, `prove`, `consistency` and
//! `verify-proof`, checked by code nobody here wrote (Go's `sumdb/note` and `sumdb/tlog`
//! through `interop/checkpointcheck` and `interop/tlogcheck`, and a real `aics-witness` on
//! loopback), every hostile proof file refused, forks and rollbacks refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

mod common;

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use trailseal::core::base64;
use trailseal::core::checkpoint::Checkpoint;
use trailseal::core::leaf::{LEAF_LEN, Leaf};
use trailseal::core::note::NoteVerifier;
use trailseal::core::tlog_proof::TlogProof;
use trailseal::core::tree::MerkleHash;
use trailseal::tlog::ProofExtra;
use trailseal_testkit::witness::{AicsWitness, aics_verify_checkpoint, aics_witness_or_skip};
use trailseal_testkit::{Trace, go_checkpointcheck, go_tlogcheck, signer};

use common::{run_with, text};

const SECRET: &str = "tlog-cli-test: 9f2c81d4e07b3a65c1f8d2e9047ab3c5";

/// A store in a temporary folder, a signing key and its public key.
struct Fixture {
    dir: tempfile::TempDir,
    store: String,
    key: String,
    public: String,
    next: u64,
}

impl Fixture {
    fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("log-key");
        let out = run_with(
            &[
                "keygen",
                "--out",
                key.to_str().unwrap(),
                "--name",
                "trailseal.test/log",
            ],
            None,
            b"",
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        Self {
            store: dir.path().join(name).display().to_string(),
            key: key.display().to_string(),
            public: format!("{}.pub", key.display()),
            dir,
            next: 0,
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn verifier(&self) -> NoteVerifier {
        NoteVerifier::parse(std::fs::read_to_string(&self.public).unwrap().trim()).unwrap()
    }

    /// Appends `n` records, their args marked with `variant` (so two copies can diverge).
    fn append(&mut self, n: u64, variant: &str) {
        let mut input = String::new();
        for _ in 0..n {
            let i = self.next;
            self.next += 1;
            input.push_str(
                &Trace::new(format!("{variant}-{i}"))
                    .args(format!(r#"{{"n":{i},"v":"{variant}"}}"#))
                    .json(),
            );
            input.push('\n');
        }
        let out = self.run(&["append", "--store", &self.store], input.as_bytes());
        assert!(out.status.success(), "append: {}", text(&out.stderr));
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        run_with(args, Some(SECRET), stdin)
    }

    /// `checkpoint --out FILE`, which must succeed; the checkpoint.
    fn checkpoint(&self, file: &str) -> Checkpoint {
        let out = self.run(
            &[
                "checkpoint",
                "--store",
                &self.store,
                "--signing-key",
                &self.key,
                "--out",
                file,
            ],
            b"",
        );
        assert!(out.status.success(), "checkpoint: {}", text(&out.stderr));
        Checkpoint::open(&std::fs::read_to_string(file).unwrap(), &self.verifier()).unwrap()
    }

    /// `prove --seq SEQ --checkpoint CP --out FILE [--with-trace]`.
    fn prove(&self, seq: u64, cp: &str, file: &str, with_trace: bool) -> Output {
        let seq = seq.to_string();
        let mut args = vec![
            "prove",
            "--store",
            &self.store,
            "--seq",
            &seq,
            "--checkpoint",
            cp,
            "--public-key",
            &self.public,
            "--out",
            file,
        ];
        if with_trace {
            args.push("--with-trace");
        }
        self.run(&args, b"")
    }

    /// `verify-proof FILE --public-key K --json EXTRA...` (no secret): exit code and verdict.
    fn verify_proof(&self, file: &str, extra: &[&str]) -> (i32, Value) {
        let mut args = vec!["verify-proof", file, "--public-key", &self.public, "--json"];
        args.extend_from_slice(extra);
        let out = run_with(&args, None, b"");
        let verdict: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {} {}", text(&out.stdout), text(&out.stderr)));
        (out.status.code().unwrap(), verdict)
    }
}

/// Runs Go's tlogcheck on `commands`; one answer a command.
fn go_tlog(commands: &[String]) -> Vec<String> {
    let mut child = Command::new(go_tlogcheck())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = commands.join("\n") + "\n";
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let answers: Vec<String> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    writer.join().unwrap().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(answers.len(), commands.len());
    answers
}

fn proof_arg(hashes: impl IntoIterator<Item = String>) -> String {
    let list: Vec<String> = hashes.into_iter().collect();
    if list.is_empty() {
        "-".into()
    } else {
        list.join(",")
    }
}

/// Go's `record` check of a proof file: CheckRecord over the leaf entry in its extra.
fn go_record_command(proof: &TlogProof, cp: &Checkpoint) -> String {
    let extra = ProofExtra::parse(proof.extra().unwrap()).unwrap();
    format!(
        "record {} {} {} {} {}",
        cp.size(),
        proof.index(),
        base64::encode(cp.root()),
        base64::encode(&extra.leaf),
        proof_arg(proof.hashes().iter().map(|h| base64::encode(h)))
    )
}

/// The store's tree root at `size` (read by the library).
fn root_at(store: &str, size: u64) -> MerkleHash {
    let mut log = trailseal::AuditLog::open(store, &trailseal::OpenOptions::default()).unwrap();
    log.with_tree(|t| t.root_at(size)).unwrap()
}

/// Deterministic "random" picks in `0..n`.
fn picks(n: u64, count: usize, seed: u64) -> Vec<u64> {
    let mut x = seed | 1;
    (0..count)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        })
        .collect()
}

#[test]
fn go_checks_checkpoints_inclusion_proofs_and_consistency_proofs() {
    let mut f = Fixture::new("s.db");
    f.append(40, "a");
    let cp40_file = f.path("cp40");
    let cp40 = f.checkpoint(&cp40_file);
    assert_eq!(cp40.size(), 40);
    assert_eq!(cp40.origin(), "trailseal.local/s.db/tree");

    // Go's note.Open and tlog.ParseTree read the checkpoint (exactly three body lines).
    let out = Command::new(go_checkpointcheck())
        .args([
            "open",
            f.verifier().to_key_string().as_str(),
            cp40_file.as_str(),
        ])
        .output()
        .unwrap();
    let go: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(go["ok"], true, "{go}");
    assert_eq!(go["size"], "40");
    assert_eq!(go["lines"], 3);
    assert_eq!(go["hash"], base64::encode(cp40.root()));

    let mut commands = Vec::new();
    let mut tampered = Vec::new();
    let mut prove_and_check = |f: &Fixture, seq: u64, cp_file: &str, cp: &Checkpoint| {
        let file = f.path(&format!("p-{seq}-{}", cp.size()));
        let out = f.prove(seq, cp_file, &file, seq.is_multiple_of(2));
        assert!(out.status.success(), "prove {seq}: {}", text(&out.stderr));
        let proof = TlogProof::parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(proof.index(), seq);
        assert_eq!(
            proof.checkpoint_note(),
            std::fs::read_to_string(cp_file).unwrap()
        );
        let extra = ProofExtra::parse(proof.extra().unwrap()).unwrap();
        assert_eq!(Leaf::parse(&extra.leaf).unwrap().seq, seq);
        assert_eq!(extra.salt.is_some(), seq.is_multiple_of(2));
        commands.push(go_record_command(&proof, cp));
        // The same proof one index off: Go refuses it too (the check is not vacuous).
        let off = TlogProof::new(
            proof.extra().map(<[u8]>::to_vec),
            (seq + 1) % cp.size(),
            proof.hashes().to_vec(),
            proof.checkpoint_note().to_owned(),
        )
        .unwrap();
        tampered.push(go_record_command(&off, cp));
        let (code, verdict) = f.verify_proof(&file, &[]);
        assert_eq!(
            (code, verdict["status"].as_str()),
            (0, Some("verified")),
            "{verdict}"
        );
        assert_eq!(verdict["seq"], seq);
    };
    for seq in picks(40, 12, 7).into_iter().chain([0, 39]) {
        prove_and_check(&f, seq, &cp40_file, &cp40);
    }

    // More records; proofs for the older checkpoint still come out for exactly its size.
    f.append(25, "a");
    let cp65_file = f.path("cp65");
    let cp65 = f.checkpoint(&cp65_file);
    assert_eq!(cp65.size(), 65);
    for seq in picks(40, 10, 11) {
        prove_and_check(&f, seq, &cp40_file, &cp40);
    }
    for seq in picks(65, 10, 13).into_iter().chain([64]) {
        prove_and_check(&f, seq, &cp65_file, &cp65);
    }
    // A seq the older checkpoint does not cover is refused, nothing written.
    let late = f.path("late");
    let out = f.prove(50, &cp40_file, &late, false);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("seq 50: not in the tree of size 40"));
    assert!(!Path::new(&late).exists());

    let answers = go_tlog(&commands);
    assert!(answers.iter().all(|a| a == "ok"), "{answers:?}");
    let answers = go_tlog(&tampered);
    assert!(
        answers.iter().all(|a| a.starts_with("refused")),
        "{answers:?}"
    );

    // Consistency proofs: Go's CheckTree between the signed roots, and between every size
    // (roots from the store) and the newest checkpoint.
    let mut commands = Vec::new();
    let mut expected = Vec::new();
    for old in [1u64, 2, 3, 7, 8, 31, 39, 40, 41, 64, 65] {
        let out = f.run(
            &[
                "consistency",
                "--store",
                &f.store,
                "--old",
                &old.to_string(),
                "--new",
                "65",
            ],
            b"",
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let hashes: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
        assert_eq!(hashes.is_empty(), old == 65, "old {old}");
        let old_root = if old == 40 {
            MerkleHash(*cp40.root())
        } else {
            root_at(&f.store, old)
        };
        let command = |hashes: &[String]| {
            format!(
                "consistency 65 {old} {} {} {}",
                base64::encode(cp65.root()),
                old_root.to_base64(),
                proof_arg(hashes.iter().cloned())
            )
        };
        commands.push(command(&hashes));
        expected.push(true);
        if !hashes.is_empty() {
            // One hash dropped, or one altered: refused.
            commands.push(command(&hashes[1..]));
            expected.push(false);
            let mut altered = hashes.clone();
            altered[0] = MerkleHash([7; 32]).to_base64();
            commands.push(command(&altered));
            expected.push(false);
        }
    }
    let answers = go_tlog(&commands);
    for ((c, a), ok) in commands.iter().zip(&answers).zip(&expected) {
        assert_eq!(a == "ok", *ok, "{c}: {a}");
    }

    // --out writes once; sizes out of range are refused.
    let cfile = f.path("c40-65");
    for _ in 0..2 {
        let out = f.run(
            &[
                "consistency",
                "--store",
                &f.store,
                "--old",
                "40",
                "--out",
                &cfile,
            ],
            b"",
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    for (old, new) in [("0", "65"), ("41", "40"), ("1", "66")] {
        let out = f.run(
            &[
                "consistency",
                "--store",
                &f.store,
                "--old",
                old,
                "--new",
                new,
            ],
            b"",
        );
        assert_eq!(out.status.code(), Some(2), "{old} {new}");
    }
}

/// A valid proof file's text, its parts, and variants.
struct Hostile<'f> {
    f: &'f Fixture,
    proof: TlogProof,
    n: usize,
}

impl Hostile<'_> {
    /// Writes `text` to a new file; verify-proof's exit code and verdict.
    fn check(&mut self, text: &str, extra: &[&str]) -> (i32, Value) {
        self.n += 1;
        let file = self.f.path(&format!("hostile-{}", self.n));
        std::fs::write(&file, text).unwrap();
        self.f.verify_proof(&file, extra)
    }

    fn with(
        &self,
        extra: Option<Vec<u8>>,
        index: u64,
        hashes: Vec<[u8; 32]>,
        note: &str,
    ) -> String {
        let mut t = String::from("c2sp.org/tlog-proof@v1\n");
        if let Some(e) = extra {
            t.push_str(&format!("extra {}\n", base64::encode(&e)));
        }
        t.push_str(&format!("index {index}\n"));
        for h in hashes {
            t.push_str(&base64::encode(&h));
            t.push('\n');
        }
        t.push('\n');
        t.push_str(note);
        t
    }

    fn extra(&self) -> ProofExtra {
        ProofExtra::parse(self.proof.extra().unwrap()).unwrap()
    }
}

fn expect(got: (i32, Value), status: &str, code_field: &str, code: &str, what: &str) {
    let (exit, verdict) = got;
    assert_eq!(verdict["status"], status, "{what}: {verdict}");
    assert_eq!(verdict[code_field], code, "{what}: {verdict}");
    assert_eq!(exit, if status == "tampered" { 1 } else { 2 }, "{what}");
}

#[test]
fn hostile_proof_files_are_never_verified() {
    let mut f = Fixture::new("s.jsonl");
    f.append(13, "h");
    let cp_file = f.path("cp");
    let cp = f.checkpoint(&cp_file);
    let pfile = f.path("p5");
    let out = f.prove(5, &cp_file, &pfile, true);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let good = std::fs::read_to_string(&pfile).unwrap();
    let plain_file = f.path("p5-plain");
    assert!(f.prove(5, &cp_file, &plain_file, false).status.success());
    let proof = TlogProof::parse(&good).unwrap();
    let note = proof.checkpoint_note().to_owned();
    let hashes = proof.hashes().to_vec();
    assert_eq!(hashes.len(), 4);
    let extra_bytes = proof.extra().unwrap().to_vec();
    let mut h = Hostile { f: &f, proof, n: 0 };
    let trace = Trace::new("h-5").args(r#"{"n":5,"v":"h"}"#).json();
    let trace_file = f.path("t5.json");
    std::fs::write(&trace_file, &trace).unwrap();
    let other_trace = f.path("t-other.json");
    std::fs::write(
        &other_trace,
        Trace::new("h-5").args(r#"{"n":6,"v":"h"}"#).json(),
    )
    .unwrap();

    // Positive controls: the file as written, with its trace, with the trace given.
    let (code, v) = h.check(&good, &[]);
    assert_eq!(
        (code, &v["status"], &v["trace_checked"]),
        (0, &"verified".into(), &true.into()),
        "{v}"
    );
    let (code, v) = h.check(&good, &["--trace", &trace_file]);
    assert_eq!((code, &v["status"]), (0, &"verified".into()), "{v}");
    assert!(h.with(Some(extra_bytes.clone()), 5, hashes.clone(), &note) == good);

    // Wrong index (same length of path, then another length, then out of range).
    expect(
        h.check(
            &h.with(Some(extra_bytes.clone()), 4, hashes.clone(), &note),
            &[],
        ),
        "tampered",
        "kind",
        "proof",
        "index 4",
    );
    expect(
        h.check(
            &h.with(Some(extra_bytes.clone()), 12, hashes.clone(), &note),
            &[],
        ),
        "tampered",
        "kind",
        "malformed",
        "index 12",
    );
    expect(
        h.check(
            &h.with(Some(extra_bytes.clone()), 13, hashes.clone(), &note),
            &[],
        ),
        "tampered",
        "kind",
        "malformed",
        "index 13 = size",
    );
    expect(
        h.check(
            &h.with(Some(extra_bytes.clone()), u64::MAX, hashes.clone(), &note),
            &[],
        ),
        "tampered",
        "kind",
        "malformed",
        "index max",
    );
    // Missing, extra, empty, altered, reordered hashes.
    expect(
        h.check(
            &h.with(Some(extra_bytes.clone()), 5, hashes[..3].to_vec(), &note),
            &[],
        ),
        "tampered",
        "kind",
        "malformed",
        "missing hash",
    );
    let mut more = hashes.clone();
    more.push(hashes[0]);
    expect(
        h.check(&h.with(Some(extra_bytes.clone()), 5, more, &note), &[]),
        "tampered",
        "kind",
        "malformed",
        "extra hash",
    );
    expect(
        h.check(
            &h.with(Some(extra_bytes.clone()), 5, Vec::new(), &note),
            &[],
        ),
        "tampered",
        "kind",
        "malformed",
        "empty proof",
    );
    for i in 0..hashes.len() {
        let mut bad = hashes.clone();
        bad[i][i] ^= 1;
        expect(
            h.check(&h.with(Some(extra_bytes.clone()), 5, bad, &note), &[]),
            "tampered",
            "kind",
            "proof",
            "altered hash",
        );
    }
    let mut reversed = hashes.clone();
    reversed.reverse();
    expect(
        h.check(&h.with(Some(extra_bytes.clone()), 5, reversed, &note), &[]),
        "tampered",
        "kind",
        "proof",
        "reordered",
    );
    // The leaf entry altered (each field), its tag, its length; extra missing or respelled.
    for at in [16usize, 23, 24, 56, 88, 119] {
        let mut e = h.extra();
        e.leaf[at] ^= 1;
        expect(
            h.check(&h.with(Some(e.to_bytes()), 5, hashes.clone(), &note), &[]),
            "tampered",
            "kind",
            "proof",
            &format!("leaf byte {at}"),
        );
    }
    let mut e = h.extra();
    e.leaf[0] ^= 1;
    expect(
        h.check(&h.with(Some(e.to_bytes()), 5, hashes.clone(), &note), &[]),
        "tampered",
        "kind",
        "malformed",
        "leaf tag",
    );
    let short = format!(
        "{{\"leaf\":\"{}\"}}",
        base64::encode(&h.extra().leaf[..LEAF_LEN - 1])
    );
    expect(
        h.check(
            &h.with(Some(short.into_bytes()), 5, hashes.clone(), &note),
            &[],
        ),
        "tampered",
        "kind",
        "malformed",
        "short leaf",
    );
    let spaced = String::from_utf8(extra_bytes.clone())
        .unwrap()
        .replacen(':', ": ", 1);
    expect(
        h.check(
            &h.with(Some(spaced.into_bytes()), 5, hashes.clone(), &note),
            &[],
        ),
        "tampered",
        "kind",
        "malformed",
        "extra respelled",
    );
    expect(
        h.check(&h.with(None, 5, hashes.clone(), &note), &[]),
        "unverifiable",
        "reason",
        "no leaf entry",
        "no extra",
    );
    // The disclosed trace or salt altered; a trace given that is another one; no salt.
    let mut e = h.extra();
    let t = String::from_utf8(e.trace.clone().unwrap())
        .unwrap()
        .replace("\"n\":5", "\"n\":6");
    e.trace = Some(t.into_bytes());
    expect(
        h.check(&h.with(Some(e.to_bytes()), 5, hashes.clone(), &note), &[]),
        "tampered",
        "kind",
        "trace",
        "trace altered",
    );
    let mut e = h.extra();
    e.salt = Some(trailseal::core::leaf::Salt::from_bytes([0; 32]));
    expect(
        h.check(&h.with(Some(e.to_bytes()), 5, hashes.clone(), &note), &[]),
        "tampered",
        "kind",
        "trace",
        "salt altered",
    );
    expect(
        h.check(&good, &["--trace", &other_trace]),
        "tampered",
        "kind",
        "trace",
        "another trace",
    );
    let plain = std::fs::read_to_string(&plain_file).unwrap();
    expect(
        h.check(&plain, &["--trace", &trace_file]),
        "unverifiable",
        "reason",
        "no salt",
        "no salt",
    );
    let (code, v) = h.check(&plain, &[]);
    assert_eq!(
        (code, &v["status"], &v["trace_checked"]),
        (0, &"verified".into(), &false.into()),
        "{v}"
    );

    // Another key: the same checkpoint signed by another log key; the checkpoint altered.
    let other = signer("trailseal.test/log", 99);
    let resigned = Checkpoint::new(cp.origin(), cp.size(), *cp.root())
        .unwrap()
        .sign(&other)
        .unwrap();
    expect(
        h.check(
            &h.with(Some(extra_bytes.clone()), 5, hashes.clone(), &resigned),
            &[],
        ),
        "unverifiable",
        "reason",
        "wrong public key",
        "other key",
    );
    let altered = note.replacen("\n13\n", "\n14\n", 1);
    expect(
        h.check(
            &h.with(Some(extra_bytes.clone()), 5, hashes.clone(), &altered),
            &[],
        ),
        "unverifiable",
        "reason",
        "wrong public key",
        "checkpoint altered",
    );
    let dir = tempfile::tempdir().unwrap();
    let other_pub = dir.path().join("other.pub");
    std::fs::write(&other_pub, other.verifier().to_key_string() + "\n").unwrap();
    let out = run_with(
        &[
            "verify-proof",
            &pfile,
            "--public-key",
            other_pub.to_str().unwrap(),
            "--json",
        ],
        None,
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stdout).contains("\"reason\":\"wrong public key\""));
    // Not a proof file at all.
    expect(
        h.check(&good.replacen("tlog-proof@v1", "tlog-proof@v2", 1), &[]),
        "unverifiable",
        "reason",
        "unreadable proof",
        "header",
    );
    expect(
        h.check("", &[]),
        "unverifiable",
        "reason",
        "unreadable proof",
        "empty file",
    );
    // Witnesses configured, none cosigned: never verified.
    let w =
        trailseal::core::cosignature::WitnessSigner::from_seed("witness.test/w", &[3; 32]).unwrap();
    let vkey = w.witness_key().to_vkey();
    expect(
        h.check(&good, &["--witness-key", &vkey]),
        "unverifiable",
        "reason",
        "witness quorum not met",
        "no cosignature",
    );
    // A forged cosignature line by the configured witness (over another body): the same
    // verdict as no cosignature, as `verify --checkpoint` and `verify-bundle` give it.
    let forged = w
        .cosign(
            "other/origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
            1,
        )
        .unwrap();
    let with_forged = format!("{good}{forged}");
    expect(
        h.check(&with_forged, &["--witness-key", &vkey]),
        "unverifiable",
        "reason",
        "witness quorum not met",
        "forged cosignature",
    );
    // A real cosignature by it: verified with the quorum.
    let body = format!(
        "{}\n{}\n{}\n",
        cp.origin(),
        cp.size(),
        base64::encode(cp.root())
    );
    let real = w.cosign(&body, 1_700_000_000).unwrap();
    let (code, v) = h.check(
        &format!("{good}{real}"),
        &["--witness-key", &vkey, "--quorum", "1"],
    );
    assert_eq!(
        (code, &v["status"], &v["cosignatures"]),
        (0, &"verified".into(), &1.into()),
        "{v}"
    );
    let out = run_with(
        &[
            "verify-proof",
            &pfile,
            "--public-key",
            &f.public,
            "--witness-key",
            &vkey,
            "--quorum",
            "2",
        ],
        None,
        b"",
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "quorum above the keys is a usage error"
    );
    // A proof for a tree of one entry: the empty proof verifies.
    let mut one = Fixture::new("one.db");
    one.append(1, "o");
    let cp1 = one.path("cp1");
    one.checkpoint(&cp1);
    let p1 = one.path("p0");
    assert!(one.prove(0, &cp1, &p1, false).status.success());
    assert_eq!(
        TlogProof::parse(&std::fs::read_to_string(&p1).unwrap())
            .unwrap()
            .hashes()
            .len(),
        0
    );
    let (code, v) = one.verify_proof(&p1, &[]);
    assert_eq!((code, &v["status"]), (0, &"verified".into()), "{v}");
    eprintln!("{} hostile proof files refused", h.n);
}

/// Copies a store file (and its JSONL tree file or SQLite journal, if any).
fn copy_store(from: &str, to: &str) {
    for suffix in ["", ".tree", "-wal", "-shm"] {
        let src = PathBuf::from(format!("{from}{suffix}"));
        if src.exists() {
            std::fs::copy(&src, format!("{to}{suffix}")).unwrap();
        }
    }
}

#[test]
fn forks_and_rollbacks_are_refused() {
    let mut a = Fixture::new("s.db");
    a.append(10, "x");
    // B: a copy of the store (same secret, same key, same origin) that diverges.
    let b_store = a.path("fork/s.db");
    std::fs::create_dir(a.path("fork")).unwrap();
    copy_store(&a.store, &b_store);
    a.append(5, "a");
    let mut b = Fixture {
        dir: tempfile::tempdir().unwrap(),
        store: b_store,
        key: a.key.clone(),
        public: a.public.clone(),
        next: 10,
    };
    b.append(5, "b");
    let cp_file = a.path("cp");
    let cp = a.checkpoint(&cp_file);
    assert_eq!(cp.size(), 15);
    let before = std::fs::read(&cp_file).unwrap();

    // A proof from the fork for A's checkpoint: refused as a fork (exit 1), nothing written.
    let p = a.path("p");
    let out = b.prove(12, &cp_file, &p, false);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("fork"), "{}", text(&out.stderr));
    assert!(!Path::new(&p).exists());
    // Also a seq before the fork point: the checkpoint's root covers all 15 leaves.
    let out = b.prove(3, &cp_file, &p, false);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));

    // The fork's checkpoint over A's file (same size, another root): refused, file kept.
    let out = b.run(
        &[
            "checkpoint",
            "--store",
            &b.store,
            "--signing-key",
            &b.key,
            "--out",
            &cp_file,
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("fork"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&cp_file).unwrap(), before);

    // A rollback: C is A at 15; A grows and its checkpoint replaces the file (consistent);
    // C's older checkpoint over it is refused.
    let c_store = a.path("fork/c.db");
    copy_store(&a.store, &c_store);
    a.append(5, "a");
    let out = a.run(
        &[
            "checkpoint",
            "--store",
            &a.store,
            "--signing-key",
            &a.key,
            "--out",
            &cp_file,
        ],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("replaced the checkpoint of size 15"),
        "{}",
        text(&out.stdout)
    );
    let twenty = std::fs::read(&cp_file).unwrap();
    // A proof from the rolled-back copy for the newer checkpoint: refused (exit 1).
    let out = a.run(
        &[
            "prove",
            "--store",
            &c_store,
            "--seq",
            "3",
            "--checkpoint",
            &cp_file,
            "--public-key",
            &a.public,
            "--out",
            &p,
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("the checkpoint is of a tree of size 20, the store's tree has 15 leaves"),
        "{}",
        text(&out.stderr)
    );
    assert!(!Path::new(&p).exists());
    let out = a.run(
        &[
            "checkpoint",
            "--store",
            &c_store,
            "--signing-key",
            &a.key,
            "--origin",
            cp.origin(),
            "--out",
            &cp_file,
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&cp_file).unwrap(), twenty);
    // B's larger checkpoint (20 after more appends) over A's file: not an extension, refused.
    b.append(5, "b");
    let out = b.run(
        &[
            "checkpoint",
            "--store",
            &b.store,
            "--signing-key",
            &b.key,
            "--origin",
            cp.origin(),
            "--out",
            &cp_file,
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&cp_file).unwrap(), twenty);
    b.append(1, "b");
    let out = b.run(
        &[
            "checkpoint",
            "--store",
            &b.store,
            "--signing-key",
            &b.key,
            "--origin",
            cp.origin(),
            "--out",
            &cp_file,
        ],
        b"",
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "larger fork: {}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(&cp_file).unwrap(), twenty);
    // Something that is not a checkpoint of this key there: refused (exit 2), kept.
    let junk = a.path("junk");
    std::fs::write(&junk, "hello\n").unwrap();
    let out = a.run(
        &[
            "checkpoint",
            "--store",
            &a.store,
            "--signing-key",
            &a.key,
            "--out",
            &junk,
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&junk).unwrap(), "hello\n");
}

#[test]
fn a_store_that_does_not_verify_gets_no_checkpoint() {
    let mut f = Fixture::new("s.db");
    f.append(6, "t");
    let conn = rusqlite::Connection::open(&f.store).unwrap();
    let n = conn
        .execute(
            "UPDATE traces SET payload = replace(payload, '\"n\":3', '\"n\":4') WHERE seq = 3",
            [],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(conn);
    let cp = f.path("cp");
    let out = f.run(
        &[
            "checkpoint",
            "--store",
            &f.store,
            "--signing-key",
            &f.key,
            "--out",
            &cp,
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("does not verify"),
        "{}",
        text(&out.stderr)
    );
    assert!(!Path::new(&cp).exists());
    // No secret: refused before anything.
    let out = run_with(
        &[
            "checkpoint",
            "--store",
            &f.store,
            "--signing-key",
            &f.key,
            "--out",
            &cp,
        ],
        None,
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!Path::new(&cp).exists());
}

#[test]
fn records_weaver_kernel_appended_are_brought_into_the_tree_first() {
    let mut f = Fixture::new("wk.db");
    f.append(5, "t");
    let out = trailseal_testkit::weaver_tool(
        &[
            "append",
            "--backend",
            "sqlite",
            "--path",
            &f.store,
            "--count",
            "7",
            "--seed",
            "3",
        ],
        SECRET,
    );
    assert_eq!(out["written"], 7, "{out}");
    let head = trailseal::AuditLog::open(&f.store, &trailseal::OpenOptions::default())
        .unwrap()
        .tree_head()
        .unwrap();
    assert_eq!(head.size, 5, "weaver-kernel knows nothing of the tree");
    let cp_file = f.path("cp");
    let out = f.run(
        &[
            "checkpoint",
            "--store",
            &f.store,
            "--signing-key",
            &f.key,
            "--out",
            &cp_file,
        ],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("brought 7 records into the Merkle tree"),
        "{}",
        text(&out.stderr)
    );
    let cp = Checkpoint::open(&std::fs::read_to_string(&cp_file).unwrap(), &f.verifier()).unwrap();
    assert_eq!(cp.size(), 12);
    let p = f.path("p10");
    let out = f.prove(10, &cp_file, &p, true);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (code, v) = f.verify_proof(&p, &[]);
    assert_eq!(
        (code, &v["status"], &v["trace_checked"]),
        (0, &"verified".into(), &true.into()),
        "{v}"
    );
}

#[test]
fn twenty_witnessed_checkpoints_of_a_growing_store_and_a_fork_refused() {
    let Some(venv) = aics_witness_or_skip("twenty_witnessed_checkpoints") else {
        return;
    };
    let mut f = Fixture::new("w.db");
    let origin = "trailseal.local/w.db/tree";
    let wdir = f.path("witness");
    std::fs::create_dir(&wdir).unwrap();
    let log_vkey = std::fs::read_to_string(&f.public)
        .unwrap()
        .trim()
        .to_owned();
    let witness = AicsWitness::start(
        &venv,
        Path::new(&wdir),
        "witness.test/w1",
        &[(origin, &log_vkey)],
    );
    let state = f.path("witness-state");
    let cp_file = f.path("cp");
    let fork_store = f.path("fork.db");
    let mut sizes = Vec::new();
    for round in 0..20u64 {
        f.append(1 + round % 4 + if round == 7 { 250 } else { 0 }, "w");
        if round == 9 {
            copy_store(&f.store, &fork_store);
        }
        let out = f.run(
            &[
                "checkpoint",
                "--store",
                &f.store,
                "--signing-key",
                &f.key,
                "--out",
                &cp_file,
                "--witness",
                &witness.endpoint(),
                "--witness-state",
                &state,
                "--witness-timeout",
                "30s",
            ],
            b"",
        );
        assert!(
            out.status.success(),
            "round {round}: {}\n{}",
            text(&out.stderr),
            text(&out.stdout)
        );
        assert!(
            text(&out.stdout).contains("witness.test/w1"),
            "{}",
            text(&out.stdout)
        );
        let note = std::fs::read_to_string(&cp_file).unwrap();
        let cp = Checkpoint::open(&note, &f.verifier()).unwrap();
        sizes.push(cp.size());
        // aics-tlog (the witness's own library) verifies what was merged.
        let aics = aics_verify_checkpoint(&venv, &note, &log_vkey, &[witness.vkey()], 1);
        assert_eq!(aics["ok"], true, "round {round}: {aics}");
        // A proof for a record of this checkpoint, checked offline with the witness quorum.
        let seq = picks(cp.size(), 1, round + 3)[0];
        let p = f.path(&format!("p{round}"));
        let out = f.prove(seq, &cp_file, &p, true);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let (code, v) = f.verify_proof(&p, &["--witness-key", witness.vkey(), "--quorum", "1"]);
        assert_eq!(
            (code, &v["status"], &v["cosignatures"]),
            (0, &"verified".into(), &1.into()),
            "round {round}: {v}"
        );
    }
    assert!(sizes.windows(2).all(|w| w[0] < w[1]), "{sizes:?}");
    eprintln!("20 checkpoints cosigned, sizes {sizes:?}");

    // A quorum of 2 with the second witness dead: exit 2, and the note with the one
    // cosignature obtained is still written (what a reader demanding 2 finds unverifiable).
    let dead =
        trailseal::core::cosignature::WitnessSigner::from_seed("witness.test/dead", &[8; 32])
            .unwrap()
            .witness_key()
            .to_vkey();
    let partial = f.path("cp-partial");
    let out = f.run(
        &[
            "checkpoint",
            "--store",
            &f.store,
            "--signing-key",
            &f.key,
            "--out",
            &partial,
            "--witness",
            &witness.endpoint(),
            "--witness",
            &format!("http://127.0.0.1:9={dead}"),
            "--witness-state",
            &state,
            "--quorum",
            "2",
            "--witness-timeout",
            "5s",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("witness quorum 2 not met: 1 cosigned"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("witness.test/dead"),
        "{}",
        text(&out.stdout)
    );
    let p = f.path("p-partial");
    std::fs::write(&p, std::fs::read_to_string(f.path("p19")).unwrap()).unwrap();
    let note = std::fs::read_to_string(&partial).unwrap();
    let aics = aics_verify_checkpoint(&venv, &note, &log_vkey, &[witness.vkey()], 1);
    assert_eq!(aics["ok"], true, "{aics}");
    let (code, v) = f.verify_proof(
        &p,
        &[
            "--witness-key",
            witness.vkey(),
            "--witness-key",
            &dead,
            "--quorum",
            "2",
        ],
    );
    assert_eq!(
        (code, &v["reason"]),
        (2, &"witness quorum not met".into()),
        "{v}"
    );

    // The copy taken at round 9, grown with other records past the last cosigned size:
    // the witness refuses it (from a host with no state: 409, then the proof from the size it
    // holds does not verify), nothing is written.
    let mut fork = Fixture {
        dir: tempfile::tempdir().unwrap(),
        store: fork_store.clone(),
        key: f.key.clone(),
        public: f.public.clone(),
        next: 0,
    };
    let held =
        Checkpoint::open(&std::fs::read_to_string(&cp_file).unwrap(), &f.verifier()).unwrap();
    fork.next = 1_000_000;
    let fork_size = trailseal::AuditLog::open(&fork_store, &trailseal::OpenOptions::default())
        .unwrap()
        .tree_head()
        .unwrap()
        .size;
    fork.append(held.size() - fork_size + 3, "fork");
    let fork_cp = f.path("fork-cp");
    let out = fork.run(
        &[
            "checkpoint",
            "--store",
            &fork_store,
            "--signing-key",
            &f.key,
            "--origin",
            origin,
            "--out",
            &fork_cp,
            "--witness",
            &witness.endpoint(),
            "--witness-state",
            &f.path("fresh-state"),
            "--witness-timeout",
            "30s",
        ],
        b"",
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}\n{}",
        text(&out.stderr),
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("quorum"),
        "{}",
        text(&out.stderr)
    );
    assert!(!Path::new(&fork_cp).exists());
    // With this host's state file: the fork is refused before anything is sent? It is larger
    // than what the witness cosigned, so it is sent from that size, and refused (422).
    let out = fork.run(
        &[
            "checkpoint",
            "--store",
            &fork_store,
            "--signing-key",
            &f.key,
            "--origin",
            origin,
            "--out",
            &fork_cp,
            "--witness",
            &witness.endpoint(),
            "--witness-state",
            &state,
        ],
        b"",
    );
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!Path::new(&fork_cp).exists());
    // The witness kept the fork's request as evidence of a split view.
    let evidence = witness.evidence();
    assert!(
        evidence.as_array().unwrap().iter().any(|e| e["reason"]
            .as_str()
            .is_some_and(|r| r.contains("does not verify"))),
        "{evidence}"
    );
}
