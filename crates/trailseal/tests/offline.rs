//! Signed head anchors (truncation, rollback, fork) and export bundles (every tamper, the
//! filters and redaction, public-key-only verification).
//!
//! Longer than 600 lines on purpose: anchors and bundles share the stores and keys built at the
//! top; each test is short.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::io::BufReader;
use std::path::Path;

use rusqlite::Connection;
use trailseal::core::bundle::BundleLevel;
use trailseal::core::note::NoteSigner;
use trailseal::core::time::Offset;
use trailseal::core::{Hash32, UnverifiableReason};
use trailseal::{
    AuditLog, BundleSelection, Caveat, ChainKey, CutoffSpec, OpenMode, OpenOptions, PruneRequest,
    TamperKind, Timestamp, Verdict, VerifyOptions,
};

const SECRET: &str = "offline-secret-for-tests";

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s, Offset::Required).unwrap()
}

fn key() -> ChainKey {
    ChainKey::from_secret(SECRET.as_bytes()).unwrap()
}

fn signer() -> NoteSigner {
    trailseal_testkit::signer("auditor-key", 42)
}

fn trace(n: u64) -> String {
    let principal = ["agent:support", "agent:finance", "agent:devops"][(n % 3) as usize];
    let capability = ["crm.search", "billing.refund"][(n % 2) as usize];
    // Stored canonically (sorted keys), so where `error` is written does not matter.
    let error = if n % 5 == 4 {
        r#","error":"timeout""#
    } else {
        ""
    };
    let email = if n.is_multiple_of(4) {
        r#","email":"user@example.com""#
    } else {
        ""
    };
    trailseal_testkit::Trace::new(format!("a-{n:05}"))
        .capability(capability)
        .principal(principal)
        .token("t")
        .invoked_at(format!(
            "2026-01-01T00:{:02}:{:02}+00:00",
            n / 60 % 60,
            n % 60
        ))
        .args(format!(r#"{{"n":{n}{email}}}"#))
        .extra(error)
        .json()
}

fn open(path: &Path) -> AuditLog {
    let options = OpenOptions {
        mode: OpenMode::Write { create: true },
        ..OpenOptions::default()
    };
    AuditLog::open(path.to_str().unwrap(), &options)
        .unwrap()
        .with_key(key())
}

fn store(path: &Path, records: std::ops::Range<u64>) {
    let mut log = open(path);
    let texts: Vec<String> = records.map(trace).collect();
    log.append(&log.prepare(texts.iter().map(String::as_bytes)).unwrap())
        .unwrap();
}

fn anchor(path: &Path) -> (String, String) {
    let (_, note) = open(path)
        .anchor(
            &signer(),
            "test.example/log",
            t("2026-11-27T00:00:00Z"),
            true,
        )
        .unwrap();
    ("head.note".to_owned(), note)
}

fn verify(path: &Path, anchors: &[(String, String)]) -> Verdict {
    open(path).verify_with(&mut VerifyOptions::new().anchor_notes(anchors, &signer().verifier()))
}

fn tampered(v: &Verdict, kind: TamperKind, seq: u64, what: &str) {
    assert_eq!(
        (v.kind(), v.first_bad_seq()),
        (Some(kind), Some(seq)),
        "{what}: {v:?}"
    );
}

#[test]
fn anchors_catch_truncation_rollback_and_forks() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["db", "jsonl"] {
        let path = dir.path().join(format!("a.{ext}"));
        store(&path, 0..30);
        let old_copy = dir.path().join(format!("old.{ext}"));
        std::fs::copy(&path, &old_copy).unwrap();
        store(&path, 30..50);
        let head = anchor(&path);

        let v = verify(&path, std::slice::from_ref(&head));
        let Verdict::Verified(ok) = &v else {
            panic!("{ext}: {v:?}")
        };
        assert!(
            ok.caveats.is_empty(),
            "{ext}: the anchor covers the head: {:?}",
            ok.caveats
        );
        assert_eq!(ok.anchored_seq(), Some(49));

        // Tail truncation.
        let cut = dir.path().join(format!("cut.{ext}"));
        std::fs::copy(&path, &cut).unwrap();
        if ext == "db" {
            Connection::open(&cut)
                .unwrap()
                .execute("DELETE FROM traces WHERE seq > 44", [])
                .unwrap();
        } else {
            let text = std::fs::read_to_string(&cut).unwrap();
            let kept: Vec<&str> = text.lines().take(45).collect();
            std::fs::write(&cut, kept.join("\n") + "\n").unwrap();
        }
        tampered(
            &verify(&cut, std::slice::from_ref(&head)),
            TamperKind::Truncated,
            45,
            "tail truncated",
        );
        // Without the anchor, the Merkle tree the store kept shows the cut too (the JSONL
        // copy was made without its tree file: it has no tree, and says so).
        let plain = open(&cut).verify();
        if ext == "db" {
            tampered(
                &plain,
                TamperKind::Truncated,
                45,
                "tail truncated, no anchor",
            );
            assert!(
                format!("{plain:?}").contains("Merkle tree holds records up to seq 49"),
                "{plain:?}"
            );
            // One who also removes the tree's hashes of those records leaves a chain that
            // verifies, with the caveat that says why that proves little.
            let conn = Connection::open(&cut).unwrap();
            let keep = trailseal_core::tree::stored_hash_count(45).unwrap() as i64;
            conn.execute("DELETE FROM trailseal_tree WHERE idx >= ?1", [keep])
                .unwrap();
        }
        let plain = open(&cut).verify();
        assert!(
            plain
                .caveats()
                .contains(&Caveat::NoAnchor { last_seq: Some(44) }),
            "{plain:?}"
        );

        // Rollback to an older copy.
        tampered(
            &verify(&old_copy, std::slice::from_ref(&head)),
            TamperKind::Truncated,
            30,
            "rolled back",
        );

        // A fork: the old copy extended with other records by someone holding the secret.
        let fork = dir.path().join(format!("fork.{ext}"));
        std::fs::copy(&old_copy, &fork).unwrap();
        store(&fork, 1000..1020);
        tampered(
            &verify(&fork, std::slice::from_ref(&head)),
            TamperKind::Link,
            49,
            "forked",
        );

        // Records after the newest anchor are verified but not vouched for.
        store(&path, 50..55);
        let v = verify(&path, std::slice::from_ref(&head));
        assert!(
            v.caveats().contains(&Caveat::AnchorBehind {
                anchored: 49,
                last_seq: 54
            }),
            "{v:?}"
        );
        let newer = anchor(&path);
        assert!(verify(&path, &[head.clone(), newer]).caveats().is_empty());
    }
}

#[test]
fn unusable_anchors_are_unverifiable_not_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.db");
    store(&path, 0..10);
    let (label, note) = anchor(&path);
    let other = trailseal_testkit::signer("auditor-key", 1).verifier();
    let v = open(&path).verify_with(
        &mut VerifyOptions::new().anchor_notes(&[(label.clone(), note.clone())], &other),
    );
    assert!(
        matches!(&v, Verdict::Unverifiable(u) if u.reason == UnverifiableReason::WrongKey),
        "{v:?}"
    );
    let altered = note.replace("\n10\n", "\n11\n");
    let v = verify(&path, &[(label.clone(), altered)]);
    assert!(
        matches!(&v, Verdict::Unverifiable(u) if u.reason == UnverifiableReason::WrongKey),
        "{v:?}"
    );
    // An anchor of another chain (another secret).
    let elsewhere = dir.path().join("e.db");
    let options = OpenOptions {
        mode: OpenMode::Write { create: true },
        ..OpenOptions::default()
    };
    let mut log = AuditLog::open(elsewhere.to_str().unwrap(), &options)
        .unwrap()
        .with_key(ChainKey::from_secret(b"another-secret-for-tests").unwrap());
    log.append_json(trace(1).as_bytes()).unwrap();
    let (_, foreign) = log
        .anchor(&signer(), "x", t("2026-11-27T00:00:00Z"), true)
        .unwrap();
    let v = verify(&path, &[("foreign".into(), foreign)]);
    assert!(
        matches!(&v, Verdict::Unverifiable(u) if u.reason == UnverifiableReason::WrongSecret),
        "{v:?}"
    );
}

