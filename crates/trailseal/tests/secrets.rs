//! Weak chain secrets and loose key files: a new store is refused with a secret too short to
//! resist offline guessing, stores already written with one keep working, the strength is
//! exposed for callers to warn, generated secrets are strong, and a signing key file anyone
//! may write is refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::trace;
use trailseal::core::start::StoredKeyId;
use trailseal::secret::generate_secret;
use trailseal::signing::{generate_signing_key, read_signing_key};
use trailseal::store::StoreExt;
use trailseal::{
    AuditLog, ChainKey, Error, OpenMode, OpenOptions, PreparedTrace, SharedLog, Timestamp,
    TraceLimits,
};

const SHORT: &str = "s3cret-fifteen!"; // 15 bytes
const MEDIUM: &str = "Gq7ZtY2vKp9XwR4m"; // 16 bytes, not word-like
const STRONG: &str = "Gq7ZtY2vKp9XwR4mNc8LbJ5hDf3SaE6uT1oPiWyQ0zA";

fn key(secret: &str) -> ChainKey {
    ChainKey::from_secret(secret.as_bytes()).unwrap()
}

fn write_options() -> OpenOptions {
    OpenOptions {
        mode: OpenMode::Write { create: true },
        ..OpenOptions::default()
    }
}

fn open(location: &str, secret: &str) -> AuditLog {
    AuditLog::open(location, &write_options())
        .unwrap()
        .with_key(key(secret))
}

fn assert_untouched(location: &str) {
    // A refused first write to a new file store creates no file at all (stores are created by
    // their first write); one that exists must hold nothing new.
    let mut log = match AuditLog::open(location, &OpenOptions::default()) {
        Err(trailseal::Error::Store(trailseal::StoreError::NotFound { .. })) => return,
        other => other.unwrap(),
    };
    let state = log.store_mut().state().unwrap();
    assert!(state.head.is_none(), "{location}: a record was written");
    assert_eq!(
        state.key_id,
        StoredKeyId::Absent,
        "{location}: key id written"
    );
    assert!(
        state.retention.is_empty(),
        "{location}: a receipt was written"
    );
}

#[test]
fn strength_is_judged_without_keeping_the_secret() {
    let s = key(SHORT).strength();
    assert!(s.too_short_for_new_store() && s.shorter_than_recommended() && s.is_weak());
    let s = key(MEDIUM).strength();
    assert!(!s.too_short_for_new_store() && s.shorter_than_recommended() && s.is_weak());
    assert!(!s.looks_like_a_word());
    let s = key("my-company-audit-log-secret-2026-prod").strength();
    assert!(!s.shorter_than_recommended() && s.looks_like_a_word() && s.is_weak());
    let s = key(STRONG).strength();
    assert!(!s.is_weak());
    // The verdict shows no part of the secret.
    let shown = format!("{:?} {:?}", key(SHORT), key(SHORT).strength());
    assert!(!shown.contains("s3cret"), "{shown}");
}

