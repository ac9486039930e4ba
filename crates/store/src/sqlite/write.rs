//! The SQLite backend's write transaction ([`WriteTx`]): one `BEGIN IMMEDIATE` transaction
//! on the handle's connection, rolled back when dropped without a commit. The write
//! protocols themselves are in [`crate::protocol`].
//!
//! What it writes: `traces` rows as weaver-kernel writes them, weaver-kernel's own `meta`
//! checkpoint for a chain's start (so weaver-kernel still verifies and appends after a
//! prune), and trailseal's additive `trailseal_meta` (schema version, key id) and
//! `trailseal_retention` tables, created by the first write that needs them.

use std::borrow::Cow;
use std::path::Path;

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use trailseal_core::start::{ChainStart, StartKind, StoredKeyId};
use trailseal_core::{Head, KeyId, SealedRecord};

use super::{
    META_DDL, RETENTION_DDL, Recorded, SCHEMA_VERSION, SqliteStore, TRAILSEAL_META_DDL,
    column_bytes, is_unique_violation, read, schema, sql_error, tree,
};
use crate::{Holdings, ImportRecord, ReadBack, StoreError, StoredTree, WriteTx};
use trailseal_core::tree::MerkleHash;

const INSERT: &str = "INSERT INTO traces (seq, action_id, prev_hash, record_hash, invoked_at, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/// A write transaction on a SQLite store (see [`WriteTx`]).
pub(super) struct SqliteTx<'a> {
    tx: Transaction<'a>,
    /// The store's path and the identity of the file the connection has open.
    path: &'a Path,
    file_id: Option<(u64, u64)>,
    location: &'a str,
    action_id_unique: bool,
    /// The handle's knowledge of `trailseal_meta`: updated from `pending` once, when COMMIT
    /// succeeded.
    recorded: &'a mut Recorded,
    /// What is known of `trailseal_meta` inside this transaction.
    pending: Recorded,
    /// `trailseal_retention` exists in this transaction.
    retention_table: bool,
}

impl<'a> SqliteTx<'a> {
    /// Takes the write lock and checks the schema before anything is written.
    pub(super) fn begin(store: &'a mut SqliteStore) -> Result<Self, StoreError> {
        store.end_stale_transaction();
        let SqliteStore {
            conn,
            path,
            location,
            action_id_unique,
            recorded,
            file_id,
            ..
        } = store;
        let moved = |location: &str| StoreError::Moved {
            location: location.to_owned(),
        };
        if super::file_id(path) != *file_id {
            return Err(moved(location));
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_error(location, "begin"))?;
        // Under the write lock: no trigger or view can be added between this and the commit.
        schema::check(&tx, location)?;
        Ok(Self {
            tx,
            path,
            file_id: *file_id,
            location,
            action_id_unique: *action_id_unique,
            pending: *recorded,
            recorded,
            retention_table: false,
        })
    }

    fn err(&self, action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        sql_error(self.location, action)
    }

    /// `trailseal_meta`, holding the schema version this code writes (unless it holds one).
    fn ensure_meta(&mut self) -> Result<(), StoreError> {
        if self.pending.schema_version {
            return Ok(());
        }
        self.tx
            .execute_batch(&format!(
                "{TRAILSEAL_META_DDL}; INSERT OR IGNORE INTO trailseal_meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}');"
            ))
            .map_err(self.err("record the schema version"))?;
        self.pending.schema_version = true;
        Ok(())
    }

