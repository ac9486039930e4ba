//! `trailseal keygen`, `anchor`, `verify --anchor`, `append --anchor-dir`, `export --bundle`,
//! `verify-bundle`, and interop of anchors, manifests and keys with Go's reference
//! signed-note implementation (golang.org/x/mod/sumdb/note).
//!
//! Longer than 600 lines on purpose: the anchor and bundle commands share the Go note checker and
//! the keys set up at the top.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use trailseal::core::note::{NoteSigner, NoteVerifier};
use trailseal_testkit::{go_notecheck, vectors_dir};

const SECRET: &str = trailseal_testkit::VECTOR_SECRET;

fn run(args: &[&str], stdin: &str) -> Output {
    common::run_with(args, Some(SECRET), stdin.as_bytes())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(text(&o.stdout).trim())
        .unwrap_or_else(|e| panic!("{e}: {}", text(&o.stdout)))
}

fn store(dir: &Path) -> String {
    let path = dir.join("s.db");
    std::fs::copy(vectors_dir().join("weaver-0.12.0/store.sqlite"), &path).unwrap();
    path.to_str().unwrap().to_owned()
}

fn go(args: &[&str]) -> String {
    let out = Command::new(go_notecheck()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "notecheck {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn keygen_anchor_and_verify_against_anchors() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ops");
    let k = key.to_str().unwrap();
    let o = run(&["keygen", "--out", k], "");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let public = std::fs::read_to_string(format!("{k}.pub")).unwrap();
    assert!(public.starts_with("ops+"), "{public}");
    assert!(
        text(&o.stdout).contains(public.trim()),
        "keygen prints the public key"
    );
    assert!(
        !text(&o.stdout).contains("PRIVATE"),
        "keygen never prints the signing key"
    );
    assert_eq!(
        run(&["keygen", "--out", k], "").status.code(),
        Some(2),
        "never overwrites"
    );

    let s = store(dir.path());
    let anchor = dir.path().join("head.note");
    let a = anchor.to_str().unwrap();
    let o = run(
        &[
            "anchor",
            "--store",
            &s,
            "--signing-key",
            k,
            "--out",
            a,
            "--origin",
            "audit.example/prod",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        format!("anchored audit.example/prod (size 40, head seq 39) to {a}\n")
    );
    let note = std::fs::read_to_string(&anchor).unwrap();
    assert!(note.starts_with("audit.example/prod\n40\n"), "{note}");

    let pubfile = format!("{k}.pub");
    let o = run(
        &[
            "verify",
            "--store",
            &s,
            "--anchor",
            a,
            "--public-key",
            &pubfile,
            "--json",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(0));
    // The anchor covers the head; what is left is that weaver-kernel, which wrote this
    // store, keeps no Merkle tree.
    assert_eq!(
        json(&o)["caveats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["code"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["tree-incomplete"],
        "the anchor covers the head"
    );

    // Truncation after the anchor: tampered, kind truncated, exit 1.
    rusqlite::Connection::open(&s)
        .unwrap()
        .execute("DELETE FROM traces WHERE seq >= 37", [])
        .unwrap();
    let o = run(
        &[
            "verify",
            "--store",
            &s,
            "--anchor",
            a,
            "--public-key",
            &pubfile,
            "--json",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(
        (v["kind"].as_str(), v["first_bad_seq"].as_u64()),
        (Some("truncated"), Some(37))
    );

    // An anchor checked with another public key: unverifiable, exit 2.
    let other = dir.path().join("other");
    run(&["keygen", "--out", other.to_str().unwrap()], "");
    let o = run(
        &[
            "verify",
            "--store",
            &s,
            "--anchor",
            a,
            "--public-key",
            &format!("{}.pub", other.display()),
            "--json",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(json(&o)["reason"], "wrong public key");
    // --anchor without --public-key is a usage error.
    assert_eq!(
        run(&["verify", "--store", &s, "--anchor", a], "")
            .status
            .code(),
        Some(2)
    );
}

fn trace(n: u64) -> String {
    trailseal_testkit::Trace::minimal(format!("x{n}")).json()
}

#[test]
fn append_writes_anchors_as_it_goes() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    run(&["keygen", "--out", key.to_str().unwrap()], "");
    let s = dir.path().join("a.jsonl");
    let anchors = dir.path().join("anchors");
    let input: String = (0..25).map(|n| trace(n) + "\n").collect();
    let o = run(
        &[
            "append",
            "--store",
            s.to_str().unwrap(),
            "--commit-every",
            "4",
            "--anchor-dir",
            anchors.to_str().unwrap(),
            "--signing-key",
            key.to_str().unwrap(),
            "--anchor-every",
            "10",
            "--quiet",
        ],
        &input,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let mut names: Vec<String> = std::fs::read_dir(&anchors)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // Commits end at 4, 8, 12, ...: the first commit, the ones crossing 10 and 20, and the end.
    assert_eq!(
        names,
        [
            "anchor-000000000004.note",
            "anchor-000000000012.note",
            "anchor-000000000020.note",
            "anchor-000000000025.note"
        ]
    );
    let mut args = vec![
        "verify".to_owned(),
        "--store".into(),
        s.to_str().unwrap().into(),
        "--json".into(),
    ];
    for n in &names {
        args.extend(["--anchor".into(), anchors.join(n).to_str().unwrap().into()]);
    }
    args.extend(["--public-key".into(), format!("{}.pub", key.display())]);
    let o = run(&args.iter().map(String::as_str).collect::<Vec<_>>(), "");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    assert_eq!(json(&o)["caveats"], serde_json::json!([]));
}

#[test]
fn bundles_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("exporter");
    let k = key.to_str().unwrap();
    run(&["keygen", "--out", k], "");
    let s = store(dir.path());
    let b = dir.path().join("q1.bundle");
    let bf = b.to_str().unwrap();
    let o = run(
        &[
            "export",
            "--store",
            &s,
            "--bundle",
            bf,
            "--signing-key",
            k,
            "--from-seq",
            "5",
            "--to-seq",
            "30",
            "--principal",
            "ops@example",
            "--redact",
            "error",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).starts_with("bundled seq 5 to 30 (26 entries: "),
        "{}",
        text(&o.stdout)
    );

    let pubfile = format!("{k}.pub");
    let o = run(
        &[
            "verify-bundle",
            bf,
            "--public-key",
            &pubfile,
            "--no-secret",
            "--json",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    let v = json(&o);
    assert_eq!(
        v["level"],
        "signature, linkage and completeness (public key)"
    );
    assert_eq!(
        (
            v["first_seq"].as_u64(),
            v["last_seq"].as_u64(),
            v["entries"].as_u64()
        ),
        (Some(5), Some(30), Some(26))
    );
    let o = run(&["verify-bundle", bf, "--public-key", &pubfile], "");
    assert!(
        text(&o.stdout).contains("every disclosed record's MAC"),
        "{}",
        text(&o.stdout)
    );

    // A changed byte: exit 1, naming where.
    let mut bytes = std::fs::read(&b).unwrap();
    let at = text(&bytes).find("\"seq\":17,").unwrap() + 3;
    bytes[at] ^= 1;
    let bad = dir.path().join("bad.bundle");
    std::fs::write(&bad, &bytes).unwrap();
    let o = run(
        &[
            "verify-bundle",
            bad.to_str().unwrap(),
            "--public-key",
            &pubfile,
            "--json",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    // Another key: exit 2.
    let other = dir.path().join("other");
    run(&["keygen", "--out", other.to_str().unwrap()], "");
    let o = run(
        &[
            "verify-bundle",
            bf,
            "--public-key",
            &format!("{}.pub", other.display()),
            "--json",
        ],
        "",
    );
    assert_eq!(
        (o.status.code(), json(&o)["reason"].as_str()),
        (Some(2), Some("wrong public key"))
    );
    // A bundle needs the secret to be exported (every record's MAC is checked first).
    let o = Command::new(env!("CARGO_BIN_EXE_trailseal"))
        .args(["export", "--store", &s, "--bundle", bf, "--signing-key", k])
        .env_remove("WEAVER_KERNEL_SECRET")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn anchors_manifests_and_keys_interoperate_with_go_signed_notes() {
    let dir = tempfile::tempdir().unwrap();
    // trailseal's key and anchor, verified by Go.
    let key = dir.path().join("k");
    run(
        &[
            "keygen",
            "--out",
            key.to_str().unwrap(),
            "--name",
            "audit.example/prod",
        ],
        "",
    );
    let public = std::fs::read_to_string(format!("{}.pub", key.display())).unwrap();
    let s = store(dir.path());
    let anchor = dir.path().join("a.note");
    run(
        &[
            "anchor",
            "--store",
            &s,
            "--signing-key",
            key.to_str().unwrap(),
            "--out",
            anchor.to_str().unwrap(),
        ],
        "",
    );
    let opened: serde_json::Value =
        serde_json::from_str(&go(&["open", public.trim(), anchor.to_str().unwrap()])).unwrap();
    assert_eq!(opened["ok"], true, "{opened}");
    assert!(
        opened["text"].as_str().unwrap().contains("\n40\n"),
        "{opened}"
    );

    // The bundle manifest is a signed note Go verifies too.
    let b = dir.path().join("b.bundle");
    run(
        &[
            "export",
            "--store",
            &s,
            "--bundle",
            b.to_str().unwrap(),
            "--signing-key",
            key.to_str().unwrap(),
        ],
        "",
    );
    let last = std::fs::read_to_string(&b)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let manifest: serde_json::Value = serde_json::from_str(&last).unwrap();
    let note_file = dir.path().join("manifest.note");
    std::fs::write(&note_file, manifest["manifest"].as_str().unwrap()).unwrap();
    let opened: serde_json::Value =
        serde_json::from_str(&go(&["open", public.trim(), note_file.to_str().unwrap()])).unwrap();
    assert_eq!(opened["ok"], true, "{opened}");

    // Go's keys work in trailseal, and notes Go signs open in trailseal.
    let generated = go(&["generate", "go.example/log"]);
    let mut keys = generated.lines();
    let (go_private, go_public) = (
        keys.next().unwrap().to_owned(),
        keys.next().unwrap().to_owned(),
    );
    let signer = NoteSigner::parse(&go_private).unwrap();
    assert_eq!(signer.verifier().to_key_string(), go_public);
    let go_key_file = dir.path().join("go.key");
    std::fs::write(&go_key_file, format!("{go_private}\n")).unwrap();
    let go_anchor = dir.path().join("go-anchor.note");
    let o = run(
        &[
            "anchor",
            "--store",
            &s,
            "--signing-key",
            go_key_file.to_str().unwrap(),
            "--out",
            go_anchor.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let opened: serde_json::Value =
        serde_json::from_str(&go(&["open", &go_public, go_anchor.to_str().unwrap()])).unwrap();
    assert_eq!(opened["ok"], true, "{opened}");
    let body = dir.path().join("body.txt");
    std::fs::write(
        &body,
        "go.example/log\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
    )
    .unwrap();
    let go_note = go(&["sign", &go_private, body.to_str().unwrap()]);
    let verifier = NoteVerifier::parse(&go_public).unwrap();
    assert_eq!(
        verifier.open(&go_note).unwrap(),
        "go.example/log\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    );
}

/// Every file of a folder, by name.
fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn rows(store: &str) -> i64 {
    rusqlite::Connection::open(store)
        .unwrap()
        .query_row("SELECT count(*) FROM traces", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn an_anchor_folder_is_never_rewritten_after_a_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    run(&["keygen", "--out", key.to_str().unwrap()], "");
    let pubkey = format!("{}.pub", key.display());
    let s = dir.path().join("a.db");
    let s = s.to_str().unwrap();
    let anchors = dir.path().join("anchors");
    let a = anchors.to_str().unwrap();
    let append = |from: u64, to: u64| {
        let input: String = (from..to).map(|n| trace(n) + "\n").collect();
        run(
            &[
                "append",
                "--store",
                s,
                "--commit-every",
                "5",
                "--anchor-dir",
                a,
                "--signing-key",
                key.to_str().unwrap(),
                "--anchor-every",
                "5",
                "--quiet",
            ],
            &input,
        )
    };
    let o = append(0, 10);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let before = files(&anchors);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        ["anchor-000000000005.note", "anchor-000000000010.note"]
    );

    // The newest record is deleted; the next append would take seq 9 again and write an
    // anchor of size 10 under the name of the one that proves the deletion.
    rusqlite::Connection::open(s)
        .unwrap()
        .execute("DELETE FROM traces WHERE seq = 9", [])
        .unwrap();
    let o = append(100, 101);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("anchor-000000000010.note") && err.contains("seq 9"),
        "{err}"
    );
    assert!(err.contains("nothing was appended"), "{err}");
    assert_eq!(rows(s), 9, "nothing was appended");
    assert_eq!(files(&anchors), before, "the anchor folder is unchanged");

    // The folder still proves the truncation.
    let o = run(
        &[
            "verify",
            "--store",
            s,
            "--anchor-dir",
            a,
            "--public-key",
            &pubkey,
            "--json",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    let v = json(&o);
    assert_eq!(
        (v["kind"].as_str(), v["first_bad_seq"].as_u64()),
        (Some("truncated"), Some(9)),
        "{v}"
    );
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("anchor-000000000010.note")
    );

    // A new store pointed at the folder: it ends before every anchor; refused, and the store
    // the append would have created is not left behind.
    for name in ["fresh.db", "fresh.jsonl"] {
        let fresh = dir.path().join(name);
        let input = trace(500) + "\n";
        let o = run(
            &[
                "append",
                "--store",
                fresh.to_str().unwrap(),
                "--anchor-dir",
                a,
                "--signing-key",
                key.to_str().unwrap(),
            ],
            &input,
        );
        assert_eq!(o.status.code(), Some(1), "{name}: {}", text(&o.stderr));
        assert!(
            !fresh.exists(),
            "{name}: the refused append created the store"
        );
        assert_eq!(files(&anchors), before);
    }

    // Rewritten instead (the record replaced by another, without the folder): the head
    // differs from the anchored one, kind link.
    let o = run(&["append", "--store", s, "--quiet"], &(trace(200) + "\n"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = append(300, 301);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("seq 9"), "{}", text(&o.stderr));
    assert_eq!(rows(s), 10);
    assert_eq!(files(&anchors), before);
    let o = run(
        &[
            "verify",
            "--store",
            s,
            "--anchor-dir",
            a,
            "--public-key",
            &pubkey,
            "--json",
        ],
        "",
    );
    let v = json(&o);
    assert_eq!(
        (v["kind"].as_str(), v["first_bad_seq"].as_u64()),
        (Some("link"), Some(9)),
        "{v}"
    );
}

#[test]
fn anchor_out_never_replaces_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    let k = key.to_str().unwrap();
    run(&["keygen", "--out", k], "");
    let s = store(dir.path());
    let out = dir.path().join("head.note");
    let o_ = out.to_str().unwrap();
    let anchor = |store: &str, to: &str| {
        run(
            &[
                "anchor",
                "--store",
                store,
                "--signing-key",
                k,
                "--out",
                to,
                "--origin",
                "o",
            ],
            "",
        )
    };
    let o = anchor(&s, o_);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let first = std::fs::read(&out).unwrap();
    // The same head again: nothing to write, the file is kept as it is (with its time).
    std::thread::sleep(std::time::Duration::from_millis(5));
    let o = anchor(&s, o_);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("already anchored"),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(std::fs::read(&out).unwrap(), first);

    // Another file there: never replaced.
    let other = dir.path().join("other.note");
    std::fs::write(&other, "not an anchor\n").unwrap();
    let o = anchor(&s, other.to_str().unwrap());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("never replaced"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "not an anchor\n");

    // A later head (another size): the earlier anchor stays.
    let grown = dir.path().join("grown.db");
    std::fs::copy(&s, &grown).unwrap();
    let g = grown.to_str().unwrap();
    assert_eq!(
        run(&["append", "--store", g, "--quiet"], &(trace(1) + "\n"))
            .status
            .code(),
        Some(0)
    );
    let o = anchor(g, o_);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), first);

    // The same size with another head (the head deleted and replaced): the anchor proves it.
    let forked = dir.path().join("forked.db");
    std::fs::copy(&s, &forked).unwrap();
    let f = forked.to_str().unwrap();
    rusqlite::Connection::open(f)
        .unwrap()
        .execute("DELETE FROM traces WHERE seq = 39", [])
        .unwrap();
    assert_eq!(
        run(&["append", "--store", f, "--quiet"], &(trace(2) + "\n"))
            .status
            .code(),
        Some(0)
    );
    let o = anchor(f, o_);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("seq 39"), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), first);
    // No temporary file is left next to it.
    let names: Vec<String> = files(dir.path()).into_keys().collect();
    assert!(names.iter().all(|n| !n.contains("tmp")), "{names:?}");
}

/// Exports seq 0 to 39 of the vectors' store as `name`: principal ops@example (10 records),
/// `error` redacted (4 of them hold one); the exit status, stdout and the verify-bundle
/// outputs (JSON, text) with the public key only.
fn export_ops(
    dir: &Path,
    name: &str,
    extra: &[&str],
) -> (Output, Option<(serde_json::Value, String)>) {
    let key = dir.join("exporter");
    let k = key.to_str().unwrap();
    if !key.exists() {
        run(&["keygen", "--out", k], "");
    }
    let s = store(dir);
    let b = dir.join(name);
    let bf = b.to_str().unwrap();
    let mut args = vec![
        "export",
        "--store",
        &s,
        "--bundle",
        bf,
        "--signing-key",
        k,
        "--principal",
        "ops@example",
        "--redact",
        "error",
    ];
    args.extend(extra);
    let o = run(&args, "");
    if o.status.code() != Some(0) {
        return (o, None);
    }
    let pubfile = format!("{k}.pub");
    let verify = |json: bool| {
        let mut args = vec!["verify-bundle", bf, "--public-key", &pubfile, "--no-secret"];
        if json {
            args.push("--json");
        }
        let v = run(&args, "");
        assert_eq!(v.status.code(), Some(0), "{}", text(&v.stdout));
        v
    };
    let j = json(&verify(true));
    let t = text(&verify(false).stdout);
    (o, Some((j, t)))
}

#[test]
fn verify_bundle_tells_withheld_reasons_apart_only_when_the_bundle_gives_them() {
    let dir = tempfile::tempdir().unwrap();
    let (o, Some((j, t))) = export_ops(dir.path(), "hidden.bundle", &[]) else {
        panic!("export failed")
    };
    assert!(
        text(&o.stdout).contains("34 withheld as hashes)"),
        "{}",
        text(&o.stdout)
    );
    let bytes = std::fs::read_to_string(dir.path().join("hidden.bundle")).unwrap();
    assert_eq!(bytes.matches("\"withheld\":true}\n").count(), 34);
    assert!(!bytes.contains("\"withheld\":\""), "{bytes}");
    assert_eq!(
        (
            &j["withheld"],
            &j["withheld_reasons"],
            j.get("withheld_filter"),
            j.get("withheld_redacted")
        ),
        (
            &serde_json::json!(34),
            &serde_json::json!(false),
            None,
            None
        ),
        "{j}"
    );
    let caveats = j["caveats"].to_string();
    assert!(
        caveats.contains("34 records withheld: only their seq and hashes"),
        "{caveats}"
    );
    assert_eq!(
        (&j["caveats"][0]["code"], &j["caveats"][0]["count"]),
        (&serde_json::json!("withheld"), &serde_json::json!(34)),
        "{caveats}"
    );
    for word in ["redact", "selection", "filter"] {
        assert!(
            !caveats.contains(word) && !t.contains(word),
            "{word}: {caveats} / {t}"
        );
    }

    let (_, Some((j, t))) = export_ops(dir.path(), "reasons.bundle", &["--withheld-reasons"])
    else {
        panic!("export failed")
    };
    let bytes = std::fs::read_to_string(dir.path().join("reasons.bundle")).unwrap();
    assert!(
        bytes
            .lines()
            .next()
            .unwrap()
            .contains("\"withheld_reasons\":true}")
    );
    assert_eq!(
        (
            &j["withheld_reasons"],
            &j["withheld_filter"],
            &j["withheld_redacted"]
        ),
        (
            &serde_json::json!(true),
            &serde_json::json!(30),
            &serde_json::json!(4)
        ),
        "{j}"
    );
    assert!(
        t.contains("34 withheld (30 outside the selection, 4 redacted: the bundle says which)"),
        "{t}"
    );
    let caveat = &j["caveats"][0];
    assert_eq!(
        (
            &caveat["code"],
            &caveat["filter"],
            &caveat["redacted"],
            caveat["message"].as_str().is_some_and(
                |m| m.starts_with("34 records withheld (30 outside the selection, 4 redacted)")
            )
        ),
        (
            &serde_json::json!("withheld-with-reasons"),
            &serde_json::json!(30),
            &serde_json::json!(4),
            true
        ),
        "{j}"
    );
}

#[test]
fn a_redact_path_that_matches_nothing_or_is_malformed_writes_no_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let before = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with("exporter") && !n.starts_with("s.db"))
            .collect();
        names.sort();
        names
    };
    for (path, says) in [
        (
            "args.emial",
            "redact path \"args.emial\": no record of seq 0 to 39 holds it",
        ),
        (
            "args[0]",
            "redact path \"args[0]\": character 5: only [] may follow a name",
        ),
        (
            "args..k",
            "redact path \"args..k\": character 6: a member name is missing",
        ),
        ("args.*", "`*` is not a wildcard"),
    ] {
        let (o, verified) = export_ops(dir.path(), "x.bundle", &["--redact", path]);
        assert_eq!(o.status.code(), Some(2), "{path}: {}", text(&o.stdout));
        assert!(verified.is_none());
        let err = text(&o.stderr);
        assert!(
            err.contains(&format!("error: --redact: redact path {path:?}: ")) && err.contains(says),
            "{path}: {err}"
        );
        assert!(err.contains("no bundle was written"), "{err}");
        assert_eq!(
            before(dir.path()),
            Vec::<String>::new(),
            "{path}: a file was left"
        );
    }
    // Into arrays: `args.k` is an array in seq 4 (of one object) and 15 (of scalars).
    let (o, _) = export_ops(dir.path(), "y.bundle", &["--redact", "args.k[].x"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert_eq!(before(dir.path()), Vec::<String>::new());
    let (o, _) = export_ops(dir.path(), "z.bundle", &["--redact", "args.k[]"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}
