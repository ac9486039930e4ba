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
//! durable (`synchronous = FULL`); stores trailseal creates use WAL.

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use trailseal_core::verify::{
    ChainStart, Columns, Flow, MalformedRecord, RecordView, ScanItem, StartKind, StoredKeyId,
    TraceEncoding,
};
use trailseal_core::{ChainKey, Hash32, Head, KeyId, PreparedTrace, seal_batch};

use crate::error::Shown;
use crate::{
    Appended, ImportMeta, ImportRecord, OpenMode, PrunePlan, Store, StoreError, StoreState,
    StoredRecord,
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
    location: String,
}

impl SqliteStore {
    /// Opens the store at `path`. [`OpenMode::Read`] opens read-only and requires an existing
    /// store; [`OpenMode::Write`] creates the file and schema when `create` is set.
    pub fn open(path: &Path, mode: OpenMode) -> Result<Self, StoreError> {
        let location = path.display().to_string();
        let exists = path.exists();
        if !exists && !matches!(mode, OpenMode::Write { create: true }) {
            return Err(StoreError::NotFound { location });
        }
        // Readers open read-write too (nothing is written): SQLite then rolls back a journal
        // left by a crashed writer and removes WAL files on close, which a read-only
        // connection cannot. A write-protected file is opened read-only by SQLite itself.
        let flags = match mode {
            OpenMode::Read => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            OpenMode::Write { .. } => {
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
            }
        };
        let conn = match Connection::open_with_flags(path, flags) {
            Ok(conn) => conn,
            Err(source) => {
                return Err(StoreError::Sqlite {
                    location,
                    action: "open",
                    source,
                });
            }
        };
        let store = Self { conn, location };
        store
            .conn
            .busy_timeout(Duration::from_secs(60))
            .map_err(store.sql_err("set busy timeout"))?;
        store.check_schema(mode)?;
        if matches!(mode, OpenMode::Write { .. }) {
            store
                .conn
                .pragma_update(None, "synchronous", "FULL")
                .map_err(store.sql_err("set synchronous"))?;
        }
        Ok(store)
    }

