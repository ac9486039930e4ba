//! The write protocols, written once against [`WriteTx`]: append, add a receipt, prune, copy
//! a chain in. Every backend gets them through [`StoreExt`]; none implements them itself.
//!
//! Each protocol checks, inside the one transaction that holds the store's write lock,
//! everything it depends on before it writes anything, so a refused call leaves the store
//! unchanged (the transaction is dropped, which rolls it back).

use trailseal_core::start::StartKind;
use trailseal_core::tree::MerkleHash;
use trailseal_core::{ChainKey, Head, KeyId, PreparedTrace, SealedRecord, seal_batch};

use crate::tree::{FrontierCache, TreeSync, TxTree, leaf_hashes};

use crate::write::WriteTx;
use crate::{
    Appended, ImportMeta, ImportRecord, PrunePlan, Store, StoreError, confirm_kept, not_empty,
    refuse_repeated_ids,
};

/// From this many traces on, an append seals on a second thread while the records already
/// sealed are written (the MACs of a chain are computed one after another).
const PIPELINE_FROM: usize = 256;
/// How many records the sealing thread hands over at a time.
const PIPELINE_CHUNK: usize = 64;

/// The write protocols, for every [`Store`]. Implemented for every store and not meant to be
/// implemented otherwise: a backend offers [`Store::write`], and these are what it gets.
pub trait StoreExt: Store {
    /// Links `traces` to the current head with `key`, writes them and makes them durable, all
    /// in one transaction. Refuses the whole batch, writing nothing, when an `action_id` is
    /// repeated in it or already stored. Records the key id if the store has none. Returns
    /// only when the store kept what was written ([`StoreError::NotKept`] otherwise).
    fn append(
        &mut self,
        key: &ChainKey,
        traces: &[PreparedTrace],
    ) -> Result<Vec<Appended>, StoreError> {
        append(self, key, traces)
    }

    /// Adds a receipt to the retention log if the log still holds `expected_len` receipts
    /// (else [`StoreError::Conflict`]), atomically and durably.
    fn add_receipt(&mut self, expected_len: u64, receipt: &str) -> Result<(), StoreError> {
        add_receipt(self, expected_len, receipt)
    }

    /// Removes the records `plan.from_seq ..= plan.last_seq`, adds the prune `receipt` to the
    /// retention log and makes the chain start at `plan.last_seq + 1`, in one atomic, durable
    /// step, and only if the store is still as `plan` describes it (else
    /// [`StoreError::Conflict`], changing nothing).
    fn prune(&mut self, plan: &PrunePlan, receipt: &str) -> Result<(), StoreError> {
        prune(self, plan, receipt)
    }

    /// Moves the chain to another key: appends `receipt` (a `rotate` receipt) to the retention
    /// log and records `new_key_id` as the store's key, in one transaction, if the log still
    /// holds `expected_len` receipts and the chain's last record is still `head` (`None`: the
    /// chain holds no record); else [`StoreError::Conflict`] and nothing changes.
    fn rotate(
        &mut self,
        expected_len: u64,
        head: Option<(u64, &[u8])>,
        receipt: &str,
        new_key_id: &KeyId,
    ) -> Result<(), StoreError> {
        rotate(self, expected_len, head, receipt, new_key_id)
    }