#[test]
fn anchors_survive_pruning_and_cover_the_retention_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    store(&path, 0..40);
    let mut log = open(&path);
    log.set_min_retention(Some(86_400_000_000), t("2026-06-01T00:00:00Z"), false)
        .unwrap();
    // Close it, so SQLite folds its WAL into the file the test copies below.
    drop(log);
    let early = anchor(&path);
    let request = PruneRequest {
        cutoff: CutoffSpec::KeepLast(10),
        now: t("2026-06-01T00:00:00Z"),
        dry_run: false,
        archive: None,
    };
    open(&path).prune(&request).unwrap();
    store(&path, 40..45);
    let late = anchor(&path);
    let v = verify(&path, &[early.clone(), late.clone()]);
    assert!(v.is_verified() && v.caveats().is_empty(), "{v:?}");
    // Dropping the newest receipt (possible without a trace in the store alone) is caught by
    // an anchor that saw it.
    let rolled = dir.path().join("rolled.db");
    std::fs::copy(&path, &rolled).unwrap();
    Connection::open(&rolled)
        .unwrap()
        .execute("DELETE FROM trailseal_retention WHERE idx = 1", [])
        .unwrap();
    let v = verify(&rolled, std::slice::from_ref(&late));
    tampered(&v, TamperKind::Checkpoint, 30, "retention log rolled back");
}

fn bundle(path: &Path, selection: &BundleSelection) -> Vec<u8> {
    let mut out = Vec::new();
    open(path)
        .export_bundle(
            &mut out,
            &signer(),
            "test.example/log",
            t("2026-11-27T00:00:00Z"),
            selection,
            &mut |_| {},
        )
        .unwrap();
    out
}

fn check(bytes: &[u8], with_secret: bool) -> trailseal::core::bundle::BundleVerdict {
    let key = key();
    trailseal::verify_bundle(
        &mut BufReader::new(bytes),
        &signer().verifier(),
        with_secret.then_some(&key),
        &mut |_| {},
    )
    .unwrap()
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .split_inclusive('\n')
        .map(str::to_owned)
        .collect()
}