    fn sql_err(&self, action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        let location = self.location.clone();
        move |source| StoreError::Sqlite {
            location,
            action,
            source,
        }
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

    fn weaver_meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
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
            row.get(0)
        })
        .optional()
        .map(Option::flatten)
    }

    /// The start of the chain: genesis, or weaver-kernel's unauthenticated checkpoint.
    fn chain_start(conn: &Connection) -> rusqlite::Result<ChainStart> {
        let Some(hash) = Self::weaver_meta(conn, "checkpoint_hash")? else {
            return Ok(ChainStart::genesis());
        };
        let next_seq =
            match Self::weaver_meta(conn, "checkpoint_next_seq")?.and_then(|s| s.parse().ok()) {
                Some(seq) => seq,
                // weaver-kernel does not read checkpoint_next_seq when verifying; start at the
                // first record as it does.
                None => conn
                    .query_row("SELECT min(seq) FROM traces", [], |row| {
                        row.get::<_, Option<i64>>(0)
                    })?
                    .and_then(|s| u64::try_from(s).ok())
                    .unwrap_or(0),
            };
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
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get_ref(1)?.as_bytes().map(<[u8]>::to_vec).ok(),
                    ))
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
                let prev_hash = hash
                    .as_deref()
                    .and_then(Hash32::parse)
                    .ok_or_else(|| bad("its record_hash is not 64 lowercase hex characters"))?;
                let next_seq = seq.checked_add(1).ok_or_else(|| bad("seq overflow"))?;
                Ok(Head {
                    next_seq,
                    prev_hash,
                })
            }
            None => {
                let start = Self::chain_start(conn).map_err(sql_err)?;
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

impl Store for SqliteStore {
    fn location(&self) -> &str {
        &self.location
    }

    fn state(&mut self) -> Result<StoreState, StoreError> {
        let start = Self::chain_start(&self.conn).map_err(self.sql_err("read checkpoint"))?;
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
            .query_row("SELECT max(seq), min(seq) FROM traces", [], |row| {
                Ok((row.get::<_, Option<i64>>(0)?, row.get::<_, Option<i64>>(1)?))
            })
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

    fn add_receipt(&mut self, expected_len: u64, receipt: &str) -> Result<(), StoreError> {
        let location = self.location.clone();
        let sql_err = |action: &'static str| {
            let location = location.clone();
            move |source| StoreError::Sqlite {
                location,
                action,
                source,
            }
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err("begin"))?;
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
        let sql_err = |action: &'static str| {
            let location = location.clone();
            move |source| StoreError::Sqlite {
                location,
                action,
                source,
            }
        };
        let conflict = |detail: &str| StoreError::Conflict {
            location: location.clone(),
            detail: detail.into(),
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err("begin"))?;
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

    fn append(
        &mut self,
        key: &ChainKey,
        traces: &[PreparedTrace],
    ) -> Result<Vec<Appended>, StoreError> {
        crate::refuse_repeated_ids(&self.location, traces)?;
        let location = self.location.clone();
        let sql_err = |action: &'static str| {
            let location = location.clone();
            move |source| StoreError::Sqlite {
                location,
                action,
                source,
            }
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err("begin"))?;
        {
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
        let sealed = seal_batch(key, &mut head, traces);
        let mut out = Vec::with_capacity(sealed.len());
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO traces (seq, action_id, prev_hash, record_hash, invoked_at, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(sql_err("insert"))?;
            for r in &sealed {
                insert
                    .execute(params![
                        r.seq as i64,
                        r.trace.action_id(),
                        r.prev_hash.as_str(),
                        r.record_hash.as_str(),
                        r.trace.invoked_at(),
                        r.trace.canonical(),
                    ])
                    .map_err(sql_err("insert"))?;
                out.push(Appended {
                    seq: r.seq,
                    record_hash: r.record_hash,
                });
            }
        }
        tx.execute_batch(&format!(
            "{TRAILSEAL_META_DDL}; INSERT OR IGNORE INTO trailseal_meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}');"
        ))
        .map_err(sql_err("record key id"))?;
        tx.execute(
            "INSERT OR IGNORE INTO trailseal_meta (key, value) VALUES ('key_id', ?1)",
            [key.key_id().as_str()],
        )
        .map_err(sql_err("record key id"))?;
        tx.commit().map_err(sql_err("commit"))?;
        Ok(out)
    }

    fn import_start(&mut self, meta: &ImportMeta) -> Result<(), StoreError> {
        let location = self.location.clone();
        let sql_err = |action: &'static str| {
            let location = location.clone();
            move |source| StoreError::Sqlite {
                location,
                action,
                source,
            }
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err("begin"))?;
        tx.execute_batch(&format!("{TRAILSEAL_META_DDL}; {RETENTION_DDL};"))
            .map_err(sql_err("create tables"))?;
        let records: i64 = tx
            .query_row("SELECT count(*) FROM traces", [], |r| r.get(0))
            .map_err(sql_err("count"))?;
        let receipts: i64 = tx
            .query_row("SELECT count(*) FROM trailseal_retention", [], |r| r.get(0))
            .map_err(sql_err("count"))?;
        if records > 0 || receipts > 0 {
            return Err(crate::not_empty(&location));
        }
        if meta.start.kind != trailseal_core::verify::StartKind::Genesis {
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('checkpoint_hash', ?1), ('checkpoint_next_seq', ?2)",
                params![String::from_utf8_lossy(&meta.start.prev_hash), meta.start.next_seq.to_string()],
            )
            .map_err(sql_err("write checkpoint"))?;
        }
        for (i, receipt) in meta.retention.iter().enumerate() {
            tx.execute(
                "INSERT INTO trailseal_retention (idx, receipt) VALUES (?1, ?2)",
                params![i as i64, receipt],
            )
            .map_err(sql_err("copy receipt"))?;
        }
        tx.execute(
            "INSERT OR IGNORE INTO trailseal_meta (key, value) VALUES ('schema_version', ?1)",
            [SCHEMA_VERSION.to_string()],
        )
        .map_err(sql_err("write schema version"))?;
        if let StoredKeyId::Present(id) = meta.key_id {
            tx.execute(
                "INSERT OR REPLACE INTO trailseal_meta (key, value) VALUES ('key_id', ?1)",
                [id.as_str()],
            )
            .map_err(sql_err("write key id"))?;
        }
        tx.commit().map_err(sql_err("commit"))
    }

    fn import_records(&mut self, records: &[ImportRecord]) -> Result<(), StoreError> {
        let location = self.location.clone();
        let sql_err = |action: &'static str| {
            let location = location.clone();
            move |source| StoreError::Sqlite {
                location,
                action,
                source,
            }
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err("begin"))?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO traces (seq, action_id, prev_hash, record_hash, invoked_at, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(sql_err("insert"))?;
            for r in records {
                let seq = i64::try_from(r.seq).map_err(|_| StoreError::SeqOverflow {
                    location: location.clone(),
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
                    .map_err(sql_err("insert"))?;
            }
        }
        tx.commit().map_err(sql_err("commit"))
    }

    fn scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        const COLS: &str =
            "SELECT seq, prev_hash, record_hash, payload, action_id, invoked_at FROM traces";
        // Without a lower bound, rows with a (tampered) negative seq are seen too.
        let (sql, bound) = if from_seq == 0 {
            (format!("{COLS} ORDER BY seq"), None)
        } else {
            (
                format!("{COLS} WHERE seq >= ?1 ORDER BY seq"),
                Some(i64::try_from(from_seq).unwrap_or(i64::MAX)),
            )
        };
        let mut stmt = self.conn.prepare(&sql).map_err(self.sql_err("scan"))?;
        let mut rows = match bound {
            Some(b) => stmt.query([b]),
            None => stmt.query([]),
        }
        .map_err(self.sql_err("scan"))?;
        let location = self.location.clone();
        let sql_err = |source| StoreError::Sqlite {
            location: location.clone(),
            action: "scan",
            source,
        };
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
            let missing = fields
                .iter()
                .zip(names)
                .find(|(f, _)| f.is_none())
                .map(|(_, n)| n);
            let flow = match (u64::try_from(raw_seq), missing, &fields) {
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
                (Ok(seq), missing, _) => visit(&ScanItem::Malformed(MalformedRecord {
                    seq: Some(seq),
                    location: format!("row {seq}"),
                    problem: format!("{} is NULL", missing.unwrap_or("a column")),
                    torn: false,
                })),
            };
            if flow == Flow::Stop {
                break;
            }
        }
        Ok(())
    }

    fn find(&mut self, action_id: &str) -> Result<Option<StoredRecord>, StoreError> {
        self.conn
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
            .map_err(self.sql_err("find"))
    }
}
