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
//! output; both verify) and adds only its own `trailseal_meta` table. Appends take SQLite's
//! write lock first (`BEGIN IMMEDIATE`), read the head and insert inside that transaction, so
//! any number of processes appending to one file produce one linear chain. Commits are
//! durable (`synchronous = FULL`); stores trailseal creates use WAL. Any other schema object
//! (a trigger, a view, an altered column) makes the store refused (module `schema`); an append reads
//! back what it committed.

mod schema;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use trailseal_core::record::SealedRecord;
use trailseal_core::start::{ChainStart, StartKind, StoredKeyId};
use trailseal_core::verify::{Columns, Flow, MalformedRecord, RecordView, ScanItem, TraceEncoding};
use trailseal_core::{ChainKey, Hash32, Head, KeyId, PreparedTrace, seal_batch};

use crate::error::Shown;
use crate::{
    Appended, ImportMeta, ImportRecord, OpenMode, PrunePlan, SeqRange, Snapshot, SnapshotReader,
    Store, StoreError, StoreState, StoredRecord,
};

/// The version of trailseal's additions to the weaver-kernel layout that this code writes.
pub const SCHEMA_VERSION: u32 = 1;

const TRACES_DDL: &str = "CREATE TABLE IF NOT EXISTS traces (seq INTEGER PRIMARY KEY, action_id TEXT UNIQUE NOT NULL, prev_hash TEXT NOT NULL, record_hash TEXT NOT NULL, invoked_at TEXT NOT NULL, payload TEXT NOT NULL)";
const META_DDL: &str = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)";
const RETENTION_DDL: &str = "CREATE TABLE IF NOT EXISTS trailseal_retention (idx INTEGER PRIMARY KEY, receipt TEXT NOT NULL)";
const TRAILSEAL_META_DDL: &str =
    "CREATE TABLE IF NOT EXISTS trailseal_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)";
const TRACE_COLUMNS: [&str; 6] = [
    "seq",
    "action_id",
    "prev_hash",
    "record_hash",
    "invoked_at",
    "payload",
];

/// A chain in a SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    location: String,
    /// `traces.action_id` has a UNIQUE index (weaver-kernel's schema has one), so an insert
    /// refuses a repeated id; otherwise appends look each id up first.
    action_id_unique: bool,
    /// This handle has written `trailseal_meta`'s schema version and key id.
    meta_recorded: bool,
    /// Copies the WAL into the database off the appending thread (WAL stores opened for
    /// writing).
    checkpointer: Option<Checkpointer>,
    /// A copy into the store is in progress: its transaction is open on `conn`.
    importing: bool,
    /// How this handle's connections are opened.
    access: Access,
}

/// How a store's connections are opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Read-write (a store opened for writing).
    ReadWrite,
    /// Read-only, with SQLite's locks (a store opened for reading): nothing is written, and a
    /// WAL store needs only read access to its `-wal` and `-shm` files when they exist.
    ReadOnly,
    /// Read-only without locks (`immutable=1`): for a WAL store whose `-shm` file neither
    /// exists nor can be created (a directory the user cannot write). SQLite then reads the
    /// database file alone, which is safe while nobody writes; every reader checks, after
    /// reading, that the file is unchanged and no `-wal` file appeared, or the read fails.
    Immutable(Fingerprint),
}

/// What shows that a database file did not change: its identity, length and modification
/// time, and whether a `-wal` file exists beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
    wal: bool,
}

impl Fingerprint {
    fn of(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        Ok(Self {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            wal: Path::new(&wal).exists(),
        })
    }
}

/// `path` as an SQLite URI (`file:…`), with `query` appended.
fn uri(path: &Path, query: &str) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::from("file:");
    for b in path.as_os_str().as_bytes() {
        match b {
            b'?' | b'#' | b'%' => out.push_str(&format!("%{b:02X}")),
            _ => out.push(char::from(*b)),
        }
    }
    // Non-ASCII bytes were pushed as Latin-1 characters above; encode them instead.
    let out: String = out
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                format!("%{:02X}", u32::from(c))
            }
        })
        .collect();
    format!("{out}?{query}")
}

/// Opens a connection to read `path` as `access` says.
fn open_connection(path: &Path, access: Access) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_NO_MUTEX;
    match access {
        // As the store itself: never through a symbolic link.
        Access::ReadWrite => Connection::open_with_flags(
            path,
            flags | OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NOFOLLOW,
        ),
        Access::ReadOnly => {
            Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_READ_ONLY)
        }
        Access::Immutable(_) => Connection::open_with_flags(
            uri(path, "immutable=1"),
            flags | OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
        ),
    }
}

/// How a store opened for reading is read: nothing is ever written, so that a user who may
/// only read the store can verify it and verifying changes nothing.
///
/// - A rollback-journal store (as weaver-kernel writes it): read-only, with SQLite's locks on
///   the database file.
/// - A WAL store with a `-wal` file (a writer has it open, or died with it): read-only, with
///   SQLite's locks through the `-shm` file, which it needs only to read when it cannot write
///   it (SQLite ≥ 3.22).
/// - A WAL store without a `-wal` file (closed cleanly): `immutable=1`, so that nothing is
///   created beside it (SQLite would otherwise create `-wal` and `-shm` files, which a
///   read-only connection can neither write into nor remove, and which an auditor cannot
///   create in a directory it may not write). Every read then checks that the file did not
///   change and no `-wal` file appeared meanwhile ([`StoreError::ChangedWhileRead`]
///   otherwise, and the read is made again, then with locks).
fn read_access(path: &Path) -> Access {
    let wal_mode = std::fs::File::open(path)
        .and_then(|mut f| {
            use std::io::Read;
            let mut header = [0u8; 20];
            f.read_exact(&mut header).map(|()| header)
        })
        // Bytes 18 and 19 of the database header: the file format versions, 2 for WAL.
        .is_ok_and(|h| h.get(18..20) == Some(&[2, 2][..]));
    match Fingerprint::of(path) {
        Ok(print) if wal_mode && !print.wal => Access::Immutable(print),
        _ => Access::ReadOnly,
    }
}

