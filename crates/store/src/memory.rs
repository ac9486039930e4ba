//! An in-memory store: for tests, and for embedding where persistence is handled elsewhere.

use std::collections::HashSet;

use trailseal_core::start::{ChainStart, StartKind, StoredKeyId};
use trailseal_core::tree::MerkleHash;
use trailseal_core::verify::{Flow, RecordView, ScanItem, TraceEncoding};
use trailseal_core::{Hash32, Head, KeyId, SealedRecord};

use crate::{
    Holdings, ImportRecord, SeqRange, Snapshot, SnapshotReader, Store, StoreError, StoreState,
    StoredRecord, StoredTree, WriteTx,
};

/// One record as the memory store keeps it. Public so tests can damage it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryRecord {
    pub seq: u64,
    pub prev_hash: String,
    pub record_hash: String,
    pub trace: String,
}

/// An in-memory chain.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    start: ChainStart,
    key_id: StoredKeyId,
    records: Vec<MemoryRecord>,
    action_ids: HashSet<String>,
    retention: Vec<String>,
    /// The seq of leaf 0 and the stored tree hashes.
    tree: Option<(u64, Vec<MerkleHash>)>,
    /// The tree's right edge after this handle's last append.
    frontier: crate::FrontierCache,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty chain starting at genesis.
    pub fn new() -> Self {
        Self {
            start: ChainStart::genesis(),
            key_id: StoredKeyId::Absent,
            records: Vec::new(),
            action_ids: HashSet::new(),
            retention: Vec::new(),
            tree: None,
            frontier: crate::FrontierCache::default(),
        }
    }

    /// Sets the tree (its base seq and stored hashes), for tests that build a store by hand.
    pub fn set_tree(&mut self, base: u64, hashes: Vec<MerkleHash>) {
        self.tree = Some((base, hashes));
    }

    /// The stored tree hashes, for tests that damage them on purpose.
    pub fn tree_hashes_mut(&mut self) -> Option<&mut Vec<MerkleHash>> {
        self.tree.as_mut().map(|(_, hashes)| hashes)
    }

    fn stored_tree(&self) -> Option<StoredTree> {
        self.tree.as_ref().map(|(base, hashes)| StoredTree {
            base: *base,
            hashes: hashes.len() as u64,
        })
    }

    /// The retention log, for tests that damage it on purpose.
    pub fn retention_mut(&mut self) -> &mut Vec<String> {
        &mut self.retention
    }

    /// Where the store says the chain starts, for tests that damage it on purpose.
    pub fn start_mut(&mut self) -> &mut ChainStart {
        &mut self.start
    }

    /// The records, for tests that damage them on purpose. Changing them bypasses every check.
    pub fn records_mut(&mut self) -> &mut Vec<MemoryRecord> {
        &mut self.records
    }

    /// The records.
    pub fn records(&self) -> &[MemoryRecord] {
        &self.records
    }

    fn head(&self) -> Result<Head, StoreError> {
        match self.records.last() {
            None => Ok(Head {
                next_seq: self.start.next_seq,
                prev_hash: Hash32::parse(&self.start.prev_hash).unwrap_or(Hash32::GENESIS),
            }),
            Some(last) => {
                let bad = |problem: &str| StoreError::BadHead {
                    location: "memory".into(),
                    seq: last.seq,
                    problem: problem.into(),
                };
                let prev_hash = Hash32::parse(last.record_hash.as_bytes())
                    .ok_or_else(|| bad("its record_hash is not 64 lowercase hex characters"))?;
                let next_seq = last.seq.checked_add(1).ok_or_else(|| bad("seq overflow"))?;
                Ok(Head {
                    next_seq,
                    prev_hash,
                })
            }
        }
    }
}

impl Store for MemoryStore {
    fn frontier_cache(&mut self) -> Option<&mut crate::FrontierCache> {
        Some(&mut self.frontier)
    }

    fn location(&self) -> &str {
        "memory"
    }

    fn state(&mut self) -> Result<StoreState, StoreError> {
        Ok(StoreState {
            start: self.start.clone(),
            retention: self.retention.clone(),
            archive_of: None,
            key_id: self.key_id,
            head: self
                .records
                .last()
                .map(|r| (r.seq, r.record_hash.as_bytes().to_vec())),
            record_count_hint: Some(self.records.len() as u64),
            tree: self.stored_tree(),
        })
    }

