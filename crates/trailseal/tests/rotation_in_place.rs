//! Rotating the chain secret in place, and the verdicts across it, on SQLite, JSONL and
//! PostgreSQL: {keys held: old, new, both, none}, each with its exact verdict; then what acts
//! on records with a key missing, pruning across the boundary, and the attacks: a record
//! under a key outside its range, a key change no rotation names, an altered or removed
//! rotate receipt. No verdict ever reads the rotation as tampering.
//!
//! The store: records 0 to 7 and a policy under the old key, the rotation in place (first
//! seq 8), records 8 to 12 and a policy under the new key.
//!
//! | keys held | verdict |
//! |---|---|
//! | old and new | `verified`, records 0 to 12, no `keys-not-held` |
//! | new only | `verified`, `keys-not-held` for the old key: records 0 to 7 and 1 receipt |
//! | old only | `verified`, `keys-not-held` for the new key: records 8 to 12 and 1 receipt |
//! | none | `unverifiable` (`no secret`) |

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::Path;

use common::rotation::{Held, NEW, OLD, append, key, now, raw, ring, unverifiable, verify};
use trailseal::core::UnverifiableReason;
use trailseal::{
    BundleSelection, Caveat, CutoffSpec, Error, KeyId, PruneRequest, RotateRequest, TamperKind,
    Verdict,
};

/// The `keys-not-held` caveats of a verdict: key, receipts, first and last seq.
fn not_held(v: &Verdict) -> Vec<(KeyId, u64, Option<u64>, Option<u64>)> {
    v.caveats()
        .iter()
        .filter_map(|c| match c {
            Caveat::KeysNotHeld {
                key_id,
                receipts,
                first_seq,
                last_seq,
            } => Some((*key_id, *receipts, *first_seq, *last_seq)),
            _ => None,
        })
        .collect()
}

/// Builds the store of the module documentation at `location`.
fn build(location: &str) {
    let mut log = raw(location).with_key(key(OLD));
    append(&mut log, 0..8);
    log.set_min_retention(Some(1), now(), false).unwrap();
    let mut log = raw(location).with_keyring(ring("new"));
    let report = log
        .rotate(&RotateRequest {
            to: "new".into(),
            now: now(),
            archive: None,
        })
        .unwrap();
    assert_eq!(
        (
            report.from_key,
            report.to_key,
            report.first_seq,
            report.in_place
        ),
        (key(OLD).key_id(), key(NEW).key_id(), 8, true)
    );
    assert!(report.prune.is_none());
    append(&mut log, 8..13);
    log.set_min_retention(Some(2), now(), false).unwrap();
}