#[test]
fn bundles_filter_redact_and_verify_at_both_levels() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.db");
    store(&path, 0..200);

    let all = bundle(&path, &BundleSelection::default());
    let v = check(&all, false);
    assert!(v.verdict.is_verified(), "{v:?}");
    // The store has a tree: every disclosed trace is checked against the signed checkpoint
    // the bundle embeds, with the public key alone; not against its MAC.
    assert_eq!(
        (v.entries, v.disclosed, v.tree_checked, v.level),
        (200, 200, 200, BundleLevel::SignatureAndTree)
    );
    assert_eq!(
        v.verdict.caveats(),
        [Caveat::TreeChecked {
            count: 200,
            tree_size: 200
        }]
    );
    assert_eq!(v.checkpoint.as_ref().map(|c| c.size()), Some(200));
    let v = check(&all, true);
    assert_eq!(
        (v.verdict.is_verified(), v.level),
        (true, BundleLevel::SignatureAndMac)
    );
    assert!(v.verdict.caveats().is_empty(), "{v:?}");

    let range = bundle(
        &path,
        &BundleSelection {
            from_seq: Some(10),
            to_seq: Some(99),
            ..Default::default()
        },
    );
    let v = check(&range, true);
    assert_eq!((v.verdict.records_checked(), v.entries), (90, 90));
    let Verdict::Verified(r) = &v.verdict else {
        panic!()
    };
    assert_eq!((r.first_seq, r.last_seq), (Some(10), Some(99)));

    let filtered = bundle(
        &path,
        &BundleSelection {
            principal: Some("agent:finance".into()),
            capability: Some("billing.refund".into()),
            redact: vec!["args.email".into(), "error".into()],
            ..Default::default()
        },
    );
    let v = check(&filtered, true);
    assert!(v.verdict.is_verified(), "{v:?}");
    // Disclosed: finance (n % 3 == 1), refund (n odd), no email (n % 4 != 0: always, n odd), no error (n % 5 != 4).
    let expected = (0..200u64)
        .filter(|n| n % 3 == 1 && n % 2 == 1 && n % 5 != 4)
        .count() as u64;
    assert_eq!(
        (v.entries, v.disclosed, v.withheld),
        (200, expected, 200 - expected)
    );
    let text = String::from_utf8(filtered.clone()).unwrap();
    assert!(
        !text.contains("agent:support")
            && !text.contains("user@example.com")
            && !text.contains("timeout")
    );
    // Filtered and redacted entries carry the same marker.
    assert!(
        text.contains("\"withheld\":true")
            && !text.contains("\"withheld\":\"filter\"")
            && !text.contains("\"withheld\":\"redacted\"")
    );

    let window = bundle(
        &path,
        &BundleSelection {
            since: Some(t("2026-01-01T00:01:00Z")),
            until: Some(t("2026-01-01T00:02:00Z")),
            ..Default::default()
        },
    );
    let v = check(&window, true);
    let Verdict::Verified(w) = &v.verdict else {
        panic!("{v:?}")
    };
    assert_eq!(
        (w.first_seq, w.last_seq, v.disclosed),
        (Some(60), Some(119), 60)
    );
}

