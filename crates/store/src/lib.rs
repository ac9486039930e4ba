//! # trailseal-store
//!
//! Where trailseal's chains live. The chain logic (sealing, verification) is in
//! `trailseal-core`. A backend only moves bytes, inside a transaction or lock that makes
//! writers from many processes produce one linear chain; what a write does, and in which order
//! it checks what, is written once, in [`protocol`], for every backend.
//!
//! ## The surface a backend offers
//!
//! - [`Store`], the handle: [`Store::location`]; [`Store::state`] (start, retention log, key
//!   id, head, from one consistent read); [`Store::write`], which begins a [`WriteTx`];
//!   [`Store::read_back`] (what an append committed, for a database that could have kept
//!   something else); [`Store::scan`] and [`Store::find`]; [`Store::snapshot`] (one consistent
//!   read, with one or more readers of seq ranges); [`Store::repair_torn_tail`] (JSONL only).
//! - [`WriteTx`], one write transaction holding the store's write lock. Reads that see the
//!   transaction's own writes (`head`, `find_stored_action_id`, `holdings`, `first_seq`,
//!   `record_hash_at`, `retention_len`, `key_id`, `seq_limit`), writes (`insert`,
//!   `insert_copied`, `push_receipt`, `delete_through`, `set_start`, `record_key_id`), and
//!   `commit`. Dropped without `commit`, it leaves the store exactly as it was.
//!
//! What callers use to change a store is [`StoreExt`], implemented for every `Store` and
//! written once against `WriteTx`: [`StoreExt::append`], [`StoreExt::add_receipt`],
//! [`StoreExt::prune`] and [`StoreExt::import`] (a guard: [`Import::records`], then
//! [`Import::finish`]; dropping it gives the copy up).
//!
//! Backends:
//! - [`sqlite::SqliteStore`] (feature `sqlite`, on by default): weaver-kernel 0.12.0's
//!   `SQLiteTraceStore` layout, plus additive `trailseal_*` tables; SQLite is compiled in
//!   (feature `bundled-sqlite`, on by default) or, without that feature, the system's
//!   `libsqlite3` is linked;
//! - [`jsonl::JsonlStore`]: weaver-kernel's `JsonlTraceStore` layout, one record a line;
//! - `postgres::PgStore` (feature `postgres`): one chain in a PostgreSQL schema, for many
//!   writers on many hosts;
//! - [`memory::MemoryStore`]: for tests and embedding.
//!
//! ## Adding a backend
//!
//! 1. **One module** (`src/<name>.rs`, or `src/<name>/` split by job with no file over about
//!    600 lines), behind a cargo feature if it needs a dependency: a handle implementing
//!    [`Store`] and a transaction implementing [`WriteTx`], and no write protocol of its own.
//!    - `Store::write` takes the store's write lock, so writers of every handle and process
//!      are serialised, and checks, before anything is written, whatever the backend must
//!      check (the SQLite and PostgreSQL schema allow-lists, a torn JSONL tail).
//!    - The transaction's reads return its own writes; `commit` makes all of them durable
//!      and visible at once; dropping it without `commit` undoes them and leaves the handle
//!      usable. A cache the handle keeps of what is stored (a head, a recorded key id) is
//!      updated only once a commit succeeded.
//!    - `scan`, `find` and snapshot readers never panic on stored content: a damaged record
//!      is a [`ScanItem::Malformed`].
//!    - A database that can keep something else than it was given (triggers, rules)
//!      overrides `Store::read_back`; a backend that cannot store every `u64` seq overrides
//!      `WriteTx::seq_limit`.
//! 2. **Its registration** in `src/open.rs`: a [`Format`] variant, how
//!    [`Format::from_location`] and [`Format::parse`] recognise it, its arm in [`open_with`]
//!    (and in [`redact_location`] if its locations can hold a password).
//! 3. **The conformance suite**: in `tests/conformance.rs`, a type implementing
//!    `conformance::Backend` (`fresh`, `reopen`) and `trailseal_store::conformance_tests!` in
//!    a module of its own. The suite is behind this crate's `conformance` feature (off by
//!    default; the crate's tests enable it through a dev-dependency on itself; other crates'
//!    tests enable it in their dev-dependencies). Then add the backend to the tamper suite
//!    (`crates/trailseal/tests/tamper.rs`).

