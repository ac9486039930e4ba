//! Rotating the chain secret as a new segment, and the verdicts across it, on SQLite, JSONL
//! and PostgreSQL: {live store, archive} × {keys held: old, new, both, none}, each with its
//! exact verdict; then the attacks on the `rotate` receipt, and the writes a rotated store
//! allows. No verdict ever reads the rotation as tampering.
//!
//! | keys held | live store | archive |
//! |---|---|---|
//! | old and new | `verified`, no `keys-not-held` | `verified` |
//! | new only | `verified`, `keys-not-held` for the old key's receipts (the prune, the policy) | `unverifiable` (`wrong secret`) |
//! | old only | `unverifiable` (`wrong secret`): the records from the rotation on are the new key's | `verified` |
//! | none | `unverifiable` (`no secret`) | `unverifiable` (`no secret`) |

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use trailseal::core::UnverifiableReason;

use std::path::Path;

use trailseal::{Error, RotateRequest, TamperKind, Verdict};

use common::rotation::{
    Held, NEW, OLD, append, key, keys_not_held, now, raw, ring, unverifiable, verify,
};

/// Builds a store of 12 records under the old key with a policy receipt, rotates it as a new
/// segment into `archive`, appends 5 records under the new key, and checks the matrix.
fn matrix(location: &str, archive: &Path) {
    let mut log = raw(location).with_key(key(OLD));
    append(&mut log, 0..11);
    log.set_min_retention(Some(1), now(), false).unwrap();
    drop(log);
    // A handle that confirmed the old key before the rotation, kept open across it.
    let mut stale = raw(location).with_key(key(OLD));
    append(&mut stale, 11..12);

    // The old key's writer cannot append once the ring's active key is the new one.
    let mut before = raw(location).with_keyring(ring("new"));
    let err = before.append(&before.prepare([common::trace(99).as_bytes()]).unwrap());
    assert!(matches!(err, Err(Error::NotActiveKey { .. })), "{err:?}");

    let mut log = raw(location).with_keyring(ring("new"));
    let report = log
        .rotate(&RotateRequest {
            to: "new".into(),
            now: now(),
            archive: Some(archive.to_owned()),
        })
        .unwrap();
    assert_eq!(
        (report.from_key, report.to_key, report.first_seq),
        (key(OLD).key_id(), key(NEW).key_id(), 12)
    );
    assert_eq!(report.prune.as_ref().map(|p| p.pruned), Some(12));
    assert_eq!(report.receipt.kind(), "rotate");
    // The handle that confirmed the old key is refused in the append's own transaction.
    let err = stale.append(&stale.prepare([common::trace(96).as_bytes()]).unwrap());
    assert!(
        matches!(
            err,
            Err(Error::Store(trailseal::StoreError::KeyChanged { .. }))
        ),
        "{location}: {err:?}"
    );
    append(&mut log, 12..17);
    drop(log);

    let live = |held| verify(location, held);
    let arch = |held| verify(archive.to_str().unwrap(), held);

    // Both keys: everything checked.
    let v = live(Held::Both);
    let Verdict::Verified(ok) = &v else {
        panic!("{location}: {v:?}")
    };
    assert_eq!(
        (ok.first_seq, ok.last_seq),
        (Some(12), Some(16)),
        "{location}"
    );
    assert!(keys_not_held(&v).is_empty(), "{location}: {v:?}");
    assert!(arch(Held::Both).is_verified(), "{location}");

    // The new key only: the live records, and a caveat for the old key's two receipts
    // (the policy and the prune); the archive is another key's.
    let v = live(Held::New);
    assert!(v.is_verified(), "{location}: {v:?}");
    assert_eq!(
        keys_not_held(&v),
        [(key(OLD).key_id(), 2)],
        "{location}: {v:?}"
    );
    assert_eq!(
        unverifiable(&arch(Held::New)),
        Some(UnverifiableReason::WrongSecret),
        "{location}"
    );

    // The old key only: the archive verifies, the live store is another key's.
    let v = live(Held::Old);
    assert_eq!(
        unverifiable(&v),
        Some(UnverifiableReason::WrongSecret),
        "{location}: {v:?}"
    );
    assert!(v.detail().contains("seq 12"), "{location}: {}", v.detail());
    let a = arch(Held::Old);
    assert!(a.is_verified(), "{location}: {a:?}");
    assert!(keys_not_held(&a).is_empty(), "{location}: {a:?}");

    // No key.
    assert_eq!(
        unverifiable(&live(Held::None)),
        Some(UnverifiableReason::NoSecret)
    );
    assert_eq!(
        unverifiable(&arch(Held::None)),
        Some(UnverifiableReason::NoSecret)
    );

    // The new key writes on; the old key is refused, and so is a ring whose active key is
    // the old one.
    let mut new_only = raw(location).with_key(key(NEW));
    append(&mut new_only, 17..18);
    let mut old_only = raw(location).with_key(key(OLD));
    let err = old_only.append(&old_only.prepare([common::trace(98).as_bytes()]).unwrap());
    assert!(
        matches!(err, Err(Error::WrongKey { .. }) | Err(Error::Store(_))),
        "{location}: {err:?}"
    );
    let mut stale = raw(location).with_keyring(ring("old"));
    let err = stale.append(&stale.prepare([common::trace(97).as_bytes()]).unwrap());
    assert!(
        matches!(err, Err(Error::NotActiveKey { .. })),
        "{location}: {err:?}"
    );
    // Policies and prunes go on under the new key.
    let mut log = raw(location).with_keyring(ring("new"));
    log.set_min_retention(Some(2), now(), false).unwrap();
    let status = log.retention().unwrap();
    let kinds: Vec<&str> = status.receipts.iter().map(|r| r.kind()).collect();
    assert_eq!(kinds, ["policy", "prune", "rotate", "policy"], "{location}");
    assert!(status.verified, "{location}");
    assert_eq!(status.min_retention_micros, Some(2));
    let v = live(Held::Both);
    assert!(
        v.is_verified() && keys_not_held(&v).is_empty(),
        "{location}: {v:?}"
    );
    let v = live(Held::New);
    assert_eq!(
        keys_not_held(&v),
        [(key(OLD).key_id(), 2)],
        "{location}: {v:?}"
    );
    // Rotating to the key it is under is refused, changing nothing.
    let err = log
        .rotate(&RotateRequest {
            to: "new".into(),
            now: now(),
            archive: None,
        })
        .unwrap_err();
    assert!(matches!(err, Error::Rotate { .. }), "{err:?}");
}