/// A connection to read `path` (see [`read_access`]), and how it was opened. A store that
/// needs recovery (a hot journal left by a crashed writer), which a read-only connection
/// cannot do, is opened read-write when the user may write it, as any SQLite reader with write
/// access would recover it.
fn open_for_reading(path: &Path) -> rusqlite::Result<(Connection, Access)> {
    let access = read_access(path);
    let conn = open_connection(path, access)?;
    let probe = conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()));
    let Err(e) = probe else {
        return Ok((conn, access));
    };
    let extended = match &e {
        rusqlite::Error::SqliteFailure(f, _) => f.extended_code,
        _ => 0,
    };
    match extended {
        rusqlite::ffi::SQLITE_READONLY_ROLLBACK | rusqlite::ffi::SQLITE_READONLY_RECOVERY => {
            drop(conn);
            open_connection(path, Access::ReadWrite).map(|c| (c, Access::ReadWrite))
        }
        // Not a database, and other problems, are reported when the schema is read.
        _ => Ok((conn, access)),
    }
}

/// Frames in the WAL after which a commit asks the [`Checkpointer`] to run (SQLite's own
/// automatic checkpoint runs at 1,000, inside the commit).
const CHECKPOINT_FRAMES: i32 = 1000;
/// Frames in the WAL after which the committing thread checkpoints itself. Under a steady
/// stream of commits a background checkpoint never catches up with the newest frames, and
/// SQLite only starts the WAL over once every frame is copied: this checkpoint copies the few
/// the background ones left, so the WAL is reused from its start and stays small.
const CHECKPOINT_FRAMES_INLINE: i32 = 4 * CHECKPOINT_FRAMES;

#[derive(Debug, Default)]
struct CheckpointSignal {
    /// (a checkpoint is wanted, the store is closing)
    state: std::sync::Mutex<(bool, bool)>,
    wake: std::sync::Condvar,
}

impl CheckpointSignal {
    fn lock(&self) -> std::sync::MutexGuard<'_, (bool, bool)> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn request(&self) {
        self.lock().0 = true;
        self.wake.notify_one();
    }
}

