//! Opening a SQLite store, and creating one: the file, its mode, its tables, and what its
//! schema must hold to be read as a chain.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::access::{Access, open_for_reading};
use super::checkpoint::Checkpointer;
use super::{
    META_DDL, Recorded, SCHEMA_VERSION, SqliteStore, TRACES_DDL, TRAILSEAL_META_DDL,
    is_not_a_database, read, schema,
};
use crate::{OpenMode, StoreError};

/// The columns of `traces` a chain is read from.
const TRACE_COLUMNS: [&str; 6] = [
    "seq",
    "action_id",
    "prev_hash",
    "record_hash",
    "invoked_at",
    "payload",
];

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
            recorded: Recorded::default(),
            checkpointer: None,
            access,
            file_id: super::file_id(path),
            frontier: crate::FrontierCache::default(),
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
        if !has("trailseal_meta") {
            return Ok(());
        }
        let version = read::trailseal_meta(&self.conn, &self.location, "schema_version")?;
        crate::error::refuse_newer_schema(&self.location, version, SCHEMA_VERSION)
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
    pub(super) fn seq_is_rowid(&self) -> Result<bool, StoreError> {
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
}
