//! The Merkle tree over the chain, as a store holds it: Go tlog's stored hashes (only complete
//! subtrees, write-once, in index order; `trailseal_core::tree::stored`) and the seq of the
//! tree's first leaf. Written by the one write path: an append whose records follow the tree's
//! last leaf adds their hashes in the same transaction (`TxTree`, used by the append protocol); records the tree
//! does not cover yet (appended by weaver-kernel, which knows nothing of the tree, or before
//! the store had a tree) are brought in by [`crate::StoreExt::sync_tree`], which checks every
//! one of them (seq, link, MAC) before it hashes it in and stops at the first that fails.
//! Pruning never changes the tree.

use trailseal_core::tree::{
    Frontier, HashReader, MerkleHash, TreeError, stored_hash_count, tree_size_for_count,
};
use trailseal_core::verify::{ContentCheck, ContentChecker, Flow, ScanItem};
use trailseal_core::{ChainKey, Hash32, SealedRecord, leaf::Leaf};

use crate::{Store, StoreError, WriteTx};

/// The tree a store holds: where it starts and how many stored hashes it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredTree {
    /// The seq of the record that is leaf 0 (0 for a chain trailseal started; the first
    /// retained record for a store pruned before it had a tree).
    pub base: u64,
    /// How many stored hashes the store holds.
    pub hashes: u64,
}

impl StoredTree {
    /// The number of leaves: the largest tree whose stored hashes the store holds in full.
    pub fn size(&self) -> u64 {
        tree_size_for_count(self.hashes)
    }

    /// Whether the stored hashes are exactly those of [`StoredTree::size`] leaves (more is a
    /// write that did not finish, or damage).
    pub fn is_exact(&self) -> bool {
        stored_hash_count(self.size()) == Some(self.hashes)
    }

    /// The seq of the first record the tree does not cover.
    pub fn next_seq(&self) -> u64 {
        self.base.saturating_add(self.size())
    }
}

/// A damaged or unreadable stored tree hash.
pub(crate) fn tree_error(location: &str, index: u64, problem: impl Into<String>) -> StoreError {
    StoreError::Tree {
        location: location.to_owned(),
        index,
        problem: problem.into(),
    }
}

/// A seq as trailseal writes it: decimal digits, no sign, no leading zero.
pub(crate) fn parse_seq(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// The stored hashes of a snapshot, by index, for the core's tree functions (proofs, tiles,
/// roots at a size): a [`HashReader`] over one of its readers.
pub struct SnapshotHashes<'r>(pub &'r mut dyn crate::SnapshotReader);

impl std::fmt::Debug for SnapshotHashes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SnapshotHashes(..)")
    }
}

impl HashReader for SnapshotHashes<'_> {
    type Error = StoreError;

    fn read_hashes(&mut self, indexes: &[u64], out: &mut [MerkleHash]) -> Result<(), StoreError> {
        let reader = &mut *self.0;
        RunReader(|first, slot: &mut [MerkleHash]| reader.read_tree_hashes(first, slot))
            .read_hashes(indexes, out)
    }
}

/// Reads stored hashes by index through a function that reads a contiguous run.
pub(crate) struct RunReader<F>(pub(crate) F);

impl<F> HashReader for RunReader<F>
where
    F: FnMut(u64, &mut [MerkleHash]) -> Result<(), StoreError>,
{
    type Error = StoreError;

    fn read_hashes(&mut self, indexes: &[u64], out: &mut [MerkleHash]) -> Result<(), StoreError> {
        // Consecutive indexes are read as one run (tiles and scans ask for runs).
        let mut i = 0;
        while i < indexes.len().min(out.len()) {
            let Some(&first) = indexes.get(i) else { break };
            let mut j = i + 1;
            while indexes
                .get(j)
                .is_some_and(|&x| Some(x) == first.checked_add((j - i) as u64))
                && j < out.len()
            {
                j += 1;
            }
            if let Some(slot) = out.get_mut(i..j) {
                (self.0)(first, slot)?;
            }
            i = j;
        }
        Ok(())
    }
}

fn frontier_error(location: &str, size: u64, e: TreeError<StoreError>) -> StoreError {
    match e {
        TreeError::Read(e) => e,
        other => tree_error(location, size, other.to_string()),
    }
}

