//! The state of a SQLite chain as stored: where it starts (weaver-kernel's `meta`
//! checkpoint), its head, its retention log and the key id `trailseal_meta` records. Read by
//! the statements of whatever transaction is open on the connection: a read transaction, a
//! snapshot reader's, or a write transaction's.

use std::borrow::Cow;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension};
use trailseal_core::start::{ChainStart, StartKind, StoredKeyId};
use trailseal_core::{Hash32, Head, KeyId};

use super::{SqliteStore, column_bytes, sql_error};
use crate::error::Shown;
use crate::{StoreError, StoreState};

impl SqliteStore {
    /// The state, read by the statements of the transaction open on the connection.
    pub(super) fn read_state(&self) -> Result<StoreState, StoreError> {
        let (conn, location) = (&self.conn, self.location.as_str());
        let start = chain_start(conn, location)?;
        let key_id = stored_key_id(conn, location)?;
        let (head, span) = conn
            .query_row(
                "SELECT (SELECT max(seq) FROM traces), (SELECT min(seq) FROM traces)",
                [],
                |row| Ok((row.get::<_, Option<i64>>(0)?, row.get::<_, Option<i64>>(1)?)),
            )
            .map_err(sql_error(location, "read head"))?;
        let head = match head {
            Some(seq) => {
                let hash: Option<Vec<u8>> = conn
                    .query_row(
                        "SELECT record_hash FROM traces WHERE seq = ?1",
                        [seq],
                        |row| Ok(column_bytes(row.get_ref(0)?).map(Cow::into_owned)),
                    )
                    .map_err(sql_error(location, "read head"))?;
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
        let retention = retention_log(conn, location)?;
        Ok(StoreState {
            start,
            retention,
            archive_of: trailseal_meta(conn, location, "archive_of")?,
            key_id,
            head,
            record_count_hint,
            tree: super::tree::stored_tree(conn, location)?,
        })
    }
}

pub(super) fn has_table(conn: &Connection, location: &str, name: &str) -> Result<bool, StoreError> {
    conn.prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")
        .and_then(|mut stmt| stmt.exists([name]))
        .map_err(sql_error(location, "read schema"))
}

/// The retention log's receipts, oldest first.
fn retention_log(conn: &Connection, location: &str) -> Result<Vec<String>, StoreError> {
    if !has_table(conn, location, "trailseal_retention")? {
        return Ok(Vec::new());
    }
    let err = sql_error(location, "read retention log");
    let mut stmt = match conn.prepare("SELECT receipt FROM trailseal_retention ORDER BY idx") {
        Ok(stmt) => stmt,
        Err(e) => return Err(err(e)),
    };
    let rows = stmt
        .query_map([], |row| {
            Ok(column_bytes(row.get_ref(0)?).map(|b| String::from_utf8_lossy(&b).into_owned()))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(err)?;
    Ok(rows.into_iter().map(Option::unwrap_or_default).collect())
}

/// A value of `trailseal_meta`, if the table and the row exist.
pub(super) fn trailseal_meta(
    conn: &Connection,
    location: &str,
    key: &str,
) -> Result<Option<String>, StoreError> {
    if !has_table(conn, location, "trailseal_meta")? {
        return Ok(None);
    }
    conn.prepare_cached("SELECT value FROM trailseal_meta WHERE key = ?1")
        .and_then(|mut stmt| stmt.query_row([key], |row| row.get(0)).optional())
        .map_err(sql_error(location, "read trailseal_meta"))
}

/// The key id `trailseal_meta` records. One that is not a key id makes the store unknown.
pub(super) fn stored_key_id(conn: &Connection, location: &str) -> Result<StoredKeyId, StoreError> {
    let Some(id) = trailseal_meta(conn, location, "key_id")? else {
        return Ok(StoredKeyId::Absent);
    };
    match KeyId::parse(id.as_bytes()) {
        Some(id) => Ok(StoredKeyId::Present(id)),
        None => Err(StoreError::UnknownStore {
            location: location.to_owned(),
            reason: format!(
                "trailseal_meta.key_id {} is not a key id",
                Shown(id.as_bytes())
            ),
        }),
    }
}

/// A value of weaver-kernel's `meta` table as its `_get_meta` reads it: `None` without a
/// row; a row's value as text, or why it is not text (weaver-kernel then reads `str(value)`:
/// `None` for NULL, a `b'…'` repr for a BLOB, and fails on text that is not UTF-8).
pub(super) fn weaver_meta(
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
            ValueRef::Blob(_) => {
                Err("is stored as a BLOB, not text (weaver-kernel reads it as a different text)")
            }
            ValueRef::Integer(i) => Ok(i.to_string()),
            ValueRef::Real(_) => Err("is stored as a REAL, not text"),
        })
    })
    .optional()
}

/// The start of the chain: genesis, or weaver-kernel's unauthenticated checkpoint.
pub(super) fn chain_start(conn: &Connection, location: &str) -> Result<ChainStart, StoreError> {
    let sql_err = sql_error(location, "read checkpoint");
    let hash = match weaver_meta(conn, "checkpoint_hash") {
        Ok(None) => return Ok(ChainStart::genesis()),
        Ok(Some(hash)) => hash,
        Err(e) => return Err(sql_err(e)),
    };
    let next_seq = match weaver_meta(conn, "checkpoint_next_seq") {
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

/// Where the next record goes: after the last record, or at the chain's start.
pub(super) fn head(conn: &Connection, location: &str) -> Result<Head, StoreError> {
    let last = conn
        .prepare_cached("SELECT seq, record_hash FROM traces ORDER BY seq DESC LIMIT 1")
        .and_then(|mut stmt| {
            stmt.query_row([], |row| {
                // Text only: weaver-kernel reads a BLOB as its `b'…'` repr.
                let hash = match row.get_ref(1)? {
                    ValueRef::Text(b) => Some(b.to_vec()),
                    _ => None,
                };
                Ok((row.get::<_, i64>(0)?, hash))
            })
            .optional()
        })
        .map_err(sql_error(location, "read head"))?;
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
            let start = chain_start(conn, location)?;
            let prev_hash = Hash32::parse(&start.prev_hash).ok_or_else(|| StoreError::BadHead {
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