#[test]
fn every_tamper_of_a_bundle_is_caught_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    store(&path, 0..150);
    let original = bundle(
        &path,
        &BundleSelection {
            redact: vec!["args.email".into()],
            ..Default::default()
        },
    );
    let l = lines(&original);
    // Line 0 header; entries 0..63 on lines 1..64; trailer line 65; ...
    let entry_line = |i: usize| 1 + i + i / 64;
    assert!(l[entry_line(70)].starts_with("{\"seq\":70,"));

    let rebuilt = |l: &[String]| l.concat().into_bytes();
    let not_verified = |bytes: &[u8], secret: bool, kind: TamperKind, detail: &str, what: &str| {
        let v = check(bytes, secret);
        assert_eq!(v.verdict.kind(), Some(kind), "{what}: {v:?}");
        assert!(
            v.verdict.detail().contains(detail),
            "{what}: {:?} should name {detail}",
            v.verdict.detail()
        );
    };

    // A changed trace: named exactly with the secret, by its block without.
    let mut c = l.clone();
    c[entry_line(70)] = c[entry_line(70)]
        .replace("crm.search", "crm.delete")
        .replace("billing.refund", "billing.delete");
    not_verified(
        &rebuilt(&c),
        true,
        TamperKind::Content,
        "entry 70 (seq 70)",
        "changed trace, with secret",
    );
    // Without the secret, the tree check names it too (the store has a tree).
    not_verified(
        &rebuilt(&c),
        false,
        TamperKind::Content,
        "entry 70 (seq 70): its trace and salt do not match the leaf's trace commitment",
        "changed trace, public key only",
    );

    let mut c = l.clone();
    c.remove(entry_line(70));
    not_verified(
        &rebuilt(&c),
        false,
        TamperKind::Sequence,
        "entry 70 (seq 71)",
        "removed entry",
    );

    let mut c = l.clone();
    let dup = c[entry_line(70)].clone();
    c.insert(entry_line(70), dup);
    not_verified(
        &rebuilt(&c),
        false,
        TamperKind::Sequence,
        "entry 71 (seq 70)",
        "added entry",
    );

    let mut c = l.clone();
    c.swap(entry_line(70), entry_line(71));
    not_verified(
        &rebuilt(&c),
        false,
        TamperKind::Sequence,
        "entry 70 (seq 71)",
        "reordered entries",
    );

    let mut c = l.clone();
    let h = c[entry_line(70)].find("\"record_hash\":\"").unwrap() + 15;
    c[entry_line(70)].replace_range(h..h + 4, "ffff");
    // Seq 70 is disclosed and in the tree: its leaf names the record_hash it had.
    not_verified(
        &rebuilt(&c),
        false,
        TamperKind::Tree,
        "entry 70 (seq 70): its leaf names another seq, prev_hash or record_hash",
        "changed record_hash",
    );

    // A withheld entry's marker made a reason the header does not allow.
    let mut c = l.clone();
    let i = (0..150)
        .find(|i| c[entry_line(*i)].contains("withheld"))
        .unwrap();
    c[entry_line(i)] = c[entry_line(i)].replace("\"withheld\":true", "\"withheld\":\"filter\"");
    not_verified(
        &rebuilt(&c),
        false,
        TamperKind::Malformed,
        &format!("entry {i} (seq {i}): must be exactly"),
        "withheld marker changed",
    );

    // A disclosed entry of block 1 withheld, and block 1's trailer rewritten around its
    // signature so the fields read after it match: the signature still verifies over the
    // signed bytes, so only reading the trailer from exactly those bytes names block 1 (not
    // block 2, whose link to it then breaks), with and without the secret.
    let mut c = l.clone();
    let i = (64..128)
        .find(|i| c[entry_line(*i)].contains("\"trace\":"))
        .unwrap();
    let at = c[entry_line(i)].find(",\"trace\":").unwrap();
    c[entry_line(i)] = format!("{},\"withheld\":true}}\n", &c[entry_line(i)][..at]);
    let digest = {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        for n in 64..128 {
            h.update(c[entry_line(n)].as_bytes());
        }
        Hash32::from_bytes(&h.finalize().into())
    };
    let trailer = entry_line(127) + 1;
    assert!(c[trailer].starts_with("{\"block\":1,"));
    c[trailer] = c[trailer].replacen("\"}\n", &format!("\",\"digest\":\"{digest}\"}}\n"), 1);
    for secret in [false, true] {
        not_verified(
            &rebuilt(&c),
            secret,
            TamperKind::Malformed,
            "block 1 (entries 64 to 127",
            "trailer rewritten around its signature",
        );
    }

    // Cut before the manifest; manifest edited; blocks reordered; data appended.
    let mut c = l.clone();
    c.pop();
    not_verified(
        &rebuilt(&c),
        false,
        TamperKind::Truncated,
        "without its signed manifest",
        "truncated",
    );
    let mut c = l.clone();
    let last = c.len() - 1;
    c[last] = c[last].replace("entries 150", "entries 149");
    not_verified(
        &rebuilt(&c),
        false,
        TamperKind::Content,
        "manifest was altered",
        "manifest edited",
    );
    let mut c = l.clone();
    let (a, b) = (1..66usize, 66..131usize);
    let block0: Vec<String> = c[a.clone()].to_vec();
    let block1: Vec<String> = c[b.clone()].to_vec();
    c.splice(1..131, block1.into_iter().chain(block0));
    not_verified(
        &rebuilt(&c),
        false,
        TamperKind::Sequence,
        "block 0: the trailer belongs elsewhere",
        "blocks swapped",
    );
    let mut c = l.clone();
    c.push("{\"seq\":150}\n".into());
    not_verified(
        &rebuilt(&c),
        false,
        TamperKind::Malformed,
        "after the signed manifest",
        "data appended",
    );

    // Wrong keys are unverifiable, not tampering.
    let other = trailseal_testkit::signer("auditor-key", 7).verifier();
    let v = trailseal::verify_bundle(
        &mut BufReader::new(original.as_slice()),
        &other,
        None,
        &mut |_| {},
    )
    .unwrap();
    assert!(
        matches!(&v.verdict, Verdict::Unverifiable(u) if u.reason == UnverifiableReason::WrongKey),
        "{v:?}"
    );
    let wrong = ChainKey::from_secret(b"wrong").unwrap();
    let v = trailseal::verify_bundle(
        &mut BufReader::new(original.as_slice()),
        &signer().verifier(),
        Some(&wrong),
        &mut |_| {},
    )
    .unwrap();
    assert!(!v.verdict.is_verified(), "{v:?}");

    // Every single changed byte of a small bundle.
    let small = bundle(
        &path,
        &BundleSelection {
            from_seq: Some(0),
            to_seq: Some(9),
            ..Default::default()
        },
    );
    let mut caught = 0;
    for at in 0..small.len() {
        for bit in [0x01u8, 0x20] {
            let mut b = small.clone();
            b[at] ^= bit;
            if b == small {
                continue;
            }
            let v = check(&b, false);
            assert!(!v.verdict.is_verified(), "byte {at} ^ {bit:#x} not caught");
            caught += 1;
        }
    }
    eprintln!(
        "{caught} single-byte changes of a {}-byte bundle, all caught",
        small.len()
    );
}

#[test]
fn a_bundle_refuses_a_store_that_does_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.db");
    store(&path, 0..20);
    Connection::open(&path)
        .unwrap()
        .execute("UPDATE traces SET payload = replace(payload, 'crm.search', 'crm.delete') WHERE seq = 8", [])
        .unwrap();
    let mut out = Vec::new();
    let err = open(&path)
        .export_bundle(
            &mut out,
            &signer(),
            "x",
            t("2026-11-27T00:00:00Z"),
            &BundleSelection::default(),
            &mut |_| {},
        )
        .unwrap_err();
    assert!(
        matches!(&err, trailseal::Error::NotVerified { verdict } if verdict.first_bad_seq() == Some(8)),
        "{err}"
    );
}

/// Removes the records before `next_seq` as weaver-kernel's prune does: an unauthenticated
/// checkpoint in `meta`, holding `hash`.
fn weaver_prune(path: &Path, next_seq: u64, hash: &str) {
    let c = Connection::open(path).unwrap();
    c.execute("DELETE FROM traces WHERE seq < ?1", [next_seq as i64])
        .unwrap();
    c.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('checkpoint_hash', ?1), ('checkpoint_next_seq', ?2)",
        [hash, &next_seq.to_string()],
    )
    .unwrap();
}

