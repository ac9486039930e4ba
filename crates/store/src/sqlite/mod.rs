//! SQLite: weaver-kernel 0.12.0's `SQLiteTraceStore` layout, byte for byte.
//!
//! ```sql
//! CREATE TABLE traces (seq INTEGER PRIMARY KEY, action_id TEXT UNIQUE NOT NULL,
//!   prev_hash TEXT NOT NULL, record_hash TEXT NOT NULL, invoked_at TEXT NOT NULL,
//!   payload TEXT NOT NULL)
//! CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)
//! ```
//!
//! trailseal writes `payload` in the canonical form (weaver-kernel writes `json.dumps`
//! output; both verify) and adds only its own `trailseal_meta` and `trailseal_retention`
//! tables. Every write is one transaction that takes SQLite's write lock first (`BEGIN
//! IMMEDIATE`, module `write`), so any number of processes appending to one file produce one
//! linear chain. Commits are durable (`synchronous = FULL`); stores trailseal creates use WAL,
//! checkpointed off the appending thread (module `checkpoint`). Any other schema object (a
//! trigger, a view, an altered column) makes the store refused (module `schema`); an append
//! reads back what it committed.
//!
//! The modules, by job: `access` (how connections are opened, read-only and `immutable=1`
//! readers), `open` (opening and creating a store), `read` (the chain's state as stored),
//! `scan` (streaming records, snapshot readers), `write` (the write transaction), `schema`
//! (the allow-list), `checkpoint` (the WAL checkpointer).

mod access;
mod checkpoint;
mod open;
mod read;
mod scan;
mod schema;
mod tree;
mod write;

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension};
use trailseal_core::verify::{Flow, ScanItem};

use crate::{
    ReadBack, SeqRange, Snapshot, SnapshotReader, Store, StoreError, StoreState, StoredRecord,
    WriteTx,
};
use access::Access;
use checkpoint::Checkpointer;

/// The version of trailseal's additions to the weaver-kernel layout that this code writes.
pub const SCHEMA_VERSION: u32 = 1;

const TRACES_DDL: &str = "CREATE TABLE IF NOT EXISTS traces (seq INTEGER PRIMARY KEY, action_id TEXT UNIQUE NOT NULL, prev_hash TEXT NOT NULL, record_hash TEXT NOT NULL, invoked_at TEXT NOT NULL, payload TEXT NOT NULL)";
const META_DDL: &str = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)";
const RETENTION_DDL: &str = "CREATE TABLE IF NOT EXISTS trailseal_retention (idx INTEGER PRIMARY KEY, receipt TEXT NOT NULL)";
const TRAILSEAL_META_DDL: &str =
    "CREATE TABLE IF NOT EXISTS trailseal_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)";

/// A chain in a SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    location: String,
    /// `traces.action_id` has a UNIQUE index (weaver-kernel's schema has one), so an insert
    /// refuses a repeated id; otherwise appends look each id up first.
    action_id_unique: bool,
    /// What this handle knows it has written to `trailseal_meta`, as of its last commit.
    recorded: Recorded,
    /// Copies the WAL into the database off the appending thread (WAL stores opened for
    /// writing).
    checkpointer: Option<Checkpointer>,
    /// How this handle's connections are opened.
    access: Access,
    /// The device and inode of the file opened: writes are refused once the path names
    /// another file or none (see [`StoreError::Moved`]).
    file_id: Option<(u64, u64)>,
    /// The tree's right edge after this handle's last append.
    frontier: crate::FrontierCache,
}

/// The device and inode of the file at `path`, if there is one.
pub(super) fn file_id(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::symlink_metadata(path)
            .ok()
            .map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        path.exists().then_some((0, 0))
    }
}

/// What a handle knows is committed in `trailseal_meta`, so that an append does not write it
/// again. Only a write transaction's successful `COMMIT` updates it (a transaction
/// rolled back, or a commit that failed, leaves it as it was).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Recorded {
    /// The table exists and holds the schema version. (The key id is not kept here: another
    /// handle may rotate the store to another key, so appends read it in their transaction.)
    schema_version: bool,
}

impl SqliteStore {
    fn sql_err(&self, action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        sql_error(&self.location, action)
    }

