//! The Merkle tree, recomputed in the same pass as the chain check.
//!
//! The content checks (on worker threads) give each record's leaf hash along with its MAC
//! check; the sequential feed pushes the leaves of the records the verifier accepted, in chain
//! order, onto a frontier, which produces the stored hashes the records give, in index order.
//! When the snapshot has a reader the scan does not use (a spare reader, or the stored hashes
//! read apart from the record reader), another thread reads the stored hashes ahead, in
//! chunks, and each produced hash is compared with its stored one as it is produced: the first
//! record whose stored hashes differ is named at once. Memory: a few chunks.
//!
//! Otherwise they cannot be compared while the store is being scanned (its reader is busy):
//! each window of [`WINDOW`] leaves keeps only a SHA-256 digest of the hashes it produced.
//! Once the scan is done, the stored hashes are read window by window and digested the same
//! way; the first window that differs is read again, record by record, to name the first
//! record whose stored hashes differ. Memory: 32 bytes per window.
//!
//! The tree's leaves before the first record read (records pruned after the tree had them)
//! cannot be recomputed: the frontier there is read from the stored hashes, and what the
//! records give from there on is checked against them.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};

use sha2::{Digest, Sha256};
use trailseal_core::leaf::Leaf;
use trailseal_core::tree::{Frontier, MerkleHash, TreeHead, stored_hash_count, tree_hash};
use trailseal_core::verify::{ContentCheck, ContentChecker, Flow, RecordView, ScanItem};
use trailseal_core::{Caveat, Hash32, KeySchedule, TamperKind, Tampered, Verdict};
use trailseal_store::{
    SeqRange, SnapshotHashes, SnapshotReader, StoreError, StoreState, StoredTree, TreeHashes,
};

/// Leaves per digest window.
const WINDOW: u64 = 8192;
/// Stored hashes read at a time.
const READ_CHUNK: usize = 16_384;

/// The leaf hash of a record whose content check passed (`None` otherwise).
pub(super) fn leaf_of(
    keys: &KeySchedule,
    checker: &ContentChecker,
    record: &RecordView<'_>,
    check: &ContentCheck,
) -> Option<MerkleHash> {
    if *check != ContentCheck::Ok {
        return None;
    }
    let key = keys.key_for(record.seq)?;
    let prev = Hash32::parse(record.prev_hash)?;
    let rec = Hash32::parse(record.record_hash)?;
    Some(Leaf::for_record(key, record.seq, &prev, &rec, checker.verified_trace(record)).hash())
}

/// The snapshot's tree as it stands: its size and the root its stored hashes give (`None`
/// for a store without a tree). Only meaningful for a snapshot whose tree verified.
pub(crate) fn stored_head(
    location: &str,
    state: &StoreState,
    reader: &mut dyn SnapshotReader,
) -> Result<Option<TreeHead>, StoreError> {
    let Some(tree) = state.tree else {
        return Ok(None);
    };
    let size = tree.size();
    let root = tree_hash(size, &mut SnapshotHashes(reader)).map_err(|e| stop_error(location, e))?;
    Ok(Some(TreeHead { size, root }))
}

/// Where a read-ahead ([`TreeCheck::read_ahead_in`]) reads the stored hashes.
pub(super) enum HashSource<'s> {
    /// A reader of the snapshot that the scan does not use; given back afterwards.
    Reader(Box<dyn SnapshotReader + 's>),
    /// The snapshot's stored hashes, read apart from its record reader.
    Detached(Box<dyn TreeHashes>),
}

impl HashSource<'_> {
    fn read(&mut self, first: u64, out: &mut [MerkleHash]) -> Result<(), StoreError> {
        match self {
            HashSource::Reader(reader) => reader.read_tree_hashes(first, out),
            HashSource::Detached(hashes) => hashes.read_tree_hashes(first, out),
        }
    }
}

/// A chunk of stored hashes, in index order, or what stopped the reading.
type Chunk = Result<Vec<MerkleHash>, StoreError>;

/// Chunks in flight between the read-ahead thread and the check.
const CHUNKS_AHEAD: usize = 4;

