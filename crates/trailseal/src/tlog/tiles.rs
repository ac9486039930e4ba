//! Publishing the tree as C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>): `DIR/checkpoint`,
//! the hash tiles `DIR/tile/<L>/<N>[.p/<W>]` and the entry bundles
//! `DIR/tile/entries/<N>[.p/<W>]` of the 120-byte leaves (`docs/format.md` §12.2).
//!
//! One snapshot of the store is verified with the chain key first; the checkpoint, the tiles
//! and the entries all come from that snapshot, so nothing is published that did not verify.
//! A directory that holds a checkpoint must be this log's (it opens with the log's key, for
//! the same origin) and the store's tree must extend it: a checkpoint ahead of the store (a
//! rollback) or with another root at its size (a fork) stops the run before anything is
//! written. Files are written in this order: entry bundles, hash tiles, the checkpoint last,
//! each durable before the next, so a reader (or a crash) never sees a checkpoint whose tiles
//! are missing. Every tile of the tree is looked at: one already there must hold exactly the
//! bytes it would be written with (else: damage, the run stops before the checkpoint), a
//! missing one is written; so full tiles are never rewritten, and partial tiles only ever go
//! to their own `.p/<W>` paths. The partial tiles a wider one supersedes are left in place
//! (readers of an older checkpoint may still ask for them). Memory does not grow with the
//! tree: one tile and one bundle at a time, the records read in one streaming pass.

use std::path::Path;

use sha2::{Digest, Sha256};
use trailseal_core::checkpoint::{Checkpoint, CheckpointError};
use trailseal_core::leaf::Leaf;
use trailseal_core::note::NoteSigner;
use trailseal_core::tree::{
    Frontier, FrontierCheck, MerkleHash, TILE_WIDTH, Tile, check_against_frontier, entry_tiles,
    hash_tiles, push_bundle_entry, stored_hash_count, tile_data,
};
use trailseal_core::verify::{ContentCheck, ContentChecker, Flow, ScanItem};
use trailseal_core::{Caveat, Hash32, KeySchedule};
use trailseal_store::{SeqRange, SnapshotHashes, SnapshotReader, StoreError};

use super::tile_dir::{Put, TileDir};
use crate::error::Error;
use crate::log::AuditLog;

