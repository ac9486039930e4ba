//! Forward-secure seals (issue 16): epochs closed by record count and by time, an idle epoch
//! still sealed, a clock stepped back never re-keying, a crash between a seal and the state,
//! and the compromise drill: with the seal state taken at epoch t (and the chain secret), every
//! attempt to forge a seal or certificate for an earlier epoch, to rewrite a record sealed
//! before t, or to delete the newest seals and records is detected.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::{Path, PathBuf};

use trailseal::core::note::{NoteSigner, NoteVerifier};
use trailseal::core::seal::{EpochCert, EpochPolicy, Seal, SealProblem, epoch_key_name};
use trailseal::core::time::Offset;
use trailseal::seal::{SealSetup, read_seals};
use trailseal::{AuditLog, TamperKind, Timestamp, Verdict, VerifyOptions};

const SECRET: &str = "the-chain-secret-of-the-sealed-store-0123456789";
const ORIGIN: &str = "seal.test/log";

fn at(seconds: i64) -> Timestamp {
    Timestamp::parse("2026-03-01T00:00:00Z", Offset::Required)
        .unwrap()
        .saturating_add_micros(seconds * 1_000_000)
}

struct Sealed {
    _dir: tempfile::TempDir,
    db: PathBuf,
    seals: PathBuf,
    state: PathBuf,
    root: NoteVerifier,
    /// The seal state as it was while epoch 3 was open (the thief's copy).
    taken_at_3: String,
}

fn log(db: &Path) -> AuditLog {
    common::open_with(db, SECRET)
}

fn append(log: &mut AuditLog, range: std::ops::Range<u64>) {
    let texts: Vec<String> = range.map(common::trace).collect();
    let prepared = log.prepare(texts.iter().map(String::as_bytes)).unwrap();
    log.append(&prepared).unwrap();
}

/// Epochs of at most 4 records or 60 s: 0 and 1 close by count, 2 by time, 3 idle by time,
/// 4 by count, 5 open. Records 0 to 13.
fn build() -> Sealed {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let seals = dir.path().join("seals");
    let state = dir.path().join("seal.state");
    let mut log = log(&db);
    append(&mut log, 0..2);
    let root = log
        .seal_init(
            &seals,
            &state,
            &SealSetup {
                origin: ORIGIN.into(),
                policy: EpochPolicy {
                    max_records: 4,
                    max_seconds: 60,
                },
            },
            at(0),
        )
        .unwrap();
    let seal = |log: &mut AuditLog, t: i64| log.seal(&seals, &state, at(t), false).unwrap();
    // Epoch 0 started at size 2: 4 more records close it.
    append(&mut log, 2..5);
    assert_eq!(seal(&mut log, 1).sealed, None);
    append(&mut log, 5..6);
    let r = seal(&mut log, 2);
    assert_eq!(
        (r.sealed, r.reason, r.tree_size),
        (Some(0), Some("records"), 6)
    );
    append(&mut log, 6..10);
    let r = seal(&mut log, 3);
    assert_eq!((r.sealed, r.reason, r.epoch), (Some(1), Some("records"), 2));
    append(&mut log, 10..11);
    // A clock stepped back before epoch 2's start never closes it.
    assert_eq!(seal(&mut log, -500).sealed, None);
    let r = seal(&mut log, 64);
    assert_eq!((r.sealed, r.reason), (Some(2), Some("time")));
    let taken_at_3 = std::fs::read_to_string(&state).unwrap();
    // Epoch 3 is idle: it is sealed by time with the same tree.
    let r = seal(&mut log, 125);
    assert_eq!(
        (r.sealed, r.reason, r.tree_size),
        (Some(3), Some("time"), 11)
    );
    append(&mut log, 11..15);
    let r = seal(&mut log, 130);
    assert_eq!(
        (r.sealed, r.reason, r.tree_size, r.epoch),
        (Some(4), Some("records"), 15, 5)
    );
    Sealed {
        _dir: dir,
        db,
        seals,
        state,
        root,
        taken_at_3,
    }
}

fn verify(s: &Sealed, db: &Path, seals: &Path, now: Option<i64>) -> Verdict {
    let walked = read_seals(seals, &s.root, now.map(at), 30_000_000).unwrap();
    log(db).verify_with(&mut VerifyOptions::new().seals(walked))
}