pub mod atomic;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod deferred;
mod error;
pub mod jsonl;
pub mod lines;
pub mod memory;
mod open;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod protocol;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod tree;
pub mod write;

#[cfg(feature = "postgres")]
pub use error::LockHolder;
pub use error::{Holdings, StoreError};
pub use open::{Format, OpenMode, StoreOptions, open, open_with, redact_location};
pub use protocol::{Import, StoreExt};
pub use tree::{FrontierCache, SnapshotHashes, StoredTree, TreeSync};
pub use write::{ReadBack, WriteTx};

use trailseal_core::start::{ChainStart, StoredKeyId};
use trailseal_core::tree::MerkleHash;
use trailseal_core::verify::{Flow, ScanItem};
use trailseal_core::{Hash32, KeyId, PreparedTrace};

/// The state of a chain as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreState {
    /// Where the store says the chain starts: genesis, weaver-kernel's `meta` checkpoint, or a
    /// JSONL header's start. Not authenticated by itself; the retention log decides.
    pub start: ChainStart,
    /// The retention log: stored receipts (JSON texts), oldest first.
    pub retention: Vec<String>,
    /// For an archive of pruned records (JSONL): the receipt of the prune that removed them.
    pub archive_of: Option<String>,
    /// The key id the store records, if any.
    pub key_id: StoredKeyId,
    /// The last record, if any: its seq and stored `record_hash`.
    pub head: Option<(u64, Vec<u8>)>,
    /// How many records the store holds, when it can tell cheaply (for progress display).
    pub record_count_hint: Option<u64>,
    /// The Merkle tree over the records, if the store has one.
    pub tree: Option<StoredTree>,
}

/// A record that was appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    pub record_hash: Hash32,
}

/// One stored record, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub seq: u64,
    pub prev_hash: String,
    pub record_hash: String,
    /// The trace JSON as stored (canonical for records trailseal wrote).
    pub trace: String,
}

/// A place a chain is stored.
///
/// Implementations must make every [`WriteTx`] atomic and durable (all of it or none of it,
/// on disk when `commit` returns) and serialise writes from other handles and processes on
/// the same store, so the chain never forks. Nothing may panic on any stored content: damaged
/// records are reported as [`ScanItem::Malformed`] during scans.
pub trait Store: Send {
    /// Where the store is, for messages (a path, or a URL without its password).
    fn location(&self) -> &str;

    /// Reads where the chain starts, its retention log, its head and the recorded key id, all
    /// from one consistent state (one read transaction, one open file).
    fn state(&mut self) -> Result<StoreState, StoreError>;

    /// Begins a write transaction: takes the store's write lock and checks what the backend
    /// checks before any write (see [`WriteTx`]). Every change to a store is made through
    /// one, by the protocols of [`StoreExt`].
    fn write(&mut self) -> Result<Box<dyn WriteTx + '_>, StoreError>;

    /// Reads back, after an append committed, the seqs `first ..= last` it wrote, so the
    /// append is not acknowledged for rows the store dropped or rewrote (a database that runs
    /// what it was not asked to). `None` for a backend that cannot be made to keep something
    /// else than it was given (a file written by this process, memory).
    fn read_back(&mut self, first: u64, last: u64) -> Result<Option<ReadBack>, StoreError> {
        let _ = (first, last);
        Ok(None)
    }