/// The frontier of a stored tree of `size` leaves, read through `read`.
pub(crate) fn read_frontier(
    location: &str,
    size: u64,
    read: impl FnMut(u64, &mut [MerkleHash]) -> Result<(), StoreError>,
) -> Result<Frontier, StoreError> {
    Frontier::from_reader(size, &mut RunReader(read)).map_err(|e| frontier_error(location, size, e))
}

/// The leaf hashes of sealed records.
pub(crate) fn leaf_hashes(key: &ChainKey, sealed: &[SealedRecord<'_>]) -> Vec<MerkleHash> {
    sealed
        .iter()
        .map(|r| {
            Leaf::for_record(
                key,
                r.seq,
                &r.prev_hash,
                &r.record_hash,
                r.trace.canonical().as_bytes(),
            )
            .hash()
        })
        .collect()
}

/// The tree's right edge as a handle's last append left it: its base and [`Frontier`]. The
/// next append of the same handle uses it instead of reading the frontier's stored hashes
/// again when the store's tree is still exactly of that base and size; any other writer's
/// append changes the size, and then the frontier is read. (A stored hash altered in place
/// meanwhile is not read back into new hashes; `verify` finds it as before.) Kept only after
/// an append whose commit and read-back succeeded.
#[derive(Debug, Default, Clone)]
pub struct FrontierCache(Option<Box<(u64, Frontier)>>);

impl FrontierCache {
    pub(crate) fn take(&mut self) -> Option<(u64, Frontier)> {
        self.0.take().map(|edge| *edge)
    }

    pub(crate) fn keep(&mut self, edge: Option<(u64, Frontier)>) {
        self.0 = edge.map(Box::new);
    }
}

/// Where the tree of a write transaction stands, once read.
pub(crate) struct TxTree {
    base: u64,
    frontier: Frontier,
    /// Stored hashes produced and not yet written, and the index the first of them goes at.
    pending: Vec<MerkleHash>,
    pending_from: u64,
}

impl TxTree {
    /// Reads the tree of `tx` if the records from `first_seq` on (the batch being appended)
    /// are its next leaves; `None` when they are not (the tree is behind, ahead, or damaged:
    /// then the tree is left as it is and [`crate::StoreExt::sync_tree`] brings it up).
    /// A store without a tree starts one when the batch is its first record.
    /// `cached`: the base and frontier the handle's last append left ([`FrontierCache`]),
    /// used when the tree is still exactly that.
    pub(crate) fn open(
        tx: &mut dyn WriteTx,
        first_seq: u64,
        cached: Option<(u64, Frontier)>,
    ) -> Result<Option<Self>, StoreError> {
        let (base, size) = match tx.tree()? {
            Some(t) if t.is_exact() => (t.base, t.size()),
            Some(_) => return Ok(None),
            None => {
                // Before the batch is inserted: the store must hold no record.
                if !tx.can_hold_tree() || tx.first_seq()?.is_some() {
                    return Ok(None);
                }
                (first_seq, 0)
            }
        };
        if base.checked_add(size) != Some(first_seq) {
            return Ok(None);
        }
        let frontier = match cached {
            Some((b, frontier)) if b == base && frontier.size() == size => frontier,
            _ => {
                let location = tx.location().to_owned();
                read_frontier(&location, size, |first, out| {
                    tx.read_tree_hashes(first, out)
                })?
            }
        };
        let pending_from = stored_hash_count(size).unwrap_or(u64::MAX);
        Ok(Some(Self {
            base,
            frontier,
            pending: Vec::new(),
            pending_from,
        }))
    }

    /// The base and the frontier after the leaves pushed, for [`FrontierCache::keep`].
    pub(crate) fn into_edge(self) -> (u64, Frontier) {
        (self.base, self.frontier)
    }

    /// Adds the next leaves.
    pub(crate) fn push(&mut self, location: &str, leaves: &[MerkleHash]) -> Result<(), StoreError> {
        for leaf in leaves {
            let size = self.frontier.size();
            self.frontier
                .push(*leaf, &mut self.pending)
                .map_err(|e| tree_error(location, size, e.to_string()))?;
        }
        Ok(())
    }

    /// Writes the stored hashes produced so far.
    pub(crate) fn flush(&mut self, tx: &mut dyn WriteTx) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        tx.append_tree(self.base, self.pending_from, &self.pending)?;
        self.pending_from = self.pending_from.saturating_add(self.pending.len() as u64);
        self.pending.clear();
        Ok(())
    }
}