/// Reads stored hashes `lo .. hi` in chunks and sends them in order, until they are all sent,
/// a read fails (its error is the last chunk) or the check stops listening.
fn read_ahead(source: &mut HashSource<'_>, lo: u64, hi: u64, chunks: &SyncSender<Chunk>) {
    let mut at = lo;
    while at < hi {
        let n = usize::try_from(hi - at)
            .unwrap_or(READ_CHUNK)
            .min(READ_CHUNK);
        let mut chunk = vec![MerkleHash::default(); n];
        let read = source.read(at, &mut chunk).map(|()| chunk);
        let failed = read.is_err();
        if chunks.send(read).is_err() || failed {
            return;
        }
        at += n as u64;
    }
}

/// The stored hashes as the read-ahead thread delivers them.
struct StoredFeed {
    chunks: Receiver<Chunk>,
    chunk: Vec<MerkleHash>,
    at: usize,
    location: String,
}

impl StoredFeed {
    /// The next stored hash, in index order.
    fn next(&mut self) -> Result<MerkleHash, StoreError> {
        loop {
            if let Some(hash) = self.chunk.get(self.at) {
                self.at += 1;
                return Ok(*hash);
            }
            match self.chunks.recv() {
                Ok(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                Ok(Err(e)) => return Err(e),
                // The thread ended without sending the hashes the tree holds.
                Err(_) => {
                    return Err(stop_error(
                        &self.location,
                        "the stored tree hashes ended early while being read",
                    ));
                }
            }
        }
    }
}

/// What comparing as the records are read found.
enum Found {
    /// The first record whose stored hashes differ: its seq, and the detail.
    Differs(u64, String),
    /// The stored hashes could not be read.
    Unreadable(StoreError),
}

/// The tree check of one verification.
pub(super) struct TreeCheck {
    tree: StoredTree,
    /// `tree.size()`, computed once (it is a search).
    size: u64,
    /// The leaf index of the first record pushed, and the frontier there.
    first_index: u64,
    frontier: Frontier,
    produced: Vec<MerkleHash>,
    window: Sha256,
    digests: Vec<[u8; 32]>,
    /// The records after the tree's last leaf: how many, from which seq.
    uncovered: Option<(u64, u64)>,
    /// A record not where the tree expects it (a gap the chain check reports).
    broken: bool,
    /// A record under a key not held came after the first leaf: the leaves from there on
    /// cannot be recomputed, and are not checked (the `keys-not-held` caveat says so).
    stopped: bool,
    /// Whether the stored hashes are compared as they are produced (a read-ahead was
    /// attached) rather than through window digests.
    direct: bool,
    feed: Option<StoredFeed>,
    found: Option<Found>,
}

fn stop_error(location: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Tree {
        location: location.to_owned(),
        index: 0,
        problem: e.to_string(),
    }
}

impl TreeCheck {
    /// The check for a snapshot whose chain starts at `first_seq` (the resolved start), `None`
    /// when the store has no tree. Reads the frontier at the first record's leaf.
    pub(super) fn begin(
        location: &str,
        state: &StoreState,
        first_seq: u64,
        reader: &mut dyn SnapshotReader,
    ) -> Result<Option<Self>, StoreError> {
        let Some(tree) = state.tree else {
            return Ok(None);
        };
        let size = tree.size();
        let first_index = first_seq.saturating_sub(tree.base).min(size);
        let frontier = Frontier::from_reader(first_index, &mut SnapshotHashes(reader))
            .map_err(|e| stop_error(location, e))?;
        Ok(Some(Self {
            tree,
            size,
            first_index,
            frontier,
            produced: Vec::new(),
            window: Sha256::new(),
            digests: Vec::new(),
            uncovered: None,
            broken: false,
            stopped: false,
            direct: false,
            feed: None,
            found: None,
        }))
    }

    /// Starts a thread in `scope` that reads the stored hashes from `source` ahead of the
    /// check, which then compares each produced hash with its stored one as it goes. Call
    /// [`TreeCheck::stop_reading_ahead`] before the scope ends; the thread gives `source` back.
    pub(super) fn read_ahead_in<'scope, 'env, 's: 'env>(
        &mut self,
        location: &str,
        scope: &'scope Scope<'scope, 'env>,
        mut source: HashSource<'s>,
    ) -> ScopedJoinHandle<'scope, HashSource<'s>> {
        let lo = stored_hash_count(self.first_index).unwrap_or(0);
        let hi = stored_hash_count(self.size).unwrap_or(0);
        let (tx, rx) = sync_channel(CHUNKS_AHEAD);
        self.direct = true;
        self.feed = Some(StoredFeed {
            chunks: rx,
            chunk: Vec::new(),
            at: 0,
            location: location.to_owned(),
        });
        scope.spawn(move || {
            read_ahead(&mut source, lo, hi, &tx);
            source
        })
    }

