//! Rotating the chain secret: moving a store to another key of the keyring with an
//! authenticated `rotate` receipt, MAC'd by the old key and by the new one.
//!
//! Two modes:
//!
//! - **In place** (no archive): the records stay where they are, under the old key; the
//!   `rotate` receipt names the head they end at and the first seq under the new key, and the
//!   chain continues from that head (its `prev_hash` links cross the boundary). Verification
//!   reads from the retention log which key covers which seqs ([`KeySchedule`]). weaver-kernel,
//!   which knows one secret, cannot verify such a store.
//! - **As a new segment** (with an archive): every record under the old key is moved to the
//!   archive (as `prune --archive` moves records), which verifies on its own with the old
//!   secret, in weaver-kernel too; the live store keeps its retention log, gains the `rotate`
//!   receipt, and continues from the checkpoint the archive ends at, under the new key, so
//!   weaver-kernel with the new secret verifies it as a pruned store.
//!
//! [`KeySchedule`]: trailseal_core::KeySchedule

use std::path::PathBuf;

use trailseal_core::retention::{Receipt, ReceiptBody, resolve_start_ring};
use trailseal_core::{Hash32, KeyId, Timestamp, Verdict};

use crate::error::Error;
use crate::log::AuditLog;
use crate::retention::{CutoffSpec, PruneReport, PruneRequest};
use trailseal_store::{StoreError, StoreExt};

