//! Rotating the chain secret: moving a store to another key of the keyring with an
//! authenticated `rotate` receipt, MAC'd by the old key and by the new one.
//!
//! This version rotates as a **new segment**: every record under the old key is moved to an
//! archive (as `prune --archive` moves records), which verifies on its own with the old
//! secret, in weaver-kernel too; the live store keeps its retention log, gains the `rotate`
//! receipt, and continues from the checkpoint the archive ends at, under the new key, so
//! weaver-kernel with the new secret verifies it as a pruned store. Rotation in place (the old
//! records staying in the store under their key) is not made yet.

use std::path::PathBuf;

use trailseal_core::retention::{Receipt, resolve_start_ring};
use trailseal_core::{KeyId, Timestamp, Verdict};

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
    /// Move every record under the old key to this archive first (a segment rotation). A
    /// store that holds records cannot be rotated without one.
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
    /// Rotates the store to the key labelled `request.to` as a new segment (see the module
    /// documentation): verifies the whole chain with the current key, moves its records to
    /// `request.archive` with a prune receipt, then writes the `rotate` receipt and records the
    /// new key id, in one transaction. Refuses (changing nothing) a key the keyring does not
    /// hold, the key the store is already under, a new secret too short for a new chain, a
    /// store that does not verify, a prune the minimum retention forbids, and records without
    /// an archive. A crash between the prune and the receipt leaves a pruned store under the
    /// old key, which verifies; running the rotation again completes it.
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
        let mut tries = 0;
        let mut prune = None;
        loop {
            tries += 1;
            let state = self.store_mut().state()?;
            if state.head.is_some() {
                if prune.is_some() {
                    return Err(StoreError::Conflict {
                        location: location.clone(),
                        detail: "records were appended under the old key while the store was rotated; the records before them are in the archive and the store is pruned: rotate again, with another archive".into(),
                    }
                    .into());
                }
                let Some(archive) = request.archive.clone() else {
                    return Err(refuse(
                        "a rotation as a new segment moves the records under the old key to an archive, and none was given".into(),
                    ));
                };
                let report = self.prune_with_key(
                    &old,
                    &PruneRequest {
                        cutoff: CutoffSpec::KeepLast(0),
                        now: request.now,
                        dry_run: false,
                        archive: Some(archive),
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
            let head = (from.next_seq > 0 && from.kind != trailseal_core::StartKind::Genesis)
                .then(|| {
                    trailseal_core::Hash32::parse(&from.prev_hash)
                        .map(|hash| (from.next_seq - 1, hash))
                })
                .flatten();
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
                .rotate(index, None, &receipt.to_json(), &new.key_id())
            {
                Ok(()) => {
                    self.forget_key();
                    return Ok(RotateReport {
                        from_key: old.key_id(),
                        to_key: new.key_id(),
                        first_seq: from.next_seq,
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
