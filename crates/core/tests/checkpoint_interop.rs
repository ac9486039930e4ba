//! trailseal's C2SP checkpoints against code nobody here wrote: Go's `sumdb/note` and
//! `sumdb/tlog` (through `interop/checkpointcheck`), and — when `TRAILSEAL_TLOG_SCALES_PYTHON`
//! names a Python with `tlog-scales==0.0.3` installed — its Ed25519 cosignature verifier.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::process::Command;

use serde_json::Value;
use trailseal_core::base64;
use trailseal_core::checkpoint::{Checkpoint, MAX_SIZE};
use trailseal_core::cosignature::{WitnessKey, WitnessSigner, verify_cosignatures};
use trailseal_core::note::NoteSigner;
use trailseal_testkit::go_checkpointcheck;

fn signer() -> NoteSigner {
    NoteSigner::from_seed("audit.example/log", &[5u8; 32]).unwrap()
}

fn root(seed: u64) -> [u8; 32] {
    let mut r = [0u8; 32];
    for (i, b) in r.iter_mut().enumerate() {
        *b = (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (i % 8 * 8)) as u8 ^ i as u8;
    }
    r
}

/// Go's note.Open and tlog.ParseTree on a note.
fn go_open(dir: &tempfile::TempDir, note: &str) -> Value {
    let file = dir.path().join("note");
    std::fs::write(&file, note).unwrap();
    let out = Command::new(go_checkpointcheck())
        .arg("open")
        .arg(signer().verifier().to_key_string())
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const SIZES: [u64; 9] = [0, 1, 2, 255, 256, 257, 65_536, 1_000_000, MAX_SIZE];

#[test]
fn go_reads_trailseal_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    for (i, size) in SIZES.into_iter().enumerate() {
        let cp = Checkpoint::new("audit.example/log/tree", size, root(i as u64)).unwrap();
        let got = go_open(&dir, &cp.sign(&signer()).unwrap());
        assert_eq!(got["ok"], true, "{got}");
        assert_eq!(got["origin"], "audit.example/log/tree");
        assert_eq!(got["size"], size.to_string());
        assert_eq!(got["hash"], base64::encode(cp.root()));
        assert_eq!(got["lines"], 3, "nothing but the three lines");
    }
}

#[test]
fn trailseal_reads_go_checkpoints_and_signs_the_same_bytes() {
    for (i, size) in SIZES.into_iter().enumerate() {
        let r = root(100 + i as u64);
        let out = Command::new(go_checkpointcheck())
            .args(["sign", &signer().to_key_string(), "audit.example/log/tree"])
            .arg(size.to_string())
            .arg(base64::encode(&r))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let go_note = String::from_utf8(out.stdout).unwrap();
        let cp = Checkpoint::open(&go_note, &signer().verifier()).unwrap();
        assert_eq!(
            cp,
            Checkpoint::new("audit.example/log/tree", size, r).unwrap()
        );
        // Ed25519 is deterministic: the same key signs the same body into the same note.
        assert_eq!(cp.sign(&signer()).unwrap(), go_note);
    }
}