    fn count(&self, sql: &str, action: &'static str) -> Result<u64, StoreError> {
        let n: i64 = self
            .tx
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
            .map_err(self.err(action))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Inserts rows into the traces table with the cached statement. A repeated `action_id`
    /// (refused by the UNIQUE index) is [`StoreError::DuplicateActionId`] naming it; the
    /// caller drops the transaction, so nothing of the batch is written.
    fn insert_rows<'r>(&mut self, rows: impl Iterator<Item = Row<'r>>) -> Result<(), StoreError> {
        self.ensure_meta()?;
        let location = self.location;
        let mut insert = self.tx.prepare_cached(INSERT).map_err(self.err("insert"))?;
        for row in rows {
            let seq = i64::try_from(row.seq).map_err(|_| StoreError::SeqOverflow {
                location: location.to_owned(),
            })?;
            let inserted = insert.execute(params![
                seq,
                row.action_id,
                row.prev_hash,
                row.record_hash,
                row.invoked_at,
                row.payload,
            ]);
            match inserted {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::DuplicateActionId {
                        location: location.to_owned(),
                        action_id: row.action_id.to_owned(),
                    });
                }
                Err(e) => return Err(sql_error(location, "insert")(e)),
            }
        }
        Ok(())
    }
}

/// One row of the traces table, as an insert writes it.
struct Row<'r> {
    seq: u64,
    action_id: &'r str,
    prev_hash: &'r str,
    record_hash: &'r str,
    invoked_at: &'r str,
    payload: &'r str,
}

