//! Helpers of the rotation tests: two chain secrets, a keyring of both, and verifying a store
//! holding some of them.

use trailseal::core::UnverifiableReason;
use trailseal::{AuditLog, Caveat, ChainKey, Keyring, OpenMode, OpenOptions, Timestamp, Verdict};

pub(crate) const OLD: &str = "the-old-chain-secret-of-this-store-0123456789";
pub(crate) const NEW: &str = "the-new-chain-secret-of-this-store-9876543210";

pub(crate) fn key(s: &str) -> ChainKey {
    ChainKey::from_secret(s.as_bytes()).unwrap()
}

pub(crate) fn ring(active: &str) -> Keyring {
    Keyring::new(vec![("old".into(), key(OLD)), ("new".into(), key(NEW))])
        .unwrap()
        .with_active(active)
        .unwrap()
}

pub(crate) fn now() -> Timestamp {
    Timestamp::parse(
        "2026-06-01T00:00:00Z",
        trailseal::core::time::Offset::Required,
    )
    .unwrap()
}

pub(crate) fn raw(location: &str) -> AuditLog {
    AuditLog::open(
        location,
        &OpenOptions {
            mode: OpenMode::Write { create: true },
            ..OpenOptions::default()
        },
    )
    .unwrap()
}

pub(crate) fn append(log: &mut AuditLog, range: std::ops::Range<u64>) {
    let texts: Vec<String> = range.map(super::trace).collect();
    let prepared = log.prepare(texts.iter().map(String::as_bytes)).unwrap();
    log.append(&prepared).unwrap();
}

/// Which keys a verifier holds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Held {
    Both,
    New,
    Old,
    None,
}

pub(crate) fn verify(location: &str, held: Held) -> Verdict {
    let log = AuditLog::open(location, &OpenOptions::default()).unwrap();
    let mut log = match held {
        Held::Both => log.with_keyring(ring("new")),
        Held::New => log.with_key(key(NEW)),
        Held::Old => log.with_key(key(OLD)),
        Held::None => log,
    };
    let one = log.verify();
    // A keyring with no active key chooses by the store, and agrees.
    if let Held::Both = held {
        let mut again = AuditLog::open(location, &OpenOptions::default())
            .unwrap()
            .with_keyring(
                Keyring::new(vec![("a".into(), key(NEW)), ("b".into(), key(OLD))]).unwrap(),
            );
        assert_eq!(again.verify(), one, "{location}: a ring in another order");
    }
    one
}

pub(crate) fn keys_not_held(v: &Verdict) -> Vec<(trailseal::KeyId, u64)> {
    v.caveats()
        .iter()
        .filter_map(|c| match c {
            Caveat::KeysNotHeld {
                key_id, receipts, ..
            } => Some((*key_id, *receipts)),
            _ => None,
        })
        .collect()
}

pub(crate) fn unverifiable(v: &Verdict) -> Option<UnverifiableReason> {
    match v {
        Verdict::Unverifiable(u) => Some(u.reason),
        _ => None,
    }
}