/// A thread with its own connection that runs passive WAL checkpoints when commits ask for
/// them, so that appends do not pay for copying the WAL into the database. A passive
/// checkpoint never blocks writers or readers, and a checkpoint changes no content: a crash
/// at any point leaves the database as durable as SQLite's automatic checkpoint would.
#[derive(Debug)]
struct Checkpointer {
    signal: std::sync::Arc<CheckpointSignal>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread and hands `conn`'s WAL hook to it. `None` if the connection cannot
    /// be set up (SQLite's automatic checkpoint then stays in place).
    fn start(conn: &mut Connection, path: &Path) -> Option<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let worker = Connection::open_with_flags(path, flags).ok()?;
        worker.busy_timeout(Duration::from_secs(5)).ok()?;
        let signal = std::sync::Arc::new(CheckpointSignal::default());
        let hook_signal = std::sync::Arc::clone(&signal);
        // Replaces SQLite's automatic checkpoint, which is itself a WAL hook.
        let mut next_request = CHECKPOINT_FRAMES;
        conn.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, frames: i32| {
            if frames < next_request - CHECKPOINT_FRAMES {
                // The WAL started over.
                next_request = CHECKPOINT_FRAMES;
            }
            if frames >= CHECKPOINT_FRAMES_INLINE {
                // Best effort: a busy checkpoint is retried at the next commit.
                let _ = wal.checkpoint();
            } else if frames >= next_request {
                next_request = frames + CHECKPOINT_FRAMES;
                hook_signal.request();
            }
            Ok(())
        }))
        .ok()?;
        let thread_signal = std::sync::Arc::clone(&signal);
        let thread = std::thread::Builder::new()
            .name("trailseal-checkpoint".into())
            .spawn(move || {
                loop {
                    let closing = {
                        let mut state = thread_signal.lock();
                        while !state.0 && !state.1 {
                            state = thread_signal
                                .wake
                                .wait(state)
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                        }
                        state.0 = false;
                        state.1
                    };
                    if closing {
                        return;
                    }
                    // Busy or failed checkpoints are retried when the next commit asks.
                    let _ = worker.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            });
        let Ok(thread) = thread else {
            // Give the hook back to SQLite's automatic checkpoint (which is that hook).
            let _ = conn.pragma_update(None, "wal_autocheckpoint", 1000);
            return None;
        };
        Some(Self {
            signal,
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.signal.lock().1 = true;
        self.signal.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Batches of at least this many traces are sealed on a second thread while being inserted.
const PIPELINE_FROM: usize = 256;
/// Traces per sealed chunk handed from the sealing thread to the inserting one.
const PIPELINE_CHUNK: usize = 64;

impl SqliteStore {
    /// Opens the store at `path`. [`OpenMode::Read`] opens read-only and requires an existing
    /// store; [`OpenMode::Write`] creates the file and schema when `create` is set.
    pub fn open(path: &Path, mode: OpenMode) -> Result<Self, StoreError> {
        let location = path.display().to_string();
        let exists = path.exists();
        if !exists && !matches!(mode, OpenMode::Write { create: true }) {
            return Err(StoreError::NotFound { location });
        }
        // Readers open read-only, so that verification writes nothing and works for a user
        // who may only read the store (see `open_for_reading`).
        let opened = match mode {
            OpenMode::Read => open_for_reading(path),
            // Never written through a symbolic link (one planted at the path would have the
            // chain written into its target).
            OpenMode::Write { .. } => Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_NOFOLLOW,
            )
            .map(|c| (c, Access::ReadWrite)),
        };
        let (conn, access) = match opened {
            Ok(opened) => opened,
            Err(source) => {
                return Err(StoreError::Sqlite {
                    location,
                    action: "open",
                    source,
                });
            }
        };
        // A new store holds traces: private (its journal and WAL files take its mode).
        #[cfg(unix)]
        if !exists {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
                .and_then(|f| {
                    f.set_permissions(std::fs::Permissions::from_mode(crate::atomic::PRIVATE))
                })
                .map_err(StoreError::io(&location, "set the mode of the new store"))?;
        }
        let mut store = Self {
            conn,
            path: path.to_path_buf(),
            location,
            action_id_unique: false,
            meta_recorded: false,
            checkpointer: None,
            importing: false,
            access,
        };
        store
            .conn
            .busy_timeout(Duration::from_secs(60))
            .map_err(store.sql_err("set busy timeout"))?;
        store.check_schema(mode)?;
        schema::check(&store.conn, &store.location)?;
        store.action_id_unique = store.action_id_is_unique()?;
        if matches!(mode, OpenMode::Write { .. }) {
            store
                .conn
                .pragma_update(None, "synchronous", "FULL")
                .map_err(store.sql_err("set synchronous"))?;
            let wal: String = store
                .conn
                .pragma_query_value(None, "journal_mode", |row| row.get(0))
                .map_err(store.sql_err("read journal mode"))?;
            if wal.eq_ignore_ascii_case("wal") {
                store.checkpointer = Checkpointer::start(&mut store.conn, path);
            }
        }
        Ok(store)
    }

    /// The body of `import_start`, inside the transaction it began.
    fn import_start_in_transaction(&mut self, meta: &ImportMeta) -> Result<(), StoreError> {
        let tx = &self.conn;
        schema::check(tx, &self.location)?;
        tx.execute_batch(&format!("{TRAILSEAL_META_DDL}; {RETENTION_DDL};"))
            .map_err(self.sql_err("create tables"))?;
        let (records, first, last): (i64, Option<i64>, Option<i64>) = tx
            .query_row("SELECT count(*), min(seq), max(seq) FROM traces", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(self.sql_err("count"))?;
        let receipts: i64 = tx
            .query_row("SELECT count(*) FROM trailseal_retention", [], |r| r.get(0))
            .map_err(self.sql_err("count"))?;
        if records > 0 || receipts > 0 {
            let seq = |s: Option<i64>| s.and_then(|s| u64::try_from(s).ok());
            return Err(crate::not_empty(
                &self.location,
                crate::Holdings {
                    records: u64::try_from(records).ok(),
                    first_seq: seq(first),
                    last_seq: seq(last),
                    receipts: u64::try_from(receipts).ok(),
                    bytes: None,
                },
            ));
        }
        if meta.start.kind != trailseal_core::start::StartKind::Genesis {
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('checkpoint_hash', ?1), ('checkpoint_next_seq', ?2)",
                params![String::from_utf8_lossy(&meta.start.prev_hash), meta.start.next_seq.to_string()],
            )
            .map_err(self.sql_err("write checkpoint"))?;
        }
        for (i, receipt) in meta.retention.iter().enumerate() {
            tx.execute(
                "INSERT INTO trailseal_retention (idx, receipt) VALUES (?1, ?2)",
                params![i as i64, receipt],
            )
            .map_err(self.sql_err("copy receipt"))?;
        }
        tx.execute(
            "INSERT OR IGNORE INTO trailseal_meta (key, value) VALUES ('schema_version', ?1)",
            [SCHEMA_VERSION.to_string()],
        )
        .map_err(self.sql_err("write schema version"))?;
        if let StoredKeyId::Present(id) = meta.key_id {
            tx.execute(
                "INSERT OR REPLACE INTO trailseal_meta (key, value) VALUES ('key_id', ?1)",
                [id.as_str()],
            )
            .map_err(self.sql_err("write key id"))?;
        }
        Ok(())
    }

    /// Inserts imported records, inside the transaction `import_start` began.
    fn insert_imported(&mut self, records: &[ImportRecord]) -> Result<(), StoreError> {
        let mut insert = self
            .conn
            .prepare_cached(
                "INSERT INTO traces (seq, action_id, prev_hash, record_hash, invoked_at, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(self.sql_err("insert"))?;
        for r in records {
            let seq = i64::try_from(r.seq).map_err(|_| StoreError::SeqOverflow {
                location: self.location.clone(),
            })?;
            insert
                .execute(params![
                    seq,
                    r.action_id,
                    r.prev_hash.as_str(),
                    r.record_hash.as_str(),
                    r.invoked_at,
                    r.trace
                ])
                .map_err(self.sql_err("insert"))?;
        }
        Ok(())
    }

    fn sql_err(&self, action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        sql_error(&self.location, action)
    }

    fn unknown(&self, reason: impl Into<String>) -> StoreError {
        StoreError::UnknownStore {
            location: self.location.clone(),
            reason: reason.into(),
        }
    }

    fn tables(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = match self
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        {
            Ok(stmt) => stmt,
            Err(e) if is_not_a_database(&e) => {
                return Err(self.unknown("the file is not a SQLite database"));
            }
            Err(e) => return Err((self.sql_err("read schema"))(e)),
        };
        let names = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>());
        match names {
            Ok(names) => Ok(names),
            Err(e) if is_not_a_database(&e) => {
                Err(self.unknown("the file is not a SQLite database"))
            }
            Err(e) => Err((self.sql_err("read schema"))(e)),
        }
    }

    fn check_schema(&self, mode: OpenMode) -> Result<(), StoreError> {
        let tables = self.tables()?;
        let has = |t: &str| tables.iter().any(|n| n == t);
        if !has("traces") {
            // Something else named `traces` (a view, a virtual table's stand-in) stands in for
            // the chain: that is damage, not an unknown file.
            let stands_in = self
                .conn
                .query_row(
                    "SELECT 1 FROM sqlite_master WHERE name = 'traces'",
                    [],
                    |_| Ok(()),
                )
                .optional()
                .map_err(self.sql_err("read schema"))?
                .is_some();
            if stands_in {
                schema::check(&self.conn, &self.location)?;
            }
            if !matches!(mode, OpenMode::Write { create: true }) {
                return Err(self.unknown("it has no traces table"));
            }
            if !tables.is_empty() {
                return Err(self.unknown(format!(
                    "it has other tables ({}) but no traces table; refusing to add a chain to it",
                    tables.join(", ")
                )));
            }
            // Several processes may create the store at once. Switching to WAL needs the
            // database to itself and SQLite does not wait for that, so retry; the tables are
            // then created under the write lock, each only if still missing.
            let mut attempts = 0;
            loop {
                match self.conn.pragma_update(None, "journal_mode", "WAL") {
                    Ok(()) => break,
                    Err(e)
                        if attempts < 1000
                            && matches!(
                                e.sqlite_error_code(),
                                Some(
                                    rusqlite::ErrorCode::DatabaseBusy
                                        | rusqlite::ErrorCode::DatabaseLocked
                                )
                            ) =>
                    {
                        attempts += 1;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => return Err((self.sql_err("enable WAL"))(e)),
                }
            }
            self.conn
                .execute_batch(&format!(
                    "BEGIN IMMEDIATE; {TRACES_DDL}; {META_DDL}; {TRAILSEAL_META_DDL}; \
                     INSERT OR IGNORE INTO trailseal_meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}'); COMMIT;"
                ))
                .map_err(self.sql_err("create schema"))?;
            return Ok(());
        }
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM pragma_table_info('traces')")
            .map_err(self.sql_err("read schema"))?;
        let columns: Vec<String> = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect())
            .map_err(self.sql_err("read schema"))?;
        for needed in TRACE_COLUMNS {
            if !columns.iter().any(|c| c == needed) {
                return Err(self.unknown(format!("its traces table has no {needed} column")));
            }
        }
        if has("trailseal_meta")
            && let Some(version) = self.trailseal_meta("schema_version")?
            && version.parse::<u32>().map_or(true, |v| v > SCHEMA_VERSION)
        {
            return Err(StoreError::NewerVersion {
                location: self.location.clone(),
                found: version,
                supported: SCHEMA_VERSION.to_string(),
            });
        }
        Ok(())
    }

    /// After an append's commit: the rows it wrote, as stored (two indexed reads and a count
    /// of the range).
    fn read_back_rows(&self, appended: &[Appended]) -> Result<crate::ReadBack, StoreError> {
        let err = self.sql_err("read back the appended records");
        let (Some(first), Some(last)) = (appended.first(), appended.last()) else {
            return Ok(crate::ReadBack::default());
        };
        let seq = |s: u64| i64::try_from(s).unwrap_or(i64::MAX);
        let row = |s: u64| -> rusqlite::Result<Option<(Vec<u8>, Vec<u8>)>> {
            self.conn
                .query_row(
                    "SELECT record_hash, payload FROM traces WHERE seq = ?1",
                    [seq(s)],
                    |r| {
                        let bytes = |i: usize| -> rusqlite::Result<Vec<u8>> {
                            Ok(column_bytes(r.get_ref(i)?)
                                .map(Cow::into_owned)
                                .unwrap_or_default())
                        };
                        Ok((bytes(0)?, bytes(1)?))
                    },
                )
                .optional()
        };
        let read = || -> rusqlite::Result<crate::ReadBack> {
            let count: i64 = self.conn.query_row(
                "SELECT count(*) FROM traces WHERE seq >= ?1 AND seq <= ?2",
                [seq(first.seq), seq(last.seq)],
                |r| r.get(0),
            )?;
            Ok(crate::ReadBack {
                count: u64::try_from(count).unwrap_or(0),
                first: row(first.seq)?,
                last: row(last.seq)?,
            })
        };
        read().map_err(err)
    }

    /// Whether a UNIQUE index covers exactly `traces.action_id`.
    fn action_id_is_unique(&self) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM pragma_index_list('traces') AS l \
                 WHERE l.\"unique\" = 1 AND l.partial = 0 \
                   AND (SELECT count(*) FROM pragma_index_info(l.name)) = 1 \
                   AND (SELECT name FROM pragma_index_info(l.name)) = 'action_id'",
                [],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(self.sql_err("read schema"))
    }

    /// Whether `traces.seq` is the table's rowid (`seq INTEGER PRIMARY KEY` in a rowid table).
    fn seq_is_rowid(&self) -> Result<bool, StoreError> {
        let err = self.sql_err("read schema");
        let found = self
            .conn
            .query_row(
                "SELECT (SELECT upper(type) = 'INTEGER' AND pk = 1 FROM pragma_table_info('traces') WHERE name = 'seq'), \
                        (SELECT count(*) FROM pragma_table_info('traces') WHERE pk > 0), \
                        (SELECT upper(sql) LIKE '%WITHOUT%ROWID%' FROM sqlite_master WHERE type = 'table' AND name = 'traces')",
                [],
                |row| {
                    Ok((
                        row.get::<_, Option<bool>>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, Option<bool>>(2)?,
                    ))
                },
            )
            .map_err(err)?;
        Ok(matches!(found, (Some(true), 1, Some(false))))
    }

    fn has_table(&self, name: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(self.sql_err("read schema"))
    }

    fn retention_log(&self) -> Result<Vec<String>, StoreError> {
        if !self.has_table("trailseal_retention")? {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare("SELECT receipt FROM trailseal_retention ORDER BY idx")
            .map_err(self.sql_err("read retention log"))?;
        let rows = stmt
            .query_map([], |row| {
                Ok(column_bytes(row.get_ref(0)?).map(|b| String::from_utf8_lossy(&b).into_owned()))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(self.sql_err("read retention log"))?;
        Ok(rows.into_iter().map(Option::unwrap_or_default).collect())
    }

    fn trailseal_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        if !self.has_table("trailseal_meta")? {
            return Ok(None);
        }
        self.conn
            .query_row(
                "SELECT value FROM trailseal_meta WHERE key = ?1",
                [key],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.sql_err("read trailseal_meta"))
    }

    /// A value of weaver-kernel's `meta` table as its `_get_meta` reads it: `None` without a
    /// row; a row's value as text, or why it is not text (weaver-kernel then reads `str(value)`:
    /// `None` for NULL, a `b'…'` repr for a BLOB, and fails on text that is not UTF-8).
    fn weaver_meta(
        conn: &Connection,
        key: &str,
    ) -> rusqlite::Result<Option<Result<String, &'static str>>> {
        let has_meta = conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                [],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !has_meta {
            return Ok(None);
        }
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
            Ok(match row.get_ref(0)? {
                ValueRef::Text(b) => std::str::from_utf8(b)
                    .map(str::to_owned)
                    .map_err(|_| "is not UTF-8 text"),
                ValueRef::Null => {
                    Err("is NULL, not a hash (weaver-kernel reads it as the text `None`)")
                }
                ValueRef::Blob(_) => Err(
                    "is stored as a BLOB, not text (weaver-kernel reads it as a different text)",
                ),
                ValueRef::Integer(i) => Ok(i.to_string()),
                ValueRef::Real(_) => Err("is stored as a REAL, not text"),
            })
        })
        .optional()
    }

    /// The start of the chain: genesis, or weaver-kernel's unauthenticated checkpoint.
    fn chain_start(conn: &Connection, location: &str) -> Result<ChainStart, StoreError> {
        let sql_err = sql_error(location, "read checkpoint");
        let hash = match Self::weaver_meta(conn, "checkpoint_hash") {
            Ok(None) => return Ok(ChainStart::genesis()),
            Ok(Some(hash)) => hash,
            Err(e) => return Err(sql_err(e)),
        };
        let next_seq = match Self::weaver_meta(conn, "checkpoint_next_seq") {
            Ok(next) => next.and_then(Result::ok).and_then(|s| s.parse().ok()),
            Err(e) => return Err(sql_error(location, "read checkpoint")(e)),
        };
        let next_seq = match next_seq {
            Some(seq) => seq,
            // weaver-kernel does not read checkpoint_next_seq when verifying; start at the
            // first record as it does.
            None => conn
                .query_row("SELECT min(seq) FROM traces", [], |row| {
                    row.get::<_, Option<i64>>(0)
                })
                .map_err(sql_error(location, "read checkpoint"))?
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(0),
        };
        let hash = hash.map_err(|problem| StoreError::BadMeta {
            location: location.to_owned(),
            seq: next_seq,
            key: "checkpoint_hash",
            problem: problem.to_owned(),
        })?;
        Ok(ChainStart {
            next_seq,
            prev_hash: hash.into_bytes(),
            kind: StartKind::UnauthenticatedCheckpoint,
        })
    }

    fn head(conn: &Connection, location: &str) -> Result<Head, StoreError> {
        let sql_err = |source| StoreError::Sqlite {
            location: location.to_owned(),
            action: "read head",
            source,
        };
        let last = conn
            .query_row(
                "SELECT seq, record_hash FROM traces ORDER BY seq DESC LIMIT 1",
                [],
                |row| {
                    // Text only: weaver-kernel reads a BLOB as its `b'…'` repr.
                    let hash = match row.get_ref(1)? {
                        ValueRef::Text(b) => Some(b.to_vec()),
                        _ => None,
                    };
                    Ok((row.get::<_, i64>(0)?, hash))
                },
            )
            .optional()
            .map_err(sql_err)?;
        match last {
            Some((seq, hash)) => {
                let bad = |problem: &str| StoreError::BadHead {
                    location: location.to_owned(),
                    seq: u64::try_from(seq).unwrap_or(0),
                    problem: problem.to_owned(),
                };
                let seq = u64::try_from(seq).map_err(|_| bad("its seq is negative"))?;
                let prev_hash = hash.as_deref().and_then(Hash32::parse).ok_or_else(|| {
                    bad("its record_hash is not 64 lowercase hex characters stored as text")
                })?;
                let next_seq = seq.checked_add(1).ok_or_else(|| bad("seq overflow"))?;
                Ok(Head {
                    next_seq,
                    prev_hash,
                })
            }
            None => {
                let start = Self::chain_start(conn, location)?;
                let prev_hash =
                    Hash32::parse(&start.prev_hash).ok_or_else(|| StoreError::BadHead {
                        location: location.to_owned(),
                        seq: start.next_seq,
                        problem: "the checkpoint hash is not 64 lowercase hex characters".into(),
                    })?;
                Ok(Head {
                    next_seq: start.next_seq,
                    prev_hash,
                })
            }
        }
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

/// One reader of a [`Snapshot`]: a connection inside a read transaction.
struct SqliteReader(SqliteStore);

impl SnapshotReader for SqliteReader {
    fn scan_range(
        &mut self,
        range: SeqRange,
        visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        scan_range(&self.0.conn, &self.0.location, range, visit)?;
        self.0.check_unchanged()
    }
}

/// Streams the rows in `range` in seq order.
fn scan_range(
    conn: &Connection,
    location: &str,
    range: SeqRange,
    visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
) -> Result<(), StoreError> {
    const COLS: &str =
        "SELECT seq, prev_hash, record_hash, payload, action_id, invoked_at FROM traces";
    let sql_err = |source| StoreError::Sqlite {
        location: location.to_owned(),
        action: "scan",
        source,
    };
    let bound = |seq: u64| i64::try_from(seq).unwrap_or(i64::MAX);
    // Ranges with an upper bound are only read when seq is the rowid (see `snapshot`), so
    // never NULL.
    let (sql, params): (&str, Vec<i64>) = match (range.from, range.until) {
        (None, None) => (" ORDER BY seq", vec![]),
        (None, Some(u)) => (" WHERE seq < ?1 ORDER BY seq", vec![bound(u)]),
        (Some(f), None) => (" WHERE seq >= ?1 ORDER BY seq", vec![bound(f)]),
        (Some(f), Some(u)) => (
            " WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
            vec![bound(f), bound(u)],
        ),
    };
    let mut stmt = conn
        .prepare_cached(&format!("{COLS}{sql}"))
        .map_err(sql_err)?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params))
        .map_err(sql_err)?;
    while let Some(row) = rows.next().map_err(sql_err)? {
        let raw_seq = row.get_ref(0).map_err(sql_err)?.as_i64().unwrap_or(-1);
        let get = |i: usize| row.get_ref(i).ok().and_then(column_bytes);
        let fields = [get(1), get(2), get(3), get(4), get(5)];
        let names = [
            "prev_hash",
            "record_hash",
            "payload",
            "action_id",
            "invoked_at",
        ];
        let null = fields
            .iter()
            .zip(names)
            .find(|(f, _)| f.is_none())
            .map(|(_, n)| format!("{n} is NULL"));
        // weaver-kernel reads a BLOB as different text than its bytes (`str(b'…')`), or not at
        // all: a record holding one is not read as if it were text.
        let blob = (1..=names.len())
            .zip(names)
            .find(|(i, _)| matches!(row.get_ref(*i), Ok(ValueRef::Blob(_))))
            .map(|(_, n)| format!("{n} is stored as a BLOB, not text"));
        let problem = null.or(blob);
        let flow = match (u64::try_from(raw_seq), problem, &fields) {
            (
                Ok(seq),
                None,
                [
                    Some(prev),
                    Some(rec),
                    Some(payload),
                    Some(action_id),
                    Some(invoked_at),
                ],
            ) => visit(&ScanItem::Record(RecordView {
                seq,
                prev_hash: prev,
                record_hash: rec,
                trace: payload,
                encoding: TraceEncoding::Stored,
                columns: Some(Columns {
                    action_id,
                    invoked_at,
                }),
            })),
            (Err(_), _, _) => visit(&ScanItem::Malformed(MalformedRecord {
                seq: None,
                location: format!("row with seq {raw_seq}"),
                problem: "seq is negative".into(),
                torn: false,
            })),
            (Ok(seq), problem, _) => visit(&ScanItem::Malformed(MalformedRecord {
                seq: Some(seq),
                location: format!("row {seq}"),
                problem: problem.unwrap_or_else(|| "a column is unreadable".to_owned()),
                torn: false,
            })),
        };
        if flow == Flow::Stop {
            break;
        }
    }
    Ok(())
}

