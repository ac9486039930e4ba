//! PostgreSQL: one chain shared by many writers on many hosts.
//!
//! Tables live in one schema (`?schema=NAME` in the URL, default `public`):
//!
//! ```sql
//! trailseal_traces    (seq BIGINT PRIMARY KEY, action_id TEXT NOT NULL UNIQUE, prev_hash TEXT NOT NULL,
//!                      record_hash TEXT NOT NULL, invoked_at TEXT NOT NULL, payload TEXT NOT NULL)
//! trailseal_meta      (key TEXT PRIMARY KEY, value TEXT NOT NULL)   -- schema_version, key_id, checkpoint
//! trailseal_retention (idx BIGINT PRIMARY KEY, receipt TEXT NOT NULL)
//! ```
//!
//! Every change runs in one transaction ([`crate::WriteTx`]) that first takes a
//! transaction-scoped advisory lock derived from the schema name (`pg_advisory_xact_lock`),
//! then reads the head: writers on any connection, process or host serialise on it and the
//! chain never forks. Writers need only `SELECT` and `INSERT` (the head is found with the
//! primary key, not kept in a row that would need `UPDATE`), so an append-only role is
//! possible. Batches are inserted with one `INSERT … SELECT FROM UNNEST(…)` per 1,000 rows and
//! committed once; scans stream through a server-side portal.
//!
//! The parts (private modules): `url` (what the URL says), `connect` (connecting, creating the
//! tables), `schema` (the tables as trailseal creates them), `lock` (the chain's lock), `read`
//! (state, snapshots, scans) and `tx` (the write transaction).

mod connect;
mod lock;
mod read;
mod schema;
mod tree;
mod tx;
mod url;

use std::time::Duration;

use postgres::Client;
use trailseal_core::verify::{Flow, ScanItem};

use crate::{
    ReadBack, SeqRange, Snapshot, SnapshotReader, Store, StoreError, StoreState, StoredRecord,
};

pub use lock::chain_lock_key;
pub use url::{DEFAULT_LOCK_TIMEOUT, parse_lock_timeout, redact_url};

/// The version of the table layout this code writes; a newer one is refused.
pub const SCHEMA_VERSION: u32 = 1;

/// A chain in a PostgreSQL schema.
pub struct PgStore {
    client: Client,
    /// For the extra connections of a snapshot with several readers.
    config: postgres::Config,
    location: String,
    /// The PostgreSQL schema holding the tables.
    schema: String,
    traces: String,
    meta: String,
    retention: String,
    /// `trailseal_tree`, when the schema has it (a store created before the tree, opened by a
    /// role that may not create it, has none).
    tree: Option<String>,
    lock_key: i64,
    lock_timeout: Duration,
    /// The statements every append uses, prepared once per connection when it first writes.
    statements: Option<tx::Statements>,
    /// Whether the schema check is prepared on this connection (`schema::PREPARED`).
    check_prepared: bool,
    /// The tree's right edge after this handle's last append.
    frontier: crate::FrontierCache,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    fn lock(&self) -> lock::ChainLock {
        lock::ChainLock {
            key: self.lock_key,
            timeout: self.lock_timeout,
            location: self.location.clone(),
        }
    }
}

impl Store for PgStore {
    fn frontier_cache(&mut self) -> Option<&mut crate::FrontierCache> {
        Some(&mut self.frontier)
    }

    fn location(&self) -> &str {
        &self.location
    }

    fn state(&mut self) -> Result<StoreState, StoreError> {
        Ok(self.snapshot(1)?.state)
    }

    fn write(&mut self) -> Result<Box<dyn crate::WriteTx + '_>, StoreError> {
        Ok(Box::new(tx::PgTx::begin(self)?))
    }

    fn read_back(&mut self, first: u64, last: u64) -> Result<Option<ReadBack>, StoreError> {
        tx::read_back(self, first, last).map(Some)
    }

    fn scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        let range = SeqRange::from_seq(from_seq);
        self.begin_reader()?.scan_range(range, visit)
    }

    fn find(&mut self, action_id: &str) -> Result<Option<StoredRecord>, StoreError> {
        read::find(self, action_id)
    }

    fn snapshot(&mut self, readers: usize) -> Result<Snapshot<'_>, StoreError> {
        read::snapshot(self, readers)
    }
}