impl WriteTx for SqliteTx<'_> {
    fn location(&self) -> &str {
        self.location
    }

    fn seq_limit(&self) -> u64 {
        // `seq` is a signed 64-bit INTEGER.
        i64::MAX as u64
    }

    fn head(&mut self) -> Result<Head, StoreError> {
        read::head(&self.tx, self.location)
    }

    fn find_stored_action_id(&mut self, action_ids: &[&str]) -> Result<Option<usize>, StoreError> {
        if self.action_id_unique {
            // The UNIQUE index refuses a repeated id at `insert`.
            return Ok(None);
        }
        let mut exists = self
            .tx
            .prepare_cached("SELECT 1 FROM traces WHERE action_id = ?1")
            .map_err(self.err("check action_id"))?;
        for (i, id) in action_ids.iter().enumerate() {
            let found = exists.exists([id]);
            if found.map_err(|e| sql_error(self.location, "check action_id")(e))? {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    fn holdings(&mut self) -> Result<Option<Holdings>, StoreError> {
        let (records, first, last): (i64, Option<i64>, Option<i64>) = self
            .tx
            .query_row("SELECT count(*), min(seq), max(seq) FROM traces", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(self.err("count"))?;
        let receipts = self.retention_len()?;
        // A checkpoint, whatever it holds, is a start other than genesis.
        let checkpoint = read::weaver_meta(&self.tx, "checkpoint_hash")
            .map_err(self.err("read checkpoint"))?
            .is_some();
        if records == 0 && receipts == 0 && !checkpoint {
            return Ok(None);
        }
        let seq = |s: Option<i64>| s.and_then(|s| u64::try_from(s).ok());
        Ok(Some(Holdings {
            records: u64::try_from(records).ok(),
            first_seq: seq(first),
            last_seq: seq(last),
            receipts: Some(receipts),
            bytes: None,
        }))
    }

    fn first_seq(&mut self) -> Result<Option<u64>, StoreError> {
        let first: Option<i64> = self
            .tx
            .query_row("SELECT min(seq) FROM traces", [], |r| r.get(0))
            .map_err(self.err("read first record"))?;
        // A (tampered) negative seq is no first record a prune plan can name.
        Ok(first.and_then(|f| u64::try_from(f).ok()))
    }

    fn record_hash_at(&mut self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let Ok(seq) = i64::try_from(seq) else {
            return Ok(None);
        };
        // As text: a record_hash stored as another type is not the hash weaver-kernel reads.
        let hash: Option<String> = self
            .tx
            .query_row(
                "SELECT record_hash FROM traces WHERE seq = ?1",
                [seq],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("read last pruned record"))?;
        Ok(hash.map(String::into_bytes))
    }

    fn insert(&mut self, records: &[SealedRecord<'_>], _key_id: &KeyId) -> Result<(), StoreError> {
        self.insert_rows(records.iter().map(|r| Row {
            seq: r.seq,
            action_id: r.trace.action_id(),
            prev_hash: r.prev_hash.as_str(),
            record_hash: r.record_hash.as_str(),
            invoked_at: r.trace.invoked_at(),
            payload: r.trace.canonical(),
        }))
    }

    fn insert_copied(&mut self, records: &[ImportRecord]) -> Result<(), StoreError> {
        self.insert_rows(records.iter().map(|r| Row {
            seq: r.seq,
            action_id: &r.action_id,
            prev_hash: r.prev_hash.as_str(),
            record_hash: r.record_hash.as_str(),
            invoked_at: &r.invoked_at,
            payload: &r.trace,
        }))
    }

    fn retention_len(&mut self) -> Result<u64, StoreError> {
        if !self.retention_table
            && !read::has_table(&self.tx, self.location, "trailseal_retention")?
        {
            return Ok(0);
        }
        self.count(
            "SELECT count(*) FROM trailseal_retention",
            "read retention log",
        )
    }

    fn push_receipt(&mut self, receipt: &str) -> Result<(), StoreError> {
        if !self.retention_table {
            self.ensure_meta()?;
            self.tx
                .execute_batch(RETENTION_DDL)
                .map_err(self.err("create retention table"))?;
            self.retention_table = true;
        }
        // The next index: the receipts are numbered from 0, in order.
        self.tx
            .prepare_cached(
                "INSERT INTO trailseal_retention (idx, receipt) VALUES ((SELECT count(*) FROM trailseal_retention), ?1)",
            )
            .and_then(|mut stmt| stmt.execute([receipt]))
            .map_err(self.err("add receipt"))?;
        Ok(())
    }

    fn delete_through(&mut self, last_seq: u64) -> Result<(), StoreError> {
        let last_seq = i64::try_from(last_seq).unwrap_or(i64::MAX);
        self.tx
            .execute("DELETE FROM traces WHERE seq <= ?1", [last_seq])
            .map_err(self.err("delete records"))?;
        Ok(())
    }

    fn set_start(&mut self, start: &ChainStart) -> Result<(), StoreError> {
        self.tx
            .execute_batch(META_DDL)
            .map_err(self.err("write checkpoint"))?;
        // weaver-kernel's own checkpoint, so weaver-kernel still verifies and appends.
        let written = if start.kind == StartKind::Genesis {
            self.tx.execute(
                "DELETE FROM meta WHERE key IN ('checkpoint_hash', 'checkpoint_next_seq')",
                [],
            )
        } else {
            self.tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('checkpoint_hash', ?1), ('checkpoint_next_seq', ?2)",
                params![
                    String::from_utf8_lossy(&start.prev_hash),
                    start.next_seq.to_string()
                ],
            )
        };
        written.map_err(self.err("write checkpoint"))?;
        Ok(())
    }

    fn key_id(&mut self) -> Result<StoredKeyId, StoreError> {
        // Read in the transaction every time (one primary-key lookup): another handle may
        // have rotated the store to another key since this one last wrote.
        read::stored_key_id(&self.tx, self.location)
    }

    fn record_key_id(&mut self, key_id: &KeyId) -> Result<(), StoreError> {
        self.ensure_meta()?;
        self.tx
            .execute(
                "INSERT OR REPLACE INTO trailseal_meta (key, value) VALUES ('key_id', ?1)",
                [key_id.as_str()],
            )
            .map_err(self.err("record key id"))?;
        Ok(())
    }

    fn set_archive_of(&mut self, receipt: &str) -> Result<(), StoreError> {
        self.ensure_meta()?;
        self.tx
            .execute(
                "INSERT OR REPLACE INTO trailseal_meta (key, value) VALUES ('archive_of', ?1)",
                [receipt],
            )
            .map_err(self.err("record the archive's receipt"))?;
        Ok(())
    }

    fn tree(&mut self) -> Result<Option<StoredTree>, StoreError> {
        tree::stored_tree(&self.tx, self.location)
    }

    fn read_tree_hashes(&mut self, first: u64, out: &mut [MerkleHash]) -> Result<(), StoreError> {
        tree::read_hashes(&self.tx, self.location, first, out)
    }

    fn append_tree(
        &mut self,
        base: u64,
        first: u64,
        hashes: &[MerkleHash],
    ) -> Result<(), StoreError> {
        self.ensure_meta()?;
        tree::append_hashes(&self.tx, self.location, base, first, hashes)
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        let Self {
            tx,
            path,
            file_id,
            location,
            recorded,
            pending,
            ..
        } = *self;
        // Checked again under the write lock, just before the commit: a file moved away
        // meanwhile would get the records where nobody looks (dropping `tx` rolls back).
        if super::file_id(path) != file_id {
            return Err(StoreError::Moved {
                location: location.to_owned(),
            });
        }
        // A COMMIT that fails is rolled back (when `tx` is dropped), and the handle keeps
        // what it knew before the transaction.
        tx.commit().map_err(sql_error(location, "commit"))?;
        *recorded = pending;
        Ok(())
    }
}

impl SqliteStore {
    /// After an append's commit: the rows `first ..= last` as stored (two indexed reads and a
    /// count of the range).
    pub(super) fn read_back_rows(&self, first: u64, last: u64) -> Result<ReadBack, StoreError> {
        let seq = |s: u64| i64::try_from(s).unwrap_or(i64::MAX);
        let row = |s: u64| -> rusqlite::Result<Option<(Vec<u8>, Vec<u8>)>> {
            self.conn
                .prepare_cached("SELECT record_hash, payload FROM traces WHERE seq = ?1")?
                .query_row([seq(s)], |r| {
                    let bytes = |i: usize| -> rusqlite::Result<Vec<u8>> {
                        Ok(column_bytes(r.get_ref(i)?)
                            .map(Cow::into_owned)
                            .unwrap_or_default())
                    };
                    Ok((bytes(0)?, bytes(1)?))
                })
                .optional()
        };
        let read = || -> rusqlite::Result<ReadBack> {
            let count: i64 = self
                .conn
                .prepare_cached("SELECT count(*) FROM traces WHERE seq >= ?1 AND seq <= ?2")?
                .query_row([seq(first), seq(last)], |r| r.get(0))?;
            Ok(ReadBack {
                count: u64::try_from(count).unwrap_or(0),
                first: row(first)?,
                last: row(last)?,
            })
        };
        read().map_err(self.sql_err("read back the appended records"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use trailseal_core::start::StoredKeyId;

    use super::SqliteStore;
    use crate::conformance::{records, test_key, traces};
    use crate::{OpenMode, Store, StoreError, StoreExt};

    fn fresh(dir: &tempfile::TempDir) -> SqliteStore {
        SqliteStore::open(&dir.path().join("s.db"), OpenMode::Write { create: true }).unwrap()
    }

    /// A handle whose file was renamed away, deleted, or replaced by another file refuses to
    /// write (its connection would write where nobody looks): nothing is acknowledged, and
    /// the file now at the path, or the moved one, is left as it was.
    #[test]
    fn a_store_file_moved_while_open_is_never_written() {
        for how in ["rename", "unlink", "replace"] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.db");
            let mut store = fresh(&dir);
            let key = test_key();
            store.append(&key, &traces(0, 2)).unwrap();
            let moved = dir.path().join("moved.db");
            match how {
                "rename" => std::fs::rename(&path, &moved).unwrap(),
                "unlink" => std::fs::remove_file(&path).unwrap(),
                _ => {
                    std::fs::rename(&path, &moved).unwrap();
                    std::fs::copy(&moved, &path).unwrap();
                }
            }
            let refused = store.append(&key, &traces(2, 1));
            assert!(
                matches!(refused, Err(StoreError::Moved { .. })),
                "{how}: {refused:?}"
            );
            assert!(
                refused
                    .unwrap_err()
                    .to_string()
                    .contains("moved, replaced or deleted"),
                "{how}"
            );
            if how == "unlink" {
                assert!(!path.exists(), "{how}: nothing recreated at the path");
            }
        }
    }

    /// A COMMIT that fails leaves the store as it was, and the handle does not take what the
    /// transaction wrote as written: its next append records the key id.
    #[test]
    fn a_failed_commit_is_not_taken_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = fresh(&dir);
        let key = test_key();
        // A commit hook that returns true turns the COMMIT into a rollback, and it fails.
        store.conn.commit_hook(Some(|| true)).unwrap();
        let failed = store.append(&key, &traces(0, 3));
        assert!(
            matches!(
                failed,
                Err(StoreError::Sqlite {
                    action: "commit",
                    ..
                })
            ),
            "{failed:?}"
        );
        store.conn.commit_hook(None::<fn() -> bool>).unwrap();
        let state = store.state().unwrap();
        assert_eq!((state.head, state.key_id), (None, StoredKeyId::Absent));
        store.append(&key, &traces(0, 3)).unwrap();
        assert_eq!(
            store.state().unwrap().key_id,
            StoredKeyId::Present(key.key_id())
        );
        assert_eq!(records(&mut store).len(), 3);
    }

    /// `seq` is a signed 64-bit INTEGER: an append that would move the head past `i64::MAX`
    /// is refused before anything is written, as is a checkpoint beyond it.
    #[test]
    fn seqs_beyond_i64_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = test_key();
        for (next_seq, fits) in [(i64::MAX as u64 - 2, 2), (i64::MAX as u64 + 5, 0)] {
            let mut store = fresh(&dir);
            store
                .conn
                .execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('checkpoint_hash', ?1), ('checkpoint_next_seq', ?2)",
                    [
                        trailseal_core::GENESIS_HASH.to_owned(),
                        next_seq.to_string(),
                    ],
                )
                .unwrap();
            let too_many = store.append(&key, &traces(0, fits + 1));
            assert!(
                matches!(too_many, Err(StoreError::SeqOverflow { .. })),
                "{next_seq}: {too_many:?}"
            );
            assert!(records(&mut store).is_empty());
            if fits > 0 {
                let done = store.append(&key, &traces(0, fits)).unwrap();
                assert_eq!(done.last().unwrap().seq, i64::MAX as u64 - 1);
                let one_more = store.append(&key, &traces(10, 1));
                assert!(
                    matches!(one_more, Err(StoreError::SeqOverflow { .. })),
                    "{one_more:?}"
                );
                assert_eq!(records(&mut store).len(), 2);
            }
            drop(store);
            std::fs::remove_file(dir.path().join("s.db")).unwrap();
            let _ = std::fs::remove_file(dir.path().join("s.db-wal"));
            let _ = std::fs::remove_file(dir.path().join("s.db-shm"));
        }
    }

    /// A copy that repeats an `action_id` is refused naming it, as an append is, and given up:
    /// the store stays empty.
    #[test]
    fn a_copy_that_repeats_an_action_id_names_it_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = fresh(&dir);
        let key = test_key();
        let mut head = trailseal_core::Head::GENESIS;
        let source = traces(0, 2);
        let copied: Vec<crate::ImportRecord> = trailseal_core::seal_batch(&key, &mut head, &source)
            .iter()
            .map(|r| crate::ImportRecord {
                seq: r.seq,
                prev_hash: r.prev_hash,
                record_hash: r.record_hash,
                trace: r.trace.canonical().to_owned(),
                action_id: "same".into(),
                invoked_at: r.trace.invoked_at().to_owned(),
            })
            .collect();
        let meta = crate::ImportMeta {
            start: trailseal_core::start::ChainStart::genesis(),
            retention: Vec::new(),
            key_id: StoredKeyId::Present(key.key_id()),
            archive_of: None,
        };
        let mut copy = store.import(&meta).unwrap();
        let e = copy.records(&copied).unwrap_err();
        assert!(
            matches!(&e, StoreError::DuplicateActionId { action_id, .. } if action_id == "same"),
            "{e:?}"
        );
        assert!(matches!(copy.finish(), Err(StoreError::CopyGivenUp { .. })));
        assert_eq!(store.state().unwrap().head, None);
        assert!(records(&mut store).is_empty());
    }
}