    /// Stops listening to the read-ahead thread, which then ends.
    pub(super) fn stop_reading_ahead(&mut self) {
        self.feed = None;
    }

    /// Compares the hashes leaf `index` (at `seq`) produced with the stored ones.
    fn compare(&mut self, seq: u64, index: u64) {
        let Some(feed) = self.feed.as_mut() else {
            return;
        };
        for produced in &self.produced {
            match feed.next() {
                Ok(stored) if stored == *produced => {}
                Ok(_) => {
                    self.found = Some(Found::Differs(
                        seq,
                        format!(
                            "seq {seq}: leaf {index}: its stored tree hashes differ from those its record gives"
                        ),
                    ));
                    break;
                }
                Err(e) => {
                    self.found = Some(Found::Unreadable(e));
                    break;
                }
            }
        }
        if self.found.is_some() {
            self.feed = None;
        }
    }

    /// The next record the verifier accepted, in chain order, with its leaf.
    pub(super) fn push(&mut self, seq: u64, leaf: Option<MerkleHash>) {
        if self.broken || self.stopped {
            return;
        }
        let index = self.frontier.size();
        if seq != self.tree.base.saturating_add(index) || index >= self.size {
            if seq >= self.tree.base.saturating_add(self.size) {
                self.uncovered.get_or_insert((0, seq)).0 += 1;
            } else {
                self.broken = true;
            }
            return;
        }
        let Some(leaf) = leaf else {
            self.broken = true;
            return;
        };
        self.produced.clear();
        if self.frontier.push(leaf, &mut self.produced).is_err() {
            self.broken = true;
            return;
        }
        if self.direct {
            self.compare(seq, index);
            return;
        }
        for h in &self.produced {
            self.window.update(h.as_bytes());
        }
        if (self.frontier.size() - self.first_index).is_multiple_of(WINDOW) {
            let done = std::mem::replace(&mut self.window, Sha256::new());
            self.digests.push(done.finalize().into());
        }
    }

    /// The next record the verifier accepted whose key is not held: its leaf cannot be
    /// recomputed. One before the check's first leaf (it begins after such records) changes
    /// nothing; a later one ends the check there.
    pub(super) fn skip(&mut self, seq: u64) {
        let before_first = self.frontier.size() == self.first_index
            && seq < self.tree.base.saturating_add(self.first_index);
        if !before_first {
            self.stopped = true;
            self.feed = None;
        }
    }

    /// Pushes the leaf of an accepted record, or skips it when its key is not held.
    pub(super) fn accept(&mut self, seq: u64, not_held: bool, leaf: Option<MerkleHash>) {
        if not_held {
            self.skip(seq);
        } else {
            self.push(seq, leaf);
        }
    }