    fn write(&mut self) -> Result<Box<dyn WriteTx + '_>, StoreError> {
        Ok(Box::new(MemoryTx::begin(self)))
    }

    fn scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        let range = SeqRange {
            from: Some(from_seq),
            until: None,
        };
        scan_records(&self.records, range, visit);
        Ok(())
    }

    fn snapshot(&mut self, _readers: usize) -> Result<Snapshot<'_>, StoreError> {
        // The store cannot change while the snapshot borrows it: its reader reads it in place.
        let state = self.state()?;
        Ok(Snapshot {
            state,
            readers: vec![Box::new(MemoryReader {
                records: &self.records,
                tree: self.tree.as_ref().map_or(&[], |(_, h)| h.as_slice()),
            })],
        })
    }

    fn find(&mut self, action_id: &str) -> Result<Option<StoredRecord>, StoreError> {
        if !self.action_ids.contains(action_id) {
            return Ok(None);
        }
        Ok(self
            .records
            .iter()
            .find(|r| {
                trailseal_core::json::parse(r.trace.as_bytes())
                    .ok()
                    .is_some_and(|d| {
                        d.root().get("action_id").and_then(|n| n.as_str()) == Some(action_id)
                    })
            })
            .map(|r| StoredRecord {
                seq: r.seq,
                prev_hash: r.prev_hash.clone(),
                record_hash: r.record_hash.clone(),
                trace: r.trace.clone(),
            }))
    }
}

/// A write transaction on a memory store: changes are made in place and undone when it is
/// dropped without a commit.
struct MemoryTx<'a> {
    store: &'a mut MemoryStore,
    undo: Undo,
    committed: bool,
}

/// What a memory transaction changed, to undo it.
struct Undo {
    start: ChainStart,
    key_id: StoredKeyId,
    retention_len: usize,
    /// Records removed from the front, in order.
    deleted: Vec<MemoryRecord>,
    /// How many records were added at the end.
    inserted: usize,
    /// The tree as it was: `None` if there was none, else how many hashes it had.
    tree: Option<usize>,
}

impl<'a> MemoryTx<'a> {
    fn begin(store: &'a mut MemoryStore) -> Self {
        let undo = Undo {
            start: store.start.clone(),
            key_id: store.key_id,
            retention_len: store.retention.len(),
            deleted: Vec::new(),
            inserted: 0,
            tree: store.tree.as_ref().map(|(_, h)| h.len()),
        };
        Self {
            store,
            undo,
            committed: false,
        }
    }

    fn push(&mut self, record: MemoryRecord) {
        if let Some(id) = action_id_of(&record.trace) {
            self.store.action_ids.insert(id);
        }
        self.store.records.push(record);
        self.undo.inserted += 1;
    }
}

impl Drop for MemoryTx<'_> {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let undo = std::mem::replace(
            &mut self.undo,
            Undo {
                start: ChainStart::genesis(),
                key_id: StoredKeyId::Absent,
                retention_len: 0,
                deleted: Vec::new(),
                inserted: 0,
                tree: None,
            },
        );
        let store = &mut *self.store;
        let kept = store.records.len().saturating_sub(undo.inserted);
        for r in store.records.drain(kept..) {
            if let Some(id) = action_id_of(&r.trace) {
                store.action_ids.remove(&id);
            }
        }
        for r in &undo.deleted {
            if let Some(id) = action_id_of(&r.trace) {
                store.action_ids.insert(id);
            }
        }
        store.records.splice(0..0, undo.deleted);
        store.retention.truncate(undo.retention_len);
        store.start = undo.start;
        store.key_id = undo.key_id;
        match undo.tree {
            None => store.tree = None,
            Some(len) => {
                if let Some((_, hashes)) = store.tree.as_mut() {
                    hashes.truncate(len);
                }
            }
        }
    }
}