/// Validly signed bodies, well- and ill-formed: whatever trailseal accepts, Go accepts with
/// the same values; trailseal refuses more (listed in the test) but never less.
#[test]
fn trailseal_is_at_least_as_strict_as_go() {
    let dir = tempfile::tempdir().unwrap();
    let r = base64::encode(&root(7));
    let stray = {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut b = r.clone().into_bytes();
        let at = b.len() - 2;
        let idx = A.iter().position(|c| *c == b[at]).unwrap();
        b[at] = A[idx ^ 1];
        String::from_utf8(b).unwrap()
    };
    // (body, does Go accept it)
    let cases = [
        (format!("o\n5\n{r}\n"), true),
        (format!("o\n05\n{r}\n"), false),
        (format!("o\n+5\n{r}\n"), false),
        (format!("o\n-5\n{r}\n"), false),
        (format!("o\n5 \n{r}\n"), false),
        (format!("o\n9223372036854775807\n{r}\n"), true),
        (format!("o\n9223372036854775808\n{r}\n"), false),
        (format!("o\n5\n{}\n", base64::encode(&[1; 31])), false),
        (format!("o\n5\n{}\n", r.trim_end_matches('=')), false),
        ("o\n5\n".to_owned(), false),
        // Go accepts these; trailseal refuses them: bits under the base64 padding, extension
        // lines (witnesses refuse them by default), origins with spaces or '+'.
        (format!("o\n5\n{stray}\n"), true),
        (format!("o\n5\n{r}\nextension\n"), true),
        (format!("o o\n5\n{r}\n"), true),
        (format!("o+o\n5\n{r}\n"), true),
    ];
    let mut stricter = 0;
    for (body, go_accepts) in cases {
        let note = signer().sign(&body).unwrap();
        let go = go_open(&dir, &note);
        assert_eq!(go["ok"], go_accepts, "{body:?}: {go}");
        match Checkpoint::open(&note, &signer().verifier()) {
            Ok(cp) => {
                assert_eq!(go["ok"], true, "{body:?}");
                assert_eq!(go["origin"], cp.origin());
                assert_eq!(go["size"], cp.size().to_string());
                assert_eq!(go["hash"], base64::encode(cp.root()));
            }
            Err(_) => stricter += usize::from(go_accepts),
        }
    }
    assert_eq!(stricter, 4);
}

/// tlog-scales 0.0.3 (PyPI) verifies trailseal's cosignatures and counts the same witnesses.
/// Skipped unless `TRAILSEAL_TLOG_SCALES_PYTHON` is set (the suite does not depend on PyPI).
#[test]
fn tlog_scales_verifies_trailseal_cosignatures() {
    let Some(python) = std::env::var_os("TRAILSEAL_TLOG_SCALES_PYTHON") else {
        eprintln!("skipped: set TRAILSEAL_TLOG_SCALES_PYTHON to a python with tlog-scales==0.0.3");
        return;
    };
    let witnesses: Vec<WitnessSigner> = (1..=4)
        .map(|i| WitnessSigner::from_seed(&format!("witness.example/w{i}"), &[i; 32]).unwrap())
        .collect();
    let keys: Vec<WitnessKey> = witnesses.iter().map(|w| w.witness_key().clone()).collect();
    let cp = Checkpoint::new("audit.example/log/tree", 20_852_163, root(1)).unwrap();
    let mut note = cp.sign(&signer()).unwrap();
    for (w, t) in witnesses.iter().zip([1_679_315_147u64, 1_700_000_000, 0]) {
        note.push_str(&w.cosign(&cp.body(), t).unwrap());
    }
    // One altered copy: the body changed under the signatures.
    let altered = note.replacen("\n20852163\n", "\n20852164\n", 1);
    let script = r#"
import json, sys
from tlog_scales.tlog import Checkpoint
from tlog_scales.signing import Vkey, VkeySet
req = json.load(sys.stdin)
out = []
for text in req["notes"]:
    cp = Checkpoint.from_text(text)
    valid = VkeySet(*[Vkey.from_string(k) for k in req["witnesses"]]).verify(cp.signatures, cp)
    log = Vkey.from_string(req["log"])
    try:
        cp.verify(log)
        log_ok = True
    except Exception:
        log_ok = False
    out.append({"witnesses": sorted(v.name for v, _ in valid), "log": log_ok})
print(json.dumps(out))
"#;
    let log_vkey = signer().verifier().to_key_string();
    let request = serde_json::json!({
        "notes": [note, altered],
        "witnesses": keys.iter().map(WitnessKey::to_vkey).collect::<Vec<_>>(),
        "log": log_vkey,
    });
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(request.to_string().as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours: Vec<String> = verify_cosignatures(&note, &keys)
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(
        ours,
        [
            "witness.example/w1",
            "witness.example/w2",
            "witness.example/w3"
        ]
    );
    assert_eq!(got[0]["witnesses"], serde_json::json!(ours));
    assert_eq!(got[0]["log"], true);
    // tlog-scales ignores the bad cosignatures (count 0); trailseal refuses the note.
    assert_eq!(got[1]["witnesses"], serde_json::json!([]));
    assert_eq!(got[1]["log"], false);
    assert!(verify_cosignatures(&altered, &keys).is_err());
}
