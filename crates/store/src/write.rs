//! The write surface every backend offers: one transaction at a time, holding the store's
//! write lock, rolling back when dropped without [`WriteTx::commit`].
//!
//! A backend only moves bytes here. What an append, a prune, a receipt or a copy does, and in
//! which order it checks what, is written once, in [`crate::protocol`], against this trait;
//! no backend implements a write protocol of its own.
//!
//! Every operation reads and writes the state of the transaction: what it has written so far
//! is what its reads return (an insert moves the head; a delete changes the first seq), and
//! nothing of it is visible to any other handle or process until `commit` returns `Ok`.

use trailseal_core::start::{ChainStart, StoredKeyId};
use trailseal_core::tree::MerkleHash;
use trailseal_core::{Head, KeyId, SealedRecord};

use crate::{Holdings, ImportRecord, StoreError, StoredTree};

/// An open write transaction on a store (see the [module documentation](self)).
///
/// Beginning one ([`crate::Store::write`]) takes the store's write lock (SQLite `BEGIN
/// IMMEDIATE`, the PostgreSQL chain lock, the JSONL file's exclusive lock), so writers from
/// every handle and process are serialised and the chain never forks, and checks what the
/// backend checks before any write (the SQLite and PostgreSQL schema allow-lists, a torn JSONL
/// tail). Dropping it without `commit` leaves the store exactly as it was.
///
/// After any operation has returned an error, the transaction must not be committed (a
/// backend may have written part of what the operation was given: a SQLite statement that
/// fails does not end its transaction); the protocols drop it instead. A backend may also
/// refuse the commit itself (PostgreSQL does, since the server has aborted the transaction).
pub trait WriteTx {
    /// Where the store is, for messages.
    fn location(&self) -> &str;

    /// One past the largest seq the backend can store (the default: no limit below
    /// `u64::MAX`). An append whose records would move [`WriteTx::head`] beyond it is refused
    /// with [`StoreError::SeqOverflow`] before anything is written.
    fn seq_limit(&self) -> u64 {
        u64::MAX
    }

    /// Where the next record goes: the seq after the last record and its `record_hash`, or,
    /// when the store holds no record, the chain's start (genesis or its checkpoint).
    /// [`StoreError::BadHead`] when the last record cannot be linked to.
    fn head(&mut self) -> Result<Head, StoreError>;

    /// The first of `action_ids` the store already holds, if any (its position in
    /// `action_ids`). A backend with a unique index on `action_id` may instead report a
    /// repeated one from [`WriteTx::insert`] as [`StoreError::DuplicateActionId`], and answer
    /// `None` here.
    fn find_stored_action_id(&mut self, action_ids: &[&str]) -> Result<Option<usize>, StoreError>;

    /// What the store holds, or `None` when it is empty: no record, no receipt, and a chain
    /// that starts at genesis.
    fn holdings(&mut self) -> Result<Option<Holdings>, StoreError>;

    /// The seq of the first record stored, if any.
    fn first_seq(&mut self) -> Result<Option<u64>, StoreError>;

    /// The `record_hash` stored for `seq`, as stored, if there is such a record.
    fn record_hash_at(&mut self, seq: u64) -> Result<Option<Vec<u8>>, StoreError>;

    /// Writes records sealed by `key_id`'s key onto [`WriteTx::head`], in order. The caller
    /// sealed them; a backend writes them as they are (and, for JSONL, with `key_id` on every
    /// line). [`StoreError::RecordTooLarge`] for a record over the backend's limit.
    fn insert(&mut self, records: &[SealedRecord<'_>], key_id: &KeyId) -> Result<(), StoreError>;

    /// Writes records copied verbatim from another store, in order, keyed by the key id the
    /// copy set with [`WriteTx::record_key_id`], if any.
    fn insert_copied(&mut self, records: &[ImportRecord]) -> Result<(), StoreError>;

    /// How many receipts the retention log holds.
    fn retention_len(&mut self) -> Result<u64, StoreError>;

    /// Adds a receipt at the end of the retention log.
    fn push_receipt(&mut self, receipt: &str) -> Result<(), StoreError>;

    /// Removes every record with `seq <= last_seq`.
    fn delete_through(&mut self, last_seq: u64) -> Result<(), StoreError>;

    /// Makes the chain start at `start`, where every reader of the store looks for it
    /// (weaver-kernel's `meta` checkpoint for SQLite, the JSONL header, the PostgreSQL `meta`
    /// table), so weaver-kernel still verifies and appends.
    fn set_start(&mut self, start: &ChainStart) -> Result<(), StoreError>;

    /// The key id the store records.
    fn key_id(&mut self) -> Result<StoredKeyId, StoreError>;

    /// Records `key_id` as the store's key id (replacing one recorded).
    fn record_key_id(&mut self, key_id: &KeyId) -> Result<(), StoreError>;

    /// Records that this store is the archive of the records a prune removed from another
    /// store: `receipt`, that prune's receipt (read back as [`StoreState::archive_of`]). A
    /// backend that cannot hold one refuses (the default).
    ///
    /// [`StoreState::archive_of`]: crate::StoreState::archive_of
    fn set_archive_of(&mut self, receipt: &str) -> Result<(), StoreError> {
        let _ = receipt;
        Err(StoreError::UnknownStore {
            location: self.location().to_owned(),
            reason: "this kind of store cannot be an archive of pruned records (a JSONL or SQLite file can)".into(),
        })
    }

    /// Whether the store can hold a Merkle tree for this handle (a PostgreSQL role without
    /// access to `trailseal_tree` cannot: its appends then leave the tree to other writers).
    fn can_hold_tree(&self) -> bool {
        true
    }

    /// The tree the store holds (as of this transaction), `None` if it has none.
    fn tree(&mut self) -> Result<Option<StoredTree>, StoreError>;

    /// Fills `out` with the stored tree hashes at indexes `first ..`, as of this transaction.
    /// [`StoreError::Tree`] when one is missing or not 32 bytes.
    fn read_tree_hashes(&mut self, first: u64, out: &mut [MerkleHash]) -> Result<(), StoreError>;

    /// Writes stored tree hashes at indexes `first ..`; `first` is the number of hashes the
    /// store holds (hashes are written once, in order, never changed). A store without a tree
    /// records `base` as the seq of leaf 0 (then `first` is 0); a store with one keeps its
    /// own. The protocols only call it with hashes computed from records they checked.
    fn append_tree(
        &mut self,
        base: u64,
        first: u64,
        hashes: &[MerkleHash],
    ) -> Result<(), StoreError>;

    /// Makes everything written in the transaction durable and visible at once, and releases
    /// the write lock. On error nothing of it is visible.
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// What a database backend reads back, after an append committed, of the seq range it wrote:
/// how many rows the range holds, and the `record_hash` and payload of its first and last
/// rows (`None`: no such row). See [`crate::Store::read_back`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReadBack {
    pub count: u64,
    pub first: Option<(Vec<u8>, Vec<u8>)>,
    pub last: Option<(Vec<u8>, Vec<u8>)>,
}
