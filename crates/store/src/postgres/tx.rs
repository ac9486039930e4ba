//! The PostgreSQL write transaction ([`WriteTx`]): one server transaction that holds the
//! chain's lock from its second round trip to its `COMMIT`, and is rolled back when dropped.
//!
//! Beginning one takes two round trips: `BEGIN`, the lock timeout, the tables' locks and the
//! schema check; then the chain's lock, so that the check runs before this writer holds the
//! chain and not while others wait for it. `trailseal_traces` is locked `IN ROW EXCLUSIVE MODE` (what `INSERT`
//! allows, so an append-only role can; it holds off triggers, rules, policies and `ALTER`
//! until the commit) and `trailseal_meta` `IN ACCESS SHARE MODE` (against `ALTER`), both before
//! the check, so what was checked is what the statements on them run on. A write that reads
//! or writes `trailseal_retention` or writes `trailseal_meta`, where a trigger can still be
//! created meanwhile, checks the schema again before its commit. The statements of an append
//! are prepared once per connection; the head, a stored `action_id` and the key id come from
//! one of them, read once per transaction and kept while the transaction moves them itself;
//! rows are sent 1,000 to a statement.
//!
//! The chain's lock is not held through the WAL flush. The transaction commits with
//! `synchronous_commit = off` (its commit record is in the WAL, its locks released, nothing
//! waited for), and then a second transaction that writes one WAL record of its own (a
//! transactional logical message, `pg_logical_emit_message`, which every role may emit;
//! a transaction that only has an xid and wrote no WAL would not wait for a flush) commits
//! with the session's own `synchronous_commit`: its commit record comes after ours in the
//! WAL, so when its commit returns, the WAL is flushed (and replicated, as the server's
//! setting asks) past ours. Only then does the write return. Writers on other
//! connections thus flush together (PostgreSQL's own group commit) instead of one after
//! another under the lock. A record that another writer chains onto before it is flushed is
//! safe: the WAL is replayed in order, so a crash that loses it loses everything after it,
//! and no one was told either was stored. See docs/format.md §11 and docs/security.md.

use trailseal_core::start::{ChainStart, StoredKeyId};
use trailseal_core::{Hash32, Head, KeyId, SealedRecord};

use super::read::{key_id_from, start_from};
use super::tree;
use super::{PgStore, schema};
use crate::{Holdings, ImportRecord, ReadBack, StoreError, StoredTree, WriteTx};
use trailseal_core::tree::MerkleHash;

const ROWS_PER_STATEMENT: usize = 1000;

/// The statements an append uses, prepared once per connection.
#[derive(Clone)]
pub(super) struct Statements {
    /// The head, the first of `$1` stored, the key id and the checkpoint, in one row.
    view: postgres::Statement,
    insert: postgres::Statement,
    read_back: postgres::Statement,
    /// The tree's base and size ([`tree::state_sql`]), when the store has a tree table.
    tree_state: Option<postgres::Statement>,
    /// The tree's insert ([`tree::insert_sql`]).
    tree_insert: Option<postgres::Statement>,
}

/// What the view statement read: the transaction's state, kept while only this transaction
/// changes it (it holds the chain's lock).
#[derive(Debug, Clone)]
struct View {
    last_seq: Option<i64>,
    last_hash: Option<String>,
    key_id: Option<String>,
    checkpoint: [Option<String>; 3],
}

/// The store's table names, for the statements of a transaction.
#[derive(Clone, Copy)]
struct Tables<'n> {
    traces: &'n str,
    meta: &'n str,
    retention: &'n str,
}

/// A write transaction on a PostgreSQL store.
pub(super) struct PgTx<'a> {
    store: &'a mut PgStore,
    statements: Statements,
    /// The state read by the view statement, while this transaction has not changed it.
    view: Option<View>,
    /// A statement failed: the server has aborted the transaction, which can only be rolled
    /// back now (a `COMMIT` would roll it back too, and answer as if it had committed).
    failed: bool,
    /// The retention table was read or written, or the meta table written: tables `begin`
    /// did not lock against every change to their definition, so the schema is checked
    /// again before the commit.
    recheck: bool,
    /// `BEGIN` ran and neither `COMMIT` nor `ROLLBACK` did.
    open: bool,
    /// Rows inserted and not yet sent: sent 1,000 to a statement, and before any other
    /// statement of the transaction (the protocol hands records over in smaller chunks while
    /// it seals the next ones).
    pending: Pending,
}