impl Store for SqliteStore {
    fn write(&mut self) -> Result<Box<dyn crate::WriteTx + '_>, StoreError> {
        Err(StoreError::Io {
            location: self.location().to_owned(),
            action: "begin a write",
            source: std::io::Error::other("not yet converted to the one write path"),
        })
    }

    fn location(&self) -> &str {
        &self.location
    }

    fn state(&mut self) -> Result<StoreState, StoreError> {
        if self.access != Access::ReadWrite {
            // A handle that only reads reads the store as it is now (see `read_access`).
            return Ok(self.open_reader()?.1);
        }
        // One read transaction, so that every value comes from one state of the store (inside
        // a copy's transaction, that one).
        if !self.conn.is_autocommit() {
            return self.read_state();
        }
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
    fn scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        // From seq 0, rows with a (tampered) negative seq are seen too.
        let range = SeqRange {
            from: (from_seq > 0).then_some(from_seq),
            until: None,
        };
        if self.access != Access::ReadWrite {
            // A handle that only reads reads the store as it is now (see `read_access`).
            return self.open_reader()?.0.scan_range(range, visit);
        }
        // One read transaction for the schema check and the scan, so the scan reads the
        // schema that was checked.
        let own = self.conn.is_autocommit();
        if own {
            self.conn
                .execute_batch("BEGIN")
                .map_err(self.sql_err("begin a read"))?;
        }
        let scanned = schema::check(&self.conn, &self.location)
            .and_then(|()| scan_range(&self.conn, &self.location, range, visit))
            .and_then(|()| self.check_unchanged());
        if own {
            // Nothing was written: ending the read cannot lose anything.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
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
        let store = reader.as_ref().map_or(&*self, |r| &r.0);
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

impl SqliteStore {
    /// The state, read by the statements of the transaction open on the connection.
    fn read_state(&self) -> Result<StoreState, StoreError> {
        let start = Self::chain_start(&self.conn, &self.location)?;
        let key_id = match self.trailseal_meta("key_id")? {
            Some(id) => match KeyId::parse(id.as_bytes()) {
                Some(id) => StoredKeyId::Present(id),
                None => {
                    return Err(self.unknown(format!(
                        "trailseal_meta.key_id {} is not a key id",
                        Shown(id.as_bytes())
                    )));
                }
            },
            None => StoredKeyId::Absent,
        };
        let (head, span) = self
            .conn
            .query_row(
                "SELECT (SELECT max(seq) FROM traces), (SELECT min(seq) FROM traces)",
                [],
                |row| Ok((row.get::<_, Option<i64>>(0)?, row.get::<_, Option<i64>>(1)?)),
            )
            .map_err(self.sql_err("read head"))?;
        let head = match head {
            Some(seq) => {
                let hash: Option<Vec<u8>> = self
                    .conn
                    .query_row(
                        "SELECT record_hash FROM traces WHERE seq = ?1",
                        [seq],
                        |row| Ok(column_bytes(row.get_ref(0)?).map(Cow::into_owned)),
                    )
                    .map_err(self.sql_err("read head"))?;
                u64::try_from(seq)
                    .ok()
                    .map(|s| (s, hash.unwrap_or_default()))
            }
            None => None,
        };
        let record_count_hint = match (head.as_ref(), span) {
            (Some((last, _)), Some(first)) => u64::try_from(first)
                .ok()
                .map(|f| last.saturating_sub(f) + 1),
            _ => Some(0),
        };
        let retention = self.retention_log()?;
        Ok(StoreState {
            start,
            retention,
            archive_of: None,
            key_id,
            head,
            record_count_hint,
        })
    }

    /// Opens a reader: a connection of its own inside a read transaction, and the state it
    /// sees.
    fn open_reader(&self) -> Result<(SqliteReader, StoreState), StoreError> {
        // A store opened for reading is read as it is now (a writer may have come or gone).
        let access = match self.access {
            Access::ReadWrite => Access::ReadWrite,
            Access::ReadOnly | Access::Immutable(_) => read_access(&self.path),
        };
        let conn = open_connection(&self.path, access).map_err(self.sql_err("open a reader"))?;
        conn.busy_timeout(Duration::from_secs(60))
            .map_err(self.sql_err("set busy timeout"))?;
        conn.execute_batch("BEGIN")
            .map_err(self.sql_err("begin a read"))?;
        // The first read of the transaction: the snapshot the reader then reads.
        schema::check(&conn, &self.location)?;
        let reader = SqliteStore {
            conn,
            path: self.path.clone(),
            location: self.location.clone(),
            action_id_unique: self.action_id_unique,
            meta_recorded: true,
            checkpointer: None,
            importing: false,
            access,
        };
        let state = reader.read_state()?;
        reader.check_unchanged()?;
        Ok((SqliteReader(reader), state))
    }

    /// For a store read without SQLite's locks ([`Access::Immutable`]): fails unless the
    /// database file is as it was when the store was opened, with no `-wal` file beside it,
    /// so that nothing read can come from a write made meanwhile.
    fn check_unchanged(&self) -> Result<(), StoreError> {
        let Access::Immutable(print) = self.access else {
            return Ok(());
        };
        match Fingerprint::of(&self.path) {
            Ok(now) if now == print => Ok(()),
            _ => Err(StoreError::ChangedWhileRead {
                location: self.location.clone(),
            }),
        }
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

/// The write protocols as this backend implemented them before the one write path
/// (`crate::protocol`); to be turned into its `WriteTx` and removed.
#[allow(dead_code)]
impl SqliteStore {
    fn append(
        &mut self,
        key: &ChainKey,
        traces: &[PreparedTrace],
    ) -> Result<Vec<Appended>, StoreError> {
        crate::refuse_repeated_ids(&self.location, traces)?;
        let location = self.location.clone();
        let sql_err = |action: &'static str| sql_error(&location, action);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err("begin"))?;
        // Under the write lock: no trigger or view can be added between this and the commit.
        schema::check(&tx, &location)?;
        if !self.action_id_unique {
            let mut exists = tx
                .prepare_cached("SELECT 1 FROM traces WHERE action_id = ?1")
                .map_err(sql_err("check action_id"))?;
            for trace in traces {
                if exists
                    .exists([trace.action_id()])
                    .map_err(sql_err("check action_id"))?
                {
                    return Err(StoreError::DuplicateActionId {
                        location: location.clone(),
                        action_id: trace.action_id().to_owned(),
                    });
                }
            }
        }
        let mut head = Self::head(&tx, &location)?;
        if head
            .next_seq
            .checked_add(traces.len() as u64)
            .is_none_or(|end| end > i64::MAX as u64)
        {
            return Err(StoreError::SeqOverflow { location });
        }
        let mut out = Vec::with_capacity(traces.len());
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO traces (seq, action_id, prev_hash, record_hash, invoked_at, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(sql_err("insert"))?;
            let mut insert_all = |sealed: &[SealedRecord<'_>]| -> Result<(), StoreError> {
                for r in sealed {
                    // The UNIQUE index on action_id refuses a repeated one; the transaction is
                    // then rolled back, so nothing of the batch is written.
                    let inserted = insert.execute(params![
                        r.seq as i64,
                        r.trace.action_id(),
                        r.prev_hash.as_str(),
                        r.record_hash.as_str(),
                        r.trace.invoked_at(),
                        r.trace.canonical(),
                    ]);
                    match inserted {
                        Ok(_) => {}
                        Err(e) if is_unique_violation(&e) => {
                            return Err(StoreError::DuplicateActionId {
                                location: location.clone(),
                                action_id: r.trace.action_id().to_owned(),
                            });
                        }
                        Err(e) => return Err((sql_err("insert"))(e)),
                    }
                    out.push(Appended {
                        seq: r.seq,
                        record_hash: r.record_hash,
                    });
                }
                Ok(())
            };
            if traces.len() < PIPELINE_FROM {
                insert_all(&seal_batch(key, &mut head, traces))?;
            } else {
                // The MACs of a chain are computed one after another; a second thread computes
                // them while this one inserts the records already sealed.
                std::thread::scope(|scope| {
                    let (tx_sealed, rx_sealed) = std::sync::mpsc::sync_channel(4);
                    scope.spawn(move || {
                        for chunk in traces.chunks(PIPELINE_CHUNK) {
                            if tx_sealed.send(seal_batch(key, &mut head, chunk)).is_err() {
                                return;
                            }
                        }
                    });
                    // Returning early drops the receiver, which stops the sealing thread.
                    rx_sealed.iter().try_for_each(|sealed| insert_all(&sealed))
                })?;
            }
        }
        // Once this handle has recorded the key id, it stays (only a prune or an import
        // rewrites trailseal_meta, through this handle or under the same key).
        if !self.meta_recorded {
            tx.execute_batch(&format!(
                "{TRAILSEAL_META_DDL}; INSERT OR IGNORE INTO trailseal_meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}');"
            ))
            .map_err(sql_err("record key id"))?;
            tx.execute(
                "INSERT OR IGNORE INTO trailseal_meta (key, value) VALUES ('key_id', ?1)",
                [key.key_id().as_str()],
            )
            .map_err(sql_err("record key id"))?;
        }
        tx.commit().map_err(sql_err("commit"))?;
        self.meta_recorded = true;
        let back = self.read_back_rows(&out)?;
        crate::confirm_kept(&self.location, traces, &out, &back)?;
        Ok(out)
    }

    fn add_receipt(&mut self, expected_len: u64, receipt: &str) -> Result<(), StoreError> {
        let location = self.location.clone();
        let sql_err = |action: &'static str| sql_error(&location, action);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err("begin"))?;
        schema::check(&tx, &location)?;
        tx.execute_batch(&format!("{TRAILSEAL_META_DDL}; {RETENTION_DDL};"))
            .map_err(sql_err("create retention table"))?;
        let len: u64 = tx
            .query_row("SELECT count(*) FROM trailseal_retention", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(sql_err("read retention log"))?
            .try_into()
            .unwrap_or(0);
        if len != expected_len {
            return Err(StoreError::Conflict {
                location,
                detail: "the retention log grew".into(),
            });
        }
        tx.execute(
            "INSERT INTO trailseal_retention (idx, receipt) VALUES (?1, ?2)",
            params![i64::try_from(len).unwrap_or(i64::MAX), receipt],
        )
        .map_err(sql_err("add receipt"))?;
        tx.commit().map_err(sql_err("commit"))
    }

    fn prune(&mut self, plan: &PrunePlan, receipt: &str) -> Result<(), StoreError> {
        let location = self.location.clone();
        let sql_err = |action: &'static str| sql_error(&location, action);
        let conflict = |detail: &str| StoreError::Conflict {
            location: location.clone(),
            detail: detail.into(),
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err("begin"))?;
        schema::check(&tx, &location)?;
        tx.execute_batch(&format!("{TRAILSEAL_META_DDL}; {RETENTION_DDL};"))
            .map_err(sql_err("create retention table"))?;
        let len: i64 = tx
            .query_row("SELECT count(*) FROM trailseal_retention", [], |r| r.get(0))
            .map_err(sql_err("read retention log"))?;
        if u64::try_from(len).ok() != Some(plan.log_len) {
            return Err(conflict("the retention log grew"));
        }
        let first: Option<i64> = tx
            .query_row("SELECT min(seq) FROM traces", [], |r| r.get(0))
            .map_err(sql_err("read first record"))?;
        if first.and_then(|f| u64::try_from(f).ok()) != Some(plan.from_seq) {
            return Err(conflict("the first record changed"));
        }
        let last_seq = i64::try_from(plan.last_seq).unwrap_or(i64::MAX);
        let last_hash: Option<String> = tx
            .query_row(
                "SELECT record_hash FROM traces WHERE seq = ?1",
                [last_seq],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err("read last pruned record"))?;
        if last_hash.as_deref() != Some(plan.last_hash.as_str()) {
            return Err(conflict("the last record to prune changed"));
        }
        tx.execute("DELETE FROM traces WHERE seq <= ?1", [last_seq])
            .map_err(sql_err("delete records"))?;
        tx.execute(
            "INSERT INTO trailseal_retention (idx, receipt) VALUES (?1, ?2)",
            params![len, receipt],
        )
        .map_err(sql_err("add receipt"))?;
        // weaver-kernel's own checkpoint, so weaver-kernel still verifies and appends.
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('checkpoint_hash', ?1), ('checkpoint_next_seq', ?2)",
            params![plan.last_hash.as_str(), (plan.last_seq + 1).to_string()],
        )
        .map_err(sql_err("write checkpoint"))?;
        tx.commit().map_err(sql_err("commit"))
    }

    fn import_start(&mut self, meta: &ImportMeta) -> Result<(), StoreError> {
        if self.importing {
            return Err(StoreError::Conflict {
                location: self.location.clone(),
                detail: "a copy into the store is already in progress".into(),
            });
        }
        // One transaction from here to `import_finish`: a copy that does not finish (the
        // process dies, the handle is dropped) is rolled back and leaves the store empty.
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(self.sql_err("begin"))?;
        match self.import_start_in_transaction(meta) {
            Ok(()) => {
                self.importing = true;
                Ok(())
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn import_records(&mut self, records: &[ImportRecord]) -> Result<(), StoreError> {
        if !self.importing {
            return Err(StoreError::Conflict {
                location: self.location.clone(),
                detail: "records can only be imported after import_start".into(),
            });
        }
        let result = self.insert_imported(records);
        if result.is_err() {
            // The copy cannot finish: give it up now.
            self.importing = false;
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        result
    }

    fn import_finish(&mut self) -> Result<(), StoreError> {
        if !self.importing {
            return Err(StoreError::Conflict {
                location: self.location.clone(),
                detail: "no copy into the store was started".into(),
            });
        }
        self.importing = false;
        let committed = self.conn.execute_batch("COMMIT");
        if committed.is_err() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        committed.map_err(self.sql_err("commit"))
    }
}