impl WriteTx for MemoryTx<'_> {
    fn location(&self) -> &str {
        "memory"
    }

    fn head(&mut self) -> Result<Head, StoreError> {
        self.store.head()
    }

    fn find_stored_action_id(&mut self, action_ids: &[&str]) -> Result<Option<usize>, StoreError> {
        Ok(action_ids
            .iter()
            .position(|id| self.store.action_ids.contains(*id)))
    }

    fn holdings(&mut self) -> Result<Option<Holdings>, StoreError> {
        let s = &self.store;
        if s.records.is_empty() && s.retention.is_empty() && s.start.kind == StartKind::Genesis {
            return Ok(None);
        }
        Ok(Some(Holdings {
            records: Some(s.records.len() as u64),
            first_seq: s.records.first().map(|r| r.seq),
            last_seq: s.records.last().map(|r| r.seq),
            receipts: Some(s.retention.len() as u64),
            bytes: None,
        }))
    }

    fn first_seq(&mut self) -> Result<Option<u64>, StoreError> {
        Ok(self.store.records.first().map(|r| r.seq))
    }

    fn record_hash_at(&mut self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .store
            .records
            .iter()
            .find(|r| r.seq == seq)
            .map(|r| r.record_hash.as_bytes().to_vec()))
    }

    fn insert(&mut self, records: &[SealedRecord<'_>], _key_id: &KeyId) -> Result<(), StoreError> {
        for r in records {
            self.push(MemoryRecord {
                seq: r.seq,
                prev_hash: r.prev_hash.to_string(),
                record_hash: r.record_hash.to_string(),
                trace: r.trace.canonical().to_owned(),
            });
        }
        Ok(())
    }

    fn insert_copied(&mut self, records: &[ImportRecord]) -> Result<(), StoreError> {
        for r in records {
            self.push(MemoryRecord {
                seq: r.seq,
                prev_hash: r.prev_hash.to_string(),
                record_hash: r.record_hash.to_string(),
                trace: r.trace.clone(),
            });
        }
        Ok(())
    }

    fn retention_len(&mut self) -> Result<u64, StoreError> {
        Ok(self.store.retention.len() as u64)
    }

    fn push_receipt(&mut self, receipt: &str) -> Result<(), StoreError> {
        self.store.retention.push(receipt.to_owned());
        Ok(())
    }

    fn delete_through(&mut self, last_seq: u64) -> Result<(), StoreError> {
        let cut = self
            .store
            .records
            .iter()
            .take_while(|r| r.seq <= last_seq)
            .count();
        // The records stored before the transaction come first, those it inserted after them.
        let before = self.store.records.len().saturating_sub(self.undo.inserted);
        let mut removed: Vec<MemoryRecord> = self.store.records.drain(..cut).collect();
        for r in &removed {
            if let Some(id) = action_id_of(&r.trace) {
                self.store.action_ids.remove(&id);
            }
        }
        // Records this transaction inserted are gone for good; the others come back on undo.
        let inserted_removed = removed.split_off(cut.min(before));
        self.undo.inserted = self.undo.inserted.saturating_sub(inserted_removed.len());
        self.undo.deleted.extend(removed);
        Ok(())
    }

    fn set_start(&mut self, start: &ChainStart) -> Result<(), StoreError> {
        self.store.start = start.clone();
        Ok(())
    }

    fn key_id(&mut self) -> Result<StoredKeyId, StoreError> {
        Ok(self.store.key_id)
    }

    fn record_key_id(&mut self, key_id: &KeyId) -> Result<(), StoreError> {
        self.store.key_id = StoredKeyId::Present(*key_id);
        Ok(())
    }

    fn tree(&mut self) -> Result<Option<StoredTree>, StoreError> {
        Ok(self.store.stored_tree())
    }

    fn read_tree_hashes(&mut self, first: u64, out: &mut [MerkleHash]) -> Result<(), StoreError> {
        let hashes = self
            .store
            .tree
            .as_ref()
            .map_or(&[][..], |(_, h)| h.as_slice());
        read_hashes(hashes, first, out)
    }

    fn append_tree(
        &mut self,
        base: u64,
        first: u64,
        hashes: &[MerkleHash],
    ) -> Result<(), StoreError> {
        let (_, stored) = self.store.tree.get_or_insert_with(|| (base, Vec::new()));
        if first != stored.len() as u64 {
            return Err(crate::tree::tree_error(
                "memory",
                first,
                format!("written where the store holds {} hashes", stored.len()),
            ));
        }
        stored.extend_from_slice(hashes);
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.committed = true;
        Ok(())
    }
}

/// The `action_id` of a stored trace, if it has one.
fn action_id_of(trace: &str) -> Option<String> {
    trailseal_core::json::parse(trace.as_bytes())
        .ok()
        .and_then(|d| {
            d.root()
                .get("action_id")
                .and_then(|n| n.as_str())
                .map(str::to_owned)
        })
}

/// The one reader of a memory store's snapshot.
struct MemoryReader<'a> {
    records: &'a [MemoryRecord],
    tree: &'a [MerkleHash],
}

impl SnapshotReader for MemoryReader<'_> {
    fn scan_range(
        &mut self,
        range: SeqRange,
        visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        scan_records(self.records, range, visit);
        Ok(())
    }

    fn read_tree_hashes(&mut self, first: u64, out: &mut [MerkleHash]) -> Result<(), StoreError> {
        read_hashes(self.tree, first, out)
    }
}

fn read_hashes(
    stored: &[MerkleHash],
    first: u64,
    out: &mut [MerkleHash],
) -> Result<(), StoreError> {
    let found = usize::try_from(first)
        .ok()
        .and_then(|f| stored.get(f..f.checked_add(out.len())?));
    match found {
        Some(run) => {
            out.copy_from_slice(run);
            Ok(())
        }
        None => Err(crate::tree::tree_error("memory", first, "missing")),
    }
}

fn scan_records(
    records: &[MemoryRecord],
    range: SeqRange,
    visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
) {
    let within =
        |seq: u64| range.from.is_none_or(|f| seq >= f) && range.until.is_none_or(|u| seq < u);
    for r in records.iter().filter(|r| within(r.seq)) {
        let item = ScanItem::Record(RecordView {
            seq: r.seq,
            prev_hash: r.prev_hash.as_bytes(),
            record_hash: r.record_hash.as_bytes(),
            trace: r.trace.as_bytes(),
            encoding: TraceEncoding::Stored,
            columns: None,
        });
        if visit(&item) == Flow::Stop {
            break;
        }
    }
}