/// Rows to insert, by column.
#[derive(Default)]
struct Pending {
    seqs: Vec<i64>,
    ids: Vec<String>,
    prevs: Vec<String>,
    recs: Vec<String>,
    ats: Vec<String>,
    payloads: Vec<String>,
}

impl Pending {
    fn push(&mut self, row: (i64, &str, &str, &str, &str, &str)) {
        self.seqs.push(row.0);
        self.ids.push(row.1.to_owned());
        self.prevs.push(row.2.to_owned());
        self.recs.push(row.3.to_owned());
        self.ats.push(row.4.to_owned());
        self.payloads.push(row.5.to_owned());
    }
}

impl<'a> PgTx<'a> {
    /// Begins the transaction on the store's connection (see the module documentation).
    pub(super) fn begin(store: &'a mut PgStore) -> Result<Self, StoreError> {
        let lock = store.lock();
        if !store.check_prepared {
            store
                .client
                .batch_execute(&schema::prepare_sql(&store.schema))
                .map_err(|e| {
                    StoreError::postgres(&store.location, "prepare the schema check", e)
                })?;
            store.check_prepared = true;
        }
        // The tables' locks and the schema check first, then the chain's lock: the check (a
        // catalog query) runs while other writers hold the chain, not while this one does.
        let sql = format!(
            "BEGIN; {}; SET LOCAL synchronous_commit = off; LOCK TABLE {}{} IN ROW EXCLUSIVE MODE; LOCK TABLE {} IN ACCESS SHARE MODE; {}",
            lock.timeout_sql(),
            store.traces,
            store
                .tree
                .as_ref()
                .map(|t| format!(", {t}"))
                .unwrap_or_default(),
            store.meta,
            schema::EXECUTE_SQL
        );
        let begun = match store.client.simple_query(&sql) {
            Ok(messages) => schema::check_answer(&store.location, &messages),
            Err(e) => Err(StoreError::postgres(
                &store.location,
                "lock the chain's tables",
                e,
            )),
        }
        .and_then(|()| {
            store
                .client
                .batch_execute(&lock.wait_sql())
                .map_err(|e| lock.refused(&mut store.client, e, "take the chain's lock"))
        })
        // Prepared inside the transaction, under its lock timeout.
        .and_then(|()| statements(store));
        match begun {
            Ok(statements) => Ok(Self {
                store,
                statements,
                view: None,
                failed: false,
                recheck: false,
                open: true,
                pending: Pending::default(),
            }),
            Err(e) => {
                let _ = store.client.batch_execute("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Runs statements of the transaction after the rows pending, unless a statement has
    /// failed before; on a server error the transaction is marked failed.
    fn run<T>(
        &mut self,
        action: &'static str,
        f: impl FnOnce(&mut postgres::Client, Tables<'_>, &Statements) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        self.flush()?;
        self.exec(action, f)
    }

    /// Sends the rows pending.
    fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.seqs.is_empty() {
            return Ok(());
        }
        let p = std::mem::take(&mut self.pending);
        self.exec("insert records", |client, _, st| {
            client
                .execute(
                    &st.insert,
                    &[&p.seqs, &p.ids, &p.prevs, &p.recs, &p.ats, &p.payloads],
                )
                .map(drop)
        })
    }

    fn exec<T>(
        &mut self,
        action: &'static str,
        f: impl FnOnce(&mut postgres::Client, Tables<'_>, &Statements) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        if self.failed {
            return Err(aborted(&self.store.location, action));
        }
        let err = self.store.err(action);
        let s = &mut *self.store;
        let tables = Tables {
            traces: &s.traces,
            meta: &s.meta,
            retention: &s.retention,
        };
        f(&mut s.client, tables, &self.statements).map_err(|e| {
            self.failed = true;
            err(e)
        })
    }

    /// The view, read when this transaction has not yet read it or has changed it since.
    fn view(&mut self, action_ids: &[&str]) -> Result<(View, Option<i32>), StoreError> {
        if action_ids.is_empty()
            && let Some(view) = &self.view
        {
            return Ok((view.clone(), None));
        }
        let (view, stored) = self.run("read the head", |client, _, st| {
            let row = client.query_one(&st.view, &[&action_ids])?;
            let text = |i: usize| row.try_get::<_, Option<String>>(i);
            Ok((
                View {
                    last_seq: row.try_get(0)?,
                    last_hash: text(1)?,
                    key_id: text(3)?,
                    checkpoint: [text(4)?, text(5)?, text(6)?],
                },
                row.try_get::<_, Option<i32>>(2)?,
            ))
        })?;
        self.view = Some(view.clone());
        Ok((view, stored))
    }

    fn count(
        &mut self,
        table: fn(Tables<'_>) -> &str,
        action: &'static str,
    ) -> Result<u64, StoreError> {
        let count: i64 = self.run(action, |client, t, _| {
            client
                .query_one(&format!("SELECT count(*) FROM {}", table(t)), &[])?
                .try_get(0)
        })?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    fn overflow(&self) -> StoreError {
        StoreError::SeqOverflow {
            location: self.store.location.clone(),
        }
    }

    /// Inserts rows (seq, action_id, prev_hash, record_hash, invoked_at, payload), 1,000 per
    /// statement.
    fn insert_rows(
        &mut self,
        rows: &[(i64, &str, &str, &str, &str, &str)],
    ) -> Result<(), StoreError> {
        for row in rows {
            self.pending.push(*row);
            if self.pending.seqs.len() >= ROWS_PER_STATEMENT {
                self.flush()?;
            }
        }
        Ok(())
    }
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if self.open {
            // Also ends a transaction the server aborted. Should the connection be gone, the
            // server rolls the transaction back itself.
            let _ = self.store.client.batch_execute("ROLLBACK");
        }
    }
}

impl WriteTx for PgTx<'_> {
    fn location(&self) -> &str {
        &self.store.location
    }

    fn head(&mut self) -> Result<Head, StoreError> {
        let (view, _) = self.view(&[])?;
        let location = &self.store.location;
        match (view.last_seq, view.last_hash) {
            (Some(seq), Some(hash)) => {
                let bad = |problem: &str| StoreError::BadHead {
                    location: location.clone(),
                    seq: u64::try_from(seq).unwrap_or(0),
                    problem: problem.into(),
                };
                let seq = u64::try_from(seq).map_err(|_| bad("its seq is negative"))?;
                Ok(Head {
                    next_seq: seq.checked_add(1).ok_or_else(|| bad("seq overflow"))?,
                    prev_hash: Hash32::parse(hash.as_bytes())
                        .ok_or_else(|| bad("its record_hash is not a hash"))?,
                })
            }
            _ => {
                let [seq, hash, kind] = &view.checkpoint;
                let start = start_from(seq.as_deref(), hash.as_deref(), kind.as_deref());
                Ok(Head {
                    next_seq: start.next_seq,
                    prev_hash: Hash32::parse(&start.prev_hash).ok_or_else(|| {
                        StoreError::BadHead {
                            location: location.clone(),
                            seq: start.next_seq,
                            problem: "the checkpoint hash is not a hash".into(),
                        }
                    })?,
                })
            }
        }
    }

    fn find_stored_action_id(&mut self, action_ids: &[&str]) -> Result<Option<usize>, StoreError> {
        if action_ids.is_empty() {
            return Ok(None);
        }
        let (_, stored) = self.view(action_ids)?;
        // `array_position` counts from 1.
        Ok(stored
            .and_then(|p| usize::try_from(p).ok())
            .and_then(|p| p.checked_sub(1)))
    }

    fn holdings(&mut self) -> Result<Option<Holdings>, StoreError> {
        let records = self.count(|t| t.traces, "read what the store holds")?;
        self.recheck = true;
        let receipts = self.count(|t| t.retention, "read what the store holds")?;
        let (view, _) = self.view(&[])?;
        let genesis = view.checkpoint.iter().all(Option::is_none);
        if records == 0 && receipts == 0 && genesis {
            return Ok(None);
        }
        let (first, last) = self.run("read what the store holds", |client, t, _| {
            let row =
                client.query_one(&format!("SELECT min(seq), max(seq) FROM {}", t.traces), &[])?;
            Ok((
                row.try_get::<_, Option<i64>>(0)?,
                row.try_get::<_, Option<i64>>(1)?,
            ))
        })?;
        let seq = |s: Option<i64>| s.and_then(|s| u64::try_from(s).ok());
        Ok(Some(Holdings {
            records: Some(records),
            first_seq: seq(first),
            last_seq: seq(last),
            receipts: Some(receipts),
            bytes: None,
        }))
    }

    fn first_seq(&mut self) -> Result<Option<u64>, StoreError> {
        let first: Option<i64> = self.run("read the first record", |client, t, _| {
            client
                .query_one(&format!("SELECT min(seq) FROM {}", t.traces), &[])?
                .try_get(0)
        })?;
        Ok(first.and_then(|f| u64::try_from(f).ok()))
    }

    fn record_hash_at(&mut self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let Ok(seq) = i64::try_from(seq) else {
            return Ok(None);
        };
        let hash: Option<String> = self.run("read a record", |client, t, _| {
            client
                .query_opt(
                    &format!("SELECT record_hash FROM {} WHERE seq = $1", t.traces),
                    &[&seq],
                )?
                .map(|r| r.try_get(0))
                .transpose()
        })?;
        Ok(hash.map(String::into_bytes))
    }

    fn insert(&mut self, records: &[SealedRecord<'_>], _key_id: &KeyId) -> Result<(), StoreError> {
        let Some(last) = records.last() else {
            return Ok(());
        };
        // Up to the seq before `i64::MAX`, so that the head after the last record is a
        // bigint too.
        let mut seqs = Vec::with_capacity(records.len());
        for r in records {
            match i64::try_from(r.seq) {
                Ok(seq) if seq < i64::MAX => seqs.push(seq),
                _ => return Err(self.overflow()),
            }
        }
        let prev: Vec<Hash32> = records.iter().map(|r| r.prev_hash).collect();
        let rec: Vec<Hash32> = records.iter().map(|r| r.record_hash).collect();
        let rows: Vec<_> = records
            .iter()
            .zip(seqs)
            .zip(prev.iter().zip(&rec))
            .map(|((r, seq), (p, h))| {
                (
                    seq,
                    r.trace.action_id(),
                    p.as_str(),
                    h.as_str(),
                    r.trace.invoked_at(),
                    r.trace.canonical(),
                )
            })
            .collect();
        self.insert_rows(&rows)?;
        if let Some(view) = &mut self.view {
            view.last_seq = i64::try_from(last.seq).ok();
            view.last_hash = Some(last.record_hash.to_string());
        }
        Ok(())
    }

    fn insert_copied(&mut self, records: &[ImportRecord]) -> Result<(), StoreError> {
        let mut seqs = Vec::with_capacity(records.len());
        for r in records {
            seqs.push(i64::try_from(r.seq).map_err(|_| self.overflow())?);
        }
        let rows: Vec<_> = records
            .iter()
            .zip(seqs)
            .map(|(r, seq)| {
                (
                    seq,
                    r.action_id.as_str(),
                    r.prev_hash.as_str(),
                    r.record_hash.as_str(),
                    r.invoked_at.as_str(),
                    r.trace.as_str(),
                )
            })
            .collect();
        self.view = None;
        // Sent now: a copy hears of a refused record from the call that handed it over.
        self.insert_rows(&rows)?;
        self.flush()
    }

    fn retention_len(&mut self) -> Result<u64, StoreError> {
        self.recheck = true;
        self.count(|t| t.retention, "read the retention log")
    }

    fn push_receipt(&mut self, receipt: &str) -> Result<(), StoreError> {
        self.recheck = true;
        self.run("add a receipt", |client, t, _| {
            let r = t.retention;
            client.execute(
                &format!("INSERT INTO {r} (idx, receipt) SELECT count(*), $1 FROM {r}"),
                &[&receipt],
            )
        })?;
        Ok(())
    }

    fn delete_through(&mut self, last_seq: u64) -> Result<(), StoreError> {
        let last_seq = i64::try_from(last_seq).unwrap_or(i64::MAX);
        self.view = None;
        self.run("delete records", |client, t, _| {
            client.execute(
                &format!("DELETE FROM {} WHERE seq <= $1", t.traces),
                &[&last_seq],
            )
        })?;
        Ok(())
    }

    fn set_start(&mut self, start: &ChainStart) -> Result<(), StoreError> {
        let seq = start.next_seq.to_string();
        let hash = String::from_utf8_lossy(&start.prev_hash).into_owned();
        let kind = start.kind.as_str();
        self.view = None;
        self.recheck = true;
        self.run("set the chain's start", |client, t, _| {
            client.execute(
                &format!(
                    "INSERT INTO {} (key, value) VALUES ('checkpoint_seq', $1), ('checkpoint_hash', $2), ('checkpoint_kind', $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    t.meta
                ),
                &[&seq, &hash, &kind],
            )
        })?;
        Ok(())
    }

    fn key_id(&mut self) -> Result<StoredKeyId, StoreError> {
        let (view, _) = self.view(&[])?;
        Ok(key_id_from(view.key_id.as_deref()))
    }

    fn record_key_id(&mut self, key_id: &KeyId) -> Result<(), StoreError> {
        let (view, _) = self.view(&[])?;
        let id = key_id.as_str();
        if view.key_id.as_deref() == Some(id) {
            return Ok(());
        }
        self.recheck = true;
        // An append-only role has no UPDATE: a key id the store lacks is only inserted.
        self.run("record the key id", |client, t, _| {
            let m = &t.meta;
            let added = client.execute(
                &format!("INSERT INTO {m} (key, value) VALUES ('key_id', $1) ON CONFLICT (key) DO NOTHING"),
                &[&id],
            )?;
            if added == 0 {
                client.execute(&format!("UPDATE {m} SET value = $1 WHERE key = 'key_id'"), &[&id])?;
            }
            Ok(())
        })?;
        if let Some(view) = &mut self.view {
            view.key_id = Some(id.to_owned());
        }
        Ok(())
    }

    fn can_hold_tree(&self) -> bool {
        self.store.tree.is_some()
    }

    fn tree(&mut self) -> Result<Option<StoredTree>, StoreError> {
        self.flush()?;
        if self.failed {
            return Err(aborted(&self.store.location, "read the tree"));
        }
        let s = &mut *self.store;
        tree::stored_tree(
            &mut s.client,
            &s.location,
            self.statements.tree_state.as_ref(),
        )
        .inspect_err(|_| self.failed = true)
    }

    fn read_tree_hashes(&mut self, first: u64, out: &mut [MerkleHash]) -> Result<(), StoreError> {
        self.flush()?;
        if self.failed {
            return Err(aborted(&self.store.location, "read the tree"));
        }
        let s = &mut *self.store;
        tree::read_hashes(&mut s.client, &s.location, s.tree.as_deref(), first, out)
            .inspect_err(|_| self.failed = true)
    }

    fn append_tree(
        &mut self,
        base: u64,
        first: u64,
        hashes: &[MerkleHash],
    ) -> Result<(), StoreError> {
        self.flush()?;
        if self.failed {
            return Err(aborted(&self.store.location, "write the tree"));
        }
        if first == 0 {
            // trailseal_meta is written.
            self.recheck = true;
        }
        let s = &mut *self.store;
        tree::append_hashes(
            &mut s.client,
            &s.location,
            self.statements.tree_insert.as_ref(),
            &s.meta,
            (base, first),
            hashes,
        )
        .inspect_err(|_| self.failed = true)
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.flush()?;
        if self.failed {
            return Err(aborted(&self.store.location, "commit"));
        }
        if self.recheck {
            // What was created on a table `begin` did not lock (or locked only against
            // rewriting it) since the check there, and before this transaction's own lock on
            // it, shows now: the commit is refused then.
            let s = &mut *self.store;
            schema::check(&mut s.client, &s.location, &s.schema)?;
        }
        let err = self.store.err("commit");
        // Whatever COMMIT answers, the transaction is over.
        self.open = false;
        // COMMIT returns without waiting for the WAL flush (and releases the chain's lock);
        // the write is durable once the transaction that follows in the same round trip,
        // which writes WAL and whose commit record comes later, has committed with the
        // session's synchronous_commit (see the module documentation).
        let client = &mut self.store.client;
        let messages = client
            .simple_query(
                "COMMIT; SELECT pg_logical_emit_message(true, 'trailseal', 'durable'), current_setting('synchronous_commit')",
            )
            .map_err(&err)?;
        let setting = messages.iter().find_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => row.try_get(1).ok().flatten(),
            _ => None,
        });
        if setting.is_some_and(|s| s != "off") {
            return Ok(());
        }
        // A session that waits for no flush (the role's or the database's setting), or an
        // answer without the setting: wait for the local flush all the same, or the write
        // could be acknowledged undurable.
        client
            .batch_execute(
                "BEGIN; SET LOCAL synchronous_commit = local; SELECT pg_logical_emit_message(true, 'trailseal', 'durable'); COMMIT",
            )
            .map_err(self.store.err("wait for the commit to be durable"))
    }
}

/// The error for using a transaction after one of its statements failed.
fn aborted(location: &str, action: &'static str) -> StoreError {
    StoreError::Io {
        location: location.to_owned(),
        action,
        source: std::io::Error::other(
            "an earlier statement of this transaction failed; nothing of it was written",
        ),
    }
}

/// The statements of an append, prepared on the store's connection the first time.
fn statements(store: &mut PgStore) -> Result<Statements, StoreError> {
    if let Some(s) = &store.statements {
        return Ok(s.clone());
    }
    let err = store.err("prepare");
    let (t, m) = (&store.traces, &store.meta);
    let meta = |key: &str| format!("(SELECT value FROM {m} WHERE key = '{key}')");
    let view = format!(
        "SELECT (SELECT seq FROM {t} ORDER BY seq DESC LIMIT 1), (SELECT record_hash FROM {t} ORDER BY seq DESC LIMIT 1), \
         (SELECT min(array_position($1::text[], action_id)) FROM {t} WHERE action_id = ANY($1::text[])), \
         {}, {}, {}, {}",
        meta("key_id"),
        meta("checkpoint_seq"),
        meta("checkpoint_hash"),
        meta("checkpoint_kind"),
    );
    let insert = format!(
        "INSERT INTO {t} (seq, action_id, prev_hash, record_hash, invoked_at, payload) SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])"
    );
    let read_back = format!(
        "SELECT (SELECT count(*) FROM {t} WHERE seq BETWEEN $1 AND $2), \
         (SELECT record_hash FROM {t} WHERE seq = $1), (SELECT payload FROM {t} WHERE seq = $1), \
         (SELECT record_hash FROM {t} WHERE seq = $2), (SELECT payload FROM {t} WHERE seq = $2)"
    );
    let client = &mut store.client;
    let (tree_state, tree_insert) = match &store.tree {
        Some(tree) => (
            Some(client.prepare(&tree::state_sql(tree, m)).map_err(&err)?),
            Some(client.prepare(&tree::insert_sql(tree)).map_err(&err)?),
        ),
        None => (None, None),
    };
    let statements = Statements {
        view: client.prepare(&view).map_err(&err)?,
        insert: client.prepare(&insert).map_err(&err)?,
        read_back: client.prepare(&read_back).map_err(&err)?,
        tree_state,
        tree_insert,
    };
    store.statements = Some(statements.clone());
    Ok(statements)
}

/// After an append's commit: the rows of `first ..= last` as stored (one query on the primary
/// key).
pub(super) fn read_back(
    store: &mut PgStore,
    first: u64,
    last: u64,
) -> Result<ReadBack, StoreError> {
    let err = store.err("read back the appended records");
    let statements = statements(store)?;
    let seq = |s: u64| i64::try_from(s).unwrap_or(i64::MAX);
    let row = store
        .client
        .query_one(&statements.read_back, &[&seq(first), &seq(last)])
        .map_err(&err)?;
    let text = |i: usize| -> Result<Option<Vec<u8>>, StoreError> {
        Ok(row
            .try_get::<_, Option<String>>(i)
            .map_err(&err)?
            .map(String::into_bytes))
    };
    let count: i64 = row.try_get(0).map_err(&err)?;
    Ok(ReadBack {
        count: u64::try_from(count).unwrap_or(0),
        first: text(1)?.zip(text(2)?),
        last: text(3)?.zip(text(4)?),
    })
}