    /// Starts copying another chain into this store, which must be empty
    /// ([`StoreError::NotEmpty`] otherwise): sets its start, retention log and key id as
    /// `meta` says. Nothing of the copy is visible until [`Import::finish`]; dropping the
    /// guard instead leaves the store as it was. The store is locked for other writers
    /// meanwhile.
    fn import(&mut self, meta: &ImportMeta) -> Result<Import<'_>, StoreError> {
        import(self, meta)
    }

    /// Brings the Merkle tree up to the chain's head: hashes in, with `key`, the records the
    /// tree does not cover yet (appended by weaver-kernel, copied in, or stored before the
    /// store had a tree), in chunks of one write transaction each. Every record is checked
    /// first (its seq, its link to the record before, its MAC); the tree stops before the
    /// first that fails, and [`TreeSync::stopped`] says where and why. Appends call it
    /// themselves when the tree is behind.
    fn sync_tree(&mut self, key: &ChainKey) -> Result<TreeSync, StoreError> {
        crate::tree::sync(self, key)
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

fn append<S: Store + ?Sized>(
    store: &mut S,
    key: &ChainKey,
    traces: &[PreparedTrace],
) -> Result<Vec<Appended>, StoreError> {
    if traces.is_empty() {
        return Ok(Vec::new());
    }
    refuse_repeated_ids(store.location(), traces)?;
    let key_id = key.key_id();
    let cached_edge = store.frontier_cache().and_then(FrontierCache::take);
    let mut tx = store.write()?;
    let ids: Vec<&str> = traces.iter().map(PreparedTrace::action_id).collect();
    if let Some(i) = tx.find_stored_action_id(&ids)? {
        return Err(StoreError::DuplicateActionId {
            location: tx.location().to_owned(),
            action_id: ids.get(i).copied().unwrap_or_default().to_owned(),
        });
    }
    // The key is checked in the transaction: another handle may have rotated the store since
    // this one confirmed its key.
    let stored_key = tx.key_id()?;
    if let trailseal_core::start::StoredKeyId::Present(stored) = stored_key
        && stored != key_id
    {
        return Err(StoreError::KeyChanged {
            location: tx.location().to_owned(),
            stored,
            ours: key_id,
        });
    }
    let mut head = tx.head()?;
    if head
        .next_seq
        .checked_add(traces.len() as u64)
        .is_none_or(|end| end > tx.seq_limit())
    {
        return Err(StoreError::SeqOverflow {
            location: tx.location().to_owned(),
        });
    }
    let mut out = Vec::with_capacity(traces.len());
    // The records' tree hashes go in the same transaction when they are the tree's next
    // leaves; otherwise the tree is brought up after the commit.
    let mut tree = TxTree::open(tx.as_mut(), head.next_seq, cached_edge)?;
    let with_leaves = tree.is_some();
    let can_hold_tree = tx.can_hold_tree();
    let location = tx.location().to_owned();
    let mut insert =
        |tx: &mut Box<dyn WriteTx + '_>,
         (sealed, leaves): (Vec<SealedRecord<'_>>, Vec<MerkleHash>)| {
            tx.insert(&sealed, &key_id)?;
            if let Some(tree) = tree.as_mut() {
                tree.push(&location, &leaves)?;
                tree.flush(tx.as_mut())?;
            }
            out.extend(sealed.iter().map(|r| Appended {
                seq: r.seq,
                record_hash: r.record_hash,
            }));
            Ok::<(), StoreError>(())
        };
    let seal = |head: &mut Head, chunk| seal_with_leaves(key, with_leaves, head, chunk);
    if traces.len() < PIPELINE_FROM {
        insert(&mut tx, seal(&mut head, traces))?;
    } else {
        // A second thread computes the MACs and leaves while this one writes the records
        // already sealed.
        std::thread::scope(|scope| {
            let (to_writer, sealed) = std::sync::mpsc::sync_channel(4);
            scope.spawn(move || {
                for chunk in traces.chunks(PIPELINE_CHUNK) {
                    if to_writer.send(seal(&mut head, chunk)).is_err() {
                        return;
                    }
                }
            });
            // Returning early drops the receiver, which stops the sealing thread.
            sealed.iter().try_for_each(|batch| insert(&mut tx, batch))
        })?;
    }
    if stored_key == trailseal_core::start::StoredKeyId::Absent {
        tx.record_key_id(&key_id)?;
    }
    tx.commit()?;
    let edge = tree.map(TxTree::into_edge);
    if let (Some(first), Some(last)) = (out.first(), out.last())
        && let Some(back) = store.read_back(first.seq, last.seq)?
    {
        confirm_kept(store.location(), traces, &out, &back)?;
    }
    if let Some(cache) = store.frontier_cache() {
        cache.keep(edge);
    }
    if !with_leaves && can_hold_tree {
        // The records are stored and acknowledged whatever happens to the tree: a tree that
        // cannot be brought up now is brought up by a later write, and `verify` says how far
        // it reaches.
        let _ = crate::tree::sync(store, key);
    }
    Ok(out)
}

/// Seals `chunk` onto `head`, with the records' tree leaf hashes when they are needed.
fn seal_with_leaves<'t>(
    key: &ChainKey,
    with_leaves: bool,
    head: &mut Head,
    chunk: &'t [PreparedTrace],
) -> (Vec<SealedRecord<'t>>, Vec<MerkleHash>) {
    let sealed = seal_batch(key, head, chunk);
    let leaves = if with_leaves {
        leaf_hashes(key, &sealed)
    } else {
        Vec::new()
    };
    (sealed, leaves)
}

