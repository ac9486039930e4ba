//! Copying a chain between backends, every hash, checkpoint and receipt preserved.

use trailseal_core::json::{self, Mode};
use trailseal_core::start::StoredKeyId;
use trailseal_core::verify::{Flow, ScanItem};
use trailseal_core::{ChainKey, Hash32, Verdict, Verified};
use trailseal_store::{Import, ImportMeta, ImportRecord, Snapshot, Store, StoreError, StoreExt};

use crate::error::Error;
use crate::log::AuditLog;
use crate::verify::{Progress, VerifyOptions};

/// Records per call to [`trailseal_store::Import::records`].
const BATCH: usize = 10_000;

/// What a migration copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    pub records: u64,
    pub receipts: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// The destination's verdict (verified).
    pub verdict: Verdict,
}

impl AuditLog {
    /// Copies this chain into `to`, which must be empty: verifies the source first, copies its
    /// start, retention log, key id and every record verbatim (payloads in canonical form, so
    /// every hash is unchanged), then verifies the destination and checks it holds the same
    /// records with the same head. The copy is one transaction (JSONL: a file renamed over
    /// the destination): it becomes visible all at once when complete, and a migration that
    /// is interrupted, or fails before the copy is committed (once `to` is dropped), leaves
    /// the destination empty, so it can be run again — never a partial chain that would
    /// verify on its own. What is copied is the snapshot of the source that was verified:
    /// records appended, receipts added and prunes made meanwhile do not show in it. Only a
    /// committed copy
    /// that then fails its final check (a fault of the destination) stays in place, and the
    /// error says so.
    pub fn migrate_to(
        &mut self,
        to: &mut dyn Store,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<MigrateReport, Error> {
        self.with_verified_source(|source| copy_into(source, to, progress))
    }

    /// Like [`AuditLog::migrate_to`], but opens (creates) the destination only once the source
    /// has verified, so a refused migration (no or wrong secret, a source that does not
    /// verify) creates nothing. Returns the destination with the report.
    pub fn migrate_into(
        &mut self,
        open_destination: impl FnOnce() -> Result<Box<dyn Store>, StoreError>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(Box<dyn Store>, MigrateReport), Error> {
        self.with_verified_source(|source| {
            let mut to = open_destination()?;
            let report = copy_into(source, to.as_mut(), progress)?;
            Ok((to, report))
        })
    }

    /// Verifies one snapshot of the store and hands it, verified, to `then`; an error when it
    /// does not verify. What is verified and what is then copied are the same snapshot: a
    /// prune or a policy change made meanwhile cannot give a copy that mixes two states.
    fn with_verified_source<R>(
        &mut self,
        then: impl FnOnce(&mut Source<'_, '_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let key = self.store_key()?;
        let threads = self.threads();
        let location = self.location().to_owned();
        let (mut snapshot, verified) = self.verified_snapshot(&key, 1)?;
        then(&mut Source {
            key: &key,
            verified,
            snapshot: &mut snapshot,
            location: &location,
            threads,
        })
    }
}

/// A record as a copy takes it: its hashes as stored, its trace in canonical form, its columns.
/// `None` for one that is not an export-shape trace with hex hashes.
pub(crate) fn import_record(
    record: &trailseal_core::verify::RecordView<'_>,
) -> Option<ImportRecord> {
    let doc = json::parse(record.trace).ok()?;
    let mut canonical = Vec::with_capacity(record.trace.len());
    doc.root()
        .write_canonical(&mut canonical, Mode::Python)
        .ok()?;
    let field = |k: &str| {
        doc.root()
            .get(k)
            .and_then(|n| n.as_str())
            .map(str::to_owned)
    };
    Some(ImportRecord {
        seq: record.seq,
        prev_hash: Hash32::parse(record.prev_hash)?,
        record_hash: Hash32::parse(record.record_hash)?,
        trace: String::from_utf8(canonical).ok()?,
        action_id: field("action_id")?,
        invoked_at: field("invoked_at")?,
    })
}

/// A source that verified: its snapshot, and what verifying it found.
struct Source<'a, 's> {
    key: &'a ChainKey,
    verified: Verified,
    snapshot: &'a mut Snapshot<'s>,
    location: &'a str,
    threads: usize,
}

/// Copies the verified snapshot `src` of the source into `to`.
fn copy_into(
    source: &mut Source<'_, '_>,
    to: &mut dyn Store,
    progress: &mut dyn FnMut(Progress),
) -> Result<MigrateReport, Error> {
    let (key, src, threads) = (source.key, &source.verified, source.threads);
    let snapshot = &mut *source.snapshot;
    let state = snapshot.state.clone();
    let destination = to.location().to_owned();
    let mut copy = to.import(&ImportMeta {
        start: state.start.clone(),
        retention: state.retention.clone(),
        key_id: StoredKeyId::Present(key.key_id()),
        archive_of: None,
    })?;
    let mut batch: Vec<ImportRecord> = Vec::with_capacity(BATCH);
    let mut copied = 0u64;
    let mut failure: Option<Error> = None;
    let location = source.location.to_owned();
    let total = src.records_checked;
    // Records appended to the source after it was verified are not copied.
    let last_verified = src.last_seq;
    let mut last_copied: Option<(u64, Vec<u8>)> = None;
    snapshot.scan(0, &mut |item| {
        let seq = match item {
            ScanItem::Record(r) => Some(r.seq),
            ScanItem::Malformed(m) => m.seq,
        };
        if let Some(seq) = seq
            && last_verified.is_none_or(|last| seq > last)
        {
            return Flow::Stop;
        }
        let record = match item {
            ScanItem::Record(r) => r,
            ScanItem::Malformed(m) => {
                failure = Some(Error::Store(StoreError::BadHead {
                    location: location.clone(),
                    seq: m.seq.unwrap_or(0),
                    problem: format!("{}: {}", m.location, m.problem),
                }));
                return Flow::Stop;
            }
        };
        let parsed = import_record(record);
        let Some(r) = parsed else {
            failure = Some(Error::Store(StoreError::BadHead {
                location: location.clone(),
                seq: record.seq,
                problem: "the record cannot be copied (not an export-shape trace with hex hashes)"
                    .into(),
            }));
            return Flow::Stop;
        };
        last_copied = Some((r.seq, r.record_hash.as_bytes().to_vec()));
        batch.push(r);
        if batch.len() >= BATCH {
            if let Err(e) = flush(&mut batch, &mut copy) {
                failure = Some(e.into());
                return Flow::Stop;
            }
            copied += BATCH as u64;
            progress(Progress {
                records_checked: copied,
                total_hint: Some(total),
            });
        }
        Flow::Continue
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    copied += batch.len() as u64;
    flush(&mut batch, &mut copy)?;
    // The tree as the source holds it (verified with it), so what its checkpoints and anchors
    // pin holds for the copy; verifying the copy recomputes it.
    if let (Some(tree), Some(reader)) = (state.tree, snapshot.readers.first_mut()) {
        let mut chunk = vec![trailseal_core::tree::MerkleHash::default(); TREE_CHUNK];
        let mut at = 0u64;
        while at < tree.hashes {
            let n = usize::try_from(tree.hashes - at).map_or(TREE_CHUNK, |n| n.min(TREE_CHUNK));
            let part = chunk.get_mut(..n).unwrap_or_default();
            reader.read_tree_hashes(at, part)?;
            copy.tree_hashes(tree.base, at, part)?;
            at += n as u64;
        }
    }
    let mismatch = |what: String| {
        Error::Store(StoreError::Conflict {
            location: destination.clone(),
            detail: what,
        })
    };
    // Checked before the copy is committed: a source pruned meanwhile yields fewer
    // records, and the destination must then stay empty.
    if copied != src.records_checked {
        return Err(mismatch(format!(
            "{copied} records read from the source, {} verified (did it change during the copy?); nothing was copied",
            src.records_checked
        )));
    }
    copy.finish()?;

    // The destination must verify, and hold what the source held.
    let verdict = crate::verify::verify(to, Some(key), &mut VerifyOptions::new().threads(threads));
    let Verdict::Verified(dst) = &verdict else {
        return Err(Error::NotVerified {
            verdict: Box::new(verdict),
        });
    };
    if (dst.records_checked, dst.first_seq, dst.last_seq)
        != (src.records_checked, src.first_seq, src.last_seq)
    {
        return Err(mismatch(format!(
            "the committed copy holds {} records (seq {:?} to {:?}), the source {}",
            dst.records_checked, dst.first_seq, dst.last_seq, src.records_checked
        )));
    }
    let dest_state = to.state()?;
    if dest_state.head != last_copied || dest_state.retention != state.retention {
        return Err(mismatch(
            "the committed copy's head or retention log differs from the source's".into(),
        ));
    }
    Ok(MigrateReport {
        records: copied,
        receipts: state.retention.len() as u64,
        first_seq: dst.first_seq,
        last_seq: dst.last_seq,
        verdict,
    })
}

/// Stored tree hashes copied at a time.
const TREE_CHUNK: usize = 65_536;

fn flush(batch: &mut Vec<ImportRecord>, copy: &mut Import<'_>) -> Result<(), StoreError> {
    copy.records(batch)?;
    batch.clear();
    Ok(())
}
