//! The chain's lock: a transaction-scoped advisory lock derived from the schema name, which
//! every change takes first, so writers on any connection, process or host take turns and
//! the chain never forks. Its wait is bounded (`?lock_timeout=`); on timeout the error names
//! the sessions holding it.

use std::time::Duration;

use postgres::GenericClient;
use postgres::error::SqlState;
use sha2::{Digest, Sha256};

use super::url::show_duration;
use crate::{LockHolder, StoreError};

/// The key of the advisory lock that serialises a schema's writers (`pg_advisory_xact_lock`),
/// for an operator who wants to see who holds it (`pg_locks`, `locktype = 'advisory'`,
/// `classid` the high and `objid` the low 32 bits).
pub fn chain_lock_key(schema: &str) -> i64 {
    let d = Sha256::digest(format!("trailseal chain lock: {schema}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(d.get(..8).unwrap_or(&[0; 8]));
    i64::from_be_bytes(b)
}

/// The chain's advisory lock, taken with a bounded wait.
pub(super) struct ChainLock {
    pub(super) key: i64,
    pub(super) timeout: Duration,
    pub(super) location: String,
}

impl ChainLock {
    /// The statements that take the lock in the open transaction, for a batch (simple query
    /// protocol) that may go on with more: the wait is bounded by the timeout, which then
    /// holds for the rest of the transaction too, so no other lock is waited on without
    /// bound. The wait runs in a savepoint, so that on timeout the transaction is still
    /// usable to ask who holds the lock. Numbers only: nothing here comes from input.
    pub(super) fn sql(&self) -> String {
        format!("{}; {}", self.timeout_sql(), self.wait_sql())
    }

    /// The statement that bounds every lock wait of the open transaction by the timeout.
    pub(super) fn timeout_sql(&self) -> String {
        format!(
            "SET LOCAL lock_timeout = '{}ms'",
            self.timeout.as_millis().max(1)
        )
    }

    /// The statements that wait for the lock (after [`ChainLock::timeout_sql`]), in a
    /// savepoint (see [`ChainLock::sql`]).
    pub(super) fn wait_sql(&self) -> String {
        format!(
            "SAVEPOINT trailseal_lock; SELECT pg_advisory_xact_lock({}); RELEASE SAVEPOINT trailseal_lock",
            self.key
        )
    }

    /// Takes the lock in the transaction open on `client` (see [`ChainLock::sql`]).
    pub(super) fn take(&self, client: &mut impl GenericClient) -> Result<(), StoreError> {
        client
            .batch_execute(&self.sql())
            .map_err(|e| self.refused(client, e, "take the chain's lock"))
    }

    /// The error for a batch that began with [`ChainLock::sql`] and failed with `e`: when the
    /// wait for the chain's lock timed out, [`StoreError::LockTimeout`] naming the sessions
    /// holding it, as far as this role may see them. A wait for another lock later in the
    /// batch that timed out (the chain's lock was taken, its savepoint released) is the
    /// server's error, for `action`.
    pub(super) fn refused(
        &self,
        client: &mut impl GenericClient,
        e: postgres::Error,
        action: &'static str,
    ) -> StoreError {
        let timed_out = e
            .as_db_error()
            .is_some_and(|d| *d.code() == SqlState::LOCK_NOT_AVAILABLE);
        // The savepoint is still there only when the wait for the chain's lock failed.
        if timed_out
            && client
                .batch_execute("ROLLBACK TO SAVEPOINT trailseal_lock")
                .is_ok()
        {
            return StoreError::LockTimeout {
                location: self.location.clone(),
                waited: show_duration(self.timeout),
                holders: self.holders(client).unwrap_or_default(),
            };
        }
        StoreError::postgres(&self.location, action, e)
    }

    /// The sessions holding the lock: what `pg_stat_activity` shows this role (other users'
    /// `backend_start` only with `pg_read_all_stats`).
    fn holders(&self, client: &mut impl GenericClient) -> Result<Vec<LockHolder>, postgres::Error> {
        #[allow(clippy::cast_sign_loss)]
        let key = self.key as u64;
        let (high, low) = ((key >> 32).to_string(), (key & 0xFFFF_FFFF).to_string());
        let rows = client.query(
            "SELECT l.pid, a.usename::text, a.application_name, a.backend_start::text \
             FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND l.classid::text = $1 AND l.objid::text = $2 \
             AND l.pid IS DISTINCT FROM pg_backend_pid() ORDER BY l.pid",
            &[&high, &low],
        )?;
        Ok(rows
            .iter()
            .map(|r| LockHolder {
                pid: r.try_get(0).ok().flatten(),
                user: r.try_get(1).ok().flatten(),
                application: r
                    .try_get::<_, Option<String>>(2)
                    .ok()
                    .flatten()
                    .filter(|a| !a.is_empty()),
                backend_start: r.try_get(3).ok().flatten(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_schema_has_its_own_lock() {
        assert_ne!(super::chain_lock_key("a"), super::chain_lock_key("b"));
    }
}