/// Why no tiles (or not all of them) were written. Whatever was written before the error is
/// complete and durable; the checkpoint is written last, so it never refers to missing tiles.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TilesError {
    /// Opening, reading or verifying the store failed, or it does not verify
    /// ([`Error::NotVerified`]); nothing was written.
    #[error(transparent)]
    Log(#[from] Error),
    /// The store has no Merkle tree (only weaver-kernel wrote it, or it predates the tree).
    #[error("{location}: the store has no Merkle tree yet; nothing was written")]
    NoTree { location: String },
    /// The tree has no leaf: there is nothing to publish (size 0 is never published).
    #[error("{location}: the Merkle tree is empty; nothing was written")]
    EmptyTree { location: String },
    /// The checkpoint cannot be made (the origin breaks the rules, or signing failed).
    #[error("checkpoint: {0}")]
    Checkpoint(CheckpointError),
    /// The directory's checkpoint does not open with the log's key: another log's directory,
    /// or a damaged checkpoint.
    #[error(
        "{path}: does not open as a checkpoint signed by this log's key ({source}); nothing was written"
    )]
    ForeignCheckpoint {
        path: String,
        #[source]
        source: CheckpointError,
    },
    /// The directory's checkpoint is signed by the log's key for another origin.
    #[error(
        "{path}: a checkpoint of origin `{found}`, not `{origin}`: another log's directory; nothing was written"
    )]
    OtherOrigin {
        path: String,
        found: String,
        origin: String,
    },
    /// The directory's checkpoint is of a larger tree than the store holds: the store was
    /// truncated or rolled back after it was published.
    #[error(
        "{path}: the published checkpoint is of size {size}, the store's tree has only {tree_size} leaves: the store was truncated or rolled back after it was published; nothing was written"
    )]
    AheadOfStore {
        path: String,
        size: u64,
        tree_size: u64,
    },
    /// The store's tree has another root at the published checkpoint's size: a fork (split
    /// view), the store rewritten after it was published.
    #[error(
        "{path}: the published checkpoint of size {size} has root {published}, the store's tree has root {store} at that size: the store forked (was rewritten) after it was published; nothing was written"
    )]
    Fork {
        path: String,
        size: u64,
        published: String,
        store: String,
    },
    /// The store's stored hashes do not lead to the tree's root at the checkpoint's size.
    #[error(
        "{location}: the stored tree hashes at size {size} are not consistent with the tree of size {tree_size}; nothing was written"
    )]
    StoredHashesDisagree {
        location: String,
        size: u64,
        tree_size: u64,
    },
    /// A file already at a tile's path holds other bytes (or is not a plain file): tiles are
    /// never rewritten.
    #[error(
        "{path}: holds something else than this tile (damage, or another log's tile); tiles are never rewritten; the checkpoint was not updated"
    )]
    Damaged { path: String },
    /// A path in the directory that must be a plain file is something else (a symbolic
    /// link, a directory).
    #[error("{path}: not a plain file (symbolic links are never followed); nothing was written")]
    NotAFile { path: String },
    /// A file larger than what is read there.
    #[error("{path}: larger than a checkpoint can be; nothing was written")]
    TooLarge { path: String },
    /// A path in the directory that must be a directory is something else.
    #[error("{path}: not a directory (symbolic links are never followed)")]
    NotADirectory { path: String },
    /// The records read do not give the tree the store holds (the store changed under a
    /// snapshot, or a bug): the checkpoint was not updated.
    #[error("{location}: seq {seq}: {problem}; the checkpoint was not updated")]
    Record {
        location: String,
        seq: u64,
        problem: String,
    },
    /// The tree arithmetic refused the sizes (beyond the supported range).
    #[error("{location}: tree: {problem}")]
    Tree { location: String, problem: String },
    /// A file could not be written.
    #[error("{path}: {source}")]
    Write {
        path: String,
        #[source]
        source: trailseal_store::atomic::WriteError,
    },
    /// An I/O error in the directory.
    #[error("{path}: {action}: {source}")]
    Io {
        path: String,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl From<StoreError> for TilesError {
    fn from(e: StoreError) -> Self {
        TilesError::Log(Error::Store(e))
    }
}

/// What [`AuditLog::write_tiles`] published.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TilesReport {
    /// The checkpoint's origin.
    pub origin: String,
    /// The tree size published (the checkpoint's size).
    pub size: u64,
    /// The tree's root at that size.
    pub root: MerkleHash,
    /// The size of the checkpoint the directory held before, if any.
    pub previous: Option<u64>,
    /// Hash tiles written.
    pub hash_tiles: u64,
    /// Entry bundles written.
    pub entry_bundles: u64,
    /// Tiles and bundles that were already there with the right bytes (left as they are).
    pub kept: u64,
    /// Entry bundles not written because their records were pruned (their leaves cannot be
    /// recomputed); the hash tiles are complete.
    pub pruned_bundles: u64,
    /// Records after the tree's last leaf (not in the tree yet, so not published): how many,
    /// from which seq.
    pub uncovered: Option<(u64, u64)>,
    /// Whether the checkpoint was (re)written; `false` when the directory was up to date.
    pub checkpoint_written: bool,
}

