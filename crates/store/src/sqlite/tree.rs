//! The Merkle tree's stored hashes in a SQLite store: `trailseal_tree (idx INTEGER PRIMARY
//! KEY, hash BLOB NOT NULL)`, one row per stored hash (Go tlog's index), and the seq of leaf 0
//! as `trailseal_meta.tree_base`. Read and written by the statements of whatever transaction
//! is open on the connection (a snapshot reader's or a write transaction's).

use rusqlite::types::ValueRef;
use rusqlite::{Connection, params};
use trailseal_core::tree::MerkleHash;

use super::read::{has_table, trailseal_meta};
use super::sql_error;
use crate::tree::tree_error;
use crate::{StoreError, StoredTree};

pub(super) const TREE_DDL: &str =
    "CREATE TABLE IF NOT EXISTS trailseal_tree (idx INTEGER PRIMARY KEY, hash BLOB NOT NULL)";

/// The tree the store holds, if it has one.
pub(super) fn stored_tree(
    conn: &Connection,
    location: &str,
) -> Result<Option<StoredTree>, StoreError> {
    if !has_table(conn, location, "trailseal_tree")? {
        return Ok(None);
    }
    let base = match trailseal_meta(conn, location, "tree_base")? {
        Some(text) => crate::tree::parse_seq(&text)
            .ok_or_else(|| tree_error(location, 0, "trailseal_meta `tree_base` is not a seq"))?,
        // Hashes nobody can place (the base was removed): the store has no usable tree, and
        // verification says its records are not in one.
        None => return Ok(None),
    };
    let last: Option<i64> = conn
        .prepare_cached("SELECT max(idx) FROM trailseal_tree")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .map_err(sql_error(location, "read the tree"))?;
    let hashes = match last {
        None => 0,
        Some(last) => u64::try_from(last)
            .ok()
            .and_then(|l| l.checked_add(1))
            .ok_or_else(|| tree_error(location, 0, format!("a row has index {last}")))?,
    };
    Ok(Some(StoredTree { base, hashes }))
}

/// Fills `out` with the hashes at `first ..`.
pub(super) fn read_hashes(
    conn: &Connection,
    location: &str,
    first: u64,
    out: &mut [MerkleHash],
) -> Result<(), StoreError> {
    if out.is_empty() {
        return Ok(());
    }
    let bound = |i: u64| i64::try_from(i).unwrap_or(i64::MAX);
    let end = first.saturating_add(out.len() as u64);
    let mut stmt = conn
        .prepare_cached(
            "SELECT idx, hash FROM trailseal_tree WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
        )
        .map_err(sql_error(location, "read the tree"))?;
    let mut rows = stmt
        .query(params![bound(first), bound(end)])
        .map_err(sql_error(location, "read the tree"))?;
    let mut expected = first;
    let mut slots = out.iter_mut();
    while let Some(row) = rows.next().map_err(sql_error(location, "read the tree"))? {
        let idx = row.get_ref(0).ok().and_then(|v| v.as_i64().ok());
        if idx.and_then(|i| u64::try_from(i).ok()) != Some(expected) {
            return Err(tree_error(location, expected, "missing"));
        }
        let hash = match row.get_ref(1) {
            Ok(ValueRef::Blob(b)) => MerkleHash::from_slice(b),
            _ => None,
        }
        .ok_or_else(|| tree_error(location, expected, "not a 32-byte BLOB"))?;
        if let Some(slot) = slots.next() {
            *slot = hash;
        }
        expected += 1;
    }
    if expected != end {
        return Err(tree_error(location, expected, "missing"));
    }
    Ok(())
}

/// Writes `hashes` at `first ..`, creating the table (and recording `base`) for a store
/// without a tree. The caller has created `trailseal_meta`.
pub(super) fn append_hashes(
    conn: &Connection,
    location: &str,
    base: u64,
    first: u64,
    hashes: &[MerkleHash],
) -> Result<(), StoreError> {
    if !has_table(conn, location, "trailseal_tree")? {
        if first != 0 {
            return Err(tree_error(
                location,
                first,
                "written to a store without a tree",
            ));
        }
        conn.execute_batch(TREE_DDL)
            .map_err(sql_error(location, "create the tree table"))?;
        conn.execute(
            "INSERT INTO trailseal_meta (key, value) VALUES ('tree_base', ?1)",
            [base.to_string()],
        )
        .map_err(sql_error(location, "record the tree base"))?;
    }
    let mut insert = conn
        .prepare_cached("INSERT INTO trailseal_tree (idx, hash) VALUES (?1, ?2)")
        .map_err(sql_error(location, "write the tree"))?;
    for (i, hash) in hashes.iter().enumerate() {
        let at = first.saturating_add(i as u64);
        let idx =
            i64::try_from(at).map_err(|_| tree_error(location, at, "beyond SQLite's integers"))?;
        insert
            .execute(params![idx, hash.as_bytes().as_slice()])
            .map_err(|e| {
                if super::is_unique_violation(&e) {
                    tree_error(
                        location,
                        at,
                        "already stored (tree hashes are written once)",
                    )
                } else {
                    sql_error(location, "write the tree")(e)
                }
            })?;
    }
    Ok(())
}