#[test]
fn a_short_secret_cannot_start_a_new_store() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["new.db", "new.jsonl"] {
        let location = dir.path().join(name).to_str().unwrap().to_owned();
        let mut log = open(&location, SHORT);
        let err = log.append_json(trace(1).as_bytes()).unwrap_err();
        assert!(matches!(err, Error::WeakSecret { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.starts_with(&location)
                && message.contains("shorter than 16 bytes")
                && message.contains("32 random bytes")
                && message.contains("nothing was written"),
            "{message}"
        );
        assert!(!message.contains(SHORT) && !format!("{err:?}").contains(SHORT));
        // The policy receipt of a new store is keyed with the secret too.
        let err = log
            .set_min_retention(
                Some(1_000_000),
                Timestamp::from_unix_micros(1_796_083_200_000_000),
                false,
            )
            .unwrap_err();
        assert!(matches!(err, Error::WeakSecret { .. }), "{err:?}");
        drop(log);
        assert_untouched(&location);
        // 16 bytes is enough to start (with a warning the caller gives).
        let mut log = open(&location, MEDIUM);
        log.append_json(trace(1).as_bytes()).unwrap();
        assert!(log.verify().is_verified());
    }
    // In memory and through a SharedLog as well.
    let mut log = open(":memory:", SHORT);
    assert!(matches!(
        log.append_json(trace(1).as_bytes()),
        Err(Error::WeakSecret { .. })
    ));
    let location = dir.path().join("shared.db").to_str().unwrap().to_owned();
    let shared = SharedLog::new(open(&location, SHORT));
    assert!(matches!(
        shared.append_json(trace(1).as_bytes()),
        Err(Error::WeakSecret { .. })
    ));
    drop(shared);
    assert_untouched(&location);
}

/// A store a weak secret already wrote (weaver-kernel accepts any secret): written here with
/// the storage layer directly, as weaver-kernel or an older trailseal would.
fn weak_existing_store(location: &str) {
    let mut store =
        trailseal::store::open(location, None, OpenMode::Write { create: true }).unwrap();
    let traces: Vec<PreparedTrace> = (0..5)
        .map(|i| PreparedTrace::parse(trace(i).as_bytes(), &TraceLimits::default()).unwrap())
        .collect();
    store.append(&key("s3cret"), &traces).unwrap();
}

#[test]
fn stores_already_written_with_a_short_secret_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["old.db", "old.jsonl"] {
        let location = dir.path().join(name).to_str().unwrap().to_owned();
        weak_existing_store(&location);
        let mut log = open(&location, "s3cret");
        assert!(log.key_id().is_some());
        assert!(key("s3cret").strength().too_short_for_new_store());
        log.append_json(trace(10).as_bytes()).unwrap();
        let verdict = log.verify();
        assert!(verdict.is_verified(), "{verdict:?}");
        log.set_min_retention(
            Some(1_000_000),
            Timestamp::from_unix_micros(1_796_083_200_000_000),
            false,
        )
        .unwrap();
    }
}

#[test]
fn the_weaver_vectors_secret_still_verifies() {
    // 20 bytes: above the floor for new stores, below the recommended 32 (a warning only).
    let secret = trailseal_testkit::VECTOR_SECRET;
    assert_eq!(secret.len(), 20);
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("store.sqlite");
    std::fs::copy(
        trailseal_testkit::vector("weaver-0.12.0/store.sqlite"),
        &copy,
    )
    .unwrap();
    let mut log = open(copy.to_str().unwrap(), secret);
    assert!(key(secret).strength().is_weak());
    assert!(log.verify().is_verified());
    log.append_json(trace(1000).as_bytes()).unwrap();
    assert!(log.verify().is_verified());
}

#[test]
fn generated_secrets_are_strong_base64url() {
    let a = generate_secret().unwrap();
    let b = generate_secret().unwrap();
    assert_ne!(*a, *b);
    for s in [&a, &b] {
        assert_eq!(s.len(), 43, "32 bytes are 43 characters of base64url");
        assert!(
            s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert!(!key(s).strength().is_weak());
    }
}

#[cfg(unix)]
#[test]
fn a_signing_key_anyone_may_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ops.key");
    let signer = generate_signing_key("ops").unwrap();
    std::fs::write(&path, signer.to_key_string() + "\n").unwrap();
    let chmod = |mode: u32| {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    chmod(0o600);
    assert!(read_signing_key(&path).is_ok());
    assert!(!trailseal::secret::file_is_shared(&path));
    // Readable by others: used, and the caller is told so it can warn.
    chmod(0o644);
    assert!(read_signing_key(&path).is_ok());
    assert!(trailseal::secret::file_is_shared(&path));
    for mode in [0o666, 0o602, 0o777] {
        chmod(mode);
        let err = read_signing_key(&path).unwrap_err();
        assert!(
            matches!(err, Error::WritableKeyFile { mode: m, .. } if m == mode),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.starts_with(path.to_str().unwrap())
                && message.contains("written by every user"),
            "{message}"
        );
        assert!(!message.contains(&signer.to_key_string()));
    }
    chmod(0o600);
}