fn matrix(location: &str) {
    build(location);
    let (old, new) = (key(OLD).key_id(), key(NEW).key_id());

    let v = verify(location, Held::Both);
    let Verdict::Verified(ok) = &v else {
        panic!("{location}: {v:?}")
    };
    assert_eq!(
        (ok.first_seq, ok.last_seq, ok.records_checked),
        (Some(0), Some(12), 13),
        "{location}"
    );
    assert!(not_held(&v).is_empty(), "{location}: {v:?}");
    assert!(
        !v.caveats()
            .iter()
            .any(|c| matches!(c, Caveat::TreeIncomplete { .. })),
        "{location}: the tree holds every record: {v:?}"
    );

    let v = verify(location, Held::New);
    assert!(v.is_verified(), "{location}: {v:?}");
    assert_eq!(
        not_held(&v),
        [(old, 1, Some(0), Some(7))],
        "{location}: {v:?}"
    );

    let v = verify(location, Held::Old);
    assert!(v.is_verified(), "{location}: {v:?}");
    assert_eq!(
        not_held(&v),
        [(new, 1, Some(8), Some(12))],
        "{location}: {v:?}"
    );

    assert_eq!(
        unverifiable(&verify(location, Held::None)),
        Some(UnverifiableReason::NoSecret)
    );

    // What acts on the records needs every record checked: with one key it is refused,
    // naming the records it cannot check, and changes nothing.
    let mut log = raw(location).with_key(key(NEW));
    let err = log
        .prune(&PruneRequest {
            cutoff: CutoffSpec::KeepLast(2),
            now: now(),
            dry_run: false,
            archive: None,
        })
        .unwrap_err();
    assert!(
        matches!(err, Error::KeysNotHeld { key_id, first_seq: 0, last_seq: 7, .. } if key_id == old),
        "{location}: {err:?}"
    );
    assert!(err.to_string().contains("seq 0: records 0 to 7"), "{err}");
    let signer = trailseal::signing::generate_signing_key("rotation.example").unwrap();
    let err = log
        .export_bundle(
            &mut Vec::new(),
            &signer,
            "rotation.example",
            now(),
            &BundleSelection::default(),
            &mut |_| {},
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::KeysNotHeld { .. }),
        "{location}: {err:?}"
    );

    // With both keys a bundle is of one key's range: across the boundary it is refused.
    let mut log = raw(location).with_keyring(ring("new"));
    let err = log
        .export_bundle(
            &mut Vec::new(),
            &signer,
            "rotation.example",
            now(),
            &BundleSelection::default(),
            &mut |_| {},
        )
        .unwrap_err();
    assert!(err.to_string().contains("seq 8:"), "{location}: {err}");
    for (from, to) in [(0, 7), (8, 12)] {
        let mut bundle = Vec::new();
        log.export_bundle(
            &mut bundle,
            &signer,
            "rotation.example",
            now(),
            &BundleSelection {
                from_seq: Some(from),
                to_seq: Some(to),
                ..BundleSelection::default()
            },
            &mut |_| {},
        )
        .unwrap();
        let k = if from == 0 { key(OLD) } else { key(NEW) };
        let report = trailseal::verify_bundle(
            &mut bundle.as_slice(),
            &signer.verifier(),
            Some(&k),
            &mut |_| {},
        )
        .unwrap();
        assert!(
            report.verdict.is_verified(),
            "{location}: {from}..{to}: {report:?}"
        );
    }

    // The new key writes on; the old key's writer is refused.
    let mut old_writer = raw(location).with_key(key(OLD));
    let err = old_writer
        .append(&old_writer.prepare([common::trace(90).as_bytes()]).unwrap())
        .unwrap_err();
    assert!(
        matches!(err, Error::WrongKey { .. } | Error::Store(_)),
        "{location}: {err:?}"
    );
    let mut new_writer = raw(location).with_key(key(NEW));
    append(&mut new_writer, 13..14);

    // Pruning across the boundary with both keys: the archive holds both keys' records and
    // verifies with both; the store keeps the new key's.
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("pruned.jsonl");
    let mut log = raw(location).with_keyring(ring("new"));
    let report = log
        .prune(&PruneRequest {
            cutoff: CutoffSpec::KeepLast(3),
            now: now(),
            dry_run: false,
            archive: Some(archive.clone()),
        })
        .unwrap();
    assert_eq!(report.pruned, 11, "{location}");
    let v = verify(location, Held::Both);
    assert!(
        v.is_verified() && not_held(&v).is_empty(),
        "{location}: {v:?}"
    );
    let v = verify(location, Held::New);
    assert_eq!(not_held(&v), [(old, 1, None, None)], "{location}: {v:?}");
    let a = verify(archive.to_str().unwrap(), Held::Both);
    assert!(
        a.is_verified() && not_held(&a).is_empty(),
        "{location}: archive: {a:?}"
    );
    let a = verify(archive.to_str().unwrap(), Held::Old);
    assert!(a.is_verified(), "{location}: archive: {a:?}");
    // The new key's policy and the prune receipt that sealed the archive are not checked:
    // the archive's end is then not authenticated (`no-anchor`).
    assert_eq!(
        not_held(&a),
        [(new, 2, Some(8), Some(10))],
        "{location}: archive: {a:?}"
    );
    assert!(
        a.caveats()
            .iter()
            .any(|c| matches!(c, Caveat::NoAnchor { .. })),
        "{location}: archive: {a:?}"
    );
}

#[test]
fn a_rotation_in_place_on_sqlite_has_its_exact_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    matrix(dir.path().join("store.db").to_str().unwrap());
}

#[test]
fn a_rotation_in_place_on_jsonl_has_its_exact_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    matrix(dir.path().join("store.jsonl").to_str().unwrap());
}

#[cfg(feature = "postgres")]
#[test]
fn a_rotation_in_place_on_postgres_has_its_exact_verdicts() {
    matrix(&trailseal_testkit::pg_fresh_schema_url());
}

/// The store of [`build`] at `dir/store.db`.
fn built(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("store.db");
    build(db.to_str().unwrap());
    db
}