/// How many records [`sync`] hashes into the tree per write transaction (bounding memory and
/// how long it holds the write lock).
/// (At most about 17 MiB of hashes; a JSONL store is read from its start for each chunk.)
const SYNC_CHUNK: u64 = 1 << 18;
/// How often [`sync`] starts again when another writer changed the store meanwhile.
const SYNC_RETRIES: u32 = 8;

/// What [`crate::StoreExt::sync_tree`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeSync {
    /// The seq of the tree's first leaf (`None`: the store holds no record and no tree).
    pub base: Option<u64>,
    /// The tree's size afterwards.
    pub size: u64,
    /// How many records were added.
    pub added: u64,
    /// The record the tree stops before, and why, when it does not reach the head: a record
    /// that fails its check (wrong seq, link or MAC, unreadable) is never hashed into the
    /// tree, nor is anything after it.
    pub stopped: Option<(u64, String)>,
}

/// See [`crate::StoreExt::sync_tree`].
pub(crate) fn sync<S: Store + ?Sized>(
    store: &mut S,
    key: &ChainKey,
) -> Result<TreeSync, StoreError> {
    sync_in_chunks(store, key, SYNC_CHUNK)
}

fn sync_in_chunks<S: Store + ?Sized>(
    store: &mut S,
    key: &ChainKey,
    chunk: u64,
) -> Result<TreeSync, StoreError> {
    let mut added = 0u64;
    let mut retries = 0u32;
    loop {
        let plan = match plan_chunk(store, key, chunk)? {
            Chunk::Done(mut done) => {
                done.added = added;
                return Ok(done);
            }
            Chunk::Hash(plan) => plan,
        };
        let mut tx = store.write()?;
        let now = tx.tree()?;
        let same_tree = match (now, plan.tree) {
            (Some(a), Some(b)) => a == b,
            (None, None) => tx.first_seq()? == Some(plan.base),
            _ => false,
        };
        let last = plan.base + plan.size_after - 1;
        let same_records =
            tx.record_hash_at(last)?.as_deref() == Some(plan.last_hash.as_bytes().as_slice());
        if !(same_tree && same_records) {
            drop(tx);
            retries += 1;
            if retries > SYNC_RETRIES {
                return Err(StoreError::Conflict {
                    location: store.location().to_owned(),
                    detail: "other writers kept changing the store while its tree was brought up"
                        .into(),
                });
            }
            continue;
        }
        tx.append_tree(plan.base, plan.from_index, &plan.hashes)?;
        tx.commit()?;
        added += plan.leaves;
        if let Some(stopped) = plan.stopped {
            return Ok(TreeSync {
                base: Some(plan.base),
                size: plan.size_after,
                added,
                stopped: Some(stopped),
            });
        }
    }
}

enum Chunk {
    Done(TreeSync),
    Hash(Plan),
}

/// Stored hashes computed from a snapshot, to be written if the store is still as read.
struct Plan {
    tree: Option<StoredTree>,
    base: u64,
    from_index: u64,
    hashes: Vec<MerkleHash>,
    leaves: u64,
    size_after: u64,
    last_hash: Hash32,
    stopped: Option<(u64, String)>,
}

