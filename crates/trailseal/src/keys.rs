//! Choosing, from a keyring, the key a store's records are under.
//!
//! Nothing read here is trusted: it only picks the key to try. Verification then checks the
//! records and the retention log with it, and a wrong choice can only make a verdict
//! `unverifiable`, never `verified`.

use trailseal_core::retention::{Receipt, ReceiptBody, RetentionLog};
use trailseal_core::start::StoredKeyId;
use trailseal_core::verify::{ContentCheck, ContentChecker, Flow, ScanItem};
use trailseal_core::{ChainKey, KeyId, KeySchedule, Keyring};
use trailseal_store::Store;

use crate::error::Error;

/// The key of `store`'s newest records, in this order: the new key of the last rotation its
/// retention log names; the key id the store records; the key of its first receipt; the key
/// under which its head record's MAC holds; for a store that names no key at all (nothing
/// written yet), the ring's active key. A store that names a key the ring does not hold gets
/// the active key (or the ring's first), which verification reports as the wrong secret.
pub(crate) fn choose(store: &mut dyn Store, ring: &Keyring) -> Result<ChainKey, Error> {
    let location = store.location().to_owned();
    let state = store.state()?;
    let receipts: Vec<Receipt> = state
        .retention
        .iter()
        .enumerate()
        .filter_map(|(i, text)| Receipt::parse(text.as_bytes(), i).ok())
        .collect();
    let rotated_to = receipts.iter().rev().find_map(|r| match r.body {
        ReceiptBody::Rotate { new_key_id, .. } => Some(new_key_id),
        _ => None,
    });
    let stored = match state.key_id {
        StoredKeyId::Present(id) => Some(id),
        StoredKeyId::Absent => None,
    };
    let named: Option<KeyId> = rotated_to
        .or(stored)
        .or_else(|| receipts.first().map(|r| r.key_id));
    if let Some(id) = named {
        return ring
            .get(id)
            .or_else(|| ring.active())
            .or_else(|| ring.keys().next())
            .cloned()
            .ok_or(Error::NoSecret);
    }
    if let Some((head_seq, _)) = state.head {
        let mut found = None;
        let mut snapshot = store.snapshot(1)?;
        snapshot.scan(head_seq, &mut |item| {
            if let ScanItem::Record(record) = item
                && record.seq == head_seq
            {
                let mut checker = ContentChecker::new();
                found = ring
                    .keys()
                    .find(|key| checker.check(key, record) == ContentCheck::Ok)
                    .cloned();
                return Flow::Stop;
            }
            Flow::Continue
        })?;
        if let Some(key) = found {
            return Ok(key);
        }
        // No key of the ring made it: the active one is tried, and verification says so.
        return fallback(ring, &location);
    }
    fallback(ring, &location)
}

/// Which key covers which seqs, as the stored retention log `retention` names the rotations,
/// with the keys of `ring` (one key, `key`, when the log names none or does not verify:
/// callers read a snapshot that verified).
pub(crate) fn schedule(ring: &Keyring, key: &ChainKey, retention: &[String]) -> KeySchedule {
    match RetentionLog::check_ring(ring, retention) {
        Ok(log) => KeySchedule::from_log(&log, ring, key),
        Err(_) => KeySchedule::single(key.clone()),
    }
}

/// The active key, or the only one; several keys and none active cannot choose.
fn fallback(ring: &Keyring, location: &str) -> Result<ChainKey, Error> {
    if let Some(key) = ring.active() {
        return Ok(key.clone());
    }
    match ring.len() {
        1 => ring.keys().next().cloned().ok_or(Error::NoSecret),
        _ => Err(Error::NoKeyForStore {
            location: location.to_owned(),
            problem: format!(
                "the store names no key yet, and the keyring holds several ({}) with none active",
                ring.describe()
            ),
        }),
    }
}
