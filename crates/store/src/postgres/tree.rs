//! The Merkle tree's stored hashes in a PostgreSQL store: `trailseal_tree (idx BIGINT PRIMARY
//! KEY, hash BYTEA NOT NULL)`, one row per stored hash (Go tlog's index), and the seq of leaf
//! 0 as `trailseal_meta.tree_base`. Only `SELECT` and `INSERT` are needed.

use postgres::GenericClient;
use trailseal_core::tree::MerkleHash;

use crate::tree::tree_error;
use crate::{StoreError, StoredTree};

/// The statement [`stored_tree`] runs: the base and the highest index, in one row.
pub(super) fn state_sql(tree: &str, meta: &str) -> String {
    format!(
        "SELECT (SELECT value FROM {meta} WHERE key = 'tree_base'), (SELECT max(idx) FROM {tree})"
    )
}

/// The statement [`append_hashes`] inserts with.
pub(super) fn insert_sql(tree: &str) -> String {
    format!("INSERT INTO {tree} (idx, hash) SELECT * FROM UNNEST($1::bigint[], $2::bytea[])")
}

/// The tree the store holds, if it has one, read in the transaction open on `client`, with
/// `state` ([`state_sql`], as text or prepared).
pub(super) fn stored_tree<S: postgres::ToStatement + ?Sized>(
    client: &mut impl GenericClient,
    location: &str,
    state: Option<&S>,
) -> Result<Option<StoredTree>, StoreError> {
    let Some(state) = state else { return Ok(None) };
    let err = |source| StoreError::postgres(location, "read the tree", source);
    let row = client.query_one(state, &[]).map_err(err)?;
    let base: Option<String> = row.try_get(0).map_err(err)?;
    let last: Option<i64> = row.try_get(1).map_err(err)?;
    // Hashes nobody can place (the base was removed): the store has no usable tree, and
    // verification says its records are not in one.
    let Some(base) = base else { return Ok(None) };
    let base = crate::tree::parse_seq(&base)
        .ok_or_else(|| tree_error(location, 0, "trailseal_meta `tree_base` is not a seq"))?;
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
    client: &mut impl GenericClient,
    location: &str,
    tree: Option<&str>,
    first: u64,
    out: &mut [MerkleHash],
) -> Result<(), StoreError> {
    if out.is_empty() {
        return Ok(());
    }
    let Some(tree) = tree else {
        return Err(tree_error(
            location,
            first,
            "missing (the store has no tree table)",
        ));
    };
    let err = |source| StoreError::postgres(location, "read the tree", source);
    let bound = |i: u64| i64::try_from(i).unwrap_or(i64::MAX);
    let end = first.saturating_add(out.len() as u64);
    let rows = client
        .query(
            &format!("SELECT idx, hash FROM {tree} WHERE idx >= $1 AND idx < $2 ORDER BY idx"),
            &[&bound(first), &bound(end)],
        )
        .map_err(err)?;
    let mut expected = first;
    for (row, slot) in rows.iter().zip(out.iter_mut()) {
        let idx: Option<i64> = row.try_get(0).ok();
        if idx.and_then(|i| u64::try_from(i).ok()) != Some(expected) {
            return Err(tree_error(location, expected, "missing"));
        }
        let hash: Option<Vec<u8>> = row.try_get(1).ok();
        *slot = hash
            .as_deref()
            .and_then(MerkleHash::from_slice)
            .ok_or_else(|| tree_error(location, expected, "not 32 bytes"))?;
        expected += 1;
    }
    if expected != end {
        return Err(tree_error(location, expected, "missing"));
    }
    Ok(())
}

/// How many hashes one `INSERT` carries.
const ROWS_PER_STATEMENT: usize = 4096;

/// Writes `hashes` at `first ..` (recording `base` when the store has no tree yet), with
/// `insert` ([`insert_sql`], prepared).
pub(super) fn append_hashes(
    client: &mut impl GenericClient,
    location: &str,
    insert: Option<&postgres::Statement>,
    meta: &str,
    (base, first): (u64, u64),
    hashes: &[MerkleHash],
) -> Result<(), StoreError> {
    let Some(insert) = insert else {
        return Err(tree_error(
            location,
            first,
            "the store has no trailseal_tree table (connect once with a role that may create it)",
        ));
    };
    let err = |source: postgres::Error| {
        if source
            .as_db_error()
            .is_some_and(|e| *e.code() == postgres::error::SqlState::UNIQUE_VIOLATION)
        {
            tree_error(
                location,
                first,
                "already stored (tree hashes are written once)",
            )
        } else {
            StoreError::postgres(location, "write the tree", source)
        }
    };
    if first == 0 {
        client
            .execute(
                &format!("INSERT INTO {meta} (key, value) VALUES ('tree_base', $1)"),
                &[&base.to_string()],
            )
            .map_err(err)?;
    }
    for (n, chunk) in hashes.chunks(ROWS_PER_STATEMENT).enumerate() {
        let start = first.saturating_add((n * ROWS_PER_STATEMENT) as u64);
        let idx: Vec<i64> = (0..chunk.len() as u64)
            .map(|i| i64::try_from(start.saturating_add(i)).unwrap_or(i64::MAX))
            .collect();
        let bytes: Vec<&[u8]> = chunk.iter().map(|h| h.as_bytes().as_slice()).collect();
        client.execute(insert, &[&idx, &bytes]).map_err(err)?;
    }
    Ok(())
}