    /// Streams the records with `seq >= from_seq` in chain order (for JSONL, file order) to
    /// `visit` until it returns [`Flow::Stop`] or the records end.
    fn scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
    ) -> Result<(), StoreError>;

    /// The record with this `action_id`, if stored.
    fn find(&mut self, action_id: &str) -> Result<Option<StoredRecord>, StoreError>;

    /// Opens a consistent read of the store: its state and up to `readers` readers (at least
    /// one) that all see exactly that state — the start, retention log, key id, head and the
    /// records of one moment, nothing written after it. Verification and every command that
    /// decides on the store's state read the store only through a snapshot, so that a prune,
    /// a policy change or an append made meanwhile can never produce a verdict that mixes two
    /// states.
    ///
    /// With several readers, several threads can read the snapshot side by side, each a range
    /// of seqs: reading consecutive ranges that cover every seq, one after another, gives
    /// exactly what one reader's whole scan gives. A backend that cannot read seq ranges
    /// cheaply (JSONL, an altered SQLite schema) gives one reader; callers then read it whole.
    ///
    /// Readers must not block appends for longer than a write takes, and appends made while
    /// they are open must not show in them. Nothing is written: a snapshot works on a store
    /// the user may only read.
    fn snapshot(&mut self, readers: usize) -> Result<Snapshot<'_>, StoreError>;

    /// Removes an interrupted write from the end of the store: the incomplete last record of
    /// an append that died mid-write, which only a store without transactions can hold
    /// (JSONL; see [`TornTail`]).
    ///
    /// Under the store's write lock (so nothing is appended meanwhile), finds the torn tail
    /// and calls `confirm` with this store as it would be without it (its scans end before
    /// the tail; it must not be written through) and the tail. The tail is removed, durably,
    /// only when `confirm` returns `true`. Returns the torn tail found, `None` when there is
    /// none (then `confirm` is not called and nothing changes). The default, for
    /// transactional backends, finds none.
    fn repair_torn_tail(
        &mut self,
        confirm: &mut dyn FnMut(&mut dyn Store, &TornTail) -> bool,
    ) -> Result<Option<TornTail>, StoreError> {
        let _ = confirm;
        Ok(None)
    }

    /// Where this handle keeps the Merkle tree's right edge between its appends, so that an
    /// append need not read it from the store again (see [`FrontierCache`]); `None` for a
    /// handle that keeps none (the default: every append reads it).
    fn frontier_cache(&mut self) -> Option<&mut FrontierCache> {
        None
    }
}

/// An interrupted write at the end of a store: the last line of a JSONL file has no line end
/// and is a strict prefix of the line of the record that follows the ones before it, in the
/// layout trailseal or weaver-kernel writes (a record line cut short anywhere before its
/// line end). A last line that is complete JSON, holds more than one value, a byte no writer
/// writes, or another seq or `prev_hash`, is not one: that is damage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The 1-based line number of the incomplete line.
    pub line: u64,
    /// Its byte offset: the store's length once it is removed.
    pub offset: u64,
    /// How many bytes it holds (to the end of the file).
    pub bytes: u64,
    /// The seq the line claims, when the start of the line is complete enough to say.
    pub claimed_seq: Option<u64>,
}

/// Which seqs a range scan covers: `from <= seq < until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRange {
    /// The first seq; `None` also takes every record whose seq is below `until` or cannot be
    /// read as a seq at all (a damaged row), so the first range of a plan misses nothing.
    pub from: Option<u64>,
    /// One past the last seq; `None` for no upper bound.
    pub until: Option<u64>,
}

impl SeqRange {
    /// Every record with `seq >= from_seq`, as [`Store::scan`] reads them: from seq 0, also
    /// the rows whose seq cannot be read (a damaged row).
    pub fn from_seq(from_seq: u64) -> Self {
        Self {
            from: (from_seq > 0).then_some(from_seq),
            until: None,
        }
    }
}

/// One of the readers of a [`Snapshot`].
pub trait SnapshotReader: Send {
    /// Streams the records in `range`, in chain order (for JSONL, file order), as
    /// [`Store::scan`] does on the snapshot.
    fn scan_range(
        &mut self,
        range: SeqRange,
        visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
    ) -> Result<(), StoreError>;

