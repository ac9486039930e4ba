//! How a SQLite store's connections are opened: read-write for writing, and, for reading,
//! read-only with SQLite's locks or `immutable=1` without them, so that reading writes
//! nothing (see [`read_access`]).

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::SqliteStore;
use crate::StoreError;

/// How a store's connections are opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
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
pub(super) struct Fingerprint {
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
pub(super) fn open_connection(path: &Path, access: Access) -> rusqlite::Result<Connection> {
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
pub(super) fn read_access(path: &Path) -> Access {
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
pub(super) fn open_for_reading(path: &Path) -> rusqlite::Result<(Connection, Access)> {
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

impl SqliteStore {
    /// For a store read without SQLite's locks ([`Access::Immutable`]): fails unless the
    /// database file is as it was when the store was opened, with no `-wal` file beside it,
    /// so that nothing read can come from a write made meanwhile.
    pub(super) fn check_unchanged(&self) -> Result<(), StoreError> {
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