fn conflict(tx: &dyn WriteTx, detail: &str) -> StoreError {
    StoreError::Conflict {
        location: tx.location().to_owned(),
        detail: detail.into(),
    }
}

fn add_receipt<S: Store + ?Sized>(
    store: &mut S,
    expected_len: u64,
    receipt: &str,
) -> Result<(), StoreError> {
    let mut tx = store.write()?;
    if tx.retention_len()? != expected_len {
        return Err(conflict(tx.as_ref(), "the retention log grew"));
    }
    tx.push_receipt(receipt)?;
    tx.commit()
}

fn rotate<S: Store + ?Sized>(
    store: &mut S,
    expected_len: u64,
    head: Option<(u64, &[u8])>,
    receipt: &str,
    new_key_id: &KeyId,
) -> Result<(), StoreError> {
    let mut tx = store.write()?;
    if tx.retention_len()? != expected_len {
        return Err(conflict(tx.as_ref(), "the retention log grew"));
    }
    let now = match tx.first_seq()? {
        None => None,
        Some(_) => {
            let head = tx.head()?;
            Some((head.next_seq.saturating_sub(1), head.prev_hash))
        }
    };
    let same = match (now, head) {
        (None, None) => true,
        (Some((seq, hash)), Some((want_seq, want_hash))) => {
            seq == want_seq && hash.as_bytes().as_slice() == want_hash
        }
        _ => false,
    };
    if !same {
        return Err(conflict(tx.as_ref(), "records were appended meanwhile"));
    }
    tx.push_receipt(receipt)?;
    tx.record_key_id(new_key_id)?;
    tx.commit()
}

fn prune<S: Store + ?Sized>(
    store: &mut S,
    plan: &PrunePlan,
    receipt: &str,
) -> Result<(), StoreError> {
    let mut tx = store.write()?;
    if tx.retention_len()? != plan.log_len {
        return Err(conflict(tx.as_ref(), "the retention log grew"));
    }
    if tx.first_seq()? != Some(plan.from_seq) {
        return Err(conflict(tx.as_ref(), "the first record changed"));
    }
    if tx.record_hash_at(plan.last_seq)?.as_deref() != Some(plan.last_hash.as_bytes()) {
        return Err(conflict(tx.as_ref(), "the last record to prune changed"));
    }
    tx.delete_through(plan.last_seq)?;
    tx.push_receipt(receipt)?;
    tx.set_start(&trailseal_core::start::ChainStart::checkpoint(
        plan.last_seq,
        plan.last_hash,
    ))?;
    tx.commit()
}

/// A copy of another chain into an empty store, in progress (see [`StoreExt::import`]).
///
/// Records are added with [`Import::records`]; [`Import::finish`] makes the copy visible.
/// Dropping the guard without finishing leaves the store as it was, empty. The guard borrows
/// the store, so nothing else can use the store while a copy is in progress.
#[must_use = "a copy is only made visible by `finish`"]
pub struct Import<'s> {
    tx: Box<dyn WriteTx + 's>,
    /// A call to [`Import::records`] failed: part of its records may be written (a SQLite
    /// statement that fails does not end its transaction), so the copy can only be dropped.
    failed: bool,
}