/// Reads, in one snapshot, the records the tree does not cover yet (at most [`SYNC_CHUNK`]),
/// checks each and computes the stored hashes they add.
fn plan_chunk<S: Store + ?Sized>(
    store: &mut S,
    key: &ChainKey,
    chunk: u64,
) -> Result<Chunk, StoreError> {
    let location = store.location().to_owned();
    let mut snapshot = store.snapshot(1)?;
    let state = snapshot.state.clone();
    let Some((head_seq, _)) = state.head else {
        return Ok(Chunk::Done(TreeSync {
            base: state.tree.map(|t| t.base),
            size: state.tree.map_or(0, |t| t.size()),
            added: 0,
            stopped: None,
        }));
    };
    let (base, size) = match state.tree {
        Some(t) => (t.base, t.size()),
        None => (state.start.next_seq, 0),
    };
    let done = |stopped: Option<(u64, String)>| {
        Chunk::Done(TreeSync {
            base: Some(base),
            size,
            added: 0,
            stopped,
        })
    };
    if state.tree.is_some_and(|t| !t.is_exact()) {
        return Ok(done(Some((
            base.saturating_add(size),
            "the stored tree hashes end part way through a record".into(),
        ))));
    }
    let Some(next) = base.checked_add(size) else {
        return Ok(done(None));
    };
    if next > head_seq {
        if next > head_seq.saturating_add(1) {
            return Ok(done(Some((
                head_seq.saturating_add(1),
                format!(
                    "the tree covers records up to seq {} beyond the chain's last record",
                    next - 1
                ),
            ))));
        }
        return Ok(done(None));
    }
    let reader = snapshot.readers.first_mut().ok_or_else(|| StoreError::Io {
        location: location.clone(),
        action: "read the snapshot",
        source: std::io::Error::other("the snapshot has no reader"),
    })?;
    let mut frontier = read_frontier(&location, size, |first, out| {
        reader.read_tree_hashes(first, out)
    })?;
    // The record before the tree's next leaf gives the link; for a new tree, the chain start.
    let mut expected_prev: Option<Hash32> = if size == 0 {
        Hash32::parse(&state.start.prev_hash)
    } else {
        None
    };
    let scan_from = if size == 0 { next } else { next - 1 };
    let until = next.saturating_add(chunk).min(head_seq.saturating_add(1));
    let mut checker = ContentChecker::new();
    let mut hashes = Vec::new();
    let mut stopped: Option<(u64, String)> = None;
    let mut last_hash = Hash32::GENESIS;
    let mut tree_error_seen: Option<StoreError> = None;
    let mut expected_seq = scan_from;
    reader.scan_range(crate::SeqRange::from_seq(scan_from), &mut |item| {
        let record = match item {
            ScanItem::Record(r) => r,
            ScanItem::Malformed(m) => {
                stopped = Some((
                    m.seq.unwrap_or(expected_seq),
                    format!("{}: {}", m.location, m.problem),
                ));
                return Flow::Stop;
            }
        };
        if record.seq != expected_seq {
            stopped = Some((
                expected_seq,
                format!(
                    "seq {} is stored where seq {expected_seq} belongs",
                    record.seq
                ),
            ));
            return Flow::Stop;
        }
        let Some(record_hash) = Hash32::parse(record.record_hash) else {
            stopped = Some((
                record.seq,
                "its record_hash is not 64 lowercase hex characters".into(),
            ));
            return Flow::Stop;
        };
        if record.seq + 1 == next {
            // The tree's last leaf: only its hash is needed, for the link.
            expected_prev = Some(record_hash);
            expected_seq += 1;
            return Flow::Continue;
        }
        let linked = expected_prev.is_some_and(|p| p.ct_eq_stored(record.prev_hash));
        let Some(prev_hash) = Hash32::parse(record.prev_hash).filter(|_| linked) else {
            stopped = Some((
                record.seq,
                "its prev_hash does not link to the record before".into(),
            ));
            return Flow::Stop;
        };
        match checker.check(key, record) {
            ContentCheck::Ok => {}
            ContentCheck::Mismatch => {
                stopped = Some((
                    record.seq,
                    "its content does not match its record_hash".into(),
                ));
                return Flow::Stop;
            }
            ContentCheck::Malformed(p) => {
                stopped = Some((record.seq, p));
                return Flow::Stop;
            }
            ContentCheck::ColumnMismatch(c) => {
                stopped = Some((record.seq, format!("column `{c}` differs from its payload")));
                return Flow::Stop;
            }
            ContentCheck::NotHeld => {
                stopped = Some((record.seq, "its key is not held".into()));
                return Flow::Stop;
            }
        }
        let leaf = Leaf::for_record(
            key,
            record.seq,
            &prev_hash,
            &record_hash,
            checker.verified_trace(record),
        );
        let at = frontier.size();
        if let Err(e) = frontier.push(leaf.hash(), &mut hashes) {
            tree_error_seen = Some(tree_error(&location, at, e.to_string()));
            return Flow::Stop;
        }
        expected_prev = Some(record_hash);
        last_hash = record_hash;
        expected_seq += 1;
        if expected_seq >= until {
            Flow::Stop
        } else {
            Flow::Continue
        }
    })?;
    if let Some(e) = tree_error_seen {
        return Err(e);
    }
    let size_after = frontier.size();
    let leaves = size_after - size;
    if leaves == 0 {
        return Ok(done(stopped));
    }
    Ok(Chunk::Hash(Plan {
        tree: state.tree,
        base,
        from_index: stored_hash_count(size).unwrap_or(u64::MAX),
        hashes,
        leaves,
        size_after,
        last_hash,
        stopped,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::conformance::{expected_tree, stored_tree_hashes, test_key, traces};
    use crate::memory::MemoryStore;
    use crate::{ImportMeta, ImportRecord, StoreExt};

    /// A memory store holding `n` records copied in (no tree), the one at `bad` altered.
    fn copied(n: u64, bad: Option<usize>) -> MemoryStore {
        let key = test_key();
        let mut src = MemoryStore::new();
        src.append(&key, &traces(0, n)).unwrap();
        let mut store = MemoryStore::new();
        let meta = ImportMeta {
            start: trailseal_core::start::ChainStart::genesis(),
            retention: Vec::new(),
            key_id: trailseal_core::start::StoredKeyId::Absent,
            archive_of: None,
        };
        let mut records: Vec<ImportRecord> = src
            .records()
            .iter()
            .map(|r| ImportRecord {
                seq: r.seq,
                prev_hash: Hash32::parse(r.prev_hash.as_bytes()).unwrap(),
                record_hash: Hash32::parse(r.record_hash.as_bytes()).unwrap(),
                trace: r.trace.clone(),
                action_id: format!("act-{:06}", r.seq),
                invoked_at: String::new(),
            })
            .collect();
        if let Some(i) = bad {
            records[i].trace = records[i].trace.replacen("crm", "CRM", 1);
        }
        let mut copy = store.import(&meta).unwrap();
        copy.records(&records).unwrap();
        copy.finish().unwrap();
        store
    }

    /// Chunk boundaries do not change the tree: every chunk size gives the tree one pass gives,
    /// and the tree stops at the same bad record.
    #[test]
    fn catching_up_in_chunks_gives_the_same_tree() {
        let key = test_key();
        let mut whole = copied(70, None);
        sync_in_chunks(&mut whole, &key, u64::MAX).unwrap();
        let expected = expected_tree(&mut whole, &key);
        assert_eq!(stored_tree_hashes(&mut whole), expected);
        for chunk in [1, 2, 7, 16, 64, 69, 70] {
            let mut store = copied(70, None);
            let done = sync_in_chunks(&mut store, &key, chunk).unwrap();
            assert_eq!(
                (done.size, done.added, done.stopped),
                (70, 70, None),
                "chunk {chunk}"
            );
            assert_eq!(stored_tree_hashes(&mut store), expected, "chunk {chunk}");
            let mut bad = copied(70, Some(33));
            let done = sync_in_chunks(&mut bad, &key, chunk).unwrap();
            assert_eq!((done.size, done.added), (33, 33), "chunk {chunk}");
            assert_eq!(done.stopped.map(|s| s.0), Some(33), "chunk {chunk}");
            let prefix = stored_hash_count(33).unwrap() as usize;
            assert_eq!(stored_tree_hashes(&mut bad)[..], expected[..prefix]);
        }
    }

    #[test]
    fn only_canonical_seqs_are_read_as_the_base() {
        assert_eq!(parse_seq("0"), Some(0));
        assert_eq!(parse_seq("120"), Some(120));
        for bad in ["", "01", "+1", "-1", " 1", "1.0", "18446744073709551616"] {
            assert_eq!(parse_seq(bad), None, "{bad}");
        }
    }
}