fn record_hash(path: &Path, seq: u64) -> String {
    Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT record_hash FROM traces WHERE seq = ?1",
            [seq as i64],
            |r| r.get(0),
        )
        .unwrap()
}

fn unchecked(v: &Verdict, what: &str) {
    assert!(
        matches!(v, Verdict::Unverifiable(u)
            if u.reason == UnverifiableReason::AnchorUnchecked && u.detail.contains("anchor head.note")),
        "{what}: {v:?}"
    );
}

#[test]
fn an_anchor_nothing_in_the_store_can_check_is_never_verified() {
    let dir = tempfile::tempdir().unwrap();
    // The store now starts from an unauthenticated checkpoint past the anchor.
    let path = dir.path().join("past.db");
    store(&path, 0..20);
    let head = anchor(&path);
    store(&path, 20..30);
    let h = Connection::open(&path)
        .unwrap()
        .query_row("SELECT prev_hash FROM traces WHERE seq = 25", [], |r| {
            r.get::<_, String>(0)
        })
        .unwrap();
    weaver_prune(&path, 25, &h);
    unchecked(
        &verify(&path, std::slice::from_ref(&head)),
        "checkpoint past the anchor",
    );
    // Without the anchor, the same store verifies (with the caveat of its checkpoint).
    assert!(open(&path).verify().is_verified());

    // Every record gone, the checkpoint forged from the (public) anchor's own hash: nothing
    // the secret authenticates links to it.
    let path = dir.path().join("empty.db");
    store(&path, 0..20);
    let head = anchor(&path);
    let h19 = record_hash(&path, 19);
    weaver_prune(&path, 20, &h19);
    unchecked(
        &verify(&path, std::slice::from_ref(&head)),
        "checkpoint at the anchor, no record",
    );

    // The same checkpoint with a record after it: that record's MAC covers its prev_hash, so
    // the anchor is checked.
    store(&path, 20..22);
    let v = verify(&path, std::slice::from_ref(&head));
    let Verdict::Verified(ok) = &v else {
        panic!("{v:?}")
    };
    assert_eq!(ok.anchored_seq(), Some(19));

    // An empty store (a rollback to nothing) is truncation.
    let path = dir.path().join("none.db");
    store(&path, 0..0);
    let v = verify(&path, std::slice::from_ref(&head));
    tampered(&v, TamperKind::Truncated, 0, "empty store");
}

#[test]
fn anchors_before_the_start_are_checked_against_the_prune_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    store(&path, 0..40);
    let early = anchor(&path);
    let h9 = record_hash(&path, 9);
    let prune = |n: u64| PruneRequest {
        cutoff: CutoffSpec::KeepLast(n),
        now: t("2026-06-01T00:00:00Z"),
        dry_run: false,
        archive: None,
    };
    open(&path).prune(&prune(30)).unwrap();
    open(&path).prune(&prune(5)).unwrap();
    // A prune receipt accounts for the removal of what the anchor vouched for.
    let v = verify(&path, std::slice::from_ref(&early));
    assert!(v.is_verified(), "{v:?}");
    // An anchor for seq 9, the last record the first prune removed: its receipt states the
    // hash, which must be the anchored one.
    let key_id = key().key_id();
    let fake = |hash: Hash32| {
        let a = trailseal::core::anchor::Anchor {
            origin: "test.example/log".into(),
            size: 10,
            head_hash: hash,
            time: t("2026-11-27T00:00:00Z"),
            key_id,
            retention: None,
            tree: None,
        };
        ("head.note".to_owned(), a.sign(&signer()).unwrap())
    };
    let right = Hash32::parse(h9.as_bytes()).unwrap();
    assert!(verify(&path, &[fake(right)]).is_verified());
    let v = verify(&path, &[fake(Hash32::from_bytes(&[7; 32]))]);
    tampered(&v, TamperKind::Link, 35, "receipt states another hash");
    assert!(v.detail().contains("retention receipt 0"), "{v:?}");
}