impl std::fmt::Debug for Import<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Import")
            .field("location", &self.tx.location())
            .finish_non_exhaustive()
    }
}

fn import<'s, S: Store + ?Sized>(
    store: &'s mut S,
    meta: &ImportMeta,
) -> Result<Import<'s>, StoreError> {
    let mut tx = store.write()?;
    if let Some(holds) = tx.holdings()? {
        return Err(not_empty(tx.location(), holds));
    }
    if meta.start.kind != StartKind::Genesis {
        tx.set_start(&meta.start)?;
    }
    for receipt in &meta.retention {
        tx.push_receipt(receipt)?;
    }
    if let trailseal_core::start::StoredKeyId::Present(id) = meta.key_id {
        tx.record_key_id(&id)?;
    }
    if let Some(receipt) = &meta.archive_of {
        tx.set_archive_of(receipt)?;
    }
    Ok(Import { tx, failed: false })
}

impl Import<'_> {
    /// Adds records copied verbatim from the other store, in order. The caller verifies the
    /// result before it finishes.
    pub fn records(&mut self, records: &[ImportRecord]) -> Result<(), StoreError> {
        if self.failed {
            return Err(self.gave_up());
        }
        let copied = self.tx.insert_copied(records);
        self.failed = copied.is_err();
        copied
    }

    /// Adds the other store's Merkle tree hashes verbatim, in order from index `first` (0 for
    /// the first call), with `base`, the seq of its leaf 0: the copy then holds the same tree,
    /// so checkpoints and anchors of the original hold for it. The caller verifies the result
    /// (verification recomputes the tree) before it finishes.
    pub fn tree_hashes(
        &mut self,
        base: u64,
        first: u64,
        hashes: &[trailseal_core::tree::MerkleHash],
    ) -> Result<(), StoreError> {
        if self.failed {
            return Err(self.gave_up());
        }
        let written = self.tx.append_tree(base, first, hashes);
        self.failed = written.is_err();
        written
    }

    /// Makes the start, the retention log and every record copied visible at once, durably.
    /// Refused, committing nothing, once a call to [`Import::records`] has failed.
    pub fn finish(self) -> Result<(), StoreError> {
        if self.failed {
            return Err(self.gave_up());
        }
        self.tx.commit()
    }

    fn gave_up(&self) -> StoreError {
        StoreError::CopyGivenUp {
            location: self.tx.location().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use trailseal_core::start::{ChainStart, StoredKeyId};
    use trailseal_core::verify::{Flow, ScanItem};
    use trailseal_core::{Hash32, Head, KeyId};

    use super::*;
    use crate::{Holdings, Snapshot, StoreState, StoredRecord};

    /// A store whose copies fail on their second batch, and that says whether it committed.
    struct Flaky {
        committed: Arc<AtomicBool>,
    }

    struct FlakyTx {
        committed: Arc<AtomicBool>,
        batches: u32,
    }

    fn unused() -> StoreError {
        StoreError::Io {
            location: "flaky".into(),
            action: "use",
            source: std::io::Error::other("not used by this test"),
        }
    }

    impl WriteTx for FlakyTx {
        fn location(&self) -> &str {
            "flaky"
        }
        fn head(&mut self) -> Result<Head, StoreError> {
            Ok(Head::GENESIS)
        }
        fn find_stored_action_id(&mut self, _: &[&str]) -> Result<Option<usize>, StoreError> {
            Ok(None)
        }
        fn holdings(&mut self) -> Result<Option<Holdings>, StoreError> {
            Ok(None)
        }
        fn first_seq(&mut self) -> Result<Option<u64>, StoreError> {
            Ok(None)
        }
        fn record_hash_at(&mut self, _: u64) -> Result<Option<Vec<u8>>, StoreError> {
            Ok(None)
        }
        fn insert(&mut self, _: &[SealedRecord<'_>], _: &KeyId) -> Result<(), StoreError> {
            Err(unused())
        }
        fn insert_copied(&mut self, _: &[ImportRecord]) -> Result<(), StoreError> {
            self.batches += 1;
            if self.batches == 2 {
                // As a SQLite statement does: part of the batch written, the transaction open.
                return Err(StoreError::DuplicateActionId {
                    location: "flaky".into(),
                    action_id: "a".into(),
                });
            }
            Ok(())
        }
        fn retention_len(&mut self) -> Result<u64, StoreError> {
            Ok(0)
        }
        fn push_receipt(&mut self, _: &str) -> Result<(), StoreError> {
            Ok(())
        }
        fn delete_through(&mut self, _: u64) -> Result<(), StoreError> {
            Ok(())
        }
        fn set_start(&mut self, _: &ChainStart) -> Result<(), StoreError> {
            Ok(())
        }
        fn key_id(&mut self) -> Result<StoredKeyId, StoreError> {
            Ok(StoredKeyId::Absent)
        }
        fn record_key_id(&mut self, _: &KeyId) -> Result<(), StoreError> {
            Ok(())
        }
        fn tree(&mut self) -> Result<Option<crate::StoredTree>, StoreError> {
            Ok(None)
        }
        fn read_tree_hashes(&mut self, _: u64, _: &mut [MerkleHash]) -> Result<(), StoreError> {
            Err(unused())
        }
        fn append_tree(&mut self, _: u64, _: u64, _: &[MerkleHash]) -> Result<(), StoreError> {
            Err(unused())
        }
        fn commit(self: Box<Self>) -> Result<(), StoreError> {
            self.committed.store(true, Ordering::SeqCst);
            Ok(())
        }
    }

    impl Store for Flaky {
        fn location(&self) -> &str {
            "flaky"
        }
        fn state(&mut self) -> Result<StoreState, StoreError> {
            Err(unused())
        }
        fn write(&mut self) -> Result<Box<dyn WriteTx + '_>, StoreError> {
            Ok(Box::new(FlakyTx {
                committed: Arc::clone(&self.committed),
                batches: 0,
            }))
        }
        fn scan(
            &mut self,
            _: u64,
            _: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
        ) -> Result<(), StoreError> {
            Err(unused())
        }
        fn find(&mut self, _: &str) -> Result<Option<StoredRecord>, StoreError> {
            Err(unused())
        }
        fn snapshot(&mut self, _: usize) -> Result<Snapshot<'_>, StoreError> {
            Err(unused())
        }
    }

    #[test]
    fn a_copy_whose_records_failed_is_never_committed() {
        let committed = Arc::new(AtomicBool::new(false));
        let mut store = Flaky {
            committed: Arc::clone(&committed),
        };
        let meta = ImportMeta {
            start: ChainStart::genesis(),
            retention: Vec::new(),
            key_id: StoredKeyId::Absent,
            archive_of: None,
        };
        let record = ImportRecord {
            seq: 0,
            prev_hash: Hash32::GENESIS,
            record_hash: Hash32::GENESIS,
            trace: "{}".into(),
            action_id: "a".into(),
            invoked_at: String::new(),
        };
        let mut copy = store.import(&meta).unwrap();
        copy.records(std::slice::from_ref(&record)).unwrap();
        assert!(copy.records(std::slice::from_ref(&record)).is_err());
        // Later batches and the finish are refused: what the failed call wrote stays unseen.
        assert!(matches!(
            copy.records(std::slice::from_ref(&record)),
            Err(StoreError::CopyGivenUp { .. })
        ));
        let e = copy.finish().unwrap_err();
        assert!(matches!(e, StoreError::CopyGivenUp { .. }), "{e}");
        assert!(e.to_string().contains("nothing was copied"), "{e}");
        assert!(
            !committed.load(Ordering::SeqCst),
            "a copy that failed part way was committed"
        );
    }
}
