//! Every case in `crates/testkit/vectors/weaver-0.12.0/cases.json`: trailseal agrees with
//! weaver-kernel 0.12.0 on ok/not-ok and on first_bad_seq, reports what weaver-kernel raises on
//! as `malformed` at that seq, and says what it could not check.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::path::PathBuf;

use trailseal::core::UnverifiableReason;
use trailseal::{AuditLog, Caveat, ChainKey, OpenOptions, TamperKind, Verdict};

fn vectors() -> PathBuf {
    trailseal_testkit::vectors_dir()
}

fn verify(file: &str, secret: &str) -> Verdict {
    let dir = vectors().join("weaver-0.12.0");
    let path = if file.starts_with("store.") {
        dir.join(file)
    } else {
        dir.join("tampered").join(file)
    };
    let key = ChainKey::from_secret(secret.as_bytes()).unwrap();
    let mut log = AuditLog::open(path.to_str().unwrap(), &OpenOptions::default())
        .unwrap()
        .with_key(key);
    log.verify()
}

#[test]
fn every_case_agrees_with_weaver_kernel() {
    let cases: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(vectors().join("weaver-0.12.0/cases.json")).unwrap(),
    )
    .unwrap();
    let cases = cases["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 17);
    for case in cases {
        let file = case["file"].as_str().unwrap();
        let tamper = case["tamper"].as_str().unwrap();
        let weaver = &case["weaver_kernel_0_12_0"];
        let verdict = verify(file, case["secret"].as_str().unwrap());
        let what = format!("{file} ({tamper}): {verdict:?}");
        if let Some(message) = weaver.get("error").and(weaver["message"].as_str()) {
            // weaver-kernel raises; trailseal names the record as malformed.
            let seq: u64 = if message.contains("torn") || message.contains(".jsonl:40") {
                39
            } else {
                10
            };
            assert_eq!(verdict.kind(), Some(TamperKind::Malformed), "{what}");
            assert_eq!(verdict.first_bad_seq(), Some(seq), "{what}");
        } else if weaver["ok"] == true {
            assert!(verdict.is_verified(), "{what}");
            assert_eq!(
                verdict.records_checked(),
                weaver["records_checked"].as_u64().unwrap(),
                "{what}"
            );
        } else if tamper.contains("different secret") {
            match &verdict {
                Verdict::Unverifiable(u) => {
                    assert_eq!(u.reason, UnverifiableReason::WrongSecret, "{what}")
                }
                _ => panic!("{what}"),
            }
        } else {
            assert!(matches!(verdict, Verdict::Tampered(_)), "{what}");
            assert_eq!(
                verdict.first_bad_seq(),
                weaver["first_bad_seq"].as_u64(),
                "{what}"
            );
        }
    }
}

#[test]
fn verdicts_say_what_was_not_checked() {
    let secret = trailseal_testkit::VECTOR_SECRET;
    // weaver-kernel keeps no Merkle tree: none of its records are in one.
    let v = verify("store.sqlite", secret);
    assert_eq!(
        v.caveats(),
        &[
            Caveat::NoAnchor { last_seq: Some(39) },
            Caveat::TreeIncomplete {
                count: 40,
                first_seq: 0
            }
        ]
    );
    let v = verify("pruned-by-weaver.sqlite", secret);
    assert_eq!(
        v.caveats(),
        &[
            Caveat::UnauthenticatedCheckpoint { seq: 13 },
            Caveat::NoAnchor { last_seq: Some(39) },
            Caveat::TreeIncomplete {
                count: 27,
                first_seq: 13
            }
        ]
    );
    let v = verify("prefix-delete-forged-checkpoint.sqlite", secret);
    assert!(
        v.caveats()
            .contains(&Caveat::UnauthenticatedCheckpoint { seq: 19 }),
        "{v:?}"
    );
    let v = verify("truncate-tail.sqlite", secret);
    assert_eq!(
        v.caveats(),
        &[
            Caveat::NoAnchor { last_seq: Some(36) },
            Caveat::TreeIncomplete {
                count: 37,
                first_seq: 0
            }
        ]
    );
    let v = verify("whitespace-only-change.sqlite", secret);
    assert!(v.is_verified(), "{v:?}");
    let v = verify("mutate-payload.sqlite", secret);
    assert_eq!(v.kind(), Some(TamperKind::Content));
    let v = verify("swap-adjacent.sqlite", secret);
    assert_eq!(v.kind(), Some(TamperKind::Link));
    let v = verify("delete-interior.sqlite", secret);
    assert_eq!(v.kind(), Some(TamperKind::Sequence));
    let v = verify("torn-last-line.jsonl", secret);
    assert!(v.detail().contains("interrupted write"), "{v:?}");
}

#[test]
fn the_development_fallback_is_explicit_and_random() {
    let a = trailseal::secret::development_key().unwrap();
    let b = trailseal::secret::development_key().unwrap();
    assert_ne!(a.key_id(), b.key_id(), "each call draws a new key");
    let mut log =
        AuditLog::from_store(Box::new(trailseal::store::memory::MemoryStore::new())).with_key(a);
    log.append_json(
        br#"{"action_id":"d1","capability_id":"c","principal_id":"p","token_id":"t","invoked_at":"2026-01-01T00:00:00Z","args":{},"response_mode":"raw","driver_id":"d"}"#,
    )
    .unwrap();
    assert!(log.verify().is_verified());
}