/// Rewrites the stored `record_hash` of `seq` to its MAC under `secret` (content and link
/// kept): a record written under that key.
fn remac(db: &Path, seq: u64, secret: &str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let (prev, payload): (String, String) = conn
        .query_row(
            "SELECT prev_hash, payload FROM traces WHERE seq = ?1",
            [seq as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let canonical = trailseal::core::json::parse(payload.as_bytes())
        .map(|doc| {
            let mut out = Vec::new();
            doc.root()
                .write_canonical(&mut out, trailseal::core::json::Mode::Strict)
                .unwrap();
            out
        })
        .unwrap();
    let hash = key(secret).record_hash(seq, prev.as_bytes(), &canonical);
    conn.execute(
        "UPDATE traces SET record_hash = ?1 WHERE seq = ?2",
        rusqlite::params![hash.as_str(), seq as i64],
    )
    .unwrap();
}

#[test]
fn a_record_under_the_old_key_after_the_rotation_is_tampering() {
    // The old key leaked: its holder re-MACs the newest record with it. Every verifier that
    // holds the new key names that record; one holding only the old key cannot check it.
    let dir = tempfile::tempdir().unwrap();
    let db = built(dir.path());
    remac(&db, 12, OLD);
    let location = db.to_str().unwrap();
    for held in [Held::Both, Held::New] {
        let v = verify(location, held);
        assert_eq!(
            (v.kind(), v.first_bad_seq()),
            (Some(TamperKind::Content), Some(12)),
            "{held:?}: {v:?}"
        );
    }
    let v = verify(location, Held::Old);
    assert!(v.is_verified(), "{v:?}");
    assert_eq!(
        not_held(&v),
        [(key(NEW).key_id(), 1, Some(8), Some(12))],
        "{v:?}"
    );
}

#[test]
fn a_record_under_the_new_key_before_the_rotation_is_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let db = built(dir.path());
    remac(&db, 7, NEW);
    let location = db.to_str().unwrap();
    // The link from seq 8 breaks too, but the first failure is the record itself.
    for held in [Held::Both, Held::Old] {
        let v = verify(location, held);
        assert_eq!(
            (v.kind(), v.first_bad_seq()),
            (Some(TamperKind::Content), Some(7)),
            "{held:?}: {v:?}"
        );
    }
}

#[test]
fn a_key_change_no_rotation_names_is_tampering() {
    // Records 0 to 3 under the old key, record 4 under the new one, no rotate receipt.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let mut log = raw(db.to_str().unwrap()).with_key(key(OLD));
    append(&mut log, 0..5);
    drop(log);
    remac(&db, 4, NEW);
    let v = verify(db.to_str().unwrap(), Held::Both);
    assert_eq!(
        (v.kind(), v.first_bad_seq()),
        (Some(TamperKind::Content), Some(4)),
        "{v:?}"
    );
}

/// The stored receipts, by index.
fn receipts(db: &Path) -> Vec<(i64, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT idx, receipt FROM trailseal_retention ORDER BY idx")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn an_altered_or_removed_rotation_in_place_is_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let db = built(dir.path());
    let location = db.to_str().unwrap();
    let all = receipts(&db);
    let (idx, text) = all
        .iter()
        .find(|(_, t)| t.contains("\"kind\":\"rotate\""))
        .cloned()
        .unwrap();
    let set = |text: &str| {
        rusqlite::Connection::open(&db)
            .unwrap()
            .execute(
                "UPDATE trailseal_retention SET receipt = ?1 WHERE idx = ?2",
                rusqlite::params![text, idx],
            )
            .unwrap();
    };
    // The boundary moved (records 8 and 9 claimed for the old key): both MACs fail.
    let mut moved: serde_json::Value = serde_json::from_str(&text).unwrap();
    moved["first_seq"] = serde_json::Value::from(10);
    set(&moved.to_string());
    for held in [Held::Both, Held::New, Held::Old] {
        let v = verify(location, held);
        assert_eq!(v.kind(), Some(TamperKind::Checkpoint), "{held:?}: {v:?}");
    }
    // MAC'd by one key only: a new_mac that is not the new key's.
    let mut forged: serde_json::Value = serde_json::from_str(&text).unwrap();
    forged["new_mac"] = serde_json::Value::String("0".repeat(64));
    set(&forged.to_string());
    for held in [Held::Both, Held::New, Held::Old] {
        let v = verify(location, held);
        assert_eq!(v.kind(), Some(TamperKind::Checkpoint), "{held:?}: {v:?}");
    }
    set(&text);
    assert!(verify(location, Held::Both).is_verified());
    // The rotation and the receipt after it removed: the store records the new key, which
    // no receipt names; with only the new key, record 0 is not the new key's.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("DELETE FROM trailseal_retention WHERE idx >= ?1", [idx])
        .unwrap();
    let v = verify(location, Held::Both);
    assert_eq!(v.kind(), Some(TamperKind::Checkpoint), "{v:?}");
    let v = verify(location, Held::New);
    assert!(
        matches!(v, Verdict::Tampered(_) | Verdict::Unverifiable(_)) && !v.is_verified(),
        "{v:?}"
    );
}

#[test]
fn a_jsonl_line_after_the_rotation_naming_the_old_key_is_malformed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.jsonl");
    build(path.to_str().unwrap());
    let text = std::fs::read_to_string(&path).unwrap();
    let (old, new) = (key(OLD).key_id(), key(NEW).key_id());
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let last = lines.len() - 1;
    assert!(lines[last].contains(new.as_str()), "{}", lines[last]);
    assert!(lines[1].contains(old.as_str()), "{}", lines[1]);
    lines[last] = lines[last].replace(new.as_str(), old.as_str());
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let v = verify(path.to_str().unwrap(), Held::Both);
    assert_eq!(
        (v.kind(), v.first_bad_seq()),
        (Some(TamperKind::Malformed), Some(12)),
        "{v:?}"
    );
}