    /// Fills `out` with the stored tree hashes at indexes `first ..` (`out.len()` of them), as
    /// of the snapshot. [`StoreError::Tree`] when one is missing or not 32 bytes.
    fn read_tree_hashes(&mut self, first: u64, out: &mut [MerkleHash]) -> Result<(), StoreError>;

    /// A reader of the snapshot's stored tree hashes that works apart from this reader: another
    /// thread reads the hashes while this one scans the records. `None` (the default) when the
    /// backend cannot make one cheaply; callers then read the hashes through this reader.
    fn detached_tree_hashes(&self) -> Result<Option<Box<dyn TreeHashes>>, StoreError> {
        Ok(None)
    }
}

/// The stored tree hashes of one snapshot, read apart from its record reader
/// ([`SnapshotReader::detached_tree_hashes`]).
pub trait TreeHashes: Send {
    /// As [`SnapshotReader::read_tree_hashes`].
    fn read_tree_hashes(&mut self, first: u64, out: &mut [MerkleHash]) -> Result<(), StoreError>;
}

/// Readers over one consistent snapshot of a store, and the store's state in it. The
/// snapshot ends when this is dropped.
pub struct Snapshot<'a> {
    pub state: StoreState,
    /// At least one.
    pub readers: Vec<Box<dyn SnapshotReader + 'a>>,
}

impl Snapshot<'_> {
    /// Streams the snapshot's records with `seq >= from_seq`, as [`Store::scan`] does, through
    /// its first reader.
    pub fn scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        let range = SeqRange::from_seq(from_seq);
        match self.readers.first_mut() {
            Some(reader) => reader.scan_range(range, visit),
            None => Err(StoreError::Io {
                location: String::new(),
                action: "read the snapshot",
                source: std::io::Error::other("the snapshot has no reader"),
            }),
        }
    }
}

impl std::fmt::Debug for Snapshot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("state", &self.state)
            .field("readers", &self.readers.len())
            .finish()
    }
}

/// What a copied chain starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportMeta {
    pub start: ChainStart,
    pub retention: Vec<String>,
    pub key_id: StoredKeyId,
    /// For an archive of pruned records: the prune's receipt (JSONL and SQLite stores).
    pub archive_of: Option<String>,
}

/// A record copied verbatim: its hashes as stored, its trace in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRecord {
    pub seq: u64,
    pub prev_hash: Hash32,
    pub record_hash: Hash32,
    pub trace: String,
    pub action_id: String,
    pub invoked_at: String,
}

/// The error for importing into a store that is not empty.
pub(crate) fn not_empty(location: &str, holds: Holdings) -> StoreError {
    StoreError::NotEmpty {
        location: location.to_owned(),
        holds,
    }
}

/// What a prune removes, as verified just before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrunePlan {
    /// The first record to remove (the chain's first record).
    pub from_seq: u64,
    /// The last record to remove.
    pub last_seq: u64,
    /// Its `record_hash`: the checkpoint the retained records link to.
    pub last_hash: Hash32,
    /// How many receipts the retention log holds before this one.
    pub log_len: u64,
}

/// Refuses a batch that repeats an `action_id` within itself (every backend's first check).
/// The key the last `rotate` receipt of a stored retention log moves the chain to, if any (a
/// claim: verification checks it).
/// The rotations a stored retention log names, in order: each one's first seq and new key
/// (read, not checked: for telling which `kid` a JSONL line should carry).
pub(crate) fn rotations(retention: &[String]) -> Vec<(u64, KeyId)> {
    retention
        .iter()
        .enumerate()
        .filter_map(|(i, text)| {
            match trailseal_core::retention::Receipt::parse(text.as_bytes(), i)
                .ok()?
                .body
            {
                trailseal_core::retention::ReceiptBody::Rotate {
                    first_seq,
                    new_key_id,
                    ..
                } => Some((first_seq, new_key_id)),
                _ => None,
            }
        })
        .collect()
}