#[test]
fn a_segment_rotation_on_sqlite_has_its_exact_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    matrix(db.to_str().unwrap(), &dir.path().join("old.db"));
}

#[test]
fn a_segment_rotation_on_jsonl_has_its_exact_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.jsonl");
    matrix(store.to_str().unwrap(), &dir.path().join("old.jsonl"));
}

#[cfg(feature = "postgres")]
#[test]
fn a_segment_rotation_on_postgres_has_its_exact_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let url = trailseal_testkit::pg_fresh_schema_url();
    matrix(&url, &dir.path().join("old.jsonl"));
}

/// A rotated SQLite store and the stored text of its `rotate` receipt.
fn rotated(dir: &Path) -> (std::path::PathBuf, String) {
    let db = dir.join("store.db");
    let mut log = raw(db.to_str().unwrap()).with_key(key(OLD));
    append(&mut log, 0..4);
    let mut log = raw(db.to_str().unwrap()).with_keyring(ring("new"));
    log.rotate(&RotateRequest {
        to: "new".into(),
        now: now(),
        archive: Some(dir.join("old.jsonl")),
    })
    .unwrap();
    append(&mut log, 4..6);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let text: String = conn
        .query_row(
            "SELECT receipt FROM trailseal_retention ORDER BY idx DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    (db, text)
}

fn set_receipt(db: &Path, text: &str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute(
        "UPDATE trailseal_retention SET receipt = ?1 WHERE idx = (SELECT MAX(idx) FROM trailseal_retention)",
        [text],
    )
    .unwrap();
}

#[test]
fn an_altered_rotate_receipt_is_tampering_under_every_key_that_checks_it() {
    let dir = tempfile::tempdir().unwrap();
    let (db, text) = rotated(dir.path());
    let location = db.to_str().unwrap();
    assert!(verify(location, Held::Both).is_verified());
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    // A new_mac that is not the new key's: the old key's MAC then fails too (it covers
    // new_mac), and the new key's check fails by itself.
    let mut forged = value.clone();
    forged["new_mac"] = serde_json::Value::String("0".repeat(64));
    set_receipt(&db, &forged.to_string());
    for held in [Held::Both, Held::New, Held::Old] {
        let v = verify(location, held);
        assert_eq!(v.kind(), Some(TamperKind::Checkpoint), "{held:?}: {v:?}");
    }
    // The rotation moved to another seq: both MACs fail.
    value["first_seq"] = serde_json::Value::from(3);
    set_receipt(&db, &value.to_string());
    for held in [Held::Both, Held::New] {
        let v = verify(location, held);
        assert_eq!(v.kind(), Some(TamperKind::Checkpoint), "{held:?}: {v:?}");
    }
    // The rotate receipt removed: the store's records are under a key no receipt names.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "DELETE FROM trailseal_retention WHERE idx = (SELECT MAX(idx) FROM trailseal_retention)",
        [],
    )
    .unwrap();
    for held in [Held::Both, Held::New] {
        let v = verify(location, held);
        assert_eq!(
            (v.kind(), v.first_bad_seq()),
            (Some(TamperKind::Checkpoint), Some(4)),
            "{held:?}: {v:?}"
        );
    }
}

#[test]
fn an_archive_read_with_another_secret_is_a_wrong_secret_not_tampering() {
    // An archive of a chain with no receipt before its prune holds only the prune's receipt:
    // read with another secret, that receipt's key id says so.
    for name in ["archive.jsonl", "archive.db"] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("store.db");
        let mut log = raw(db.to_str().unwrap()).with_key(key(OLD));
        append(&mut log, 0..4);
        let archive = dir.path().join(name);
        log.prune(&trailseal::PruneRequest {
            cutoff: trailseal::CutoffSpec::KeepLast(1),
            now: now(),
            dry_run: false,
            archive: Some(archive.clone()),
        })
        .unwrap();
        let location = archive.to_str().unwrap();
        assert!(verify(location, Held::Old).is_verified(), "{name}");
        assert_eq!(
            unverifiable(&verify(location, Held::New)),
            Some(UnverifiableReason::WrongSecret),
            "{name}"
        );
    }
}