#[test]
fn anchor_files_are_write_once_and_the_folder_is_checked_before_appending() {
    let dir = tempfile::tempdir().unwrap();
    let public = signer().verifier();
    for ext in ["db", "jsonl"] {
        let path = dir.path().join(format!("w.{ext}"));
        let folder = dir.path().join(format!("anchors-{ext}"));
        std::fs::create_dir(&folder).unwrap();
        store(&path, 0..10);
        let now = t("2026-11-27T00:00:00Z");
        let (a, file, done) = open(&path)
            .anchor_into_dir(&folder, &signer(), "o", now)
            .unwrap();
        assert_eq!(
            (a.size, done, file.file_name().unwrap().to_str().unwrap()),
            (
                10,
                trailseal::AnchorWrite::Created,
                "anchor-000000000010.note"
            )
        );
        let written = std::fs::read(&file).unwrap();
        // Again, later: the same size and head; the file is kept.
        let (_, _, done) = open(&path)
            .anchor_into_dir(&folder, &signer(), "o", t("2026-11-28T00:00:00Z"))
            .unwrap();
        assert_eq!(done, trailseal::AnchorWrite::AlreadyPresent);
        assert_eq!(std::fs::read(&file).unwrap(), written);
        open(&path).check_anchor_dir(&folder, &public).unwrap();

        // The store rewritten at seq 9 (deleted and appended again): the folder refuses it,
        // before and at writing.
        let copy = dir.path().join(format!("copy.{ext}"));
        std::fs::copy(&path, &copy).unwrap();
        if ext == "db" {
            Connection::open(&copy)
                .unwrap()
                .execute("DELETE FROM traces WHERE seq = 9", [])
                .unwrap();
        } else {
            let text = std::fs::read_to_string(&copy).unwrap();
            let kept: Vec<&str> = text.lines().take(9).collect();
            std::fs::write(&copy, kept.join("\n") + "\n").unwrap();
        }
        let conflict = |e: trailseal::Error, kind: TamperKind| match e {
            trailseal::Error::AnchorConflict { path, verdict } => {
                assert!(path.ends_with("anchor-000000000010.note"), "{path}");
                tampered(&verdict, kind, 9, "conflict");
            }
            other => panic!("{ext}: {other:?}"),
        };
        conflict(
            open(&copy).check_anchor_dir(&folder, &public).unwrap_err(),
            TamperKind::Truncated,
        );
        store(&copy, 100..101);
        conflict(
            open(&copy).check_anchor_dir(&folder, &public).unwrap_err(),
            TamperKind::Link,
        );
        conflict(
            open(&copy)
                .anchor_into_dir(&folder, &signer(), "o", now)
                .unwrap_err(),
            TamperKind::Link,
        );
        assert_eq!(std::fs::read(&file).unwrap(), written, "{ext}");
        // Grown past the anchor: its head is read from the store.
        store(&copy, 101..105);
        conflict(
            open(&copy).check_anchor_dir(&folder, &public).unwrap_err(),
            TamperKind::Link,
        );
        store(&path, 10..15);
        open(&path).check_anchor_dir(&folder, &public).unwrap();
        let names: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names.len(),
            1,
            "{ext}: no temporary file is left: {names:?}"
        );
    }
}

/// Principal `agent:finance` (n % 3 == 1), `args.email` redacted (n % 4 == 0): record n is
/// filtered out, redacted, or disclosed.
fn finance_without_email(withheld_reasons: bool) -> BundleSelection {
    BundleSelection {
        principal: Some("agent:finance".into()),
        redact: vec!["args.email".into()],
        withheld_reasons,
        ..Default::default()
    }
}

fn why_withheld(n: u64) -> Option<&'static str> {
    if n % 3 != 1 {
        Some("filter")
    } else if n.is_multiple_of(4) {
        Some("redacted")
    } else {
        None
    }
}

/// The entry lines of a bundle (header, trailers and manifest left out), parsed.
fn entries(bytes: &[u8]) -> Vec<(String, serde_json::Value)> {
    lines(bytes)
        .into_iter()
        .filter(|l| l.starts_with("{\"seq\":"))
        .map(|l| {
            let v = serde_json::from_str(&l).unwrap();
            (l, v)
        })
        .collect()
}

#[test]
fn withheld_entries_are_alike_whatever_withheld_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    store(&path, 0..150);
    let b = bundle(&path, &finance_without_email(false));
    let header: serde_json::Value = serde_json::from_str(&lines(&b)[0]).unwrap();
    assert_eq!(
        (&header["trailseal_bundle"], &header["withheld_reasons"]),
        (&serde_json::json!(3), &serde_json::json!(false))
    );
    let (mut filtered, mut redacted) = (0, 0);
    for (n, (line, v)) in entries(&b).iter().enumerate() {
        let n = n as u64;
        assert_eq!(v["seq"], n);
        let Some(why) = why_withheld(n) else {
            assert!(v.get("trace").is_some(), "{line}");
            continue;
        };
        *(if why == "filter" {
            &mut filtered
        } else {
            &mut redacted
        }) += 1;
        // Byte for byte the one shape: only the seq and the hashes differ.
        let expected = format!(
            "{{\"seq\":{n},\"prev_hash\":\"{}\",\"record_hash\":\"{}\",\"withheld\":true}}\n",
            v["prev_hash"].as_str().unwrap(),
            v["record_hash"].as_str().unwrap()
        );
        assert_eq!(line, &expected, "seq {n} ({why})");
    }
    assert!(filtered > 0 && redacted > 0, "{filtered} {redacted}");
    // Nor does the verdict tell them apart: one count, one caveat.
    for secret in [false, true] {
        let v = check(&b, secret);
        assert!(v.verdict.is_verified(), "{v:?}");
        assert_eq!(
            (v.withheld, v.withheld_reasons),
            (filtered + redacted, None)
        );
        assert_eq!(
            v.verdict.caveats().first(),
            Some(&Caveat::Withheld {
                count: filtered + redacted
            })
        );
        let caveats: Vec<String> = v.verdict.caveats().iter().map(|c| c.to_string()).collect();
        assert!(
            caveats
                .iter()
                .all(|c| !c.contains("redact") && !c.contains("selection")),
            "{caveats:?}"
        );
    }
}

#[test]
fn withheld_reasons_are_in_the_bundle_only_when_the_exporter_asks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    store(&path, 0..150);
    let b = bundle(&path, &finance_without_email(true));
    let header: serde_json::Value = serde_json::from_str(&lines(&b)[0]).unwrap();
    assert_eq!(header["withheld_reasons"], true);
    let mut counts = (0, 0);
    for (n, (line, v)) in entries(&b).iter().enumerate() {
        let why = why_withheld(n as u64);
        assert_eq!(v["withheld"].as_str(), why, "{line}");
        match why {
            Some("filter") => counts.0 += 1,
            Some(_) => counts.1 += 1,
            None => {}
        }
    }
    for secret in [false, true] {
        let v = check(&b, secret);
        assert!(v.verdict.is_verified(), "{v:?}");
        let reasons = v.withheld_reasons.unwrap();
        assert_eq!((reasons.filter, reasons.redacted), counts);
        assert_eq!(
            v.verdict.caveats().first(),
            Some(&Caveat::WithheldWithReasons {
                filter: counts.0,
                redacted: counts.1
            })
        );
    }
}