pub(crate) fn rotated_to(retention: &[String]) -> Option<KeyId> {
    retention.iter().enumerate().rev().find_map(|(i, text)| {
        match trailseal_core::retention::Receipt::parse(text.as_bytes(), i)
            .ok()?
            .body
        {
            trailseal_core::retention::ReceiptBody::Rotate { new_key_id, .. } => Some(new_key_id),
            _ => None,
        }
    })
}

pub(crate) fn refuse_repeated_ids(
    location: &str,
    traces: &[PreparedTrace],
) -> Result<(), StoreError> {
    match trailseal_core::record::find_duplicate_action_id(traces) {
        Some(id) => Err(StoreError::DuplicateActionId {
            location: location.to_owned(),
            action_id: id.to_owned(),
        }),
        None => Ok(()),
    }
}

/// Checks that the committed rows are the ones sealed, so that an append is never
/// acknowledged for records the store dropped or rewrote (every database backend's last step).
pub(crate) fn confirm_kept(
    location: &str,
    traces: &[PreparedTrace],
    appended: &[Appended],
    back: &ReadBack,
) -> Result<(), StoreError> {
    let (Some(first), Some(last)) = (appended.first(), appended.last()) else {
        return Ok(());
    };
    let not_kept = |seq: u64, problem: String| StoreError::NotKept {
        location: location.to_owned(),
        seq,
        problem,
    };
    if back.count != appended.len() as u64 {
        return Err(not_kept(
            first.seq,
            format!(
                "{} records were written from seq {}, {} are stored",
                appended.len(),
                first.seq,
                back.count
            ),
        ));
    }
    let ends = [
        (first, traces.first(), back.first.as_ref()),
        (last, traces.last(), back.last.as_ref()),
    ];
    for (written, trace, stored) in ends {
        let same = trace.zip(stored).is_some_and(|(trace, (hash, payload))| {
            hash.as_slice() == written.record_hash.as_str().as_bytes()
                && payload.as_slice() == trace.canonical().as_bytes()
        });
        if !same {
            return Err(not_kept(
                written.seq,
                "the stored record_hash or payload is not the one written".to_owned(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use trailseal_core::{Head, seal_batch};

    #[test]
    fn an_append_is_not_acknowledged_unless_the_store_kept_it() {
        let key = conformance::test_key();
        let traces = conformance::traces(0, 3);
        let mut head = Head::GENESIS;
        let appended: Vec<Appended> = seal_batch(&key, &mut head, &traces)
            .iter()
            .map(|r| Appended {
                seq: r.seq,
                record_hash: r.record_hash,
            })
            .collect();
        let row = |i: usize| {
            Some((
                appended[i].record_hash.as_str().as_bytes().to_vec(),
                traces[i].canonical().as_bytes().to_vec(),
            ))
        };
        let kept = ReadBack {
            count: 3,
            first: row(0),
            last: row(2),
        };
        assert!(confirm_kept("s", &traces, &appended, &kept).is_ok());
        let damaged = [
            ReadBack {
                count: 0,
                first: None,
                last: None,
            },
            ReadBack {
                count: 2,
                ..kept_copy(&kept)
            },
            ReadBack {
                last: None,
                ..kept_copy(&kept)
            },
            ReadBack {
                first: row(1),
                ..kept_copy(&kept)
            },
            ReadBack {
                last: Some((row(2).unwrap().0, b"{}".to_vec())),
                ..kept_copy(&kept)
            },
        ];
        for back in damaged {
            let e = confirm_kept("s", &traces, &appended, &back).unwrap_err();
            assert!(matches!(e, StoreError::NotKept { .. }), "{e}");
            assert!(
                e.to_string().contains("did not keep what was written"),
                "{e}"
            );
        }
    }

    fn kept_copy(b: &ReadBack) -> ReadBack {
        ReadBack {
            count: b.count,
            first: b.first.clone(),
            last: b.last.clone(),
        }
    }
}