    /// Compares what the records gave with the stored hashes; the tree's part of the verdict.
    pub(super) fn finish(
        mut self,
        location: &str,
        keys: &KeySchedule,
        reader: &mut dyn SnapshotReader,
        last_seq: Option<u64>,
        records_checked: u64,
    ) -> Result<TreeOutcome, StoreError> {
        self.feed = None;
        let end = self.frontier.size();
        if !self.direct
            && end > self.first_index
            && !(end - self.first_index).is_multiple_of(WINDOW)
        {
            let done = std::mem::replace(&mut self.window, Sha256::new());
            self.digests.push(done.finalize().into());
        }
        let tampered_as = |kind: TamperKind, seq: u64, detail: String| {
            TreeOutcome::Tampered(Verdict::Tampered(Tampered {
                first_bad_seq: seq,
                kind,
                records_checked,
                detail,
            }))
        };
        let tampered = |seq, detail| tampered_as(TamperKind::Tree, seq, detail);
        let base = self.tree.base;
        // The tree covers records the chain does not hold: records removed from its end.
        if !self.stopped && self.size > end && (end > self.first_index || last_seq.is_some()) {
            let seq = base.saturating_add(end);
            return Ok(tampered_as(
                TamperKind::Truncated,
                seq,
                format!(
                    "seq {seq}: the store's Merkle tree holds records up to seq {}, the chain ends before seq {seq}: records were removed from its end",
                    base.saturating_add(self.size).saturating_sub(1)
                ),
            ));
        }
        match self.found.take() {
            Some(Found::Differs(seq, detail)) => return Ok(tampered(seq, detail)),
            Some(Found::Unreadable(e)) => return Err(e),
            None => {}
        }
        // Each window's stored hashes against the digest of what the records gave (none when
        // they were compared as they were produced).
        for (w, digest) in self.digests.iter().enumerate() {
            let from = self.first_index + w as u64 * WINDOW;
            let to = (from + WINDOW).min(end);
            if digest_stored(reader, from, to)? != *digest {
                let (seq, detail) = locate(location, keys, reader, base, from, to)?;
                return Ok(tampered(seq, detail));
            }
        }
        Ok(match self.uncovered.filter(|_| !self.stopped) {
            Some((count, first_seq)) => {
                TreeOutcome::Incomplete(Caveat::TreeIncomplete { count, first_seq })
            }
            None => TreeOutcome::Complete,
        })
    }
}

/// The tree's part of a verdict.
pub(super) enum TreeOutcome {
    Complete,
    Incomplete(Caveat),
    Tampered(Verdict),
}

/// The SHA-256 of the stored hashes of leaves `from .. to`.
fn digest_stored(
    reader: &mut dyn SnapshotReader,
    from: u64,
    to: u64,
) -> Result<[u8; 32], StoreError> {
    let (Some(lo), Some(hi)) = (stored_hash_count(from), stored_hash_count(to)) else {
        return Ok([0; 32]);
    };
    let mut h = Sha256::new();
    let mut buf = vec![MerkleHash::default(); READ_CHUNK];
    let mut at = lo;
    while at < hi {
        let n = usize::try_from(hi - at)
            .unwrap_or(READ_CHUNK)
            .min(READ_CHUNK);
        let chunk = buf.get_mut(..n).unwrap_or_default();
        reader.read_tree_hashes(at, chunk)?;
        for x in chunk.iter() {
            h.update(x.as_bytes());
        }
        at += n as u64;
    }
    Ok(h.finalize().into())
}

/// Reads leaves `from .. to` again, record by record, and names the first whose stored hashes
/// differ from what it gives. The windows before matched, so the stored frontier at `from` is
/// what the records give.
fn locate(
    location: &str,
    keys: &KeySchedule,
    reader: &mut dyn SnapshotReader,
    base: u64,
    from: u64,
    to: u64,
) -> Result<(u64, String), StoreError> {
    let mut frontier = Frontier::from_reader(from, &mut SnapshotHashes(reader))
        .map_err(|e| stop_error(location, e))?;
    let mut checker = ContentChecker::new();
    let mut leaves: Vec<(u64, Option<MerkleHash>)> = Vec::new();
    let range = SeqRange {
        from: Some(base.saturating_add(from)),
        until: Some(base.saturating_add(to)),
    };
    reader.scan_range(range, &mut |item| {
        if let ScanItem::Record(r) = item {
            let check = keys.check(&mut checker, r);
            leaves.push((r.seq, leaf_of(keys, &checker, r, &check)));
        }
        Flow::Continue
    })?;
    let mut produced = Vec::new();
    let mut stored = Vec::new();
    for (seq, leaf) in leaves {
        let index = frontier.size();
        let Some(leaf) = leaf else { break };
        produced.clear();
        if frontier.push(leaf, &mut produced).is_err() {
            break;
        }
        stored.clear();
        stored.resize(produced.len(), MerkleHash::default());
        let at = stored_hash_count(index).unwrap_or(u64::MAX);
        let read = reader.read_tree_hashes(at, &mut stored);
        if read.is_err() || stored != produced {
            let why = match read {
                Err(e) => format!("its stored tree hashes cannot be read ({e})"),
                Ok(()) => "its stored tree hashes differ from those its record gives".to_owned(),
            };
            return Ok((seq, format!("seq {seq}: leaf {index}: {why}")));
        }
    }
    let seq = base.saturating_add(from);
    Ok((
        seq,
        format!(
            "seq {seq}: the stored tree hashes of leaves {from} to {to} differ from those the records give"
        ),
    ))
}