/// A rotation request.
#[derive(Debug, Clone)]
pub struct RotateRequest {
    /// The label, in the log's keyring, of the key to move to.
    pub to: String,
    /// The current time (the library reads no clock).
    pub now: Timestamp,
    /// Move every record under the old key to this archive first (a rotation as a new
    /// segment); `None` rotates in place.
    pub archive: Option<PathBuf>,
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotateReport {
    /// The key the store was under.
    pub from_key: KeyId,
    /// The key it is under now.
    pub to_key: KeyId,
    /// The first seq under the new key.
    pub first_seq: u64,
    /// Rotated in place (the records before `first_seq` stay, under the old key), not as a
    /// new segment.
    pub in_place: bool,
    /// The prune that moved the old records to the archive (none when there was nothing to
    /// move).
    pub prune: Option<PruneReport>,
    /// The `rotate` receipt written.
    pub receipt: Receipt,
}

/// How many times a rotation is planned again when another writer changed the store between
/// its reading and its commit.
const ROTATE_TRIES: u32 = 8;

impl AuditLog {
    /// Rotates the store to the key labelled `request.to` (see the module documentation).
    ///
    /// In place: verifies the whole chain (every record must be checked: every key it was
    /// under must be held), brings the Merkle tree up to the head under the old key, then
    /// writes the `rotate` receipt naming the head and records the new key id, in one
    /// transaction that fails if a record was appended since the head was read (then it is
    /// planned again).
    ///
    /// As a new segment: verifies the whole chain with the current key, moves its records to
    /// `request.archive` with a prune receipt, then writes the `rotate` receipt and records the
    /// new key id, in one transaction. A crash between the prune and the receipt leaves a
    /// pruned store under the old key, which verifies; running the rotation again completes it.
    ///
    /// Refuses (changing nothing) a key the keyring does not hold, the key the store is
    /// already under, a key that covered the store before, a new secret too short for a new
    /// chain, a store that does not verify and a prune the minimum retention forbids.
    pub fn rotate(&mut self, request: &RotateRequest) -> Result<RotateReport, Error> {
        let location = self.location().to_owned();
        let refuse = |problem: String| Error::Rotate {
            location: location.clone(),
            problem,
        };
        let ring = self.keyring().cloned().ok_or(Error::NoSecret)?;
        let new = ring.by_label(&request.to).cloned().ok_or_else(|| {
            refuse(format!(
                "the keyring holds no key {:?} ({})",
                request.to,
                ring.describe()
            ))
        })?;
        let old = self.store_key()?;
        if old.key_id() == new.key_id() {
            return Err(refuse(format!(
                "the store is already under key id {} ({:?})",
                new.key_id(),
                request.to
            )));
        }
        if new.strength().too_short_for_new_store() {
            return Err(refuse(format!(
                "the new secret {:?} is too short to start a chain with (at least 32 bytes)",
                request.to
            )));
        }
        // The store must be the old key's: a wrong secret is told apart from damage.
        self.confirm_key(&old)?;
        let used_before = self.store_mut().state()?.retention.iter().enumerate().any(|(i, t)| {
            Receipt::parse(t.as_bytes(), i).is_ok_and(|r| {
                r.key_id == new.key_id()
                    || matches!(r.body, ReceiptBody::Rotate { new_key_id, .. } if new_key_id == new.key_id())
            })
        });
        if used_before {
            return Err(refuse(format!(
                "key id {} ({:?}) covered this store before: a key covers one range of seqs, so the chain never returns to it",
                new.key_id(),
                request.to
            )));
        }
        let in_place = request.archive.is_none();
        if in_place {
            // Every record must verify, under every key it was written with, before the new
            // key vouches for the head; and the tree must hold every record under the old key
            // (leaves are salted by the key that covers them).
            drop(self.verified_snapshot(&old, 1)?);
            self.store_mut().sync_tree(&old)?;
        }
        let mut tries = 0;
        let mut prune = None;
        loop {
            tries += 1;
            let state = self.store_mut().state()?;
            if let (Some(_), Some(archive)) = (&state.head, &request.archive) {
                if prune.is_some() {
                    return Err(StoreError::Conflict {
                        location: location.clone(),
                        detail: "records were appended under the old key while the store was rotated; the records before them are in the archive and the store is pruned: rotate again, with another archive".into(),
                    }
                    .into());
                }
                let report = self.prune_with_key(
                    &old,
                    &PruneRequest {
                        cutoff: CutoffSpec::KeepLast(0),
                        now: request.now,
                        dry_run: false,
                        archive: Some(archive.clone()),
                    },
                )?;
                prune = Some(report);
                continue;
            }
            let ring = self.ring_for(&old);
            let resolved =
                resolve_start_ring(&ring, &state.start, &state.retention).map_err(|p| {
                    Error::NotVerified {
                        verdict: Box::new(Verdict::Tampered(p.into())),
                    }
                })?;
            let from = resolved.start.clone();
            let head = match &state.head {
                // In place: the chain continues from its head record.
                Some((seq, hash)) => Some((
                    *seq,
                    Hash32::parse(hash).ok_or_else(|| {
                        refuse(format!("seq {seq}: its record_hash is not a hash"))
                    })?,
                )),
                // No record: from the checkpoint the chain starts at, if any.
                None => (from.next_seq > 0 && from.kind != trailseal_core::StartKind::Genesis)
                    .then(|| Hash32::parse(&from.prev_hash).map(|hash| (from.next_seq - 1, hash)))
                    .flatten(),
            };
            let expected_head = state
                .head
                .as_ref()
                .map(|(seq, hash)| (*seq, hash.as_slice()));
            let index = resolved.log.receipts.len() as u64;
            let receipt = Receipt::seal_rotate(
                &old,
                &new,
                index,
                request.now,
                from.clone(),
                head,
                resolved.log.min_retention_micros(),
                resolved.log.last_mac(),
            );
            match self
                .store_mut()
                .rotate(index, expected_head, &receipt.to_json(), &new.key_id())
            {
                Ok(()) => {
                    self.forget_key();
                    return Ok(RotateReport {
                        from_key: old.key_id(),
                        to_key: new.key_id(),
                        first_seq: head.map_or(from.next_seq, |(seq, _)| seq.saturating_add(1)),
                        in_place,
                        prune,
                        receipt,
                    });
                }
                // A receipt added meanwhile: planned again. Records appended meanwhile: the
                // next turn says so.
                Err(StoreError::Conflict { .. }) if tries < ROTATE_TRIES => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}