#[test]
fn a_changed_withheld_marker_or_reasons_mode_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    store(&path, 0..150);
    let hidden = lines(&bundle(&path, &finance_without_email(false)));
    let shown = lines(&bundle(&path, &finance_without_email(true)));
    let all = lines(&bundle(
        &path,
        &BundleSelection {
            from_seq: Some(0),
            to_seq: Some(9),
            ..Default::default()
        },
    ));
    let entry_line = |i: usize| 1 + i + i / 64;
    let changed = |l: &[String], at: usize, from: &str, to: &str| {
        let mut c = l.to_vec();
        assert!(c[at].contains(from), "{}", c[at]);
        c[at] = c[at].replacen(from, to, 1);
        c.concat().into_bytes()
    };
    let caught = |bytes: &[u8], kind: TamperKind, detail: &str, what: &str| {
        for secret in [false, true] {
            let v = check(bytes, secret);
            assert_eq!(v.verdict.kind(), Some(kind), "{what}: {v:?}");
            assert!(
                v.verdict.detail().contains(detail),
                "{what}: {:?} should name {detail}",
                v.verdict.detail()
            );
        }
    };
    // Seq 4 is redacted, 0 filtered out.
    for (n, to) in [
        (4, "\"redacted\""),
        (0, "\"filter\""),
        (4, "false"),
        (0, "1"),
    ] {
        caught(
            &changed(
                &hidden,
                entry_line(n),
                "\"withheld\":true",
                &format!("\"withheld\":{to}"),
            ),
            TamperKind::Malformed,
            &format!("entry {n} (seq {n}): must be exactly"),
            "a marker made a reason",
        );
    }
    // A reason swapped for the other: the signed block differs.
    caught(
        &changed(&shown, entry_line(4), "\"redacted\"", "\"filter\""),
        TamperKind::Content,
        "block 0 (entries 0 to 63",
        "a reason swapped",
    );
    caught(
        &changed(&shown, entry_line(71), "\"filter\"", "true"),
        TamperKind::Malformed,
        "entry 71 (seq 71): must be exactly",
        "a reason hidden",
    );
    // An entry with a member added beside its marker.
    caught(
        &changed(
            &hidden,
            entry_line(4),
            "\"withheld\":true",
            "\"withheld\":true,\"why\":1",
        ),
        TamperKind::Malformed,
        "entry 4 (seq 4): must be exactly",
        "a member added",
    );
    // The header's mode flipped, dropped (as format 1) or duplicated.
    for (l, from, to) in [
        (
            &hidden,
            "\"withheld_reasons\":false",
            "\"withheld_reasons\":true",
        ),
        (
            &shown,
            "\"withheld_reasons\":true",
            "\"withheld_reasons\":false",
        ),
        // (A store with a tree gives format 3: made to look like format 2 or 1, its header
        // holds a member those formats do not have.)
        (&hidden, "\"trailseal_bundle\":3", "\"trailseal_bundle\":2"),
        (&shown, "\"trailseal_bundle\":3", "\"trailseal_bundle\":1"),
        (
            &all,
            "\"withheld_reasons\":false",
            "\"withheld_reasons\":true",
        ),
    ] {
        let v = check(&changed(l, 0, from, to), false);
        assert!(
            matches!(v.verdict, Verdict::Tampered(_)),
            "{from} -> {to}: {v:?}"
        );
    }
    for (l, from, to) in [
        (
            &hidden,
            "\"withheld_reasons\":false",
            "\"withheld_reasons\":false,\"withheld_reasons\":true",
        ),
        (
            &hidden,
            "\"withheld_reasons\":false",
            "\"withheld_reasons\":0",
        ),
        (&hidden, ",\"withheld_reasons\":false", ""),
        (&all, "\"trailseal_bundle\":3", "\"trailseal_bundle\":2"),
        (&all, "\"trailseal_bundle\":3", "\"trailseal_bundle\":1"),
    ] {
        caught(
            &changed(l, 0, from, to),
            TamperKind::Malformed,
            "line 1: the header does not hold exactly the members",
            to,
        );
    }
    for l in [&hidden, &shown, &all] {
        assert!(check(&l.concat().into_bytes(), true).verdict.is_verified());
    }
}

/// A bundle of format 1 written by trailseal before hash-only entries looked alike (seq 0 to
/// 39, principal `agent:finance`, `args.email` redacted): it names each entry's reason, and
/// still verifies.
#[test]
fn format_1_bundles_still_verify_and_show_their_reasons() {
    let b = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/format-1.bundle"
    ))
    .unwrap();
    assert!(lines(&b)[0].contains("\"trailseal_bundle\":1}"));
    let redacted = (0..40)
        .filter(|n| why_withheld(*n) == Some("redacted"))
        .count() as u64;
    let filter = (0..40)
        .filter(|n| why_withheld(*n) == Some("filter"))
        .count() as u64;
    for secret in [false, true] {
        let v = check(&b, secret);
        assert!(v.verdict.is_verified(), "{v:?}");
        let reasons = v.withheld_reasons.unwrap();
        assert_eq!(
            (v.entries, reasons.filter, reasons.redacted),
            (40, filter, redacted)
        );
    }
    // Its reasons are as signed: one swapped is caught.
    let l = lines(&b);
    let at = (1..l.len())
        .find(|i| l[*i].contains("\"withheld\":\"redacted\""))
        .unwrap();
    let mut c = l.clone();
    c[at] = c[at].replace("\"redacted\"", "\"filter\"");
    assert_eq!(
        check(&c.concat().into_bytes(), false).verdict.kind(),
        Some(TamperKind::Content)
    );
}