/// The thief's signing key: the one in the state taken at epoch 3.
fn thief(s: &Sealed) -> NoteSigner {
    let doc: serde_json::Value = serde_json::from_str(&s.taken_at_3).unwrap();
    NoteSigner::parse(doc["key"].as_str().unwrap()).unwrap()
}

/// Epoch `epoch`'s public key, walked from the root through the certificates in `dir`.
fn epoch_key(s: &Sealed, dir: &Path, epoch: u64) -> NoteVerifier {
    let mut key = s.root.clone();
    for e in 0..=epoch {
        let cert = std::fs::read_to_string(dir.join(format!("{e}.cert"))).unwrap();
        key = EpochCert::open(&cert, &key).unwrap().key;
    }
    key
}

/// A copy of the seal directory to attack.
fn copy_dir(s: &Sealed, name: &str) -> PathBuf {
    let to = s.db.parent().unwrap().join(name);
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(&s.seals).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
    to
}

#[test]
fn seals_walk_from_the_root_and_check_the_store() {
    let s = build();
    let v = verify(&s, &s.db, &s.seals, Some(140));
    assert!(v.is_verified(), "{v:?}");
    let walked = read_seals(&s.seals, &s.root, None, 0).unwrap().unwrap();
    assert_eq!(walked.seals.len(), 5);
    assert_eq!(walked.open_epoch, 5);
    // Every epoch has its own key, and the state holds only the open one's.
    let state = std::fs::read_to_string(&s.state).unwrap();
    let taken = thief(&s);
    assert!(!state.contains(&taken.to_key_string()));
    assert!(format!("{:?}", walked).contains("epoch/4"));
    // The files: certificates 0 to 5, seals 0 to 4, the root key; the state is private.
    let mut names: Vec<String> = std::fs::read_dir(&s.seals)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 12, "{names:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&s.state).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn a_seal_or_certificate_forged_with_the_key_of_a_later_epoch_is_tampering() {
    let s = build();
    let thief = thief(&s);
    assert_eq!(thief.name(), epoch_key_name(ORIGIN, 3));
    for epoch in 0..3u64 {
        // A seal of an earlier epoch, signed with epoch 3's key.
        let dir = copy_dir(&s, &format!("forged-seal-{epoch}"));
        let path = dir.join(format!("{epoch}.seal"));
        let key = epoch_key(&s, &dir, epoch);
        let seal = Seal::open(&std::fs::read_to_string(&path).unwrap(), &key).unwrap();
        std::fs::write(&path, seal.sign(&thief).unwrap()).unwrap();
        let v = verify(&s, &s.db, &dir, None);
        assert_eq!(v.kind(), Some(TamperKind::Seal), "seal {epoch}: {v:?}");
        // A certificate of an earlier epoch, for the thief's key, signed with it.
        let dir = copy_dir(&s, &format!("forged-cert-{epoch}"));
        let path = dir.join(format!("{epoch}.cert"));
        let by = if epoch == 0 {
            s.root.clone()
        } else {
            epoch_key(&s, &dir, epoch - 1)
        };
        let mut forged = EpochCert::open(&std::fs::read_to_string(&path).unwrap(), &by).unwrap();
        forged.key = thief.verifier();
        std::fs::write(&path, forged.sign(&thief).unwrap()).unwrap();
        let v = verify(&s, &s.db, &dir, None);
        assert_eq!(v.kind(), Some(TamperKind::Seal), "cert {epoch}: {v:?}");
    }
    // A seal removed from the middle.
    let dir = copy_dir(&s, "gap");
    std::fs::remove_file(dir.join("1.seal")).unwrap();
    let v = verify(&s, &s.db, &dir, None);
    assert_eq!(v.kind(), Some(TamperKind::Seal), "{v:?}");
    // The thief's own epoch is the thief's: a seal of epoch 3 it re-signs over another tree
    // verifies as a note, but not against the store.
    let dir = copy_dir(&s, "own");
    let path = dir.join("3.seal");
    let mut seal = Seal::open(&std::fs::read_to_string(&path).unwrap(), &thief.verifier()).unwrap();
    seal.checkpoint = trailseal::core::checkpoint::Checkpoint::new(ORIGIN, 11, [7; 32]).unwrap();
    std::fs::write(&path, seal.sign(&thief).unwrap()).unwrap();
    assert!(read_seals(&dir, &s.root, None, 0).unwrap().is_ok());
    let v = verify(&s, &s.db, &dir, None);
    assert!(!v.is_verified(), "{v:?}");
}