impl AuditLog {
    /// Publishes the store's tree into the tile directory `dir` (created if missing; its
    /// parent must exist) as C2SP tlog-tiles, with a checkpoint for `origin` signed by
    /// `signer`: see the module documentation. Needs the chain key (to verify, and to
    /// recompute the leaves).
    pub fn write_tiles(
        &mut self,
        dir: &Path,
        signer: &NoteSigner,
        origin: &str,
    ) -> Result<TilesReport, TilesError> {
        trailseal_core::checkpoint::check_origin(origin).map_err(TilesError::Checkpoint)?;
        let key = self.store_key()?;
        let location = self.location().to_owned();
        // The lock first, then the checkpoint, then the snapshot: a snapshot never predates a
        // checkpoint another run wrote.
        let mut tiles = TileDir::open(dir)?;
        let verifier = signer.verifier();
        let previous = match tiles.read_checkpoint()? {
            None => None,
            Some((path, bytes)) => {
                let path = path.display().to_string();
                let text = String::from_utf8(bytes).map_err(|_| TilesError::ForeignCheckpoint {
                    path: path.clone(),
                    source: CheckpointError::Body {
                        line: 1,
                        why: "not UTF-8",
                    },
                })?;
                let checkpoint = Checkpoint::open(&text, &verifier).map_err(|source| {
                    TilesError::ForeignCheckpoint {
                        path: path.clone(),
                        source,
                    }
                })?;
                if checkpoint.origin() != origin {
                    return Err(TilesError::OtherOrigin {
                        path,
                        found: checkpoint.origin().to_owned(),
                        origin: origin.to_owned(),
                    });
                }
                Some((path, checkpoint))
            }
        };
        let ring = self.ring_for(&key);
        let (mut snapshot, verified) = self.verified_snapshot(&key, 1)?;
        let tree = snapshot.state.tree.ok_or_else(|| TilesError::NoTree {
            location: location.clone(),
        })?;
        let size = tree.size();
        if size == 0 {
            return Err(TilesError::EmptyTree { location });
        }
        let uncovered = verified.caveats.iter().find_map(|c| match c {
            Caveat::TreeIncomplete { count, first_seq } => Some((*count, *first_seq)),
            _ => None,
        });
        let reader: &mut dyn SnapshotReader = match snapshot.readers.first_mut() {
            Some(reader) => reader.as_mut(),
            None => return Err(reader_lost(&location).into()),
        };
        let tree_error = |e: &dyn std::fmt::Display| TilesError::Tree {
            location: location.clone(),
            problem: e.to_string(),
        };
        let frontier = Frontier::from_reader(size, &mut SnapshotHashes(&mut *reader))
            .map_err(|e| tree_error(&e))?;
        let root = frontier.root();
        let old_size = match &previous {
            None => 0,
            Some((path, checkpoint)) => {
                match check_against_frontier(
                    checkpoint,
                    &frontier,
                    &mut SnapshotHashes(&mut *reader),
                )
                .map_err(|e| tree_error(&e))?
                {
                    FrontierCheck::Consistent => checkpoint.size(),
                    FrontierCheck::AheadOfStore {
                        checkpoint,
                        tree_size,
                    } => {
                        return Err(TilesError::AheadOfStore {
                            path: path.clone(),
                            size: checkpoint.size,
                            tree_size,
                        });
                    }
                    FrontierCheck::Fork { checkpoint, tree } => {
                        return Err(TilesError::Fork {
                            path: path.clone(),
                            size: checkpoint.size,
                            published: checkpoint.root.to_string(),
                            store: tree.root.to_string(),
                        });
                    }
                    FrontierCheck::StoredHashesDisagree { size, tree_size } => {
                        return Err(TilesError::StoredHashesDisagree {
                            location,
                            size,
                            tree_size,
                        });
                    }
                    _ => {
                        return Err(tree_error(&"the published checkpoint cannot be compared"));
                    }
                }
            }
        };
        let mut report = TilesReport {
            origin: origin.to_owned(),
            size,
            root,
            previous: previous.as_ref().map(|(_, c)| c.size()),
            hash_tiles: 0,
            entry_bundles: 0,
            kept: 0,
            pruned_bundles: 0,
            uncovered,
            checkpoint_written: false,
        };
        // The first leaf whose record the snapshot holds (earlier ones were pruned).
        let first_held = verified
            .first_seq
            .map_or(size, |seq| seq.saturating_sub(tree.base).min(size));
        let keys = crate::keys::schedule(&ring, &key, &snapshot.state.retention);
        let bundles = EntryPass {
            location: &location,
            keys: &keys,
            base: tree.base,
            size,
            first_held,
        };
        // Every tile of the tree is looked at: the new ones are written, the ones already
        // there must hold exactly these bytes (a published tile never changes).
        bundles.write(reader, &mut tiles, &mut report)?;
        for tile in hash_tiles(0, size) {
            let data =
                tile_data(&tile, &mut SnapshotHashes(&mut *reader)).map_err(|e| tree_error(&e))?;
            match tiles.put(&tile.path(), &data)? {
                Put::Written => report.hash_tiles += 1,
                Put::Kept => report.kept += 1,
            }
        }
        let note = Checkpoint::new(origin, size, root.0)
            .and_then(|c| c.sign(signer))
            .map_err(TilesError::Checkpoint)?;
        if old_size < size {
            tiles.write_checkpoint(&note)?;
            report.checkpoint_written = true;
        }
        Ok(report)
    }
}