/// A store whose traces hold arrays of recipients, some with an email.
fn recipients_store(path: &Path) -> Vec<&'static str> {
    let recipients = vec![
        r#"[{"name":"a","email":"first@example.com"},{"name":"b"}]"#,
        r#"[{"name":"c"},{"name":"d"}]"#,
        r#"[{"name":"e","email":null}]"#,
        r#"[]"#,
        r#"[{"name":"f"},{"name":"g","email":"second@example.com"}]"#,
        r#"{"email":"object@example.com"}"#,
        r#"[[{"email":"nested@example.com"}]]"#,
    ];
    let texts: Vec<String> = recipients
        .iter()
        .enumerate()
        .map(|(n, r)| {
            format!(
                r#"{{"action_id":"r-{n}","capability_id":"mail.send","principal_id":"agent:mail","token_id":"t","invoked_at":"2026-01-01T00:00:0{n}+00:00","args":{{"recipients":{r},"email":"top@example.com"}},"response_mode":"summary","driver_id":"http"}}"#
            )
        })
        .collect();
    let mut log = open(path);
    log.append(&log.prepare(texts.iter().map(String::as_bytes)).unwrap())
        .unwrap();
    recipients
}

#[test]
fn redact_paths_reach_into_array_elements() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    recipients_store(&path);
    let b = bundle(
        &path,
        &BundleSelection {
            redact: vec!["args.recipients[].email".into()],
            withheld_reasons: true,
            ..Default::default()
        },
    );
    let withheld: Vec<u64> = entries(&b)
        .iter()
        .filter(|(_, v)| v.get("withheld").is_some())
        .map(|(_, v)| v["seq"].as_u64().unwrap())
        .collect();
    // Exactly the records where an element of the array holds an email that is not null.
    assert_eq!(withheld, [0, 4]);
    let text = String::from_utf8(b.clone()).unwrap();
    assert!(
        !text.contains("first@example.com") && !text.contains("second@example.com"),
        "{text}"
    );
    // The path does not reach into an object, nor an array of arrays, nor another member.
    for kept in [
        "object@example.com",
        "nested@example.com",
        "top@example.com",
    ] {
        assert!(text.contains(kept), "{kept}");
    }
    let v = check(&b, true);
    assert!(v.verdict.is_verified(), "{v:?}");
    assert_eq!(
        (v.level, v.entries, v.disclosed),
        (BundleLevel::SignatureAndMac, 7, 5)
    );

    // Nested arrays take one [] per level.
    let b = bundle(
        &path,
        &BundleSelection {
            redact: vec!["args.recipients[][].email".into()],
            ..Default::default()
        },
    );
    let text = String::from_utf8(b.clone()).unwrap();
    assert!(!text.contains("nested@example.com") && text.contains("first@example.com"));
    assert!(check(&b, true).verdict.is_verified());
}

#[test]
fn a_redact_path_no_record_holds_or_a_malformed_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.db");
    store(&path, 0..20);
    let export = |redact: &[&str], from: Option<u64>| {
        let mut out = Vec::new();
        let selection = BundleSelection {
            from_seq: from,
            principal: Some("agent:finance".into()),
            redact: redact.iter().map(|r| (*r).to_owned()).collect(),
            ..Default::default()
        };
        let result = open(&path).export_bundle(
            &mut out,
            &signer(),
            "test.example/log",
            t("2026-11-27T00:00:00Z"),
            &selection,
            &mut |_| {},
        );
        (result, out)
    };
    // A misspelt path, and one that names an array without [] (seq 1 to 19 hold no email
    // record of finance's, but seq 4, 8, … hold the path in other principals' records: they
    // count).
    for (redact, from) in [
        (&["args.email", "args.emial"][..], None),
        (&["args.n.email"][..], None),
        (&["args.email"][..], Some(17)),
    ] {
        let (result, out) = export(redact, from);
        let Err(trailseal::Error::Redact(e @ trailseal::RedactError::NoMatch { .. })) = &result
        else {
            panic!("{redact:?}: {result:?}");
        };
        assert!(e.to_string().starts_with("redact path \""), "{e}");
        // What was written lacks its manifest: it never verifies.
        assert!(!check(&out, true).verdict.is_verified());
    }
    let (result, _) = export(&["args.email"], Some(1));
    assert!(result.is_ok(), "{result:?}");
    // Held as null counts: the path is right, there is just nothing to redact.
    let (result, _) = export(&["error", "args.n"], None);
    assert!(result.is_ok(), "{result:?}");
    for bad in [
        "args..email",
        "args.email[0]",
        "args.*.email",
        "",
        "args.email.",
    ] {
        let (result, out) = export(&["error", bad], None);
        assert!(
            matches!(&result, Err(trailseal::Error::Redact(trailseal::RedactError::Invalid { path, .. })) if path == bad),
            "{bad:?}: {result:?}"
        );
        assert!(out.is_empty(), "{bad:?}: something was written");
    }
}