/// A store rebuilt with the chain secret from the first `n` traces: what a rollback to an
/// older copy leaves (records, tree and MACs consistent).
fn rebuilt(s: &Sealed, name: &str, n: u64) -> PathBuf {
    let path = s.db.parent().unwrap().join(name);
    let mut l = log(&path);
    append(&mut l, 0..n);
    path
}

#[test]
fn a_record_sealed_before_the_theft_cannot_be_rewritten() {
    // The thief holds the chain secret too: it rebuilds the store with record 3 changed and
    // every MAC and tree hash recomputed.
    let s = build();
    let forged = s.db.parent().unwrap().join("forged.db");
    let mut f = log(&forged);
    let texts: Vec<String> = (0..15)
        .map(|n| {
            if n == 3 {
                common::trace(1003)
            } else {
                common::trace(n)
            }
        })
        .collect();
    let prepared = f.prepare(texts.iter().map(String::as_bytes)).unwrap();
    f.append(&prepared).unwrap();
    assert!(f.verify().is_verified());
    let v = verify(&s, &forged, &s.seals, None);
    assert!(
        matches!(v.kind(), Some(TamperKind::Fork | TamperKind::Link)),
        "{v:?}"
    );
}

#[test]
fn deleting_the_newest_seals_and_records_is_caught_once_their_epoch_is_overdue() {
    let s = build();
    let dir = copy_dir(&s, "cut");
    for name in ["4.seal", "5.cert", "3.seal", "4.cert"] {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    // The store as it was at 64 s (a backup restored, or the records and tree cut back with
    // the chain secret): records 0 to 10.
    let short = rebuilt(&s, "short.db", 11);
    // Epoch 3 opened at 64 s and was due at 124 s; with 30 s of grace, overdue after 154 s.
    let v = verify(&s, &short, &dir, Some(150));
    assert!(
        v.is_verified(),
        "within the grace period it cannot be told: {v:?}"
    );
    let v = verify(&s, &short, &dir, Some(160));
    assert_eq!(
        (v.kind(), v.first_bad_seq()),
        (Some(TamperKind::Truncated), Some(11)),
        "{v:?}"
    );
    // Only the seals deleted, the records kept: the same.
    let s2 = build();
    let dir = copy_dir(&s2, "cut-seals");
    for name in ["4.seal", "5.cert"] {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    let v = verify(&s2, &s2.db, &dir, Some(400));
    assert_eq!(v.kind(), Some(TamperKind::Truncated), "{v:?}");
    // Records cut back, seals kept: the newest seal's tree and head are missing.
    let short = rebuilt(&s2, "short.db", 13);
    let v = verify(&s2, &short, &s2.seals, None);
    assert_eq!(v.kind(), Some(TamperKind::Truncated), "{v:?}");
}

#[test]
fn a_crash_between_a_seal_and_the_state_is_completed_by_the_next_run() {
    let s = build();
    let before = std::fs::read_to_string(&s.state).unwrap();
    let mut l = log(&s.db);
    append(&mut l, 15..16);
    let r = l.seal(&s.seals, &s.state, at(140), true).unwrap();
    assert_eq!((r.sealed, r.reason), (Some(5), Some("forced")));
    // As if the run died after writing seal 5 (and certificate 6) but before the state.
    std::fs::write(&s.state, &before).unwrap();
    let r = l.seal(&s.seals, &s.state, at(141), false).unwrap();
    assert_eq!((r.sealed, r.reason, r.epoch), (Some(5), Some("resumed"), 6));
    let v = verify(&s, &s.db, &s.seals, Some(150));
    assert!(v.is_verified(), "{v:?}");
    // A state that is not one is refused, naming the file and never a key.
    std::fs::write(&s.state, "{\"state\":\"trailseal-seal-state 1\"}").unwrap();
    let err = l.seal(&s.seals, &s.state, at(142), false).unwrap_err();
    assert!(err.to_string().contains("seal.state"), "{err}");
}

#[test]
fn problems_name_the_epoch() {
    let s = build();
    let dir = copy_dir(&s, "p");
    std::fs::write(dir.join("2.seal"), "not a note\n").unwrap();
    match read_seals(&dir, &s.root, None, 0).unwrap() {
        Err(SealProblem::Broken { epoch: 2, .. }) => {}
        other => panic!("{other:?}"),
    }
}