    /// Ends a transaction left open on the handle's connection, which only a rollback that
    /// failed when a write was dropped can leave: nothing of it was committed, and the handle
    /// must stay usable.
    fn end_stale_transaction(&self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl Store for SqliteStore {
    fn frontier_cache(&mut self) -> Option<&mut crate::FrontierCache> {
        Some(&mut self.frontier)
    }

    fn location(&self) -> &str {
        &self.location
    }

    fn state(&mut self) -> Result<StoreState, StoreError> {
        if self.access != Access::ReadWrite {
            // A handle that only reads reads the store as it is now (see `read_access`).
            return Ok(self.open_reader()?.1);
        }
        self.end_stale_transaction();
        // One read transaction, so that every value comes from one state of the store.
        self.conn
            .execute_batch("BEGIN")
            .map_err(self.sql_err("begin a read"))?;
        let state = schema::check(&self.conn, &self.location).and_then(|()| self.read_state());
        // A read transaction: ending it changes nothing.
        let _ = self.conn.execute_batch("ROLLBACK");
        let state = state?;
        self.check_unchanged()?;
        Ok(state)
    }

    fn write(&mut self) -> Result<Box<dyn WriteTx + '_>, StoreError> {
        Ok(Box::new(write::SqliteTx::begin(self)?))
    }

    fn read_back(&mut self, first: u64, last: u64) -> Result<Option<ReadBack>, StoreError> {
        self.read_back_rows(first, last).map(Some)
    }

    fn scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        // From seq 0, rows with a (tampered) negative seq are seen too.
        let range = SeqRange::from_seq(from_seq);
        if self.access != Access::ReadWrite {
            // A handle that only reads reads the store as it is now (see `read_access`).
            return self.open_reader()?.0.scan_range(range, visit);
        }
        self.end_stale_transaction();
        // One read transaction for the schema check and the scan, so the scan reads the
        // schema that was checked.
        self.conn
            .execute_batch("BEGIN")
            .map_err(self.sql_err("begin a read"))?;
        let scanned = schema::check(&self.conn, &self.location)
            .and_then(|()| scan::scan_range(&self.conn, &self.location, range, visit))
            .and_then(|()| self.check_unchanged());
        // Nothing was written: ending the read cannot lose anything.
        let _ = self.conn.execute_batch("ROLLBACK");
        scanned
    }

    fn snapshot(&mut self, readers: usize) -> Result<Snapshot<'_>, StoreError> {
        // Range scans are index lookups only when seq is the rowid (as weaver-kernel's schema
        // makes it); an altered schema is read by one reader, whole.
        if readers > 1 && self.seq_is_rowid()? {
            // Each reader is a connection inside a read transaction. They hold one snapshot
            // when they read the same state (head, start, retention log, key id): appends and
            // prunes change it. If writers keep changing the store, one reader reads it.
            for _ in 0..3 {
                let opened = (0..readers)
                    .map(|_| self.open_reader())
                    .collect::<Result<Vec<_>, _>>()?;
                let agreed = opened.windows(2).all(|w| match w {
                    [(_, a), (_, b)] => a == b,
                    _ => true,
                });
                if agreed && let Some((_, state)) = opened.first() {
                    let state = state.clone();
                    let readers = opened
                        .into_iter()
                        .map(|(reader, _)| Box::new(reader) as Box<dyn SnapshotReader>)
                        .collect();
                    return Ok(Snapshot { state, readers });
                }
            }
        }
        let (reader, state) = self.open_reader()?;
        Ok(Snapshot {
            state,
            readers: vec![Box::new(reader)],
        })
    }

    fn find(&mut self, action_id: &str) -> Result<Option<StoredRecord>, StoreError> {
        // A handle that only reads reads the store as it is now (see `read_access`).
        let reader = match self.access {
            Access::ReadWrite => None,
            Access::ReadOnly | Access::Immutable(_) => Some(self.open_reader()?.0),
        };
        let store = reader.as_ref().map_or(&*self, scan::SqliteReader::store);
        let found = store
            .conn
            .query_row(
                "SELECT seq, prev_hash, record_hash, payload FROM traces WHERE action_id = ?1",
                [action_id],
                |row| {
                    let text = |i: usize| -> rusqlite::Result<String> {
                        Ok(column_bytes(row.get_ref(i)?)
                            .map(|b| String::from_utf8_lossy(&b).into_owned())
                            .unwrap_or_default())
                    };
                    Ok(StoredRecord {
                        seq: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
                        prev_hash: text(1)?,
                        record_hash: text(2)?,
                        trace: text(3)?,
                    })
                },
            )
            .optional()
            .map_err(self.sql_err("find"))?;
        store.check_unchanged()?;
        Ok(found)
    }
}

/// The error for a failed SQLite call: where and what was being done.
fn sql_error(location: &str, action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    let location = location.to_owned();
    move |source| StoreError::Sqlite {
        location,
        action,
        source,
    }
}

/// A UNIQUE constraint failed (on `traces.action_id`: the seq is read under the write lock, so
/// it cannot collide).
fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

fn is_not_a_database(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase)
    )
}

/// A column's bytes, whatever type SQLite holds it as (a damaged row may hold anything).
fn column_bytes<'r>(value: ValueRef<'r>) -> Option<Cow<'r, [u8]>> {
    match value {
        ValueRef::Text(b) | ValueRef::Blob(b) => Some(Cow::Borrowed(b)),
        ValueRef::Integer(i) => Some(Cow::Owned(i.to_string().into_bytes())),
        ValueRef::Real(f) => Some(Cow::Owned(f.to_string().into_bytes())),
        ValueRef::Null => None,
    }
}
