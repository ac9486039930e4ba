//! Reading a SQLite chain's records: streaming a seq range in chain order, and the readers of
//! a snapshot (each a connection of its own inside a read transaction).

use std::time::Duration;

use rusqlite::Connection;
use rusqlite::types::ValueRef;
use trailseal_core::verify::{Columns, Flow, MalformedRecord, RecordView, ScanItem, TraceEncoding};

use super::access::{Access, open_connection, read_access};
use super::{Recorded, SqliteStore, column_bytes, schema};
use crate::{SeqRange, SnapshotReader, StoreError, StoreState};

impl SqliteStore {
    /// Opens a reader: a connection of its own inside a read transaction, and the state it
    /// sees.
    pub(super) fn open_reader(&self) -> Result<(SqliteReader, StoreState), StoreError> {
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
            recorded: Recorded::default(),
            checkpointer: None,
            access,
            file_id: self.file_id,
            frontier: crate::FrontierCache::default(),
        };
        let state = reader.read_state()?;
        reader.check_unchanged()?;
        Ok((SqliteReader(reader), state))
    }
}

/// One reader of a [`crate::Snapshot`]: a connection inside a read transaction.
pub(super) struct SqliteReader(SqliteStore);

impl SqliteReader {
    /// The handle the reader reads through.
    pub(super) fn store(&self) -> &SqliteStore {
        &self.0
    }
}

impl SnapshotReader for SqliteReader {
    fn scan_range(
        &mut self,
        range: SeqRange,
        visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        scan_range(&self.0.conn, &self.0.location, range, visit)?;
        self.0.check_unchanged()
    }

    fn read_tree_hashes(
        &mut self,
        first: u64,
        out: &mut [trailseal_core::tree::MerkleHash],
    ) -> Result<(), StoreError> {
        super::tree::read_hashes(&self.0.conn, &self.0.location, first, out)?;
        self.0.check_unchanged()
    }
}

/// Streams the rows in `range` in seq order.
pub(super) fn scan_range(
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