fn reader_lost(location: &str) -> StoreError {
    StoreError::Io {
        location: location.to_owned(),
        action: "read the snapshot",
        source: std::io::Error::other("the snapshot has no reader"),
    }
}

/// The entry bundles of one run: the leaves recomputed from the records, streamed.
struct EntryPass<'a> {
    location: &'a str,
    keys: &'a KeySchedule,
    /// The seq of leaf 0.
    base: u64,
    /// The tree size published.
    size: u64,
    /// The first leaf whose record is held.
    first_held: u64,
}

/// Where the streaming pass stands.
struct Pending<I> {
    tiles: I,
    current: Option<Tile>,
    bundle: Vec<u8>,
    filled: u16,
    next_leaf: u64,
    /// The tree as the leaves written extend it, and SHA-256 of the stored hashes they
    /// produce, in index order.
    frontier: Frontier,
    produced: Vec<MerkleHash>,
    digest: Sha256,
    failure: Option<TilesError>,
}

impl EntryPass<'_> {
    fn record_error(&self, seq: u64, problem: impl Into<String>) -> TilesError {
        TilesError::Record {
            location: self.location.to_owned(),
            seq,
            problem: problem.into(),
        }
    }

    /// Writes (or finds, with exactly these bytes) every entry bundle of the tree, reading
    /// the records once; then checks that the leaves give exactly the stored hashes the
    /// store holds for them.
    fn write(
        &self,
        reader: &mut dyn SnapshotReader,
        dir: &mut TileDir,
        report: &mut TilesReport,
    ) -> Result<(), TilesError> {
        let mut all = entry_tiles(0, self.size).peekable();
        // Bundles whose first leaf was pruned cannot be recomputed.
        while all.next_if(|t| leaf_of(t) < self.first_held).is_some() {
            report.pruned_bundles += 1;
        }
        let Some(first) = all.peek().copied() else {
            return Ok(());
        };
        let from_leaf = leaf_of(&first);
        let mut pending = Pending {
            tiles: all,
            current: None,
            bundle: Vec::with_capacity(usize::from(TILE_WIDTH) * 122),
            filled: 0,
            next_leaf: from_leaf,
            frontier: Frontier::from_reader(from_leaf, &mut SnapshotHashes(&mut *reader)).map_err(
                |e| TilesError::Tree {
                    location: self.location.to_owned(),
                    problem: e.to_string(),
                },
            )?,
            produced: Vec::new(),
            digest: Sha256::new(),
            failure: None,
        };
        pending.current = pending.tiles.next();
        let mut checker = ContentChecker::new();
        let range = SeqRange {
            from: Some(self.base.saturating_add(from_leaf)),
            until: Some(self.base.saturating_add(self.size)),
        };
        reader.scan_range(range, &mut |item| match self.take(
            &mut checker,
            &mut pending,
            dir,
            report,
            item,
        ) {
            Ok(true) => Flow::Continue,
            Ok(false) => Flow::Stop,
            Err(e) => {
                pending.failure = Some(e);
                Flow::Stop
            }
        })?;
        if let Some(e) = pending.failure {
            return Err(e);
        }
        if pending.current.is_some() {
            let seq = self.base.saturating_add(pending.next_leaf);
            return Err(self.record_error(seq, "the snapshot does not hold this record"));
        }
        let written = pending.digest.finalize();
        let stored = digest_stored(reader, from_leaf, pending.next_leaf)?;
        if written.as_slice() != stored.as_slice() {
            return Err(self.record_error(
                self.base.saturating_add(from_leaf),
                "the leaves recomputed from the records from here on are not the stored tree's",
            ));
        }
        Ok(())
    }

    /// One scanned item; `Ok(false)` once the last bundle is written.
    fn take<I: Iterator<Item = Tile>>(
        &self,
        checker: &mut ContentChecker,
        pending: &mut Pending<I>,
        dir: &mut TileDir,
        report: &mut TilesReport,
        item: &ScanItem<'_>,
    ) -> Result<bool, TilesError> {
        let Some(tile) = pending.current else {
            return Ok(false);
        };
        let expected = self.base.saturating_add(pending.next_leaf);
        let record = match item {
            ScanItem::Record(r) => r,
            ScanItem::Malformed(bad) => {
                return Err(self.record_error(
                    bad.seq.unwrap_or(expected),
                    format!("{}: {}", bad.location, bad.problem),
                ));
            }
        };
        if record.seq != expected {
            return Err(self.record_error(expected, "not the next record the snapshot holds"));
        }
        let Some(key) = self.keys.key_for(record.seq) else {
            return Err(self.record_error(expected, "is under a key that is not held"));
        };
        let check = checker.check(key, record);
        let hashes = Hash32::parse(record.prev_hash).zip(Hash32::parse(record.record_hash));
        let (Some((prev, rec)), ContentCheck::Ok) = (hashes, check) else {
            return Err(self.record_error(expected, "does not verify"));
        };
        let leaf = Leaf::for_record(key, record.seq, &prev, &rec, checker.verified_trace(record));
        push_bundle_entry(&mut pending.bundle, &leaf.to_bytes())
            .map_err(|e| self.record_error(expected, e.to_string()))?;
        pending.produced.clear();
        pending
            .frontier
            .push(leaf.hash(), &mut pending.produced)
            .map_err(|e| self.record_error(expected, e.to_string()))?;
        for h in &pending.produced {
            pending.digest.update(h.as_bytes());
        }
        pending.filled += 1;
        pending.next_leaf += 1;
        if pending.filled < tile.width() {
            return Ok(true);
        }
        match dir.put(&tile.path(), &pending.bundle)? {
            Put::Written => report.entry_bundles += 1,
            Put::Kept => report.kept += 1,
        }
        pending.bundle.clear();
        pending.filled = 0;
        pending.current = pending.tiles.next();
        Ok(pending.current.is_some())
    }
}

/// The first leaf of an entry bundle.
fn leaf_of(tile: &Tile) -> u64 {
    tile.n().saturating_mul(u64::from(TILE_WIDTH))
}

/// SHA-256 of the stored hashes of leaves `from .. to` (indexes `StoredHashCount(from) ..
/// StoredHashCount(to)`), read in runs.
fn digest_stored(
    reader: &mut dyn SnapshotReader,
    from: u64,
    to: u64,
) -> Result<[u8; 32], TilesError> {
    const CHUNK: u64 = 8192;
    let (Some(mut at), Some(end)) = (stored_hash_count(from), stored_hash_count(to)) else {
        return Ok([0; 32]);
    };
    let mut digest = Sha256::new();
    let mut out = Vec::with_capacity(CHUNK as usize);
    while at < end {
        let run = end.min(at.saturating_add(CHUNK));
        out.clear();
        out.resize(
            usize::try_from(run - at).unwrap_or(0),
            MerkleHash::default(),
        );
        reader.read_tree_hashes(at, &mut out)?;
        for h in &out {
            digest.update(h.as_bytes());
        }
        at = run;
    }
    Ok(digest.finalize().into())
}
